"""The exact LayerNorm logit split, against brute force and against TransformerLens 4.3.

Models: tiny random GPT-NeoX (d_model 32, 2 layers, 4 heads, vocab 50) with random γ, β
and biases, parallel and sequential blocks, LayerNorm with and without bias, booted
through TransformerBridge in float32 and float64.
"""

import functools

import pytest
import torch
import torch.nn.functional as F

from interplib.core import bridge
from interplib.interp import attribution as A
from interplib.studies.layernorm import model as neox

WORDS = [f"w{i}" for i in range(46)] + ["Dublin", "Ireland"]
TOKENS = torch.tensor([[3, 4, 48, 5, 7, 9], [10, 11, 12, 13, 48, 2]])
TOL = {torch.float32: 1e-4, torch.float64: 1e-10}
SHAPES = [  # (parallel, ln_bias, d_model, n_heads)
    (True, True, 32, 4),
    (False, True, 32, 4),
    (True, False, 16, 2),
    (False, False, 24, 3),
]


@functools.cache
def _tokenizer():
    return bridge.word_level_tokenizer(WORDS)


@pytest.fixture(scope="module")
def tok():
    return _tokenizer()


def tiny_bridge(
    tok,
    parallel=True,
    ln_bias=True,
    d_model=32,
    n_heads=4,
    dtype=torch.float32,
    seed=0,
    **boot_kwargs,
):
    """A booted tiny model; cached, since tests only read from it (booting is the slow part)."""
    return _tiny_bridge(
        parallel,
        ln_bias,
        d_model,
        n_heads,
        dtype,
        seed,
        tuple(sorted(boot_kwargs.items())),
    )


@functools.cache
def _tiny_bridge(parallel, ln_bias, d_model, n_heads, dtype, seed, boot_kwargs):
    tok = _tokenizer()
    cfg = neox.NeoXConfig(
        d_vocab=len(tok),
        d_model=d_model,
        n_layers=2,
        n_heads=n_heads,
        d_mlp=2 * d_model,
        n_ctx=16,
        parallel=parallel,
        seed=seed,
    )
    model = neox.build_model(cfg)
    if not ln_bias:
        neox.drop_layernorm_bias(model)
    neox.jitter_affine(model, seed=seed + 1)
    return bridge.boot(
        "tiny-neox", hf_model=model, tokenizer=tok, dtype=dtype, **dict(boot_kwargs)
    )


def brute_logit(cache, token, pos):
    """The logit recomputed from the final residual by torch's own LayerNorm and W_U."""
    model = cache.model
    ln = model.ln_final._original_component
    x = cache["ln_final.hook_in"][:, pos]
    out = F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps) @ model.W_U
    b_U = getattr(model, "b_U", None)
    return (out + (b_U if b_U is not None else 0))[:, token]


# ---------------------------------------------------------------- the identity against brute force


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


def test_padded_prompts_split_like_single_prompts(tok):
    """Right-padded prompts of different lengths, read at each one's last token, equal separate
    runs."""
    model = tiny_bridge(tok, dtype=torch.float64)
    prompts = ["w1 w2 Dublin", "w3 w4 w5 w6 w7", "Dublin"]
    tokens, last = A.pad_prompts(model, prompts)
    assert tokens.shape == (3, 5) and last.tolist() == [2, 4, 0]
    _, cache = model.run_with_cache(tokens)
    batch = A.decompose_logit(cache, "Ireland", pos=last, unit="block")
    lens, _ = A.logit_lens(cache, "Ireland", pos=last)
    for row, prompt in enumerate(prompts):
        _, one = model.run_with_cache(model.to_tokens(prompt, prepend_bos=False))
        torch.testing.assert_close(
            batch.terms[:, row],
            A.decompose_logit(one, "Ireland", unit="block").terms[:, 0],
        )
        torch.testing.assert_close(lens[:, row], A.logit_lens(one, "Ireland")[0][:, 0])
    with pytest.raises(ValueError, match="drop empty prompts"):
        A.pad_prompts(model, ["w1", ""])


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
            gap, bound = A.block_residual_gap(cache, layer)
            assert gap <= bound, (dtype, layer, gap, bound)
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


# ---------------------------------------------------------------- logit lens


def test_logit_lens_recomputes_statistics_like_transformer_lens(tok):
    from transformer_lens.tools.analysis import logit_lens as tl_logit_lens

    model = tiny_bridge(tok, dtype=torch.float64)
    logits, cache = model.run_with_cache(TOKENS)
    lens, labels = A.logit_lens(cache, 30, pos=-1)
    tl = tl_logit_lens(cache, targets=[30])
    assert labels == tl.labels == ["0_pre", "1_pre", "final_post"]
    torch.testing.assert_close(lens, tl.values[..., 0])
    torch.testing.assert_close(lens[-1], logits[:, -1, 30])
    full, _ = A.logit_lens(cache, pos=-1)
    torch.testing.assert_close(full[-1], logits[:, -1])
    torch.testing.assert_close(full[..., 30], lens)


