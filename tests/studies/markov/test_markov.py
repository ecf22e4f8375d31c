import math

import torch

from interplib.studies.markov.analysis import (
    kl_rows,
    loss_floor,
    row_centered,
    weight_bigrams,
)
from interplib.studies.markov.model import (
    ZeroLayerTransformer,
    sample_chain,
    transition_matrix,
)
from interplib.studies.markov.recipes import MarkovConfig


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


def test_model_hooks_follow_transformer_lens_names():
    model = ZeroLayerTransformer(d_vocab=5, d_model=3)
    tokens = torch.tensor([[0, 1, 2, 3]])
    logits, cache = model.run_with_cache(tokens)
    assert cache["hook_embed"].shape == (1, 4, 3)
    torch.testing.assert_close(cache["hook_logits"], logits)
    torch.testing.assert_close(logits, model.W_E[tokens] @ model.W_U)
