"""interplib.studies.bilinear.decomposition: the one-token logits split by writer."""

import pytest
import torch
from builders import tiny_bilinear
from torch.testing import assert_close

from interplib.interp import bilinear as bl
from interplib.studies.bilinear.decomposition import (
    one_token_residuals,
    one_token_terms,
)


def test_terms_sum_to_the_models_one_token_logits():
    model = tiny_bilinear()
    terms = one_token_terms(model)
    assert list(terms) == ["embedding", "attn 0", "mlp 0", "attn 1", "mlp 1"]
    assert_close(sum(terms.values()), bl.single_token_logits(model))


def test_each_term_is_its_part_through_the_final_rms_of_the_whole_residual():
    model = tiny_bilinear()
    _, cache = model.run_with_cache(torch.arange(7)[:, None])
    scale = cache["ln_final.hook_scale"][:, 0]  # [in 1]
    U = model.ln_final.w[:, None] * model.W_U
    terms = one_token_terms(model)
    assert_close(terms["embedding"], ((model.W_E / scale) @ U).T)
    for layer in range(2):
        for part, hook in (("attn", "hook_attn_out"), ("mlp", "hook_mlp_out")):
            written = cache[f"blocks.{layer}.{hook}"][:, 0]
            assert_close(terms[f"{part} {layer}"], ((written / scale) @ U).T)


def test_without_attention_is_the_forward_pass_with_attention_removed():
    model = tiny_bilinear()
    handles = [
        b.attn.register_forward_hook(lambda m, a, out: torch.zeros_like(out))
        for b in model.blocks
    ]
    try:
        with torch.no_grad():
            expected = model(torch.arange(7)[:, None])[:, 0].T
    finally:
        for h in handles:
            h.remove()
    terms = one_token_terms(model, attention=False)
    assert list(terms) == ["embedding", "mlp 0", "mlp 1"]
    assert_close(sum(terms.values()), expected)
    parts, scale = one_token_residuals(model, attention=False, chunk=3)
    final = sum(parts.values())
    assert_close(scale, (final.pow(2).mean(-1) + model.ln_final.eps).sqrt())


def test_without_removes_a_part_from_the_stream_that_later_layers_read():
    model = tiny_bilinear()
    handle = model.blocks[0].mlp.register_forward_hook(
        lambda m, a, out: torch.zeros_like(out)
    )
    try:
        with torch.no_grad():
            expected = model(torch.arange(7)[:, None])[:, 0].T
    finally:
        handle.remove()
    terms = one_token_terms(model, without=("mlp 0",))
    assert list(terms) == ["embedding", "attn 0", "attn 1", "mlp 1"]
    assert_close(sum(terms.values()), expected)
    with pytest.raises(ValueError, match="attn 0"):
        one_token_terms(model, attention=False, without=("attn 0",))
