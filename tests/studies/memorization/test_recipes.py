"""The memorization study's recipes: the reduced grids and the experiments are committed CPU
runs; the paper's full grids are GPU runs kept out of the repository."""

from interplib.core import recipes
from interplib.studies.memorization import analysis
from interplib.studies.memorization import recipes as memo
from interplib.studies.memorization.sweeps import (
    D_HEAD,
    HEADS,
    SMALL,
    SWEEP_VERSION,
    WIDTH,
    full_grid,
    run_sweep,
)


def study() -> dict[str, recipes.Recipe]:
    return {n: r for n, r in recipes.recipes().items() if r.study == memo.STUDY}


def test_each_sweep_is_registered_reduced_on_the_cpu_and_full_for_a_gpu():
    table = study()
    for reduced, full in zip((HEADS, D_HEAD, WIDTH, SMALL), full_grid()):
        short = reduced.name.replace("_", "")
        cpu, gpu = table[f"memo-scaling-{short}"], table[f"memo-full-{short}"]
        assert cpu.config is reduced and gpu.config == full
        assert cpu.fit is gpu.fit is run_sweep
        assert cpu.version == gpu.version == SWEEP_VERSION
        assert cpu.committed and not cpu.gpu and cpu.seconds["cpu"] > 0
        assert gpu.gpu and not gpu.committed
        assert len(full.grid) >= len(reduced.grid) and full.seeds >= reduced.seeds


def test_the_experiments_are_committed_and_only_memo_inspect_loads_a_model():
    table = study()
    experiments = {
        "memo-dynamics",
        "memo-freezing",
        "memo-skips",
        "memo-inspect",
        "memo-subspace",
    }
    assert experiments <= set(table)
    assert set(table) - experiments == {
        f"memo-{kind}-{c.name.replace('_', '')}"
        for kind in ("scaling", "full")
        for c in (HEADS, D_HEAD, WIDTH, SMALL)
    }
    for name in experiments:
        recipe = table[name]
        assert recipe.committed and not recipe.gpu and recipe.seconds["cpu"] > 0
        expected = analysis.model_from_artifact if name == "memo-inspect" else None
        assert recipe.loader is expected, name
