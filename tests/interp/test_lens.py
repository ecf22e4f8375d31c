"""The logit lens, TransformerLens's own logit attribution and the prompt tables, against
TransformerLens 4.3 and against the exact split of :mod:`interplib.interp.attribution`.

Models: the tiny random GPT-NeoX bridges of ``builders.neox_bridge``.
"""

import pytest
import torch
from builders import NEOX_SHAPES as SHAPES
from builders import NEOX_TOKENS as TOKENS
from builders import neox_bridge as tiny_bridge
from builders import neox_tokenizer

from interplib.interp import attribution as A
from interplib.interp.lens import (
    READINGS,
    logit_lens,
    next_token_table,
    pad_prompts,
    split_readings,
    top_rival,
    transformer_lens_terms,
)


@pytest.fixture(scope="module")
def tok():
    return neox_tokenizer()


def test_padded_prompts_split_like_single_prompts(tok):
    """Right-padded prompts of different lengths, read at each one's last token, equal separate
    runs."""
    model = tiny_bridge(tok, dtype=torch.float64)
    prompts = ["w1 w2 Dublin", "w3 w4 w5 w6 w7", "Dublin"]
    tokens, last = pad_prompts(model, prompts)
    assert tokens.shape == (3, 5) and last.tolist() == [2, 4, 0]
    _, cache = model.run_with_cache(tokens)
    batch = A.decompose_logit(cache, "Ireland", pos=last, unit="block")
    lens, _ = logit_lens(cache, "Ireland", pos=last)
    for row, prompt in enumerate(prompts):
        _, one = model.run_with_cache(model.to_tokens(prompt, prepend_bos=False))
        torch.testing.assert_close(
            batch.terms[:, row],
            A.decompose_logit(one, "Ireland", unit="block").terms[:, 0],
        )
        torch.testing.assert_close(lens[:, row], logit_lens(one, "Ireland")[0][:, 0])
    with pytest.raises(ValueError, match="drop empty prompts"):
        pad_prompts(model, ["w1", ""])


def test_logit_lens_recomputes_statistics_like_transformer_lens(tok):
    from transformer_lens.tools.analysis import logit_lens as tl_logit_lens

    model = tiny_bridge(tok, dtype=torch.float64)
    logits, cache = model.run_with_cache(TOKENS)
    lens, labels = logit_lens(cache, 30, pos=-1)
    tl = tl_logit_lens(cache, targets=[30])
    assert labels == tl.labels == ["0_pre", "1_pre", "final_post"]
    torch.testing.assert_close(lens, tl.values[..., 0])
    torch.testing.assert_close(lens[-1], logits[:, -1, 30])
    full, _ = logit_lens(cache, pos=-1)
    torch.testing.assert_close(full[-1], logits[:, -1])
    torch.testing.assert_close(full[..., 30], lens)


def test_cached_scale_lens_is_the_running_sum_of_the_split(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    _, cache = model.run_with_cache(TOKENS)
    lens, _ = logit_lens(cache, 30, scale="cached")
    split = A.decompose_logit(cache, 30, unit="block")
    torch.testing.assert_close(lens, split.terms.cumsum(0) + split.bias)
    full, _ = logit_lens(cache, scale="cached")
    torch.testing.assert_close(full[..., 30], lens)


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
    tl_terms, tl_bias, tl_labels = transformer_lens_terms(cache_c, t, pos=-1)
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
    tl_diff, _, _ = transformer_lens_terms(cache_c, t, baseline=s)
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
    tl_terms, _, labels = transformer_lens_terms(cache_u, 30, unit="head")
    assert labels == heads
    torch.testing.assert_close(
        ours(cache_raw, center_vocab=True), tl_terms, rtol=1e-4, atol=1e-5
    )
    # TL's default folds b_V W_O into b_O, which moves that share from the heads to the bias part
    folded = tiny_bridge(tok, compatibility=True)
    _, cache_f = folded.run_with_cache(TOKENS)
    tl_folded, _, _ = transformer_lens_terms(cache_f, 30, unit="head")
    torch.testing.assert_close(ours(cache_f), tl_folded, rtol=1e-5, atol=1e-5)
    assert (ours(cache_raw, center_vocab=True) - tl_folded).abs().max() > 1e-4


def test_bad_inputs_name_the_fix(tok):
    model = tiny_bridge(tok)
    _, cache = model.run_with_cache(TOKENS)
    with pytest.raises(ValueError, match="position -7 is out of range"):
        logit_lens(cache, "Ireland", pos=-7)
    with pytest.raises(ValueError, match="enable_compatibility_mode"):
        transformer_lens_terms(cache, "Ireland")
    with pytest.raises(ValueError, match="scale='final'"):
        logit_lens(cache, scale="final")


def test_next_token_table_ranks_like_the_logits(tok):
    model = tiny_bridge(tok)
    table, rank = next_token_table(model, "w1 w2 Dublin", " Ireland", k=5)
    logits = model(model.to_tokens("w1 w2 Dublin", prepend_bos=False))[0, -1]
    assert table["token"].tolist() == [
        model.tokenizer.decode([i]) for i in logits.topk(5).indices.tolist()
    ]
    assert rank == int((logits > logits[49]).sum())
    assert (
        abs(table["prob"].sum() - logits.softmax(-1).topk(5).values.sum().item()) < 1e-6
    )


def test_top_rival_is_the_best_token_but_the_answer():
    logits = torch.tensor([[0.0, 3.0, 2.0, 1.0], [5.0, 1.0, 4.0, 9.0]])
    answers = torch.tensor([1, 2])
    assert top_rival(logits, answers).tolist() == [2, 3]
    with pytest.raises(ValueError, match="one id per row"):
        top_rival(logits, torch.tensor([1]))


def test_each_reading_splits_its_own_logit_exactly(tok):
    model = tiny_bridge(tok, dtype=torch.float64)
    logits, cache = model.run_with_cache(TOKENS)
    t = model.to_single_token("Ireland")
    splits, rival = split_readings(cache, "Ireland", unit="head")
    last = logits[:, -1]
    assert list(splits) == list(READINGS)
    want = {
        "raw": last[:, t],
        "centred": last[:, t] - last.mean(-1),
        "margin": last[:, t] - last.gather(1, rival[:, None])[:, 0],
    }
    for reading, split in splits.items():
        torch.testing.assert_close(split.logit, want[reading])
        torch.testing.assert_close(split.total, want[reading])
    brute = last.clone()
    brute[:, t] = -torch.inf
    assert rival.tolist() == brute.argmax(-1).tolist()
    # the readings differ by what each writer adds to every token alike (centred) or to the
    # rival (margin): raw - centred = the vocabulary mean of each part's terms
    U = splits["raw"].terms - splits["centred"].terms
    assert U.abs().max() > 1e-6
