"""An interactive attention-pattern viewer built on plotly, so it works offline.

``attention_view(pattern, tokens)`` draws one head's pattern as a heatmap with the tokens on
both axes and a dropdown that switches between heads; hovering a cell shows the query, the
key (position and token) and the weight. It returns a plain plotly figure, like every
function of :mod:`interplib.book.plotting`: glue it (``book.glue("fig_x", fig)``) or end a
cell with ``plotting.show(fig)``. The book's site draws it with the vendored plotly.js and
the offline check counts it like any other figure; a notebook draws it with its own plotly
renderer. Nothing is loaded from the network.

Example::

    _, cache = model.run_with_cache(ids)
    fig = attention_view(
        cache["blocks.1.attn.hook_pattern"][0],   # [head_index query_pos key_pos]
        vocab.to_tokens(ids[0]),
        heads=[f"L1H{h}" for h in range(8)],
    )
    book.glue("fig_patterns", fig)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from interplib.book.plotting import TEMPLATE, titled, to_numpy

__all__ = ["attention_view"]


def _labels(tokens: Sequence[str]) -> list[str]:
    # positions make repeated tokens distinct categories ("the" at 3 and at 9)
    return [f"{i}: {t}" for i, t in enumerate(tokens)]


def attention_view(
    pattern: Any,
    tokens: Sequence[str],
    *,
    heads: Sequence[str] | None = None,
    title: str = "",
    decimals: int = 3,
) -> go.Figure:
    """Attention patterns of one or several heads, one shown at a time, with a head selector.

    Args:
        pattern: ``[head_index query_pos key_pos]`` (or one head's ``[query_pos key_pos]``)
            attention weights, e.g. ``cache["blocks.1.attn.hook_pattern"][0]``; a tensor or
            an array. Entries above the diagonal (future keys) are left blank.
        tokens: the ``pos`` token strings, shown on both axes (query rows, key columns).
        heads: a name per head for the selector and the hover (default ``head 0`` …).
        title: the figure's title; the selected head's name is appended to it.
        decimals: weights are rounded to this many decimals, which keeps the page small
            (a head of 100 tokens is 10,000 numbers).

    Returns:
        A plotly figure: one heatmap per head, the first visible, a dropdown to switch
        (none for a single head). Weights on a fixed 0-to-1 scale, so heads compare.

    Raises:
        ValueError: a pattern that is not ``[query_pos key_pos]`` square, or token or head
            names of the wrong number.
    """
    z = to_numpy(pattern)
    z = z[None] if z.ndim == 2 else z
    if z.ndim != 3 or z.shape[1] != z.shape[2]:
        raise ValueError(
            f"pattern of shape {tuple(to_numpy(pattern).shape)}: need [head_index "
            "query_pos key_pos] or [query_pos key_pos], with as many keys as queries"
        )
    n_heads, n = z.shape[0], z.shape[1]
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens for a pattern over {n} positions")
    names = [str(h) for h in heads] if heads is not None else None
    names = names or [f"head {h}" for h in range(n_heads)]
    if len(names) != n_heads:
        raise ValueError(f"{len(names)} head names for {n_heads} heads")
    labels = _labels([str(t) for t in tokens])
    traces = []
    for h in range(n_heads):
        rows = [
            [round(float(z[h, q, k]), decimals) if k <= q else None for k in range(n)]
            for q in range(n)
        ]
        traces.append(
            go.Heatmap(
                z=rows,
                x=labels,
                y=labels,
                zmin=0.0,
                zmax=1.0,
                colorscale="Blues",
                colorbar=dict(title="weight"),
                visible=h == 0,
                name=names[h],
                hovertemplate=(
                    f"{names[h]}<br>query %{{y}}<br>key %{{x}}<br>"
                    "weight %{z:.3f}<extra></extra>"
                ),
            )
        )
    fig = go.Figure(traces)
    heading = (title + " · " if title else "") + "{}"
    if n_heads > 1:
        buttons = [
            dict(
                label=name,
                method="update",
                args=[
                    {"visible": [i == h for i in range(n_heads)]},
                    {"title.text": heading.format(name)},
                ],
            )
            for h, name in enumerate(names)
        ]
        fig.update_layout(
            updatemenus=[
                dict(
                    buttons=buttons,
                    direction="down",
                    x=1.0,
                    xanchor="right",
                    y=1.02,
                    yanchor="bottom",
                )
            ]
        )
    axis = dict(
        tickmode="array",
        tickvals=labels,
        ticktext=[str(t) for t in tokens],
        tickfont=dict(size=9 if n > 40 else 11),
        showgrid=False,
    )
    fig.update_layout(
        template=TEMPLATE,
        xaxis=dict(axis, title="key", tickangle=-90),
        yaxis=dict(axis, title="query", autorange="reversed"),
        height=max(450, min(800, 300 + 8 * n)),
    )
    return titled(fig, heading.format(names[0]))
