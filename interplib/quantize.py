"""Binary and ternary weights with a straight-through estimator (BitNet and BitNet b1.58).

The model keeps full-precision *latent* weights ``W``; the forward pass uses a quantized copy
``Q(W)``, and the backward pass treats ``Q`` as the identity (straight-through estimator):

    ste(W) = Q(W).detach() + (W - W.detach())      value exactly Q(W), gradient d/dW = I

* binary (Wang et al., 2023): ``Q(W) = sign(W - mean W) · mean|W|``, with sign(0) = +1, so
  every entry is ``±β`` with ``β = ‖W‖₁ / (n m)``;
* ternary (Ma et al., 2024): ``Q(W) = RoundClip(W / (γ + ε), -1, 1) · γ`` with ``γ = mean|W|``,
  so every entry is ``-γ``, ``0`` or ``+γ``.

There is one scale per weight tensor, as one BitLinear layer has; a tensor that stacks the
heads of a layer shares it.
"""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Float
from torch import Tensor

Weights = Literal["fp", "binary", "ternary"]
EPS = 1e-5


def binarize(W: Float[Tensor, "..."]) -> Float[Tensor, "..."]:
    """``sign(W - mean W) · mean|W|`` (no gradient trick; see :func:`quantize`)."""
    sign = torch.where(W - W.mean() >= 0, 1.0, -1.0).to(W.dtype)
    return sign * W.abs().mean()


def ternarize(W: Float[Tensor, "..."], eps: float = EPS) -> Float[Tensor, "..."]:
    """``RoundClip(W / (γ + ε), -1, 1) · γ`` with ``γ = mean|W|``."""
    gamma = W.abs().mean()
    return (W / (gamma + eps)).round().clamp(-1, 1) * gamma


def quantized(W: Float[Tensor, "..."], weights: Weights) -> Float[Tensor, "..."]:
    """The value the forward pass uses, without gradient bookkeeping."""
    if weights == "fp":
        return W
    if weights == "binary":
        return binarize(W)
    if weights == "ternary":
        return ternarize(W)
    raise ValueError(f"weights={weights!r}: use 'fp', 'binary' or 'ternary'")


def quantize(W: Float[Tensor, "..."], weights: Weights) -> Float[Tensor, "..."]:
    """The weights the forward pass uses: ``W`` itself, or its quantized value with STE gradients.

    ``W - W.detach()`` is exactly zero, so the value is exactly the quantized one (no rounding
    from ``W + (Q - W)``), while the gradient flows to ``W`` unchanged.
    """
    if weights == "fp":
        return W
    return quantized(W, weights).detach() + (W - W.detach())


def flip_fraction(before: Tensor, after: Tensor, weights: Weights) -> float:
    """Fraction of entries whose quantized value changed sign/level between two latent weights."""
    if weights == "fp":
        raise ValueError("flip_fraction compares quantized levels; it has no meaning for weights='fp'")
    return float((torch.sign(quantized(before, weights)) != torch.sign(quantized(after, weights))).double().mean())
