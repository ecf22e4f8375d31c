"""The memorization study's recipes: every experiment of the chapter, trained in batches.

Each recipe trains a group of small models with :func:`interplib.batched.train_models` and
stores metrics tables (``[config seed]`` tensors) and the few weights the chapter inspects.
The configs are sized so that the scaling sweeps train in about 30 minutes on a 2-core CPU;
``python -m interplib.train --all --device cuda`` runs the same code on a GPU, and the
``full_grid`` helpers give the paper's grid for that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from . import memorization as mem
from .memo_model import AoTConfig, AttentionOnly, accuracy, exact_divergence
from .memo_model import full_divergence, next_token_loss
from .batched import linear_decay, stacked_forward, train_models
from .recipes import Recipe, Trained, register

__all__ = ["SweepConfig", "make_law", "law_data", "law_evaluator", "run_sweep"]

STUDY = "memorization"


def make_law(kind: str, N: int, seed: int, supports: Sequence[int] = (), p: float = 0.95):
    """The laws of the study, rebuilt from a seed: ``table`` (uniform prior, deterministic ``t3``),
    ``power`` (α = 0.9, 0.9, 0.6 on full supports) or ``noisy`` (``last_position_law``)."""
    g = torch.Generator().manual_seed(seed)
    if kind == "table":
        return mem.power_unif_law((1, 1, 1), (*(supports or (N, N)), 1), N, g)
    if kind == "power":
        return mem.power_unif_law((0.9, 0.9, 0.6), (N, N, N), N, g)
    if kind == "noisy":
        return mem.last_position_law(N, 0, p, g)
    raise ValueError(f"unknown law kind {kind!r}; use 'table', 'power' or 'noisy'")


def law_data(laws: Sequence[mem.TrigramLaw], batch: int, seed: int, per_model: bool, pool_batches: int = 0):
    """``data(step)`` for :func:`train_models`: samples of each law, a pure function of the step.

    With ``pool_batches = 0`` every step draws fresh sequences (online sampling). With
    ``pool_batches = n > 0`` one fixed sample of ``n × batch`` sequences is drawn once and served in
    epochs of ``n`` batches, reshuffled every epoch: the paper's protocol (a ``TensorDataset`` of
    2^6 × 2^8 sequences behind a shuffling ``DataLoader``).

    With ``per_model`` each model has its own law (tensors get a leading ``model`` axis);
    otherwise ``laws`` holds one law shared by every model. The laws must share their prior.
    """
    if pool_batches < 0:
        raise ValueError(f"pool_batches={pool_batches}: use 0 (fresh samples every step) or a positive pool size")
    prior = laws[0].prior.flatten()
    if any(not torch.equal(l.prior.flatten(), prior) for l in laws):
        raise ValueError("law_data batches laws with one shared prior π(t1, t2); these priors differ")
    N = laws[0].d_vocab
    cdf = torch.stack([l.pi2.flatten(0, 1) for l in laws]).cumsum(-1).float()   # law context y
    rows = torch.stack([l.pi2.flatten(0, 1) for l in laws]).float()

    def draw(g: torch.Generator, n: int) -> tuple[Tensor, Tensor]:
        # One draw of contexts and uniforms serves every law: t3 by inverse CDF, one op for all laws.
        return torch.multinomial(prior, n, replacement=True, generator=g), torch.rand(n, 1, generator=g)

    if pool_batches:
        pool_z, pool_u = draw(torch.Generator().manual_seed(seed * 1_000_003 - 1), pool_batches * batch)

    def data(step: int):
        if pool_batches:
            epoch, k = divmod(step, pool_batches)
            order = torch.randperm(len(pool_z), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
            z, u = pool_z[order[k * batch:(k + 1) * batch]], pool_u[order[k * batch:(k + 1) * batch]]
        else:
            z, u = draw(torch.Generator().manual_seed(seed * 1_000_003 + step), batch)
        t3 = (cdf[:, z] < u).sum(-1).clamp(max=N - 1)                            # law batch
        tokens = torch.stack([(z // N).expand_as(t3), (z % N).expand_as(t3), t3], dim=-1)
        out = {"tokens": tokens, "target": rows[:, z]}
        return out if per_model else {k: v[0] for k, v in out.items()}

    return data


def make_loss(kind: str, entropy: float):
    """``next_token`` (sampled cross-entropy) or ``full_divergence``, both minus ``H̄``, with batch accuracy."""
    def loss_fn(model_fn, batch):
        tokens = batch["tokens"]
        logits = model_fn(tokens[:, :2])
        if kind == "next_token":
            loss = next_token_loss(logits, tokens[:, 2], entropy)
        elif kind == "full_divergence":
            loss = full_divergence(logits, batch["target"], entropy)
        else:
            raise ValueError(f"unknown loss {kind!r}; use 'next_token' or 'full_divergence'")
        return loss, {"batch_acc": (logits.argmax(-1) == tokens[:, 2]).float().mean()}
    return loss_fn


def law_evaluator(base, laws: Sequence[mem.TrigramLaw]):
    """``evaluate(params, buffers) -> {"kl", "accuracy"}`` per model, exact over every context."""
    ctx = [mem.contexts(l) for l in laws]
    tokens = ctx[0][0]
    if any(not torch.equal(c[0], tokens) for c in ctx):
        raise ValueError("the laws have different context supports; evaluate them separately")
    weight = torch.stack([c[1] for c in ctx])
    target = torch.stack([c[2] for c in ctx])

    def evaluate(params, buffers):
        device = next(iter(params.values())).device
        logits = stacked_forward(base, params, buffers, tokens.to(device)).cpu()
        if len(laws) == 1:
            w, t = weight.expand(len(logits), -1), target.expand(len(logits), -1, -1)
        else:
            w, t = weight, target
        return {"kl": torch.stack([exact_divergence(l, a, b) for l, a, b in zip(logits, w, t)]).float(),
                "accuracy": torch.stack([accuracy(l, a, b) for l, a, b in zip(logits, w, t)]).float()}
    return evaluate


def adam(lr: float):
    return lambda ps: torch.optim.Adam(ps, lr=lr)


def aot_models(cfg: AoTConfig, seeds: Sequence[int], n_heads: Sequence[int] | None = None,
               d_head: Sequence[int] | None = None) -> list[AttentionOnly]:
    models = []
    for i, s in enumerate(seeds):
        torch.manual_seed(s)
        m = AttentionOnly(cfg)
        m.set_active(n_heads[i] if n_heads else None, d_head[i] if d_head else None)
        models.append(m)
    return models


def half(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v.detach().to(torch.float16) if v.is_floating_point() else v for k, v in tensors.items()}


# --- scaling sweeps -------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepConfig:
    """A grid of ``(d, d_h, H)`` triples on look-up tables with ``T0 = N²`` (paper §5)."""

    name: str
    grid: tuple[tuple[int, int, int], ...]   # (d_model, d_head, n_heads)
    N: int = 50
    seeds: int = 3
    steps: int = 4096        # the paper: 64 epochs x 64 batches
    batch: int = 256         # the paper's code (App. B says 2^10; the code uses 2^8)
    lr: float = 1e-2         # linear decay 1e-2 -> 5e-4, as the paper's code (not the 0.1 of App. B)
    lr_end: float = 5e-4
    pool_batches: int = 64   # one fixed sample of 64 batches, reshuffled each epoch (the paper's code); 0: online
    speedup_steps: int = 0   # >0: also time this many steps batched vs one model at a time
    seed: int = 0

    def __post_init__(self):
        if not self.grid or any(min(t) < 1 for t in self.grid):
            raise ValueError(f"grid={self.grid}: give (d_model, d_head, n_heads) triples of positive sizes")
        if self.seeds < 1 or self.steps < 1 or self.batch < 1 or self.pool_batches < 0:
            raise ValueError("seeds, steps and batch must be positive and pool_batches ≥ 0")


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
        arch = AoTConfig(d_vocab=cfg.N, d_model=d, d_head=max(cfg.grid[i][1] for i in points),
                         n_heads=max(cfg.grid[i][2] for i in points))
        jobs = [(i, j) for i in points for j in range(cfg.seeds)]
        models = aot_models(arch, [1000 * i + seeds[j] for i, j in jobs],
                            n_heads=[cfg.grid[i][2] for i, _ in jobs], d_head=[cfg.grid[i][1] for i, _ in jobs])
        job_laws = [laws[j] for _, j in jobs]
        data = law_data(job_laws, cfg.batch, cfg.seed, True, cfg.pool_batches)
        result = train_models(models, make_loss("next_token", 0.0), data,
                              cfg.steps, adam(cfg.lr), schedule=linear_decay(cfg.steps, 1.0, cfg.lr_end / cfg.lr),
                              data_in_dims=0, progress=progress, desc=f"{cfg.name} d={d}", device=device)
        final = law_evaluator(models[0], job_laws)(result.params, result.buffers)  # on the CPU
        paper = paper_accuracy(result.history["batch_acc"])
        for k, (i, j) in enumerate(jobs):
            acc[i, j], kl[i, j], train_acc[i, j] = final["accuracy"][k], final["kl"][k], paper[k]
        seconds[str(d)] = round(result.seconds, 2)
    spread = (lambda x: x.std(1).tolist()) if cfg.seeds > 1 else (lambda x: [0.0] * len(cfg.grid))  # noqa: E731
    metrics = {"grid": [list(t) for t in cfg.grid], "accuracy_mean": acc.mean(1).tolist(), "accuracy_std": spread(acc),
               "train_accuracy_mean": train_acc.mean(1).tolist(), "train_accuracy_std": spread(train_acc),
               "train_seconds_by_width": seconds, "T0": cfg.N**2, "models": len(cfg.grid) * cfg.seeds}
    if cfg.speedup_steps:
        metrics.update(measure_speedup(cfg, progress, device))
    tensors = {"accuracy": acc, "kl": kl, "train_accuracy": train_acc, "grid": torch.tensor(cfg.grid)}
    return Trained(tensors, metrics, key_metric=("mean accuracy at the largest H", float(acc[-1].mean())))


def paper_accuracy(batch_acc: Float[Tensor, "model step"]) -> Float[Tensor, "model"]:
    """The paper's reported accuracy: the mean training-batch accuracy over the 100 steps before the
    last (``sum(Acc[-101:-1]) / 100`` in its code), measured before each step's update."""
    if batch_acc.shape[-1] < 101:
        raise ValueError(f"{batch_acc.shape[-1]} steps recorded: the paper's metric averages steps -101 … -2, "
                         f"train for at least 101 steps")
    return batch_acc[..., -101:-1].mean(-1)


