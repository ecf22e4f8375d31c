"""The Markov chain (its matrix, its samples, its config) and the zero-layer transformer."""

import pytest
import torch

from interplib.studies.markov.model import (
    MarkovConfig,
    ZeroLayerTransformer,
    sample_chain,
    transition_matrix,
)


def test_transition_matrix_is_stochastic_and_seeded():
    cfg = MarkovConfig(d_vocab=5)
    P = transition_matrix(cfg)
    torch.testing.assert_close(P.sum(-1), torch.ones(5, dtype=torch.float64))
    torch.testing.assert_close(P, transition_matrix(cfg))
    assert not torch.equal(P, transition_matrix(MarkovConfig(d_vocab=5, seed=1)))


def test_sampled_transitions_follow_the_chain():
    P = transition_matrix(MarkovConfig(d_vocab=3))
    tokens = sample_chain(
        P, batch=2000, seq_len=6, generator=torch.Generator().manual_seed(0)
    )
    counts = torch.zeros(3, 3, dtype=torch.float64)
    counts.index_put_(
        (tokens[:, :-1].flatten(), tokens[:, 1:].flatten()),
        torch.ones(1, dtype=torch.float64),
        accumulate=True,
    )
    torch.testing.assert_close(
        counts / counts.sum(-1, keepdim=True), P, atol=0.02, rtol=0
    )


def test_model_hooks_follow_transformer_lens_names():
    model = ZeroLayerTransformer(d_vocab=5, d_model=3)
    tokens = torch.tensor([[0, 1, 2, 3]])
    logits, cache = model.run_with_cache(tokens)
    assert cache["hook_embed"].shape == (1, 4, 3)
    torch.testing.assert_close(cache["hook_logits"], logits)
    torch.testing.assert_close(logits, model.W_E[tokens] @ model.W_U)


def test_config_validation_names_the_fix():
    with pytest.raises(ValueError, match="concentration=-1"):
        MarkovConfig(concentration=-1)
