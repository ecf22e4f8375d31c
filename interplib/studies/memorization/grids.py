"""The paper's grids (Exp 1-6) as single stacked runs: every width, head count and seed at once.

A grid point is ``(d_model, d_head, n_heads, d_mlp)``. Every point x seed is built at its own
size under its own seed, then **padded** into one model of the grid's largest sizes
(:func:`pad_model`): the extra residual dimensions, head dimensions, heads and MLP units are
switched off by mask buffers, get zero gradient and never move under Adam, so the stacked run
computes what training each model alone computes (a test checks this against one-at-a-time
training). One run then holds Exp 3's eleven widths as easily as Exp 1's seven head counts.

Two protocols (:class:`GridConfig` ``protocol``):

* ``"paper"``: the paper's code draws **one** table and **one** training sample (its
  ``torch.manual_seed(2222)``) for every grid point; repetitions differ in the
  initialisation (and, in its loop, in the order they shuffle the sample);
* ``"ours"``: a new table (and sample) per seed, so the spread also covers the table.

Two architectures (``compress``): the paper code's shared compress/decompress or the per-head
maps of its text (:mod:`interplib.studies.memorization.model`). Two initialisations: ours
(Gaussian) or, with :class:`TorchInitGridConfig`, the one PyTorch gives the paper code's
modules. Two training loops: ours (the rate decays every step, every repetition sees the
same batches) or, with :class:`PaperLoopGridConfig`, the paper's (the rate stepped once per
epoch, a batch order per repetition).

**Buckets** (:func:`run_bucketed`, Exp 4 and 5): padding every model to the grid's largest
sizes makes a small model cost as much as the largest. On a GPU :func:`size_buckets` groups
the points by their sizes other than the head count, and each group is one stacked run padded
only to its own largest point; on the CPU each point is its own run (:func:`run_buckets`),
the runs side by side in one spawned process per torch thread (:func:`cpu_workers`).
Models, seeds and data are those of the single run (tests check they train alike, and that
the worker processes give the one process's results bit for bit).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Literal

import torch

from interplib.core.batched import linear_decay, train_models
from interplib.core.recipes import Trained
from interplib.studies.memorization.model import (
    AoTConfig,
    AttentionOnly,
    pytorch_default_init,
)
from interplib.studies.memorization.sweeps import paper_accuracy
from interplib.studies.memorization.training import (
    adam,
    law_data,
    law_evaluator,
    make_law,
    make_loss,
)

__all__ = [
    "GridConfig",
    "TorchInitGridConfig",
    "PaperLoopGridConfig",
    "PaperTableGridConfig",
    "PairedGridConfig",
    "PartnerGridConfig",
    "pad_model",
    "grid_models",
    "run_grid",
    "size_buckets",
    "run_buckets",
    "run_bucketed",
    "cpu_workers",
    "paper_grids",
    "PAPER_LAW_SEED",
    "GRID_VERSION",
]

PAPER_LAW_SEED = 2222  # the paper code's torch.manual_seed before its table and sample


@dataclass(frozen=True)
class GridConfig:
    """A grid of ``(d_model, d_head, n_heads, d_mlp)`` on look-up tables with ``T0 = N²``."""

    name: str
    grid: tuple[tuple[int, int, int, int], ...]
    N: int = 50
    seeds: int = 5
    protocol: Literal["paper", "ours"] = "paper"
    compress: bool = True  # the paper code's architecture (see the module docstring)
    steps: int = 4096  # the paper's code: 64 epochs x 64 batches
    batch: int = 256
    lr: float = 1e-2  # linear decay 1e-2 -> 5e-4, as the paper's code
    lr_end: float = 5e-4
    pool_batches: int = 64  # one fixed sample reshuffled each epoch; 0: online
    speedup_steps: int = (
        20  # time this many steps of every model alone, in the same run
    )
    seed: int = 0

    def __post_init__(self):
        if not self.grid or any(len(t) != 4 or min(t[:3]) < 1 for t in self.grid):
            raise ValueError(
                f"grid={self.grid}: give (d_model, d_head, n_heads, d_mlp) with positive "
                "sizes (d_mlp = 0: attention only)"
            )
        if self.protocol not in ("paper", "ours"):
            raise ValueError(f"protocol={self.protocol!r}: use 'paper' or 'ours'")
        if self.seeds < 1 or self.steps < 101 or self.batch < 1:
            raise ValueError(
                f"seeds={self.seeds}, steps={self.steps}, batch={self.batch}: need "
                "seeds ≥ 1, batch ≥ 1 and steps ≥ 101 (the paper's metric averages 100)"
            )

    def new_model(self, point: tuple[int, int, int, int]) -> AttentionOnly:
        """A freshly initialised model of one grid point (seed the RNG first)."""
        return AttentionOnly(_arch(self, point))

    def init_seed(self, index: int, seed: int) -> int:
        """The RNG seed of the initialisation of grid point ``index``, repetition ``seed``."""
        return self.seed + 1000 * index + seed

    def lr_end_of(self, index: int) -> float:
        """The learning rate at the end of the decay for grid point ``index``."""
        return self.lr_end

    def lr_factor(self, lr_end: float) -> Callable[[int], float]:
        """The ``LambdaLR`` factor by step: linear from ``lr`` to ``lr_end`` over the run."""
        return linear_decay(self.steps, 1.0, lr_end / self.lr)

    def shuffles(self, models: int) -> int:
        """How many batch orders a run of ``models`` models draws (``law_data``): 0, one
        order for all."""
        return 0

    def law_kind(self) -> str:
        """The ``make_law`` kind of the tables: ``table``, our generator's."""
        return "table"


