import math

import pytest
import torch

from interplib.interp import fourier


@pytest.mark.parametrize("p", [3, 7, 113])
def test_basis_is_orthonormal_and_complete(p):
    B = fourier.fourier_basis(p)
    torch.testing.assert_close(B @ B.T, torch.eye(p, dtype=torch.float64))
    assert len(fourier.component_names(p)) == p


@pytest.mark.parametrize("p", [1, 2, 4, 9, 112, 2.5])
def test_non_prime_or_tiny_modulus_is_refused(p):
    with pytest.raises(ValueError, match="prime"):
        fourier.fourier_basis(p)


def test_basis_rows_are_the_named_waves():
    p, k = 11, 3
    B = fourier.fourier_basis(p)
    x = torch.arange(p, dtype=torch.float64)
    assert fourier.component_names(p)[2 * k] == "cos 3"
    torch.testing.assert_close(
        B[2 * k], torch.cos(2 * math.pi * k * x / p) / math.sqrt(p / 2)
    )
    torch.testing.assert_close(
        B[2 * k - 1], torch.sin(2 * math.pi * k * x / p) / math.sqrt(p / 2)
    )


def test_key_frequencies_of_a_planted_embedding():
    p = 31
    x = torch.arange(p, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    W = torch.stack(
        [
            torch.cos(2 * math.pi * 4 * x / p),
            torch.sin(2 * math.pi * 4 * x / p),
            torch.cos(2 * math.pi * 11 * x / p),
        ],
        dim=1,
    ) + 0.01 * torch.randn(p, 3, generator=g, dtype=torch.float64)
    assert fourier.key_frequencies(W) == [4, 11]
    norms = fourier.frequency_norms(W)
    assert norms.shape == (15,) and norms.argmax().item() == 3


def test_fourier_2d_inverts_with_the_transpose():
    A = torch.randn(4, 7, 7, dtype=torch.float64)
    F = fourier.fourier_2d(A)
    B = fourier.fourier_basis(7)
    torch.testing.assert_close(B.T @ F @ B, A)


def test_neuron_fractions_of_a_pure_frequency_neuron():
    p, k = 13, 5
    x = torch.arange(p, dtype=torch.float64)
    wave = torch.cos(
        2 * math.pi * k * (x[:, None] + x[None, :]) / p
    )  # cos w(a+b) lives in frequency k
    acts = torch.stack([wave + 2.0, torch.randn(p, p, dtype=torch.float64)])
    frac = fourier.neuron_frequency_fractions(acts)
    assert frac.shape == (2, 6)
    torch.testing.assert_close(frac[0, k - 1], torch.tensor(1.0, dtype=torch.float64))
    assert frac[1].max() < 0.6


def test_gini_extremes_and_formula():
    assert abs(float(fourier.gini(torch.ones(10)))) < 1e-6
    assert abs(float(fourier.gini(torch.tensor([0.0, 0, 0, 5]))) - (1 - 1 / 4)) < 1e-6
    c = torch.tensor([3.0, 1.0, 2.0], dtype=torch.float64)
    s = torch.sort(c).values
    brute = 1 - 2 * sum(s[k - 1] / c.sum() * (3 - k + 0.5) / 3 for k in (1, 2, 3))
    torch.testing.assert_close(fourier.gini(c), brute)
    with pytest.raises(ValueError, match="non-negative"):
        fourier.gini(torch.tensor([-1.0, 1.0]))


def clock_logits(p: int, freqs: list[int], alpha: float = 20.0):
    """The idealised clock: logit(a, b, c) = α Σ_k cos w_k(a + b - c)."""
    x = torch.arange(p, dtype=torch.float64)
    total = x[:, None, None] + x[None, :, None] - x[None, None, :]
    logits = sum(alpha * torch.cos(2 * math.pi * k * total / p) for k in freqs)
    labels = (x[:, None] + x[None, :]).long() % p
    return logits, labels


def test_restricted_loss_of_a_clock_model_equals_its_full_loss():
    logits, labels = clock_logits(17, [2, 5])
    full = fourier._loss(logits, labels, None)
    restricted = fourier.restricted_loss(logits, labels, [2, 5])
    assert full < 1e-3
    torch.testing.assert_close(restricted, full, atol=1e-9, rtol=1e-6)


def test_excluded_loss_of_a_clock_model_is_chance():
    p = 17
    logits, labels = clock_logits(p, [2, 5])
    excluded = fourier.excluded_loss(logits, labels, [2, 5])
    torch.testing.assert_close(
        excluded, torch.tensor(math.log(p), dtype=torch.float64), atol=1e-6, rtol=0
    )


def test_restricted_loss_drops_to_chance_with_the_wrong_frequencies():
    p = 17
    logits, labels = clock_logits(p, [2, 5])
    wrong = fourier.restricted_loss(logits, labels, [3])
    torch.testing.assert_close(
        wrong, torch.tensor(math.log(p), dtype=torch.float64), atol=1e-6, rtol=0
    )


def test_cos_sum_fraction_is_one_for_a_clock_and_small_for_noise():
    logits, _ = clock_logits(13, [1, 4])
    assert abs(fourier.cos_sum_fraction(logits, [1, 4]) - 1) < 1e-9
    assert abs(fourier.cos_sum_fraction(logits, [1]) - 0.5) < 1e-9
    noise = torch.randn(
        13, 13, 13, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    assert fourier.cos_sum_fraction(noise, [1, 4]) < 0.05


def test_cos_sum_fraction_matches_explicit_cubes():
    p, g = 11, torch.Generator().manual_seed(3)
    for n_out in (p, 5):  # every answer, and a few of them
        logits = torch.randn(p, p, n_out, generator=g, dtype=torch.float64)
        centred = logits - logits.mean()
        grid = torch.arange(p, dtype=torch.float64)
        total = grid[:, None, None] + grid[None, :, None] - grid[None, None, :n_out]
        brute = 0.0
        for k in (2, 5):
            cube = torch.cos(2 * math.pi * k / p * total)
            brute += float((centred * cube).sum()) ** 2 / float(cube.pow(2).sum())
        assert fourier.cos_sum_fraction(logits, [2, 5]) == pytest.approx(
            brute / float(centred.pow(2).sum()), rel=1e-12
        )


def test_projection_matches_least_squares_brute_force():
    p = 7
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(p, p, 3, generator=g, dtype=torch.float64)
    dirs = fourier.sum_directions(p, [1, 3])
    design = dirs.flatten(1).T  # [(a b) direction]
    coef = torch.linalg.lstsq(design, logits.flatten(0, 1)).solution
    torch.testing.assert_close(
        fourier.project_sum_terms(logits, [1, 3]), (design @ coef).reshape(p, p, 3)
    )
    with pytest.raises(ValueError, match="frequency 4 is out of range"):
        fourier.sum_directions(p, [4])


def test_frequency_share_of_planted_waves_and_of_noise():
    p = 31
    x = torch.arange(p, dtype=torch.float64)
    W = torch.stack(
        [torch.cos(2 * math.pi * 4 * x / p) + 3.0, torch.sin(2 * math.pi * 9 * x / p)],
        dim=1,
    )
    assert fourier.frequency_share(W, [4, 9]) == pytest.approx(1.0)
    assert fourier.frequency_share(W, [4]) == pytest.approx(
        0.5
    )  # equal energy in the two waves
    noise = torch.randn(
        p, 400, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    assert fourier.frequency_share(noise, [1, 2, 3]) == pytest.approx(3 / 15, abs=0.03)
    with pytest.raises(ValueError, match="out of range"):
        fourier.frequency_share(W, [16])


def test_frequency_terms_split_a_planted_neuron_and_sum_to_its_fraction():
    p, k = 13, 4
    x = torch.arange(p, dtype=torch.float64)
    ca, cb = (
        torch.cos(2 * math.pi * k * x / p)[:, None],
        torch.cos(2 * math.pi * k * x / p)[None, :],
    )
    planted = 2 * ca + cb + ca * cb  # a alone, b alone, their product
    noise = torch.randn(
        p, p, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    acts = torch.stack([planted.expand(p, p), noise])
    freqs = torch.tensor([k, 2])
    terms = fourier.frequency_terms(acts, freqs)
    a_only, b_only, product = terms[0].tolist()
    assert a_only / b_only == pytest.approx(
        4.0
    ) and a_only + b_only + product == pytest.approx(1.0)
    # brute force: energy of each planted term over the grid, centred
    energies = [
        (t - t.mean()).pow(2).sum()
        for t in (2 * ca.expand(p, p), cb.expand(p, p), ca * cb)
    ]
    assert product / a_only == pytest.approx(float(energies[2] / energies[0]))
    fractions = fourier.neuron_frequency_fractions(acts)
    torch.testing.assert_close(terms.sum(-1), fractions[torch.arange(2), freqs - 1])
    with pytest.raises(ValueError, match="one frequency"):
        fourier.frequency_terms(acts, torch.tensor([0, 2]))


def test_sum_directions_pad_with_zero_directions_and_refuse_a_narrow_width():
    p = 11
    plain = fourier.sum_directions(p, [2, 5])
    padded = fourier.sum_directions(p, [2, 5], width=7)
    assert padded.shape == (7, p, p)
    torch.testing.assert_close(padded[:4], plain, rtol=0, atol=0)
    assert float(padded[4:].abs().max()) == 0.0
    torch.testing.assert_close(
        fourier.sum_directions(p, [2, 5], width=4), plain, rtol=0, atol=0
    )
    with pytest.raises(ValueError, match="width=3 is less than the 4 directions"):
        fourier.sum_directions(p, [2, 5], width=3)


def stacked_case(p: int = 11):
    """Random logits of three models with key-frequency sets of different sizes, their labels
    and a split."""
    g = torch.Generator().manual_seed(2)
    logits = 4 * torch.randn(3, p, p, p, generator=g, dtype=torch.float64)
    freqs = [[1], [2, 5, 3], [4, 1]]
    x = torch.arange(p)
    labels = (x[:, None] + x[None, :]) % p
    mask = torch.rand(p, p, generator=g) < 0.3
    return logits, freqs, labels, mask


@pytest.mark.parametrize("loss", [fourier.restricted_loss, fourier.excluded_loss])
def test_stacked_directions_give_each_models_own_loss(loss):
    logits, freqs, labels, mask = stacked_case()
    p = logits.shape[-1]
    dirs = torch.stack(
        [fourier.sum_directions(p, f, width=6) for f in freqs]
    )  # [model direction a b]
    cells = mask.flatten().nonzero().flatten()  # the same cells, as indices
    for pick in (None, mask, cells):
        stacked = loss(logits, labels, dirs, pick)
        each = torch.stack(
            [
                loss(L, labels, f, mask if pick is not None else None)
                for L, f in zip(logits, freqs)
            ]
        )
        assert stacked.shape == (3,)
        torch.testing.assert_close(stacked, each, rtol=1e-12, atol=0)
    # each model's own directions matter: the first model's with the second's logits differ
    swapped = loss(logits, labels, dirs[[1, 0, 2]], mask)
    assert not torch.allclose(swapped[:2], loss(logits, labels, dirs, mask)[:2])


def test_loss_over_index_cells_equals_the_boolean_mask_exactly():
    logits, _, labels, mask = stacked_case()
    cells = mask.flatten().nonzero().flatten()
    by_mask = torch.stack([fourier._loss(L, labels, mask) for L in logits])
    assert torch.equal(fourier._loss(logits, labels, cells), by_mask)
    assert torch.equal(fourier._loss(logits, labels, mask), by_mask)
    brute = torch.stack(
        [
            -(L.log_softmax(-1)[mask].gather(-1, labels[mask][:, None])).mean()
            for L in logits
        ]
    )
    torch.testing.assert_close(by_mask, brute, rtol=1e-12, atol=0)


def test_frequency_norms_over_leading_axes_equal_each_matrix():
    p = 13
    W = torch.randn(
        2, 3, p, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    stacked = fourier.frequency_norms(W)
    assert stacked.shape == (2, 3, 6)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(
                stacked[i, j], fourier.frequency_norms(W[i, j]), rtol=1e-12, atol=0
            )
    torch.testing.assert_close(
        fourier.frequency_norms(W, basis=fourier.fourier_basis(p)),
        stacked,
        rtol=0,
        atol=0,
    )
    # brute force for one matrix: the energy of the sin and cos rows of B W
    coeffs = fourier.fourier_basis(p) @ W[1, 2]
    brute = torch.stack(
        [coeffs[2 * k - 1 : 2 * k + 1].pow(2).sum().sqrt() for k in range(1, 7)]
    )
    torch.testing.assert_close(stacked[1, 2], brute)
    with pytest.raises(ValueError, match="pass fourier_basis\\(13\\)"):
        fourier.frequency_norms(W, basis=fourier.fourier_basis(11))


def test_energy_by_frequency_matches_a_loop_over_sine_and_cosine_rows():
    p = 7
    F = torch.randn(
        3, p, p, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    E = fourier.energy_by_frequency(F)
    rows = [[0]] + [[2 * k - 1, 2 * k] for k in range(1, p // 2 + 1)]
    expected = torch.tensor(
        [
            [
                [sum(float(F[m, i, j] ** 2) for i in r for j in c) for c in rows]
                for r in rows
            ]
            for m in range(3)
        ],
        dtype=torch.float64,
    )
    assert E.shape == (3, p // 2 + 1, p // 2 + 1)
    torch.testing.assert_close(E, expected)
    torch.testing.assert_close(E.sum((-2, -1)), F.pow(2).sum((-2, -1)))


def test_energy_by_frequency_refuses_a_non_square_or_even_spectrum():
    with pytest.raises(ValueError, match="square p × p"):
        fourier.energy_by_frequency(torch.zeros(7, 5))
    with pytest.raises(ValueError, match="p odd"):
        fourier.energy_by_frequency(torch.zeros(6, 6))


def test_by_distance_and_sum_moves_every_cell_once():
    p = 7
    values = torch.randn(
        2, p, p, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    out = fourier.by_distance_and_sum(values)
    for a in range(p):
        for b in range(p):
            assert torch.equal(out[:, (a - b) % p, (a + b) % p], values[:, a, b])
    torch.testing.assert_close(
        out.flatten(1).sort().values, values.flatten(1).sort().values
    )


def test_by_distance_and_sum_turns_a_function_of_the_distance_into_rows():
    p = 11
    grid = torch.arange(p)
    pizza = torch.cos(math.pi * ((grid[:, None] - grid[None, :]) % p) / p).double()
    out = fourier.by_distance_and_sum(pizza)
    torch.testing.assert_close(out, out[:, :1].expand(p, p))
    with pytest.raises(ValueError, match="even p"):
        fourier.by_distance_and_sum(torch.zeros(4, 4))
