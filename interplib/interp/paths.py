"""Path expansion: an attention-only model's logits as a sum over paths through its heads.

With every attention pattern and LayerNorm scale frozen at its value in the forward pass, a
head is linear in the residual it reads, so the logits split exactly into the direct path,
one path per head and one per chain of heads in increasing layers (virtual heads), plus the
biases (:func:`path_expansion`). :func:`path_ov_circuit` is a path's weight-only OV circuit,
:func:`path_kind` and :func:`target_logit_lift` summarise paths for a table. Conventions and
the LN-folded weights are those of :mod:`interplib.interp.circuits`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import FactoredMatrix

from interplib.core.checks import check_layer_head, check_tokens
from interplib.interp.circuits import (
    Head,
    _scale,
    _stream_paths,
    layer_weights,
    unembed_weights,
)

__all__ = [
    "PathExpansion",
    "path_expansion",
    "path_kind",
    "path_ov_circuit",
    "target_logit_lift",
    "top_promoted_tokens",
]


@dataclass
class PathExpansion:
    """The final residual stream split into paths; ``logits()`` reads them through W_U.

    Labels: ``direct`` (or ``token``/``position`` with ``sources="split"``), one-head paths
    ``L0H3``, virtual heads ``L0H3→L1H5``, and ``bias`` (every bias and its onward paths,
    plus b_U). ``resid[i]`` is path i's contribution to the final residual divided by the
    final LN scale; ``sum(logits()) == model(tokens)``.
    """

    labels: list[str]
    resid: Float[Tensor, "path batch pos d_model"]
    W_U: Float[Tensor, "d_model d_vocab"]
    b_U: Float[Tensor, " d_vocab"]

    def index(self, label: str) -> int:
        if label not in self.labels:
            raise KeyError(
                f"no path {label!r}; paths look like {self.labels[:4]} ... {self.labels[-2:]}"
            )
        return self.labels.index(label)

    def logits(
        self, labels: Sequence[str] | None = None, pos: int | slice = slice(None)
    ) -> Float[Tensor, "path batch pos d_vocab"]:
        """The logit contribution of each path in ``labels`` (default: all) at positions ``pos``.

        Memory is paths × batch × positions × d_vocab: at d_vocab 4096 select paths or
        positions (163 paths × 256 positions is 0.7 GB in float32).
        """
        idx = (
            list(range(len(self.labels)))
            if labels is None
            else [self.index(l) for l in labels]
        )
        pos = (
            slice(pos, pos + 1 if pos != -1 else None) if isinstance(pos, int) else pos
        )
        out = torch.einsum("nbpd,dv->nbpv", self.resid[idx][:, :, pos], self.W_U)
        bias = [i for i, j in enumerate(idx) if self.labels[j] == "bias"]
        out[bias] += self.b_U
        return out

    def top_tokens(
        self, label: str, k: int = 10, batch: int = 0, pos: int = -1
    ) -> tuple[Tensor, Tensor]:
        """``(values, token ids)`` of the k logits that path ``label`` raises most.

        At one position.
        """
        return self.logits([label], pos)[0, batch, 0].topk(k)


def path_expansion(
    model,
    tokens: Int[Tensor, "batch pos"],
    sources: Literal["embed", "split"] = "embed",
) -> PathExpansion:
    """Expand an attention-only model's logits on ``tokens`` into paths, exactly.

    With each head's pattern ``A`` and the LN scales frozen at their values in the forward
    pass, a head maps a residual part x to ``A (x/σ) W_V W_O``, so the final residual is
    the sum over every chain of heads in increasing layers: the direct path, single heads,
    and virtual heads (two or more). A model with ``n_layers`` and H heads has
    ``(1 + H)^n_layers`` chains (times 2 with ``sources="split"``), plus one bias path.
    """
    check_tokens(model, tokens)
    if sources not in ("embed", "split"):
        raise ValueError(
            f"sources={sources!r}: use 'embed' (token + position together) or 'split'"
        )
    _, cache = model.run_with_cache(tokens)
    parts, bias = _stream_paths(model, cache, model.cfg.n_layers, sources)
    W_U, b_U = unembed_weights(model)
    sigma = _scale(model, cache, "ln_final.hook_scale")
    resid = torch.stack(list(parts.values()) + [bias]) / sigma
    return PathExpansion(list(parts) + ["bias"], resid.detach(), W_U, b_U)


def path_ov_circuit(model, heads: Sequence[Head]) -> FactoredMatrix:
    """The weight-only OV circuit of a path, ``W_E W_V¹W_O¹ … W_U``.

    Rows are source tokens, columns logits. ``heads=[]`` is the direct path ``W_E W_U``; ``[(0,
    3), (1, 5)]`` the virtual head L0H3→L1H5 (rank ≤ d_head). LN-folded weights; positions and
    biases are left out.
    """
    W_U, _ = unembed_weights(model)
    left = model.W_E.detach()
    right = None
    last = -1
    for layer, head in heads:
        check_layer_head(model, layer, head)
        if layer <= last:
            raise ValueError(
                f"heads={list(heads)}: a path goes through strictly increasing layers"
            )
        last = layer
        W = layer_weights(model, layer)
        if right is None:
            left, right = left @ W.W_V[head], W.W_O[head]
        else:
            right = right @ W.W_V[head] @ W.W_O[head]
    return (
        FactoredMatrix(left, W_U)
        if right is None
        else FactoredMatrix(left, right @ W_U)
    )


def top_promoted_tokens(
    circuit: FactoredMatrix, sources: Int[Tensor, " n"], k: int = 10
) -> tuple[Float[Tensor, "n k"], Int[Tensor, "n k"]]:
    """For each source token, the k output tokens whose logits a V×V circuit raises most.

    Only the requested rows are formed (``A[sources] @ B``).
    """
    rows = circuit.A[sources] @ circuit.B
    return rows.topk(k, dim=-1)


def path_kind(label: str) -> str:
    """The kind of a :class:`PathExpansion` label: how many heads the path goes through.

    ``"direct"``, ``"token"``, ``"position"`` and ``"bias"`` stay themselves; a path through
    one head is ``"layer {l} head"`` (``"L1H5"``, ``"token→L1H5"``); a path through two or
    more heads is ``"virtual"`` (``"L0H3→L1H5"``).
    """
    heads = re.findall(r"L(\d+)H\d+", label)
    if not heads:
        return label
    return f"layer {heads[0]} head" if len(heads) == 1 else "virtual"


def target_logit_lift(
    path_logits: Float[Tensor, "path batch pos d_vocab"],
    tokens: Int[Tensor, "batch pos"],
) -> Float[Tensor, " path"]:
    """How far each path raises the next token's logit above its own mean logit.

    For path n, ``mean over batch and i < pos-1 of
    path_logits[n, b, i, tokens[b, i+1]] - path_logits[n, b, i, :].mean()``: the direction
    a path pushes the prediction, which sums over paths to the same statistic of the
    model's logits (logits interact through the softmax, so it is not a share of the loss).
    """
    if path_logits.shape[1:3] != tokens.shape:
        raise ValueError(
            f"path_logits {tuple(path_logits.shape)} and tokens {tuple(tokens.shape)}: "
            f"need path_logits[path, batch, pos, d_vocab] for tokens[batch, pos]"
        )
    logits = path_logits[:, :, :-1]
    index = tokens[None, :, 1:, None].expand(logits.shape[0], -1, -1, 1)
    on_target = logits.gather(-1, index)[..., 0]
    return (on_target - logits.mean(-1)).mean((1, 2))
