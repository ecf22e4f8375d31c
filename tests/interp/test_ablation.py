"""Head ablation against a brute-force forward pass with the heads' outputs replaced."""

import itertools

import pytest
import torch
from builders import attn_only_bridge as model
from builders import brute_forward
from builders import random_tokens as tokens

from interplib.interp.ablation import (
    ablated_logits,
    ablated_loss,
    ablated_repeat_losses,
    single_head_ablations,
)
from interplib.interp.patterns import per_token_loss, repeated_random_tokens


def brute_ablated(m, toks, heads, kind):
    """brute_forward with the named heads' z set to 0 or to their mean over batch and positions."""
    zs = {}
    brute_forward(m, toks, zs=zs)
    replace = {lh: (0.0 if kind == "zero" else zs[lh].mean((0, 1))) for lh in heads}
    return brute_forward(m, toks, replace_z=replace)[0]


@pytest.mark.parametrize("kind", ["zero", "mean"])
def test_ablation_replaces_the_heads_output(kind):
    m, toks = model("LN"), tokens()
    heads = [(0, 1), (1, 2)]
    torch.testing.assert_close(
        ablated_logits(m, toks, heads, kind), brute_ablated(m, toks, heads, kind)
    )
    torch.testing.assert_close(ablated_logits(m, toks, [], kind), m(toks).detach())


def test_zero_ablating_every_head_leaves_embedding_and_output_biases():
    m, toks = model(None), tokens()
    every = list(itertools.product(range(2), range(3)))
    resid = m.W_E[toks] + m.W_pos[: toks.shape[1]] + m.b_O.sum(0)
    torch.testing.assert_close(
        ablated_logits(m, toks, every, "zero"), (resid @ m.W_U).detach()
    )


def test_single_head_ablations_score_the_repeated_half():
    m = model(None)
    rt = repeated_random_tokens(40, 6, 4, torch.Generator().manual_seed(0), bos=1)
    for kind in ("zero", "mean"):
        table = single_head_ablations(m, rt, 6, kind)
        assert table.shape == (2, 3)
        for layer, head in [(0, 2), (1, 0)]:
            alone = ablated_repeat_losses(m, rt, 6, [(layer, head)], kind).repeated
            assert table[layer, head] == pytest.approx(alone, rel=1e-6)


@pytest.mark.parametrize("kind", ["zero", "mean"])
def test_ablated_loss_is_the_cross_entropy_of_the_brute_force_ablation(kind):
    m, toks = model("LN"), tokens()
    heads = [(0, 1), (1, 2)]
    logits = brute_ablated(m, toks, heads, kind)
    nll = -logits.log_softmax(-1)[:, :-1].gather(-1, toks[:, 1:, None])[..., 0]
    assert ablated_loss(m, toks, heads, kind) == pytest.approx(float(nll.mean()))
    clean = float(per_token_loss(m, toks).mean())
    assert ablated_loss(m, toks, [], kind) == pytest.approx(clean)


def test_bad_heads_and_kinds_get_errors_that_name_the_fix():
    m = model(None)
    with pytest.raises(ValueError, match="layer=-1 is out of range"):
        ablated_logits(m, tokens(), [(-1, 0)])
    with pytest.raises(ValueError, match="use 'zero' or 'mean'"):
        ablated_logits(m, tokens(), [(0, 0)], "resample")
