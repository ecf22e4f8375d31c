"""Our grids beside the paper's: one table and one figure per experiment, several variants.

A **variant** is one way of running an experiment (an architecture and a protocol); its
result is a frame with one row per grid point (:func:`grid_frame`): the swept value ``x``,
the exact accuracy (mean and standard error over seeds) and the paper's metric (the same).
:func:`variant_figure` draws several variants and the published means on one axis, one colour
per variant (solid: exact accuracy, dashed: the paper's metric); :func:`dynamics_figure` draws
training curves, seeds as thin lines and one legend entry per variant, on decade ticks;
:func:`markdown_table` writes a frame for a captioned table.

Against the published means: :func:`agreement` counts how many lie within two of our standard
errors (and how many below ours, with a sign test); :func:`settings_table` puts every setting
of several experiments and variants in one table; :func:`matched_slopes` fits the paper's
slope and ours over the same points (:func:`seed_slopes`: each seed's);
:func:`spread_figure` shows every seed of a grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.book.plotting import TEMPLATE, grouped_lines, titled

__all__ = [
    "grid_frame",
    "agreement",
    "settings_table",
    "seed_slopes",
    "matched_slopes",
    "spread_figure",
    "variant_figure",
    "dynamics_figure",
    "markdown_table",
    "VARIANT_COLOURS",
]

# one colour per variant across the chapter
VARIANT_COLOURS = {
    "per-head maps (paper's text)": "#1f77b4",
    "shared maps (paper's code)": "#d62728",
    "a table per seed": "#2ca02c",
    "Dana et al. (2025)": "#222222",
}


def grid_frame(
    grid: Int[Tensor, "point k"],
    accuracy: Float[Tensor, "point seed"],
    metric: Float[Tensor, "point seed"],
    axis: int,
    published: dict[int, float] | None = None,
) -> pd.DataFrame:
    """One row per grid point: ``x`` (``grid[:, axis]``), ``exact`` and ``exact sem``,
    ``metric`` and ``metric sem`` (mean and standard error of the mean over seeds),
    ``seeds`` and ``paper`` (``published[x]``, NaN where the paper has none)."""
    if accuracy.shape != metric.shape or accuracy.shape[0] != grid.shape[0]:
        raise ValueError(
            f"grid {tuple(grid.shape)}, accuracy {tuple(accuracy.shape)}, metric "
            f"{tuple(metric.shape)}: need [point k], [point seed], [point seed]"
        )
    n = accuracy.shape[1]

    def sem(x: Tensor) -> list[float]:
        return (x.std(1) / n**0.5).tolist() if n > 1 else [0.0] * len(x)

    xs = grid[:, axis].tolist()
    return pd.DataFrame(
        {
            "x": xs,
            "exact": accuracy.mean(1).tolist(),
            "exact sem": sem(accuracy),
            "metric": metric.mean(1).tolist(),
            "metric sem": sem(metric),
            "seeds": n,
            "paper": [(published or {}).get(x, float("nan")) for x in xs],
        }
    )


def variant_figure(
    variants: dict[str, pd.DataFrame],
    published: dict[int, float],
    xaxis: str,
    title: str,
) -> go.Figure:
    """Every variant's exact accuracy (solid) and paper's metric (dashed), ± one standard
    error, and the published means (diamonds)."""
    fig = go.Figure()
    for name, frame in variants.items():
        colour = VARIANT_COLOURS.get(name)
        for column, dash, label in (
            ("exact", "solid", "exact"),
            ("metric", "dash", "paper's metric"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=frame["x"],
                    y=frame[column],
                    error_y=dict(type="data", array=frame[f"{column} sem"]),
                    mode="lines+markers",
                    name=f"{name}, {label}",
                    line=dict(color=colour, dash=dash, width=2),
                    marker=dict(size=5),
                )
            )
    xs = sorted(published)
    return _with_published(fig, xs, [published[x] for x in xs], xaxis, title, 520)


def _with_published(
    fig: go.Figure, x: list, y: list[float], xaxis: str, title: str, height: int
) -> go.Figure:
    """The published means as diamonds, and the accuracy axes of this module's figures."""
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="markers",
            name="Dana et al. (2025), paper's metric",
            marker=dict(
                symbol="diamond", size=9, color=VARIANT_COLOURS["Dana et al. (2025)"]
            ),
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        xaxis_title=xaxis,
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        legend=dict(orientation="h", y=-0.25, x=0),
        height=height,
    )
    return titled(fig, title)


