import numpy as np
import pytest
import torch

from interplib import book
from interplib.book import cells


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


def test_glued_gives_back_what_was_glued_for_display_elsewhere():
    book.glue("answer", np.float64(0.5))
    assert cells.glued("answer") == 0.5
    with pytest.raises(KeyError, match="run the cell that glues it"):
        cells.glued("never-glued")