@dataclass(frozen=True)
class TorchInitGridConfig(GridConfig):
    """A :class:`GridConfig` whose models start from PyTorch's default initialisation of the
    paper code's modules (:func:`~interplib.studies.memorization.model.pytorch_default_init`)
    instead of ours."""

    init: Literal["pytorch"] = "pytorch"

    def new_model(self, point: tuple[int, int, int, int]) -> AttentionOnly:
        return pytorch_default_init(super().new_model(point))


@dataclass(frozen=True)
class PaperLoopGridConfig(TorchInitGridConfig):
    """A :class:`TorchInitGridConfig` trained as the paper's ``train`` loop trains: the
    learning rate stepped once per epoch of ``pool_batches`` steps (its ``LinearLR``; the
    last epoch runs ``1/epochs`` of the way short of ``lr_end``) and each repetition
    reshuffling the one sample in its own order (its shuffling ``DataLoader``)."""

    schedule: Literal["per_epoch"] = "per_epoch"
    shuffle: Literal["per_model"] = "per_model"

    def lr_factor(self, lr_end: float) -> Callable[[int], float]:
        if self.pool_batches < 1 or self.steps % self.pool_batches:
            raise ValueError(
                f"steps={self.steps}, pool_batches={self.pool_batches}: a per-epoch "
                "schedule needs whole epochs of a fixed sample"
            )
        epochs, per_epoch = self.steps // self.pool_batches, self.pool_batches
        decay = linear_decay(epochs, 1.0, lr_end / self.lr)
        return lambda step: decay(step // per_epoch)

    def shuffles(self, models: int) -> int:
        return models


@dataclass(frozen=True)
class PaperTableGridConfig(PaperLoopGridConfig):
    """A :class:`PaperLoopGridConfig` on the paper code's own table: its
    ``power_unif_law`` drawn from seed 2222 (``make_law("paper_table", ...)``), sampled by
    our ``law_data``."""

    table: Literal["paper_table"] = "paper_table"

    def law_kind(self) -> str:
        return self.table


@dataclass(frozen=True)
class PairedGridConfig(PaperLoopGridConfig):
    """Exp 5's grid as the paper's Exp 5 cell trains it (:class:`PaperLoopGridConfig`):
    pairs of an attention model (even points) and its MLP partner (odd points), the rate
    decaying towards ``lr_end`` for the attention models and ``mlp_lr_end`` for the MLP
    partners (``lr_low = lr * 5e-2`` and ``lr * 0.01``; the MLP is ``nn.Linear`` either
    way)."""

    mlp_lr_end: float = 1e-4

    def lr_end_of(self, index: int) -> float:
        return self.mlp_lr_end if index % 2 else self.lr_end


@dataclass(frozen=True)
class PartnerGridConfig(PaperLoopGridConfig):
    """Some points of another grid trained again from that grid's initialisations:
    ``init_points[k]`` is the index in the other grid of point ``k``, whose models start
    from the same weights and, per repetition, see the same batches there as here (one
    run per point on the CPU; pass the other grid's other fields unchanged)."""

    init_points: tuple[int, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        if len(self.init_points) != len(self.grid):
            raise ValueError(
                f"{len(self.init_points)} init_points for {len(self.grid)} grid points: "
                "give each point its index in the grid it comes from"
            )

    def init_seed(self, index: int, seed: int) -> int:
        return super().init_seed(self.init_points[index], seed)


def pad_model(small: AttentionOnly, cfg: AoTConfig) -> AttentionOnly:
    """``small`` inside a model of the bigger config ``cfg``, the rest switched off.

    Every parameter of ``small`` becomes the leading block of the same parameter of the big
    model (all other entries are zero); the masks keep only ``small``'s heads, head and
    residual dimensions and MLP units, so both models compute the same logits.

    Raises:
        ValueError: if ``cfg`` is smaller than ``small`` anywhere or differs in anything
            but its sizes.
    """
    s = small.cfg
    sizes = ("d_model", "d_head", "n_heads", "d_mlp")
    if any(getattr(cfg, k) < getattr(s, k) for k in sizes):
        raise ValueError(f"cannot pad {s} into the smaller {cfg}")
    if {k: v for k, v in vars(cfg).items() if k not in sizes} != {
        k: v for k, v in vars(s).items() if k not in sizes
    }:
        raise ValueError(
            f"pad_model only changes sizes; {s} and {cfg} differ otherwise"
        )
    big = AttentionOnly(cfg).to(next(small.parameters()).dtype)
    small_params = dict(small.named_parameters())
    with torch.no_grad():
        for name, p in big.named_parameters():
            p.zero_()
            if name in small_params:  # a small model without MLP leaves it at zero
                q = small_params[name]
                p[tuple(slice(0, n) for n in q.shape)] = q
    d_mlp = s.d_mlp if cfg.d_mlp else None
    return big.set_active(s.n_heads, s.d_head, s.d_model, d_mlp)


def _arch(cfg: GridConfig, point: tuple[int, int, int, int]) -> AoTConfig:
    d, d_h, h, w = point
    return AoTConfig(
        d_vocab=cfg.N, d_model=d, d_head=d_h, n_heads=h, d_mlp=w, compress=cfg.compress
    )


def grid_models(
    cfg: GridConfig, points: Sequence[int] | None = None
) -> tuple[list[AttentionOnly], list[AttentionOnly]]:
    """Each point x seed at its own size (``cfg.init_seed(point, seed)`` seeds the init), and padded
    to the largest sizes among ``points`` (indices into ``cfg.grid``; default: all).

    Returns ``(small, padded)``, ordered point-major: model ``k`` is ``points[k // seeds]``.
    """
    points = list(range(len(cfg.grid))) if points is None else list(points)
    top = tuple(max(cfg.grid[i][k] for i in points) for k in range(4))
    big = _arch(cfg, top)  # type: ignore[arg-type]
    small = []
    for i in points:
        for j in range(cfg.seeds):
            torch.manual_seed(cfg.init_seed(i, j))
            small.append(cfg.new_model(cfg.grid[i]))
    return small, [pad_model(m, big) for m in small]


def size_buckets(grid: Sequence[tuple[int, int, int, int]]) -> list[list[int]]:
    """Point indices grouped by ``(d_model, d_head, has an MLP)``, in order of first
    appearance: a bucket differs only in its head counts and MLP widths."""
    groups: dict[tuple[int, int, bool], list[int]] = {}
    for i, (d, d_h, _, w) in enumerate(grid):
        groups.setdefault((d, d_h, w > 0), []).append(i)
    return list(groups.values())


def _laws(cfg: GridConfig) -> list:
    kind = cfg.law_kind()
    if cfg.protocol == "paper":
        return [make_law(kind, cfg.N, PAPER_LAW_SEED)]
    return [make_law(kind, cfg.N, 10_000 + cfg.seed + j) for j in range(cfg.seeds)]


def _train(cfg, models, laws, steps, batched, progress, device, lr_end=None):
    per_model = len(laws) > 1
    job_laws = laws * (len(models) // len(laws)) if per_model else laws
    data_seed = PAPER_LAW_SEED if cfg.protocol == "paper" else cfg.seed
    shuffles = cfg.shuffles(len(models))
    data = law_data(
        job_laws, cfg.batch, data_seed, per_model, cfg.pool_batches, shuffles
    )
    return train_models(
        models,
        make_loss("next_token", 0.0),
        data,
        steps,
        adam(cfg.lr),
        schedule=cfg.lr_factor(lr_end or cfg.lr_end),
        data_in_dims=0 if per_model or shuffles else None,
        batched=batched,
        progress=progress,
        desc=cfg.name,
        device=device,
    )


def run_grid(cfg: GridConfig, device: torch.device, progress) -> Trained:
    """Train the whole grid as one stacked run; exact and paper-metric accuracy per model.

    With ``speedup_steps`` it also times that many steps of every model alone (unpadded, one
    after the other) on the same device, so the batched speed-up is measured in the run.
    """
    return _run(cfg, [list(range(len(cfg.grid)))], device, progress)


def run_buckets(
    grid: Sequence[tuple[int, int, int, int]], device: torch.device | str
) -> list[list[int]]:
    """The stacked runs of :func:`run_bucketed`: the :func:`size_buckets` on a GPU, one run
    per grid point (its seeds) elsewhere.

    On the CPU the padding costs more than the stacking saves: Exp 4 takes 1.23 s a step
    point by point against 2.10 s in size buckets, Exp 5 0.62 s against 1.03 s (one core,
    process time, 2026-12-05).
    """
    if torch.device(device).type == "cuda":
        return size_buckets(grid)
    return [[i] for i in range(len(grid))]


def run_bucketed(cfg: GridConfig, device: torch.device, progress) -> Trained:
    """:func:`run_grid` with one stacked run per :func:`run_buckets` group, each padded to
    its own largest point; the same models, seeds and data, in the grid's order."""
    return _run(cfg, run_buckets(cfg.grid, device), device, progress)


def _run(
    cfg: GridConfig,
    buckets: list[list[int]],
    device,
    progress,
    workers: int | None = None,
) -> Trained:
    # one run shares one schedule: split a bucket whose points end their decay apart
    buckets = [
        [i for i in b if cfg.lr_end_of(i) == end]
        for b in buckets
        for end in dict.fromkeys(cfg.lr_end_of(i) for i in b)
    ]
    if workers is None:
        workers = cpu_workers(device, len(buckets))
    jobs = [(cfg, points, b, len(buckets)) for b, points in enumerate(buckets)]
    if workers > 1:
        done = _in_processes(jobs, workers, progress)
    else:
        done = [_bucket(c, p, b, n, device, progress) for c, p, b, n in jobs]
    out, history = {}, []
    for points, (acc_rows, kl_rows, hist_rows, _, _) in zip(buckets, done):
        for k, i in enumerate(points):
            out[i] = (acc_rows[k], kl_rows[k])
            history.append((i, hist_rows[k]))
    seconds = sum(r[3] for r in done)
    alone = sum(r[4] for r in done)
    acc = torch.stack([out[i][0] for i in range(len(cfg.grid))])  # point seed
    kl = torch.stack([out[i][1] for i in range(len(cfg.grid))])
    batch_acc = torch.cat([h for _, h in sorted(history, key=lambda t: t[0])])
    paper = paper_accuracy(batch_acc).reshape(acc.shape)
    metrics: dict = {
        "grid": [list(t) for t in cfg.grid],
        "accuracy_mean": acc.mean(1).tolist(),
        "accuracy_sem": _sem(acc),
        "paper_metric_mean": paper.mean(1).tolist(),
        "paper_metric_sem": _sem(paper),
        "T0": cfg.N**2,
        "models": acc.numel(),
        "train_seconds": round(seconds, 1),
        "seconds_per_step_batched": seconds / cfg.steps,
    }
    if len(buckets) > 1:
        metrics["buckets"] = len(buckets)
    if workers > 1:  # the buckets' seconds add up; the wall time is the sidecar's
        metrics["cpu_workers"] = workers
    if cfg.speedup_steps:
        per_step = alone / cfg.speedup_steps
        metrics["seconds_per_step_sequential"] = per_step
        metrics["speedup"] = per_step / metrics["seconds_per_step_batched"]
    tensors = {
        "accuracy": acc,
        "kl": kl,
        "paper_metric": paper,
        "grid": torch.tensor(cfg.grid),
    }
    return Trained(
        tensors,
        metrics,
        key_metric=("mean accuracy at the last point", float(acc[-1].mean())),
    )


def cpu_workers(device: torch.device | str, buckets: int) -> int:
    """Processes that train the buckets side by side: on the CPU one per torch thread
    (``torch.get_num_threads()``, e.g. ``OMP_NUM_THREADS``), each with one thread, as many
    as there are buckets; 1 (in this process) on a GPU."""
    if torch.device(device).type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), buckets))


