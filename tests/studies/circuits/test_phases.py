"""The circuit measured at kept checkpoints, on a tiny checkpoint retrain."""

import dataclasses

import pytest
import torch

from interplib.interp.ablation import (
    ablated_repeat_losses,
    path_ablation_effects,
    receiver_direct_logits,
)
from interplib.interp.circuits import composition_scores
from interplib.interp.patterns import (
    induction_scores,
    previous_token_scores,
    repeated_random_tokens,
)
from interplib.studies.circuits import recipes as circuits_study
from interplib.studies.circuits.phases import (
    checkpoint_measures,
    checkpoint_models,
    checkpoint_patterns,
    circuit_over_checkpoints,
)

PERIOD = 4


def probe():
    g = torch.Generator().manual_seed(0)
    return repeated_random_tokens(16, PERIOD, 3, g, bos=1, specials=range(2))


def test_checkpoint_models_are_the_kept_steps(tiny_checkpoints):
    cfg, art = tiny_checkpoints
    models = checkpoint_models(cfg, art)
    assert list(models) == [2, 6]
    for step, model in models.items():
        same = circuits_study.checkpoint_model(cfg, art, step)
        torch.testing.assert_close(model(probe()), same(probe()))


def test_circuit_over_checkpoints_measures_each_model_with_the_chapter_tools(
    tiny_checkpoints,
):
    cfg, art = tiny_checkpoints
    models = checkpoint_models(cfg, art)
    stories = probe()
    table = circuit_over_checkpoints(
        models, probe(), PERIOD, stories, (0, 1), [(1, 0), (1, 1)], [(0, 0)]
    )
    assert list(table.index) == [2, 6] and table.index.name == "step"
    for step, model in models.items():
        row = table.loc[step]
        assert row["previous-token"] == pytest.approx(
            float(previous_token_scores(model, stories)[0, 1])
        )
        assert row["induction"] == pytest.approx(
            float(induction_scores(model, probe(), PERIOD)[1].max())
        )
        K = composition_scores(model, "K")
        assert row["K-composition"] == pytest.approx(float(K[1].mean()))
        for kind in ("mean", "resample"):
            alone = ablated_repeat_losses(model, probe(), PERIOD, [(0, 1)], kind)
            assert row[f"repeat loss, previous-token head {kind}-ablated"] == (
                pytest.approx(alone.repeated)
            )
    assert table.shape[1] == 9


def test_circuit_over_checkpoints_names_bad_heads(tiny_checkpoints):
    cfg, art = tiny_checkpoints
    models = checkpoint_models(cfg, art)
    with pytest.raises(ValueError, match="sit in layer 0"):
        circuit_over_checkpoints(models, probe(), PERIOD, probe(), (1, 0), [(1, 1)])
    with pytest.raises(ValueError, match="give layer-1 heads"):
        circuit_over_checkpoints(models, probe(), PERIOD, probe(), (0, 0), [])


def test_checkpoint_patterns_stack_every_head_at_every_step(tiny_checkpoints):
    cfg, art = tiny_checkpoints
    models = checkpoint_models(cfg, art)
    one = probe()[:1]
    patterns = checkpoint_patterns(models, one)
    assert patterns.shape == (2, 2, 2, one.shape[1], one.shape[1])
    torch.testing.assert_close(patterns.sum(-1), torch.ones(2, 2, 2, one.shape[1]))
    _, cache = models[6].run_with_cache(one)
    torch.testing.assert_close(patterns[1, 1], cache["blocks.1.attn.hook_pattern"][0])
    with pytest.raises(ValueError, match=r"shape \[1 pos\]"):
        checkpoint_patterns(models, probe())


def test_checkpoint_measures_are_the_kept_models_circuit_and_patterns(
    tiny_checkpoints,
):
    cfg, art = tiny_checkpoints
    models = checkpoint_models(cfg, art)
    kept = {
        step: {
            k.split(".", 1)[1]: v
            for k, v in art.tensors.items()
            if k.startswith(f"step{step}.")
        }
        for step in models
    }
    one = probe()[:1]
    out = checkpoint_measures(cfg.run.model, kept, probe(), PERIOD)
    assert out["checkpoint.step"].tolist() == [2, 6]
    heads = range(cfg.run.model.n_heads)
    senders, receivers = [(0, h) for h in heads], [(1, h) for h in heads]
    for i, model in enumerate(models.values()):
        torch.testing.assert_close(
            out["checkpoint.K_composition"][i], composition_scores(model, "K")
        )
        torch.testing.assert_close(
            out["checkpoint.direct_logit"][i],
            receiver_direct_logits(model, probe(), PERIOD, receivers),
        )
        for j, kind in enumerate(("mean", "resample")):
            torch.testing.assert_close(
                out["checkpoint.path_direct"][i, j],
                path_ablation_effects(model, probe(), PERIOD, senders, receivers, kind),
            )
    torch.testing.assert_close(
        out["checkpoint.patterns"], checkpoint_patterns(models, one).half()
    )
    one_layer = dataclasses.replace(cfg.run.model, n_layers=1)
    first = {
        step: {k: v for k, v in state.items() if not k.startswith("blocks.1.")}
        for step, state in kept.items()
    }
    out1 = checkpoint_measures(one_layer, first, probe(), PERIOD)
    assert set(out1) == {"checkpoint.step", "checkpoint.patterns"}
    # layer 0 reads only the embeddings and its own weights: the same patterns
    torch.testing.assert_close(
        out1["checkpoint.patterns"][:, 0], out["checkpoint.patterns"][:, 0]
    )
    with pytest.raises(ValueError, match="a kept checkpoint"):
        checkpoint_measures(cfg.run.model, {}, probe(), PERIOD)
    with pytest.raises(ValueError, match="repeat"):
        checkpoint_measures(cfg.run.model, kept, probe(), PERIOD + 1)
