"""What the scaling grids measure, beside the paper's numbers: slopes, bits, margins.

* ``PUBLISHED``: Dana et al. (2025)'s ``Scaling laws/Data_exp_*.csv`` (repository
  leodana2000/Transformer_Attentional_Memory at ``26160e7``), the paper's metric, 5 seeds
  (20 for Exp 6), one table per experiment;
* :func:`saturation_fit`: the paper's Exp 1/4/6 slope, a line through the points up to the
  first one above 0.95 (its ``EXP_1_and_4.py``), and
  :func:`~interplib.studies.memorization.analysis.line_fit` over a chosen range;
* :func:`parameter_count`, :func:`memorized_bits` and :func:`loss_bits`: stored bits per
  parameter (from the accuracy, or from the loss), to set beside the ~2 bits per parameter of
  language models (Allen-Zhu & Li, ICLR 2025);
* :func:`logit_margin` and :func:`optimal_margin`: the margin of the right token on a noisy
  table, against the optimum ``log(p(N-1)/(1-p))``;
* :func:`winning_directions`: for a frozen unembedding, one residual direction per token
  that makes it the top logit, if there is one (whether ``W_O`` alone can store a table on
  the model that was actually trained), and :func:`output_only_recall`, which solves for
  that ``W_O``;
* :func:`encoder_fits`: three width-``d`` sequence encoders of a law (truncated SVD, weighted
  least squares, trained), scored by exact KL.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.analysis import line_fit, solve_output_weights
from interplib.studies.memorization.model import AttentionOnly

__all__ = [
    "PUBLISHED",
    "saturation_fit",
    "parameter_count",
    "memorized_bits",
    "loss_bits",
    "logit_margin",
    "optimal_margin",
    "winning_directions",
    "output_only_recall",
    "encoder_fits",
]

_H = tuple(range(1, 32, 5))


def _row(values: str, keys: Any = _H) -> dict[int, float]:
    return dict(zip(keys, (float(v) for v in values.split())))


# The paper's CSVs, rounded to 4 decimals. Exp 1 and 4: d = d_h, by d then H; Exp 5 by d,
# then "att" (H heads) or "mlp" (1 head + a GELU MLP of width 2d(H-1)), by H.
PUBLISHED: dict[str, Any] = {
    "exp1": {
        3: _row("0.0586 0.0652 0.0758 0.0856 0.0879 0.0950 0.0973"),
        4: _row("0.0678 0.0904 0.1143 0.1257 0.1463 0.1596 0.1737"),
        5: _row("0.0738 0.1193 0.1582 0.1922 0.2248 0.2572 0.2936"),
        6: _row("0.0856 0.1536 0.2103 0.2659 0.3138 0.3753 0.4232"),
        7: _row("0.1005 0.1887 0.2634 0.3443 0.4313 0.5125 0.5913"),
        8: _row("0.1121 0.2311 0.3348 0.4450 0.5596 0.6628 0.7833"),
        9: _row("0.1217 0.2758 0.4133 0.5523 0.6960 0.8337 0.9384"),
        10: _row("0.1298 0.3243 0.5063 0.6852 0.8608 0.9634 0.9974"),
        11: _row("0.1401 0.3710 0.5866 0.8020 0.9618 0.9986 0.9998"),
        12: _row("0.1471 0.4359 0.6792 0.9174 0.9966 0.9999 0.9999"),
        13: _row("0.1626 0.4820 0.7745 0.9882 0.9998 1.0000 0.9999"),
    },
    "exp2": _row(
        "0.0815 0.1096 0.1554 0.2094 0.2879 0.3567 0.4534 0.5457 0.6391 0.8044",
        range(1, 11),
    ),
    "exp3": _row(
        "0.2639 0.3621 0.4600 0.5782 0.6972 0.8087 0.7769 0.7890 0.7855 0.8118 0.8136",
        range(5, 16),
    ),
    "exp5": {
        7: {
            "att": _row("0.0544 0.0980 0.1275 0.1639 0.2004 0.2379 0.2704"),
            "mlp": _row("0.0541 0.1223 0.1694 0.1852 0.2058 0.2280 0.2386"),
        },
        10: {
            "att": _row("0.0680 0.1514 0.2301 0.3009 0.3893 0.4901 0.5940"),
            "mlp": _row("0.0698 0.2365 0.3740 0.4978 0.5780 0.5897 0.6934"),
        },
        13: {
            "att": _row("0.0855 0.2190 0.3629 0.5106 0.6859 0.9112 0.9992"),
            "mlp": _row("0.0845 0.3953 0.7794 0.9439 0.9774 0.9860 0.9976"),
        },
    },
    "exp6": _row("0.3305 0.4969 0.6334 0.7340 0.8567 0.8578", range(1, 22, 4)),
}


def saturation_fit(x: Any, y: Any, threshold: float = 0.95) -> tuple[float, int]:
    """The paper's slope: a line through the points up to and including the first with
    ``y > threshold`` (all of them if none). Returns ``(slope, points used)``."""
    ys = [float(v) for v in y]
    last = next((i for i, v in enumerate(ys) if v > threshold), len(ys) - 1)
    if last < 1:
        raise ValueError(f"y={ys}: the first point already saturates; nothing to fit")
    slope, _, _ = line_fit(list(x)[: last + 1], ys[: last + 1])
    return slope, last + 1


def parameter_count(
    d: int, d_h: int, H: int, N: int, compress: bool = False, n_ctx: int = 2
) -> int:
    """Trained parameters of a one-layer attention-only model (no MLP).

    Embedding and unembedding ``2Nd``; positions ``n_ctx·d`` (``n_ctx·d_h`` in the paper
    code, whose positions live in the heads' space); per head ``W_Q, W_K, W_V`` and ``W_O``:
    ``4·d·d_h`` per-head maps, ``4·d_h²`` in the paper code, plus its two shared maps
    ``2·d·d_h`` when ``d != d_h``.
    """
    if min(d, d_h, H, N, n_ctx) < 1:
        raise ValueError(
            f"d={d}, d_h={d_h}, H={H}, N={N}, n_ctx={n_ctx}: positive sizes"
        )
    if not compress:
        return 2 * N * d + n_ctx * d + 4 * H * d * d_h
    maps = 2 * d * d_h if d != d_h else 0
    return 2 * N * d + n_ctx * d_h + 4 * H * d_h * d_h + maps


def memorized_bits(accuracy: float, T0: int, N: int) -> float:
    """Bits stored: associations above chance (eq-memo-acc inverted) times ``log2 N`` each.

    A uniformly random next token carries ``log2 N`` bits, so a table recalled at
    ``accuracy`` holds about ``(acc - 1/N) T0 / (1 - 1/N) · log2 N`` bits.
    """
    return max(float(mem.associations(accuracy, T0, N)), 0.0) * math.log2(N)


def loss_bits(kl: float, T0: int, N: int) -> float:
    """Bits a model holds about a uniformly random table, from its loss: ``T0 (log2 N -
    KL / ln 2)`` (0 if negative), with ``kl`` the exact mean KL in nats over the ``T0``
    equally likely contexts (the cross-entropy, as the table has no entropy).

    The model, used as a code, writes the table in ``T0 · KL / ln 2`` bits instead of
    ``T0 log2 N``, so its weights hold at least the difference about the table: a lower
    bound that, unlike :func:`memorized_bits`, assumes no store-or-guess model.
    """
    if kl < 0 or T0 < 1 or N < 2:
        raise ValueError(f"kl={kl}, T0={T0}, N={N}: need kl ≥ 0, T0 ≥ 1 and N ≥ 2")
    return max(T0 * (math.log2(N) - kl / math.log(2)), 0.0)


def logit_margin(
    logits: Float[Tensor, "context d_vocab"], correct: Int[Tensor, " context"]
) -> Float[Tensor, " context"]:
    """The right token's logit minus the mean of the others' logits, per context."""
    n = logits.shape[-1]
    right = logits.gather(-1, correct[:, None])[:, 0]
    return right - (logits.sum(-1) - right) / (n - 1)


def optimal_margin(p: float, N: int) -> float:
    """``log(p(N-1)/(1-p))``: the margin of the true law's log-probabilities when the right
    token has probability ``p`` and the ``N - 1`` others share ``1 - p`` equally."""
    if not 0 < p < 1 or N < 2:
        raise ValueError(f"p={p}, N={N}: need 0 < p < 1 and N ≥ 2")
    return math.log(p * (N - 1) / (1 - p))


@torch.no_grad()
def winning_directions(
    W_U: Float[Tensor, "d_model d_vocab"], steps: int = 2000
) -> tuple[Float[Tensor, "d_vocab d_model"], Float[Tensor, " d_vocab"]]:
    """For each token ``y``, a unit direction ``v_y`` maximising its worst logit margin
    ``min_{y' != y} v·(w_y - w_y')``, by subgradient ascent from the least-squares start.

    A positive margin means a residual ``λ v_y`` makes ``y`` the top logit for large ``λ``;
    a token whose best margin is ``≤ 0`` lies inside the convex hull of the others and
    can never be the top logit, whatever ``W_O`` writes. Returns ``(v [d_vocab d_model],
    margin [d_vocab])``.
    """
    W = W_U.double()
    d, n = W.shape
    v = torch.linalg.lstsq(W.T, torch.eye(n, dtype=W.dtype) - 1 / n).solution.T
    v = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    eye = torch.eye(n, dtype=torch.bool)

    def worst(v: Tensor) -> tuple[Tensor, Tensor]:
        logits = v @ W  # token y's direction, every token's logit
        gaps = (logits.diagonal()[:, None] - logits).masked_fill(eye, float("inf"))
        return gaps.min(-1)

    for k in range(steps):
        _, rival = worst(v)
        grad = W.T - W.T[rival]  # d(v·(w_y - w_rival))/dv
        v = v + grad / (1 + k) ** 0.5 * 0.1
        v = v / v.norm(dim=-1, keepdim=True)
    margin, _ = worst(v)
    return v.to(W_U.dtype), margin.to(W_U.dtype)


@torch.no_grad()
def output_only_recall(
    model: AttentionOnly, law: mem.TrigramLaw, scale: float = 100.0
) -> dict[str, float]:
    """What ``W_O`` alone can store on ``model`` (everything else as it is): solve
    ``W_O`` by least squares for a last residual ``scale · v_{g(t)}`` on every context
    (:func:`winning_directions` of the model's own ``W_U``), then score it exactly.

    Returns ``rank`` (of the heads' value mixtures ``Z``, at most ``H·d_h``), ``contexts``,
    ``reachable`` (tokens that can be the top logit at all), ``accuracy`` and
    ``reachable_share`` (the contexts whose answer is a reachable token).
    """
    tokens, weight, target = mem.contexts(law)
    g = target.argmax(-1)
    v, margin = winning_directions(model.W_U.detach())
    W_O, rank = solve_output_weights(model, tokens, scale * v[g].to(model.W_U.dtype))
    solved = AttentionOnly(model.cfg).to(model.W_U.dtype)
    solved.load_state_dict(model.state_dict())
    solved.blocks[0].attn.W_O.copy_(W_O)  # type: ignore[union-attr]
    hit = (solved(tokens).argmax(-1) == g).double()
    reachable = margin > 0
    return {
        "rank": float(rank),
        "contexts": float(len(tokens)),
        "reachable": float(reachable.sum()),
        "accuracy": float((weight.double() * hit).sum()),
        "reachable_share": float((weight.double() * reachable[g].double()).sum()),
    }


def encoder_fits(law: mem.TrigramLaw, d: int, steps: int = 2000, seed: int = 0) -> dict:
    """Exact KL of three width-``d`` sequence encoders ``logits = E W_U`` of ``law``.

    * ``svd``: the rank-``d`` truncated SVD of the centred log-probabilities (equal weight on
      every token);
    * ``wls``: the same ``W_U``, each context's ``E(z)`` by weighted least squares
      ``(W_U Σ_z W_Uᵀ)⁻¹ W_U Σ_z log π_z`` with ``Σ_z = diag π_z − π_z π_zᵀ`` (the KL to
      second order around the target);
    * ``trained``: ``E`` and ``W_U`` from a random start (``seed``), full-batch Adam on the
      exact KL for ``steps`` steps.

    Every context must have full support (log-probabilities finite).
    """
    from interplib.studies.memorization.losses import exact_divergence

    _, weight, target = mem.contexts(law)
    t = target.double()
    if not bool((t > 0).all()):
        raise ValueError(
            "encoder_fits needs a law with full support (finite log-probs)"
        )
    L = t.log()
    Lc = L - L.mean(-1, keepdim=True)
    U, S, Vh = torch.linalg.svd(Lc, full_matrices=False)
    W_U = Vh[:d]  # d d_vocab
    svd = (U[:, :d] * S[:d]) @ W_U
    sigma = torch.diag_embed(t) - t[:, :, None] * t[:, None, :]  # context y y
    A = torch.einsum("dy,zyx,ex->zde", W_U, sigma, W_U)
    b = torch.einsum("dy,zyx,zx->zd", W_U, sigma, L)
    wls = torch.linalg.solve(A, b) @ W_U
    g = torch.Generator().manual_seed(seed)
    E = torch.randn(len(t), d, generator=g, dtype=torch.float64).requires_grad_(True)
    W = (
        torch.randn(d, t.shape[1], generator=g, dtype=torch.float64) / d**0.5
    ).requires_grad_(True)
    opt = torch.optim.Adam([E, W], lr=0.05)
    with torch.enable_grad():
        for _ in range(steps):
            loss = exact_divergence(E @ W, weight, t)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {
        name: float(exact_divergence(logits.detach(), weight, t))
        for name, logits in (("svd", svd), ("wls", wls), ("trained", E @ W))
    }
