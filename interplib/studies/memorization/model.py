"""The attention-only transformer of the memorization study and its rank-d lower bound.

:class:`AttentionOnly` reads a context of ``n_ctx`` tokens and returns the logits of the next
token at the last position. Each layer has ``H`` **parallel heads** of dimension ``d_h``
(fused into one einsum with weights ``[head d_model d_head]``), then an optional GELU MLP:

.. math::  x_0 = W_E[t],\\qquad
           x_{l+1} = x_l + \\sum_h \\mathrm{Attn}_h\\big(\\mathrm{LN}(x_l) + W_{pos}\\big),\\qquad
           \\text{logits} = x_L W_U .

As in the original code, positions are added to the attention input of every layer rather
than kept in the residual stream.

Two architectures. The default is the paper's text: **per-head** maps
``W_Q^h, W_K^h, W_V^h: d -> d_h`` and ``W_O^h: d_h -> d``. With ``compress=True`` it is the
paper's final code (``models.py`` at leodana2000/Transformer_Attentional_Memory ``26160e7``):
whenever ``d != d_h`` one **shared** ``W_C: d -> d_h`` maps the residual into the head space,
the positions are ``d_h``-dimensional, every head maps ``d_h -> d_h``, and one shared
``W_D: d_h -> d`` maps the heads' sum back, so the attention output has rank at most ``d_h``
(not ``H d_h``). With ``d == d_h`` the code skips both maps and the two architectures agree.

The **skip switches** remove the residual path or the token/position part of the query-key
and value inputs; ``head_mask`` and ``dim_mask`` buffers
switch heads and head dimensions off and ``width_mask`` switches residual dimensions off, so
models with fewer heads, a smaller ``d_h`` or a smaller ``d`` train in one batch with bigger
ones (a masked weight gets zero gradient and stays inert under Adam).

:class:`LowRank` is the **sequence encoder** ``logits = W_U E[z]`` with a free ``d``-vector per
context: every width-``d`` model above is one, so its optimum lower-bounds theirs.

Weights use TransformerLens's row layout (``resid @ W``) and hook names. Our initialisation is
Gaussian (embeddings of unit scale); :func:`pytorch_default_init` redraws a model the way the
paper code's PyTorch modules initialise themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import einsum, rearrange, reduce
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.core.hooks import HookedRootModule, HookPoint

__all__ = [
    "AoTConfig",
    "AttentionOnly",
    "LowRank",
    "Attention",
    "MLP",
    "Block",
    "pytorch_default_init",
]


@dataclass(frozen=True)
class AoTConfig:
    """An attention-only transformer, with an optional MLP and switches for the ablations."""

    d_vocab: int = 50
    d_model: int = 10
    d_head: int = 10
    n_heads: int = 1
    n_layers: int = 1
    d_mlp: int = 0  # 0: attention only
    mlp_depth: int = 1  # hidden layers of the MLP when d_mlp > 0
    n_ctx: int = 2  # context length: (t1, t2) predicts t3
    # the original normalises the attention input; the paper's eq. (2) does not
    layernorm: bool = False
    skip_residual: bool = (
        False  # drop the residual path x_l (keep only the heads' outputs)
    )
    skip_pos_qk: bool = False  # queries/keys read no position
    skip_emb_qk: bool = False  # queries/keys read no token
    skip_pos_ov: bool = False  # values read no position
    skip_emb_ov: bool = False  # values read no token
    # the paper's code: one shared d -> d_h map before the heads and d_h -> d after them
    compress: bool = False

    def __post_init__(self):
        for name in (
            "d_vocab",
            "d_model",
            "d_head",
            "n_heads",
            "n_layers",
            "n_ctx",
            "mlp_depth",
        ):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name}={getattr(self, name)}: must be a positive integer"
                )
        if self.d_mlp < 0:
            raise ValueError(
                f"d_mlp={self.d_mlp}: use 0 for no MLP or a positive width"
            )
        if self.skip_pos_qk and self.skip_emb_qk:
            raise ValueError(
                "skip_pos_qk and skip_emb_qk together leave queries and keys empty; keep one"
            )
        if self.skip_pos_ov and self.skip_emb_ov:
            raise ValueError(
                "skip_pos_ov and skip_emb_ov together leave the values empty; keep one"
            )


class Attention(nn.Module):
    """``H`` parallel causal heads.

    ``head_mask``/``dim_mask`` switch heads and head dimensions off.
    """

    # buffers and hook points made in __init__ (by register_buffer and setattr)
    head_mask: Tensor
    dim_mask: Tensor
    causal: Tensor
    hook_q: HookPoint
    hook_k: HookPoint
    hook_v: HookPoint
    hook_attn_scores: HookPoint
    hook_pattern: HookPoint
    hook_z: HookPoint
    hook_result: HookPoint

    def __init__(self, cfg: AoTConfig):
        super().__init__()
        h, n = cfg.d_head, cfg.n_heads
        d = cfg.d_head if cfg.compress else cfg.d_model  # the space the heads read
        self.W_Q = nn.Parameter(torch.randn(n, d, h) / math.sqrt(d))
        self.W_K = nn.Parameter(torch.randn(n, d, h) / math.sqrt(d))
        self.W_V = nn.Parameter(torch.randn(n, d, h) / math.sqrt(d))
        self.W_O = nn.Parameter(torch.randn(n, h, d) / math.sqrt(h))
        self.register_buffer("head_mask", torch.ones(n))
        self.register_buffer("dim_mask", torch.ones(h))
        mask = torch.triu(
            torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool), diagonal=1
        )
        self.register_buffer("causal", mask, persistent=False)
        for name in ("q", "k", "v", "attn_scores", "pattern", "z", "result"):
            setattr(self, f"hook_{name}", HookPoint())

    def forward(
        self,
        x_qk: Float[Tensor, "batch pos d_model"],
        x_ov: Float[Tensor, "batch pos d_model"],
        last_only: bool = False,
    ) -> Float[Tensor, "batch query_pos d_model"]:
        """Causal attention; with ``last_only`` only the last position queries.

        That is all a last layer needs.
        """
        causal = self.causal[-1:] if last_only else self.causal
        # Masking the weights, not the activations: the same numbers, far fewer multiplies.
        W_Q, W_K, W_V = (w * self.dim_mask for w in (self.W_Q, self.W_K, self.W_V))
        q = self.hook_q(
            einsum(
                x_qk[:, -1:] if last_only else x_qk,
                W_Q,
                "b p d, head d h -> b p head h",
            )
        )
        k = self.hook_k(einsum(x_qk, W_K, "b p d, head d h -> b p head h"))
        v = self.hook_v(einsum(x_ov, W_V, "b p d, head d h -> b p head h"))
        d_h = self.dim_mask.sum().clamp(min=1)
        # Contexts are 2-3 tokens: broadcast-and-sum beats a bmm over batch·head tiny matrices.
        scores = (q[:, :, None] * k[:, None]).sum(-1) / d_h.sqrt()  # b q k head
        scores = scores.masked_fill(causal[:, :, None], float("-inf"))
        scores = self.hook_attn_scores(rearrange(scores, "b q k head -> b head q k"))
        pattern = self.hook_pattern(scores.softmax(-1))
        z = (rearrange(pattern, "b head q k -> b q k head 1") * v[:, None]).sum(
            2
        )  # b q head h
        z = self.hook_z(z)
        W_O = self.W_O * self.head_mask[:, None, None]
        result = einsum(z, W_O, "b q head h, head h d -> b q head d")
        return reduce(self.hook_result(result), "b q head d -> b q d", "sum")


class MLP(nn.Module):
    hidden_mask: Tensor  # buffers, not saved (older state dicts stay loadable)
    on: Tensor

    def __init__(self, cfg: AoTConfig):
        super().__init__()
        widths = [cfg.d_model] + [cfg.d_mlp] * cfg.mlp_depth + [cfg.d_model]
        self.layers = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])
        )
        self.hook_post = HookPoint()
        self.register_buffer("hidden_mask", torch.ones(cfg.d_mlp), persistent=False)
        self.register_buffer("on", torch.tensor(1.0), persistent=False)

    def forward(
        self, x: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        for layer in self.layers[:-1]:
            x = F.gelu(layer(x)) * self.hidden_mask
        return self.layers[-1](self.hook_post(x)) * self.on


class Block(nn.Module):
    gates: Tensor  # buffers
    width_mask: Tensor

    def __init__(self, cfg: AoTConfig):
        super().__init__()
        self.cfg = cfg
        self.attn = Attention(cfg)
        self.mlp = MLP(cfg) if cfg.d_mlp > 0 else None
        self.hook_resid_pre, self.hook_attn_out, self.hook_resid_mid = (
            HookPoint(),
            HookPoint(),
            HookPoint(),
        )
        self.hook_mlp_out, self.hook_resid_post = HookPoint(), HookPoint()
        # The skip switches as 0/1 gates (a buffer, not Python flags), so models that differ
        # only in their switches have one shape and train in one batch.
        keep = [
            not cfg.skip_residual,
            not cfg.skip_emb_qk,
            not cfg.skip_pos_qk,
            not cfg.skip_emb_ov,
            not cfg.skip_pos_ov,
        ]
        self.register_buffer("gates", torch.tensor(keep, dtype=torch.float32))
        # not saved: older artifacts' state dicts stay loadable
        self.register_buffer("width_mask", torch.ones(cfg.d_model), persistent=False)

    def _norm(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, x.shape[-1:]) if self.cfg.layernorm else x

    def forward(
        self,
        x: Float[Tensor, "batch pos d_model"],
        pos: Float[Tensor, "pos d_in"],
        last_only: bool = False,
        maps: tuple[Callable, Callable] | None = None,
    ) -> Float[Tensor, "batch query_pos d_model"]:
        """One layer; ``maps`` are the paper code's shared ``(compress, decompress)``."""
        x = self.hook_resid_pre(x)
        res, emb_qk, pos_qk, emb_ov, pos_ov = self.gates
        u = maps[0](self._norm(x)) if maps else self._norm(x)
        out = self.attn(emb_qk * u + pos_qk * pos, emb_ov * u + pos_ov * pos, last_only)
        out = maps[1](out) if maps else out
        attn_out = self.hook_attn_out(out * self.width_mask)
        x = x[:, -1:] if last_only else x
        x = self.hook_resid_mid(res * x + attn_out)
        if self.mlp is not None:
            x = x + self.hook_mlp_out(self.mlp(self._norm(x)) * self.width_mask)
        return self.hook_resid_post(x)


