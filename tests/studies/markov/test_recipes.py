"""The worked example's recipe: a tiny fit learns the chain; the loader rebuilds the model."""

import pytest
import torch
from builders import TINY_MARKOV

from interplib.core import recipes
from interplib.core.artifacts import Artifact
from interplib.studies.markov import recipes as markov
from interplib.studies.markov.analysis import kl_rows, loss_floor, weight_bigrams
from interplib.studies.markov.model import MarkovConfig, transition_matrix

bar = lambda it, **_: it  # noqa: E731


def test_markov_bigram_is_registered_with_its_loader():
    recipe = recipes.recipes()["markov-bigram"]
    assert recipe.config == MarkovConfig() and recipe.fit is markov.fit
    assert recipe.loader is markov.model_from_artifact and recipe.committed


def test_fit_stores_the_chain_and_its_losses_and_the_key_metric_is_the_gap_to_the_floor():
    out = markov.fit(TINY_MARKOV, torch.device("cpu"), bar)
    torch.testing.assert_close(out.tensors["P"], transition_matrix(TINY_MARKOV))
    losses = out.metrics["loss"]
    floor = loss_floor(out.tensors["P"], TINY_MARKOV.seq_len)
    assert len(losses) == TINY_MARKOV.steps and out.metrics["entropy_floor"] == floor
    # the stored curve is rounded to 5 decimals; the final loss is the mean of its last 100 steps
    assert out.metrics["final_loss"] == pytest.approx(
        sum(losses[-100:]) / len(losses[-100:]), abs=1e-5
    )
    assert out.key_metric[1] == out.metrics["final_loss"] - floor


def test_a_longer_fit_reads_the_chain_back_from_the_weights():
    cfg = MarkovConfig(d_vocab=4, d_model=4, steps=300, batch=32, seq_len=16)
    out = markov.fit(cfg, torch.device("cpu"), bar)
    P, W_E, W_U = out.tensors["P"], out.tensors["W_E"], out.tensors["W_U"]
    untrained = torch.full_like(P, 1 / 4)
    assert (
        kl_rows(P, weight_bigrams(W_E, W_U)).sum() < 0.2 * kl_rows(P, untrained).sum()
    )
    assert out.key_metric[1] < 0.1


def test_the_loader_rebuilds_a_model_whose_logits_are_the_weight_product():
    out = markov.fit(TINY_MARKOV, torch.device("cpu"), bar)
    model = markov.model_from_artifact(
        TINY_MARKOV, Artifact("markov-tiny", out.tensors, {})
    )
    assert not model.training
    tokens = torch.tensor([[0, 3, 1, 2]])
    with torch.no_grad():
        torch.testing.assert_close(
            model(tokens), (out.tensors["W_E"] @ out.tensors["W_U"])[tokens]
        )
