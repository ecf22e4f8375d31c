"""Head ablations: logits and losses with chosen heads' outputs replaced by zero or their mean.

An ablation replaces a head's ``hook_z`` (its output before ``W_O``) on every position, so the
heads after it see the change too: a causal test of what the head does, unlike the frozen
patterns of :mod:`interplib.interp.paths`. Mean ablation keeps the head's average output and
removes only what depends on the input.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from interplib.core.checks import check_layer_head, check_tokens
from interplib.interp.circuits import Head, _norm_kind, layer_weights
from interplib.interp.patterns import RepeatLoss, check_repeat, repeat_loss

__all__ = [
    "PATH_SIDES",
    "ablated_logits",
    "ablated_loss",
    "ablated_repeat_losses",
    "path_ablated_logits",
    "path_ablation_losses",
    "single_head_ablations",
]

PATH_SIDES = ("q", "k", "v")  # what a receiving head reads: its queries, keys, values


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


def path_ablated_logits(
    model,
    tokens: Int[Tensor, "batch pos"],
    sender: Head,
    receiver: Head,
    side: Literal["q", "k", "v"],
    reference: Tensor | None = None,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with ``sender``'s output mean-ablated in one input of ``receiver`` only.

    Path-specific ablation: the receiver computes its queries, keys or values (``side``)
    from the residual with the sender's output replaced by its mean over ``reference``
    (default ``tokens``); its LayerNorm scale is recomputed on that residual. Every other
    read of the residual, the receiver's other two sides and the unembedding included,
    sees the clean sender. So the sender's role in the receiver's Q, K and V separates:
    a previous-token head feeding an induction head's keys, say.

    Raises:
        ValueError: a side other than q, k, v, or a sender not in an earlier layer.
    """
    if side not in PATH_SIDES:
        raise ValueError(f"side={side!r}: use one of {PATH_SIDES}")
    (ls, hs), (lr, hr) = sender, receiver
    check_layer_head(model, ls, hs)
    check_layer_head(model, lr, hr)
    if ls >= lr:
        raise ValueError(
            f"sender {sender}, receiver {receiver}: the sender must sit in an earlier "
            "layer than the receiver"
        )
    check_tokens(model, tokens)
    mean_z = _z_means(model, tokens if reference is None else reference, [ls])[ls][hs]
    names = (f"blocks.{ls}.attn.hook_z", f"blocks.{lr}.hook_resid_pre")
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    z = cache[names[0]][:, :, hs]
    W_O = model.blocks[ls].attn.W_O.detach()[hs]
    x = cache[names[1]] + (mean_z - z) @ W_O
    if _norm_kind(model) is not None:  # the scale of the changed residual
        centred = x - x.mean(-1, keepdim=True)
        x = x / (centred.pow(2).mean(-1, keepdim=True) + model.cfg.eps).sqrt()
    W = layer_weights(model, lr)
    weight, bias = getattr(W, f"W_{side.upper()}"), getattr(W, f"b_{side.upper()}")
    new = x @ weight[hr] + bias[hr]  # [batch pos d_head]

    def hook(act, hook):
        act = act.clone()
        act[:, :, hr] = new.to(act.dtype)
        return act

    hooks = [(f"blocks.{lr}.attn.hook_{side}", hook)]
    return model.run_with_hooks(tokens, fwd_hooks=hooks).detach()


def path_ablation_losses(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    senders: Sequence[Head],
    receivers: Sequence[Head],
    reference: Tensor | None = None,
) -> Float[Tensor, "side sender receiver"]:
    """Loss on the repeat of ``[..., r, r]`` for every (side, sender, receiver) path ablation.

    One :func:`path_ablated_logits` per entry (``3 × senders × receivers`` forward passes);
    sides in the order of ``PATH_SIDES`` (q, k, v). Compare with the clean
    :func:`~interplib.interp.patterns.repeat_losses`.
    """
    check_repeat(tokens, period)
    out = torch.empty(len(PATH_SIDES), len(senders), len(receivers))
    for (i, side), (j, s), (k, r) in itertools.product(
        enumerate(PATH_SIDES), enumerate(senders), enumerate(receivers)
    ):
        logits = path_ablated_logits(model, tokens, s, r, side, reference)
        loss = F.cross_entropy(
            logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none"
        )
        out[i, j, k] = repeat_loss(loss, period).repeated
    return out
