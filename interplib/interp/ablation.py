"""Head ablations: logits and losses with chosen heads' outputs replaced by zero, their mean,
or their output on other inputs.

An ablation replaces a head's ``hook_z`` (its output before ``W_O``) on every position, so the
heads after it see the change too: a causal test of what the head does, unlike the frozen
patterns of :mod:`interplib.interp.paths`. Mean ablation keeps the head's average output and
removes only what depends on the input. Resample ablation (``kind="resample"``) puts in the
head's output at the same position of *another* input (by default the next sequence of the
batch): the output stays one the head really produces, with its per-position structure, but
carries nothing about this input, where a mean can be an output the head never makes.
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
from interplib.interp.circuits import Head, _norm_kind, layer_weights, unembed_weights
from interplib.interp.patterns import RepeatLoss, check_repeat, repeat_loss

__all__ = [
    "KINDS",
    "Kind",
    "PATH_SIDES",
    "ablated_logits",
    "ablated_loss",
    "ablated_repeat_losses",
    "path_ablated_logits",
    "path_ablation_effects",
    "receiver_direct_logits",
    "resample_source",
    "single_head_ablations",
]

PATH_SIDES = ("q", "k", "v")  # what a receiving head reads: its queries, keys, values
KINDS = ("zero", "mean", "resample")
Kind = Literal["zero", "mean", "resample"]


def _z_means(model, reference: Tensor, layers: Sequence[int]) -> dict[int, Tensor]:
    """Each layer's ``hook_z`` averaged over batch and positions of ``reference``.

    Each is ``[head_index d_head]``.
    """
    check_tokens(model, reference)
    names = [f"blocks.{l}.attn.hook_z" for l in layers]
    _, cache = model.run_with_cache(reference, names_filter=lambda n: n in names)
    return {l: cache[f"blocks.{l}.attn.hook_z"].mean((0, 1)).detach() for l in layers}


def resample_source(tokens: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch pos"]:
    """The default inputs of a resample ablation: each sequence gets the next one's
    (``tokens.roll(-1, 0)``), so no sequence is patched with itself.

    Raises:
        ValueError: a batch of one sequence, which has no other to resample from.
    """
    if tokens.ndim != 2 or tokens.shape[0] < 2:
        raise ValueError(
            f"tokens of shape {tuple(tokens.shape)}: resample ablation needs a batch of "
            "at least 2 sequences, or a reference of the same shape"
        )
    return tokens.roll(-1, 0)


def _replacements(
    model, tokens: Tensor, kind: str, reference: Tensor | None, layers: Sequence[int]
) -> dict[int, Tensor]:
    """What replaces each layer's ``hook_z``: nothing for ``zero``, ``[head_index d_head]``
    means for ``mean``, ``[batch pos head_index d_head]`` outputs on ``reference`` (default
    :func:`resample_source`) for ``resample``."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}: use one of {KINDS}")
    if kind == "zero":
        return {}
    if kind == "mean":
        return _z_means(model, tokens if reference is None else reference, layers)
    source = resample_source(tokens) if reference is None else reference
    if source.shape != tokens.shape:
        raise ValueError(
            f"reference of shape {tuple(source.shape)} for tokens of shape "
            f"{tuple(tokens.shape)}: a resample ablation takes each position's output "
            "from the same position of a reference of the same shape"
        )
    check_tokens(model, source)
    names = [f"blocks.{l}.attn.hook_z" for l in layers]
    _, cache = model.run_with_cache(source, names_filter=lambda n: n in names)
    return {l: cache[f"blocks.{l}.attn.hook_z"].detach() for l in layers}


