"""Figures: ``imshow``, ``line``, ``scatter`` return plotly figures; ``show`` displays them.

``show(fig)`` returns a :class:`BookFigure`, one output that renders everywhere, whoever
runs the cell and however: its mime bundle carries

* plotly's own JSON (``application/vnd.plotly.v1+json``), which JupyterLab, VS Code and the
  book's site draw (the site through :class:`interplib.book.site.PlotlyMime`, with the
  page's single vendored plotly.js and a div id derived from the figure's content, so a
  rebuild gives the same bytes);
* an HTML fallback for frontends without a plotly renderer (Colab, nbconvert's HTML): it
  draws with the page's plotly.js when there is one, else loads it once;
* a one-line text description.

Nothing depends on an environment variable: a plain ``jupyter-book build`` draws every
figure, and ``glue`` stores the same bundle.

Plotly cannot typeset LaTeX with this setup: use Unicode in titles and labels (α, W<sub>E</sub>).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import torch
from plotly.offline import get_plotlyjs_version

__all__ = [
    "TEMPLATE",
    "DIVERGING",
    "to_numpy",
    "imshow",
    "line",
    "grouped_lines",
    "imshow_row",
    "bar",
    "scatter",
    "titled",
    "figure_spec",
    "figure_id",
    "figure_html",
    "BookFigure",
    "show",
]

TEMPLATE = go.layout.Template(pio.templates["simple_white"])
# simple_white draws added lines (add_hline, ...) 0 wide
TEMPLATE.update(layout_shapedefaults_line_width=1)
DIVERGING = "RdBu"


def to_numpy(x: Any) -> np.ndarray:
    """A tensor, array or nested list as a float numpy array (on the CPU, detached)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _check_labels(name: str, labels: Sequence | None, n: int) -> list[str] | None:
    if labels is None:
        return None
    labels = [str(t) for t in labels]
    if len(labels) != n:
        raise ValueError(
            f"{name} has {len(labels)} labels but the axis has {n} entries"
        )
    return labels


def _colour_scale(z: np.ndarray, signed: bool | None) -> dict:
    """``px.imshow`` colour options: a diverging scale centred at 0 for signed data (by default,
    when the values have both signs), plotly's sequential scale otherwise."""
    if signed is None:
        signed = bool((z < 0).any() and (z > 0).any())
    return (
        dict(color_continuous_scale=DIVERGING, color_continuous_midpoint=0.0)
        if signed
        else {}
    )


def imshow(
    matrix: Any,
    *,
    x: Sequence | None = None,
    y: Sequence | None = None,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
    signed: bool | None = None,
    **kwargs: Any,
) -> go.Figure:
    """A heatmap of a 2-D array; signed data get a diverging scale centred at 0.

    Args:
        matrix: shape ``[rows cols]``.
        x, y: tick labels for columns and rows (token strings, say).
        signed: force or forbid the diverging scale; by default, used when values have both signs.
    """
    z = to_numpy(matrix)
    if z.ndim != 2:
        raise ValueError(
            f"imshow takes a 2-D array, got shape {tuple(z.shape)}; index or flatten it first"
        )
    style = _colour_scale(z, signed)
    fig = px.imshow(
        z,
        x=_check_labels("x", x, z.shape[1]),
        y=_check_labels("y", y, z.shape[0]),
        labels=dict(x=xaxis, y=yaxis, color=""),
        aspect="auto",
        template=TEMPLATE,
        **{**style, **kwargs},
    )
    return titled(fig, title)


