"""Attention-only transformers (no MLPs; the chapter uses 1 and 2 layers) and their training probes.

The chapter's models are the Framework paper's toy models: learned token and absolute
position embeddings, ``n_layers`` blocks of multi-head attention written into the residual
stream, an optional LayerNorm before each attention and before the unembedding, no MLPs.

Two implementations of one model, with identical state-dict keys:

* :func:`attention_only` builds it as a TransformerLens 4.3 ``TransformerBridge`` with
  ``TransformerBridge.boot_native``, so TL hooks, ``run_with_cache`` and ``FactoredMatrix``
  views (``model.W_Q``, ``model.OV``...) apply. All analysis (``interplib.interp.circuits``,
  ``paths``, ``ablation``, ``patterns``) runs on it.
* :class:`AttnOnlyTransformer` is the same network in plain torch, for training: importable
  without transformer-lens (the lent GPU machine has none) and about 7 % less CPU time per
  step than the bridge. :func:`to_bridge` turns a trained one into the bridge.

Either trains with :func:`interplib.core.training.train_lm`; pass
``on_evaluate=InductionProbes(cfg)`` to record the in-context score, the repeat probe and the
head scores at every evaluation.

**Gap of TL 4.3 filled here.** On ``boot_native`` models the bridge fires
``hook_attn_scores`` with the *attention pattern* (post-softmax), not the scores: its
``AttentionBridge`` treats the wrapped module's second output as "scores" after the fact.
:func:`attention_only` swaps each native attention for a ``ScoredAttention``, which fires
``hook_attn_scores`` with the real pre-softmax scores (scaled by ``1/sqrt(d_head)``, causal
entries masked to ``-inf``, as ``HookedTransformer`` did), before the softmax, so a hook on
it also edits the pattern. ``hook_pattern``, ``hook_q|k|v|z`` and ``hook_attn_out`` are TL's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import einops
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.core.checks import check_token_ids

__all__ = [
    "AttnOnlyConfig",
    "AttnOnlyTransformer",
    "attention_only",
    "bridge_config",
    "bridge_from_state",
    "to_bridge",
    "Attention",
    "Block",
    "Normalization",
]

Normalization = Literal["LN", "LNPre"] | None


@dataclass(frozen=True)
class AttnOnlyConfig:
    """An attention-only transformer.

    Sizes follow the seed's "minigpt" (d_model 256, 8 heads of 32). Training settings live in
    :class:`interplib.core.training.LMTrainConfig`, the probes recorded during training in
    :class:`~interplib.studies.circuits.analysis.ProbeConfig`.
    """

    n_layers: int = 2
    d_model: int = 256
    n_heads: int = 8
    n_ctx: int = 256
    d_vocab: int = 4096
    normalization: Normalization = (
        None  # None keeps every path expansion exactly linear
    )
    eps: float = 1e-5
    seed: int = 0

    def __post_init__(self):
        if self.n_layers < 1:
            raise ValueError(
                f"n_layers={self.n_layers}: an attention-only model needs at least one layer"
            )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: "
                f"pick n_heads dividing d_model (d_head = d_model / n_heads)"
            )
        if self.normalization not in (None, "LN", "LNPre"):
            raise ValueError(
                f"normalization={self.normalization!r}: use None, 'LN' or 'LNPre'"
            )
        if min(self.n_ctx, self.d_vocab) < 1:
            raise ValueError(
                f"n_ctx={self.n_ctx}, d_vocab={self.d_vocab}: use positive integers"
            )

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def name(self) -> str:  # "attn-only-2l-s0": the artifact stem
        norm = "" if self.normalization is None else f"-{self.normalization.lower()}"
        return f"attn-only-{self.n_layers}l{norm}-s{self.seed}"


def bridge_config(cfg: AttnOnlyConfig):
    """The ``TransformerBridgeConfig`` that ``boot_native`` builds ``cfg``'s model from."""
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig(
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        d_head=cfg.d_head,
        n_layers=cfg.n_layers,
        n_ctx=cfg.n_ctx,
        d_vocab=cfg.d_vocab,
        attn_only=True,
        normalization_type=cfg.normalization,
        positional_embedding_type="standard",
        eps=cfg.eps,
        seed=cfg.seed,
    )


