"""The memorization study's recipes: the reduced grids and the experiments are committed CPU
runs; the paper's full grids are GPU runs kept out of the repository."""

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


def test_the_paper_grids_are_gpu_runs_and_the_reduced_ones_cpu_runs():
    table = study()
    full, reduced = grids.paper_grids(), grids.reduced_grids()
    for name, cfg in full.items():
        assert (
            table[name].gpu and not table[name].committed and table[name].config == cfg
        )
    for name in reduced:
        r = table[name]
        assert (
            r.committed
            and not r.gpu
            and r.seconds["cpu"] > 0
            and r.fit is grids.run_grid
        )
    # the reduced grids are the full Exp 2 and part of Exp 3, with fewer seeds
    assert reduced["memo-papercode-dhead"].grid == full["memo-grid-exp2"].grid
    assert set(reduced["memo-papercode-width"].grid) <= set(full["memo-grid-exp3"].grid)
    assert full["memo-grid-exp6"].seeds == 20 and full["memo-grid-exp1"].seeds == 5


def test_the_experiments_are_committed_and_only_memo_inspect_loads_a_model():
    table = study()
    assert set(table) == EXPERIMENTS | set(SWEEPS) | set(grids.paper_grids()) | set(
        grids.reduced_grids()
    )
    for name in EXPERIMENTS:
        recipe = table[name]
        assert recipe.committed and not recipe.gpu and recipe.seconds["cpu"] > 0
        expected = analysis.model_from_artifact if name == "memo-inspect" else None
        assert recipe.loader is expected, name
