"""Fourier analysis of modular addition: the basis mod p, key frequencies, progress measures.

Conventions follow Nanda et al. (2023) and the TransformerLens grokking demo. The basis has
``p`` orthonormal rows over ``x = 0..p-1``, in the order::

    const, sin 1, cos 1, sin 2, cos 2, ..., sin (p-1)/2, cos (p-1)/2

so frequency ``k`` owns rows ``2k-1`` (sin) and ``2k`` (cos), with ``w_k = 2πk/p``. Frequencies
stop at ``(p-1)/2``: ``k`` and ``p-k`` are the same frequency (the original notebook went to
``(p+1)/2`` and so counted frequency 56 of p = 113 twice).
"""

from __future__ import annotations

import math

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "by_distance_and_sum",
    "check_modulus",
    "component_names",
    "cos_sum_fraction",
    "energy_by_frequency",
    "excluded_loss",
    "fourier_2d",
    "fourier_basis",
    "frequency_norms",
    "frequency_share",
    "frequency_terms",
    "gini",
    "key_frequencies",
    "n_freqs",
    "neuron_frequency_fractions",
    "project_sum_terms",
    "restricted_loss",
    "sum_directions",
]


def check_modulus(p: int) -> int:
    """``p`` itself if it is an odd prime; else a ValueError naming the fix."""
    if not isinstance(p, int) or p < 3:
        raise ValueError(
            f"p={p!r}: modular addition needs an odd prime modulus of at least 3, e.g. 113"
        )
    if any(p % d == 0 for d in range(2, math.isqrt(p) + 1)):
        raise ValueError(
            f"p={p} is not prime: Z/pZ needs a prime modulus for every a to have an "
            "inverse; use e.g. 113"
        )
    return p


def n_freqs(p: int) -> int:
    return (check_modulus(p) - 1) // 2


def fourier_basis(
    p: int, dtype: torch.dtype = torch.float64
) -> Float[Tensor, "component x"]:
    """The ``p × p`` orthonormal Fourier basis (rows are components, in the order above)."""
    check_modulus(p)
    x = torch.arange(p, dtype=dtype)
    rows = [torch.ones(p, dtype=dtype)]
    for k in range(1, n_freqs(p) + 1):
        rows += [torch.sin(2 * math.pi * k * x / p), torch.cos(2 * math.pi * k * x / p)]
    basis = torch.stack(rows)
    return basis / basis.norm(dim=-1, keepdim=True)


def component_names(p: int) -> list[str]:
    return ["const"] + [
        f"{f} {k}" for k in range(1, n_freqs(p) + 1) for f in ("sin", "cos")
    ]


def frequency_norms(
    W: Float[Tensor, "... x d"], basis: Float[Tensor, "component x"] | None = None
) -> Float[Tensor, "... freq"]:
    """``‖(B W)_sin k‖² + ‖(B W)_cos k‖²``, square-rooted, for k = 1..(p-1)/2 (constant dropped).

    ``W`` is indexed by the residue x (e.g. ``W_E[:p]``), so each row is one input's vector;
    leading axes (a stack of models) are kept. ``basis`` is :func:`fourier_basis` of ``W``'s
    modulus, dtype and device, built once by a caller that measures many stacks (else it is
    built here, on the CPU, at each call).
    """
    p = W.shape[-2]
    if basis is None:
        basis = fourier_basis(
            p, W.dtype if W.is_floating_point() else torch.float64
        ).to(W.device)
    elif basis.shape != (p, p):
        raise ValueError(
            f"basis has shape {tuple(basis.shape)} but W has {p} residues: pass fourier_basis({p})"
        )
    coeffs = basis @ W
    pairs = einops.rearrange(
        coeffs[..., 1:, :], "... (freq trig) d -> ... freq (trig d)", trig=2
    )
    return pairs.norm(dim=-1)


def key_frequencies(W: Float[Tensor, "x d"], ratio: float = 0.25) -> list[int]:
    """Frequencies k (1-based) whose norm is at least ``ratio`` × the largest.

    The norms are ``frequency_norms(W)``. The rule is stated, not tuned: a grokked embedding has
    a handful of large frequencies and a floor of small ones, and the threshold sits far from
    both.
    """
    if not 0 < ratio < 1:
        raise ValueError(f"ratio={ratio}: use a fraction of the largest norm in (0, 1)")
    norms = frequency_norms(W)
    return [
        k + 1 for k in torch.nonzero(norms >= ratio * norms.max()).flatten().tolist()
    ]


