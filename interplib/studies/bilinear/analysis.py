"""A weight table used as a bigram language model: its loss, with a fitted temperature;
and the bigram readings tracked along a training run (:func:`bigram_tracker`).

The chapter reads tables ``T[out, in]`` of logits from the weights (the direct path, the MLP
diagonal, the one-token logits) and asks how much of a trained model's gain over a unigram
model such a table recovers when it predicts the next token from the current one alone.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.interp.bilinear import (
    bigram_log_probs,
    effective_rank,
    interaction_eigen,
    precision_at_k,
    single_token_logits,
)

__all__ = ["table_loss", "fitted_loss", "bigram_tracker"]


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
    "an logit > a logit" on tokens following an article at least 20 times (label: the
    article they follow more often), "embedding RMS": median RMS of the embeddings of the
    tokens that occur, "effective rank": effective rank of the last layer's form for the
    output ``probe``}``. ``counts[o, i]``: how often o follows i in the training data;
    ``article_ids``: the ids of "a" and "an".
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
        prefers_an = (logits[an] > logits[a])[seen]
        yes = float(prefers_an[label].double().mean())
        no = float((~prefers_an[~label]).double().mean())
        return {
            f"precision@{k}": float(precision_at_k(logits, truth, k, inputs).mean()),
            "an balanced accuracy": (yes + no) / 2,
            "embedding RMS": float(E[occurs].pow(2).mean(-1).sqrt().median()),
            "effective rank": effective_rank(lam.float().cpu()),
        }

    return on_evaluate
