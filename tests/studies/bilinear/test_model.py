"""The bilinear transformer: config validation, hooks and cache, causality, rotary, loss."""

import math

import pytest
import torch
import torch.nn.functional as F
from builders import tiny_bilinear, tiny_bilinear_config
from torch.testing import assert_close

from interplib.core.training import next_token_loss
from interplib.studies.bilinear.model import (
    BilinearConfig,
    BilinearTransformer,
    model_from_tensors,
    model_tensors,
    n_params,
)


def tokens(batch=3, pos=6, seed=2, d_vocab=7):
    return torch.randint(
        d_vocab, (batch, pos), generator=torch.Generator().manual_seed(seed)
    )


def test_real_size_has_the_original_parameter_count():
    # 2,949,920 in the original checkpoint = ours + the 32 rotary frequencies it stored as a buffer
    assert n_params(BilinearTransformer(BilinearConfig())) == 2_949_920 - 32
    assert BilinearConfig(n_layers=2).name == "bilinear-l2-d256-v4096-s0"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(n_heads=3), "d_model=8 is not divisible by n_heads=3"),
        (dict(rotary_dim=3), "rotary_dim=3: rotary positions rotate pairs"),
        (dict(d_mlp=0), "d_mlp=0: use a positive integer"),
        (dict(eps=0.0), "need eps > 0"),
    ],
)
def test_config_validation_names_the_fix(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_bilinear_config(**overrides)


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    a, b = (
        BilinearTransformer(tiny_bilinear_config()),
        BilinearTransformer(tiny_bilinear_config()),
    )
    assert torch.equal(torch.rand(1), before)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), name
    assert not torch.equal(a.W_E, BilinearTransformer(tiny_bilinear_config(seed=1)).W_E)


def test_cache_holds_transformer_lens_names_and_the_residual_stream_adds_up():
    model = tiny_bilinear()
    t = tokens()
    logits, cache = model.run_with_cache(t)
    assert cache["blocks.1.attn.hook_pattern"].shape == (
        3,
        2,
        6,
        6,
    )  # batch head query key
    assert cache["blocks.0.attn.hook_z"].shape == (3, 6, 2, 4)  # batch pos head d_head
    assert cache["blocks.0.mlp.hook_pre"].shape == (3, 6, 6)  # batch pos d_mlp
    assert cache["ln_final.hook_scale"].shape == (3, 6, 1)
    for l in range(2):
        b = f"blocks.{l}."
        assert_close(
            cache[b + "mlp.hook_post"],
            cache[b + "mlp.hook_pre"] * cache[b + "mlp.hook_pre_linear"],
        )
        assert_close(
            cache[b + "hook_resid_mid"],
            cache[b + "hook_resid_pre"] + cache[b + "hook_attn_out"],
        )
        assert_close(
            cache[b + "hook_resid_post"],
            cache[b + "hook_resid_mid"] + cache[b + "hook_mlp_out"],
        )
        assert_close(
            cache[b + "attn.hook_pattern"].sum(-1),
            torch.ones(3, 2, 6, dtype=torch.float64),
        )
    assert_close(cache["blocks.0.hook_resid_pre"], model.W_E[t])
    assert_close(cache["blocks.1.hook_resid_pre"], cache["blocks.0.hook_resid_post"])
    assert_close(
        logits, cache["ln_final.hook_normalized"] * model.ln_final.w @ model.W_U
    )
    x = cache["blocks.1.hook_resid_post"]
    assert_close(
        cache["ln_final.hook_scale"], (x.pow(2).mean(-1, keepdim=True) + 1e-8).sqrt()
    )


def test_hooks_can_edit_activations():
    model = tiny_bilinear()
    t = tokens()

    def zero(act, hook):
        return torch.zeros_like(act)

    _, cache = model.run_with_cache(t)
    with torch.no_grad():
        ablated = model.run_with_hooks(t, fwd_hooks=[("blocks.1.mlp.hook_post", zero)])
        expected = model.unembed(model.ln_final(cache["blocks.1.hook_resid_mid"]))
    assert_close(ablated, expected)


