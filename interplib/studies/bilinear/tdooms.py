"""Load an original ``tdooms/TinyStories-*`` bilinear checkpoint into our BilinearTransformer.

The checkpoints (Hugging Face ``save_pretrained`` of ``shared/transformer.py`` in
``tdooms/bilinear-interp``) are a directory with ``config.json`` and ``model.safetensors``.
The hub is not reachable from the book's build, so nothing here runs there; the layout is
tested on a state dict built locally. Keys (``nn.Linear`` weights are ``[out, in]``):

==========================================  =====================  ===========================
original key                                shape                  ours
==========================================  =====================  ===========================
``transformer.wte.weight``                  [n_vocab, d_model]     ``embed.W_E``
``transformer.h.{l}.n1.weight``             [d_model]              ``blocks.{l}.ln1.w``
``transformer.h.{l}.attn.qkv.weight``       [3·d_model, d_model]   ``W_Q``, ``W_K``, ``W_V``
                                            rows: qkv head d_head
``transformer.h.{l}.attn.o.weight``         [d_model, d_model]     ``W_O``; cols (head d_head)
``transformer.h.{l}.attn.rotary.inv_freq``  [d_head/2]             checked, not stored
``transformer.h.{l}.n2.weight``             [d_model]              ``blocks.{l}.ln2.w``
``transformer.h.{l}.mlp.w.weight``          [2·d_hidden, d_model]  rows [:h] left → ``W_gate``,
                                                                   rows [h:] right → ``W_in``
``transformer.h.{l}.mlp.o.weight``          [d_model, d_hidden]    ``W_out``
``transformer.n_f.weight``                  [d_model]              ``ln_final.w``
``lm_head.weight``                          [n_vocab, d_model]     ``unembed.W_U``
==========================================  =====================  ===========================

Config fields used: ``n_vocab, n_layer, n_head, d_model, d_hidden, n_ctx``; ``bilinear``,
``rms`` must be true and ``norm_bias``, ``mlp_bias`` false (the only variant we rebuild);
dropouts are ignored (0 at inference). RMSNorm eps is 1e-8 and rotary base 10000, NeoX
rotate-half over the whole head, as in the original code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import einops
import torch
from torch import Tensor

from interplib.studies.bilinear.model import BilinearConfig, BilinearTransformer

__all__ = [
    "config_from_tdooms",
    "state_dict_from_tdooms",
    "from_tdooms_state_dict",
    "load_tdooms",
]

REQUIRED_FIELDS = ("n_vocab", "n_layer", "n_head", "d_model", "d_hidden", "n_ctx")


def config_from_tdooms(fields: Mapping[str, Any]) -> BilinearConfig:
    """Our config from the original ``config.json`` fields.

    Raises:
        ValueError: a field is missing, or the checkpoint is a variant we do not rebuild.
    """
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise ValueError(
            f"config.json lacks {missing}: not a tdooms/TinyStories bilinear config "
            f"(expected the fields {list(REQUIRED_FIELDS)})"
        )
    variant = {"bilinear": True, "rms": True, "norm_bias": False, "mlp_bias": False}
    wrong = {k: fields[k] for k, want in variant.items() if fields.get(k, want) != want}
    if wrong:
        raise ValueError(
            f"unsupported checkpoint variant {wrong}: only bilinear=True, rms=True, "
            f"norm_bias=False, mlp_bias=False is rebuilt here"
        )
    return BilinearConfig(
        d_vocab=int(fields["n_vocab"]),
        n_layers=int(fields["n_layer"]),
        d_model=int(fields["d_model"]),
        n_heads=int(fields["n_head"]),
        d_mlp=int(fields["d_hidden"]),
        n_ctx=int(fields["n_ctx"]),
        eps=1e-8,
        rotary_base=10000.0,
    )


def state_dict_from_tdooms(
    sd: Mapping[str, Tensor], cfg: BilinearConfig
) -> dict[str, Tensor]:
    """Our state dict from the original one (see the module docstring for the mapping).

    Raises:
        ValueError: keys are missing or unexpected, a shape is wrong, or the stored rotary
            frequencies are not base 10000 over the whole head.
    """
    n, h = cfg.n_heads, cfg.d_mlp
    expected = {
        "transformer.wte.weight": (cfg.d_vocab, cfg.d_model),
        "transformer.n_f.weight": (cfg.d_model,),
        "lm_head.weight": (cfg.d_vocab, cfg.d_model),
    }
    for l in range(cfg.n_layers):
        p = f"transformer.h.{l}."
        expected |= {
            p + "n1.weight": (cfg.d_model,),
            p + "n2.weight": (cfg.d_model,),
            p + "attn.qkv.weight": (3 * cfg.d_model, cfg.d_model),
            p + "attn.o.weight": (cfg.d_model, cfg.d_model),
            p + "mlp.w.weight": (2 * h, cfg.d_model),
            p + "mlp.o.weight": (cfg.d_model, h),
        }
    rotary = {k for k in sd if k.endswith("attn.rotary.inv_freq")}
    missing, extra = (
        sorted(set(expected) - set(sd)),
        sorted(set(sd) - set(expected) - rotary),
    )
    if missing or extra:
        raise ValueError(
            f"not a tdooms/TinyStories bilinear state dict for {cfg.n_layers} layer(s): "
            f"missing {missing[:5]}{'…' if len(missing) > 5 else ''}, unexpected {extra[:5]}"
            f"{'…' if len(extra) > 5 else ''}"
        )
    for key, shape in expected.items():
        if tuple(sd[key].shape) != shape:
            raise ValueError(
                f"{key} has shape {tuple(sd[key].shape)}, expected {shape} from config.json"
            )
    inv_freq = 1.0 / 10000 ** (
        torch.arange(0, cfg.d_head, 2, dtype=torch.float32) / cfg.d_head
    )
    for key in rotary:
        if not torch.allclose(sd[key].float(), inv_freq):
            raise ValueError(
                f"{key} is not rotary base 10000 over the whole head: this variant is not supported"
            )

    out = {
        "embed.W_E": sd["transformer.wte.weight"],
        "ln_final.w": sd["transformer.n_f.weight"],
        "unembed.W_U": sd["lm_head.weight"].T,
    }
    for l in range(cfg.n_layers):
        p, q = f"transformer.h.{l}.", f"blocks.{l}."
        W_Q, W_K, W_V = einops.rearrange(
            sd[p + "attn.qkv.weight"], "(qkv head e) d -> qkv head d e", qkv=3, head=n
        )
        left, right = sd[p + "mlp.w.weight"].chunk(2, dim=0)
        out |= {
            q + "ln1.w": sd[p + "n1.weight"],
            q + "ln2.w": sd[p + "n2.weight"],
            q + "attn.W_Q": W_Q,
            q + "attn.W_K": W_K,
            q + "attn.W_V": W_V,
            q + "attn.W_O": einops.rearrange(
                sd[p + "attn.o.weight"], "d (head e) -> head e d", head=n
            ),
            q + "mlp.W_gate": left.T,
            q + "mlp.W_in": right.T,
            q + "mlp.W_out": sd[p + "mlp.o.weight"].T,
        }
    return {k: v.contiguous() for k, v in out.items()}


def from_tdooms_state_dict(
    sd: Mapping[str, Tensor], fields: Mapping[str, Any]
) -> BilinearTransformer:
    """Our model with the original checkpoint's weights (float32, eval mode)."""
    cfg = config_from_tdooms(fields)
    model = BilinearTransformer(cfg)
    model.load_state_dict(
        {k: v.float() for k, v in state_dict_from_tdooms(sd, cfg).items()}, strict=True
    )
    return model.eval()


def load_tdooms(directory: str | Path) -> BilinearTransformer:
    """Load a local copy of a ``tdooms/TinyStories-*`` checkpoint.

    The copy is a folder with ``config.json`` and ``model.safetensors``.

    Raises:
        FileNotFoundError: a file is missing (the hub is not reachable: download it elsewhere).
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    files = [directory / "config.json", directory / "model.safetensors"]
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(
                f"{f} not found: a tdooms checkpoint directory holds config.json and "
                f"model.safetensors (e.g. from huggingface.co/tdooms/TinyStories-1-256-rotary)"
            )
    return from_tdooms_state_dict(load_file(files[1]), json.loads(files[0].read_text()))
