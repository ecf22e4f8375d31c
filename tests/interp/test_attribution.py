"""The exact LayerNorm logit split, against brute force and against TransformerLens 4.3.

Models: tiny random GPT-NeoX (d_model 32, 2 layers, 4 heads, vocab 50) with random γ, β
and biases, parallel and sequential blocks, LayerNorm with and without bias, booted
through TransformerBridge in float32 and float64 (``builders.neox_bridge``).
"""

import pytest
import torch
import torch.nn.functional as F
from builders import NEOX_SHAPES as SHAPES
from builders import NEOX_TOKENS as TOKENS
from builders import neox_bridge as tiny_bridge
from builders import neox_tokenizer

from interplib.interp import attribution as A

TOL = {torch.float32: 1e-4, torch.float64: 1e-10}


@pytest.fixture(scope="module")
def tok():
    return neox_tokenizer()


def brute_logit(cache, token, pos):
    """The logit recomputed from the final residual by torch's own LayerNorm and W_U."""
    model = cache.model
    ln = model.ln_final._original_component
    x = cache["ln_final.hook_in"][:, pos]
    out = F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps) @ model.W_U
    b_U = getattr(model, "b_U", None)
    return (out + (b_U if b_U is not None else 0))[:, token]


def test_layer_norm_and_scale_match_torch_and_cache(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    ln = model.ln_final._original_component
    x = cache["ln_final.hook_in"]
    torch.testing.assert_close(
        A.layer_norm(x, ln.weight, ln.bias, ln.eps),
        F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps),
    )
    torch.testing.assert_close(A.ln_scale(x, ln.eps), cache["ln_final.hook_scale"])
    torch.testing.assert_close(
        A.center(x).mean(-1), torch.zeros(x.shape[:-1], dtype=x.dtype)
    )


