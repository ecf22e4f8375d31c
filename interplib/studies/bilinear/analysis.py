"""A weight table used as a bigram language model: its loss, with a fitted temperature.

The chapter reads tables ``T[out, in]`` of logits from the weights (the direct path, the MLP
diagonal, the one-token logits) and asks how much of a trained model's gain over a unigram
model such a table recovers when it predicts the next token from the current one alone.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["table_loss", "fitted_loss"]


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
