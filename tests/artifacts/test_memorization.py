"""The committed memorization grids (trained on the CPU): every point and seed, sane values."""

import pytest
import torch

from interplib.core import recipes
from interplib.studies.memorization.grids import paper_grids
from interplib.studies.memorization.recipes import CPU_GRIDS

pytestmark = pytest.mark.artifacts


@pytest.mark.parametrize("name", sorted(CPU_GRIDS))
def test_cpu_grid_holds_every_point_and_seed(name):
    cfg = paper_grids()[name]
    art = recipes.load(name)
    t = art.tensors
    assert t["grid"].tolist() == [list(p) for p in cfg.grid]
    for key in ("accuracy", "paper_metric", "kl"):
        assert t[key].shape == (len(cfg.grid), cfg.seeds), key
        assert bool(torch.isfinite(t[key]).all()), key
    assert bool(((t["accuracy"] >= 0) & (t["accuracy"] <= 1)).all())
    assert art.metrics["models"] == len(cfg.grid) * cfg.seeds
    assert art.metrics["speedup"] > 0
    # the paper's metric scores the training sample it was drawn from: never far below exact
    assert bool((t["paper_metric"] > t["accuracy"] - 0.05).all())
    assert art.meta["wall_time_s"] == pytest.approx(CPU_GRIDS[name], abs=1)
