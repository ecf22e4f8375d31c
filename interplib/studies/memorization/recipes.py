"""The memorization study's recipes: the scaling sweeps and the smaller experiments.

* ``memo-scaling-{heads,dhead,width,small}``: the reduced grids, trained on the CPU;
* ``memo-grid-*``: the paper's Exp 1-6 grids in full, stacked
  (:mod:`interplib.studies.memorization.grids`): those in ``CPU_GRIDS`` trained on the CPU
  and committed, the others (Exp 4 and 5 among them, bucketed by size) for a GPU run;
* ``memo-dynamics``, ``memo-freezing``, ``memo-skips``, ``memo-inspect``, ``memo-subspace``:
  the original notebook's cells (:mod:`interplib.studies.memorization.experiments`).

``load_model("memo-inspect", prefix=..., cfg=...)`` rebuilds one of the small models the
chapter opens (:func:`interplib.studies.memorization.analysis.model_from_artifact`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from interplib.core.recipes import Recipe, register
from interplib.studies.memorization import experiments as ex
from interplib.studies.memorization.analysis import model_from_artifact
from interplib.studies.memorization.grids import (
    GRID_VERSION,
    GridConfig,
    PartnerGridConfig,
    paper_grids,
    run_bucketed,
    run_grid,
)
from interplib.studies.memorization.sweeps import (
    D_HEAD,
    HEADS,
    SMALL,
    SWEEP_VERSION,
    WIDTH,
    SweepConfig,
    run_sweep,
)

__all__ = [
    "STUDY",
    "CPU_GRIDS",
    "BUCKET_STEP_SECONDS",
    "EXP5_STEP_SECONDS",
    "EXP5_MLP_SHARE",
    "smoke_sweep",
    "smoke_experiment",
    "smoke_grid",
]

STUDY = "memorization"


def smoke_sweep(cfg: SweepConfig) -> SweepConfig:
    """A sweep's smoke version: two grid points, one seed, 110 steps of 32 sequences (the
    paper's metric averages the last 100)."""
    return replace(
        cfg,
        grid=cfg.grid[:2],
        seeds=1,
        steps=110,
        batch=32,
        pool_batches=2,
        speedup_steps=min(cfg.speedup_steps, 2),
    )


def smoke_grid(cfg: GridConfig) -> GridConfig:
    """A grid's smoke version: its first and last points, two seeds, 110 steps of 32."""
    ends = (0, len(cfg.grid) - 1)
    same_inits = (  # a partner grid keeps its two points' initialisations
        {"init_points": tuple(cfg.init_points[i] for i in ends)}
        if isinstance(cfg, PartnerGridConfig)
        else {}
    )
    return replace(
        cfg,
        **same_inits,
        grid=tuple(cfg.grid[i] for i in ends),
        seeds=2,
        steps=110,
        batch=32,
        pool_batches=2,
        speedup_steps=2,
    )


def _smoke_cell(cfg: ex.CellConfig) -> ex.CellConfig:
    return replace(cfg, seeds=1, steps=100, batch=32)


def smoke_experiment(cfg: Any) -> Any:
    """An experiment's smoke version: one seed, 100 steps (one evaluation interval) of 32."""
    if isinstance(cfg, ex.CellConfig):
        return _smoke_cell(cfg)
    if isinstance(cfg, ex.InspectConfig):
        return replace(
            cfg,
            maps=_smoke_cell(cfg.maps),
            heads=_smoke_cell(cfg.heads),
            superposition=_smoke_cell(cfg.superposition),
        )
    if isinstance(cfg, ex.SubspaceConfig):
        return replace(cfg, ranks=cfg.ranks[:2], reps=1, steps=20)
    raise TypeError(f"no smoke version for a {type(cfg).__name__}")


def _register(name: str, cfg: Any, fit: Any, smoke: Any, version: int, **kw) -> None:
    """One recipe of this study; ``kw``: the rest of :class:`Recipe` (``seconds``, ...)."""
    register(
        Recipe(
            name=name,
            study=STUDY,
            config=cfg,
            fit=fit,
            smoke=smoke,
            version=version,
            **kw,
        )
    )


# measured wall time on the shared 2-core CPU, seconds
_SWEEP_SECONDS = {"heads": 290, "d_head": 170, "width": 225, "small": 290}

for _cfg in (HEADS, D_HEAD, WIDTH, SMALL):
    _register(
        f"memo-scaling-{_cfg.name.replace('_', '')}",
        _cfg,
        run_sweep,
        smoke_sweep,
        SWEEP_VERSION,
        seconds={"cpu": _SWEEP_SECONDS[_cfg.name]},
        description="accuracy of 1-layer attention-only models on look-up tables, "
        f"sweep over {_cfg.name}",
    )