def line(
    y: Any,
    *,
    x: Any | None = None,
    names: Sequence[str] | None = None,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
    log_x: bool = False,
    log_y: bool = False,
) -> go.Figure:
    """One line per row of ``y`` (shape ``[lines points]`` or ``[points]``) against ``x``
    (numbers, or category labels such as layer names)."""
    ys = to_numpy(y)
    ys = ys[None] if ys.ndim == 1 else ys
    if ys.ndim != 2:
        raise ValueError(
            f"line takes [points] or [lines points], got shape {tuple(ys.shape)}"
        )
    if x is None:
        xs = np.arange(ys.shape[1])
    elif len(x) and isinstance(x[0], str):
        xs = np.asarray(x, dtype=object)
    else:
        xs = to_numpy(x)
    if xs.shape != (ys.shape[1],):
        raise ValueError(
            f"x has shape {tuple(xs.shape)} but each line has {ys.shape[1]} points"
        )
    names = _check_labels("names", names, ys.shape[0]) or [
        f"line {i}" for i in range(ys.shape[0])
    ]
    fig = go.Figure(
        [go.Scatter(x=xs, y=row, mode="lines", name=n) for row, n in zip(ys, names)]
    )
    fig.update_layout(
        template=TEMPLATE,
        xaxis_title=xaxis,
        yaxis_title=yaxis,
        showlegend=ys.shape[0] > 1,
    )
    titled(fig, title)
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def grouped_lines(
    groups: dict[str, Any],
    *,
    x: Any,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
    log_y: bool = False,
    dash: dict[str, str] | None = None,
    colour: dict[str, int] | None = None,
) -> go.Figure:
    """Several lines per group (``groups[name]`` is ``[lines points]``), one colour and one legend
    entry per group: seeds of one variant, say. ``dash`` gives a group a dash style ("dot");
    ``colour`` gives a group the palette colour of that index (by default the group's position),
    so two groups of one variant (its train and test loss, say) can share a colour."""
    xs = to_numpy(x)
    palette = px.colors.qualitative.Plotly
    fig = go.Figure()
    for position, (name, ys) in enumerate(groups.items()):
        i = (colour or {}).get(name, position)
        ys = to_numpy(ys)
        ys = ys[None] if ys.ndim == 1 else ys
        if ys.ndim != 2 or ys.shape[1] != xs.shape[0]:
            raise ValueError(
                f"group {name!r} has shape {tuple(ys.shape)}; need [lines, "
                f"{xs.shape[0]}] to match x"
            )
        for j, row in enumerate(ys):
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=row,
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=j == 0,
                    line=dict(
                        color=palette[i % len(palette)],
                        width=1.2,
                        dash=(dash or {}).get(name, "solid"),
                    ),
                )
            )
    fig.update_layout(template=TEMPLATE, xaxis_title=xaxis, yaxis_title=yaxis)
    if log_y:
        fig.update_yaxes(type="log")
    return titled(fig, title)


def imshow_row(
    matrices: Any,
    titles: Sequence[str],
    *,
    x: Sequence | None = None,
    y: Sequence | None = None,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
    signed: bool | None = None,
    columns: int | None = None,
) -> go.Figure:
    """Heatmaps side by side (``matrices`` is ``[panels rows cols]``) on one colour scale;
    ``x`` labels the columns and ``y`` the rows (the same in every panel). ``columns``
    panels a row (default: all in one row), filled row by row."""
    z = to_numpy(matrices)
    if z.ndim != 3:
        raise ValueError(
            f"imshow_row takes [panels, rows, cols], got shape {tuple(z.shape)}"
        )
    _check_labels("titles", titles, z.shape[0])
    if columns is not None and not 1 <= columns <= z.shape[0]:
        raise ValueError(f"columns={columns}: use 1 to {z.shape[0]} (the panels)")
    style = _colour_scale(z, signed)
    fig = px.imshow(
        z,
        x=_check_labels("x", x, z.shape[2]),
        y=_check_labels("y", y, z.shape[1]),
        facet_col=0,
        labels=dict(x=xaxis, y=yaxis, color=""),
        template=TEMPLATE,
        **({} if columns is None else dict(facet_col_wrap=columns)),
        **style,
    )
    for annotation in fig.select_annotations():  # "facet_col=i", not in panel order
        annotation.text = titles[int(annotation.text.split("=")[-1])]
    return titled(fig, title)


def bar(
    values: Any,
    labels: Sequence[str],
    *,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
) -> go.Figure:
    """One bar per entry of ``values`` (``[bars]``), named by ``labels``.

    Negative bars point down.
    """
    vs = to_numpy(values).ravel()
    names = _check_labels("labels", labels, vs.size)
    fig = go.Figure(
        go.Bar(x=names, y=vs, marker_color=np.where(vs >= 0, "#1f77b4", "#d62728"))
    )
    fig.update_layout(template=TEMPLATE, xaxis_title=xaxis, yaxis_title=yaxis)
    return titled(fig, title)


