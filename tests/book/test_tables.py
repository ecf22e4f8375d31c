"""``top_entries``: the k largest (or smallest) entries of a matrix as a labelled table."""

import pandas as pd
import pytest
import torch

from interplib.book import tables


def test_top_entries_matches_a_sort_of_all_entries():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(5, 7, generator=g, dtype=torch.float64)
    df = tables.top_entries(
        m, 4, rows=list("abcde"), cols=list("ABCDEFG"), names=("in", "out", "v")
    )
    order = sorted(
        (
            (m[i, j].item(), "abcde"[i], "ABCDEFG"[j])
            for i in range(5)
            for j in range(7)
        ),
        reverse=True,
    )
    expected = pd.DataFrame(order[:4], columns=["v", "in", "out"])[["in", "out", "v"]]
    pd.testing.assert_frame_equal(df, expected)
    low = tables.top_entries(m, 2, largest=False)
    assert low["value"].tolist() == sorted(m.flatten().tolist())[:2]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(matrix=torch.ones(3), k=1), "2-D matrix"),
        (dict(matrix=torch.ones(2, 2), k=5), "between 1 and 4"),
        (dict(matrix=torch.ones(2, 2), k=1, rows=["a"]), "rows has 1 labels"),
    ],
)
def test_top_entries_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tables.top_entries(**kwargs)


def test_top_entries_lists_each_unordered_pair_of_a_symmetric_matrix_once():
    Q = torch.tensor([[1.0, 5.0, -2.0], [5.0, 0.0, 3.0], [-2.0, 3.0, 4.0]])
    table = tables.top_entries(Q, 3, labels=["a", "b", "c"], symmetric=True)
    assert table.values.tolist() == [["b", "a", 5.0], ["c", "c", 4.0], ["c", "b", 3.0]]
    low = tables.top_entries(Q, 1, symmetric=True, largest=False)
    assert low.values.tolist() == [[2, 0, -2.0]]
    with pytest.raises(ValueError, match="between 1 and 6"):
        tables.top_entries(Q, 7, symmetric=True)
    with pytest.raises(ValueError, match="square"):
        tables.top_entries(Q[:2], 1, labels=["a", "b"])
