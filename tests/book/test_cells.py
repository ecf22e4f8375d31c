import numpy as np
import pandas as pd
import pytest
import torch

from interplib import book
from interplib.book import cells, status, tables


def test_claim_passes_silently_and_fails_with_the_sentence():
    book.claim(True, "fine")
    book.claim(torch.tensor(True), "a one-element tensor is one truth value")
    with pytest.raises(book.ClaimError, match="accuracy grows with H"):
        book.claim(False, "accuracy grows with H")


@pytest.mark.parametrize(
    "bad", [torch.tensor([True, False]), np.array([1.0, 2.0]), 0.5, "yes", None]
)
def test_claim_wants_exactly_one_boolean(bad):
    with pytest.raises(TypeError, match="claim"):
        book.claim(bad, "ambiguous")


def test_plain_turns_scalars_into_python_numbers():
    assert type(cells.plain(np.float64(0.5))) is float
    assert type(cells.plain(torch.tensor(3))) is int
    with pytest.raises(TypeError, match="glue a scalar"):
        cells.plain(torch.ones(2))


def test_environment_lists_versions_and_device():
    env = status.environment()
    assert {"python", "torch", "transformer-lens", "device"} <= set(env.index)


def test_build_timings_explains_when_nothing_was_measured(tmp_path):
    assert (
        "make measure-build" in status.build_timings(tmp_path / "none.json")["note"][0]
    )


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


def test_glue_writes_the_record_myst_nb_reads(monkeypatch):
    """The record of myst-nb's glue protocol, written without myst-nb (the library alone)."""
    from IPython.core.interactiveshell import InteractiveShell

    from interplib.book import cells

    records = []
    monkeypatch.setattr("IPython.get_ipython", lambda: InteractiveShell.instance())
    monkeypatch.setattr(
        "IPython.display.display",
        lambda bundle, raw, metadata: records.append((bundle, metadata)),
    )
    assert book.glue("head", "L0H3") is None  # a cell ending in a glue shows nothing
    book.glue_all({"x": np.float64(0.25)})
    (head, meta), (x, _) = records
    prefix = cells.GLUE_PREFIX
    assert meta["scrapbook"] == {"name": "head", "mime_prefix": prefix}
    # {glue} pastes Markdown and {glue:text} plain text: the same words, no quotes
    assert head[prefix + "text/markdown"] == head[prefix + "text/plain"] == "L0H3"
    assert x[prefix + "text/plain"] == "0.25"


def test_glue_outside_a_kernel_does_nothing(monkeypatch):
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    book.glue("x", torch.tensor(3))  # no kernel, no record, no error


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
