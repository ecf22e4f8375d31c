"""Exp 5's attention-versus-MLP pairs: layout, parameter counts and the lead by hand."""

import math

import pytest
import torch

from interplib.studies.memorization.attention_vs_mlp import (
    budget_at,
    budget_figure,
    budget_pairs,
    budget_ratio_draws,
    budget_table,
    mlp_parameters,
    permutation_p,
    schedule_control,
    t_quantile,
)
from interplib.studies.memorization.grids import paper_grids
from interplib.studies.memorization.model import AoTConfig, AttentionOnly


def test_the_papers_exp5_grids_are_7_pairs_per_width():
    grids = paper_grids()
    for d in (7, 10, 13):
        grid = torch.tensor(grids[f"memo-grid-exp5-d{d}"].grid)
        pairs = budget_pairs(grid)
        assert [p[:2] for p in pairs] == [(d, h) for h in range(1, 32, 5)]
        assert pairs[0][2:] == (0, 1)
    with pytest.raises(ValueError, match="need"):
        budget_pairs(grid.flip(0))


@pytest.mark.parametrize("d, H", [(7, 1), (7, 6), (10, 31)])
def test_mlp_parameters_count_the_models_that_train(d, H):
    def used(cfg):  # at d = d_h the paper code's shared maps are switched off
        model = AttentionOnly(cfg)
        skip = {"W_C", "W_D"}
        return sum(p.numel() for n, p in model.named_parameters() if n not in skip)

    att = AoTConfig(d_vocab=70, d_model=d, d_head=d, n_heads=H, compress=True)
    w = 2 * d * (H - 1)
    mlp = AoTConfig(d_vocab=70, d_model=d, d_head=d, n_heads=1, d_mlp=w, compress=True)
    assert mlp_parameters(d, H, 70) == (used(att), used(mlp))
    # the heads the MLP replaces weigh exactly its weights: the gap is its biases
    assert used(mlp) - used(att) == (w + d if w else 0)


def test_budget_table_lead_and_its_standard_error_by_hand():
    grid = torch.tensor([(7, 7, 6, 0), (7, 7, 1, 70)])
    metric = torch.tensor([[0.10, 0.20], [0.30, 0.50]], dtype=torch.float64)
    pub = {7: {"att": {6: 0.098}, "mlp": {6: 0.122}}}
    t = budget_table(grid, metric - 0.05, metric, pub, 70)
    row = t.loc[(7, 6)]
    assert row["attention"] == pytest.approx(0.15) and row["MLP"] == pytest.approx(0.4)
    # sem of two values = |a - b| / 2; the lead's se adds them in quadrature
    se = math.hypot(0.05, 0.1)
    assert row["lead"] == pytest.approx(0.25) and row["lead sem"] == pytest.approx(se)
    assert row["z"] == pytest.approx(0.25 / se)
    assert row["paper lead"] == pytest.approx(0.024) and row["MLP extra"] == 77
    with pytest.raises(ValueError, match="two or more seeds"):
        budget_table(grid, metric[:, :1], metric[:, :1], pub, 70)


def test_budget_figure_has_one_panel_per_width():
    grid = torch.tensor([(7, 7, 6, 0), (7, 7, 1, 70), (10, 10, 6, 0), (10, 10, 1, 100)])
    metric = torch.rand(4, 3)
    pub = {d: {"att": {6: 0.1}, "mlp": {6: 0.2}} for d in (7, 10)}
    fig = budget_figure(budget_table(grid, metric, metric, pub, 70), "t")
    assert len(fig.data) == 8 and fig.layout.xaxis2.title.text == "parameters"


def test_schedule_control_pairs_the_mlp_runs_by_seed():
    grid = torch.tensor([(7, 7, 1, 0), (7, 7, 1, 0), (7, 7, 6, 0), (7, 7, 1, 70)])
    metric = torch.tensor(
        [[0.1, 0.2, 0.3], [0.1, 0.3, 0.2], [0.2, 0.2, 0.5], [0.5, 0.8, 0.8]],
        dtype=torch.float64,
    )
    partner = torch.tensor([[0.1, 0.3, 0.2], [0.4, 0.6, 0.5]], dtype=torch.float64)
    t = schedule_control(grid, metric, partner)
    row = t.loc[(7, 6)]
    assert row["MLP, one schedule"] == pytest.approx(0.5)
    assert row["one-schedule lead"] == pytest.approx(0.5 - 0.3)
    sd = lambda *v: float(torch.tensor(v, dtype=torch.float64).std())  # noqa: E731
    se = math.hypot(sd(0.2, 0.2, 0.5), sd(0.4, 0.6, 0.5)) / 3**0.5
    assert row["one-schedule lead sem"] == pytest.approx(se)
    # paired by seed: the differences 0.1, 0.2, 0.3 have mean 0.2 and sd 0.1
    assert row["schedule effect"] == pytest.approx(0.2)
    assert row["schedule effect sem"] == pytest.approx(0.1 / 3**0.5)
    assert row["schedule z"] == pytest.approx(0.2 / (0.1 / 3**0.5))
    h1 = t.loc[(7, 1)]  # the partner ran again unchanged: no effect, z = 0
    assert h1["schedule effect"] == 0 and h1["schedule z"] == 0
    with pytest.raises(ValueError, match="two or more seeds"):
        schedule_control(grid, metric[:, :1], partner[:, :1])
    with pytest.raises(ValueError, match="pair seed"):
        schedule_control(grid, metric, metric)


