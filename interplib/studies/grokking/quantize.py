"""Binary and ternary weights with a straight-through estimator (BitNet and BitNet b1.58).

The model keeps full-precision *latent* weights ``W``; the forward pass uses a quantized copy
``Q(W)``, and the backward pass treats ``Q`` as the identity (straight-through estimator)::

    ste(W) = Q(W).detach() + (W - W.detach())      value exactly Q(W), gradient d/dW = I

* binary (Wang et al., 2023): ``Q(W) = sign(W - mean W) · mean|W|``, with sign(0) = +1, so
  every entry is ``±β`` with ``β = ‖W‖₁ / (n m)``;
* ternary (Ma et al., 2024): ``Q(W) = RoundClip(W / (γ + ε), -1, 1) · γ`` with ``γ = mean|W|``,
  so every entry is ``-γ``, ``0`` or ``+γ``.

There is one scale per weight tensor, as one BitLinear layer has; a tensor that stacks the
heads of a layer shares it.
"""

from __future__ import annotations

from typing import Literal, overload

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = [
    "Weights",
    "EPS",
    "binarize",
    "ternarize",
    "quantized",
    "quantize",
    "flip_fraction",
]

Weights = Literal["fp", "binary", "ternary"]
EPS = 1e-5


def _mean(W: Tensor, stacked: bool) -> Tensor:
    """The mean over one matrix: all of ``W``, or each ``W[k]`` of a stack (keeping dims)."""
    return W.mean(dim=tuple(range(1, W.ndim)), keepdim=True) if stacked else W.mean()


def binarize(W: Float[Tensor, ...], stacked: bool = False) -> Float[Tensor, ...]:
    """``sign(W - mean W) · mean|W|`` (no gradient trick; see :func:`quantize`).

    ``stacked=True`` quantizes each ``W[k]`` of a ``[model ...]`` stack with its own statistics.
    """
    sign = torch.where(W - _mean(W, stacked) >= 0, 1.0, -1.0).to(W.dtype)
    return sign * _mean(W.abs(), stacked)


def ternarize(
    W: Float[Tensor, ...], eps: float = EPS, stacked: bool = False
) -> Float[Tensor, ...]:
    """``RoundClip(W / (γ + ε), -1, 1) · γ`` with ``γ = mean|W|`` (per ``W[k]`` if ``stacked``)."""
    gamma = _mean(W.abs(), stacked)
    return (W / (gamma + eps)).round().clamp(-1, 1) * gamma


def quantized(
    W: Float[Tensor, ...], weights: Weights, stacked: bool = False
) -> Float[Tensor, ...]:
    """The value the forward pass uses, without gradient bookkeeping."""
    if weights == "fp":
        return W
    if weights == "binary":
        return binarize(W, stacked=stacked)
    if weights == "ternary":
        return ternarize(W, stacked=stacked)
    raise ValueError(f"weights={weights!r}: use 'fp', 'binary' or 'ternary'")


def quantize(
    W: Float[Tensor, ...], weights: Weights, stacked: bool = False
) -> Float[Tensor, ...]:
    """The weights the forward pass uses: ``W`` itself, or its quantized value with STE gradients.

    ``W - W.detach()`` is exactly zero, so the value is exactly the quantized one (no rounding
    from ``W + (Q - W)``), while the gradient flows to ``W`` unchanged.
    """
    if weights == "fp":
        return W
    return quantized(W, weights, stacked).detach() + (W - W.detach())


@overload
def flip_fraction(
    before: Tensor, after: Tensor, weights: Weights, stacked: Literal[False] = False
) -> float: ...
@overload
def flip_fraction(
    before: Tensor, after: Tensor, weights: Weights, stacked: Literal[True]
) -> Tensor: ...
@overload
def flip_fraction(
    before: Tensor, after: Tensor, weights: Weights, stacked: bool = False
) -> float | Tensor: ...
def flip_fraction(
    before: Tensor, after: Tensor, weights: Weights, stacked: bool = False
) -> float | Tensor:
    """Fraction of entries whose quantized value changed sign/level between two latent weights
    (a float; with ``stacked`` a ``[model]`` tensor, one fraction per ``W[k]``)."""
    if weights == "fp":
        raise ValueError(
            "flip_fraction compares quantized levels; it has no meaning for weights='fp'"
        )
    changed = torch.sign(quantized(before, weights, stacked)) != torch.sign(
        quantized(after, weights, stacked)
    )
    return (
        changed.double().flatten(1).mean(-1)
        if stacked
        else float(changed.double().mean())
    )
