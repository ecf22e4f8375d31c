import pytest
import torch

from interplib.studies.grokking import quantize


def test_binary_weights_take_two_values_plus_minus_mean_abs():
    W = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    Q = quantize.binarize(W)
    beta = W.abs().mean()
    assert set(Q.unique().tolist()) <= {float(beta), float(-beta)}
    torch.testing.assert_close(Q > 0, W - W.mean() >= 0)


def test_binary_sign_of_zero_is_plus():
    W = torch.tensor(
        [1.0, -1.0, 0.0]
    )  # mean 0: the middle entry sits exactly on the threshold
    assert quantize.binarize(W).tolist() == pytest.approx([2 / 3, -2 / 3, 2 / 3])


def test_ternary_weights_take_three_levels():
    W = torch.randn(32, 32, generator=torch.Generator().manual_seed(1))
    Q = quantize.ternarize(W)
    gamma = float(W.abs().mean())
    levels = set(round(v / gamma, 4) for v in Q.unique().tolist())
    assert levels == {-1.0, 0.0, 1.0}
    brute = torch.clamp(torch.round(W / (gamma + quantize.EPS)), -1, 1) * gamma
    torch.testing.assert_close(Q, brute)


@pytest.mark.parametrize("weights", ["binary", "ternary"])
def test_straight_through_estimator_passes_gradients_unchanged(weights):
    W = torch.randn(
        5, 4, requires_grad=True, generator=torch.Generator().manual_seed(2)
    )
    G = torch.randn(5, 4, generator=torch.Generator().manual_seed(3))
    Q = quantize.quantize(W, weights)
    (Q * G).sum().backward()
    torch.testing.assert_close(W.grad, G)
    fn = quantize.binarize if weights == "binary" else quantize.ternarize
    torch.testing.assert_close(Q.detach(), fn(W.detach()))


def test_full_precision_is_the_identity():
    W = torch.randn(3, 3)
    assert quantize.quantize(W, "fp") is W


def test_unknown_scheme_is_named():
    with pytest.raises(ValueError, match="'fp', 'binary' or 'ternary'"):
        quantize.quantize(torch.ones(2), "int4")
    with pytest.raises(ValueError, match="no meaning"):
        quantize.flip_fraction(torch.ones(2), torch.ones(2), "fp")


def test_flip_fraction_counts_changed_levels():
    before = torch.tensor([1.0, 2.0, -1.0, -2.0])
    after = torch.tensor(
        [1.0, -2.0, -1.0, 2.0]
    )  # both centred at 0: two of four signs flip
    assert quantize.flip_fraction(before, after, "binary") == 0.5


@pytest.mark.parametrize("weights", ["binary", "ternary"])
def test_forward_values_are_exactly_the_quantized_levels(weights):
    W = torch.randn(
        64, 64, generator=torch.Generator().manual_seed(4), requires_grad=True
    )
    assert torch.equal(
        quantize.quantize(W, weights).detach(), quantize.quantized(W.detach(), weights)
    )


@pytest.mark.parametrize("weights", ["binary", "ternary"])
def test_stacked_quantization_uses_each_matrix_own_statistics(weights):
    W = (
        torch.randn(3, 5, 4, dtype=torch.float64)
        * torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)[:, None, None]
    )
    W[1] += 0.7  # a matrix whose mean is far from 0
    stacked = quantize.quantized(W, weights, stacked=True)
    for k in range(3):
        assert torch.equal(stacked[k], quantize.quantized(W[k], weights))
