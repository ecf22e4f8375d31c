"""LM data: encoding equals the tokenizer's, packing, the hash-checked splits, bigram truth,
user files."""

import numpy as np
import pytest
import torch

from interplib.corpus import lmdata
from interplib.corpus.tokenizer import BOS


def test_pack_cuts_rows_and_drops_the_tail():
    rows = lmdata.pack(np.arange(10), 3)
    assert (
        rows.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and rows.dtype == torch.int64
    )
    with pytest.raises(ValueError, match="do not fill one row"):
        lmdata.pack(np.arange(2), 3)


def test_config_validation_names_the_fix():
    with pytest.raises(ValueError, match="seq_len=1"):
        lmdata.DataConfig(seq_len=1)
    with pytest.raises(ValueError, match="n_val_tokens=10"):
        lmdata.DataConfig(n_val_tokens=10)


def test_bigram_counts_match_brute_force():
    t = torch.tensor([0, 1, 2, 1, 2, 2, 0])
    brute = torch.zeros(3, 3, dtype=torch.int64)
    for a, b in zip(t[:-1].tolist(), t[1:].tolist()):
        brute[a, b] += 1
    assert torch.equal(lmdata.bigram_counts(t, 3), brute)


def test_bigram_counts_of_a_batch_count_inside_each_row():
    t = torch.randint(5, (4, 9), generator=torch.Generator().manual_seed(0))
    expected = torch.zeros(5, 5, dtype=torch.long)
    for row in t.tolist():
        for prev, nxt in zip(row, row[1:]):
            expected[prev, nxt] += 1
    assert torch.equal(lmdata.bigram_counts(t, 5), expected)
    with pytest.raises(ValueError, match="do not fit d_vocab=4"):
        lmdata.bigram_counts(t, 4)
    with pytest.raises(ValueError, match="LongTensor"):
        lmdata.bigram_counts(t.int(), 5)


def test_read_texts_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        lmdata.read_texts(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="directory"):
        lmdata.read_texts(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n ")
    with pytest.raises(ValueError, match="empty"):
        lmdata.read_texts(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8.*offset 3"):
        lmdata.read_texts(latin)
    with pytest.raises(ValueError, match="no paths"):
        lmdata.read_texts([])


def test_with_repeated_segments_tiles_a_random_segment_in_a_seeded_fraction_of_rows():
    rows = torch.full((40, 33), 7)
    out = lmdata.with_repeated_segments(rows, 0.25, d_vocab=50, periods=(3, 16), seed=3)
    changed = [i for i in range(40) if not torch.equal(out[i], rows[i])]
    assert len(changed) == 10 and torch.equal(
        out, lmdata.with_repeated_segments(rows, 0.25, 50, (3, 16), seed=3)
    )
    for i in changed:
        row = out[i].tolist()
        assert row[0] == BOS and all(4 <= t < 50 for t in row[1:])
        assert any(
            row[1 + L :] == row[1:-L] for L in range(3, 17)
        )  # periodic, with a period in (3, 16)
    assert torch.equal(rows, torch.full((40, 33), 7))  # input untouched
    first = set(
        torch.randperm(40, generator=torch.Generator().manual_seed(3))[:10].tolist()
    )
    assert first != set(
        changed
    )  # not the rows a torch shuffle of the same seed puts first
    with pytest.raises(ValueError, match="fraction"):
        lmdata.with_repeated_segments(rows, 1.5, 50)
    with pytest.raises(ValueError, match="high <= 16"):
        lmdata.with_repeated_segments(rows, 0.5, 50, periods=(3, 17))
    with pytest.raises(ValueError, match="special"):
        lmdata.with_repeated_segments(rows, 0.5, 4, periods=(3, 8))