def measure_speedup(cfg: SweepConfig, progress, device: torch.device | str = "cpu") -> dict[str, float]:
    """Seconds per step for the sweep's first width trained batched vs one model at a time, same data."""
    d = cfg.grid[0][0]
    points = [t for t in cfg.grid if t[0] == d]
    arch = AoTConfig(d_vocab=cfg.N, d_model=d, d_head=max(t[1] for t in points), n_heads=max(t[2] for t in points))
    jobs = [(t, s) for t in points for s in range(cfg.seeds)]
    law = make_law("table", cfg.N, 10_000)
    out = {}
    for batched in (True, False):
        models = aot_models(arch, [s for _, s in jobs], [t[2] for t, _ in jobs], [t[1] for t, _ in jobs])
        r = train_models(models, make_loss("next_token", 0.0), law_data([law], cfg.batch, 1, False),
                         cfg.speedup_steps, adam(cfg.lr), batched=batched, progress=progress, desc="speed-up",
                         device=device)
        out["batched" if batched else "sequential"] = r.seconds / cfg.speedup_steps
    return {"speedup_models": len(jobs), "speedup_steps": cfg.speedup_steps,
            "seconds_per_step_batched": out["batched"], "seconds_per_step_sequential": out["sequential"],
            "speedup": out["sequential"] / out["batched"]}


