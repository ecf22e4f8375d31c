"""Statistics that fit the grokking study's design: seeds as pairs, the seed as the unit.

The three variants of one seed start from the same initial weights and see the same split, so
a comparison of two variants is a *paired* one: :func:`paired_comparison` takes one difference
per seed and gives its mean, an exact sign-flip p-value (:func:`sign_flip_p`, every one of the
``2^n`` sign patterns) and a percentile bootstrap interval over seeds
(:func:`bootstrap_interval`). With ``n`` seeds the smallest two-sided p-value a sign-flip test
can give is ``2 / 2^n``: 0.0625 at ``n = 5``, whatever the effect size.

:func:`shared_frequency_test` asks whether some frequency is a key frequency of more seeds than
chance allows, counting each seed once (the variants of one seed are not independent draws).
:func:`phase_epochs` reads the memorization and generalization epochs off a logged history.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "PairedComparison",
    "bootstrap_interval",
    "paired_comparison",
    "phase_epochs",
    "shared_frequency_test",
    "sign_flip_p",
]


def _as_diffs(diffs: Float[Tensor, " seed"] | list[float]) -> Tensor:
    d = torch.as_tensor(diffs, dtype=torch.float64)
    if d.ndim != 1 or len(d) < 2 or not bool(d.isfinite().all()):
        raise ValueError(
            f"need one finite difference per seed (at least 2), got {d.tolist()}"
        )
    return d


def sign_flip_p(diffs: Float[Tensor, " seed"] | list[float]) -> float:
    """Exact two-sided p-value of the mean paired difference under random sign flips.

    Under the null that the two variants are exchangeable within each seed, every difference
    is as likely to have either sign; the p-value is the share of the ``2^n`` sign patterns
    whose mean is at least as far from 0 as the observed one. Exact, so ``n`` is limited to 20.
    """
    d = _as_diffs(diffs)
    if len(d) > 20:
        raise ValueError(f"{len(d)} seeds: 2^n patterns is too many, use at most 20")
    signs = torch.tensor(list(itertools.product((1.0, -1.0), repeat=len(d))))
    means = (signs * d).mean(-1).abs()
    observed = d.mean().abs()
    return float((means >= observed - 1e-12 * observed.clamp(min=1)).double().mean())


def bootstrap_interval(
    diffs: Float[Tensor, " seed"] | list[float],
    level: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean difference, resampling seeds.

    With few seeds the interval is narrow by construction (a resample can only reuse the
    observed values): read it beside :func:`sign_flip_p`, not instead of it.
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level}: use a coverage in (0, 1), e.g. 0.95")
    d = _as_diffs(diffs)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(d), (resamples, len(d)), generator=g)
    means = d[idx].mean(-1)
    tail = (1 - level) / 2
    low, high = torch.quantile(
        means, torch.tensor([tail, 1 - tail], dtype=torch.float64)
    )
    return float(low), float(high)


@dataclass(frozen=True)
class PairedComparison:
    """One variant against another over shared seeds: differences ``x - y``."""

    n: int
    mean: float  # mean difference
    low: float  # bootstrap interval of the mean
    high: float
    p: float  # exact two-sided sign-flip p-value
    p_floor: float  # the smallest p the test can give with n seeds
    n_below: int  # seeds with x < y

    @property
    def distinguishable(self) -> bool:
        """Whether p < 0.05, which five pairs can never reach (their floor is 0.0625)."""
        return self.p < 0.05


def paired_comparison(
    x: Float[Tensor, " seed"] | list[float],
    y: Float[Tensor, " seed"] | list[float],
    log: bool = False,
) -> PairedComparison:
    """Compare ``x`` and ``y`` seed by seed (``log``: compare ``ln x - ln y``, for ratios)."""
    x, y = (torch.as_tensor(v, dtype=torch.float64) for v in (x, y))
    if x.shape != y.shape:
        raise ValueError(
            f"x has {tuple(x.shape)} and y {tuple(y.shape)}: pair one value per seed"
        )
    if log and not bool(((x > 0) & (y > 0)).all()):
        raise ValueError("log=True compares ln x - ln y: every value must be positive")
    d = x.log() - y.log() if log else x - y
    low, high = bootstrap_interval(d)
    return PairedComparison(
        n=len(d),
        mean=float(d.mean()),
        low=low,
        high=high,
        p=sign_flip_p(d),
        p_floor=2 / 2 ** len(d),
        n_below=int((d < 0).sum()),
    )


def phase_epochs(
    epochs: Int[Tensor, " snapshot"],
    train_acc: Float[Tensor, "model snapshot"],
    test_acc: Float[Tensor, "model snapshot"],
    high: float = 0.99,
) -> dict[str, Tensor]:
    """Each model's memorization and generalization epochs and the plateau between them.

    ``memorized``: the first logged epoch with training accuracy at least ``high``;
    ``generalized``: the first with test accuracy at least ``high``; ``ratio``: the second over
    the first (how many times later a model generalizes than it memorizes; about 1 when there
    is no plateau); ``plateau``: their difference in epochs. A model that never reaches
    ``high`` raises, since its plateau is undefined.
    """
    if train_acc.shape != test_acc.shape or train_acc.shape[-1] != len(epochs):
        raise ValueError(
            f"train_acc {tuple(train_acc.shape)} and test_acc {tuple(test_acc.shape)} "
            f"must both be [model, {len(epochs)}]"
        )
    out = {}
    for name, acc in (("memorized", train_acc), ("generalized", test_acc)):
        reached = acc >= high
        if not bool(reached.any(-1).all()):
            raise ValueError(f"a model never reaches {high:.0%}: no {name} epoch")
        out[name] = epochs[reached.double().argmax(-1)].double()
    out["ratio"] = out["generalized"] / out["memorized"].clamp(min=1)
    out["plateau"] = out["generalized"] - out["memorized"]
    return out


def _poisson_binomial_tail(q: Float[Tensor, " trial"], at_least: int) -> float:
    """P(at least ``at_least`` successes) for independent trials with probabilities ``q``."""
    dist = torch.zeros(len(q) + 1, dtype=torch.float64)
    dist[0] = 1
    for qi in q:
        dist = torch.cat([dist[:1] * (1 - qi), dist[1:] * (1 - qi) + dist[:-1] * qi])
    return float(dist[at_least:].sum())


def shared_frequency_test(
    freqs: dict[str, list[list[int]]], n_freqs: int, freq: int | None = None
) -> dict[str, float | int]:
    """Is a frequency key in more *seeds* than chance allows? The seed is the unit.

    ``freqs[variant][s]`` is the key-frequency set of that variant's seed ``s``. A frequency
    counts for a seed if it is key in any of the seed's variants. Under the null each model
    draws its ``n`` frequencies uniformly from the ``n_freqs``, independently; the chance that a
    given frequency is in seed ``s``'s union is ``1 - Π_v (1 - n_{v,s} / n_freqs)``, and the
    count over seeds is Poisson-binomial. Tests ``freq`` (default: the most shared one, the
    smallest on a tie). Since the frequency is picked after looking, ``p`` is a union bound over
    all ``n_freqs`` (at most 1). Returns the frequency, its seed count, the count expected by
    chance, ``p``, and ``models`` (how many models have it, what a model-counting test counts).
    """
    counts = {len(v) for v in freqs.values()}
    if len(counts) != 1 or not freqs:
        raise ValueError(f"every variant needs the same seeds, got {counts}")
    n_seeds = counts.pop()
    union = [set().union(*(freqs[v][s] for v in freqs)) for s in range(n_seeds)]
    per_freq = {k: sum(k in u for u in union) for k in range(1, n_freqs + 1)}
    if freq is not None and freq not in per_freq:
        raise ValueError(f"freq={freq}: use a frequency in 1..{n_freqs}")
    top = freq if freq is not None else max(per_freq, key=lambda k: (per_freq[k], -k))
    q = torch.tensor(
        [
            1 - math.prod(1 - len(freqs[v][s]) / n_freqs for v in freqs)
            for s in range(n_seeds)
        ],
        dtype=torch.float64,
    )
    tail = _poisson_binomial_tail(q, per_freq[top])
    return {
        "freq": top,
        "seeds": per_freq[top],
        "n_seeds": n_seeds,
        "expected": float(q.sum()),
        "p": min(1.0, n_freqs * tail),
        "models": sum(top in f for v in freqs.values() for f in v),
    }
