"""The stacked grids: padding is exact, and one stacked run equals one-at-a-time training."""

import copy
from dataclasses import replace
from typing import Any

import pytest
import torch

from interplib.core.batched import linear_decay, train_models
from interplib.studies.memorization.grids import GridConfig, grid_models, pad_model
from interplib.studies.memorization.model import AoTConfig, AttentionOnly
from interplib.studies.memorization.training import law_data, make_law, make_loss

GRID = ((3, 2, 2, 0), (4, 4, 1, 0), (5, 3, 3, 0))


def tiny_grid(**kw) -> GridConfig:
    return GridConfig(
        **{"name": "t", "grid": GRID, "N": 6, "seeds": 2, "batch": 16, **kw}
    )


@pytest.mark.parametrize("compress", [False, True])
def test_padded_models_compute_the_small_models_logits(compress):
    small, padded = grid_models(tiny_grid(compress=compress))
    tokens = torch.randint(6, (9, 2))
    for s, p in zip(small, padded):
        torch.testing.assert_close(p(tokens), s(tokens))


def test_padding_an_mlp_and_switching_it_off():
    torch.manual_seed(0)
    cfg = AoTConfig(d_vocab=6, d_model=3, d_head=3, n_heads=2, d_mlp=4)
    tokens = torch.randint(6, (5, 2))
    for small_cfg in (cfg, replace(cfg, d_mlp=0, n_heads=1)):
        small = AttentionOnly(replace(small_cfg, d_model=2, d_head=2))
        big = pad_model(small, replace(cfg, d_mlp=7))
        torch.testing.assert_close(big(tokens), small(tokens))


def test_pad_model_refuses_a_smaller_or_different_config():
    small = AttentionOnly(AoTConfig(d_vocab=6, d_model=4, d_head=2))
    with pytest.raises(ValueError, match="smaller"):
        pad_model(small, AoTConfig(d_vocab=6, d_model=3, d_head=2))
    with pytest.raises(ValueError, match="only changes sizes"):
        pad_model(small, AoTConfig(d_vocab=7, d_model=4, d_head=2))


@pytest.mark.parametrize("compress", [False, True])
def test_one_stacked_run_equals_each_model_alone(compress):
    """Adam on the padded stack = Adam on each unpadded model, in float64, 6 steps."""
    small, padded = grid_models(tiny_grid(compress=compress))
    small = [m.double() for m in small]
    padded = [m.double() for m in padded]
    data = law_data([make_law("table", 6, 1)], 16, 0, False, pool_batches=2)
    kw = dict(
        steps=6,
        make_optimizer=lambda ps: torch.optim.Adam(ps, lr=1e-2),
        schedule=linear_decay(6, 1, 0.1),
    )
    loss = make_loss("next_token", 0.0)
    stacked = train_models(padded, loss, data, **kw)
    for k, m in enumerate(small):
        alone = train_models([m], loss, data, batched=False, **kw)
        torch.testing.assert_close(
            stacked.history["loss"][k], alone.history["loss"][0], rtol=1e-9, atol=1e-12
        )
        for n, p in alone.params.items():
            big = stacked.params[n][k]
            torch.testing.assert_close(
                big[tuple(slice(0, s) for s in p[0].shape)], p[0], rtol=1e-9, atol=1e-12
            )


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"grid": ((3, 2, 2),)}, "d_mlp"),
        ({"protocol": "mine"}, "protocol"),
        ({"steps": 50}, "steps=50"),
    ],
)
def test_grid_config_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        tiny_grid(**kw)


@pytest.mark.parametrize("protocol", ["paper", "ours"])
def test_run_grid_reports_every_point_and_the_speedup(protocol):
    from interplib.studies.memorization.grids import run_grid

    cfg = tiny_grid(protocol=protocol, steps=101, pool_batches=2, speedup_steps=2)
    out = run_grid(cfg, torch.device("cpu"), None)
    assert out.tensors["accuracy"].shape == (3, 2)
    assert out.tensors["paper_metric"].shape == (3, 2)
    assert len(out.metrics["accuracy_sem"]) == 3
    assert out.metrics["speedup"] > 0
    assert ((out.tensors["accuracy"] >= 0) & (out.tensors["accuracy"] <= 1)).all()


def test_size_buckets_group_points_by_all_sizes_but_the_heads():
    from interplib.studies.memorization.grids import size_buckets

    grid = ((3, 3, 1, 0), (4, 4, 2, 0), (3, 3, 5, 0), (3, 3, 1, 6), (3, 3, 1, 12))
    assert size_buckets(grid) == [[0, 2], [1], [3, 4]]


def test_run_buckets_are_size_buckets_on_a_gpu_and_points_elsewhere():
    from interplib.studies.memorization.grids import run_buckets, size_buckets

    grid = ((3, 2, 2, 0), (4, 4, 1, 0), (3, 2, 3, 0))
    assert run_buckets(grid, "cuda") == size_buckets(grid) == [[0, 2], [1]]
    assert run_buckets(grid, torch.device("cpu")) == [[0], [1], [2]]


