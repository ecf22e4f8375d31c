"""n-gram laws over token triples, and what theory says an attention layer can store of them.

A **trigram law** is a distribution over sequences ``(t1, t2, t3)`` of tokens in ``{0..N-1}``:
``π(t1, t2, t3) = π0(t1) π1(t2 | t1) π2(t3 | t1, t2)``. A model sees the **context**
``(t1, t2)`` and must predict ``π2(· | t1, t2)``. With ``π2`` deterministic the law is a
look-up table ``g(t1, t2)`` of **associations**; the number of contexts with positive
probability is ``T0``.

Builders (all seeded through an explicit ``torch.Generator``):

* :func:`power_unif_law`: geometric weights ``α^k`` on ``n`` tokens, randomly permuted per context
  (``α = 1`` gives uniform supports, ``n = 1`` at the last level a deterministic table);
* :func:`last_position_law`: a noisy table, probability ``p`` on one token per context;
* :func:`rank_d_law`, :func:`almost_rank_d_law`: laws whose centred log-probability matrix has
  rank exactly ``d`` (or ``d`` large singular values and the rest small).

Then :func:`sample` (training batches), :func:`contexts` (every context with its weight and
target row, for exact losses), :func:`conditional_entropy`, and the bounds of Dana, Pydi &
Chevaleyre (2025): :func:`capacity`, :func:`previous_capacity`, :func:`accuracy_bound`, and the
two-dimensional construction :func:`circle_construction` that stores any table.

Contexts are flattened as ``z = N·t1 + t2`` (``t1`` slowest) everywhere in this package; the
original notebook mixed ``t1 + N·t2`` and ``N·t1 + t2`` (see the chapter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "TrigramLaw",
    "power_unif_law",
    "last_position_law",
    "rank_d_law",
    "almost_rank_d_law",
    "sample",
    "contexts",
    "conditional_entropy",
    "table",
    "capacity",
    "previous_capacity",
    "accuracy_bound",
    "associations",
    "circle_unembedding",
    "circle_construction",
]

_TOL = 1e-6


def _check_distribution(name: str, p: Tensor) -> None:
    if (p < 0).any():
        raise ValueError(
            f"{name} has negative probabilities (min {p.min().item():.3g}); use weights >= 0"
        )
    sums = p.sum(-1)
    bad = (sums - 1).abs() > _TOL
    if bad.any():
        raise ValueError(
            f"{name} has rows that do not sum to one (e.g. {sums[bad].flatten()[0].item():.6g}); "
            "normalise each row with p / p.sum(-1, keepdim=True)"
        )


@dataclass(frozen=True)
class TrigramLaw:
    """``π0 [N]``, ``π1 [N N]`` (row ``t1``), ``π2 [N N N]`` (row ``t1, t2``), float64."""

    pi0: Float[Tensor, " d_vocab"]
    pi1: Float[Tensor, "d_vocab d_vocab"]
    pi2: Float[Tensor, "d_vocab d_vocab d_vocab"]

    def __post_init__(self):
        n = self.pi0.shape[0]
        if self.pi1.shape != (n, n) or self.pi2.shape != (n, n, n):
            raise ValueError(
                f"shapes {tuple(self.pi0.shape)}, {tuple(self.pi1.shape)}, "
                f"{tuple(self.pi2.shape)}: "
                f"need [N], [N N], [N N N] with one N"
            )
        for name, p in (("pi0", self.pi0), ("pi1", self.pi1), ("pi2", self.pi2)):
            _check_distribution(name, p)

    @property
    def d_vocab(self) -> int:
        return self.pi0.shape[0]

    @property
    def prior(self) -> Float[Tensor, "d_vocab d_vocab"]:
        """The weight of each context, ``π(t1, t2) = π0(t1) π1(t2 | t1)``."""
        return self.pi0[:, None] * self.pi1

    @property
    def n_contexts(self) -> int:
        """``T0``, the number of contexts with positive probability."""
        return int((self.prior > 0).sum())


def _check_sizes(N: int, supports: Sequence[int], levels: int) -> None:
    if N < 2:
        raise ValueError(f"N={N}: a vocabulary needs at least 2 tokens")
    if len(supports) != levels:
        raise ValueError(
            f"got {len(supports)} support sizes, need {levels} (one per level)"
        )
    for i, n in enumerate(supports):
        if not 1 <= n <= N:
            raise ValueError(
                f"support size {n} at level {i} is impossible with N={N}; use 1 <= n <= N"
            )


def _permuted_rows(
    base: Tensor, rows: int, generator: torch.Generator, one_by_one: bool = False
) -> Tensor:
    """``rows`` random permutations of ``base``: argsorts of uniforms, or (``one_by_one``)
    one ``torch.randperm`` per row, as the paper's code draws them."""
    if one_by_one:
        perm = torch.stack(
            [torch.randperm(base.shape[0], generator=generator) for _ in range(rows)]
        )
    else:
        perm = torch.rand(rows, base.shape[0], generator=generator).argsort(-1)
    return base[perm]


