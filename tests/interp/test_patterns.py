"""The induction probe [BOS, r, r] and the stripes and losses read from it, against loops and
against a model's own patterns and loss."""

import itertools
import math

import numpy as np
import pytest
import torch
from builders import attn_only_bridge as model
from builders import brute_forward
from builders import random_tokens as tokens

from interplib.interp.patterns import (
    check_repeat,
    current_token_scores,
    current_token_stripe,
    induction_scores,
    induction_stripe,
    occurred_before,
    per_token_loss,
    previous_token_scores,
    previous_token_stripe,
    repeat_loss,
    repeat_losses,
    repeated_random_tokens,
    standard_error,
)


def test_repeated_random_tokens_start_with_bos_and_draw_no_special_id():
    g = torch.Generator().manual_seed(0)
    toks = repeated_random_tokens(12, 50, 40, g, bos=1, specials=range(4))
    assert toks.shape == (40, 101) and (toks[:, 0] == 1).all()
    assert torch.equal(toks[:, 1:51], toks[:, 51:])
    r = toks[:, 1:]
    assert (r >= 4).all() and (r < 12).all()
    # every ordinary id is drawn, uniformly enough to see all eight
    assert set(r.unique().tolist()) == set(range(4, 12))
    plain = repeated_random_tokens(40, 7, 5, torch.Generator().manual_seed(0), bos=None)
    assert plain.shape == (5, 14) and torch.equal(plain[:, :7], plain[:, 7:])


def test_repeated_random_tokens_never_draw_bos_even_when_not_special():
    toks = repeated_random_tokens(3, 20, 10, torch.Generator().manual_seed(0), bos=2)
    assert (toks[:, 1:] != 2).all() and (toks[:, 0] == 2).all()


@pytest.mark.parametrize(
    "bos, specials, message",
    [(7, (), "ids must lie in 0..4"), (0, range(1, 5), "no id of 0..4 is left")],
)
def test_repeated_random_tokens_name_bad_ids(bos, specials, message):
    with pytest.raises(ValueError, match=message):
        repeated_random_tokens(5, 3, 2, torch.Generator(), bos=bos, specials=specials)


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
    toks = repeated_random_tokens(40, 6, 3, g, bos=1)
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


def test_previous_token_and_induction_scores_read_the_right_stripes():
    m = model(None)
    # [BOS, r, r], T = 13
    rt = repeated_random_tokens(40, 6, 4, torch.Generator().manual_seed(0), bos=1)
    _, cache = m.run_with_cache(rt)
    prev, ind = previous_token_scores(m, rt), induction_scores(m, rt, 6)
    current = current_token_scores(m, rt)
    for layer, head in itertools.product(range(2), range(3)):
        A = cache[f"blocks.{layer}.attn.hook_pattern"][:, head]
        assert current[layer, head] == pytest.approx(
            float(torch.stack([A[:, i, i] for i in range(13)]).mean())
        )
        assert prev[layer, head] == pytest.approx(
            float(torch.stack([A[:, i, i - 1] for i in range(1, 13)]).mean())
        )
        # second copy: query 7 + k holds r_k, its earlier copy sits at 1 + k, the token after it
        # at 2 + k
        stripe = torch.stack([A[:, 7 + k, 2 + k] for k in range(6)])
        assert ind[layer, head] == pytest.approx(float(stripe.mean()))


def test_repeat_losses_split_the_per_token_loss_by_copy():
    m = model("LNPre")
    rt = repeated_random_tokens(40, 6, 4, torch.Generator().manual_seed(1), bos=1)
    logits, _ = brute_forward(m, rt)
    loss = -logits.log_softmax(-1)[:, :-1].gather(-1, rt[:, 1:, None])[..., 0]
    torch.testing.assert_close(per_token_loss(m, rt), loss)
    rl = repeat_losses(m, rt, 6)
    # targets: first copy at positions 2..6, repeat at 8..12 (first token of each copy left out)
    assert rl.first == pytest.approx(float(loss[:, 1:6].mean()))
    assert rl.repeated == pytest.approx(float(loss[:, 7:12].mean()))


def test_repeat_scores_refuse_tokens_that_do_not_repeat():
    m = model(None)
    with pytest.raises(
        ValueError, match="do not end in two copies.*repeated_random_tokens"
    ):
        induction_scores(m, tokens(), 5)
    with pytest.raises(ValueError, match="at least 2\\*period"):
        repeat_losses(m, tokens(pos=8), 5)


def test_bad_tokens_get_errors_that_name_the_fix():
    m = model(None)
    with pytest.raises(ValueError, match="but the model's n_ctx"):
        previous_token_scores(m, tokens(pos=25))
    with pytest.raises(ValueError, match="outside the vocabulary 0..39"):
        per_token_loss(m, tokens() + 40)


def test_occurred_before_matches_a_loop():
    toks = tokens(batch=4, pos=20, d_vocab=6)
    seen = occurred_before(toks)
    for b, i in itertools.product(range(4), range(20)):
        assert bool(seen[b, i]) == (int(toks[b, i]) in toks[b, :i].tolist())
    assert not seen[:, 0].any()
    with pytest.raises(ValueError, match=r"need \[batch, pos\]"):
        occurred_before(toks[0])


def test_current_token_stripe_is_the_mean_diagonal():
    A = random_patterns()
    brute = torch.stack([A[..., i, i] for i in range(A.shape[-1])], -1).mean((1, 3))
    torch.testing.assert_close(current_token_stripe(A), brute)


@pytest.mark.parametrize(
    "stripe",
    [
        previous_token_stripe,
        current_token_stripe,
        lambda A, by_sequence=False: induction_stripe(A, 4, by_sequence),
    ],
)
def test_scores_by_sequence_average_to_the_pooled_score(stripe):
    A = random_patterns(batch=5)
    per = stripe(A, by_sequence=True)
    assert per.shape == (2, 5, 4)
    torch.testing.assert_close(per.mean(1), stripe(A))


def test_standard_error_and_the_repeat_loss_errors_match_numpy():
    x = torch.tensor([1.0, 2.0, 4.0, 7.0])
    assert standard_error(x) == pytest.approx(np.std(x.numpy(), ddof=1) / 2)
    with pytest.raises(ValueError, match="at least 2"):
        standard_error(torch.ones(1))
    loss = torch.randn(
        6, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    rl = repeat_loss(loss, 6)
    assert rl.first_se == pytest.approx(standard_error(loss[:, 1:6].mean(1)))
    assert rl.repeated_se == pytest.approx(standard_error(loss[:, 7:12].mean(1)))
    assert math.isnan(repeat_loss(loss[:1], 6).first_se)
