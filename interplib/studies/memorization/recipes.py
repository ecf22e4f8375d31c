"""The memorization study's recipes: the scaling sweeps and the smaller experiments.

* ``memo-scaling-{heads,dhead,width,small}``: the reduced grids, trained on the CPU;
* ``memo-papercode-{dhead,width}``: Exp 2 and 3 reduced, with the paper code's architecture and
  protocol, as one stacked run each (:mod:`interplib.studies.memorization.grids`), CPU;
* ``memo-grid-*``: the paper's Exp 1-6 grids in full, stacked, for a GPU run (not committed);
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
    paper_grids,
    reduced_grids,
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

__all__ = ["STUDY", "smoke_sweep", "smoke_experiment", "smoke_grid"]

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
    return replace(
        cfg,
        grid=(cfg.grid[0], cfg.grid[-1]),
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


# measured wall time on the shared 2-core CPU, seconds
_SWEEP_SECONDS = {"heads": 290, "d_head": 170, "width": 225, "small": 290}

for _cfg in (HEADS, D_HEAD, WIDTH, SMALL):
    register(
        Recipe(
            name=f"memo-scaling-{_cfg.name.replace('_', '')}",
            study=STUDY,
            config=_cfg,
            fit=run_sweep,
            smoke=smoke_sweep,
            version=SWEEP_VERSION,
            seconds={"cpu": _SWEEP_SECONDS[_cfg.name]},
            description="accuracy of 1-layer attention-only models on look-up tables, "
            f"sweep over {_cfg.name}",
        )
    )

# measured wall time on one core of the shared 2-core CPU, seconds
_GRID_SECONDS = {"memo-papercode-dhead": 600, "memo-papercode-width": 700}

for _name, _cfg in reduced_grids().items():
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_cfg,
            fit=run_grid,
            smoke=smoke_grid,
            version=GRID_VERSION,
            seconds={"cpu": _GRID_SECONDS[_name]},
            description=f"{_cfg.name}: {len(_cfg.grid)} points x {_cfg.seeds} seeds, "
            "one stacked run",
        )
    )

for _name, _cfg in paper_grids().items():
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_cfg,
            fit=run_grid,
            smoke=smoke_grid,
            version=GRID_VERSION,
            gpu=True,
            committed=False,
            description=f"{_cfg.name}: {len(_cfg.grid)} points x {_cfg.seeds} seeds, "
            f"{_cfg.protocol} protocol, one stacked run (GPU)",
        )
    )

# (name, config, fit, version, measured seconds on the shared 2-core CPU)
for _name, _cfg, _fit, _version, _sec in (
    ("memo-dynamics", ex.DYNAMICS, ex.fit_dynamics, 2, 55),
    ("memo-freezing", ex.FREEZING, ex.fit_freezing, 1, 75),
    ("memo-skips", ex.SKIPS, ex.fit_skips, 1, 80),
    ("memo-inspect", ex.InspectConfig(), ex.fit_inspect, 1, 85),
    ("memo-subspace", ex.SubspaceConfig(), ex.fit_subspace, 1, 15),
):
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_cfg,
            fit=_fit,
            smoke=smoke_experiment,
            version=_version,
            seconds={"cpu": _sec},
            description=(_fit.__doc__ or _name).split("\n")[0],
            loader=model_from_artifact if _name == "memo-inspect" else None,
        )
    )