def power_unif_law(
    alphas: Sequence[float],
    supports: Sequence[int],
    N: int,
    generator: torch.Generator,
    randperm: bool = False,
) -> TrigramLaw:
    """Level ``i`` puts weight ``∝ α_i^k`` on ``n_i`` tokens, permuted independently per context.

    ``alphas = (1, 1, 1)``, ``supports = (N, N, 1)`` is a uniform prior over all ``N²`` contexts
    with a deterministic next token: the paper's look-up table with ``T0 = N²``. With
    ``randperm`` each row is one ``torch.randperm(N)`` in turn (1, then ``N``, then ``N²``
    rows), the draws of the paper code's ``utils.power_unif_law``: from a generator seeded
    as its global one was, the same law (the same torch generator stream).

    Raises:
        ValueError: ``N < 2``, a support size outside ``[1, N]``, or an ``α`` that is not positive.
    """
    _check_sizes(N, supports, 3)
    if len(alphas) != 3 or any(a <= 0 for a in alphas):
        raise ValueError(
            f"alphas={tuple(alphas)}: need three positive decay factors (1 = uniform)"
        )
    levels = []
    for rows, alpha, n in zip((1, N, N * N), alphas, supports):
        k = torch.arange(N, dtype=torch.float64)
        base = torch.where(k < n, float(alpha) ** k, torch.zeros_like(k))
        levels.append(_permuted_rows(base / base.sum(), rows, generator, randperm))
    return TrigramLaw(
        levels[0][0],
        levels[1],
        einops.rearrange(levels[2], "(t1 t2) y -> t1 t2 y", t1=N),
    )


def last_position_law(
    N: int,
    k: float,
    p: float,
    generator: torch.Generator,
    supports: Sequence[int] | None = None,
) -> TrigramLaw:
    """A noisy look-up table: each context puts ``p`` on one token, ``(1-p)/(N-1)`` on the others.

    The correct token has index ``i`` with weight ``∝ (1 - i/N)^k`` (``k = 0``: uniform).
    The prior is uniform on random supports of sizes ``supports`` (default ``(N, N)``).
    """
    supports = tuple(supports or (N, N))
    _check_sizes(N, supports, 2)
    if not 0 <= p <= 1:
        raise ValueError(
            f"p={p}: the probability of the correct token must be in [0, 1]"
        )
    if k < 0:
        raise ValueError(f"k={k}: use k >= 0 (0 draws the correct token uniformly)")
    prior = power_unif_law((1.0, 1.0, 1.0), (*supports, 1), N, generator)
    weights = (1 - torch.arange(N, dtype=torch.float64) / N) ** k
    correct = torch.multinomial(weights, N * N, replacement=True, generator=generator)
    pi2 = torch.full((N * N, N), (1 - p) / (N - 1), dtype=torch.float64)
    pi2[torch.arange(N * N), correct] = p
    return TrigramLaw(
        prior.pi0, prior.pi1, einops.rearrange(pi2, "(t1 t2) y -> t1 t2 y", t1=N)
    )


