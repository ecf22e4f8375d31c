import math

import pytest
import torch
from builders import tiny_grok_config

from interplib.interp import fourier
from interplib.studies.grokking import controls
from interplib.studies.grokking.model import GrokTransformer
from interplib.studies.grokking.task import dataset

P = 7


def waves(p: int, freqs: list[int], d: int) -> torch.Tensor:
    """A [p, d] matrix whose columns mix the waves of ``freqs`` only."""
    x = torch.arange(p, dtype=torch.float64)
    cols = [f(2 * math.pi * k * x / p) for k in freqs for f in (torch.cos, torch.sin)]
    mix = torch.randn(len(cols), d, dtype=torch.float64)
    return torch.stack(cols, -1) @ mix


def test_random_map_share_keeps_a_pure_spectrum():
    W = waves(P, [2], 5)
    shares = controls.random_map_share(W, [2], d_out=9, draws=3)
    assert shares.shape == (3,)
    torch.testing.assert_close(shares, torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="at least 1"):
        controls.random_map_share(W, [2], d_out=0)


def test_residual_norm_share_against_a_truncated_svd():
    W = torch.randn(9, 6, dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    best = U[:, :2] @ torch.diag(S[:2]) @ Vh[:2]
    want = float((W - best).norm() / W.norm())
    assert controls.residual_norm_share(W, 2) == pytest.approx(want)
    assert controls.residual_norm_share(best, 2) == pytest.approx(0, abs=1e-12)
    with pytest.raises(ValueError, match="rank=7"):
        controls.residual_norm_share(W, 7)


def test_component_frequencies_read_waves():
    torch.manual_seed(0)
    W = 3 * waves(11, [4], 6) + waves(11, [2], 6) * 0.1
    freqs, purity = controls.component_frequencies(W, n=2)
    assert freqs == [4, 4]
    assert bool((purity > 0.99).all())
    with pytest.raises(ValueError, match="components"):
        controls.component_frequencies(W, n=0)


@torch.no_grad()
def reference_ablation(model, freqs, keep):
    """Project each neuron by least squares on the cos/sin w_k(a+b) columns, pair by pair."""
    p = model.unembed.out_features
    tokens, labels = dataset(p)
    x = model.embedded(tokens)
    block = model.blocks[0]
    resid = (x + block.attn(x))[:, -1]
    acts = torch.relu(getattr(block.mlp, "in")(resid))  # [pair neuron]
    a, b = tokens[:, 0].double(), tokens[:, 1].double()
    cols = []
    for k in freqs:
        cols += [torch.cos(2 * math.pi * k * (a + b) / p)]
        cols += [torch.sin(2 * math.pi * k * (a + b) / p)]
    D = torch.stack(cols, -1)
    coef = torch.linalg.lstsq(D, acts).solution
    clock = D @ coef
    new = acts.mean(0) + clock if keep else acts - clock
    logits = model.unembed(resid + block.mlp.out(new))
    return float(torch.nn.functional.cross_entropy(logits, labels))


@pytest.mark.parametrize("weights", ["fp", "ternary"])
@pytest.mark.parametrize("keep", [True, False])
def test_neuron_frequency_ablation_against_least_squares(weights, keep):
    torch.manual_seed(0)
    model = GrokTransformer(tiny_grok_config(weights=weights)).double()
    got = controls.neuron_frequency_ablation(model, {"x": ([1, 3], keep)})["x"]
    assert got["loss"] == pytest.approx(reference_ablation(model, [1, 3], keep))
    assert 0 <= got["accuracy"] <= 1


def test_neuron_frequency_ablation_refuses_a_bad_frequency():
    model = GrokTransformer(tiny_grok_config())
    with pytest.raises(ValueError, match="out of range"):
        controls.neuron_frequency_ablation(model, {"x": ([9], True)})


def test_random_map_share_is_near_the_source_share_for_noise():
    torch.manual_seed(1)
    W = torch.randn(P, 40, dtype=torch.float64)
    want = fourier.frequency_share(W, [1])
    got = controls.random_map_share(W, [1], d_out=2000, draws=2)
    assert float(got.mean()) == pytest.approx(want, rel=0.1)