@pytest.mark.parametrize("parallel, ln_bias, d_model, n_heads", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_terms_sum_to_the_logit(tok, parallel, ln_bias, d_model, n_heads, dtype):
    model = tiny_bridge(tok, parallel, ln_bias, d_model, n_heads, dtype)
    logits, cache = model.run_with_cache(TOKENS)
    t = model.to_single_token("Ireland")
    brute = brute_logit(cache, t, -1)
    torch.testing.assert_close(
        brute, logits[:, -1, t], rtol=TOL[dtype], atol=TOL[dtype]
    )
    for unit in A.UNITS:
        split = A.decompose_logit(cache, " Ireland", pos=-1, unit=unit)
        assert split.rel_error < TOL[dtype], (unit, split.rel_error)
        assert (split.total - brute).abs().max() / brute.abs().max() < TOL[dtype]
        assert split.terms.shape == (len(split.labels), TOKENS.shape[0])
        # the shared divisor is TL's ln_final.hook_scale
        torch.testing.assert_close(split.scale, cache["ln_final.hook_scale"][:, -1, 0])


@pytest.mark.parametrize("unit", A.UNITS)
def test_parts_sum_to_the_final_residual(tok, unit):
    model = tiny_bridge(tok, parallel=True, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    parts, labels = A.residual_parts(cache, unit, pos=2)
    torch.testing.assert_close(
        parts.sum(0), cache["ln_final.hook_in"][:, 2], rtol=1e-12, atol=1e-12
    )
    assert labels[0] == "embed" and len(labels) == parts.shape[0]
    n_parts = {"block": 1 + 2, "component": 1 + 2 * 2, "head": 1 + 2 * (4 + 2)}[unit]
    assert parts.shape == (n_parts, 2, 32)


def test_per_row_positions_and_tokens(tok):
    """A padded batch: one position and one answer per row equals row-by-row splits."""
    model = tiny_bridge(tok, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    pos, ans = torch.tensor([2, 5]), torch.tensor([7, 30])
    split = A.decompose_logit(cache, ans, pos=pos, unit="head")
    for row in range(2):
        one = A.decompose_logit(cache, int(ans[row]), pos=int(pos[row]), unit="head")
        torch.testing.assert_close(split.terms[:, row], one.terms[:, row])
        torch.testing.assert_close(
            split.total[row], brute_logit(cache, int(ans[row]), int(pos[row]))[row]
        )


@pytest.mark.parametrize("unit", ["component", "head"])
def test_by_layer_sums_equal_the_block_split(tok, unit):
    model = tiny_bridge(tok, parallel=False, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    block = A.decompose_logit(cache, 30, unit="block")
    grouped, labels = A.decompose_logit(cache, 30, unit=unit).by_layer()
    assert labels == block.labels == ["embed", "L0", "L1"]
    torch.testing.assert_close(grouped, block.terms)


def test_logit_difference_is_the_difference_of_splits(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    diff = A.decompose_logit(cache, "Ireland", baseline="Dublin")
    a, b = A.decompose_logit(cache, "Ireland"), A.decompose_logit(cache, "Dublin")
    torch.testing.assert_close(diff.terms, a.terms - b.terms)
    torch.testing.assert_close(diff.total, a.logit - b.logit)


def test_head_results_sum_to_attn_out_and_match_transformer_lens(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    tl_heads = cache.stack_head_results(layer=-1)  # [(layer head) batch pos d_model]
    for layer in range(2):
        ours = A.head_results(cache, layer)  # [batch pos head d_model]
        torch.testing.assert_close(
            ours.sum(2) + model.blocks[layer].attn.b_O,
            cache[f"blocks.{layer}.hook_attn_out"],
        )
        torch.testing.assert_close(
            ours.movedim(2, 0), tl_heads[4 * layer : 4 * layer + 4]
        )


@pytest.mark.parametrize("parallel", [True, False])
def test_block_update_equals_attn_plus_mlp_within_rounding(tok, parallel):
    """resid_post − resid_pre = attn_out + mlp_out up to rounding at the *residual's* scale."""
    for dtype in (torch.float32, torch.float64):
        model = tiny_bridge(tok, parallel=parallel, dtype=dtype)
        _, cache = model.run_with_cache(TOKENS)
        for layer in range(2):
            gap, bound, ratio = A.block_residual_gap(cache, layer)
            pre = cache[f"blocks.{layer}.hook_resid_pre"]
            post = cache[f"blocks.{layer}.hook_resid_post"]
            attn = cache[f"blocks.{layer}.hook_attn_out"]
            mlp = cache[f"blocks.{layer}.hook_mlp_out"]
            brute = ((post - pre) - (attn + mlp)).abs()
            at = brute.flatten().argmax()
            bounds = A.residual_rounding_bound(pre, post, attn, mlp).flatten()
            assert (
                gap == brute.max().item()
            )  # the true maximum, not the worst ratio's gap
            assert bound == bounds[at].item()
            assert ratio <= 1, (dtype, layer, gap, bound, ratio)
        if not parallel:  # a sequential block also exposes its midpoint
            torch.testing.assert_close(
                cache["blocks.0.hook_resid_mid"] - cache["blocks.0.hook_resid_pre"],
                cache["blocks.0.hook_attn_out"],
            )
        else:
            assert "blocks.0.hook_resid_mid" not in cache.keys()


def test_logit_without_matches_recomputed_layer_norm(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    parts, _ = A.residual_parts(cache, "component")
    x = cache["ln_final.hook_in"][:, -1]
    u, b = A.readout(model, 30)
    ln = model.ln_final._original_component
    drop = A.logit_without(parts, x, u, b, ln.eps)
    for k in range(parts.shape[0]):
        brute = (
            F.layer_norm(x - parts[k], ln.normalized_shape, ln.weight, ln.bias, ln.eps)
            @ model.W_U[:, 30]
        )
        torch.testing.assert_close(drop[k], brute)


def test_split_is_exact_on_a_float64_compatibility_mode_model(tok):
    """TL processes float64 weights in float32 (so compat ≠ raw beyond ~1e-9), yet the split of the
    processed model's own logits stays exact: the identity holds for whatever weights are loaded."""
    raw = tiny_bridge(tok, dtype=torch.float64)
    compat = tiny_bridge(tok, dtype=torch.float64, compatibility=True)
    logits_raw, _ = raw.run_with_cache(TOKENS)
    logits_c, cache_c = compat.run_with_cache(TOKENS)
    shifted = logits_raw - logits_raw.mean(-1, keepdim=True)
    assert (shifted - logits_c).abs().max() < 1e-6
    for unit in A.UNITS:
        assert A.decompose_logit(cache_c, 30, unit=unit).rel_error < 1e-10


def test_sympy_identity_is_exact_and_the_seed_variants_are_not():
    assert A.symbolic_identity_gap(n=3, n_parts=2, variant="exact").simplify() == 0
    point = {}
    import sympy as sp

    for variant in ("eps", "centre"):
        gap = A.symbolic_identity_gap(n=3, n_parts=2, variant=variant)
        rng = torch.Generator().manual_seed(0)
        point = {
            s: sp.Rational(int(torch.randint(-9, 10, (), generator=rng)), 7)
            for s in gap.free_symbols
        }
        point[sp.Symbol("epsilon", positive=True)] = sp.Rational(1, 2)
        assert abs(float(gap.subs(point))) > 1e-6, variant


def test_identity_variants_only_exact_matches_the_model(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    logits, cache = model.run_with_cache(TOKENS)
    parts, _ = A.residual_parts(cache, "block")
    ln = model.ln_final._original_component
    w = model.W_U[:, 30]
    got = A.identity_variants(
        cache["ln_final.hook_in"][0, -1],
        parts[:, 0],
        w,
        ln.weight,
        ln.bias,
        0.0,
        ln.eps,
    )
    truth = logits[0, -1, 30].item()
    assert abs(got["exact"] - truth) < 1e-10 * abs(truth)
    for name, value in got.items():
        if name != "exact":
            assert abs(value - truth) > 1e-9 * abs(truth), name


def test_bad_inputs_name_the_fix(tok):
    model = tiny_bridge(tok)
    _, cache = model.run_with_cache(TOKENS)
    with pytest.raises(ValueError, match=r"is 2 tokens .*pass a single-token answer"):
        A.decompose_logit(cache, "Dublin Ireland")
    with pytest.raises(ValueError, match="is 0 tokens"):
        A.answer_token(model, "")
    with pytest.raises(
        ValueError,
        match=r"position 6 is out of range for a prompt of 6 tokens; use 0..5",
    ):
        A.decompose_logit(cache, "Ireland", pos=6)
    with pytest.raises(
        ValueError,
        match=r"layer=2 is out of range: the model has 2 layers; use an integer in 0..1",
    ):
        A.head_results(cache, 2)
    with pytest.raises(ValueError, match="layer=-3 is out of range"):
        A.block_residual_gap(cache, -3)
    with pytest.raises(ValueError, match="unit='neuron': use one of"):
        A.decompose_logit(cache, "Ireland", unit="neuron")
    with pytest.raises(
        ValueError, match=r"token id 50 is outside the vocabulary \[0, 50\)"
    ):
        A.decompose_logit(cache, 50)
    parts, _ = A.residual_parts(cache)
    x = cache["ln_final.hook_in"][:, -1]
    u, _ = A.readout(model, 3)
    with pytest.raises(ValueError, match="do not sum to the final residual"):
        A.split_logit(parts[1:], x, u, 1e-5)