def fourier_2d(
    A: Float[Tensor, "... a b"],
) -> Float[Tensor, "... a_component b_component"]:
    """``B A Bᵀ`` over the last two axes (both of length p)."""
    basis = fourier_basis(A.shape[-1], A.dtype).to(A.device)
    return basis @ A @ basis.T


def energy_by_frequency(
    F: Float[Tensor, "... a_component b_component"],
) -> Float[Tensor, "... a_freq b_freq"]:
    """``F²`` summed over each frequency's sine and cosine rows and columns.

    ``F`` is a 2-D spectrum in the basis order of :func:`fourier_basis` (e.g. from
    :func:`fourier_2d`), ``p × p``; the result is ``(n_freqs + 1) × (n_freqs + 1)``, with
    index 0 the constant and index ``k`` frequency ``k``. It keeps all the energy: the sums
    of the two are equal. Entry ``(k, 0)`` is the energy of waves of ``a`` alone, ``(0, k)``
    of ``b`` alone and ``(k, k)`` of their products.
    """
    p = F.shape[-1]
    if F.shape[-2] != p or p % 2 == 0:
        raise ValueError(
            f"F has shape {tuple(F.shape)}: need a square p × p spectrum over the last two "
            f"axes with p odd, as fourier_2d returns"
        )
    E = F.pow(2)
    E = torch.cat(
        [
            E[..., :1, :],
            einops.reduce(
                E[..., 1:, :], "... (freq trig) b -> ... freq b", "sum", trig=2
            ),
        ],
        dim=-2,
    )
    return torch.cat(
        [
            E[..., :1],
            einops.reduce(E[..., 1:], "... a (freq trig) -> ... a freq", "sum", trig=2),
        ],
        dim=-1,
    )


def by_distance_and_sum(
    values: Float[Tensor, "... a b"],
) -> Float[Tensor, "... distance sum"]:
    """A function on the ``(a, b)`` grid rearranged by ``(a − b, a + b)``.

    Row ``(a − b) mod p``, column ``(a + b) mod p``. For odd ``p`` the map
    ``(a, b) -> (a − b, a + b)`` is a bijection of the grid, so every entry moves and none is
    lost. A function of ``a − b`` alone (a Pizza's correct logit) becomes constant along each
    row; one of ``a + b`` alone constant along each column.
    """
    p = values.shape[-1]
    if values.shape[-2] != p or p % 2 == 0:
        raise ValueError(
            f"values has shape {tuple(values.shape)}: need a square p × p grid over the last "
            f"two axes with p odd (for even p, a − b and a + b do not fix (a, b))"
        )
    grid = torch.arange(p, device=values.device)
    a, b = grid[:, None], grid[None, :]
    out = torch.empty_like(values)
    out[..., (a - b) % p, (a + b) % p] = values
    return out


def neuron_frequency_fractions(
    acts: Float[Tensor, "neuron a b"],
) -> Float[Tensor, "neuron freq"]:
    """For each neuron, the fraction of its variance over the (a, b) grid in frequency k.

    The variance is the non-constant part. With ``F = B A Bᵀ`` and ``F[0, 0]`` set to 0,
    frequency k's share is the energy in rows and columns ``{0, 2k-1, 2k}`` divided by the total
    energy.
    """
    F = fourier_2d(acts.double())
    F[..., 0, 0] = 0
    E = energy_by_frequency(F)  # cells (k, 0), (0, k), (k, k) are frequency k's
    total = E.sum((-2, -1), keepdim=True)[..., 0]
    return (
        E[..., 1:, 0] + E[..., 0, 1:] + E[..., 1:, 1:].diagonal(dim1=-2, dim2=-1)
    ) / total