def test_budget_figure_adds_the_one_schedule_mlp_dashed():
    grid = torch.tensor([(7, 7, 6, 0), (7, 7, 1, 70)])
    metric = torch.rand(2, 3)
    pub = {7: {"att": {6: 0.1}, "mlp": {6: 0.2}}}
    table = budget_table(grid, metric, metric, pub, 70)
    fig = budget_figure(table, "t", schedule_control(grid, metric, metric[1:] + 0.01))
    assert len(fig.data) == 5 and fig.data[-1].line.dash == "dash"


def test_permutation_p_by_hand():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    # complete separation: 2 of the 252 splits (this one and its mirror) are as extreme
    assert permutation_p(a, a + 10) == pytest.approx(2 / 252)
    assert permutation_p(a, a.flip(0)) == 1.0  # the same values: every split as far
    # 2 against 2: splits {1,2}|{3,4} and its mirror reach |3.5 - 1.5| = 2 out of 6
    assert permutation_p(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])) == (
        pytest.approx(2 / 6)
    )
    with pytest.raises(ValueError, match="1 to 20"):
        permutation_p(torch.zeros(11), torch.zeros(10))


@pytest.mark.parametrize(
    "q, df, expected",
    [(0.975, 4, 2.7764451), (0.975, 1, 12.7062047), (0.95, 10, 1.8124611)],
)
def test_t_quantile_matches_the_tables(q, df, expected):
    assert t_quantile(q, df) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="0.5 < q < 1"):
        t_quantile(0.3, df)


def test_schedule_control_interval_is_the_t_interval():
    grid = torch.tensor([(7, 7, 6, 0), (7, 7, 1, 70)])
    metric = torch.tensor([[0.2, 0.2, 0.5], [0.5, 0.8, 0.8]], dtype=torch.float64)
    partner = torch.tensor([[0.4, 0.6, 0.5]], dtype=torch.float64)
    row = schedule_control(grid, metric, partner).loc[(7, 6)]
    half = 4.3026527 * 0.1 / 3**0.5  # t(0.975, 2) x sd 0.1 / sqrt(3)
    assert row["schedule low"] == pytest.approx(0.2 - half, abs=1e-6)
    assert row["schedule high"] == pytest.approx(0.2 + half, abs=1e-6)
    t = budget_table(grid, metric, metric, {7: {"att": {6: 0}, "mlp": {6: 0}}}, 70)
    assert t.loc[(7, 6), "p"] == pytest.approx(permutation_p(metric[0], metric[1]))


def test_budget_at_inverts_a_line_and_takes_the_first_crossing():
    x = torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64)
    line = 0.1 * x  # reaches 0.3 at x = 3, between the 2nd and the 3rd point
    assert math.isclose(budget_at(x, line, 0.3), 3.0)
    assert math.isclose(budget_at(x, line, 0.4), 4.0)  # on a point
    # the first crossing of 0.5, not the last
    bumpy = torch.tensor([0.0, 0.6, 0.2, 0.9], dtype=torch.float64)
    assert math.isclose(budget_at(x, bumpy, 0.5), 1 + 0.5 / 0.6)
    assert math.isnan(budget_at(x, line, 0.95))


def test_budget_at_rejects_curves_it_cannot_read():
    x = torch.tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="starts at"):
        budget_at(x, torch.tensor([0.5, 0.6, 0.7]), 0.5)
    with pytest.raises(ValueError, match="increase"):
        budget_at(torch.tensor([1.0, 3.0, 2.0]), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="same length"):
        budget_at(x, torch.zeros(2), 0.5)


def test_budget_ratio_draws_match_every_resample_of_two_seeds():
    """Two seeds resampled as a unit: the index sets {0, 0}, {0, 1}, {1, 1} with
    chances 1/4, 1/2, 1/4, each giving the ratio of its mean curves' budgets."""
    x = torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    ya = torch.sort(torch.rand(4, 2, generator=gen, dtype=torch.float64), dim=0).values
    yb = torch.sort(torch.rand(4, 2, generator=gen, dtype=torch.float64), dim=0).values
    ya[0], yb[0], ya[-1], yb[-1] = 0.0, 0.0, 1.0, 1.0  # every curve crosses 0.5
    x2 = 1.5 * x
    brute = {
        pick: budget_at(x, ya[:, list(pick)].mean(1), 0.5)
        / budget_at(x2, yb[:, list(pick)].mean(1), 0.5)
        for pick in ((0, 0), (0, 1), (1, 1))
    }
    draws = budget_ratio_draws((x, x2), (ya, yb), 0.5, draws=4000, seed=1)
    share = {
        pick: float(
            torch.isclose(draws, torch.tensor(r, dtype=torch.float64)).double().mean()
        )
        for pick, r in brute.items()
    }
    assert math.isclose(sum(share.values()), 1.0)
    for pick, chance in zip(brute, (0.25, 0.5, 0.25)):
        assert abs(share[pick] - chance) < 0.03
    # the same seed, the same draws; identical seeds: every draw is the point ratio
    assert torch.equal(draws, budget_ratio_draws((x, x2), (ya, yb), 0.5, 4000, seed=1))
    flat = budget_ratio_draws(
        (x, x2), (ya[:, :1].repeat(1, 3), yb[:, :1].repeat(1, 3)), 0.5, draws=50
    )
    assert torch.allclose(flat, torch.tensor(brute[0, 0], dtype=torch.float64))


def test_budget_ratio_draws_reject_mismatched_shapes():
    x, y = torch.arange(1.0, 5.0), torch.rand(4, 3)
    with pytest.raises(ValueError, match="one shape"):
        budget_ratio_draws((x, x), (y, y[:, :2]), 0.5)
    with pytest.raises(ValueError, match="budget per point"):
        budget_ratio_draws((x, x[:3]), (y, y), 0.5)
    with pytest.raises(ValueError, match="2 or more seeds"):
        budget_ratio_draws((x, x), (y[:, :1], y[:, :1]), 0.5)