def _scored_attention_class():
    from transformer_lens.hook_points import HookPoint
    from transformer_lens.model_bridge.sources.native.model import NativeAttention

    class ScoredAttention(NativeAttention):
        """``NativeAttention`` that fires its pre-softmax scores through ``hook_attn_scores``.

        Returns ``(out, None)``: with no pattern in second place the bridge does not
        overwrite ``hook_attn_scores`` with the pattern after the fact.
        """

        scores_hook: HookPoint  # the bridge's hook_attn_scores, set by attention_only

        def forward(
            self,
            hidden_states,
            attention_mask=None,
            position_ids=None,
            pattern_fn=None,
            **kwargs,
        ):
            batch, seq, _ = hidden_states.shape
            split = "batch pos (head_index d_head) -> batch head_index pos d_head"
            q = einops.rearrange(self.q(hidden_states), split, head_index=self.n_heads)
            k = einops.rearrange(self.k(hidden_states), split, head_index=self.n_heads)
            v = einops.rearrange(self.v(hidden_states), split, head_index=self.n_heads)
            scores = q @ k.transpose(-2, -1) / self.scale
            mask = self.causal_mask[:seq, :seq]
            if attention_mask is not None:
                mask = self._combine_attention_mask(mask, attention_mask, batch=batch)
            scores = self.scores_hook(scores.masked_fill(mask, float("-inf")))
            pattern = F.softmax(scores, dim=-1).masked_fill(mask, 0.0)
            if pattern_fn is not None:
                pattern = pattern_fn(pattern)
            z = einops.rearrange(
                pattern @ v,
                "batch head_index pos d_head -> batch pos (head_index d_head)",
            )
            return self.o(z), None

    return ScoredAttention


def attention_only(
    cfg: AttnOnlyConfig,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
    tokenizer: Any = None,
):
    """``cfg``'s model as a TransformerLens bridge (``boot_native``), randomly initialised.

    ``hook_attn_scores`` carries the real scores (see the module docstring). Load trained
    weights with ``bridge.load_state_dict(...)`` or :func:`to_bridge`.
    """
    # the function TL attaches as TransformerBridge.boot_native (a setattr pyright cannot see)
    from transformer_lens.model_bridge.sources import boot_native

    bridge = boot_native(
        bridge_config(cfg), tokenizer=tokenizer, dtype=dtype, device=device
    )
    scored = _scored_attention_class()
    for block in bridge.blocks:
        native = block.attn.original_component
        native.__class__ = scored  # same parameters, new forward
        object.__setattr__(
            native, "scores_hook", block.attn.hook_attn_scores
        )  # not a submodule
    return bridge


class _LNPre(nn.Module):
    """LayerNorm without weight or bias (TL's ``LNPre``)."""

    def __init__(self, eps: float):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()


def _norm(cfg: AttnOnlyConfig) -> nn.Module:
    if cfg.normalization == "LN":
        return nn.LayerNorm(cfg.d_model, eps=cfg.eps)
    if cfg.normalization == "LNPre":
        return _LNPre(cfg.eps)
    return nn.Identity()