def _bucket(cfg: GridConfig, points: list[int], b: int, n: int, device, progress):
    """Train one bucket: per point its seeds' exact accuracy, KL and batch accuracies,
    then the run's seconds and those of its models alone (``speedup_steps``)."""
    small, padded = grid_models(cfg, points)
    laws = _laws(cfg)
    name = cfg.name if n == 1 else f"{cfg.name} [{b + 1}/{n}]"
    end = cfg.lr_end_of(points[0])
    result = _train(
        replace(cfg, name=name), padded, laws, cfg.steps, True, progress, device, end
    )
    job_laws = laws * (len(padded) // len(laws)) if len(laws) > 1 else laws
    final = law_evaluator(padded[0], job_laws)(result.params, result.buffers)
    rows = [slice(k * cfg.seeds, (k + 1) * cfg.seeds) for k in range(len(points))]
    alone = _seconds_alone(cfg, small, laws, device, end) if cfg.speedup_steps else 0.0
    return (
        [final["accuracy"][r] for r in rows],
        [final["kl"][r] for r in rows],
        [result.history["batch_acc"][r] for r in rows],
        result.seconds,
        alone,
    )


def _worker_init(dtype: torch.dtype) -> None:
    torch.set_num_threads(1)
    torch.set_default_dtype(dtype)


def _bucket_on_cpu(job: tuple[GridConfig, list[int], int, int]):
    cfg, points, b, n = job
    return _bucket(cfg, points, b, n, torch.device("cpu"), None)


def _in_processes(jobs: list, workers: int, progress) -> list:
    """:func:`_bucket` of each job on the CPU in ``workers`` spawned processes of one
    thread each, the largest buckets first; results in the order of ``jobs``."""

    def cost(job) -> int:  # head and MLP weights of the bucket's models
        cfg, points = job[:2]
        return sum(d * (h * d_h + w) for d, d_h, h, w in (cfg.grid[i] for i in points))

    order = sorted(range(len(jobs)), key=lambda k: -cost(jobs[k]))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_worker_init,
        initargs=(torch.get_default_dtype(),),
    ) as pool:
        futures = {pool.submit(_bucket_on_cpu, jobs[k]): k for k in order}
        bar = progress or (lambda it, **_: it)
        done = {}
        for f in bar(as_completed(futures), total=len(jobs), desc=jobs[0][0].name):
            done[futures[f]] = f.result()
    return [done[k] for k in range(len(jobs))]


