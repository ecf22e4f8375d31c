import pytest
import torch

from interplib.studies.grokking import quantize
from interplib.studies.grokking import recipes as grok_recipes
from interplib.studies.grokking.measures import (
    measure_grid,
    progress_measures,
    quantization_measures,
)
from interplib.studies.grokking.model import (
    QUANTIZED,
    GrokConfig,
    GrokTransformer,
    effective_state_dict,
    to_bridge,
    weight_names,
)
from interplib.studies.grokking.recipes import MEASURE_CHUNK, _concat, fit, load_models
from interplib.studies.grokking.task import dataset, train_mask
from interplib.studies.grokking.training import (
    loss_and_accuracy,
    stacked_answer_logits,
    train_stacked,
)

TINY = dict(
    p=7,
    d_model=16,
    n_heads=2,
    d_head=4,
    d_mlp=12,
    epochs=10,
    log_every=5,
    seeds=(0,),
    checkpoints=(),
)


def tiny(**overrides) -> GrokConfig:
    return GrokConfig(**{**TINY, **overrides})


def test_dataset_lists_every_pair_with_its_sum():
    tokens, labels = dataset(5)
    assert tokens.shape == (25, 3) and (tokens[:, 2] == 5).all()
    assert tokens[7].tolist() == [1, 2, 5] and labels[7] == 3
    assert labels[24] == (4 + 4) % 5


def test_train_mask_is_seeded_and_the_right_size():
    mask = train_mask(113, 0.3, 598)
    assert int(mask.sum()) == 3830  # int(0.3 * 113**2), as in the paper
    assert torch.equal(mask, train_mask(113, 0.3, 598))
    assert not torch.equal(mask, train_mask(113, 0.3, 1))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(p=8), "not prime"),
        (dict(p=2), "at least 3"),
        (dict(frac_train=1.0), "fraction in"),
        (dict(weights="int4"), "'fp', 'binary' or 'ternary'"),
        (dict(epochs=10, log_every=3), "log_every dividing epochs"),
        (dict(seeds=()), "at least one seed"),
    ],
)
def test_bad_configs_name_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny(**kwargs)


@pytest.mark.parametrize("weights", ["fp", "binary", "ternary"])
def test_bridge_with_effective_weights_matches_the_training_twin(weights):
    torch.manual_seed(0)
    cfg = tiny(weights=weights)
    model = GrokTransformer(cfg).double()
    tokens, _ = dataset(cfg.p)
    bridge = to_bridge(cfg, effective_state_dict(model))
    with torch.no_grad():
        torch.testing.assert_close(
            bridge(tokens).double(), model(tokens), atol=1e-5, rtol=1e-5
        )


def test_quantized_variants_use_quantized_matrices_only():
    torch.manual_seed(0)
    model = GrokTransformer(tiny(weights="binary"))
    state = effective_state_dict(model)
    for name in QUANTIZED:
        W = state[f"blocks.0.{name}.weight"]
        assert W.unique().numel() == 2 and torch.allclose(W.abs(), W.abs().max())
    torch.testing.assert_close(state["embed.weight"], model.embed.weight.detach())
    torch.testing.assert_close(
        state["blocks.0.attn.q.weight"],
        quantize.binarize(model.blocks[0].attn.q.weight.detach()),
    )


def test_model_is_causal_and_biases_start_at_zero():
    torch.manual_seed(0)
    cfg = tiny()
    model = GrokTransformer(cfg)
    assert all(
        float(p.detach().abs().max()) == 0
        for n, p in model.named_parameters()
        if n.endswith("bias")
    )
    assert "blocks.0.mlp.in.weight" in weight_names(model)
    a = model(torch.tensor([[1, 2, 7]]))
    b = model(torch.tensor([[1, 3, 7]]))
    torch.testing.assert_close(a[:, 0], b[:, 0])  # position 0 cannot see position 1