def scatter(
    x: Any,
    y: Any,
    *,
    color: Sequence | None = None,
    text: Sequence[str] | None = None,
    title: str = "",
    xaxis: str = "",
    yaxis: str = "",
    diagonal: bool = False,
    **kwargs: Any,
) -> go.Figure:
    """A scatter of ``y`` against ``x`` (both ``[points]``); ``text`` shows on hover.

    ``color`` may be numbers (continuous scale) or category names (one legend entry each);
    ``diagonal`` draws y = x for comparing two estimates of one quantity.
    """
    xs, ys = to_numpy(x).ravel(), to_numpy(y).ravel()
    if xs.shape != ys.shape:
        raise ValueError(
            f"x and y must have the same length, got {xs.size} and {ys.size}"
        )
    _check_labels("text", text, xs.size)
    if color is not None and len(color) != xs.size:
        raise ValueError(
            f"color has {len(color)} entries but there are {xs.size} points"
        )
    fig = px.scatter(
        x=xs,
        y=ys,
        color=color,
        hover_name=text,
        template=TEMPLATE,
        labels=dict(x=xaxis, y=yaxis, color=""),
        **kwargs,
    )
    if diagonal:
        lo, hi = float(min(xs.min(), ys.min())), float(max(xs.max(), ys.max()))
        fig.add_trace(
            go.Scatter(
                x=[lo, hi],
                y=[lo, hi],
                mode="lines",
                name="y = x",
                line=dict(color="gray", dash="dot"),
            )
        )
    return titled(fig, title)


def titled(fig: go.Figure, title: str) -> go.Figure:
    """Set the title, with a top margin that keeps it clear of plotly's toolbar."""
    return fig.update_layout(title=title, margin=dict(t=80 if title else 40))


def figure_spec(fig: go.Figure) -> dict[str, Any]:
    """The figure as plotly's JSON (``data``, ``layout``, ``config``), plain Python values."""
    spec = json.loads(json.dumps(fig.to_plotly_json(), cls=_PlotlyJSON))
    spec["config"] = {"responsive": True}
    return spec


def figure_id(spec: dict[str, Any]) -> str:
    """A div id derived from the figure's content: the same figure, the same bytes."""
    text = json.dumps(spec, sort_keys=True)
    return "fig-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def figure_html(
    spec: dict[str, Any], *, load_plotly: str | None = None, suffix: str = ""
) -> str:
    """An HTML fragment that draws ``spec`` with the page's ``Plotly``.

    With ``load_plotly`` (a script URL), a page without ``Plotly`` loads it from there
    first; without, the page must provide it (the book's site does). ``suffix`` keeps the
    div ids of a page unique when one figure is drawn twice.
    """
    div_id = figure_id(spec) + suffix
    args = ", ".join(
        json.dumps(spec.get(k, {}), sort_keys=True)
        for k in ("data", "layout", "config")
    )
    draw = f"Plotly.newPlot({json.dumps(div_id)}, {args});"
    if load_plotly:
        draw = (
            "(function(){var draw=function(){" + draw + "};"
            "if(window.Plotly){draw();return;}"
            "var s=document.createElement('script');"
            f"s.src={json.dumps(load_plotly)};s.onload=draw;"
            "document.head.appendChild(s);})();"
        )
    return (
        f'<div id="{div_id}" class="plotly-graph-div" style="width:100%;height:'
        f'{spec.get("layout", {}).get("height", 450)}px"></div>\n<script>{draw}</script>'
    )


class BookFigure:
    """A plotly figure as one notebook output that renders in every frontend."""

    MIME = "application/vnd.plotly.v1+json"

    def __init__(self, fig: go.Figure):
        self.figure = fig
        self.spec = figure_spec(fig)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        layout: Any = self.figure.layout  # plotly's properties are unannotated
        title = layout.title.text or "untitled"
        cdn = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
        return {
            self.MIME: self.spec,
            "text/html": figure_html(self.spec, load_plotly=cdn),
            "text/plain": f"<plotly figure: {title}>",
        }


def show(fig: go.Figure) -> BookFigure:
    """What a cell should return (or glue) to display ``fig``: a :class:`BookFigure`."""
    if not isinstance(fig, go.Figure):
        raise TypeError(f"show() takes a plotly Figure, got {type(fig).__name__}")
    return BookFigure(fig)


class _PlotlyJSON(json.JSONEncoder):
    def default(self, obj: Any) -> Any:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        return super().default(obj)
