"""The memorization study's scaling sweeps: accuracy on look-up tables over grids of (d, d_h, H).

Each sweep trains every grid point and seed as one batch
(:func:`interplib.core.batched.train_models`) and returns metrics tables shaped
``[config seed]``. The reduced grids (``HEADS``, ``D_HEAD``, ``WIDTH``, ``SMALL``) train in
about 30 minutes on the book's 2-core CPU; the paper's full grids are
:mod:`interplib.studies.memorization.grids` (one stacked run each).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from interplib.core.batched import linear_decay, train_models
from interplib.core.recipes import Trained
from interplib.studies.memorization.model import (
    AoTConfig,
)
from interplib.studies.memorization.training import (
    adam,
    aot_models,
    law_data,
    law_evaluator,
    make_law,
    make_loss,
)

__all__ = [
    "SweepConfig",
    "run_sweep",
    "HEADS",
    "D_HEAD",
    "WIDTH",
    "SMALL",
    "measure_speedup",
    "paper_accuracy",
    "SWEEP_VERSION",
]


# --- scaling sweeps -------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepConfig:
    """A grid of ``(d, d_h, H)`` triples on look-up tables with ``T0 = N²`` (paper §5)."""

    name: str
    grid: tuple[tuple[int, int, int], ...]  # (d_model, d_head, n_heads)
    N: int = 50
    seeds: int = 3
    steps: int = 4096  # the paper: 64 epochs x 64 batches
    batch: int = 256  # the paper's code (App. B says 2^10; the code uses 2^8)
    lr: float = (
        1e-2  # linear decay 1e-2 -> 5e-4, as the paper's code (not the 0.1 of App. B)
    )
    lr_end: float = 5e-4
    # one fixed sample of 64 batches, reshuffled each epoch (the paper's code); 0: online
    pool_batches: int = 64
    speedup_steps: int = (
        0  # >0: also time this many steps batched vs one model at a time
    )
    seed: int = 0

    def __post_init__(self):
        if not self.grid or any(min(t) < 1 for t in self.grid):
            raise ValueError(
                f"grid={self.grid}: give (d_model, d_head, n_heads) triples of positive sizes"
            )
        if self.seeds < 1 or self.steps < 1 or self.batch < 1 or self.pool_batches < 0:
            raise ValueError(
                "seeds, steps and batch must be positive and pool_batches ≥ 0"
            )


def run_sweep(cfg: SweepConfig, device: torch.device, progress) -> Trained:
    """Train every grid point x seed; models of one width train in one batch (H, d_h masked)."""
    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))
    laws = [make_law("table", cfg.N, 10_000 + s) for s in seeds]
    acc = torch.zeros(len(cfg.grid), cfg.seeds)
    kl = torch.zeros(len(cfg.grid), cfg.seeds)
    train_acc = torch.zeros(len(cfg.grid), cfg.seeds)
    seconds = {}
    for d in sorted({t[0] for t in cfg.grid}):
        points = [i for i, t in enumerate(cfg.grid) if t[0] == d]
        arch = AoTConfig(
            d_vocab=cfg.N,
            d_model=d,
            d_head=max(cfg.grid[i][1] for i in points),
            n_heads=max(cfg.grid[i][2] for i in points),
        )
        jobs = [(i, j) for i in points for j in range(cfg.seeds)]
        models = aot_models(
            arch,
            [1000 * i + seeds[j] for i, j in jobs],
            n_heads=[cfg.grid[i][2] for i, _ in jobs],
            d_head=[cfg.grid[i][1] for i, _ in jobs],
        )
        job_laws = [laws[j] for _, j in jobs]
        data = law_data(job_laws, cfg.batch, cfg.seed, True, cfg.pool_batches)
        result = train_models(
            models,
            make_loss("next_token", 0.0),
            data,
            cfg.steps,
            adam(cfg.lr),
            schedule=linear_decay(cfg.steps, 1.0, cfg.lr_end / cfg.lr),
            data_in_dims=0,
            progress=progress,
            desc=f"{cfg.name} d={d}",
            device=device,
        )
        final = law_evaluator(models[0], job_laws)(
            result.params, result.buffers
        )  # on the CPU
        paper = paper_accuracy(result.history["batch_acc"])
        for k, (i, j) in enumerate(jobs):
            acc[i, j], kl[i, j], train_acc[i, j] = (
                final["accuracy"][k],
                final["kl"][k],
                paper[k],
            )
        seconds[str(d)] = round(result.seconds, 2)
    spread = (
        (lambda x: x.std(1).tolist())
        if cfg.seeds > 1
        else (lambda x: [0.0] * len(cfg.grid))
    )  # noqa: E731
    metrics = {
        "grid": [list(t) for t in cfg.grid],
        "accuracy_mean": acc.mean(1).tolist(),
        "accuracy_std": spread(acc),
        "train_accuracy_mean": train_acc.mean(1).tolist(),
        "train_accuracy_std": spread(train_acc),
        "train_seconds_by_width": seconds,
        "T0": cfg.N**2,
        "models": len(cfg.grid) * cfg.seeds,
    }
    if cfg.speedup_steps:
        metrics.update(measure_speedup(cfg, progress, device))
    tensors = {
        "accuracy": acc,
        "kl": kl,
        "train_accuracy": train_acc,
        "grid": torch.tensor(cfg.grid),
    }
    return Trained(
        tensors,
        metrics,
        key_metric=("mean accuracy at the largest H", float(acc[-1].mean())),
    )


def paper_accuracy(batch_acc: Float[Tensor, "model step"]) -> Float[Tensor, " model"]:
    """The paper's reported accuracy: the mean training-batch accuracy over the 100 steps before the
    last (``sum(Acc[-101:-1]) / 100`` in its code), measured before each step's update."""
    if batch_acc.shape[-1] < 101:
        raise ValueError(
            f"{batch_acc.shape[-1]} steps recorded: the paper's metric averages steps -101 … -2, "
            f"train for at least 101 steps"
        )
    return batch_acc[..., -101:-1].mean(-1)


