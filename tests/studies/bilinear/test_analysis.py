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


def test_bigram_tracker_reads_the_one_token_logits_and_the_last_form():
    from builders import tiny_bilinear

    from interplib.interp import bilinear as bl
    from interplib.studies.bilinear.analysis import bigram_tracker

    model = tiny_bilinear(dtype=torch.float32)
    g = torch.Generator().manual_seed(3)
    counts = torch.randint(0, 30, (7, 7), generator=g)  # [out in]
    counts[:, 1] = torch.tensor([0, 0, 25, 0, 30, 0, 0])  # after "a" (id 1)
    counts[:, 2] = torch.tensor([0, 0, 0, 40, 0, 0, 21])  # after "an" (id 2)
    inputs = torch.tensor([True, True, False, True, True, False, True])
    got = bigram_tracker(counts, inputs, (1, 2), probe=5, k=2)(model, {})
    logits = bl.single_token_logits(model)
    truth = bl.bigram_log_probs(counts.double(), 0.01).float()
    assert got["precision@2"] == pytest.approx(
        float(bl.precision_at_k(logits, truth, 2, inputs).mean())
    )
    # tokens 2, 3, 4, 6 follow an article >= 20 times; 3 and 6 follow "an" more often
    an_side = logits[2] > logits[1]
    yes = float(an_side[[3, 6]].double().mean())
    no = float((~an_side[[2, 4]]).double().mean())
    assert got["an balanced accuracy"] == pytest.approx((yes + no) / 2)
    rms = model.W_E.detach().pow(2).mean(-1).sqrt().median()
    assert got["embedding RMS"] == pytest.approx(float(rms))
    lam = bl.interaction_eigen(model, 5, 1).eigenvalues
    assert got["effective rank"] == pytest.approx(bl.effective_rank(lam), rel=1e-5)
