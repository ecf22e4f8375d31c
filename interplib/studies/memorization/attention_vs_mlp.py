"""Exp 5: attention heads against an MLP at the same parameter budget.

The paper pairs each ``H``-head attention-only model (``d = d_h``) with a model of one head
and a GELU MLP of width ``w = 2d(H - 1)``: the MLP's ``2dw`` weights equal the ``4d²(H-1)``
of the heads it replaces (biases aside). Here:

* :func:`budget_pairs`: the ``(attention, MLP)`` rows of such a grid;
* :func:`mlp_parameters`: the parameters of this book's model, which has both MLP biases;
* :func:`budget_table`: one row per ``(d, H)``: both accuracies (mean ± sem over seeds),
  the MLP's lead with its standard error, and the paper's numbers;
* :func:`schedule_control`: the same pairs with one learning-rate schedule for both models:
  the MLP's lead then, and the schedule's effect on the MLP model (paired by seed);
* :func:`budget_at`: the budget at which a curve first reaches a level (a comparison that
  the ceiling at 1 does not compress);
* :func:`budget_ratio_draws`: a seed bootstrap of the ratio of two such budgets;
* :func:`permutation_p`, :func:`t_quantile`: the tests that fit five seeds a side;
* :func:`budget_figure`: accuracy against parameters, one panel per width.
"""

from __future__ import annotations

import itertools
import math

import mpmath
import pandas as pd
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from plotly.subplots import make_subplots
from torch import Tensor

from interplib.book.plotting import TEMPLATE, titled
from interplib.studies.memorization.capacity import parameter_count

__all__ = [
    "permutation_p",
    "t_quantile",
    "budget_pairs",
    "mlp_parameters",
    "budget_table",
    "schedule_control",
    "budget_at",
    "budget_ratio_draws",
    "budget_figure",
]

COLOURS = {"attention": "#1f77b4", "MLP": "#ff7f0e", "MLP, one schedule": "#2ca02c"}


def budget_pairs(grid: Int[Tensor, "point 4"]) -> list[tuple[int, int, int, int]]:
    """``(d, H, attention row, MLP row)`` for each pair of a grid laid out as the paper's
    Exp 5: ``(d, d, H, 0)`` followed by ``(d, d, 1, 2d(H - 1))``.

    Raises:
        ValueError: if the grid is not a sequence of such pairs.
    """
    g = [tuple(int(v) for v in row) for row in grid.tolist()]
    if len(g) % 2:
        raise ValueError(f"{len(g)} grid points: Exp 5 pairs them, need an even count")
    out = []
    for i in range(0, len(g), 2):
        (d, d_h, H, w), mlp = g[i], g[i + 1]
        if d != d_h or w != 0 or mlp != (d, d, 1, 2 * d * (H - 1)):
            raise ValueError(
                f"rows {i}, {i + 1} are {g[i]}, {mlp}: need (d, d, H, 0) then "
                "(d, d, 1, 2d(H-1))"
            )
        out.append((d, H, i, i + 1))
    return out


def mlp_parameters(d: int, H: int, N: int) -> tuple[int, int]:
    """Trained parameters of the pair's attention model and of its MLP partner in this
    book's model (paper-code architecture, ``d = d_h``, both MLP layers with a bias)."""
    w = 2 * d * (H - 1)
    attention = parameter_count(d, d, H, N, compress=True)
    mlp = parameter_count(d, d, 1, N, compress=True) + (2 * d * w + w + d if w else 0)
    return attention, mlp