class Attention(nn.Module):
    causal_mask: Tensor  # a buffer

    def __init__(self, cfg: AttnOnlyConfig):
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.q, self.k, self.v, self.o = (
            nn.Linear(cfg.d_model, cfg.d_model) for _ in range(4)
        )
        self.register_buffer(
            "causal_mask",
            torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool).triu(1),
            persistent=False,
        )

    def forward(
        self, x: Float[Tensor, "batch pos d_model"], patterns: list | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        split = "batch pos (head_index d_head) -> batch head_index pos d_head"
        q, k, v = (
            einops.rearrange(f(x), split, head_index=self.n_heads)
            for f in (self.q, self.k, self.v)
        )
        mask = self.causal_mask[: x.shape[1], : x.shape[1]]
        pattern = (
            (q @ k.transpose(-2, -1) / math.sqrt(self.d_head))
            .masked_fill(mask, float("-inf"))
            .softmax(-1)
        )
        if patterns is not None:
            patterns.append(pattern.detach())
        z = pattern @ v
        return self.o(
            einops.rearrange(
                z, "batch head_index pos d_head -> batch pos (head_index d_head)"
            )
        )


class Block(nn.Module):
    def __init__(self, cfg: AttnOnlyConfig):
        super().__init__()
        self.ln1, self.attn = _norm(cfg), Attention(cfg)

    def forward(
        self, resid: Float[Tensor, "batch pos d_model"], patterns: list | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        return resid + self.attn(self.ln1(resid), patterns)


class AttnOnlyTransformer(nn.Module):
    """The bridge's network in plain torch; ``state_dict()`` keys equal the bridge's.

    Initialised as ``boot_native`` does ("gpt2" mode): weights N(0, 0.8/sqrt(d_model)),
    output projections further scaled by 1/sqrt(2 n_layers), biases 0, LN weights 1.
    """

    def __init__(self, cfg: AttnOnlyConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.d_vocab, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = _norm(cfg)
        self.unembed = nn.Linear(cfg.d_model, cfg.d_vocab, bias=False)
        self.reset_parameters(torch.Generator().manual_seed(cfg.seed))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        std = 0.8 / math.sqrt(self.cfg.d_model)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif ".ln" in name or name.startswith("ln_final"):
                p.fill_(1.0)
            else:
                scale = (
                    std / math.sqrt(2 * self.cfg.n_layers)
                    if name.endswith("attn.o.weight")
                    else std
                )
                p.copy_(torch.randn(p.shape, generator=generator) * scale)

    def forward(
        self, tokens: Int[Tensor, "batch pos"], patterns: list | None = None
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Logits; if ``patterns`` is a list, each layer's pattern is appended to it.

        A pattern is ``[batch head_index query_pos key_pos]``.
        """
        check_token_ids(tokens, n_ctx=self.cfg.n_ctx)
        resid = self.embed(tokens) + self.pos_embed.weight[: tokens.shape[1]]
        for block in self.blocks:
            resid = block(resid, patterns)
        return self.unembed(self.ln_final(resid))


def to_bridge(
    model: AttnOnlyTransformer, dtype: torch.dtype | None = None, tokenizer: Any = None
):
    """The bridge with ``model``'s weights (same keys; the bridge's zero ``unembed.bias`` added)."""
    return bridge_from_state(model.cfg, model.state_dict(), dtype, tokenizer)


def bridge_from_state(
    cfg: AttnOnlyConfig,
    state: dict[str, Tensor],
    dtype: torch.dtype | None = None,
    tokenizer: Any = None,
):
    """The bridge with weights from a state dict, cast to ``dtype``.

    The state dict is e.g. an artifact's float16 tensors.

    Raises:
        ValueError: if the keys or shapes are not those of ``cfg``'s model.
    """
    bridge = attention_only(cfg, dtype=dtype, tokenizer=tokenizer)
    expected = bridge.state_dict()
    missing = sorted(set(expected) - set(state) - {"unembed.bias"})
    unknown = sorted(set(state) - set(expected))
    wrong = sorted(
        k for k in set(state) & set(expected) if state[k].shape != expected[k].shape
    )
    if missing or unknown or wrong:
        raise ValueError(
            f"state dict does not fit {cfg.name}: missing {missing}, unknown {unknown}, "
            f"wrong shapes {wrong}; pass the AttnOnlyConfig the weights were trained with"
        )
    state = {k: v.detach().to("cpu", bridge.W_E.dtype) for k, v in state.items()}
    for key, value in bridge.state_dict().items():
        state.setdefault(
            key, torch.zeros_like(value)
        )  # unembed.bias: the bridge has no b_U to train
    bridge.load_state_dict(state, strict=True)
    return bridge
