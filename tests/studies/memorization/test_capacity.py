"""Slopes, bits, margins and the W_O-only capacity, against brute force."""

import math

import pytest
import torch

from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.capacity import (
    PUBLISHED,
    encoder_fits,
    logit_margin,
    loss_bits,
    memorized_bits,
    optimal_margin,
    output_only_recall,
    parameter_count,
    saturation_fit,
    winning_directions,
)
from interplib.studies.memorization.model import AoTConfig, AttentionOnly
from interplib.studies.memorization.training import make_law


def test_published_grids_have_the_paper_shape():
    assert len(PUBLISHED["exp1"]) == 11 and all(
        len(r) == 7 for r in PUBLISHED["exp1"].values()
    )
    assert list(PUBLISHED["exp2"]) == list(range(1, 11))
    assert list(PUBLISHED["exp3"]) == list(range(5, 16))
    assert PUBLISHED["exp1"][10][31] == pytest.approx(0.9974)
    assert PUBLISHED["exp6"][21] == pytest.approx(0.8578)


def test_saturation_fit_stops_at_the_first_point_above_the_threshold():
    x, y = [1, 2, 3, 4, 5], [0.1, 0.3, 0.5, 0.97, 1.0]
    slope, used = saturation_fit(x, y)
    assert used == 4
    xs = torch.tensor(x[:4], dtype=torch.float64)
    ys = torch.tensor(y[:4], dtype=torch.float64)
    expected = float(
        ((xs - xs.mean()) * (ys - ys.mean())).sum() / ((xs - xs.mean()) ** 2).sum()
    )
    assert slope == pytest.approx(expected)
    assert saturation_fit(x, [0.1, 0.2, 0.3, 0.4, 0.5])[1] == 5
    with pytest.raises(ValueError, match="saturates"):
        saturation_fit(x, [0.99, 1, 1, 1, 1])


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("d, d_h", [(5, 3), (4, 4), (3, 6)])
def test_parameter_count_counts_the_model(compress, d, d_h):
    m = AttentionOnly(
        AoTConfig(d_vocab=7, d_model=d, d_head=d_h, n_heads=3, compress=compress)
    )
    expected = sum(p.numel() for p in m.parameters())
    if compress and d == d_h:  # the code never uses its compress maps then
        expected -= 2 * d * d_h
    assert parameter_count(d, d_h, 3, 7, compress) == expected


def test_memorized_bits_are_associations_times_log2_N():
    assert memorized_bits(1.0, 2500, 50) == pytest.approx(2500 * math.log2(50))
    assert memorized_bits(1 / 50, 2500, 50) == pytest.approx(0.0, abs=1e-9)
    assert memorized_bits(0.0, 2500, 50) == 0.0  # below chance stores nothing


def test_loss_bits_is_the_code_length_saved_on_the_table():
    # a perfect model saves the whole table; the uniform guess (KL = ln N) saves nothing
    assert loss_bits(0.0, 2500, 50) == pytest.approx(2500 * math.log2(50))
    assert loss_bits(math.log(50), 2500, 50) == pytest.approx(0.0, abs=1e-9)
    assert loss_bits(10.0, 2500, 50) == 0.0  # worse than uniform: nothing
    # brute force: one context per row, the code length of the true token under the model
    logits = torch.randn(40, 7, dtype=torch.float64)
    g = torch.randint(7, (40,))
    nll = -logits.log_softmax(-1)[torch.arange(40), g]
    saved = sum(math.log2(7) - float(v) / math.log(2) for v in nll)
    assert loss_bits(float(nll.mean()), 40, 7) == pytest.approx(max(saved, 0.0))
    with pytest.raises(ValueError):
        loss_bits(-0.1, 10, 5)


def test_logit_margin_by_loops_and_the_optimum_is_reached_by_the_true_law():
    logits = torch.randn(6, 5, dtype=torch.float64)
    correct = torch.randint(5, (6,))
    brute = [
        float(logits[i, c]) - sum(float(logits[i, y]) for y in range(5) if y != c) / 4
        for i, c in enumerate(correct.tolist())
    ]
    torch.testing.assert_close(
        logit_margin(logits, correct), torch.tensor(brute, dtype=torch.float64)
    )
    law = mem.last_position_law(10, 0, 0.95, torch.Generator().manual_seed(0))
    _, _, target = mem.contexts(law)
    m = logit_margin(target.log(), target.argmax(-1))
    torch.testing.assert_close(m, torch.full_like(m, optimal_margin(0.95, 10)))
    with pytest.raises(ValueError, match="0 < p < 1"):
        optimal_margin(1.0, 10)


def test_winning_directions_make_each_reachable_token_the_top_logit():
    torch.manual_seed(0)
    W_U = torch.randn(3, 6, dtype=torch.float64)
    v, margin = winning_directions(W_U)
    top = (v @ W_U).argmax(-1)
    assert bool((top[margin > 0] == torch.arange(6)[margin > 0]).all())
    # a token at the centre of the others can never win
    W = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    _, margin = winning_directions(W)
    assert margin[2] <= 0 < min(float(margin[0]), float(margin[1]))


def test_output_only_recall_stores_a_table_of_h_dh_contexts():
    """T0 = 16 = H·d_h contexts: W_O alone recalls them all on a random model."""
    torch.manual_seed(1)
    m = AttentionOnly(AoTConfig(d_vocab=4, d_model=4, d_head=4, n_heads=4)).double()
    out = output_only_recall(m, make_law("table", 4, 3))
    assert out["rank"] == 16 and out["contexts"] == 16
    assert out["accuracy"] == pytest.approx(out["reachable_share"])


def test_encoder_fits_are_exact_at_full_rank_and_ordered_on_an_almost_rank_law():
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    full = encoder_fits(mem.almost_rank_d_law(5, 4, g), 4, steps=10)  # d = N - 1
    assert full["svd"] < 1e-10 and full["wls"] < 1e-10
    fits = encoder_fits(mem.almost_rank_d_law(6, 2, g), 2, steps=1500)
    assert fits["wls"] <= fits["svd"] and fits["trained"] <= fits["svd"]
    with pytest.raises(ValueError, match="full support"):
        encoder_fits(make_law("table", 4, 0), 2)