def frequency_terms(
    acts: Float[Tensor, "neuron a b"], freqs: Int[Tensor, " neuron"]
) -> Float[Tensor, "neuron term"]:
    """Shares of each neuron's non-constant energy in three kinds of term of its frequency ``k``.

    Waves of ``a`` alone, waves of ``b`` alone, and products of the two
    (``cos w_k a · cos w_k b``...).

    With ``F = B A Bᵀ``, these are the entries ``F[{sin k, cos k}, 0]``, ``F[0, {sin k, cos k}]``
    and the 2 × 2 block ``F[{sin k, cos k}, {sin k, cos k}]``; together they are the fraction of
    :func:`neuron_frequency_fractions` for that ``k``.
    """
    if freqs.shape != acts.shape[:1] or not bool(
        ((freqs >= 1) & (freqs <= n_freqs(acts.shape[-1]))).all()
    ):
        raise ValueError(
            f"freqs must hold one frequency in 1..{n_freqs(acts.shape[-1])} per neuron "
            f"({acts.shape[0]}), got {tuple(freqs.shape)} values"
        )
    F = fourier_2d(acts.double())
    F[..., 0, 0] = 0
    energy = F.pow(2)
    rows = torch.stack([2 * freqs - 1, 2 * freqs], dim=-1).to(acts.device)  # [neuron 2]
    n = torch.arange(acts.shape[0], device=acts.device)[:, None]
    a_only = energy[n, rows, 0].sum(-1)
    b_only = energy[n, 0, rows].sum(-1)
    product = energy[n[:, :, None], rows[:, :, None], rows[:, None, :]].sum((-2, -1))
    return (
        torch.stack([a_only, b_only, product], dim=-1) / energy.sum((-2, -1))[:, None]
    )


def gini(c: Float[Tensor, "... n"]) -> Float[Tensor, ...]:
    """Gini coefficient of non-negative values: 0 when all are equal, 1 - 1/n for a single one."""
    if (c < 0).any():
        raise ValueError(
            "gini() takes non-negative values (norms); got a negative entry"
        )
    n = c.shape[-1]
    sorted_c = c.sort(dim=-1).values
    rank = torch.arange(1, n + 1, dtype=c.dtype, device=c.device)
    return 1 - 2 * (
        sorted_c / sorted_c.sum(-1, keepdim=True) * (n - rank + 0.5) / n
    ).sum(-1)


def sum_directions(
    p: int,
    freqs: list[int],
    dtype: torch.dtype = torch.float64,
    width: int | None = None,
) -> Float[Tensor, "direction a b"]:
    """Orthonormal functions ``cos w_k(a+b)`` and ``sin w_k(a+b)`` on the (a, b) grid, two per k.

    ``width`` pads with zero directions up to that many, so that models with different key
    frequencies stack into one ``[model direction a b]`` tensor (a zero direction projects nothing).
    """
    grid = torch.arange(p, dtype=dtype)
    total = grid[:, None] + grid[None, :]
    dirs = []
    for k in freqs:
        if not 1 <= k <= n_freqs(p):
            raise ValueError(
                f"frequency {k} is out of range: use 1..{n_freqs(p)} for p={p}"
            )
        w = 2 * math.pi * k / p
        dirs += [torch.cos(w * total), torch.sin(w * total)]
    if width is not None and width < len(dirs):
        raise ValueError(
            f"width={width} is less than the {len(dirs)} directions of frequencies {freqs}"
        )
    dirs = torch.stack(dirs)
    dirs = dirs / dirs.flatten(1).norm(dim=-1)[:, None, None]
    return torch.cat([dirs, dirs.new_zeros((width or len(dirs)) - len(dirs), p, p)])


def project_sum_terms(
    logits: Float[Tensor, "... a b c"],
    freqs: list[int] | Float[Tensor, "... direction a b"],
) -> Float[Tensor, "... a b c"]:
    """The part of the logits (for each output c) along the key ``cos/sin w_k(a+b)`` directions.

    ``freqs`` is a list of key frequencies, or their directions from :func:`sum_directions`
    (stacked per model, to project a stack of models' logits at once).
    """
    dirs = (
        freqs
        if isinstance(freqs, Tensor)
        else sum_directions(logits.shape[-3], freqs, logits.dtype)
    )
    dirs = dirs.to(logits.device, logits.dtype)
    coeffs = einops.einsum(
        logits, dirs, "... a b c, ... direction a b -> ... direction c"
    )
    return einops.einsum(
        coeffs, dirs, "... direction c, ... direction a b -> ... a b c"
    )


