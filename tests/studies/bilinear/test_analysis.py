"""interplib.studies.bilinear.analysis: a weight table used as a bigram language model."""

import pytest
import torch

from interplib.studies.bilinear.analysis import fitted_loss, table_loss


def test_table_loss_matches_a_loop_over_bigrams():
    g = torch.Generator().manual_seed(0)
    table = torch.randn(5, 5, generator=g, dtype=torch.float64)
    tokens = torch.randint(0, 5, (3, 7), generator=g)
    for tau in (0.5, 1.0, 2.0):
        losses = [
            -torch.log_softmax(table[:, i] / tau, 0)[o].item()
            for row in tokens.tolist()
            for i, o in zip(row[:-1], row[1:])
        ]
        assert table_loss(table, tokens, tau) == pytest.approx(
            sum(losses) / len(losses)
        )
    loss, tau = fitted_loss(table, tokens, tokens, taus=torch.tensor([0.5, 1.0, 2.0]))
    assert loss == min(table_loss(table, tokens, t) for t in (0.5, 1.0, 2.0))
    with pytest.raises(ValueError, match="positive temperature"):
        table_loss(table, tokens, 0.0)
