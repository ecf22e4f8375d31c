"""Exp 4's slopes per head against width, on curves whose slopes are known."""

import math

import pytest
import torch

from interplib.studies.memorization.width_scaling import (
    per_parameter,
    per_parameter_figure,
    polynomial_fits,
    power_exponent,
    width_slopes,
)

HEADS = (1, 6, 11, 16)


def curves(widths, coef, power, noise=0.0, seeds=3):
    """Accuracy 0.02 + coef·d^power·H (no saturation) per (d, H), seeds with noise."""
    grid, rows, published = [], [], {}
    gen = torch.Generator().manual_seed(0)
    for d in widths:
        published[d] = {H: 0.02 + coef * d**power * H for H in HEADS}
        for H in HEADS:
            grid.append((d, d, H, 0))
            rows.append(published[d][H] + noise * torch.randn(seeds, generator=gen))
    return torch.tensor(grid), torch.stack(rows).double(), published


def test_width_slopes_recover_known_slopes_and_the_first_step():
    grid, values, pub = curves((3, 5, 8), 1e-3, 2, noise=1e-4)
    frame, fitted, first = width_slopes(grid, values, pub)
    assert frame.index.tolist() == [3, 5, 8] and fitted.shape == first.shape == (3, 3)
    truth = [1e-3 * d**2 for d in (3, 5, 8)]
    assert frame["paper"].tolist() == pytest.approx(truth)
    assert frame["ours"].tolist() == pytest.approx(truth, rel=0.01)
    assert frame["paper first"].tolist() == pytest.approx(truth)
    # the first step by hand: (acc at H = 6 - acc at H = 1) / 5, per seed
    by_hand = (values[1] - values[0]) / 5
    torch.testing.assert_close(first[0], by_hand)
    assert frame["H max"].tolist() == [16, 16, 16]


def test_width_slopes_stop_where_the_paper_saturates():
    grid, values, pub = curves((3,), 1e-3, 2, noise=1e-4)
    pub[3][11] = 0.97  # the paper's curve saturates at H = 11: fit H = 1, 6, 11
    frame, _, _ = width_slopes(grid, values, pub)
    assert frame.loc[3, "H max"] == 11


def test_width_slopes_name_a_missing_head_count():
    grid, values, pub = curves((3,), 1e-3, 2, noise=1e-4)
    with pytest.raises(ValueError, match="first step"):
        width_slopes(grid, values, pub, first=(1, 7))


def test_power_exponent_of_a_known_power_law():
    d = [3, 5, 8, 13]
    noise = torch.tensor([1.0, 1.02, 0.99])
    slopes = torch.tensor([[2e-4 * x**2.5 for x in d]]).T * noise  # [width seed]
    fit = power_exponent(d, slopes)
    assert fit["alpha"] == pytest.approx(2.5) and fit["r2"] == pytest.approx(1.0)
    assert fit["alpha_sem"] < 1e-9  # a constant factor per seed leaves α alone
    one = power_exponent(d, slopes[:, :1])
    assert one["alpha"] == pytest.approx(2.5) and math.isnan(one["alpha_sem"])
    with pytest.raises(ValueError, match="not positive"):
        power_exponent(d, -slopes)


def test_power_exponent_jackknife_by_hand():
    d = [2, 4, 8]
    slopes = torch.tensor([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0], [9.0, 12.0, 20.0]])
    fit = power_exponent(d, slopes)
    logd = torch.tensor(d, dtype=torch.float64).log()

    def alpha(cols):
        y = slopes[:, cols].double().mean(1).log()
        x = logd - logd.mean()
        return float((x * (y - y.mean())).sum() / (x * x).sum())

    loo = torch.tensor([alpha([k for k in range(3) if k != j]) for j in range(3)])
    assert fit["alpha"] == pytest.approx(alpha([0, 1, 2]))
    jack = float((2 / 3 * ((loo - loo.mean()) ** 2).sum()).sqrt())
    assert fit["alpha_sem"] == pytest.approx(jack)
    # one seed's slope may be negative where the means are positive
    slopes[0, 0] = -0.5
    assert power_exponent(d, slopes)["alpha_sem"] > 0


def test_polynomial_fits_prefer_the_true_power():
    d = list(range(3, 14))
    fits = polynomial_fits(d, [1e-3 * x**2 + 0.01 for x in d])
    assert fits.loc[2, "a"] == pytest.approx(1e-3)
    assert fits.loc[2, "b"] == pytest.approx(0.01)
    assert fits.loc[2, "R²"] == pytest.approx(1.0) and fits.loc[3, "R²"] < 0.99
    assert fits.loc[3, "rms"] > fits.loc[2, "rms"]


def test_per_parameter_is_flat_for_a_quadratic_slope():
    d = [3, 5, 8]
    slopes = [0.02 * x**2 for x in d]
    flat = per_parameter(slopes, d, 2500, 50)
    assert flat == pytest.approx([0.02 * 2500 / (1 - 1 / 50) / 4] * 3)


def test_per_parameter_figure_draws_ours_and_the_paper():
    grid, values, pub = curves((3, 5), 1e-3, 2, noise=1e-4)
    frame, _, _ = width_slopes(grid, values, pub)
    fig = per_parameter_figure(frame, 2500, 50, "t")
    assert len(fig.data) == 4 and list(fig.data[0].x) == [3, 5]