def test_loss_is_float64_cross_entropy_at_the_last_position():
    logits = torch.zeros(2, 3, 5)
    logits[0, -1, 1] = 10.0
    loss, acc = loss_and_accuracy(logits, torch.tensor([1, 4]))
    assert loss.dtype == torch.float64 and acc == 0.5


def test_fit_logs_every_measure_and_agrees_with_a_plain_forward():
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
    early = load_models(cfg, t, prefix="epoch20")
    assert len(early) == 1
    with pytest.raises(KeyError, match="keeps 'final'"):
        load_models(cfg, t, prefix="epoch30")


def test_checkpoints_must_be_logged_epochs():
    with pytest.raises(ValueError, match="checkpoints \\[15\\]"):
        tiny(checkpoints=(15,))


def test_quantization_measures_count_level_changes_per_model():
    cfg = tiny(weights="ternary", seeds=(0, 1))
    models = [GrokTransformer(cfg) for _ in cfg.seeds]
    before = {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
        for n, _ in models[0].named_parameters()
    }
    after = {n: v.clone() for n, v in before.items()}
    W = after["blocks.0.mlp.in.weight"]
    W[1] = -W[1]  # model 1 flips every level of one matrix
    out = quantization_measures(cfg, before, after)
    sizes = {m: before[f"blocks.0.{m}.weight"][0].numel() for m in QUANTIZED}
    nonzero = (
        (quantize.ternarize(W[1]) != 0).double().mean()
    )  # zeros stay zero under negation
    expected = nonzero * sizes["mlp.in"] / sum(sizes.values())
    torch.testing.assert_close(
        out["flip_frac"], torch.tensor([0.0, float(expected)], dtype=torch.float64)
    )
    torch.testing.assert_close(out["beta.mlp.in"], W.abs().flatten(1).mean(-1).double())
    assert "flip_frac" not in quantization_measures(tiny(seeds=(0, 1)), before, after)


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


def test_progress_measures_of_a_stack_equal_each_snapshot_measured_alone():
    cfg = tiny(p=7, seeds=(0, 1))
    freqs = [[1, 3], [2]]
    snapshots = []
    for shift in range(3):  # three different "snapshots" of two models
        models = []
        for seed in cfg.seeds:
            torch.manual_seed(10 * shift + seed)
            models.append(GrokTransformer(cfg))
        snapshots.append(
            {
                n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
                for n, _ in models[0].named_parameters()
            }
        )
    grid = measure_grid(cfg, freqs, torch.device("cpu"))
    stacked = progress_measures(cfg, _concat(snapshots), grid)
    for s, snap in enumerate(snapshots):
        alone = progress_measures(cfg, snap, freqs)
        for name, value in alone.items():
            torch.testing.assert_close(
                stacked[name][2 * s : 2 * s + 2], value, rtol=1e-6, atol=1e-9, msg=name
            )
    with pytest.raises(ValueError, match="not a multiple of the grid's 2"):
        progress_measures(cfg, {n: v[:3] for n, v in _concat(snapshots).items()}, grid)


def test_measure_grid_splits_the_pairs_and_builds_each_models_directions():
    from interplib.interp import fourier

    cfg = tiny(p=7, frac_train=0.5)
    grid = measure_grid(cfg, [[1], [2, 3]], torch.device("cpu"))
    mask = train_mask(cfg.p, cfg.frac_train, cfg.data_seed)
    assert torch.equal(grid.train, mask.nonzero().flatten()) and torch.equal(
        grid.test, (~mask).nonzero().flatten()
    )
    assert grid.directions.shape == (2, 4, 7, 7) and grid.n_models == 2
    torch.testing.assert_close(
        grid.directions[0], fourier.sum_directions(7, [1], width=4)
    )
    torch.testing.assert_close(grid.directions[1], fourier.sum_directions(7, [2, 3]))
    torch.testing.assert_close(grid.basis, fourier.fourier_basis(7))