def _law_from_logits(logits: Float[Tensor, "context d_vocab"], N: int) -> TrigramLaw:
    pi2 = torch.softmax(logits, -1)
    uniform = torch.full((N,), 1.0 / N, dtype=torch.float64)
    return TrigramLaw(
        uniform,
        uniform.expand(N, N).clone(),
        einops.rearrange(pi2, "(t1 t2) y -> t1 t2 y", t1=N),
    )


def rank_d_law(
    N: int,
    d: int,
    generator: torch.Generator,
    *,
    axis_aligned: bool = True,
    scale: float = 1.0,
    importance: float = 0.9,
) -> tuple[TrigramLaw, Float[Tensor, "d_vocab d"]]:
    """Uniform prior; ``π2(· | z) = softmax(scale · W c_z)`` with ``W [N d]``.

    The log-probs have rank ``d``.

    ``W`` is the first ``d`` columns of the identity (axis-aligned) or Gaussian; the codes
    ``c_z ~ N(0, diag(importance^{2i}))`` give later directions less weight. Unlike the original
    ``gen_d_law`` there is no shared bias, so the *centred* log-probability matrix has rank at
    most ``d``.

    Returns:
        the law and ``W``, whose column space is the law's log-probability subspace.
    """
    if not 1 <= d <= N:
        raise ValueError(f"d={d} with N={N}: the rank must satisfy 1 <= d <= N")
    W = (
        torch.eye(N, d, dtype=torch.float64)
        if axis_aligned
        else torch.randn(N, d, generator=generator, dtype=torch.float64)
    )
    codes = torch.randn(N * N, d, generator=generator, dtype=torch.float64)
    codes = codes * importance ** torch.arange(d, dtype=torch.float64)
    return _law_from_logits(scale * codes @ W.T, N), W


def almost_rank_d_law(
    N: int,
    d: int,
    generator: torch.Generator,
    *,
    small: float = 0.1,
    scale: float = 3.0,
) -> TrigramLaw:
    """Uniform prior; logits ``scale · U diag(s) V``.

    ``s_i = 1`` for ``i < d`` and ``small`` after.
    """
    if not 1 <= d <= N:
        raise ValueError(f"d={d} with N={N}: need 1 <= d <= N")
    U, _ = torch.linalg.qr(
        torch.randn(N * N, N, generator=generator, dtype=torch.float64)
    )
    V, _ = torch.linalg.qr(torch.randn(N, N, generator=generator, dtype=torch.float64))
    s = torch.where(torch.arange(N) < d, 1.0, small).double()
    return _law_from_logits(scale * math.sqrt(N) * (U * s) @ V, N)


