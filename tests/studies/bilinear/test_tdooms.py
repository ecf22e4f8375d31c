"""The tdooms checkpoint loader, on a checkpoint written locally in the original layout.

The reference forward pass below follows the original ``shared/transformer.py`` (tdooms/
bilinear-interp): ``nn.Linear`` weights ``[out, in]``, fused qkv, SDPA with a causal mask,
rotate-half rotary over the whole head, ``mlp.w`` chunked into left and right halves.
"""

import json

import einops
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.testing import assert_close

from interplib.interp import bilinear as bl
from interplib.studies.bilinear.tdooms import (
    config_from_tdooms,
    from_tdooms_state_dict,
    load_tdooms,
)

FIELDS = {
    "n_vocab": 11,
    "n_head": 2,
    "n_layer": 2,
    "n_ctx": 8,
    "d_model": 8,
    "d_hidden": 12,
    "attn_dropout": 0.0,
    "resid_dropout": 0.0,
    "mlp_dropout": 0.0,
    "embed_dropout": 0.0,
    "bilinear": True,
    "rms": True,
    "norm_bias": False,
    "mlp_bias": False,
    "architectures": ["Transformer"],
    "torch_dtype": "float32",
    "transformers_version": "4.39.3",
}


def original_state_dict(fields=FIELDS, seed=0):
    g = torch.Generator().manual_seed(seed)
    V, d, h = fields["n_vocab"], fields["d_model"], fields["d_hidden"]
    e = d // fields["n_head"]

    def rand(*shape):
        return torch.randn(*shape, generator=g) * 0.3

    sd = {
        "transformer.wte.weight": rand(V, d),
        "lm_head.weight": rand(V, d),
        "transformer.n_f.weight": 1 + rand(d),
    }
    for l in range(fields["n_layer"]):
        p = f"transformer.h.{l}."
        sd |= {
            p + "n1.weight": 1 + rand(d),
            p + "n2.weight": 1 + rand(d),
            p + "attn.qkv.weight": rand(3 * d, d),
            p + "attn.o.weight": rand(d, d),
            p + "attn.rotary.inv_freq": 1.0
            / 10000 ** (torch.arange(0, e, 2).float() / e),
            p + "mlp.w.weight": rand(2 * h, d),
            p + "mlp.o.weight": rand(d, h),
        }
    return sd


def rms(x, w):
    return x / torch.sqrt(torch.mean(x**2, dim=-1, keepdim=True) + 1e-8) * w


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def original_forward(sd, fields, ids):
    x = sd["transformer.wte.weight"][ids]
    n = ids.shape[1]
    for l in range(fields["n_layer"]):
        p = f"transformer.h.{l}."
        qkv = rms(x, sd[p + "n1.weight"]) @ sd[p + "attn.qkv.weight"].T
        q, k, v = einops.rearrange(
            qkv, "b s (three n e) -> three b n s e", three=3, n=fields["n_head"]
        )
        freqs = torch.einsum(
            "i,j->ij", torch.arange(n).float(), sd[p + "attn.rotary.inv_freq"]
        )
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        z = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + einops.rearrange(z, "b n s e -> b s (n e)") @ sd[p + "attn.o.weight"].T
        left, right = (rms(x, sd[p + "n2.weight"]) @ sd[p + "mlp.w.weight"].T).chunk(
            2, dim=-1
        )
        x = x + (left * right) @ sd[p + "mlp.o.weight"].T
    return rms(x, sd["transformer.n_f.weight"]) @ sd["lm_head.weight"].T


def test_loaded_model_reproduces_the_original_forward_pass(tmp_path):
    sd = original_state_dict()
    save_file(sd, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(FIELDS))
    model = load_tdooms(tmp_path)
    ids = torch.randint(11, (3, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert_close(
            model(ids), original_forward(sd, FIELDS, ids), rtol=1e-5, atol=1e-5
        )


def test_left_and_right_halves_map_to_gate_and_in():
    sd = original_state_dict()
    model = from_tdooms_state_dict(sd, FIELDS)
    left, right = sd["transformer.h.1.mlp.w.weight"].chunk(2)
    assert torch.equal(model.blocks[1].mlp.W_gate, left.T)
    assert torch.equal(model.blocks[1].mlp.W_in, right.T)
    # the original notebook's diagonal, on raw embeddings with folded gains, is ours with
    # normalize=False
    e = sd["transformer.wte.weight"]
    L, R = (
        left * sd["transformer.h.1.n2.weight"],
        right * sd["transformer.h.1.n2.weight"],
    )
    U = sd["lm_head.weight"] * sd["transformer.n_f.weight"]
    original = einops.einsum(
        e,
        e,
        L,
        R,
        sd["transformer.h.1.mlp.o.weight"],
        U,
        "i e1, i e2, k e1, k e2, r k, o r -> o i",
    )
    with torch.no_grad():
        assert_close(bl.mlp_diagonal(model, 1), original, rtol=1e-4, atol=1e-5)


def test_config_fields_map_onto_ours():
    cfg = config_from_tdooms(FIELDS)
    assert (
        cfg.d_vocab,
        cfg.n_layers,
        cfg.n_heads,
        cfg.d_model,
        cfg.d_mlp,
        cfg.n_ctx,
    ) == (11, 2, 2, 8, 12, 8)
    assert cfg.eps == 1e-8 and cfg.n_rotary == cfg.d_head


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(
        ValueError, match="unsupported checkpoint variant {'mlp_bias': True}"
    ):
        config_from_tdooms(FIELDS | {"mlp_bias": True})
    with pytest.raises(ValueError, match=r"config.json lacks \['d_hidden'\]"):
        config_from_tdooms({k: v for k, v in FIELDS.items() if k != "d_hidden"})
    sd = original_state_dict()
    with pytest.raises(ValueError, match=r"missing \['transformer.h.1.mlp.o.weight'\]"):
        from_tdooms_state_dict(
            {k: v for k, v in sd.items() if k != "transformer.h.1.mlp.o.weight"}, FIELDS
        )
    with pytest.raises(
        ValueError, match=r"unexpected \['transformer.h.0.mlp.w.bias'\]"
    ):
        from_tdooms_state_dict(
            sd | {"transformer.h.0.mlp.w.bias": torch.zeros(24)}, FIELDS
        )
    with pytest.raises(
        ValueError, match=r"mlp.w.weight has shape \(24, 8\), expected \(20, 8\)"
    ):
        from_tdooms_state_dict(sd, FIELDS | {"d_hidden": 10})
    with pytest.raises(ValueError, match="not rotary base 10000"):
        from_tdooms_state_dict(
            sd | {"transformer.h.0.attn.rotary.inv_freq": torch.ones(2)}, FIELDS
        )
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        load_tdooms(tmp_path)
