"""The induction probe [BOS, r, r] and the stripes and losses read from it, against loops."""

import pytest
import torch

from interplib.interp.patterns import (
    check_repeat,
    induction_stripe,
    previous_token_stripe,
    repeat_loss,
    repeated_random_tokens,
)


def test_repeated_random_tokens_have_bos_and_two_copies():
    toks = repeated_random_tokens(40, 7, 5, torch.Generator().manual_seed(0), bos=0)
    assert toks.shape == (5, 15) and (toks[:, 0] == 0).all() and (toks[:, 1:] > 0).all()
    assert torch.equal(toks[:, 1:8], toks[:, 8:])
    assert repeated_random_tokens(
        40, 7, 5, torch.Generator().manual_seed(0), bos=None
    ).shape == (5, 14)


def test_repeat_loss_splits_the_copies_without_their_first_tokens():
    loss = torch.arange(12.0)[None].repeat(
        2, 1
    )  # [BOS, r, r] with period 6: 12 targets
    rl = repeat_loss(loss, 6)
    assert rl.first == pytest.approx(
        torch.arange(1.0, 6).mean().item()
    )  # targets 2..6 of the first copy
    assert rl.repeated == pytest.approx(
        torch.arange(7.0, 12).mean().item()
    )  # targets 2..6 of the repeat


def test_check_repeat_accepts_the_probe_and_names_the_fix_otherwise():
    g = torch.Generator().manual_seed(1)
    toks = repeated_random_tokens(40, 6, 3, g)
    check_repeat(toks, 6)
    check_repeat(toks[:, 1:], 6)  # without BOS: still two copies at the end
    with pytest.raises(ValueError, match="need period >= 2"):
        check_repeat(toks, 1)
    with pytest.raises(ValueError, match="at least 2\\*period positions"):
        check_repeat(toks, 7)
    broken = toks.clone()
    broken[0, -1] = (broken[0, -1] + 1) % 40
    with pytest.raises(ValueError, match="repeated_random_tokens\\(d_vocab, 6"):
        check_repeat(broken, 6)


def random_patterns(layers=2, batch=3, heads=4, T=9, seed=0):
    """Causal attention patterns: each query's row a softmax over the keys up to it."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(layers, batch, heads, T, T, generator=g, dtype=torch.float64)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    return scores.masked_fill(mask, float("-inf")).softmax(-1)


def test_previous_token_stripe_is_the_mean_weight_on_the_position_before():
    P = random_patterns()
    L, B, H, T, _ = P.shape
    expected = torch.zeros(L, H, dtype=torch.float64)
    for l in range(L):
        for h in range(H):
            weights = [P[l, b, h, i, i - 1] for b in range(B) for i in range(1, T)]
            expected[l, h] = sum(weights) / len(weights)
    torch.testing.assert_close(previous_token_stripe(P), expected)


@pytest.mark.parametrize("period", [2, 4])
def test_induction_stripe_is_the_mean_weight_on_the_token_after_the_last_copy(period):
    P = random_patterns(T=2 * period + 1)
    L, B, H, T, _ = P.shape
    expected = torch.zeros(L, H, dtype=torch.float64)
    for l in range(L):
        for h in range(H):
            # a query in the second copy, at i, looks at i - period + 1: the token that
            # followed its own token in the first copy
            weights = [
                P[l, b, h, i, i - period + 1]
                for b in range(B)
                for i in range(T - period, T)
            ]
            expected[l, h] = sum(weights) / len(weights)
    torch.testing.assert_close(induction_stripe(P, period), expected)


def test_ideal_heads_score_one_on_their_own_stripe_and_little_on_the_other():
    period, T = 5, 11  # [BOS, r, r]
    induction = torch.zeros(1, 1, 1, T, T, dtype=torch.float64)
    previous = torch.zeros_like(induction)
    previous[..., 0, 0] = 1.0
    for i in range(T):
        induction[..., i, i - period + 1 if i >= T - period else 0] = 1.0
        if i:
            previous[..., i, i - 1] = 1.0
    assert induction_stripe(induction, period).item() == 1.0
    assert previous_token_stripe(previous).item() == 1.0
    assert previous_token_stripe(induction).item() < 0.5
