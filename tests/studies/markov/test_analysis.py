"""Reading the chain back: the loss floor, the weights' bigram table and its KL to the chain."""

import math

import torch

from interplib.studies.markov.analysis import (
    kl_rows,
    loss_floor,
    row_centered,
    weight_bigrams,
)
from interplib.studies.markov.model import (
    transition_matrix,
)
from interplib.studies.markov.recipes import MarkovConfig


def test_loss_floor_is_row_entropy_under_the_position_marginal():
    P = torch.tensor([[0.5, 0.5], [1.0, 0.0]], dtype=torch.float64)
    # pi_0 = (1/2, 1/2) -> H = ln2/2 ; pi_1 = pi_0 P = (3/4, 1/4) -> H = 3 ln2/4
    expected = (0.5 * math.log(2) + 0.75 * math.log(2)) / 2
    assert abs(loss_floor(P, seq_len=3) - float(expected)) < 1e-12


def test_weight_bigrams_and_kl_are_exact_at_the_optimum():
    P = transition_matrix(MarkovConfig(d_vocab=4))
    W_E, W_U = (
        torch.eye(4, dtype=torch.float64),
        P.log() + 3.0,
    )  # any per-row shift is invisible
    torch.testing.assert_close(weight_bigrams(W_E, W_U), P)
    torch.testing.assert_close(
        kl_rows(P, weight_bigrams(W_E, W_U)), torch.zeros(4, dtype=torch.float64)
    )
    torch.testing.assert_close(row_centered(W_U), row_centered(P.log()))