def budget_table(
    grid: Int[Tensor, "point 4"],
    accuracy: Float[Tensor, "point seed"],
    metric: Float[Tensor, "point seed"],
    published: dict[int, dict[str, dict[int, float]]],
    N: int,
) -> pd.DataFrame:
    """One row per ``(d, H)``: ``params`` (attention model) and ``MLP extra`` (the MLP
    model's surplus: its biases), the paper's metric of both (``attention``, ``MLP``, each
    with ``sem``), ``lead = MLP - attention`` with ``lead sem``, ``z`` and ``p`` (exact
    two-sided permutation test of the two sets of seeds: 5 against 5 allows no ``p`` below
    2/252 ≈ 0.008), the same for the exact accuracy (``exact lead``, ``exact z``,
    ``exact p``), and the published means (``paper attention``, ``paper MLP``,
    ``paper lead``).
    """
    if accuracy.shape != metric.shape or accuracy.shape[0] != grid.shape[0]:
        raise ValueError(
            f"grid {tuple(grid.shape)}, accuracy {tuple(accuracy.shape)}, metric "
            f"{tuple(metric.shape)}: need [point 4], [point seed], [point seed]"
        )
    n = accuracy.shape[1]
    if n < 2:
        raise ValueError("budget_table needs two or more seeds (a standard error)")
    rows = []
    for d, H, a, m in budget_pairs(grid):
        params, mlp_params = mlp_parameters(d, H, N)
        row: dict = {"d": d, "H": H, "params": params, "MLP extra": mlp_params - params}
        for prefix, v in (("", metric), ("exact ", accuracy)):
            va, vm = v[a].double(), v[m].double()
            sa, sm, lead, se = _lead(va, vm)
            if not prefix:
                row |= {
                    "attention": float(va.mean()),
                    "attention sem": sa,
                    "MLP": float(vm.mean()),
                    "MLP sem": sm,
                }
            row |= {
                f"{prefix}lead": lead,
                f"{prefix}lead sem": se,
                f"{prefix}z": _z(lead, se),
                f"{prefix}p": permutation_p(va, vm),
            }
        pub = published[d]
        row |= {
            "paper attention": pub["att"][H],
            "paper MLP": pub["mlp"][H],
            "paper lead": pub["mlp"][H] - pub["att"][H],
        }
        rows.append(row)
    return pd.DataFrame(rows).set_index(["d", "H"])


def schedule_control(
    grid: Int[Tensor, "point 4"],
    metric: Float[Tensor, "point seed"],
    partner: Float[Tensor, "pair seed"],
) -> pd.DataFrame:
    """Exp 5's pairs (``grid``, ``metric``: the paper's two schedules) against the MLP
    partners trained again from the same initialisations on the attention models' schedule
    (``partner``, one row per pair).

    One row per ``(d, H)``: ``MLP, one schedule`` (mean and ``sem``), its lead over the
    attention model (``one-schedule lead``, ``sem``, ``z``: independent initialisations)
    and the schedule's effect on the MLP model, paired by seed (same initialisation, same
    batches): ``schedule effect`` = MLP on its own schedule − on the shared one, with the
    standard error of the paired differences, ``z`` and a Student-t interval
    (``schedule low``, ``schedule high``, 95 %).
    """
    pairs = budget_pairs(grid)
    if metric.shape[0] != grid.shape[0] or partner.shape != (
        len(pairs),
        metric.shape[1],
    ):
        raise ValueError(
            f"grid {tuple(grid.shape)}, metric {tuple(metric.shape)}, partner "
            f"{tuple(partner.shape)}: need [point 4], [point seed] and [pair seed]"
        )
    n = metric.shape[1]
    if n < 2:
        raise ValueError("schedule_control needs two or more seeds (a standard error)")
    rows = []
    for k, (d, H, a, m) in enumerate(pairs):
        va, vm, own = metric[a].double(), partner[k].double(), metric[m].double()
        sa, sm, lead, se = _lead(va, vm)
        diff = own - vm
        effect, se_eff = float(diff.mean()), float(diff.std() / n**0.5)
        half = t_quantile(0.975, n - 1) * se_eff
        rows.append(
            {
                "d": d,
                "H": H,
                "MLP, one schedule": float(vm.mean()),
                "MLP, one schedule sem": sm,
                "one-schedule lead": lead,
                "one-schedule lead sem": se,
                "one-schedule z": _z(lead, se),
                "schedule effect": effect,
                "schedule effect sem": se_eff,
                "schedule z": _z(effect, se_eff),
                "schedule low": effect - half,
                "schedule high": effect + half,
            }
        )
    return pd.DataFrame(rows).set_index(["d", "H"])


