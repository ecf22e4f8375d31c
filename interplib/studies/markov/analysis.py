"""Reading the Markov chain back from a zero-layer transformer's weights."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["loss_floor", "weight_bigrams", "row_centered", "kl_rows"]


def loss_floor(P: Float[Tensor, "d_vocab d_vocab"], seq_len: int) -> float:
    """The least expected next-token loss in nats on sequences of ``seq_len`` started uniformly.

    At position t the current token is distributed as ``π_t = u P^t``, and the best prediction
    costs the entropy of its row: floor = mean over t < seq_len-1 of Σ_i π_t[i] H(P[i]).
    """
    row_entropy = -torch.where(P > 0, P * P.log(), torch.zeros_like(P)).sum(-1)
    pi = torch.full((P.shape[0],), 1.0 / P.shape[0], dtype=P.dtype)
    total = 0.0
    for _ in range(seq_len - 1):
        total += float(pi @ row_entropy)
        pi = pi @ P
    return total / (seq_len - 1)


def weight_bigrams(
    W_E: Float[Tensor, "d_vocab d_model"], W_U: Float[Tensor, "d_model d_vocab"]
) -> Float[Tensor, "d_vocab d_vocab"]:
    """The next-token distribution the weights alone predict: ``softmax(W_E @ W_U)`` row by row."""
    return torch.softmax((W_E @ W_U).double(), dim=-1)


def row_centered(M: Float[Tensor, "rows cols"]) -> Float[Tensor, "rows cols"]:
    """``M`` minus each row's mean: the part of a logit table that softmax can see."""
    return M - M.mean(-1, keepdim=True)


def kl_rows(
    P: Float[Tensor, "rows cols"], Q: Float[Tensor, "rows cols"]
) -> Float[Tensor, " rows"]:
    """``KL(P[i] || Q[i])`` in nats for each row (terms with ``P = 0`` count as 0)."""
    return torch.where(P > 0, P * (P.log() - Q.log()), torch.zeros_like(P)).sum(-1)
