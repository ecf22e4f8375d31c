"""Full-batch stacked training: the loss, the stacked forward, the vmap reference, CUDA graphs."""

import pytest
import torch
from builders import tiny_grok_config as tiny

from interplib.studies.grokking.model import (
    GrokTransformer,
    weight_names,
)
from interplib.studies.grokking.task import dataset
from interplib.studies.grokking.training import (
    loss_and_accuracy,
    stacked_answer_logits,
    train_stacked,
)


def test_loss_is_float64_cross_entropy_at_the_last_position():
    logits = torch.zeros(2, 3, 5)
    logits[0, -1, 1] = 10.0
    loss, acc = loss_and_accuracy(logits, torch.tensor([1, 4]))
    assert loss.dtype == torch.float64 and acc == 0.5


@pytest.mark.parametrize("weights", ["fp", "binary", "ternary"])
def test_stacked_answer_logits_equal_each_model_forward_at_the_answer(weights):
    cfg = tiny(weights=weights, seeds=(0, 1, 2))
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(GrokTransformer(cfg).double())
    with torch.no_grad():
        for m in models:
            for name, p in m.named_parameters():
                if name.endswith("bias"):
                    p.normal_()  # biases are 0 in training; check they are placed right anyway
    params = {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
        for n, _ in models[0].named_parameters()
    }
    tokens, _ = dataset(cfg.p)
    got = stacked_answer_logits(cfg, params, tokens)
    for k, m in enumerate(models):
        with torch.no_grad():
            torch.testing.assert_close(got[k], m(tokens)[:, -1], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("weights", ["fp", "ternary"])
def test_stacked_training_equals_the_vmap_trainer(weights):
    from interplib.core.batched import train_models

    cfg = tiny(weights=weights, seeds=(0, 1), epochs=6, log_every=3, lr=1e-2)
    tokens, labels = dataset(cfg.p)

    def fresh():
        out = []
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            out.append(GrokTransformer(cfg).double())
        return out

    snaps, _ = train_stacked(
        cfg, fresh(), tokens, labels, torch.device("cpu"), lambda it, **_: it
    )
    models = fresh()
    ref = train_models(
        models,
        lambda f, xy: loss_and_accuracy(f(xy[0]), xy[1])[0],
        lambda s: (tokens, labels),
        cfg.epochs,
        lambda ps: torch.optim.AdamW(
            ps, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.betas
        ),
        schedule=lambda step: min(1.0, (step + 1) / cfg.warmup),
        trainable=weight_names(models[0]),
    )
    assert len(snaps) == 3
    for name, value in ref.params.items():
        torch.testing.assert_close(snaps[-1][name], value, rtol=1e-7, atol=1e-9)


def test_graph_training_needs_cuda():
    cfg = tiny()
    with pytest.raises(ValueError, match="needs a CUDA device"):
        train_stacked(
            cfg,
            [GrokTransformer(cfg)],
            *dataset(cfg.p),
            torch.device("cpu"),
            lambda it, **_: it,
            graph=True,
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
@pytest.mark.parametrize("weights", ["fp", "binary"])
def test_graph_replay_trains_like_the_eager_loop_on_cuda(weights):
    cfg = tiny(
        weights=weights, seeds=(0, 1), epochs=60, log_every=20, warmup=10, lr=3e-3
    )
    tokens, labels = dataset(cfg.p)
    runs = []
    for graph in (False, True):
        models = []
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            models.append(GrokTransformer(cfg))
        runs.append(
            train_stacked(
                cfg,
                models,
                tokens,
                labels,
                torch.device("cuda"),
                lambda it, **_: it,
                graph=graph,
            )[0]
        )
    eager, replayed = runs
    assert len(eager) == len(replayed) == 4
    for before, after in zip(eager, replayed):
        for name in before:
            torch.testing.assert_close(after[name], before[name], rtol=1e-4, atol=1e-6)
    assert not torch.equal(
        replayed[-1]["embed.weight"], replayed[1]["embed.weight"]
    )  # the replays trained
