"""The memorization study's recipes: the sweeps, the experiments and the grids that were
trained on the CPU are committed CPU runs; the other grids are GPU runs."""

from interplib.core import recipes
from interplib.studies.memorization import analysis, grids
from interplib.studies.memorization import recipes as memo
from interplib.studies.memorization.sweeps import (
    D_HEAD,
    HEADS,
    SMALL,
    SWEEP_VERSION,
    WIDTH,
    run_sweep,
)

SWEEPS = {
    f"memo-scaling-{c.name.replace('_', '')}": c for c in (HEADS, D_HEAD, WIDTH, SMALL)
}
EXPERIMENTS = {
    "memo-dynamics",
    "memo-dynamics-seed",
    "memo-freezing",
    "memo-skips",
    "memo-inspect",
    "memo-subspace",
}


def study() -> dict[str, recipes.Recipe]:
    return {n: r for n, r in recipes.recipes().items() if r.study == memo.STUDY}


def test_each_sweep_is_a_committed_cpu_run():
    table = study()
    for name, cfg in SWEEPS.items():
        cpu = table[name]
        assert cpu.config is cfg and cpu.fit is run_sweep
        assert cpu.version == SWEEP_VERSION
        assert cpu.committed and not cpu.gpu and cpu.seconds["cpu"] > 0


def test_cpu_grids_are_committed_and_the_others_gpu_runs():
    table = study()
    full = grids.paper_grids()
    assert set(memo.CPU_GRIDS) <= set(full)
    for name, cfg in full.items():
        r = table[name]
        assert r.config == cfg and r.version == grids.GRID_VERSION
        if name in memo.CPU_GRIDS:
            assert r.committed and not r.gpu and r.seconds["cpu"] > 0
        else:
            assert r.gpu and not r.committed
    # Exp 4 and 5 (many sizes) run one stacked run per size bucket, with estimates
    many = [n for n in full if n.startswith(("memo-grid-exp4", "memo-grid-exp5"))]
    assert len(many) == 8  # Exp 4 (two inits); Exp 5 per width, two schedules
    for name in many:
        assert table[name].fit is grids.run_bucketed
        if name not in memo.CPU_GRIDS:
            assert table[name].seconds["cpu"] > table[name].seconds["cuda"] > 0
    assert table["memo-grid-exp1"].fit is grids.run_grid
    assert full["memo-grid-exp6"].seeds == 20 and full["memo-grid-exp1"].seeds == 5


def test_the_experiments_are_committed_and_only_memo_inspect_loads_a_model():
    table = study()
    assert set(table) == EXPERIMENTS | set(SWEEPS) | set(grids.paper_grids())
    for name in EXPERIMENTS:
        recipe = table[name]
        assert recipe.committed and not recipe.gpu and recipe.seconds["cpu"] > 0
        expected = analysis.model_from_artifact if name == "memo-inspect" else None
        assert recipe.loader is expected, name
