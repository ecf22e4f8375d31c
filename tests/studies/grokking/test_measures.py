"""The progress and quantization measures of stacked snapshots."""

import pytest
import torch
from builders import tiny_grok_config as tiny

from interplib.studies.grokking import quantize
from interplib.studies.grokking.measures import (
    measure_grid,
    progress_measures,
    quantization_measures,
)
from interplib.studies.grokking.model import (
    QUANTIZED,
    GrokTransformer,
)
from interplib.studies.grokking.recipes import _concat
from interplib.studies.grokking.task import train_mask


def test_quantization_measures_count_level_changes_per_model():
    cfg = tiny(weights="ternary", seeds=(0, 1))
    models = [GrokTransformer(cfg) for _ in cfg.seeds]
    before = {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
        for n, _ in models[0].named_parameters()
    }
    after = {n: v.clone() for n, v in before.items()}
    W = after["blocks.0.mlp.in.weight"]
    W[1] = -W[1]  # model 1 flips every level of one matrix
    out = quantization_measures(cfg, before, after)
    sizes = {m: before[f"blocks.0.{m}.weight"][0].numel() for m in QUANTIZED}
    nonzero = (
        (quantize.ternarize(W[1]) != 0).double().mean()
    )  # zeros stay zero under negation
    expected = nonzero * sizes["mlp.in"] / sum(sizes.values())
    torch.testing.assert_close(
        out["flip_frac"], torch.tensor([0.0, float(expected)], dtype=torch.float64)
    )
    torch.testing.assert_close(out["beta.mlp.in"], W.abs().flatten(1).mean(-1).double())
    assert "flip_frac" not in quantization_measures(tiny(seeds=(0, 1)), before, after)


def test_progress_measures_of_a_stack_equal_each_snapshot_measured_alone():
    cfg = tiny(p=7, seeds=(0, 1))
    freqs = [[1, 3], [2]]
    snapshots = []
    for shift in range(3):  # three different "snapshots" of two models
        models = []
        for seed in cfg.seeds:
            torch.manual_seed(10 * shift + seed)
            models.append(GrokTransformer(cfg))
        snapshots.append(
            {
                n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
                for n, _ in models[0].named_parameters()
            }
        )
    grid = measure_grid(cfg, freqs, torch.device("cpu"))
    stacked = progress_measures(cfg, _concat(snapshots), grid)
    for s, snap in enumerate(snapshots):
        alone = progress_measures(cfg, snap, freqs)
        for name, value in alone.items():
            torch.testing.assert_close(
                stacked[name][2 * s : 2 * s + 2], value, rtol=1e-6, atol=1e-9, msg=name
            )
    with pytest.raises(ValueError, match="not a multiple of the grid's 2"):
        progress_measures(cfg, {n: v[:3] for n, v in _concat(snapshots).items()}, grid)


def test_measure_grid_splits_the_pairs_and_builds_each_models_directions():
    from interplib.interp import fourier

    cfg = tiny(p=7, frac_train=0.5)
    grid = measure_grid(cfg, [[1], [2, 3]], torch.device("cpu"))
    mask = train_mask(cfg.p, cfg.frac_train, cfg.data_seed)
    assert torch.equal(grid.train, mask.nonzero().flatten()) and torch.equal(
        grid.test, (~mask).nonzero().flatten()
    )
    assert grid.directions.shape == (2, 4, 7, 7) and grid.n_models == 2
    torch.testing.assert_close(
        grid.directions[0], fourier.sum_directions(7, [1], width=4)
    )
    torch.testing.assert_close(grid.directions[1], fourier.sum_directions(7, [2, 3]))
    torch.testing.assert_close(grid.basis, fourier.fourier_basis(7))