def ablated_logits(
    model,
    tokens: Int[Tensor, "batch pos"],
    heads: Sequence[Head],
    kind: Kind = "mean",
    reference: Tensor | None = None,
    _replaced: dict[int, Tensor] | None = None,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with the given heads' outputs (``hook_z``) replaced by 0, their mean, or their
    output on another input.

    ``mean``: the mean over batch and positions of ``reference`` (default: ``tokens``
    itself). ``resample``: at each position, the head's output at that position of
    ``reference`` (same shape as ``tokens``; default :func:`resample_source`, the next
    sequence of the batch), each head in the clean run on the reference. Zero ablation
    also removes the head's share of b_V; b_O stays.
    """
    check_tokens(model, tokens)
    for layer, head in heads:
        check_layer_head(model, layer, head)
    layers = sorted({layer for layer, _ in heads})
    replaced = (
        _replaced
        if _replaced is not None
        else _replacements(model, tokens, kind, reference, layers)
    )

    def hook_for(layer):
        def hook(z, hook):
            z = z.clone()
            for l, h in heads:
                if l == layer:
                    z[:, :, h] = 0.0 if kind == "zero" else replaced[layer][..., h, :]
            return z

        return hook

    hooks = [(f"blocks.{l}.attn.hook_z", hook_for(l)) for l in layers]
    return model.run_with_hooks(tokens, fwd_hooks=hooks).detach()


def ablated_repeat_losses(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    heads: Sequence[Head],
    kind: Kind = "mean",
    reference: Tensor | None = None,
    _replaced: dict[int, Tensor] | None = None,
) -> RepeatLoss:
    """:func:`.repeat_losses` with ``heads`` ablated (:func:`ablated_logits`).

    With the induction heads gone, the repeat's loss rises.
    """
    check_repeat(tokens, period)
    logits = ablated_logits(model, tokens, heads, kind, reference, _replaced)
    loss = F.cross_entropy(
        logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none"
    )
    return repeat_loss(loss, period)


def single_head_ablations(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    kind: Kind = "mean",
    reference: Tensor | None = None,
) -> Float[Tensor, "layer head_index"]:
    """Loss on the repeated half with each head ablated alone (one forward pass per head)."""
    check_repeat(tokens, period)
    replaced = _replacements(model, tokens, kind, reference, range(model.cfg.n_layers))
    out = torch.empty(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            out[layer, head] = ablated_repeat_losses(
                model, tokens, period, [(layer, head)], kind, _replaced=replaced
            ).repeated
    return out


def ablated_loss(
    model,
    tokens: Int[Tensor, "batch pos"],
    heads: Sequence[Head],
    kind: Kind = "mean",
    reference: Tensor | None = None,
) -> float:
    """Mean next-token loss on ``tokens`` with ``heads`` ablated (:func:`ablated_logits`).

    The mean of ``-log p(tokens[:, i+1] | tokens[:, :i+1])`` over every sequence and
    position i; ``heads=[]`` is the clean model's loss. Mean ablation averages each head's
    ``hook_z`` over ``reference`` (default: ``tokens``); resample ablation reads it at the
    same position of ``reference`` (default: the next sequence of the batch).
    """
    logits = ablated_logits(model, tokens, heads, kind, reference)
    return float(F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:]))


def _check_path(model, sender: Head, receiver: Head, side: str) -> None:
    if side not in PATH_SIDES:
        raise ValueError(f"side={side!r}: use one of {PATH_SIDES}")
    check_layer_head(model, *sender)
    check_layer_head(model, *receiver)
    if sender[0] >= receiver[0]:
        raise ValueError(
            f"sender {sender}, receiver {receiver}: the sender must sit in an earlier "
            "layer than the receiver"
        )


def _sender_z(
    replaced: dict[int, Tensor], sender: Head, kind: str, like: Tensor
) -> Tensor:
    """What replaces ``sender``'s z in a path ablation: zeros, its ``[d_head]`` mean, or
    its ``[batch pos d_head]`` output on the reference (:func:`_replacements`)."""
    if kind == "zero":
        return torch.zeros_like(like)
    return replaced[sender[0]][..., sender[1], :]


def _changed_input(model, cache, sender, receiver, side, new_z, W=None) -> Tensor:
    """What ``receiver`` computes on ``side`` from the residual with ``sender``'s output
    replaced by ``new_z @ W_O`` (``new_z``: ``[d_head]`` or ``[batch pos d_head]``), its
    LN scale recomputed: ``[batch pos d_head]``."""
    (ls, hs), (lr, hr) = sender, receiver
    z = cache[f"blocks.{ls}.attn.hook_z"][:, :, hs]
    W_O = model.blocks[ls].attn.W_O.detach()[hs]
    x = cache[f"blocks.{lr}.hook_resid_pre"] + (new_z - z) @ W_O
    if _norm_kind(model) is not None:  # the scale of the changed residual
        centred = x - x.mean(-1, keepdim=True)
        x = x / (centred.pow(2).mean(-1, keepdim=True) + model.cfg.eps).sqrt()
    W = layer_weights(model, lr) if W is None else W
    weight, bias = getattr(W, f"W_{side.upper()}"), getattr(W, f"b_{side.upper()}")
    return x @ weight[hr] + bias[hr]


def path_ablated_logits(
    model,
    tokens: Int[Tensor, "batch pos"],
    sender: Head,
    receiver: Head,
    side: Literal["q", "k", "v"],
    kind: Kind = "mean",
    reference: Tensor | None = None,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with ``sender``'s output ablated in one input of ``receiver`` only.

    Path-specific ablation: the receiver computes its queries, keys or values (``side``)
    from the residual with the sender's output replaced as in :func:`ablated_logits`
    (``kind``: zero; its mean over ``reference``, default ``tokens``; or its output at the
    same position of ``reference``, default the next sequence of the batch); its LayerNorm
    scale is recomputed on that residual. Every other read of the residual, the receiver's
    other two sides and the unembedding included, sees the clean sender. So the sender's
    role in the receiver's Q, K and V separates: a previous-token head feeding an
    induction head's keys, say.

    Raises:
        ValueError: a side other than q, k, v, a sender not in an earlier layer, an
            unknown ``kind``, or a resample reference of another shape.
    """
    _check_path(model, sender, receiver, side)
    check_tokens(model, tokens)
    replaced = _replacements(model, tokens, kind, reference, [sender[0]])
    _, cache = model.run_with_cache(tokens)
    z = cache[f"blocks.{sender[0]}.attn.hook_z"][:, :, sender[1]]
    new_z = _sender_z(replaced, sender, kind, z)
    new = _changed_input(model, cache, sender, receiver, side, new_z)

    def patch(act, hook):
        act = act.clone()
        act[:, :, receiver[1]] = new.to(act.dtype)
        return act

    hooks = [(f"blocks.{receiver[0]}.attn.hook_{side}", patch)]
    return model.run_with_hooks(tokens, fwd_hooks=hooks).detach()


def path_ablation_effects(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    senders: Sequence[Head],
    receivers: Sequence[Head],
    kind: Kind = "mean",
    reference: Tensor | None = None,
) -> Float[Tensor, "side sender receiver"]:
    """The receiver's direct logit on the repeat after every (side, sender, receiver)
    path ablation (:func:`path_ablated_logits`, same ``kind`` and ``reference``).

    The direct logit is how far the receiver's own output raises the correct next token's
    logit above the mean logit, through the unembedding with the final LN scale frozen
    at the clean run's, averaged over the repeat's targets 2..period of ``[..., r, r]``.
    It shows a path into one receiver even where other heads make up for the loss. The
    receiver's pattern and output are recomputed from the changed side and the clean
    cache, so the whole table costs one forward pass. Sides in ``PATH_SIDES`` order.
    """
    check_repeat(tokens, period)
    for s, r in itertools.product(senders, receivers):
        _check_path(model, s, r, "q")
    layers = sorted({l for l, _ in senders})
    replaced = _replacements(model, tokens, kind, reference, layers)
    _, cache = model.run_with_cache(tokens)
    W_U, _ = unembed_weights(model)
    weights = {l: layer_weights(model, l) for l in {l for l, _ in receivers}}
    out = torch.empty(len(PATH_SIDES), len(senders), len(receivers))
    for (i, side), (j, s), (k, r) in itertools.product(
        enumerate(PATH_SIDES), enumerate(senders), enumerate(receivers)
    ):
        lr, hr = r
        qkv = {n: cache[f"blocks.{lr}.attn.hook_{n}"][:, :, hr] for n in PATH_SIDES}
        W = weights[lr]
        z = cache[f"blocks.{s[0]}.attn.hook_z"][:, :, s[1]]
        new_z = _sender_z(replaced, s, kind, z)
        qkv[side] = _changed_input(model, cache, s, r, side, new_z, W)
        out[i, j, k] = _direct_logit(model, cache, r, tokens, period, W_U, qkv, W.scale)
    return out


def _direct_logit(model, cache, receiver, tokens, period, W_U, qkv=None, scale=1.0):
    """The receiver's output (from ``qkv``, default the cached ones) through the frozen
    final LN scale and the unembedding: correct token minus mean logit, over the repeat's
    targets 2..period (positions T - period .. T - 2 predict them)."""
    lr, hr = receiver
    if qkv is None:
        z = cache[f"blocks.{lr}.attn.hook_z"][:, :, hr]
    else:
        T = tokens.shape[1]
        scores = qkv["q"] @ qkv["k"].transpose(-1, -2) / scale
        future = torch.ones(T, T, dtype=torch.bool, device=scores.device).triu(1)
        z = scores.masked_fill(future, float("-inf")).softmax(-1) @ qkv["v"]
    res = z @ model.blocks[lr].attn.W_O.detach()[hr]
    if _norm_kind(model) is not None:
        res = res / cache["ln_final.hook_scale"]
    T = tokens.shape[1]
    # the target's column minus the mean column: never the [.. d_vocab] logits
    lift = W_U[:, tokens[:, T - period + 1 :]] - W_U.mean(1)[:, None, None]
    at = res[:, T - period : T - 1]  # [batch period-1 d_model]
    return float(torch.einsum("bpd,dbp->bp", at, lift).mean())


def receiver_direct_logits(
    model, tokens: Int[Tensor, "batch pos"], period: int, receivers: Sequence[Head]
) -> Float[Tensor, " receiver"]:
    """Each receiver's direct logit on the repeat in the clean model (see
    :func:`path_ablation_effects`)."""
    check_repeat(tokens, period)
    for l, h in receivers:
        check_layer_head(model, l, h)
    _, cache = model.run_with_cache(tokens)
    W_U, _ = unembed_weights(model)
    return torch.tensor(
        [_direct_logit(model, cache, r, tokens, period, W_U) for r in receivers]
    )