@pytest.mark.parametrize("protocol", ["paper", "ours"])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_bucketed_run_trains_the_same_models_as_one_stacked_run(protocol, device):
    """Same inits, data and results, in float64: only the padding differs (the GPU's
    size buckets are run here on the CPU)."""
    from interplib.studies.memorization import grids

    grid = ((3, 2, 2, 0), (4, 4, 1, 0), (3, 2, 3, 0))
    cfg = tiny_grid(
        grid=grid, protocol=protocol, steps=101, pool_batches=2, speedup_steps=0
    )
    cpu = torch.device("cpu")
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        one = grids.run_grid(cfg, cpu, None)
        many = grids._run(cfg, grids.run_buckets(grid, device), cpu, None)
    finally:
        torch.set_default_dtype(default)
    assert many.metrics["buckets"] == len(grids.run_buckets(grid, device))
    assert "buckets" not in one.metrics
    for key in ("accuracy", "kl", "paper_metric"):
        torch.testing.assert_close(
            many.tensors[key], one.tensors[key], rtol=1e-7, atol=1e-9
        )


def test_buckets_in_worker_processes_train_the_same_models():
    """Two spawned CPU workers, largest bucket first, give the results of one process in
    the grid's order, bit for bit (float64: a worker left in float32 would differ)."""
    from interplib.studies.memorization import grids

    grid = ((3, 2, 2, 0), (4, 4, 1, 0), (3, 2, 3, 0))
    cfg = tiny_grid(grid=grid, steps=101, pool_batches=2, speedup_steps=1)
    cpu, buckets = torch.device("cpu"), [[0], [1], [2]]
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        one = grids._run(cfg, buckets, cpu, None, workers=1)
        two = grids._run(cfg, buckets, cpu, None, workers=2)
    finally:
        torch.set_default_dtype(default)
    assert two.metrics["cpu_workers"] == 2 and "cpu_workers" not in one.metrics
    for key in ("accuracy", "kl", "paper_metric"):
        torch.testing.assert_close(two.tensors[key], one.tensors[key], rtol=0, atol=0)


def test_cpu_workers_follow_the_torch_threads_on_the_cpu_only():
    from interplib.studies.memorization.grids import cpu_workers

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert cpu_workers("cpu", 7) == 3 and cpu_workers("cpu", 2) == 2
        assert cpu_workers("cuda", 7) == 1
        torch.set_num_threads(1)
        assert cpu_workers(torch.device("cpu"), 7) == 1
    finally:
        torch.set_num_threads(threads)


def test_partner_grid_starts_from_the_other_grids_models():
    from interplib.studies.memorization.grids import (
        PairedGridConfig,
        PartnerGridConfig,
        grid_models,
        paper_grids,
    )

    pairs = ((3, 3, 2, 0), (3, 3, 1, 12), (3, 3, 3, 0), (3, 3, 1, 24))
    cell = dict(N=6, seeds=2, steps=104, batch=8, pool_batches=2)
    main = PairedGridConfig("m", pairs, **cell)  # type: ignore[arg-type]
    partner = PartnerGridConfig("p", pairs[1::2], **cell, init_points=(1, 3))  # type: ignore[arg-type]
    for k, i in enumerate((1, 3)):
        (a, *_), _ = grid_models(main, [i])
        (b, *_), _ = grid_models(partner, [k])
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            assert torch.equal(p, q), name
    with pytest.raises(ValueError, match="init_points"):
        PartnerGridConfig("p", pairs[1::2], **cell, init_points=(1,))  # type: ignore[arg-type]
    full = paper_grids()
    for d in (7, 10, 13):
        same, own = full[f"memo-grid-exp5-samelr-d{d}"], full[f"memo-grid-exp5-d{d}"]
        assert same.grid == own.grid[1::2] and same.lr_end == own.lr_end
        assert same.init_points == tuple(range(1, 14, 2))
        differ = {"name", "grid", "init_points", "mlp_lr_end"}
        assert {k: v for k, v in vars(same).items() if k not in differ} == {
            k: v for k, v in vars(own).items() if k not in differ
        }


def test_torch_init_grid_draws_the_same_points_with_pytorchs_init():
    from interplib.studies.memorization.grids import TorchInitGridConfig, grid_models

    base = tiny_grid(compress=True)
    torch_init = TorchInitGridConfig(**vars(base))
    assert vars(torch_init) == vars(base) | {"init": "pytorch"}
    (a, *_), _ = grid_models(base)
    (b, *_), _ = grid_models(torch_init)
    assert a.cfg == b.cfg
    # ours: unit-scale Gaussian embeddings; PyTorch's Linear: uniform in ±1/sqrt(d)
    d = a.cfg.d_model
    assert (
        float(a.W_E.detach().abs().max()) > d**-0.5 >= float(b.W_E.detach().abs().max())
    )