# The grids trained on one core of the shared 2-core CPU (its wall time, seconds, from
# the artifact's sidecar): committed CPU recipes. The others wait for a GPU.
CPU_GRIDS = {
    "memo-grid-exp6": 1219,
    "memo-grid-exp2": 727,
    "memo-grid-exp3": 814,
    "memo-grid-exp1": 678,
    "memo-grid-exp2-perhead": 652,
    "memo-grid-exp3-perhead": 987,
    "memo-grid-exp2-torchinit": 694,
    "memo-grid-exp1-ours": 720,
    "memo-grid-exp2-torchinit-ours": 471,
    "memo-grid-exp2-paperloop": 465,
    "memo-grid-exp1-paperloop": 601,
    "memo-grid-exp3-paperloop": 620,
    "memo-grid-exp6-ours": 556,
    "memo-grid-exp4": 3290,
    "memo-grid-exp6-paperloop": 553,
    "memo-grid-exp2-papertable": 646,
    "memo-grid-exp4-paperloop": 3274,
    "memo-grid-exp5-d7": 3167,  # two worker processes (grids.cpu_workers)
    "memo-grid-exp5-samelr-d7": 1118,  # the same
    "memo-grid-exp1-papertable": 1090,  # beside exp3-papertable on the other core
    "memo-grid-exp3-papertable": 1161,
    "memo-grid-exp6-papertable": 717,
    # two workers; a book build shared the two cores for about 20 of its 97 minutes
    "memo-grid-exp5-d10": 5833,
    "memo-grid-exp5-samelr-d10": 3514,  # two workers; a CI run shared the cores
    # two workers; a book build and a test run shared the cores for about 18 of 125 min
    "memo-grid-exp5-d13": 7478,
    # two workers; a one-core training ran beside them for about 75 of its 92 minutes
    "memo-grid-exp5-samelr-d13": 5534,
}

# Exp 4 and 5 hold many sizes: one stacked run per size bucket on a GPU, per point on the
# CPU (grids.run_buckets). Process CPU seconds per step of the whole grid on one core of the
# shared 2-core CPU (AMD EPYC, one torch thread, another training on the other core), steps
# after a warm-up, 2026-12-05; Exp 4 padded into one run: 5.67 (2026-12-04).
BUCKET_STEP_SECONDS = {"padded": 5.67, "buckets": 2.10, "points": 1.23}  # Exp 4
EXP5_STEP_SECONDS = {7: 0.71, 10: 0.76, 13: 1.00}  # per point, each width's grid
# (the d = 7 run itself, 2026-12-06: 0.385 s, its 14 runs' seconds over its steps, two
# runs side by side on the two cores: the earlier figures are one core beside another job)
# The MLP partners alone (the "samelr" control): 0.127 of d = 7's 0.374 s a step, one core
# of an idle machine, process time, 2026-12-06 (about a third).
EXP5_MLP_SHARE = 0.34
# CPU: the per-point time x steps. CUDA: not measured (no GPU yet); assumed ~5 ms per
# stacked step (launch-bound tiny models) per run: Exp 4 11 runs x 4096 steps; Exp 5 per
# width 3 runs (attention, the MLP partners without an MLP on their own schedule, with an
# MLP) x 16384 steps; the control 2 runs (the partners without and with an MLP).
_GPU_SECONDS = {
    name: {
        "cpu": round(BUCKET_STEP_SECONDS["points"] * 4096, -2),
        "cuda": round(11 * 4096 * 0.005, -1),
    }
    for name in ("memo-grid-exp4", "memo-grid-exp4-paperloop")
}
for _d, _sec in EXP5_STEP_SECONDS.items():
    for _tag, _share, _runs in (("", 1.0, 3), ("-samelr", EXP5_MLP_SHARE, 2)):
        _GPU_SECONDS[f"memo-grid-exp5{_tag}-d{_d}"] = {
            "cpu": round(_sec * _share * 16384, -2),
            "cuda": round(_runs * 16384 * 0.005, -1),
        }

for _name, _cfg in paper_grids().items():
    _on_cpu = _name in CPU_GRIDS
    _register(
        _name,
        _cfg,
        run_bucketed if _name in _GPU_SECONDS else run_grid,
        smoke_grid,
        GRID_VERSION,
        gpu=not _on_cpu,
        committed=_on_cpu,
        seconds={"cpu": CPU_GRIDS[_name]} if _on_cpu else _GPU_SECONDS.get(_name, {}),
        description=f"{_cfg.name}: {len(_cfg.grid)} points x {_cfg.seeds} seeds, "
        f"{_cfg.protocol} protocol, "
        + ("one stacked run (CPU)" if _on_cpu else "stacked runs (GPU)"),
    )

# (name, config, fit, version, measured seconds on the shared 2-core CPU). memo-inspect 2:
# masking the attention weights instead of the activations (a30853e) changes float rounding,
# and its 2-head model ends elsewhere (table KL 0.062 -> 0.037, both 98 % right), found by
# a CPU retrain against the committed artifact (tools/drift.py, 2026-12-06)
for _name, _cfg, _fit, _version, _sec in (
    ("memo-dynamics", ex.DYNAMICS, ex.fit_dynamics, 2, 55),
    ("memo-dynamics-seed", ex.DYNAMICS_SEED, ex.fit_dynamics, 1, 277),
    ("memo-freezing", ex.FREEZING, ex.fit_freezing, 1, 75),
    ("memo-skips", ex.SKIPS, ex.fit_skips, 1, 80),
    ("memo-inspect", ex.InspectConfig(), ex.fit_inspect, 2, 85),
    ("memo-subspace", ex.SubspaceConfig(), ex.fit_subspace, 1, 15),
):
    _register(
        _name,
        _cfg,
        _fit,
        smoke_experiment,
        _version,
        seconds={"cpu": _sec},
        description=(_fit.__doc__ or _name).split("\n")[0],
        loader=model_from_artifact if _name == "memo-inspect" else None,
    )
