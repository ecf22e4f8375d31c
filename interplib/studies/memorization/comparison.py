"""Our grids beside the paper's: one table and one figure per experiment, several variants.

A **variant** is one way of running an experiment (an architecture and a protocol); its
result is a frame with one row per grid point (:func:`grid_frame`): the swept value ``x``,
the exact accuracy (mean and standard error over seeds) and the paper's metric (the same).
:func:`variant_figure` draws several variants and the published means on one axis, one colour
per variant (solid: exact accuracy, dashed: the paper's metric); :func:`dynamics_figure` draws
training curves, seeds as thin lines and one legend entry per variant, on decade ticks;
:func:`markdown_table` writes a frame for a captioned table.
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
    "variant_figure",
    "dynamics_figure",
    "markdown_table",
    "VARIANT_COLOURS",
]

# one colour per variant across the chapter
VARIANT_COLOURS = {
    "per-head maps (paper's text)": "#1f77b4",
    "shared maps (paper's code)": "#d62728",
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
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=[published[x] for x in xs],
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
        height=520,
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