def test_paired_grid_ends_the_mlp_partners_decay_apart():
    """Exp 5: the attention rows train alike whatever the partners' schedule; the MLP
    partners follow their own, in a run of their own."""
    from interplib.studies.memorization.grids import PairedGridConfig, _run

    base = tiny_grid(grid=((3, 3, 2, 0), (3, 3, 1, 12)), steps=104, pool_batches=2)
    kw = vars(base) | {"speedup_steps": 0}
    same = PairedGridConfig(**kw, mlp_lr_end=base.lr_end)
    apart = PairedGridConfig(**kw, mlp_lr_end=1e-5)
    assert [apart.lr_end_of(i) for i in (0, 1)] == [5e-4, 1e-5]
    one = _run(same, [[0, 1]], torch.device("cpu"), None)
    two = _run(apart, [[0, 1]], torch.device("cpu"), None)
    assert "buckets" not in one.metrics and two.metrics["buckets"] == 2
    torch.testing.assert_close(two.tensors["kl"][0], one.tensors["kl"][0])
    assert not torch.allclose(two.tensors["kl"][1], one.tensors["kl"][1])


def test_paired_grid_steps_the_rate_once_per_epoch_as_the_papers_linearlr():
    """LinearLR(start_factor=lr, end_factor=lr_low, total_iters=epochs) stepped per epoch,
    on a base rate of 0.1 (the paper's code), against our factor on a base of 1e-2."""
    from interplib.studies.memorization.grids import PairedGridConfig

    cfg = PairedGridConfig(
        "t", ((3, 3, 2, 0), (3, 3, 1, 12)), steps=256, pool_batches=4
    )
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = torch.optim.lr_scheduler.LinearLR(opt, 0.1, 0.1 * 0.01, total_iters=64)
    factor = cfg.lr_factor(cfg.mlp_lr_end)
    for step in range(256):
        if step and step % 4 == 0:
            opt.step()
            sched.step()
        assert cfg.lr * factor(step) == pytest.approx(opt.param_groups[0]["lr"])
    # the last epoch: 2.55e-4 for the MLP partners, 6.48e-4 for the attention models
    assert cfg.lr * factor(255) == pytest.approx(2.547e-4, rel=1e-3)
    assert cfg.lr * cfg.lr_factor(cfg.lr_end)(255) == pytest.approx(6.48e-4, rel=1e-3)
    with pytest.raises(ValueError, match="whole epochs"):
        PairedGridConfig("t", cfg.grid, steps=255, pool_batches=4).lr_factor(1e-4)


def test_the_papers_loop_gives_each_repetition_its_own_batch_order():
    """Two copies of one model: under the paper's loop the first sees the shared order and
    the second its own, so only the first ends as it does with one order for all."""
    from interplib.studies.memorization.grids import PaperLoopGridConfig, _laws, _train

    class OneOrder(PaperLoopGridConfig):
        def shuffles(self, models: int) -> int:
            return 0

    kw: dict[str, Any] = dict(N=6, steps=104, pool_batches=4, batch=16, seeds=1)
    own = PaperLoopGridConfig("t", ((4, 2, 2, 0),), **kw)
    torch.manual_seed(0)
    model = own.new_model(own.grid[0])
    ends = {}
    for cfg in (own, OneOrder("t", own.grid, **kw)):
        twins = [copy.deepcopy(model), copy.deepcopy(model)]
        result = _train(cfg, twins, _laws(cfg), 8, True, None, "cpu")
        ends[type(cfg).__name__] = result.params["W_E"]
    assert own.shuffles(2) == 2 and OneOrder("t", own.grid, **kw).shuffles(2) == 0
    torch.testing.assert_close(ends["PaperLoopGridConfig"][0], ends["OneOrder"][0])
    torch.testing.assert_close(ends["OneOrder"][0], ends["OneOrder"][1])
    assert not torch.allclose(
        ends["PaperLoopGridConfig"][0], ends["PaperLoopGridConfig"][1]
    )


def test_the_paper_table_grid_trains_on_the_papers_table():
    from interplib.studies.memorization.grids import (
        PAPER_LAW_SEED,
        PaperTableGridConfig,
        _laws,
    )

    cfg = PaperTableGridConfig("t", ((4, 2, 2, 0),), N=6, steps=104, pool_batches=4)
    paper = make_law("paper_table", 6, PAPER_LAW_SEED)
    (law,) = _laws(cfg)
    assert torch.equal(law.pi2, paper.pi2) and cfg.law_kind() == "paper_table"
    assert not torch.equal(_laws(GridConfig("t", cfg.grid, N=6))[0].pi2, paper.pi2)
