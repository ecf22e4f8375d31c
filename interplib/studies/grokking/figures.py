"""The grokking chapters' figures: one fixed colour per variant, seeds as bands, never as
thirty lines.

``VARIANTS`` and ``COLOURS`` are defined here once, and every figure of the two pages
takes its colours from them: :func:`band_figure` draws each variant's median over seeds with
the band from the lowest to the highest seed, :func:`paired_dots` one dot per seed with grey
lines joining the variants of one seed (the pairs the statistics compare),
:func:`anchor_plane` places models among reference models and published ranges in the
plane of two diagnostics, and :func:`paint` recolours any figure whose traces are named by
variant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from interplib.book import plotting

__all__ = ["COLOURS", "VARIANTS", "anchor_plane", "band_figure", "paint", "paired_dots"]

VARIANTS = {"fp": "full precision", "binary": "binary", "ternary": "ternary"}
COLOURS = {"full precision": "#1f77b4", "binary": "#d62728", "ternary": "#2ca02c"}
_GREY = "#7f7f7f"


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _colour(name: str) -> str:
    """The colour of a label that starts with a variant's name (``"binary, test"``)."""
    for variant, colour in COLOURS.items():
        if name.startswith(variant):
            return colour
    return _GREY


def band_figure(
    curves: dict[str, object],
    *,
    x: object,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
    log_y: bool = False,
    dash: dict[str, str] | None = None,
) -> go.Figure:
    """Each curve's median over seeds as a line, its range over seeds as a band.

    ``curves[label]`` is ``[seed point]``; a label starting with a variant's name takes that
    variant's colour. A subtitle says how many seeds each band spans.
    """
    xs = plotting.to_numpy(x)
    fig = go.Figure()
    for label, values in curves.items():
        ys = plotting.to_numpy(values)
        if ys.ndim != 2 or ys.shape[1] != len(xs):
            raise ValueError(
                f"curve {label!r} has shape {tuple(ys.shape)}; need [seed, {len(xs)}]"
            )
        colour = _colour(label)
        low, high = ys.min(0), ys.max(0)
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([xs, xs[::-1]]),
                y=np.concatenate([high, low[::-1]]),
                fill="toself",
                fillcolor=_rgba(colour, 0.18),
                line=dict(width=0),
                hoverinfo="skip",
                legendgroup=label,
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=np.median(ys, 0),
                mode="lines",
                name=label,
                legendgroup=label,
                line=dict(
                    color=colour, width=1.8, dash=(dash or {}).get(label, "solid")
                ),
            )
        )
    fig.update_layout(template=plotting.TEMPLATE, xaxis_title=xaxis, yaxis_title=yaxis)
    if log_y:
        fig.update_yaxes(type="log")
    n = {len(plotting.to_numpy(v)) for v in curves.values()}
    spans = (
        f"median and range of {n.pop()} seeds" if len(n) == 1 else "median and range"
    )
    return plotting.titled(fig, f"{title}<br><sub>{spans}</sub>" if title else spans)


def paired_dots(
    values: dict[str, Sequence[float]],
    *,
    title: str = "",
    yaxis: str = "",
    log_y: bool = False,
) -> go.Figure:
    """One column per variant, one dot per seed, grey lines joining each seed across variants."""
    lengths = {len(v) for v in values.values()}
    if len(lengths) != 1:
        raise ValueError(
            f"every variant needs one value per seed, got lengths {lengths}"
        )
    names = list(values)
    table = np.array([list(values[n]) for n in names], dtype=float)  # [variant seed]
    fig = go.Figure()
    for seed in range(table.shape[1]):
        fig.add_trace(
            go.Scatter(
                x=names,
                y=table[:, seed],
                mode="lines",
                line=dict(color=_GREY, width=0.8),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    for i, name in enumerate(names):
        fig.add_trace(
            go.Scatter(
                x=[name] * table.shape[1],
                y=table[i],
                mode="markers",
                marker=dict(color=_colour(name), size=9),
                name=name,
                text=[f"seed {s}" for s in range(table.shape[1])],
                showlegend=False,
            )
        )
    fig.update_layout(template=plotting.TEMPLATE, yaxis_title=yaxis)
    if log_y:
        fig.update_yaxes(type="log")
    return plotting.titled(fig, title)


def anchor_plane(
    points: dict[str, tuple[Sequence[float], Sequence[float]]],
    boxes: dict[str, tuple[tuple[float, float], tuple[float, float]]],
    *,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
) -> go.Figure:
    """Models as points, published ranges as boxes, in the plane of two diagnostics.

    ``points[label] = (x, y)``, one point per model: a label that starts with a variant's
    name takes the variant's colour and filled dots, any other open black symbols, one shape
    per label. ``boxes[label] = ((x_low, x_high), (y_low, y_high))``: a grey rectangle with
    its label inside.
    """
    fig = go.Figure()
    shapes = iter(["diamond-open", "square-open", "circle-open", "triangle-up-open"])
    for label, (x, y) in points.items():
        xs, ys = plotting.to_numpy(x), plotting.to_numpy(y)
        if xs.shape != ys.shape:
            raise ValueError(
                f"points[{label!r}] has {xs.size} x and {ys.size} y values"
            )
        variant = _colour(label) != _GREY
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=label,
                marker=dict(
                    color=_colour(label) if variant else "black",
                    symbol="circle" if variant else next(shapes),
                    size=9,
                    line=dict(width=1.5),
                ),
            )
        )
    for label, ((x0, x1), (y0, y1)) in boxes.items():
        fig.add_shape(
            type="rect",
            x0=x0,
            x1=x1,
            y0=y0,
            y1=y1,
            line=dict(color=_GREY, dash="dot"),
            fillcolor=_rgba(_GREY, 0.12),
            layer="below",
        )
        fig.add_annotation(
            x=(x0 + x1) / 2, y=y1, text=label, showarrow=False, yanchor="bottom"
        )
    fig.update_layout(template=plotting.TEMPLATE, xaxis_title=xaxis, yaxis_title=yaxis)
    return plotting.titled(fig, title)


def paint(fig: go.Figure) -> go.Figure:
    """Give every trace named after a variant (or ``"<variant>, ..."``) that variant's colour;
    other traces grey."""

    def recolour(trace: Any) -> None:
        colour = _colour(trace.name or "")
        if trace.mode == "markers":
            trace.marker.color = colour
        else:
            trace.line.color = colour

    return fig.for_each_trace(recolour)
