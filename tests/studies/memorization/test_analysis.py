"""The fixed attention map, per-head contributions and the W_O capacity solve."""

from types import SimpleNamespace

import pytest
import torch

from interplib.studies.memorization.analysis import (
    all_pairs,
    attention_map,
    head_contributions,
    model_from_artifact,
    solve_output_weights,
    sweep_figure,
)
from interplib.studies.memorization.model import AoTConfig, AttentionOnly


def model(**kw):
    torch.manual_seed(0)
    return AttentionOnly(
        AoTConfig(**{"d_vocab": 6, "d_model": 4, "d_head": 3, "n_heads": 2, **kw})
    ).double()


def test_attention_map_matches_the_model_pattern():
    for kw in ({}, {"layernorm": True}, {"skip_pos_qk": True}):
        m = model(**kw)
        pairs = all_pairs(6)
        _, cache = m.run_with_cache(pairs)
        pattern = cache["blocks.0.attn.hook_pattern"][
            :, :, -1, 0
        ]  # batch head: weight on t1
        for h in range(2):
            A = attention_map(m, h)  # [t2 t1]
            torch.testing.assert_close(A[pairs[:, 1], pairs[:, 0]], pattern[:, h])


def test_head_contributions_sum_to_the_logits():
    m = model()
    tokens = all_pairs(6)
    resid, heads = head_contributions(m, tokens)
    logits = m(tokens)
    torch.testing.assert_close(
        resid + heads.sum(1), logits - logits.mean(-1, keepdim=True)
    )


def test_output_weights_store_H_dh_contexts_exactly():
    m = model(n_heads=3, d_head=2, d_model=3)
    tokens = all_pairs(6)[:6]  # T = H·d_h = 6
    targets = torch.randn(6, 3, dtype=torch.float64)
    W_O, rank = solve_output_weights(m, tokens, targets)
    assert rank == 6
    with torch.no_grad():
        m.blocks[0].attn.W_O.copy_(W_O)
    _, cache = m.run_with_cache(tokens)
    torch.testing.assert_close(cache["hook_final"], targets)


def test_load_model_round_trip():
    m = model()
    tensors = {f"x.{k}": v for k, v in m.state_dict().items()}
    m2 = model_from_artifact(None, SimpleNamespace(tensors=tensors), "x", m.cfg)
    tokens = all_pairs(6)
    torch.testing.assert_close(m2(tokens).double(), m(tokens), rtol=1e-5, atol=1e-5)


def test_sweep_figure_draws_the_paper_metric_when_given():
    grid = torch.tensor([[10, 10, 1], [10, 10, 6]])
    acc = torch.tensor([[0.1, 0.12], [0.3, 0.28]])
    plain = sweep_figure(grid, acc, 2, 50, "H", {1: 0.13})
    with_metric = sweep_figure(grid, acc, 2, 50, "H", {1: 0.13}, train_acc=acc + 0.05)
    assert len(with_metric.data) == len(plain.data) + 1
    assert with_metric.data[len(plain.data) - 3].y == pytest.approx((0.16, 0.34))
