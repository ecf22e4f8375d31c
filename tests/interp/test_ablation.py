"""Head ablation against a brute-force forward pass with the heads' outputs replaced."""

import itertools
import math

import pytest
import torch
from builders import attn_only_bridge as model
from builders import brute_forward
from builders import random_tokens as tokens

from interplib.interp.ablation import (
    PATH_SIDES,
    ablated_logits,
    ablated_loss,
    ablated_repeat_losses,
    path_ablated_logits,
    path_ablation_effects,
    receiver_direct_logits,
    resample_source,
    single_head_ablations,
)
from interplib.interp.patterns import per_token_loss, repeated_random_tokens


def brute_ablated(m, toks, heads, kind):
    """brute_forward with the named heads' z set to 0, to their mean over batch and positions,
    or (resample) to their z at the same position of the next sequence's clean run."""
    zs = {}
    brute_forward(m, toks, zs=zs)
    if kind == "resample":  # the clean run on the other sequences, by hand
        shifted = torch.cat([toks[1:], toks[:1]])
        brute_forward(m, shifted, zs=zs)
    replace = {
        lh: 0.0
        if kind == "zero"
        else zs[lh]
        if kind == "resample"
        else zs[lh].mean((0, 1))
        for lh in heads
    }
    return brute_forward(m, toks, replace_z=replace)[0]


@pytest.mark.parametrize("kind", ["zero", "mean", "resample"])
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
    for kind in ("zero", "mean", "resample"):
        table = single_head_ablations(m, rt, 6, kind)
        assert table.shape == (2, 3)
        for layer, head in [(0, 2), (1, 0)]:
            alone = ablated_repeat_losses(m, rt, 6, [(layer, head)], kind).repeated
            assert table[layer, head] == pytest.approx(alone, rel=1e-6)


@pytest.mark.parametrize("kind", ["zero", "mean", "resample"])
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
    with pytest.raises(ValueError, match="use one of"):
        ablated_logits(m, tokens(), [(0, 0)], "shuffle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 sequences"):
        ablated_logits(m, tokens()[:1], [(0, 0)], "resample")
    with pytest.raises(ValueError, match="same shape"):
        ablated_logits(m, tokens(), [(0, 0)], "resample", reference=tokens()[:, :3])


def test_resample_ablation_with_the_input_itself_as_reference_changes_nothing():
    m, toks = model("LN"), tokens()
    clean = m(toks).detach()
    torch.testing.assert_close(
        ablated_logits(m, toks, [(0, 1), (1, 0)], "resample", reference=toks), clean
    )
    assert torch.equal(resample_source(toks), torch.cat([toks[1:], toks[:1]]))


def brute_path_ablated(
    m, toks, sender, receiver, side, receiver_logits=False, kind="mean"
):
    """A 2-layer forward from the raw weights in which only ``receiver``'s ``side`` reads
    the residual with ``sender``'s z replaced by zero, its mean over batch and positions,
    or (resample) its z at the same position of the next sequence's clean run.

    With ``receiver_logits``: the logits the receiver's output alone writes through the
    final LayerNorm (the clean run's scale, no LN bias) and the unembedding."""
    sd, cfg, T = m.state_dict(), m.cfg, toks.shape[1]
    zs = {}
    brute_forward(m, toks, zs=zs)

    def ln(x, prefix):
        if cfg.normalization_type is None:
            return x
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.pow(2).mean(-1, keepdim=True) + cfg.eps).sqrt()
        if cfg.normalization_type == "LN":
            x = x * sd[f"{prefix}.weight"] + sd[f"{prefix}.bias"]
        return x

    def block_out(l, z, h):  # [batch pos d_model] written by head h's z
        sl = slice(h * cfg.d_head, (h + 1) * cfg.d_head)
        return z @ sd[f"blocks.{l}.attn.o.weight"][:, sl].T

    x0 = sd["embed.weight"][toks] + sd["pos_embed.weight"][:T]
    x1 = x0 + sd["blocks.0.attn.o.bias"]
    x1 = x1 + sum(block_out(0, zs[(0, h)], h) for h in range(cfg.n_heads))
    hs = sender[1]
    other: dict = {}
    brute_forward(m, torch.cat([toks[1:], toks[:1]]), zs=other)
    new_z = {
        "zero": torch.zeros_like(zs[(0, hs)]),
        "mean": zs[(0, hs)].mean((0, 1)),
        "resample": other[(0, hs)],
    }[kind]
    changed = x1 + block_out(0, new_z - zs[(0, hs)], hs)
    clean_in, changed_in = ln(x1, "blocks.1.ln1"), ln(changed, "blocks.1.ln1")

    def head(h, ablate):
        sl = slice(h * cfg.d_head, (h + 1) * cfg.d_head)
        q, k, v = (
            (changed_in if (ablate and n == side) else clean_in)
            @ sd[f"blocks.1.attn.{n}.weight"][sl].T
            + sd[f"blocks.1.attn.{n}.bias"][sl]
            for n in "qkv"
        )
        s = q @ k.transpose(-1, -2) / math.sqrt(cfg.d_head)
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        return block_out(1, s.softmax(-1) @ v, h)

    base = x1 + sd["blocks.1.attn.o.bias"]
    clean = base + sum(head(h, False) for h in range(cfg.n_heads))
    out = base + sum(head(h, h == receiver[1]) for h in range(cfg.n_heads))
    if receiver_logits:
        mine = head(receiver[1], side is not None)
        if cfg.normalization_type is not None:
            centred = clean - clean.mean(-1, keepdim=True)
            sigma = (centred.pow(2).mean(-1, keepdim=True) + cfg.eps).sqrt()
            mine = (mine - mine.mean(-1, keepdim=True)) / sigma
            if cfg.normalization_type == "LN":
                mine = mine * sd["ln_final.weight"]
        return mine @ sd["unembed.weight"].T
    return ln(out, "ln_final") @ sd["unembed.weight"].T + sd["unembed.bias"]