def test_cached_scale_lens_is_the_running_sum_of_the_split(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    lens, _ = A.logit_lens(cache, 30, scale="cached")
    split = A.decompose_logit(cache, 30, unit="block")
    torch.testing.assert_close(lens, split.terms.cumsum(0) + split.bias)
    full, _ = A.logit_lens(cache, scale="cached")
    torch.testing.assert_close(full[..., 30], lens)


# ---------------------------------------------------------------- agreement with TransformerLens


@pytest.mark.parametrize("parallel, ln_bias, d_model, n_heads", SHAPES[:3])
def test_component_terms_equal_transformer_lens(
    tok, parallel, ln_bias, d_model, n_heads
):
    """Ours on the raw model (vocab-centred readout) = TL's
    decompose_resid/apply_ln_to_stack/logit_attrs
    on the compatibility-mode model; ours on the compat model = TL's there, to float32 rounding."""
    kw = dict(parallel=parallel, ln_bias=ln_bias, d_model=d_model, n_heads=n_heads)
    raw = tiny_bridge(tok, **kw)
    compat = tiny_bridge(tok, **kw, compatibility=True)
    logits_raw, cache_raw = raw.run_with_cache(TOKENS)
    logits_c, cache_c = compat.run_with_cache(TOKENS)
    t, s = 30, 48
    tl_terms, tl_bias, tl_labels = A.transformer_lens_terms(cache_c, t, pos=-1)
    assert len(tl_labels) == 5
    # TL's explicit route: centre, divide by the cached final scale, dot with W_U[:, t]
    stack = cache_c.decompose_resid(layer=-1, pos_slice=-1)
    explicit = (
        cache_c.apply_ln_to_stack(stack, layer=-1, pos_slice=-1) @ compat.W_U[:, t]
    )
    torch.testing.assert_close(tl_terms, explicit)
    ours_c = A.decompose_logit(cache_c, t)
    torch.testing.assert_close(ours_c.terms, tl_terms, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours_c.bias, tl_bias, rtol=1e-5, atol=1e-5)
    assert ours_c.rel_error < 1e-4
    ours_raw = A.decompose_logit(cache_raw, t, center_vocab=True)
    torch.testing.assert_close(ours_raw.terms, tl_terms, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours_raw.bias, tl_bias, rtol=1e-4, atol=1e-5)
    # a logit difference needs no vocab centring at all
    tl_diff, _, _ = A.transformer_lens_terms(cache_c, t, baseline=s)
    torch.testing.assert_close(
        A.decompose_logit(cache_raw, t, baseline=s).terms, tl_diff, rtol=1e-4, atol=1e-5
    )
    # TL's one-call tool agrees too
    from transformer_lens.tools.analysis import direct_logit_attribution

    dla = direct_logit_attribution(
        compat, cache=cache_c, answer_tokens=t, unit="component", pos=-1
    )
    torch.testing.assert_close(dla.attribution, tl_terms)
    # the raw/compat logit gap is one constant per position: the vocabulary mean of the raw logits
    gap = logits_raw - logits_c
    torch.testing.assert_close(
        gap, logits_raw.mean(-1, keepdim=True).expand_as(gap), rtol=1e-4, atol=1e-5
    )


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


def test_head_terms_equal_transformer_lens(tok):
    raw = tiny_bridge(tok, dtype=torch.float32)
    _, cache_raw = raw.run_with_cache(TOKENS)
    heads = [f"L{l}H{h}" for l in range(2) for h in range(4)]

    def ours(cache, **kw):
        split = A.decompose_logit(cache, 30, unit="head", **kw)
        return split.terms[[split.labels.index(h) for h in heads]]

    # value biases kept on the heads: the per-head terms agree with the raw model's
    unfolded = tiny_bridge(tok, compatibility=True, fold_value_biases=False)
    _, cache_u = unfolded.run_with_cache(TOKENS)
    tl_terms, _, labels = A.transformer_lens_terms(cache_u, 30, unit="head")
    assert labels == heads
    torch.testing.assert_close(
        ours(cache_raw, center_vocab=True), tl_terms, rtol=1e-4, atol=1e-5
    )
    # TL's default folds b_V W_O into b_O, which moves that share from the heads to the bias part
    folded = tiny_bridge(tok, compatibility=True)
    _, cache_f = folded.run_with_cache(TOKENS)
    tl_folded, _, _ = A.transformer_lens_terms(cache_f, 30, unit="head")
    torch.testing.assert_close(ours(cache_f), tl_folded, rtol=1e-5, atol=1e-5)
    assert (ours(cache_raw, center_vocab=True) - tl_folded).abs().max() > 1e-4


# ---------------------------------------------------------------- the algebra, and the seed's
# variants


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


# ---------------------------------------------------------------- bad inputs give errors that
# name the fix


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
    with pytest.raises(ValueError, match="position -7 is out of range"):
        A.logit_lens(cache, "Ireland", pos=-7)
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
    with pytest.raises(ValueError, match="enable_compatibility_mode"):
        A.transformer_lens_terms(cache, "Ireland")
    with pytest.raises(ValueError, match="scale='final'"):
        A.logit_lens(cache, scale="final")
    parts, _ = A.residual_parts(cache)
    x = cache["ln_final.hook_in"][:, -1]
    u, _ = A.readout(model, 3)
    with pytest.raises(ValueError, match="do not sum to the final residual"):
        A.split_logit(parts[1:], x, u, 1e-5)


def test_next_token_table_ranks_like_the_logits(tok):
    model = tiny_bridge(tok)
    table, rank = A.next_token_table(model, "w1 w2 Dublin", " Ireland", k=5)
    logits = model(model.to_tokens("w1 w2 Dublin", prepend_bos=False))[0, -1]
    assert table["token"].tolist() == [
        model.tokenizer.decode([i]) for i in logits.topk(5).indices.tolist()
    ]
    assert rank == int((logits > logits[49]).sum())
    assert (
        abs(table["prob"].sum() - logits.softmax(-1).topk(5).values.sum().item()) < 1e-6
    )