def measure_speedup(
    cfg: SweepConfig, progress, device: torch.device | str = "cpu"
) -> dict[str, float]:
    """Seconds per step for the sweep's first width, batched vs one model at a time.

    On the same data.
    """
    d = cfg.grid[0][0]
    points = [t for t in cfg.grid if t[0] == d]
    arch = AoTConfig(
        d_vocab=cfg.N,
        d_model=d,
        d_head=max(t[1] for t in points),
        n_heads=max(t[2] for t in points),
    )
    jobs = [(t, s) for t in points for s in range(cfg.seeds)]
    law = make_law("table", cfg.N, 10_000)
    out = {}
    for batched in (True, False):
        models = aot_models(
            arch, [s for _, s in jobs], [t[2] for t, _ in jobs], [t[1] for t, _ in jobs]
        )
        r = train_models(
            models,
            make_loss("next_token", 0.0),
            law_data([law], cfg.batch, 1, False),
            cfg.speedup_steps,
            adam(cfg.lr),
            batched=batched,
            progress=progress,
            desc="speed-up",
            device=device,
        )
        out["batched" if batched else "sequential"] = r.seconds / cfg.speedup_steps
    return {
        "speedup_models": len(jobs),
        "speedup_steps": cfg.speedup_steps,
        "seconds_per_step_batched": out["batched"],
        "seconds_per_step_sequential": out["sequential"],
        "speedup": out["sequential"] / out["batched"],
    }


# The reduced grids trained on the 2-core CPU: the paper's 4096 steps (64 epochs of a fixed
# sample of 64 batches), fewer grid points and seeds.
HEADS = SweepConfig(
    "heads", tuple((10, 10, h) for h in (1, 6, 11, 16, 21)), speedup_steps=50
)
D_HEAD = SweepConfig("d_head", tuple((10, dh, 20) for dh in (2, 6, 10)), seed=100)
WIDTH = SweepConfig("width", tuple((d, 10, 20) for d in (5, 10, 15)), seed=200)
SMALL = SweepConfig(
    "small",
    tuple((2, 2, h) for h in (1, 5, 9, 13, 17, 21)),
    N=10,
    seeds=5,
    speedup_steps=50,
    seed=300,
)


# 2: the paper's 4096 steps on a fixed reshuffled sample, and its training-batch metric
SWEEP_VERSION = 2