class AttentionOnly(HookedRootModule):
    """The study's transformer; ``forward`` returns the next-token logits at the last position."""

    compress_gate: Tensor  # buffers (compress=True only)
    eye: Tensor

    def __init__(self, cfg: AoTConfig):
        super().__init__()
        self.cfg = cfg
        d_pos = cfg.d_head if cfg.compress else cfg.d_model
        self.W_E = nn.Parameter(torch.randn(cfg.d_vocab, cfg.d_model))
        self.W_pos = nn.Parameter(torch.randn(cfg.n_ctx, d_pos))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.W_U = nn.Parameter(
            torch.randn(cfg.d_model, cfg.d_vocab) / math.sqrt(cfg.d_model)
        )
        if cfg.compress:  # made last: a default model draws the same weights as before
            d, h = cfg.d_model, cfg.d_head
            self.W_C = nn.Parameter(torch.randn(d, h) / math.sqrt(d))
            self.W_D = nn.Parameter(torch.randn(h, d) / math.sqrt(h))
            # 1: the live d differs from the live d_h (the code's compress branch);
            # 0: identity (``eye`` takes the first d_h coordinates of the residual)
            self.register_buffer("compress_gate", torch.tensor(float(d != h)))
            self.register_buffer("eye", torch.eye(d, h), persistent=False)
        self.hook_embed, self.hook_pos_embed, self.hook_final = (
            HookPoint(),
            HookPoint(),
            HookPoint(),
        )
        self.setup()

    def _maps(self) -> tuple[Callable, Callable] | None:
        if not self.cfg.compress:
            return None
        g = self.compress_gate
        return (
            lambda x: g * (x @ self.W_C) + (1 - g) * (x @ self.eye),
            lambda z: g * (z @ self.W_D) + (1 - g) * (z @ self.eye.T),
        )

    def forward(
        self, tokens: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "batch d_vocab"]:
        first = self.blocks[0]
        assert isinstance(first, Block)
        live = first.attn.dim_mask if self.cfg.compress else first.width_mask
        x = self.hook_embed(self.W_E[tokens] * first.width_mask)
        pos = self.hook_pos_embed(self.W_pos[: tokens.shape[-1]] * live)
        maps = self._maps()
        for i, block in enumerate(self.blocks):
            x = block(x, pos, last_only=i == len(self.blocks) - 1, maps=maps)
        return self.hook_final(x[:, -1]) @ self.W_U

    def set_active(
        self,
        n_heads: int | None = None,
        d_head: int | None = None,
        d_model: int | None = None,
        d_mlp: int | None = None,
    ) -> AttentionOnly:
        """Use only the first ``n_heads`` heads, ``d_head`` head dimensions, ``d_model``
        residual dimensions and ``d_mlp`` MLP units (0: no MLP); the rest are masked.

        Raises:
            ValueError: a size above the built one, or a smaller ``d_model`` with LayerNorm
                (its mean and variance would read the masked dimensions).
        """
        for name, value in (
            ("n_heads", n_heads),
            ("d_head", d_head),
            ("d_model", d_model),
            ("d_mlp", d_mlp),
        ):
            built, low = getattr(self.cfg, name), int(name != "d_mlp")
            if value is not None and not low <= value <= built:
                raise ValueError(
                    f"{name}={value}: the model was built with {name}={built}"
                )
        if d_model is not None and d_model < self.cfg.d_model and self.cfg.layernorm:
            raise ValueError(
                f"d_model={d_model} < {self.cfg.d_model} with layernorm=True: LayerNorm "
                "would read the masked dimensions; build the model at its width"
            )
        for block in self.blocks:
            assert isinstance(block, Block)
            if n_heads is not None:
                block.attn.head_mask.copy_(
                    (torch.arange(self.cfg.n_heads) < n_heads).float()
                )
            if d_head is not None:
                block.attn.dim_mask.copy_(
                    (torch.arange(self.cfg.d_head) < d_head).float()
                )
            if d_model is not None:
                block.width_mask.copy_(
                    (torch.arange(self.cfg.d_model) < d_model).float()
                )
            if d_mlp is not None and block.mlp is not None:
                block.mlp.hidden_mask.copy_(
                    (torch.arange(self.cfg.d_mlp) < d_mlp).float()
                )
                block.mlp.on.fill_(float(d_mlp > 0))
        if self.cfg.compress:
            first = self.blocks[0]
            assert isinstance(first, Block)
            live_d, live_h = first.width_mask.sum(), first.attn.dim_mask.sum()
            self.compress_gate.fill_(float(live_d != live_h))
        return self


