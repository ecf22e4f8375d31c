import numpy as np
import pandas as pd
import pytest
import torch

from interplib import book, tables


def test_claim_passes_silently_and_fails_with_the_sentence():
    book.claim(True, "fine")
    book.claim(torch.tensor(True), "a one-element tensor is one truth value")
    with pytest.raises(book.ClaimError, match="accuracy grows with H"):
        book.claim(False, "accuracy grows with H")


@pytest.mark.parametrize("bad", [torch.tensor([True, False]), np.array([1.0, 2.0]), 0.5, "yes", None])
def test_claim_wants_exactly_one_boolean(bad):
    with pytest.raises(TypeError, match="claim"):
        book.claim(bad, "ambiguous")


def test_plain_turns_scalars_into_python_numbers():
    assert type(book.plain(np.float64(0.5))) is float
    assert type(book.plain(torch.tensor(3))) is int
    with pytest.raises(TypeError, match="glue a scalar"):
        book.plain(torch.ones(2))


def test_environment_lists_versions_and_device():
    env = book.environment()
    assert {"python", "torch", "transformer-lens", "device"} <= set(env.index)


def test_build_timings_explains_when_nothing_was_measured(tmp_path):
    assert "make measure-build" in book.build_timings(tmp_path / "none.json")["note"][0]


def test_top_entries_matches_a_sort_of_all_entries():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(5, 7, generator=g, dtype=torch.float64)
    df = tables.top_entries(m, 4, rows=list("abcde"), cols=list("ABCDEFG"), names=("in", "out", "v"))
    order = sorted(((m[i, j].item(), "abcde"[i], "ABCDEFG"[j]) for i in range(5) for j in range(7)), reverse=True)
    expected = pd.DataFrame(order[:4], columns=["v", "in", "out"])[["in", "out", "v"]]
    pd.testing.assert_frame_equal(df, expected)
    low = tables.top_entries(m, 2, largest=False)
    assert low["value"].tolist() == sorted(m.flatten().tolist())[:2]


@pytest.mark.parametrize("kwargs, message", [
    (dict(matrix=torch.ones(3), k=1), "2-D matrix"),
    (dict(matrix=torch.ones(2, 2), k=5), "between 1 and 4"),
    (dict(matrix=torch.ones(2, 2), k=1, rows=["a"]), "rows has 1 labels"),
])
def test_top_entries_bad_inputs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tables.top_entries(**kwargs)


def test_glue_pastes_strings_as_markdown(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: glued.update({key: value}))
    assert book.glue("head", "L0H3") == "L0H3"
    assert glued["head"]._repr_markdown_() == "L0H3"          # pasted without quotes by {glue}
    assert book.glue("x", np.float64(0.25)) == 0.25 and glued["x"] == 0.25 and type(glued["x"]) is float