def dynamics_figure(
    curves: dict[str, Any],
    steps: Sequence[int],
    title: str,
    yaxis: str,
    log_y: bool = False,
    hline: tuple[float, str] | None = None,
    dash: dict[str, str] | None = None,
) -> go.Figure:
    """Training curves ``curves[variant] [seed step]``: one colour and one legend entry per
    variant, seeds as thin lines (``dash`` styles a variant, so identical curves stay
    visible); a log axis gets one tick per decade; ``hline`` is a ``(value, label)``
    reference line (a baseline)."""
    fig = grouped_lines(
        {k: torch.as_tensor(v) for k, v in curves.items()},
        x=list(steps),
        title=title,
        xaxis="training step",
        yaxis=yaxis,
        log_y=log_y,
        dash=dash,
    )
    if log_y:
        fig.update_yaxes(dtick=1, tickformat="~g", minor=dict(showgrid=False))
    if hline is not None:
        value, label = hline
        fig.add_hline(y=value, line_dash="dot", line_color="black", line_width=1)
        # on a log axis an annotation's y is in log10 units (the line's is not)
        fig.add_annotation(
            y=math.log10(value) if log_y else value,
            x=1,
            xref="paper",
            text=label,
            showarrow=False,
            xanchor="right",
            yanchor="bottom",
        )
    return fig


