"""A weight table used as a bigram language model: its loss, with a fitted temperature;
and the bigram readings tracked along a training run (:func:`bigram_tracker`, drawn by
:func:`readings_figure`).

The chapter reads tables ``T[out, in]`` of logits from the weights (the direct path, the MLP
diagonal, the one-token logits) and asks how much of a trained model's gain over a unigram
model such a table recovers when it predicts the next token from the current one alone.
"""

from __future__ import annotations

import math

import plotly.express as px
import plotly.graph_objects as go
import torch
from jaxtyping import Float, Int
from plotly.subplots import make_subplots
from torch import Tensor

from interplib.book.plotting import TEMPLATE, titled
from interplib.interp.bilinear import (
    bigram_log_probs,
    effective_rank,
    interaction_eigen,
    precision_at_k,
    single_token_logits,
)
from interplib.studies.bilinear.calibration import binary_scores

__all__ = ["table_loss", "fitted_loss", "bigram_tracker", "readings_figure"]


def _bigram_loss_fn(table: Tensor, tokens: Tensor):
    """``tau -> mean loss`` on the bigrams of ``tokens``; only the columns of inputs that
    occur are normalised, once per call (the cost is O(V · distinct inputs))."""
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise ValueError(
            f"table must be a square [out in] matrix, got {tuple(table.shape)}"
        )
    prev, nxt = tokens[:, :-1].flatten(), tokens[:, 1:].flatten()
    cols, where = prev.unique(return_inverse=True)
    sub = table[:, cols]  # [out cols], in the table's own precision
    n_prev = torch.bincount(where, minlength=len(cols)).double()
    picked = table[nxt, prev].double().mean()

    def loss(tau: float) -> float:
        if tau <= 0:
            raise ValueError(f"tau={tau}: use a positive temperature")
        log_z = torch.logsumexp(sub / tau, dim=0).double()  # [cols]
        return float((n_prev @ log_z) / len(prev) - picked / tau)

    return loss


def table_loss(
    table: Float[Tensor, "out in"], tokens: Int[Tensor, "batch pos"], tau: float = 1.0
) -> float:
    """Mean loss (nats) of ``p(o | i) = softmax_o(table[o, i] / tau)`` on every bigram of
    ``tokens``; each column of ``table`` is normalised over outputs."""
    return _bigram_loss_fn(table, tokens)(tau)


def fitted_loss(
    table: Float[Tensor, "out in"],
    fit: Int[Tensor, "batch pos"],
    test: Int[Tensor, "batch pos"],
    taus: Tensor | None = None,
) -> tuple[float, float]:
    """``(loss on test, tau)`` with the temperature chosen on ``fit`` from ``taus``
    (default: 61 values log-spaced over 10^±1.5); weight tables are not calibrated logits."""
    grid = torch.logspace(-1.5, 1.5, 61) if taus is None else taus
    on_fit = _bigram_loss_fn(table, fit)
    tau = min(grid.tolist(), key=on_fit)
    return table_loss(table, test, tau), tau


def bigram_tracker(
    counts: Int[Tensor, "out in"],
    inputs: Tensor,
    article_ids: tuple[int, int],
    probe: int,
    k: int = 10,
):
    """An ``on_evaluate`` callback for :func:`interplib.core.training.train_lm`: the chapter's
    bigram readings along training, so that they can be plotted against tokens seen.

    At each evaluation it returns ``{"precision@k": mean precision_at_k of the one-token
    logits against log counts over ``inputs``, "an balanced accuracy": balanced accuracy of
    "the token's log-probability after 'an' > that after 'a'" over the tokens that follow an
    article at least 20 times (label: the article they follow more often; the chapter's
    article score; ``nan`` where those tokens all follow one article), "embedding RMS":
    median RMS of the embeddings of the tokens that occur,
    "effective rank": effective rank of the last layer's form for the output ``probe``}``.
    ``counts[o, i]``: how often o follows i in the training data; ``article_ids``: the ids
    of "a" and "an".
    """
    truth = bigram_log_probs(counts.double(), smoothing=0.01).float()
    a, an = article_ids
    seen = (counts[:, a] + counts[:, an]) >= 20
    label = (counts[:, an] > counts[:, a])[seen]
    occurs = (counts.sum(0) + counts.sum(1)) > 0

    def on_evaluate(model, evaluation: dict) -> dict[str, float]:
        with torch.no_grad():
            logits = single_token_logits(model).float().cpu()
            lam = interaction_eigen(model, probe, model.cfg.n_layers - 1).eigenvalues
            E = model.embed.W_E.detach().float().cpu()
        # for each word, its log-probability after "an" against that after "a" (raw
        # logits carry an offset per input, which decides a comparison across inputs)
        log_p = logits.log_softmax(0)
        prefers_an = (log_p[:, an] > log_p[:, a])[seen]
        # a corpus whose article followers are all of one class (a smoke run's) has none
        articles = (
            binary_scores(prefers_an, label)
            if bool(label.any()) and not bool(label.all())
            else {"balanced accuracy": math.nan}
        )
        return {
            f"precision@{k}": float(precision_at_k(logits, truth, k, inputs).mean()),
            "an balanced accuracy": articles["balanced accuracy"],
            "embedding RMS": float(E[occurs].pow(2).mean(-1).sqrt().median()),
            "effective rank": effective_rank(lam.float().cpu()),
        }

    return on_evaluate


def readings_figure(
    runs: dict[str, tuple[Float[Tensor, " eval"], dict[str, Float[Tensor, " eval"]]]],
    title: str = "",
) -> go.Figure:
    """One panel per reading (two panels a row), each run a line against millions of
    tokens seen with a marker at each evaluation, in the palette colour of its position
    (the order of the chapter's other figures).

    Args:
        runs: ``{name: (tokens_m [eval], {reading: values [eval]})}``; every run has the
            same readings.

    Raises:
        ValueError: if no run is given, the runs have different readings, or a reading's
            length differs from its run's tokens.
    """
    if not runs:
        raise ValueError("give at least one run")
    names = list(next(iter(runs.values()))[1])
    palette = px.colors.qualitative.Plotly
    fig = make_subplots(
        rows=math.ceil(len(names) / 2),
        cols=2,
        subplot_titles=names,
        horizontal_spacing=0.12,
        vertical_spacing=0.16,
    )
    for i, (run, (tokens, readings)) in enumerate(runs.items()):
        if list(readings) != names:
            raise ValueError(f"run {run!r} has readings {list(readings)}, not {names}")
        for j, reading in enumerate(names):
            values = torch.as_tensor(readings[reading])
            if values.shape != tokens.shape:
                raise ValueError(
                    f"run {run!r}, {reading!r}: {tuple(values.shape)} values for "
                    f"{tuple(tokens.shape)} evaluations"
                )
            fig.add_trace(
                go.Scatter(
                    x=tokens.tolist(),
                    y=values.tolist(),
                    mode="lines+markers",
                    marker_size=4,
                    name=run,
                    legendgroup=run,
                    showlegend=j == 0,
                    line_color=palette[i % len(palette)],
                ),
                row=j // 2 + 1,
                col=j % 2 + 1,
            )
    rows = math.ceil(len(names) / 2)
    fig.update_xaxes(title_text="tokens seen (millions)", row=rows)
    fig.update_layout(
        template=TEMPLATE, showlegend=len(runs) > 1, height=260 * rows + 120
    )
    return titled(fig, title)
