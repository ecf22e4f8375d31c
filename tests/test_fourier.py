import math

import pytest
import torch

from interplib import fourier


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
    torch.testing.assert_close(B[2 * k], torch.cos(2 * math.pi * k * x / p) / math.sqrt(p / 2))
    torch.testing.assert_close(B[2 * k - 1], torch.sin(2 * math.pi * k * x / p) / math.sqrt(p / 2))


def test_key_frequencies_of_a_planted_embedding():
    p = 31
    x = torch.arange(p, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    W = torch.stack([torch.cos(2 * math.pi * 4 * x / p), torch.sin(2 * math.pi * 4 * x / p),
                     torch.cos(2 * math.pi * 11 * x / p)], dim=1) + 0.01 * torch.randn(p, 3, generator=g, dtype=torch.float64)
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
    wave = torch.cos(2 * math.pi * k * (x[:, None] + x[None, :]) / p)  # cos w(a+b) lives in frequency k
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
    torch.testing.assert_close(excluded, torch.tensor(math.log(p), dtype=torch.float64), atol=1e-6, rtol=0)


def test_restricted_loss_drops_to_chance_with_the_wrong_frequencies():
    p = 17
    logits, labels = clock_logits(p, [2, 5])
    wrong = fourier.restricted_loss(logits, labels, [3])
    torch.testing.assert_close(wrong, torch.tensor(math.log(p), dtype=torch.float64), atol=1e-6, rtol=0)


def test_cos_sum_fraction_is_one_for_a_clock_and_small_for_noise():
    logits, _ = clock_logits(13, [1, 4])
    assert abs(fourier.cos_sum_fraction(logits, [1, 4]) - 1) < 1e-9
    assert abs(fourier.cos_sum_fraction(logits, [1]) - 0.5) < 1e-9
    noise = torch.randn(13, 13, 13, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert fourier.cos_sum_fraction(noise, [1, 4]) < 0.05


def test_projection_matches_least_squares_brute_force():
    p = 7
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(p, p, 3, generator=g, dtype=torch.float64)
    dirs = fourier.sum_directions(p, [1, 3])
    design = dirs.flatten(1).T  # [(a b) direction]
    coef = torch.linalg.lstsq(design, logits.flatten(0, 1)).solution
    torch.testing.assert_close(fourier.project_sum_terms(logits, [1, 3]), (design @ coef).reshape(p, p, 3))
    with pytest.raises(ValueError, match="frequency 4 is out of range"):
        fourier.sum_directions(p, [4])


def test_frequency_share_of_planted_waves_and_of_noise():
    p = 31
    x = torch.arange(p, dtype=torch.float64)
    W = torch.stack([torch.cos(2 * math.pi * 4 * x / p) + 3.0, torch.sin(2 * math.pi * 9 * x / p)], dim=1)
    assert fourier.frequency_share(W, [4, 9]) == pytest.approx(1.0)
    assert fourier.frequency_share(W, [4]) == pytest.approx(0.5)   # equal energy in the two waves
    noise = torch.randn(p, 400, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert fourier.frequency_share(noise, [1, 2, 3]) == pytest.approx(3 / 15, abs=0.03)
    with pytest.raises(ValueError, match="out of range"):
        fourier.frequency_share(W, [16])


def test_frequency_terms_split_a_planted_neuron_and_sum_to_its_fraction():
    p, k = 13, 4
    x = torch.arange(p, dtype=torch.float64)
    ca, cb = torch.cos(2 * math.pi * k * x / p)[:, None], torch.cos(2 * math.pi * k * x / p)[None, :]
    planted = 2 * ca + cb + ca * cb                         # a alone, b alone, their product
    noise = torch.randn(p, p, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    acts = torch.stack([planted.expand(p, p), noise])
    freqs = torch.tensor([k, 2])
    terms = fourier.frequency_terms(acts, freqs)
    a_only, b_only, product = terms[0].tolist()
    assert a_only / b_only == pytest.approx(4.0) and a_only + b_only + product == pytest.approx(1.0)
    # brute force: energy of each planted term over the grid, centred
    energies = [(t - t.mean()).pow(2).sum() for t in (2 * ca.expand(p, p), cb.expand(p, p), ca * cb)]
    assert product / a_only == pytest.approx(float(energies[2] / energies[0]))
    fractions = fourier.neuron_frequency_fractions(acts)
    torch.testing.assert_close(terms.sum(-1), fractions[torch.arange(2), freqs - 1])
    with pytest.raises(ValueError, match="one frequency"):
        fourier.frequency_terms(acts, torch.tensor([0, 2]))