def test_attention_is_causal():
    model = tiny_bilinear()
    t = tokens()
    changed = t.clone()
    changed[:, 4:] = (changed[:, 4:] + 1) % 7
    with torch.no_grad():
        assert_close(model(changed)[:, :4], model(t)[:, :4])
        assert not torch.allclose(model(changed)[:, 4:], model(t)[:, 4:])


def test_rotary_scores_depend_only_on_relative_position():
    attn = tiny_bilinear(n_ctx=16).blocks[0].attn
    g = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(1, 1, 2, 4, generator=g, dtype=torch.float64).expand(1, 16, 2, 4)
        for _ in range(2)
    )
    rq, rk = attn.rotate(q), attn.rotate(k)
    score = torch.einsum("bqhe,bkhe->bhqk", rq, rk)
    assert_close(score[0, :, 5, 2], score[0, :, 12, 9])  # both 3 apart
    assert_close(attn.rotate(q)[:, 0], q[:, 0])  # position 0 is not rotated
    assert_close(rq.norm(dim=-1), q.norm(dim=-1))  # a rotation


def test_partial_rotary_leaves_the_rest_of_the_head_alone():
    attn = (
        tiny_bilinear(d_model=5, n_heads=1).blocks[0].attn
    )  # d_head 5: dims 0-3 rotate
    x = torch.randn(1, 8, 1, 5, dtype=torch.float64)
    assert_close(attn.rotate(x)[..., 4], x[..., 4])


def test_attention_matches_a_per_head_loop():
    model = tiny_bilinear()
    attn = model.blocks[0].attn
    x = torch.randn(
        2, 5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4)
    )
    out = torch.zeros_like(x)
    for h in range(2):
        q, k = (
            attn.rotate((x @ attn.W_Q[h])[:, :, None])[:, :, 0],
            attn.rotate((x @ attn.W_K[h])[:, :, None])[:, :, 0],
        )
        scores = q @ k.transpose(1, 2) / math.sqrt(4) + torch.full(
            (5, 5), float("-inf")
        ).triu(1)
        out += scores.softmax(-1) @ (x @ attn.W_V[h]) @ attn.W_O[h]
    with torch.no_grad():
        assert_close(attn(x), out)


def test_loss_is_the_mean_next_token_cross_entropy():
    model = tiny_bilinear()
    t = tokens()
    with torch.no_grad():
        logits = model(t)
        manual = F.cross_entropy(logits[:, :-1].reshape(-1, 7), t[:, 1:].reshape(-1))
        assert_close(model(t, return_type="loss"), manual)
        assert_close(next_token_loss(logits, t), manual)


def test_bad_inputs_give_clear_errors():
    model = tiny_bilinear()
    with pytest.raises(ValueError, match="9 positions but n_ctx=8"):
        model(tokens(pos=9))
    with pytest.raises(ValueError, match="return_type='probs'"):
        model(tokens(), return_type="probs")


def test_tensors_round_trip_through_float16():
    cfg = tiny_bilinear_config(init_std=0.02)  # the real init's scale
    model = BilinearTransformer(cfg)
    tensors = model_tensors(model)
    assert all(t.dtype == torch.float16 for t in tensors.values())
    loaded = model_from_tensors(cfg, tensors)
    t = tokens()
    with torch.no_grad():
        assert_close(loaded(t), model(t), rtol=1e-2, atol=1e-3)
        exact = model_from_tensors(cfg, model_tensors(model, torch.float32))
        assert torch.equal(exact(t), model(t))
    with pytest.raises(RuntimeError, match="Missing key"):
        model_from_tensors(
            cfg, {k: v for k, v in tensors.items() if k != "unembed.W_U"}
        )