def budget_at(
    params: Float[Tensor, " point"], metric: Float[Tensor, " point"], level: float
) -> float:
    """The budget at which ``metric`` first reaches ``level``, linear between the two points
    of the curve (``params`` increasing) that bracket its first crossing; ``nan`` if it
    never does.

    Raises:
        ValueError: if the shapes differ, ``params`` does not increase, or the curve starts
            at or above ``level`` (its crossing is then below the smallest budget).
    """
    x, y = torch.as_tensor(params).double(), torch.as_tensor(metric).double()
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError(
            f"params {tuple(x.shape)}, metric {tuple(y.shape)}: need two 1-d curves of "
            "the same length, at least 2 points"
        )
    if not bool((x.diff() > 0).all()):
        raise ValueError("params must increase from point to point")
    if y[0] >= level:
        raise ValueError(
            f"the curve starts at {float(y[0]):.4f} >= {level}: it crosses below the "
            "smallest budget; ask for a higher level"
        )
    above = (y >= level).nonzero()
    if not len(above):
        return math.nan
    k = int(above[0])
    x0, x1, y0, y1 = float(x[k - 1]), float(x[k]), float(y[k - 1]), float(y[k])
    return x0 + (level - y0) * (x1 - x0) / (y1 - y0)


def budget_ratio_draws(
    params: tuple[Float[Tensor, " point"], Float[Tensor, " point"]],
    metric: tuple[Float[Tensor, "point seed"], Float[Tensor, "point seed"]],
    level: float,
    draws: int = 2000,
    seed: int = 0,
) -> Float[Tensor, " draw"]:
    """Seed-bootstrap draws of ``budget_at`` of the first curve over that of the second.

    Each draw resamples the seeds with replacement, one set of indices for every point of
    both curves (the seed is the unit: models that share a seed index may share what it
    draws, a table or a batch order), and reads :func:`budget_at` off the two mean curves.
    A draw whose curve never reaches ``level`` gives ``nan``.

    Raises:
        ValueError: if the two metrics do not have one ``[point, seed]`` shape with as many
            points as their ``params``, or fewer than 2 seeds or 1 draw are asked for.
    """
    (xa, xb), (ya, yb) = params, metric
    n = ya.shape[-1]
    if ya.ndim != 2 or ya.shape != yb.shape or {len(xa), len(xb)} != {ya.shape[0]}:
        raise ValueError(
            f"params {len(xa)} and {len(xb)} points, metrics {tuple(ya.shape)} and "
            f"{tuple(yb.shape)}: need two [point, seed] metrics of one shape, one "
            "budget per point"
        )
    if n < 2 or draws < 1:
        raise ValueError(
            f"{n} seeds, {draws} draws: need 2 or more seeds, 1 or more draws"
        )
    gen = torch.Generator().manual_seed(seed)
    picks = torch.randint(n, (draws, n), generator=gen)  # [draw, n]
    mean_a = ya.double()[:, picks].mean(-1)  # [point, draw]
    mean_b = yb.double()[:, picks].mean(-1)
    return torch.tensor(
        [
            budget_at(xa, mean_a[:, k], level) / budget_at(xb, mean_b[:, k], level)
            for k in range(draws)
        ],
        dtype=torch.float64,
    )