class LowRank(nn.Module):
    """The sequence encoder ``logits = E[z] @ W_U``.

    ``z = Σ_i t_i N^(S-1-i)`` (``N t1 + t2``).
    """

    place: Tensor  # a buffer

    def __init__(self, d_vocab: int, d_model: int, n_ctx: int = 2):
        super().__init__()
        if min(d_vocab, d_model, n_ctx) < 1:
            raise ValueError(
                f"d_vocab={d_vocab}, d_model={d_model}, n_ctx={n_ctx}: sizes must be positive"
            )
        self.d_vocab, self.n_ctx = d_vocab, n_ctx
        self.W_E = nn.Parameter(torch.randn(d_vocab**n_ctx, d_model))
        self.W_U = nn.Parameter(torch.randn(d_model, d_vocab) / math.sqrt(d_model))
        self.register_buffer(
            "place", d_vocab ** torch.arange(n_ctx - 1, -1, -1), persistent=False
        )

    def forward(
        self, tokens: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "batch d_vocab"]:
        return self.W_E[(tokens * self.place).sum(-1)] @ self.W_U


def pytorch_default_init(model: AttentionOnly) -> AttentionOnly:
    """Redraw ``model``'s weights (in place) as the paper code's modules draw theirs.

    The paper builds its model from ``nn.Linear`` (embedding ``d -> N``, unembedding, the
    shared ``linear_compress``/``linear_decompress``, positions ``d_h -> n_ctx``, the MLP's
    ``d -> w`` with a bias and ``w -> d`` without) and one ``nn.MultiheadAttention(d_h, 1)``
    per head. PyTorch initialises a ``Linear`` weight (and bias) uniformly in
    ``±1/sqrt(fan_in)`` and the attention's stacked ``[3 d_h, d_h]`` query-key-value
    projection Xavier-uniformly, ``±sqrt(6 / (4 d_h))``; its output projection is a
    ``Linear``. Our MLP's second bias, which the paper's lacks, starts at zero. Masks and
    other buffers are left alone.
    """
    cfg = model.cfg
    d, h = cfg.d_model, cfg.d_head
    d_in = h if cfg.compress else d  # the space the heads read

    def uniform(p: Tensor, bound: float) -> None:
        with torch.no_grad():
            p.uniform_(-bound, bound)

    uniform(model.W_E, d**-0.5)
    uniform(model.W_pos, model.W_pos.shape[1] ** -0.5)
    uniform(model.W_U, d**-0.5)
    if cfg.compress:
        uniform(model.W_C, d**-0.5)
        uniform(model.W_D, h**-0.5)
    for block in model.blocks:
        assert isinstance(block, Block)
        attn = block.attn
        for w in (attn.W_Q, attn.W_K, attn.W_V):
            uniform(w, math.sqrt(6 / (d_in + 3 * h)))
        uniform(attn.W_O, h**-0.5)
        if block.mlp is not None:
            for k, layer in enumerate(block.mlp.layers):
                assert isinstance(layer, nn.Linear)
                bound = layer.in_features**-0.5
                uniform(layer.weight, bound)
                if k == 0:
                    uniform(layer.bias, bound)
                else:
                    with torch.no_grad():
                        layer.bias.zero_()
    return model
