"""Exp 4: how the accuracy gained per head grows with the width ``d = d_h``.

The paper fits, for each width, a line through accuracy against ``H`` up to the first point
above 0.95 (its ``EXP_1_and_4.py``), then fits those slopes against ``d²`` and against
``d³`` (a line with intercept each); its code calls the growth cubic, its appendix
"probably quadratic". Here:

* :func:`width_slopes`: per width, the paper's slope and each seed's over the same heads
  (:func:`~interplib.studies.memorization.comparison.seed_slopes`), and the first step's
  slope (``H`` from 1 to 6, where no width is near saturation);
* :func:`power_exponent`: ``slope ∝ d^α`` by least squares on logs, with a jackknife
  standard error over seeds;
* :func:`polynomial_fits`: the paper's two fits, ``slope ≈ a d^k + b``, with ``R²``;
* :func:`per_parameter` and :func:`per_parameter_figure`: the associations a head adds per
  head parameter, against width: flat if the slope grows as ``d²``, falling if slower than
  ``d³`` (a power law over a range this short bends with any intercept, so the ratio is the
  plainer test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.book.plotting import TEMPLATE, titled
from interplib.studies.memorization.analysis import line_fit
from interplib.studies.memorization.comparison import VARIANT_COLOURS, seed_slopes

__all__ = [
    "width_slopes",
    "power_exponent",
    "polynomial_fits",
    "per_parameter",
    "per_parameter_figure",
]


def width_slopes(
    grid: Int[Tensor, "point 4"],
    values: Float[Tensor, "point seed"],
    published: dict[int, dict[int, float]],
    first: tuple[int, int] = (1, 6),
) -> tuple[pd.DataFrame, Float[Tensor, "width seed"], Float[Tensor, "width seed"]]:
    """Per width ``d`` (rows of ``grid`` with ``d = d_h``, ``(d, d_h, H, d_mlp)``): the
    slopes of accuracy per head, the paper's (``published[d][H]``) and ours.

    Returns a frame indexed by ``d`` with ``paper``, ``ours``, ``ours sem``, ``z``,
    ``H max`` (the last head count fitted, the paper's saturation rule), ``paper first``,
    ``first`` and ``first sem`` (the slope between the head counts ``first``), and the
    per-seed slopes ``[width seed]`` of both kinds.

    Raises:
        ValueError: if a width lacks a head count of ``first`` or a published curve.
    """
    if grid.shape[0] != values.shape[0]:
        raise ValueError(f"grid {tuple(grid.shape)} and values {tuple(values.shape)}")
    widths = sorted({int(d) for d, d_h, *_ in grid.tolist() if d == d_h})
    rows, fitted, firsts = [], [], []
    lo, hi = first
    for d in widths:
        if d not in published:
            raise ValueError(f"no published curve for d = {d}")
        idx = [i for i, (a, b, *_) in enumerate(grid.tolist()) if a == b == d]
        H = [int(grid[i, 2]) for i in idx]
        if lo not in H or hi not in H:
            raise ValueError(f"d = {d} has heads {H}: need {first} for the first step")
        v = values[idx]
        slopes, paper, used = seed_slopes(H, v, published[d])
        step = (v[H.index(hi)] - v[H.index(lo)]).double() / (hi - lo)  # [seed]
        n = v.shape[1]
        rows.append(
            {
                "d": d,
                "paper": paper,
                "ours": float(slopes.mean()),
                "ours sem": float(slopes.std() / n**0.5),
                "z": float((slopes.mean() - paper) / (slopes.std() / n**0.5)),
                "H max": used[-1],
                "paper first": (published[d][hi] - published[d][lo]) / (hi - lo),
                "first": float(step.mean()),
                "first sem": float(step.std() / n**0.5),
            }
        )
        fitted.append(slopes)
        firsts.append(step)
    return pd.DataFrame(rows).set_index("d"), torch.stack(fitted), torch.stack(firsts)


def power_exponent(
    d: Sequence[int], slopes: Float[Tensor, "width seed"]
) -> dict[str, float]:
    """``slope ∝ d^α``: ``α`` by least squares of ``log slope`` on ``log d``, through the
    seeds' mean slopes.

    Returns ``alpha``, ``r2`` (of that fit) and ``alpha_sem``, the jackknife standard error
    over seeds (each seed left out in turn; a single seed's slope may be negative where the
    mean's is not), NaN for one seed (e.g. published means).

    Raises:
        ValueError: if a mean slope is not positive (no logarithm) or the shapes disagree.
    """
    ds = [float(x) for x in d]
    s = torch.as_tensor(slopes, dtype=torch.float64)
    if s.ndim != 2 or s.shape[0] != len(ds):
        raise ValueError(
            f"slopes {tuple(s.shape)} for {len(ds)} widths: need [width seed]"
        )
    logd = [math.log(x) for x in ds]

    def fit(mean: Tensor) -> tuple[float, float, float]:
        if bool((mean <= 0).any()):
            raise ValueError("a mean slope is not positive: no power law through it")
        return line_fit(logd, mean.log())

    alpha, _, r2 = fit(s.mean(1))
    n, sem = s.shape[1], math.nan
    if n > 1:
        left_out = torch.tensor(
            [fit((s.sum(1) - s[:, j]) / (n - 1))[0] for j in range(n)]
        )
        sem = float(((n - 1) / n * ((left_out - left_out.mean()) ** 2).sum()).sqrt())
    return {"alpha": alpha, "alpha_sem": sem, "r2": r2}


def polynomial_fits(
    d: Sequence[int], slopes: Sequence[float], powers: Sequence[int] = (2, 3)
) -> pd.DataFrame:
    """The paper's fits: ``slope ≈ a d^k + b`` (a line in ``d^k``) for each ``k``; a
    frame indexed by ``k`` with ``a``, ``b``, ``R²`` and ``rms`` (of the residuals)."""
    ys = [float(y) for y in slopes]
    rows = []
    for k in powers:
        x = [float(v) ** k for v in d]
        a, b, r2 = line_fit(x, ys)
        rms = math.sqrt(sum((y - a * u - b) ** 2 for u, y in zip(x, ys)) / len(ys))
        rows.append({"k": k, "a": a, "b": b, "R²": r2, "rms": rms})
    return pd.DataFrame(rows).set_index("k")


def per_parameter(
    slopes: pd.Series | Sequence[float], d: Sequence[int], T0: int, N: int
) -> list[float]:
    """Associations a head adds, per head parameter: ``slope · T0 / (1 - 1/N)`` (the
    accuracy bound's count, eq-memo-acc) over the ``4d²`` weights of a head at
    ``d = d_h``. Flat in ``d`` if the slope grows as ``d²``."""
    per_acc = T0 / (1 - 1 / N)
    return [float(s) * per_acc / (4 * x**2) for s, x in zip(slopes, d)]


def per_parameter_figure(frame: pd.DataFrame, T0: int, N: int, title: str) -> go.Figure:
    """:func:`per_parameter` against width, for a :func:`width_slopes` frame: ours (± one
    standard error) up to saturation and for the first step, the paper's as diamonds."""
    d = frame.index.tolist()
    ours = VARIANT_COLOURS["shared maps (paper's code)"]
    paper = VARIANT_COLOURS["Dana et al. (2025)"]
    fig = go.Figure()
    for column, dash, label in (
        ("ours", "solid", "ours, up to saturation"),
        ("first", "dash", "ours, H = 1 to 6"),
    ):
        fig.add_trace(
            go.Scatter(
                x=d,
                y=per_parameter(frame[column].tolist(), d, T0, N),
                error_y=dict(
                    type="data",
                    array=per_parameter(frame[f"{column} sem"].tolist(), d, T0, N),
                ),
                mode="lines+markers",
                name=label,
                line=dict(color=ours, dash=dash, width=2),
            )
        )
    for column, symbol, label in (
        ("paper", "diamond", "Dana et al. (2025), up to saturation"),
        ("paper first", "diamond-open", "Dana et al. (2025), H = 1 to 6"),
    ):
        fig.add_trace(
            go.Scatter(
                x=d,
                y=per_parameter(frame[column].tolist(), d, T0, N),
                mode="markers",
                name=label,
                marker=dict(symbol=symbol, size=9, color=paper),
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        xaxis=dict(title="width d = d_h", tickvals=d),
        yaxis=dict(title="associations per head parameter", rangemode="tozero"),
        legend=dict(orientation="h", y=-0.25, x=0),
        height=500,
    )
    return titled(fig, title)