def _loss(
    logits: Float[Tensor, "... a b c"], labels: Int[Tensor, "a b"], mask: Tensor | None
) -> Tensor:
    """Mean cross-entropy over the grid, or over the cells ``mask`` picks: a boolean ``[a b]``
    grid, or the flat (row-major) indices of the cells (what a GPU caller passes: selecting by
    index needs no host sync, while a boolean mask must count its cells on the host first).
    Either gives the same mean, bit for bit, as the per-model ``nll[mask].mean()``."""
    logprobs = logits.double().log_softmax(-1)
    nll = -logprobs.gather(-1, labels.expand(*logits.shape[:-1])[..., None]).squeeze(-1)
    if mask is None:
        return nll.mean((-2, -1))
    if mask.dtype == torch.bool:
        return nll[..., mask].mean(-1)
    return nll.flatten(-2).index_select(-1, mask).mean(-1)


def restricted_loss(
    logits: Float[Tensor, "... a b c"],
    labels: Int[Tensor, "a b"],
    freqs: list[int] | Float[Tensor, "... direction a b"],
    mask: Tensor | None = None,
) -> Tensor:
    """Cross-entropy after keeping only the constant and key-frequency ``w_k(a+b)`` terms of the
    logits (one value per leading index; ``freqs`` as in :func:`project_sum_terms`, ``mask``
    picks the cells: a boolean ``[a b]`` grid or flat row-major indices, in the paper the test
    pairs)."""
    constant = logits.mean((-3, -2), keepdim=True)
    return _loss(constant + project_sum_terms(logits, freqs), labels, mask)


def excluded_loss(
    logits: Float[Tensor, "... a b c"],
    labels: Int[Tensor, "a b"],
    freqs: list[int] | Float[Tensor, "... direction a b"],
    mask: Tensor | None = None,
) -> Tensor:
    """Cross-entropy after removing the key-frequency ``w_k(a+b)`` terms.

    The paper measures it on the training pairs.
    """
    return _loss(logits - project_sum_terms(logits, freqs), labels, mask)


def cos_sum_fraction(logits: Float[Tensor, "a b c"], freqs: list[int]) -> float:
    """Fraction of the logits' variance explained by ``Σ_k α_k cos w_k(a+b-c)``.

    The α are fitted by least squares. A cube ``cos w_k(a+b-c)`` depends on the cell only
    through ``x = a+b-c mod p``, so its inner products are sums over x: the centred logits
    summed per x (``S``) and the cells per x (``n``) give ``⟨L, C_k⟩ = Σ_x S(x) cos w_k x`` and
    ``‖C_k‖² = Σ_x n(x) cos² w_k x`` for every k at once, with no cube built. The cubes of
    distinct k are orthogonal (for a full grid of c).
    """
    p = logits.shape[0]
    grid = torch.arange(p, device=logits.device)
    x = (
        (
            grid[:, None, None]
            + grid[None, :, None]
            - grid[None, None, : logits.shape[-1]]
        )
        % p
    ).flatten()
    centred = logits.double() - logits.double().mean()
    S = torch.bincount(x, weights=centred.flatten(), minlength=p)  # [x]
    n = torch.bincount(x, minlength=p).double()  # [x]
    waves = torch.cos(
        2
        * math.pi
        * torch.tensor(freqs, dtype=torch.float64, device=logits.device)[:, None]
        * grid.double()
        / p
    )  # [k x]
    explained = (waves @ S).pow(2) / (waves.pow(2) @ n)
    return float(explained.sum() / centred.pow(2).sum())


def frequency_share(W: Float[Tensor, "x d"], freqs: list[int]) -> float:
    """Fraction of ``W``'s non-constant energy over ``x`` that lies in frequencies ``freqs``.

    ``Σ_{k in freqs} norms_k² / Σ_k norms_k²`` with ``norms = frequency_norms(W)``: 1 for a
    matrix built from those waves alone, about ``len(freqs) / ((p-1)/2)`` for noise.
    """
    norms = frequency_norms(W.double()).pow(2)
    bad = [k for k in freqs if not 1 <= k <= norms.shape[0]]
    if bad:
        raise ValueError(
            f"frequencies {bad} are out of range: use 1..{norms.shape[0]} for p={W.shape[0]}"
        )
    return float(norms[[k - 1 for k in freqs]].sum() / norms.sum())