# The reduced grids trained on the 2-core CPU: the paper's 4096 steps (64 epochs of a fixed sample of
# 64 batches), fewer grid points and seeds.
HEADS = SweepConfig("heads", tuple((10, 10, h) for h in (1, 6, 11, 16, 21)), speedup_steps=50)
D_HEAD = SweepConfig("d_head", tuple((10, dh, 20) for dh in (2, 6, 10)), seed=100)
WIDTH = SweepConfig("width", tuple((d, 10, 20) for d in (5, 10, 15)), seed=200)
SMALL = SweepConfig("small", tuple((2, 2, h) for h in (1, 5, 9, 13, 17, 21)), N=10, seeds=5, speedup_steps=50,
                    seed=300)


def full_grid() -> list[SweepConfig]:
    """The paper's grids (Exp 1, 2, 3, 6) with 5 seeds, for a GPU run."""
    return [replace(HEADS, grid=tuple((10, 10, h) for h in range(1, 32, 5)), seeds=5),
            replace(D_HEAD, grid=tuple((10, dh, 20) for dh in range(1, 11)), seeds=5),
            replace(WIDTH, grid=tuple((d, 10, 20) for d in range(5, 21)), seeds=5),
            replace(SMALL, seeds=20)]


SWEEP_VERSION = 2   # 2: the paper's 4096 steps on a fixed reshuffled sample, and its training-batch metric

