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

BitNet also quantizes a BitLinear layer's *input* to ``b`` bits by absmax
(:func:`absmax_quantized`, :func:`quantize_activations`): ``Q_b = 2^(b-1)``,
``x̃ = RoundClip(x · Q_b / γ, -Q_b + 1, Q_b - 1) · γ / Q_b`` with ``γ = max|x|`` over each
token's features (per token, as BitNet b1.58 does; BitNet's Eq. 4 clips at ``±(Q_b - ε)``,
the same integers after rounding), with the straight-through estimator. The dequantizing
factor ``γ / Q_b`` is applied to the input, which equals BitNet's rescaling of the output.

:func:`level_preserving_half` stores latent weights in float16 without changing a single
quantized level: plain rounding moves ~0.06 % of a trained ternary model's entries across a
RoundClip boundary (and a few binary signs), which shifts its losses by up to 6 %.
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
    "absmax_quantized",
    "quantize_activations",
    "level_preserving_half",
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


def absmax_quantized(
    x: Float[Tensor, "... d"], bits: int, eps: float = EPS
) -> Float[Tensor, "... d"]:
    """``x`` rounded to ``bits``-bit integers by each row's absmax, and scaled back.

    ``γ = max|x|`` over the last axis (one token's features), ``Q_b = 2^(bits-1)``; every
    entry becomes ``k · γ / Q_b`` with an integer ``|k| ≤ Q_b - 1``. A zero row stays 0.
    """
    if bits < 2:
        raise ValueError(f"bits={bits}: absmax quantization needs at least 2 bits")
    q = 2 ** (bits - 1)
    gamma = x.abs().amax(-1, keepdim=True).clamp(min=eps)
    return (x * q / gamma).round().clamp(-(q - 1), q - 1) * gamma / q


def quantize_activations(
    x: Float[Tensor, "... d"], bits: int
) -> Float[Tensor, "... d"]:
    """:func:`absmax_quantized` in the forward pass, the identity in the backward pass (STE);
    ``bits=0`` leaves ``x`` in full precision."""
    if bits == 0:
        return x
    return absmax_quantized(x, bits).detach() + (x - x.detach())


def level_preserving_half(
    W: Float[Tensor, ...], weights: Weights, stacked: bool = False, tries: int = 8
) -> Float[Tensor, ...]:
    """``W`` in float16, nudged so that ``quantized`` gives every entry the same level.

    Each entry is rounded to the nearest float16; one whose binary sign or ternary level
    then differs from ``W``'s (the scale recomputed from the rounded tensor) moves one float16
    step towards its own level (both quantizers are monotone in the entry), which puts it
    back on ``W``'s side of the boundary. Repeated while a level differs, since the scale
    moves a little with each nudge.

    Raises:
        ValueError: the levels still differ after ``tries`` rounds.
    """
    half = W.half()
    if weights == "fp":
        return half
    levels = torch.sign(quantized(W.float(), weights, stacked))
    up = torch.full_like(half, float("inf"))
    for _ in range(tries):
        current = torch.sign(quantized(half.float(), weights, stacked))
        wrong = current != levels
        if not bool(wrong.any()):
            return half
        step = torch.nextafter(half, torch.where(levels > current, up, -up))
        half = torch.where(wrong, step, half)
    raise ValueError(
        f"{int(wrong.sum())} quantized levels still differ after {tries} rounds"
    )
