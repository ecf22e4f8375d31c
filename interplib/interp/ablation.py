"""Head ablations: logits and losses with chosen heads' outputs replaced by zero or their mean.

An ablation replaces a head's ``hook_z`` (its output before ``W_O``) on every position, so the
heads after it see the change too: a causal test of what the head does, unlike the frozen
patterns of :mod:`interplib.interp.paths`. Mean ablation keeps the head's average output and
removes only what depends on the input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from interplib.core.checks import check_layer_head, check_tokens
from interplib.interp.circuits import Head
from interplib.interp.patterns import RepeatLoss, check_repeat, repeat_loss

__all__ = [
    "ablated_logits",
    "ablated_loss",
    "ablated_repeat_losses",
    "single_head_ablations",
]


def _z_means(model, reference: Tensor, layers: Sequence[int]) -> dict[int, Tensor]:
    """Each layer's ``hook_z`` averaged over batch and positions of ``reference``.

    Each is ``[head_index d_head]``.
    """
    check_tokens(model, reference)
    names = [f"blocks.{l}.attn.hook_z" for l in layers]
    _, cache = model.run_with_cache(reference, names_filter=lambda n: n in names)
    return {l: cache[f"blocks.{l}.attn.hook_z"].mean((0, 1)).detach() for l in layers}


def ablated_logits(
    model,
    tokens: Int[Tensor, "batch pos"],
    heads: Sequence[Head],
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
    _means: dict[int, Tensor] | None = None,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with the given heads' outputs (``hook_z``) replaced by 0 or by their mean.

    The mean is over batch and positions of ``reference`` (default: ``tokens`` itself).
    Zero ablation also removes the head's share of b_V; b_O stays.
    """
    check_tokens(model, tokens)
    if kind not in ("zero", "mean"):
        raise ValueError(f"kind={kind!r}: use 'zero' or 'mean'")
    for layer, head in heads:
        check_layer_head(model, layer, head)
    layers = sorted({layer for layer, _ in heads})
    means: dict[int, Tensor] = {}  # read only for kind="mean"
    if kind == "mean":
        means = (
            _means
            if _means is not None
            else _z_means(model, tokens if reference is None else reference, layers)
        )

    def hook_for(layer):
        def hook(z, hook):
            z = z.clone()
            for l, h in heads:
                if l == layer:
                    z[:, :, h] = 0.0 if kind == "zero" else means[layer][h]
            return z

        return hook

    hooks = [(f"blocks.{l}.attn.hook_z", hook_for(l)) for l in layers]
    return model.run_with_hooks(tokens, fwd_hooks=hooks).detach()


def ablated_repeat_losses(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    heads: Sequence[Head],
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
    _means: dict[int, Tensor] | None = None,
) -> RepeatLoss:
    """:func:`.repeat_losses` with ``heads`` ablated.

    With the induction heads gone, the repeat's loss rises.
    """
    check_repeat(tokens, period)
    logits = ablated_logits(model, tokens, heads, kind, reference, _means)
    loss = F.cross_entropy(
        logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none"
    )
    return repeat_loss(loss, period)


def single_head_ablations(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
) -> Float[Tensor, "layer head_index"]:
    """Loss on the repeated half with each head ablated alone (one forward pass per head)."""
    check_repeat(tokens, period)
    means = None
    if kind == "mean":
        means = _z_means(
            model, tokens if reference is None else reference, range(model.cfg.n_layers)
        )
    out = torch.empty(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            out[layer, head] = ablated_repeat_losses(
                model, tokens, period, [(layer, head)], kind, _means=means
            ).repeated
    return out


def ablated_loss(
    model,
    tokens: Int[Tensor, "batch pos"],
    heads: Sequence[Head],
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
) -> float:
    """Mean next-token loss on ``tokens`` with ``heads`` ablated (:func:`ablated_logits`).

    The mean of ``-log p(tokens[:, i+1] | tokens[:, :i+1])`` over every sequence and
    position i; ``heads=[]`` is the clean model's loss. Mean ablation averages each head's
    ``hook_z`` over ``reference`` (default: ``tokens``).
    """
    logits = ablated_logits(model, tokens, heads, kind, reference)
    return float(F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:]))