def _seconds_alone(cfg: GridConfig, small, laws, device, lr_end) -> float:
    """Wall seconds of ``speedup_steps`` steps of every model alone, one after the other."""
    start = time.perf_counter()
    for k, m in enumerate(small):
        law = [laws[k % len(laws)]]
        _train(cfg, [m], law, cfg.speedup_steps, False, None, device, lr_end)
    return time.perf_counter() - start


def _sem(x: torch.Tensor) -> list[float]:
    """Standard error of the mean over seeds (0 for one seed)."""
    if x.shape[1] < 2:
        return [0.0] * x.shape[0]
    return (x.std(1) / x.shape[1] ** 0.5).tolist()


def _att(d: int, d_h: int, heads) -> tuple[tuple[int, int, int, int], ...]:
    return tuple((d, d_h, h, 0) for h in heads)


def paper_grids() -> dict[str, GridConfig]:
    """The paper's Exp 1-6 (App. B, the ``Data_exp_*.csv`` grids), by recipe name.

    Exp 1-6 with the paper code's architecture and protocol, 5 seeds (20 for Exp 6); Exp 2
    and 3 also with per-head maps, Exp 1 and 6 also with a table per seed, Exp 2 also with
    PyTorch's initialisation of the paper code's modules (one table, and a table per seed),
    Exp 1-4 and 6 also trained as the paper's loop trains (:class:`PaperLoopGridConfig`),
    Exp 1-3 and 6 also so on the paper's own table (:class:`PaperTableGridConfig`).
    Exp 5 pairs each ``H``-head model with a 1-head model plus a GELU MLP of width
    ``2d(H-1)`` (same count), one recipe per width, trained as the paper's Exp 5 cell trains
    (:class:`PairedGridConfig`); and the MLP partners again on the attention models'
    schedule (:class:`PartnerGridConfig`).
    """
    heads = range(1, 32, 5)
    exp2 = tuple((10, dh, 20, 0) for dh in range(1, 11))
    exp3 = tuple((d, 10, 20, 0) for d in range(5, 16))
    exp5 = {  # by width: each H-head model, then its one-head + MLP partner
        d: tuple(p for h in heads for p in ((d, d, h, 0), (d, d, 1, 2 * d * (h - 1))))
        for d in (7, 10, 13)
    }
    exp6 = _att(2, 2, range(1, 22, 4))
    grids = {
        "memo-grid-exp1": GridConfig("exp1", _att(10, 10, heads)),
        "memo-grid-exp1-ours": GridConfig(
            "exp1-ours", _att(10, 10, heads), protocol="ours"
        ),
        "memo-grid-exp2": GridConfig("exp2", exp2),
        "memo-grid-exp2-perhead": GridConfig("exp2-perhead", exp2, compress=False),
        "memo-grid-exp2-torchinit": TorchInitGridConfig("exp2-torchinit", exp2),
        # its spread with the table, the sample and the batch order drawn anew per seed
        "memo-grid-exp2-torchinit-ours": TorchInitGridConfig(
            "exp2-torchinit-ours", exp2, protocol="ours"
        ),
        "memo-grid-exp3": GridConfig("exp3", exp3),
        "memo-grid-exp3-perhead": GridConfig("exp3-perhead", exp3, compress=False),
        "memo-grid-exp4": GridConfig(
            "exp4", tuple(p for d in range(3, 14) for p in _att(d, d, heads))
        ),
        "memo-grid-exp6": GridConfig("exp6", exp6, N=10, seeds=20),
        "memo-grid-exp6-ours": GridConfig(
            "exp6-ours", exp6, N=10, seeds=20, protocol="ours"
        ),
    }
    # Exp 5, one recipe per width: the paper's Exp 5 cell (256 batches of 1024, 64
    # epochs: 16384 steps; the MLP partners' decay ends at lr * 0.01), and the control the
    # paper lacks: the MLP partners again, from the same initialisations, on the attention
    # models' schedule ("samelr"; the attention models would be the same models again)
    for d, pairs in exp5.items():
        cell = PairedGridConfig(
            f"exp5-d{d}", pairs, N=70, batch=1024, pool_batches=256, steps=16384
        )
        grids[f"memo-grid-exp5-d{d}"] = cell
        fields = vars(cell) | {"name": f"exp5-samelr-d{d}", "grid": pairs[1::2]}
        del fields["mlp_lr_end"]
        grids[f"memo-grid-exp5-samelr-d{d}"] = PartnerGridConfig(
            **fields, init_points=tuple(range(1, len(pairs), 2))
        )
    # the paper's code and protocol trained as its loop trains: PyTorch's initialisation,
    # the rate stepped per epoch, a batch order per repetition
    grids["memo-grid-exp2-paperloop"] = PaperLoopGridConfig("exp2-paperloop", exp2)
    grids["memo-grid-exp2-papertable"] = PaperTableGridConfig("exp2-papertable", exp2)
    for name in ("exp1", "exp3", "exp4", "exp6"):
        cfg = grids[f"memo-grid-{name}"]
        grids[f"memo-grid-{name}-paperloop"] = PaperLoopGridConfig(
            **vars(cfg) | {"name": f"{name}-paperloop"}
        )
        if name != "exp4":  # and on the paper's own table
            grids[f"memo-grid-{name}-papertable"] = PaperTableGridConfig(
                **vars(cfg) | {"name": f"{name}-papertable"}
            )
    return grids


GRID_VERSION = 1