def sample(
    law: TrigramLaw, batch: int, generator: torch.Generator
) -> Int[Tensor, "batch 3"]:
    """``batch`` i.i.d. sequences ``(t1, t2, t3) ~ π``."""
    if batch < 1:
        raise ValueError(f"batch={batch}: need at least one sequence")
    N = law.d_vocab
    z = torch.multinomial(
        law.prior.flatten(), batch, replacement=True, generator=generator
    )
    rows = einops.rearrange(law.pi2, "t1 t2 y -> (t1 t2) y")[z]
    t3 = torch.multinomial(rows, 1, generator=generator).squeeze(-1)
    return torch.stack([z // N, z % N, t3], dim=-1)


def contexts(
    law: TrigramLaw, eps: float = 0.0
) -> tuple[
    Int[Tensor, "context 2"],
    Float[Tensor, " context"],
    Float[Tensor, "context d_vocab"],
]:
    """Every context with weight ``> eps``.

    Tokens ``(t1, t2)``, weight ``π(t1, t2)``, target ``π2(·|t1, t2)``. Ordered by
    ``z = N·t1 + t2``. Exact losses are weighted sums over these rows.
    """
    N = law.d_vocab
    weight = law.prior.flatten()
    keep = torch.nonzero(weight > eps).squeeze(-1)
    tokens = torch.stack([keep // N, keep % N], dim=-1)
    target = einops.rearrange(law.pi2, "t1 t2 y -> (t1 t2) y")[keep]
    return tokens, weight[keep], target


def _entropy_rows(p: Tensor) -> Tensor:
    return -torch.where(p > 0, p * p.log(), torch.zeros_like(p)).sum(-1)


def conditional_entropy(law: TrigramLaw) -> float:
    """``H̄ = Σ π(t1, t2) H(π2(· | t1, t2))`` in nats: the least expected next-token loss."""
    return float((law.prior * _entropy_rows(law.pi2)).sum())


def table(law: TrigramLaw) -> Int[Tensor, "d_vocab d_vocab"]:
    """``g(t1, t2) = argmax π2(· | t1, t2)``: the most likely next token of each context."""
    return law.pi2.argmax(-1)


def capacity(n_heads: int, d_head: int, d_model: int) -> int:
    """``H·d_h + d``: associations one attention layer can store (Dana et al. 2025, Cor. 1)."""
    if min(n_heads, d_head, d_model) < 1:
        raise ValueError(
            f"H={n_heads}, d_h={d_head}, d={d_model}: sizes must be positive"
        )
    return n_heads * d_head + d_model


def previous_capacity(n_heads: int, d_head: int) -> int:
    """``H(d_h - 1) + 1``: the earlier bound of Mahdavi et al. (2024)."""
    if min(n_heads, d_head) < 1:
        raise ValueError(f"H={n_heads}, d_h={d_head}: sizes must be positive")
    return n_heads * (d_head - 1) + 1


def accuracy_bound(stored: float | Tensor, n_contexts: int, N: int) -> float | Tensor:
    """``1/N + (1 - 1/N) min(1, C / T0)``.

    The accuracy guaranteed by storing ``C`` of ``T0`` uniform contexts.
    """
    if n_contexts < 1 or N < 2:
        raise ValueError(f"T0={n_contexts}, N={N}: need T0 >= 1 and N >= 2")
    frac = torch.clamp(
        torch.as_tensor(stored, dtype=torch.float64) / n_contexts, max=1.0
    )
    out = 1 / N + (1 - 1 / N) * frac
    return float(out) if out.ndim == 0 else out


def associations(accuracy: float | Tensor, n_contexts: int, N: int) -> float | Tensor:
    """The inverse of :func:`accuracy_bound`: ``(acc - 1/N) T0 / (1 - 1/N)`` stored associations."""
    return (accuracy - 1 / N) * n_contexts / (1 - 1 / N)


def circle_unembedding(N: int) -> Float[Tensor, "2 d_vocab"]:
    """``W_U`` whose columns are the ``N`` roots of unity ``(cos 2πy/N, sin 2πy/N)``."""
    angle = 2 * math.pi * torch.arange(N, dtype=torch.float64) / N
    return torch.stack([angle.cos(), angle.sin()])


def circle_construction(
    g: Int[Tensor, " context"], N: int, scale: float
) -> tuple[Float[Tensor, "context 2"], Float[Tensor, "2 d_vocab"]]:
    """A width-2 sequence encoder that stores any table ``g`` (Prop. 3): ``E(z) = λ w_{g(z)}``.

    Its logits ``λ cos(2π(y - g)/N)`` peak at ``g``; the KL to the table is
    ``log Σ_y exp(-λ(1 - cos 2π(y-g)/N)) <= (N-1) exp(-λ(1 - cos 2π/N))``, which goes to 0.
    """
    if scale <= 0:
        raise ValueError(f"scale={scale}: λ must be positive")
    if (g < 0).any() or (g >= N).any():
        raise ValueError(
            f"table entries must lie in [0, {N}); got range [{int(g.min())}, {int(g.max())}]"
        )
    W_U = circle_unembedding(N)
    return scale * W_U[:, g].T, W_U
