import math

import pytest
import torch

from interplib.interp import clockpizza

P = 7


def clock_logits(p: int, w: float) -> torch.Tensor:
    a, b, c = torch.meshgrid(
        *(torch.arange(p, dtype=torch.float64),) * 3, indexing="ij"
    )
    return torch.cos(w * (a + b - c))


def test_correct_logits_pick_the_answer_of_every_pair():
    logits = torch.randn(P, P, P, dtype=torch.float64)
    got = clockpizza.correct_logits(logits)
    for a in range(P):
        for b in range(P):
            assert got[a, b] == logits[a, b, (a + b) % P]
    with pytest.raises(ValueError, match=r"\[p, p, p\]"):
        clockpizza.correct_logits(torch.zeros(P, P, P + 1))


def test_distance_irrelevance_against_a_loop_over_distances():
    grid = torch.randn(P, P, dtype=torch.float64)
    spreads = []
    for d in range(P):
        values = torch.stack(
            [grid[a, b] for a in range(P) for b in range(P) if (a - b) % P == d]
        )
        spreads.append(values.std(unbiased=False))
    expected = torch.stack(spreads).mean() / grid.std(unbiased=False)
    assert clockpizza.distance_irrelevance(grid) == pytest.approx(
        expected.item(), rel=1e-12
    )


def test_distance_irrelevance_separates_pizza_from_additive_logits():
    a, b = torch.meshgrid(
        torch.arange(P, dtype=torch.float64),
        torch.arange(P, dtype=torch.float64),
        indexing="ij",
    )
    w = 2 * math.pi * 2 / P
    pizza = torch.cos(w * (a - b) / 2).abs()
    assert clockpizza.distance_irrelevance(pizza) == pytest.approx(0.0, abs=1e-12)
    g = torch.Generator().manual_seed(0)
    additive = torch.randn(P, 1, generator=g, dtype=torch.float64) + torch.randn(
        1, P, generator=g, dtype=torch.float64
    )
    assert clockpizza.distance_irrelevance(additive) > 0.7
    with pytest.raises(ValueError, match="0/0"):
        clockpizza.distance_irrelevance(clockpizza.correct_logits(clock_logits(P, w)))


def test_gradient_symmetricity_of_a_clock_is_cos_w_a_minus_b():
    w = 2 * math.pi * 3 / P
    a, b = torch.meshgrid(torch.arange(P), torch.arange(P), indexing="ij")
    a, b = a.flatten(), b.flatten()
    wave = lambda n: torch.stack(
        [torch.cos(w * n.double()), torch.sin(w * n.double())], -1
    )  # noqa: E731
    x = torch.stack([wave(a), wave(b)], dim=1)  # [pair pos=2 d=2]
    cs = wave(torch.arange(P))  # [c 2]

    def clock(x):  # cos(w(a + b - c)) for every c
        ca, sa, cb, sb = x[:, 0, 0], x[:, 0, 1], x[:, 1, 0], x[:, 1, 1]
        return torch.outer(ca * cb - sa * sb, cs[:, 0]) + torch.outer(
            sa * cb + ca * sb, cs[:, 1]
        )

    got = clockpizza.gradient_symmetricity(clock, x, (a + b) % P)
    torch.testing.assert_close(
        got, torch.cos(w * (a - b).double()), rtol=1e-10, atol=1e-10
    )


def test_gradient_symmetricity_of_a_pizza_is_one():
    g = torch.Generator().manual_seed(1)
    W, U = (
        torch.randn(4, 16, generator=g, dtype=torch.float64),
        torch.randn(16, P, generator=g, dtype=torch.float64),
    )
    x = torch.randn(10, 3, 4, generator=g, dtype=torch.float64)
    got = clockpizza.gradient_symmetricity(
        lambda x: torch.relu((x[:, 0] + x[:, 1]) @ W) @ U, x, torch.arange(10) % P
    )
    torch.testing.assert_close(got, torch.ones(10, dtype=torch.float64))
    with pytest.raises(ValueError, match="one answer per input row"):
        clockpizza.gradient_symmetricity(lambda x: x[:, -1], x, torch.arange(3))


def test_distance_share_against_a_loop_over_classes():
    grid = torch.randn(P, P, dtype=torch.float64)
    values = [[] for _ in range(P)]
    for a in range(P):
        for b in range(P):
            values[(a - b) % P].append(float(grid[a, b]))
    mean = float(grid.mean())
    between = sum((sum(v) / len(v) - mean) ** 2 * len(v) for v in values)
    total = float(((grid - mean) ** 2).sum())
    assert clockpizza.distance_share(grid) == pytest.approx(between / total)
    a = torch.arange(P)
    only_difference = torch.cos(2 * math.pi * ((a[:, None] - a[None, :]) % P) / P)
    only_sum = torch.cos(2 * math.pi * ((a[:, None] + a[None, :]) % P) / P)
    assert clockpizza.distance_share(only_difference) == pytest.approx(1)
    assert clockpizza.distance_share(only_sum) == pytest.approx(0, abs=1e-12)
    with pytest.raises(ValueError, match="no variance"):
        clockpizza.distance_share(torch.ones(P, P))


def test_pizza_fit_is_one_for_the_pizza_form_and_matches_least_squares():
    a = torch.arange(P, dtype=torch.float64)
    d = (a[:, None] - a[None, :]) % P
    pizza = 2.0 * torch.cos(math.pi * 2 * d / P).abs() - 0.5
    assert clockpizza.pizza_fit(pizza, [2]) == pytest.approx(1)
    grid = torch.randn(P, P, dtype=torch.float64)
    X = torch.stack(
        [torch.ones(P * P, dtype=torch.float64)]
        + [torch.cos(math.pi * k * d.flatten() / P).abs() for k in (1, 3)],
        dim=-1,
    )
    coef = torch.linalg.lstsq(X, grid.flatten()[:, None]).solution
    resid = grid.flatten() - (X @ coef).flatten()
    r2 = 1 - resid.pow(2).sum() / (grid - grid.mean()).pow(2).sum()
    assert clockpizza.pizza_fit(grid, [1, 3]) == pytest.approx(float(r2))
    assert clockpizza.pizza_fit(grid, [1, 3]) <= clockpizza.distance_share(grid) + 1e-12
    with pytest.raises(ValueError, match="frequencies in 1..3"):
        clockpizza.pizza_fit(grid, [4])