@pytest.mark.parametrize("kind", ["zero", "mean", "resample"])
@pytest.mark.parametrize("norm", [None, "LNPre", "LN"])
@pytest.mark.parametrize("side", PATH_SIDES)
def test_path_ablation_changes_one_input_of_one_head(norm, side, kind):
    m, toks = model(norm), tokens()
    got = path_ablated_logits(m, toks, (0, 1), (1, 2), side, kind)
    want = brute_path_ablated(m, toks, (0, 1), (1, 2), side, kind=kind)
    torch.testing.assert_close(got, want)
    assert not torch.allclose(got, m(toks).detach())


def test_path_resample_with_the_input_itself_as_reference_changes_nothing():
    m, toks = model("LN"), tokens()
    got = path_ablated_logits(m, toks, (0, 1), (1, 2), "k", "resample", reference=toks)
    torch.testing.assert_close(got, m(toks).detach())


def brute_lift(logits, rt):
    at = logits[:, 7:12]  # positions 7..11 predict tokens 8..12 (2..6 of the repeat)
    return (at.gather(-1, rt[:, 8:, None])[..., 0] - at.mean(-1)).mean().item()


@pytest.mark.parametrize("kind", ["zero", "mean", "resample"])
@pytest.mark.parametrize("norm", [None, "LN"])
def test_path_ablation_effects_are_the_receivers_logit_after_each_path_ablation(
    norm, kind
):
    m = model(norm)
    rt = repeated_random_tokens(40, 6, 4, torch.Generator().manual_seed(0), bos=1)
    table = path_ablation_effects(m, rt, 6, [(0, 0), (0, 2)], [(1, 1)], kind)
    assert table.shape == (3, 2, 1)
    for i, side in enumerate(PATH_SIDES):
        mine = brute_path_ablated(
            m, rt, (0, 2), (1, 1), side, receiver_logits=True, kind=kind
        )
        assert table[i, 1, 0] == pytest.approx(brute_lift(mine, rt), rel=1e-6)
    clean = receiver_direct_logits(m, rt, 6, [(1, 1), (1, 0)])
    for k, r in enumerate([(1, 1), (1, 0)]):
        mine = brute_path_ablated(m, rt, (0, 2), r, None, receiver_logits=True)
        assert clean[k] == pytest.approx(brute_lift(mine, rt), rel=1e-6)


@pytest.mark.parametrize(
    "sender, receiver, side, message",
    [
        ((0, 1), (1, 2), "o", "use one of"),
        ((1, 1), (1, 2), "q", "earlier layer"),
        ((0, 5), (1, 2), "q", "head"),
    ],
)
def test_path_ablation_names_bad_requests(sender, receiver, side, message):
    with pytest.raises(ValueError, match=message):
        path_ablated_logits(model(None), tokens(), sender, receiver, side)


def test_path_ablation_names_bad_kinds_and_references():
    m = model(None)
    with pytest.raises(ValueError, match="use one of"):
        path_ablated_logits(m, tokens(), (0, 1), (1, 2), "q", "shuffle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 sequences"):
        path_ablated_logits(m, tokens()[:1], (0, 1), (1, 2), "q", "resample")
    with pytest.raises(ValueError, match="same shape"):
        path_ablated_logits(
            m, tokens(), (0, 1), (1, 2), "q", "resample", reference=tokens()[:, :3]
        )
