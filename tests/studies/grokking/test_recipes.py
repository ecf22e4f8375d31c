"""The recipes' fit on a tiny config: every measure logged, chunked measuring, loading."""

import pytest
import torch
from builders import tiny_grok_config as tiny

from interplib.studies.grokking import recipes as grok_recipes
from interplib.studies.grokking.recipes import MEASURE_CHUNK, fit, load_models
from interplib.studies.grokking.task import dataset, train_mask
from interplib.studies.grokking.training import (
    loss_and_accuracy,
)


def test_fit_logs_every_measure_and_agrees_with_a_plain_forward(monkeypatch):
    stored = grok_recipes.compact
    monkeypatch.setattr(grok_recipes, "compact", lambda cfg, t: t)  # float32 weights
    cfg = tiny(
        p=7,
        frac_train=0.5,
        epochs=40,
        log_every=10,
        seeds=(0, 1),
        checkpoints=(10, 20),
        lr=1e-2,
    )
    out = fit(cfg, torch.device("cpu"), lambda it, **_: it)
    t = out.tensors
    assert t["history.epoch"].tolist() == [0, 10, 20, 30, 40]
    for name in (
        "train_loss",
        "test_loss",
        "train_acc",
        "test_acc",
        "restricted_loss",
        "excluded_loss",
        "gini_embed",
        "gini_logit_map",
        "sum_sq",
    ):
        assert t[f"history.{name}"].shape == (2, 5), name
    assert (t["history.train_loss"][:, -1] < t["history.train_loss"][:, 0]).all()
    assert len(out.metrics["key_freqs"]) == 2 and all(
        1 <= k <= 3 for f in out.metrics["key_freqs"] for k in f
    )

    tokens, labels = dataset(cfg.p)
    is_train = train_mask(cfg.p, cfg.frac_train, cfg.data_seed)
    for k, model in enumerate(load_models(cfg, t)):
        with torch.no_grad():
            logits = model(tokens)
        loss, _ = loss_and_accuracy(logits[is_train], labels[is_train])
        torch.testing.assert_close(
            t["history.train_loss"][k, -1], loss, rtol=1e-5, atol=1e-6
        )
        latent = sum(
            p.detach().double().pow(2).sum()
            for n, p in model.named_parameters()
            if not n.endswith("bias")
        )
        torch.testing.assert_close(
            t["history.sum_sq"][k, -1], latent, rtol=1e-5, atol=1e-6
        )
    # as stored: float16 weights, the same losses to float16's precision
    small = stored(cfg, t)
    assert small["final.embed.weight"].dtype == torch.float16
    assert small["history.train_loss"].dtype == torch.float32
    for k, model in enumerate(load_models(cfg, small)):
        with torch.no_grad():
            loss, _ = loss_and_accuracy(model(tokens)[is_train], labels[is_train])
        torch.testing.assert_close(
            t["history.train_loss"][k, -1], loss, rtol=1e-2, atol=1e-4
        )
    early = load_models(cfg, t, prefix="epoch20")
    assert len(early) == 1
    with pytest.raises(KeyError, match=r"keeps \[.*'final'\]"):
        load_models(cfg, t, prefix="epoch30")


def test_fit_measures_chunks_of_snapshots_as_each_snapshot_alone(monkeypatch):
    cfg = tiny(
        p=7,
        frac_train=0.5,
        epochs=44,
        log_every=4,
        seeds=(0, 1, 2),
        lr=1e-2,
        weights="binary",
    )
    assert (
        cfg.epochs // cfg.log_every + 1 > MEASURE_CHUNK
    )  # 12 snapshots: two chunks, one partial
    chunked = fit(cfg, torch.device("cpu"), lambda it, **_: it).tensors
    monkeypatch.setattr(grok_recipes, "MEASURE_CHUNK", 1)
    alone = fit(cfg, torch.device("cpu"), lambda it, **_: it).tensors
    names = [k for k in chunked if k.startswith("history.")]
    assert len(names) > 10 and names == [k for k in alone if k.startswith("history.")]
    for name in names:
        assert (
            chunked[name].shape
            == alone[name].shape
            == ((12,) if name == "history.epoch" else (3, 12))
        ), name
        torch.testing.assert_close(
            chunked[name], alone[name], rtol=1e-6, atol=1e-9, msg=name
        )
    # the measures change over training, so a chunk written to the wrong columns would show
    assert not torch.allclose(
        chunked["history.sum_sq"][:, 0], chunked["history.sum_sq"][:, -1]
    )


def test_ten_seed_runs_differ_from_the_committed_ones_only_in_seeds_and_storage():
    for w in ("fp", "binary", "ternary"):
        five, ten = grok_recipes.RUNS[f"grok-{w}"], grok_recipes.SWEEPS[f"grok10-{w}"]
        assert ten.seeds == tuple(range(10))
        shared = {k: v for k, v in ten.__dict__.items() if k in five.__dict__}
        assert {**five.__dict__, "seeds": ten.seeds} == shared
        assert ten.final_models is None and not ten.cells  # every seed's final weights