def markdown_table(frame: pd.DataFrame, decimals: int = 3) -> str:
    """A frame as a GitHub-flavoured Markdown table (index first, numbers right-aligned),
    for ``glue:md`` under a captioned ``{table}``; NaN shows as "–"."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "–" if v != v else f"{v:.{decimals}f}"
        return str(v)

    head = [str(frame.index.name or ""), *map(str, frame.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for index, row in zip(frame.index, frame.itertuples(index=False)):
        lines.append("| " + " | ".join(cell(v) for v in (index, *row)) + " |")
    return "\n".join(lines)


def agreement(frame: pd.DataFrame) -> dict[str, float]:
    """Where the published means lie in our seeds' spread, over the rows of a
    :func:`grid_frame` that have one.

    With ``gap = metric - paper`` and ``z = gap / metric sem``: ``points``,
    ``within_2sem`` (``|z| ≤ 2``), ``within_pair`` (``|z| ≤ 2√2``: two standard errors of
    a difference of two means if the published one had our standard error), ``below``
    (``gap < 0``) and ``sign_p`` (two-sided sign test of ``below`` against half the
    points), ``mean_gap``, ``max_abs_gap`` and ``max_abs_z``. ``within_2sem`` counts our
    standard error alone: the published mean's own spread (and, under one table, the
    table's) is not in it, so it is a strict test.
    """
    rows = frame.dropna(subset=["paper"])
    if rows.empty:
        raise ValueError("no row of the frame has a published value")
    if bool((rows["seeds"] < 2).any()):
        raise ValueError("agreement needs two or more seeds (a standard error)")
    gap = torch.tensor((rows["metric"] - rows["paper"]).to_numpy(), dtype=torch.float64)
    sem = torch.tensor(rows["metric sem"].to_numpy(), dtype=torch.float64)
    # inf where every seed agrees exactly (sem 0) and the gap is not 0
    z = torch.where(gap == 0, 0.0, gap.abs() / sem)
    n, below = len(gap), int((gap < 0).sum())
    tail = sum(math.comb(n, k) for k in range(min(below, n - below) + 1)) / 2**n
    return {
        "points": n,
        "within_2sem": int((z <= 2).sum()),
        "within_pair": int((z <= 2 * math.sqrt(2)).sum()),
        "below": below,
        "sign_p": min(1.0, 2 * tail),
        "mean_gap": float(gap.mean()),
        "max_abs_gap": float(gap.abs().max()),
        "max_abs_z": float(z.max()),
    }


def _z(gap: float, sem: float) -> float:
    """``gap / sem``: 0 for no gap, ±inf for a gap with no spread, NaN for no value."""
    if gap != gap or gap == 0:
        return gap
    return gap / sem if sem > 0 else math.copysign(math.inf, gap)


def settings_table(
    frames: dict[tuple[str, str], pd.DataFrame], symbols: dict[str, str]
) -> pd.DataFrame:
    """Every setting of several experiments in one frame, for :func:`markdown_table`.

    ``frames[(experiment, variant)]`` is a :func:`grid_frame`; ``symbols[experiment]``
    names its swept value (``"H"``). One row per setting, indexed by experiment: the
    variant, the setting, the seeds, exact accuracy and the paper's metric as
    ``mean ± sem``, the published mean and ``z = (metric - published) / sem`` (±inf
    for a gap where every seed agrees, NaN where the paper has no value).
    """
    rows = []
    for (experiment, variant), f in frames.items():
        if experiment not in symbols:
            raise ValueError(f"no symbol for {experiment!r}; give symbols[experiment]")
        for row in f.to_dict("records"):
            sem = row["metric sem"]
            z = _z(row["metric"] - row["paper"], sem)
            rows.append(
                {
                    "experiment": experiment,
                    "variant": variant,
                    "setting": f"{symbols[experiment]} = {row['x']}",
                    "seeds": row["seeds"],
                    "exact": f"{row['exact']:.3f} ± {row['exact sem']:.3f}",
                    "paper's metric": f"{row['metric']:.3f} ± {sem:.3f}",
                    "published": row["paper"],
                    "z": z,
                }
            )
    return pd.DataFrame(rows).set_index("experiment")


def seed_slopes(
    x: Sequence[int],
    values: Float[Tensor, "point seed"],
    published: dict[int, float],
    threshold: float = 0.95,
) -> tuple[Float[Tensor, " seed"], float, list[int]]:
    """Each seed's slope over the points the paper fits.

    The paper fits a line up to the first published mean above ``threshold``
    (:func:`~interplib.studies.memorization.capacity.saturation_fit`); each seed's
    ``values`` get a line over the same ``x``. Returns ``(slopes [seed] float64, the
    paper's slope, the x fitted)``.
    """
    from interplib.studies.memorization.analysis import line_fit
    from interplib.studies.memorization.capacity import saturation_fit

    xs = list(x)
    if len(xs) != values.shape[0] or values.shape[1] < 2:
        raise ValueError(
            f"x has {len(xs)} points, values {tuple(values.shape)}: need [point seed] "
            "with one row per x and two or more seeds"
        )
    pub_x = [v for v in xs if v in published]
    paper, n = saturation_fit(pub_x, [published[v] for v in pub_x], threshold)
    used = pub_x[:n]
    rows = [xs.index(v) for v in used]
    slopes = torch.tensor(
        [line_fit(used, values[rows, s])[0] for s in range(values.shape[1])],
        dtype=torch.float64,
    )
    return slopes, paper, used


def matched_slopes(
    x: Sequence[int],
    values: Float[Tensor, "point seed"],
    published: dict[int, float],
    threshold: float = 0.95,
) -> dict[str, float]:
    """The paper's slope and ours over the **same** points (:func:`seed_slopes`).

    Returns ``paper``, ``ours`` (mean of the seeds' slopes, which is the slope through the
    means), ``ours_sem`` (over seeds), ``z`` (their difference over ``ours_sem``) and
    ``x_max`` (the last ``x`` fitted).
    """
    slopes, paper, used = seed_slopes(x, values, published, threshold)
    sem = float(slopes.std() / len(slopes) ** 0.5)
    ours = float(slopes.mean())
    return {
        "paper": paper,
        "ours": ours,
        "ours_sem": sem,
        "z": (ours - paper) / sem,
        "x_max": used[-1],
    }


def spread_figure(
    x: Sequence[int],
    values: dict[str, Float[Tensor, "point seed"]],
    published: dict[int, float],
    xaxis: str,
    title: str,
) -> go.Figure:
    """Every seed of a grid, per quantity (``values[name] [point seed]``): one box per
    point with all its seeds as dots, one colour per quantity, and the published means."""
    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for k, (name, v) in enumerate(values.items()):
        if v.shape[0] != len(x):
            raise ValueError(f"{name}: {tuple(v.shape)} rows for {len(x)} points")
        fig.add_trace(
            go.Box(
                x=[str(p) for p in x for _ in range(v.shape[1])],
                y=v.reshape(-1).tolist(),
                name=f"{name} ({v.shape[1]} seeds)",
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker=dict(size=4, color=palette[k % len(palette)]),
                line=dict(color=palette[k % len(palette)], width=1),
            )
        )
    shown = [p for p in x if p in published]
    fig.update_layout(boxmode="group")
    return _with_published(
        fig, [str(p) for p in shown], [published[p] for p in shown], xaxis, title, 480
    )
