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


def frame_with(metric, sem, paper):
    import pandas as pd

    return pd.DataFrame(
        {
            "x": list(range(len(metric))),
            "exact": metric,
            "exact sem": sem,
            "metric": metric,
            "metric sem": sem,
            "seeds": 5,
            "paper": paper,
        }
    )


def test_agreement_counts_points_within_two_sem_and_the_sign_test():
    from interplib.studies.memorization.comparison import agreement

    f = frame_with([0.5, 0.5, 0.5, 0.5], [0.01] * 4, [0.51, 0.53, 0.45, float("nan")])
    a = agreement(f)
    assert a["points"] == 3 and a["within_2sem"] == 1 and a["below"] == 2
    assert a["within_pair"] == 1  # |z| = 1, 3, 5 against 2√2 ≈ 2.83
    # two of three below: P(X <= 1) * 2 for X ~ Bin(3, 1/2) = 2 * 4/8 = 1
    assert a["sign_p"] == pytest.approx(1.0)
    assert a["mean_gap"] == pytest.approx((-0.01 - 0.03 + 0.05) / 3)
    assert a["max_abs_z"] == pytest.approx(5.0)
    assert agreement(frame_with([0.1] * 6, [0.01] * 6, [0.2] * 6))[
        "sign_p"
    ] == pytest.approx(2 / 64)
    with pytest.raises(ValueError, match="published"):
        agreement(frame_with([0.1], [0.01], [float("nan")]))
    one_seed = frame_with([0.1], [0.0], [0.2]).assign(seeds=1)
    with pytest.raises(ValueError, match="two or more seeds"):
        agreement(one_seed)
    # seeds that agree exactly (sem 0) put any gap infinitely far
    assert agreement(frame_with([0.1], [0.0], [0.2]))["within_2sem"] == 0


def test_settings_table_has_one_row_per_setting_and_its_z():
    from interplib.studies.memorization.comparison import settings_table

    f = frame_with([0.5, 0.7], [0.01, 0.02], [0.52, float("nan")])
    t = settings_table({("Exp 1", "a"): f, ("Exp 1", "b"): f}, {"Exp 1": "H"})
    assert len(t) == 4 and list(t.index) == ["Exp 1"] * 4
    assert t["setting"].tolist()[:2] == ["H = 0", "H = 1"]
    assert t["paper's metric"].iloc[1] == "0.700 ± 0.020"
    assert t["z"].iloc[0] == pytest.approx(-2.0)
    assert math.isnan(t["z"].iloc[1])
    exact = frame_with([0.5, 0.5], [0.0, 0.0], [0.4, 0.5])
    z = settings_table({("Exp 1", "a"): exact}, {"Exp 1": "H"})["z"].tolist()
    assert z == [math.inf, 0.0]
    with pytest.raises(ValueError, match="symbol"):
        settings_table({("Exp 2", "a"): f}, {"Exp 1": "H"})


def test_matched_slopes_fit_the_papers_points_only():
    from interplib.studies.memorization.comparison import matched_slopes

    x = [1, 6, 11, 16]
    published = {1: 0.1, 6: 0.4, 11: 0.97, 16: 1.0}  # the paper's fit stops at 11
    # seed s has slope 0.05 + 0.01 s over 1..11, and a wild last point
    values = torch.tensor(
        [[0.1 + (0.05 + 0.01 * s) * (h - 1) for s in range(3)] for h in x],
        dtype=torch.float64,
    )
    values[-1] = 5.0
    m = matched_slopes(x, values, published)
    assert m["x_max"] == 11
    assert m["ours"] == pytest.approx(0.06)
    assert m["ours_sem"] == pytest.approx(0.01 / math.sqrt(3))
    slope = torch.linalg.lstsq(
        torch.tensor([[1.0, 1], [6, 1], [11, 1]], dtype=torch.float64),
        torch.tensor([[0.1], [0.4], [0.97]], dtype=torch.float64),
    ).solution[0, 0]
    assert m["paper"] == pytest.approx(float(slope))
    with pytest.raises(ValueError, match="point seed"):
        matched_slopes(x, values[:, :1], published)


def test_spread_figure_draws_every_seed_and_the_published_means():
    from interplib.studies.memorization.comparison import spread_figure

    v = torch.rand(3, 20)
    fig = spread_figure(
        [1, 5, 9], {"exact": v, "metric": v}, {1: 0.3, 9: 0.6}, "H", "t"
    )
    assert [len(t.y) for t in fig.data] == [60, 60, 2]
    with pytest.raises(ValueError, match="rows"):
        spread_figure([1, 5], {"exact": v}, {}, "H", "t")