for _cfg in (HEADS, D_HEAD, WIDTH, SMALL):
    _seconds = {"heads": 780, "d_head": 260, "width": 270, "small": 350}[_cfg.name]  # 2-core CPU, shared
    register(Recipe(name=f"memo-scaling-{_cfg.name.replace('_', '')}", study=STUDY, config=_cfg, fit=run_sweep,
                    version=SWEEP_VERSION, seconds={"cpu": _seconds},
                    description=f"accuracy of 1-layer attention-only models on look-up tables, sweep over {_cfg.name}"))


def main(argv: list[str] | None = None) -> int:
    """``python -m interplib.memo_study --full [--device cuda]``: the paper's full grids, saved as
    ``memo-full-<sweep>`` artifacts (not recipes, so ``--all`` never starts them on a CPU)."""
    import argparse
    import dataclasses
    import datetime as dt

    from . import artifacts, recipes

    parser = argparse.ArgumentParser(prog="python -m interplib.memo_study")
    parser.add_argument("--full", action="store_true", help="train the full grids of the paper")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if not args.full:
        parser.error("pass --full (the reduced grids are recipes: python -m interplib.train memo-scaling-heads)")
    device = recipes.resolve_device(args.device)
    for cfg in full_grid():
        recipes.seed_everything(cfg.seed)
        start = time.perf_counter()
        out = run_sweep(cfg, device, lambda it=None, **kw: it)
        name = f"memo-full-{cfg.name.replace('_', '')}"
        meta = {"config": dataclasses.asdict(cfg), "recipe_version": SWEEP_VERSION, "metrics": out.metrics,
                "device": recipes.describe_device(device), "wall_time_s": round(time.perf_counter() - start, 3),
                "code_version": recipes.code_version(), "versions": recipes.versions(),
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "key_metric": {"name": out.key_metric[0], "value": float(out.key_metric[1])}}
        artifacts.save(STUDY, name, out.tensors, meta)
        print(f"{name}: {meta['wall_time_s']:.0f} s, {out.key_metric[0]} = {out.key_metric[1]:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
