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
    counts[:, 1] = torch.tensor([0, 0, 5, 0, 30, 0, 25])  # after "a" (id 1)
    counts[:, 2] = torch.tensor([0, 0, 25, 40, 0, 0, 0])  # after "an" (id 2)
    inputs = torch.tensor([True, True, False, True, True, False, True])
    got = bigram_tracker(counts, inputs, (1, 2), probe=5, k=2)(model, {})
    logits = bl.single_token_logits(model).detach()
    truth = bl.bigram_log_probs(counts.double(), 0.01).float()
    assert got["precision@2"] == pytest.approx(
        float(bl.precision_at_k(logits, truth, 2, inputs).mean())
    )

    # tokens 2, 3, 4, 6 follow an article >= 20 times; 2 and 3 follow "an" more often.
    # The reading asks of each such word: is its log-probability after "an" (input 2)
    # above that after "a" (input 1)? Written out word by word (this model gets all four
    # right; read the other way round, as the outputs' logits, it scores 0.5):
    def log_p(w: int, i: int) -> float:
        return float(logits[w, i] - logits[:, i].exp().sum().log())

    after_an = {w: log_p(w, 2) > log_p(w, 1) for w in (2, 3, 4, 6)}
    yes = (after_an[2] + after_an[3]) / 2
    no = ((not after_an[4]) + (not after_an[6])) / 2
    assert got["an balanced accuracy"] == (yes + no) / 2 == 1.0
    rms = model.W_E.detach().pow(2).mean(-1).sqrt().median()
    assert got["embedding RMS"] == pytest.approx(float(rms))
    lam = bl.interaction_eigen(model, 5, 1).eigenvalues
    assert got["effective rank"] == pytest.approx(bl.effective_rank(lam), rel=1e-5)


def test_readings_figure_draws_one_panel_per_reading_and_one_colour_per_run():
    from interplib.studies.bilinear.analysis import readings_figure

    tokens = torch.tensor([0.0, 0.4, 0.8])
    readings = {"precision@10": torch.tensor([0.1, 0.5, 0.6]), "effective rank": tokens}
    fig = readings_figure(
        {
            "bilinear-l1": (tokens, readings),
            "bilinear-l2": (tokens, {k: v + 1 for k, v in readings.items()}),
        }
    )
    assert len(fig.data) == 4
    assert [a.text for a in fig.layout.annotations] == list(readings)
    colours = {(t.name, t.line.color) for t in fig.data}
    assert len(colours) == 2 and len({c for _, c in colours}) == 2  # a colour per run
    # the second reading of the second run, in the second panel
    last = fig.data[-1]
    assert list(last.y) == pytest.approx([1.0, 1.4, 1.8]) and last.xaxis == "x2"
    assert sum(bool(t.showlegend) for t in fig.data) == 2


def test_readings_figure_rejects_mismatched_runs():
    from interplib.studies.bilinear.analysis import readings_figure

    tokens = torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match="at least one run"):
        readings_figure({})
    with pytest.raises(ValueError, match="not"):
        readings_figure({"a": (tokens, {"x": tokens}), "b": (tokens, {"y": tokens})})
    with pytest.raises(ValueError, match="evaluations"):
        readings_figure({"a": (tokens, {"x": torch.zeros(3)})})


def test_bigram_tracker_compares_the_articles_by_log_probability(monkeypatch):
    """An offset on every logit after "an" changes no log-probability: the reading must
    not move (read on raw logits, every word would prefer "an": 0.5)."""
    from builders import tiny_bilinear

    from interplib.studies.bilinear import analysis

    counts = torch.zeros(7, 7, dtype=torch.long)
    counts[:, 1] = torch.tensor([0, 0, 5, 0, 30, 0, 25])  # after "a" (id 1)
    counts[:, 2] = torch.tensor([0, 0, 25, 40, 0, 0, 0])  # after "an" (id 2)
    table = torch.zeros(7, 7)
    table[:, 1] = torch.tensor([0.0, 0, 1, 1, 3, 0, 3])  # after "a": words 4, 6
    table[:, 2] = torch.tensor([0.0, 0, 3, 3, 1, 0, 1]) + 5.0  # after "an": 2, 3
    monkeypatch.setattr(analysis, "single_token_logits", lambda model: table)
    track = analysis.bigram_tracker(counts, counts.sum(0) > 0, (1, 2), probe=5, k=2)
    got = track(tiny_bilinear(dtype=torch.float32), {})
    assert got["an balanced accuracy"] == 1.0