def permutation_p(a: Float[Tensor, " n"], b: Float[Tensor, " m"]) -> float:
    """Exact two-sided p-value of ``mean(b) - mean(a)`` when the labels are exchangeable:
    the share of the ways to split the pooled values into groups of ``len(a)`` and
    ``len(b)`` whose difference of means is at least as large in size (at most 20 values
    in all)."""
    pooled = torch.cat([a, b]).double()
    n, total = len(a), len(pooled)
    if total > 20 or min(len(a), len(b)) < 1:
        raise ValueError(f"{len(a)} and {len(b)} values: give 1 to 20 in all")
    splits = torch.tensor(list(itertools.combinations(range(total), n)))
    in_a = torch.zeros(len(splits), total, dtype=torch.float64)
    in_a.scatter_(1, splits, 1.0)
    first = in_a @ pooled / n
    second = (pooled.sum() - in_a @ pooled) / (total - n)
    observed = abs(float(b.double().mean() - a.double().mean()))
    return float(((second - first).abs() >= observed * (1 - 1e-12)).double().mean())


def t_quantile(q: float, df: int) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (``q`` in (0.5, 1)),
    from its CDF through the regularised incomplete beta function, by bisection."""
    if not 0.5 < q < 1 or df < 1:
        raise ValueError(f"q={q}, df={df}: need 0.5 < q < 1 and df ≥ 1")

    def upper(x: float) -> float:  # P(T > x) for x > 0
        return (
            float(mpmath.betainc(df / 2, 0.5, 0, df / (df + x * x), regularized=1)) / 2
        )

    lo, hi = 0.0, 1.0
    while upper(hi) > 1 - q:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if upper(mid) > 1 - q else (lo, mid)
    return (lo + hi) / 2


def _lead(
    a: Float[Tensor, " seed"], b: Float[Tensor, " seed"]
) -> tuple[float, float, float, float]:
    """Each side's standard error of the mean, ``mean(b) - mean(a)`` and its standard
    error (independent seeds)."""
    sa, sb = (float(v.std() / len(v) ** 0.5) for v in (a, b))
    return sa, sb, float(b.mean() - a.mean()), math.hypot(sa, sb)


def _z(x: float, se: float) -> float:
    return x / se if se > 0 else (math.copysign(math.inf, x) if x else 0.0)


def budget_figure(
    table: pd.DataFrame, title: str, control: pd.DataFrame | None = None
) -> go.Figure:
    """The paper's metric against the attention model's parameter count, one panel per
    width: attention and MLP (± one standard error), the paper's means as diamonds, and
    with ``control`` (:func:`schedule_control`) the MLP trained on one schedule, dashed."""
    widths = sorted({d for d, _ in table.index})
    fig = make_subplots(
        rows=1, cols=len(widths), subplot_titles=[f"d = {d}" for d in widths]
    )
    for col, d in enumerate(widths, start=1):
        t = table.loc[d]
        for name in ("attention", "MLP"):
            colour, first = COLOURS[name], col == 1
            fig.add_trace(
                go.Scatter(
                    x=t["params"],
                    y=t[name],
                    error_y=dict(type="data", array=t[f"{name} sem"]),
                    mode="lines+markers",
                    name=f"{name}, ours",
                    legendgroup=name,
                    showlegend=first,
                    line=dict(color=colour, width=2),
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=t["params"],
                    y=t[f"paper {name}"],
                    mode="markers",
                    name=f"{name}, Dana et al. (2025)",
                    legendgroup=f"paper {name}",
                    showlegend=first,
                    marker=dict(symbol="diamond-open", size=9, color=colour),
                ),
                row=1,
                col=col,
            )
        if control is not None and d in control.index.get_level_values("d"):
            c, name = control.loc[d], "MLP, one schedule"
            fig.add_trace(
                go.Scatter(
                    x=t["params"],
                    y=c[name],
                    error_y=dict(type="data", array=c[f"{name} sem"]),
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line=dict(color=COLOURS[name], width=2, dash="dash"),
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="parameters", row=1, col=col)
    fig.update_yaxes(title_text="accuracy (paper's metric)", col=1)
    fig.update_yaxes(rangemode="tozero")  # each width on its own scale
    fig.update_layout(
        template=TEMPLATE, legend=dict(orientation="h", y=-0.3, x=0), height=460
    )
    return titled(fig, title)
