"""interplib.studies.bilinear.interactions: spectra, normalised pairs, eigen-ablation."""

import pytest
import torch
from builders import tiny_bilinear
from torch.testing import assert_close

from interplib.interp import bilinear as bl
from interplib.studies.bilinear.interactions import (
    eigen_ablation,
    normalized_interaction,
    spectrum_stats,
)


def test_spectrum_stats_are_effective_rank_and_energy_share():
    model = tiny_bilinear()
    got = spectrum_stats(model, torch.tensor([2, 5]), layer=1, k=3)
    for row, t in zip(got, (2, 5)):
        S = bl.interaction_form(model, t, 1)
        lam = torch.linalg.eigvalsh(S)
        assert row[0] == pytest.approx(float(lam.abs().sum() ** 2 / lam.pow(2).sum()))
        top = lam.pow(2).sort(descending=True).values
        assert row[1] == pytest.approx(float(top[:3].sum() / top.sum()))


def test_normalized_interaction_divides_by_the_diagonal_geometric_mean():
    Q = torch.tensor([[4.0, 3.0, 1.0], [3.0, -9.0, 0.0], [1.0, 0.0, 0.0]])
    got = normalized_interaction(Q)
    assert got[0, 1] == pytest.approx(3 / 6) and got[1, 1] == pytest.approx(-1.0)
    assert got[0, 2] == 0 and got[2, 2] == 0
    with pytest.raises(ValueError, match="square"):
        normalized_interaction(Q[:2])


def manual_logits(model, tokens, layer, basis):
    """The forward pass written out, the MLP input of ``layer`` projected off ``basis``."""
    x = model.W_E[tokens]
    for i, block in enumerate(model.blocks):
        x = x + block.attn(block.ln1(x))
        h = block.ln2(x)
        if i == layer:
            h = h - h @ basis @ basis.T
        x = x + block.mlp(h)
    return model.ln_final(x) @ model.W_U


def test_eigen_ablation_matches_a_written_out_forward_pass():
    model = bl.process_weights(tiny_bilinear())
    tokens = torch.randint(7, (3, 5), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        top = bl.interaction_eigen(model, 4, 0).eigenvectors[:, :2]
        before = model(tokens)
        delta = manual_logits(model, tokens, 0, top) - before
        got = eigen_ablation(model, 4, 0, tokens, k=2)
        after = model(tokens)
    assert got["Δ target"] == pytest.approx(float(delta[..., 4].mean()))
    assert got["|Δ| target"] == pytest.approx(float(delta[..., 4].abs().mean()))
    others = delta[..., [0, 1, 2, 3, 5, 6]]
    assert got["|Δ| other outputs"] == pytest.approx(float(others.abs().mean()))
    assert got["|Δ| target, random"] > 0
    assert_close(after, before)  # the hook is gone afterwards
    assert "|Δ| target, control's form" not in got
    with torch.no_grad():
        other = bl.interaction_eigen(model, 2, 0).eigenvectors[:, :2]
        moved = manual_logits(model, tokens, 0, other) - before
        controlled = eigen_ablation(model, 4, 0, tokens, k=2, control=2)
    assert controlled["|Δ| target, control's form"] == pytest.approx(
        float(moved[..., 4].abs().mean())
    )
    with pytest.raises(ValueError, match="k=9"):
        eigen_ablation(model, 4, 0, tokens, k=9)
