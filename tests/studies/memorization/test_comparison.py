"""Frames and figures that set our grids beside the paper's."""

import math

import pytest
import torch

from interplib.studies.memorization.comparison import (
    dynamics_figure,
    grid_frame,
    markdown_table,
    variant_figure,
)


def test_grid_frame_means_and_standard_errors_by_hand():
    grid = torch.tensor([[10, 2, 20, 0], [10, 6, 20, 0]])
    acc = torch.tensor([[0.1, 0.3], [0.5, 0.9]], dtype=torch.float64)
    metric = acc + 0.05
    f = grid_frame(grid, acc, metric, 1, {6: 0.357})
    assert f["x"].tolist() == [2, 6]
    assert f["exact"].tolist() == pytest.approx([0.2, 0.7])
    # sem = std / sqrt(n), std unbiased: |a - b| / sqrt(2) for two values
    assert f["exact sem"].tolist() == pytest.approx(
        [0.2 / math.sqrt(2) / math.sqrt(2), 0.4 / 2]
    )
    assert f["metric"].tolist() == pytest.approx([0.25, 0.75])
    assert math.isnan(f["paper"][0]) and f["paper"][1] == 0.357
    with pytest.raises(ValueError, match="point seed"):
        grid_frame(grid, acc, metric[:1], 1)


def test_variant_figure_draws_two_lines_per_variant_and_the_paper():
    grid = torch.tensor([[10, 2, 20, 0], [10, 6, 20, 0]])
    f = grid_frame(grid, torch.rand(2, 3), torch.rand(2, 3), 1)
    fig = variant_figure({"a": f, "b": f}, {2: 0.1, 6: 0.3}, "d_h", "t")
    assert len(fig.data) == 5
    assert [t.name for t in fig.data][-1].startswith("Dana")


def test_dynamics_figure_has_one_legend_entry_per_variant_and_decade_ticks():
    curves = {"a": torch.rand(3, 4) + 0.1, "b": torch.rand(3, 4) + 0.1}
    fig = dynamics_figure(
        curves, [0, 1, 2, 3], "t", "kl", log_y=True, hline=(1.0, "random")
    )
    assert sum(bool(t.showlegend) for t in fig.data) == 2 and len(fig.data) == 6
    assert fig.layout.yaxis.dtick == 1
    # the label sits at the line, in log10 units on a log axis
    assert fig.layout.annotations[0].y == pytest.approx(0.0)


def test_markdown_table_rounds_and_marks_missing_values():
    import pandas as pd

    f = pd.DataFrame(
        {"a": [0.12345, float("nan")], "n": [3, 4]}, index=pd.Index([1, 2], name="H")
    )
    assert markdown_table(f).splitlines() == [
        "| H | a | n |",
        "|---:|---:|---:|",
        "| 1 | 0.123 | 3 |",
        "| 2 | – | 4 |",
    ]
