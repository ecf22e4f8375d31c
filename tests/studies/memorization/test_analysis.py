"""The fixed attention map, per-head contributions, the W_O capacity solve, and the tables
the chapter reads its experiments through."""

import math
import statistics
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from interplib.studies.memorization.analysis import (
    all_pairs,
    attention_map,
    context_counts,
    head_contributions,
    line_fit,
    model_from_artifact,
    seed_table,
    solve_output_weights,
    sweep_figure,
    sweep_table,
    unembedding_coordinates,
)
from interplib.studies.memorization.model import AoTConfig, AttentionOnly
from interplib.studies.memorization.training import law_data, make_law


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


def test_seed_table_is_mean_and_spread_over_seeds():
    acc = torch.tensor([[0.1, 0.2, 0.6], [1.0, 1.0, 0.7]])
    kl = torch.tensor([[2.0, 1.0, 0.0], [0.5, 0.25, 0.0]])
    table = seed_table(acc, kl, ["a", "b"])
    assert list(table.index) == ["a", "b"]
    for i, name in enumerate("ab"):
        row = table.loc[name]
        assert row["accuracy (mean)"] == pytest.approx(statistics.mean(acc[i].tolist()))
        assert row["accuracy (std)"] == pytest.approx(statistics.stdev(acc[i].tolist()))
        assert row["KL (nats)"] == pytest.approx(statistics.mean(kl[i].tolist()))
    with pytest.raises(ValueError):
        seed_table(acc, kl[:1], ["a", "b"])


def test_line_fit_matches_the_closed_form():
    x, y = [1, 6, 11, 16, 21], [0.12, 0.31, 0.52, 0.66, 0.88]
    slope, intercept, r2 = line_fit(x, y)
    mx, my = statistics.mean(x), statistics.mean(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    assert slope == pytest.approx(sxy / sxx)
    assert intercept == pytest.approx(my - sxy / sxx * mx)
    assert r2 == pytest.approx(sxy**2 / (sxx * syy))
    assert line_fit(torch.tensor([0.0, 1.0, 2.0]), [1.0, 3.0, 5.0]) == pytest.approx(
        (2.0, 1.0, 1.0)
    )
    with pytest.raises(ValueError):
        line_fit([1.0], [2.0])


def test_sweep_table_has_one_row_per_grid_point():
    grid = torch.tensor([[10, 10, 1], [10, 10, 6], [10, 10, 7]])
    acc = torch.tensor([[0.1, 0.2], [0.3, 0.5], [0.4, 0.4]])
    train = acc + 0.05
    table = sweep_table(grid, acc, train, 2, 50, {1: 0.13, 6: 0.32})
    assert list(table.columns) == [
        "d", "d_h", "H", "accuracy", "std", "paper metric", "seeds", "paper", "bound"
    ]  # fmt: skip
    for i, (d, dh, H) in enumerate(grid.tolist()):
        row = table.iloc[i]
        assert (row["d"], row["d_h"], row["H"], row["seeds"]) == (d, dh, H, 2)
        assert row["accuracy"] == pytest.approx(statistics.mean(acc[i].tolist()))
        assert row["std"] == pytest.approx(statistics.stdev(acc[i].tolist()))
        assert row["paper metric"] == pytest.approx(statistics.mean(train[i].tolist()))
        bound = 1 / 50 + (1 - 1 / 50) * min(1.0, (H * dh + d) / 2500)
        assert row["bound"] == pytest.approx(bound)
    assert table["paper"].iloc[:2].tolist() == [0.13, 0.32]
    assert math.isnan(table["paper"].iloc[2])


def test_context_counts_count_the_fixed_sample_once():
    law = make_law("table", 5, 0)
    data = law_data([law], batch=16, seed=3, per_model=False, pool_batches=4)
    counts = context_counts(data, 4, 5)
    brute = Counter(
        int(t1) * 5 + int(t2) for k in range(4) for t1, t2, _ in data(k)["tokens"]
    )
    assert counts.tolist() == [brute[z] for z in range(25)]
    assert int(counts.sum()) == 64
    # the next epoch serves the same sample reshuffled
    later = Counter(
        int(t1) * 5 + int(t2) for k in range(4, 8) for t1, t2, _ in data(k)["tokens"]
    )
    assert later == brute


def test_unembedding_coordinates_are_the_least_norm_solution():
    g = torch.Generator().manual_seed(0)
    W_U = torch.randn(4, 9, generator=g, dtype=torch.float64)
    x = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    c = unembedding_coordinates(x, W_U)  # [2 3 9]
    brute = torch.linalg.lstsq(W_U, x.reshape(-1, 4).T, driver="gelsd").solution.T
    torch.testing.assert_close(c.reshape(-1, 9), brute)  # gelsd: the least-norm one
    torch.testing.assert_close(c @ W_U.T, x)  # the combination gives x back
    Q = torch.linalg.qr(torch.randn(9, 4, generator=g, dtype=torch.float64)).Q.T
    torch.testing.assert_close(unembedding_coordinates(x, Q), x @ Q)  # orthonormal rows
    with pytest.raises(ValueError, match="rank below"):
        unembedding_coordinates(x, torch.zeros(4, 9, dtype=torch.float64))
    with pytest.raises(ValueError, match="need"):
        unembedding_coordinates(x[..., :3], W_U)
