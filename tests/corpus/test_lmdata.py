"""LM data: encoding equals the tokenizer's, packing, the hash-checked splits, bigram truth, user files."""

from functools import cache

import numpy as np
import pytest
import torch

from interplib.core.artifacts import ArtifactError
from interplib.core.recipes import load as load_artifact
from interplib.corpus import grammar, lmdata
from interplib.corpus.tokenizer import BOS, EOS, Vocab


@cache
def V() -> Vocab:
    return Vocab.load()


def test_fast_encoding_equals_the_tokenizer():
    texts = grammar.sample(200, seed=2) + [
        "Numbers 1984 and odd_marks: {x} #3!",
        "Ça va? Très bien.",
    ]
    got = lmdata.encode_stories(texts, V())
    want = []
    for t in texts:
        want += [BOS] + V().tokenizer.encode(t, add_special_tokens=False).ids + [EOS]
    assert got.tolist() == want


def test_encode_stops_at_n_tokens_and_complains_when_short():
    assert lmdata.encode_stories(grammar.stories(0), V(), 1000).shape == (1000,)
    with pytest.raises(ValueError, match="fewer than"):
        lmdata.encode_stories(["a b c"], V(), 100)


def test_pack_cuts_rows_and_drops_the_tail():
    rows = lmdata.pack(np.arange(10), 3)
    assert (
        rows.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and rows.dtype == torch.int64
    )
    with pytest.raises(ValueError, match="do not fill one row"):
        lmdata.pack(np.arange(2), 3)


def test_build_is_reproducible_and_splits_differ():
    cfg = lmdata.DataConfig(n_train_tokens=4096, n_val_tokens=1024, seq_len=64, seed=5)
    a = lmdata.build_split("train", cfg, V())
    assert lmdata.sha256_tokens(a) == lmdata.sha256_tokens(
        lmdata.build_split("train", cfg, V())
    )
    b = lmdata.build_split("val", cfg, V())
    assert a.shape == (4096,) and b.shape == (1024,) and a[0] == BOS
    assert not np.array_equal(a[:1024], b)


def test_committed_validation_split_is_reproduced_from_the_seed():
    art = load_artifact(lmdata.DATA_NAME)
    cfg = lmdata.DataConfig(**art.config)
    rebuilt = lmdata.build_split("val", cfg, V())
    assert lmdata.sha256_tokens(rebuilt) == art.metrics["val_sha256"]
    val = lmdata.load_split("val")
    assert val.shape == (cfg.n_val_tokens // cfg.seq_len, cfg.seq_len)
    assert torch.equal(val.flatten(), torch.from_numpy(rebuilt.astype(np.int64)))


def test_load_split_refuses_data_made_with_another_tokenizer(monkeypatch):
    monkeypatch.setattr(lmdata, "_tokenizer_sha", lambda: "f" * 64)
    with pytest.raises(ArtifactError, match="another tokenizer.*--force"):
        lmdata.load_split("train")


def test_load_split_rejects_a_wrong_name():
    with pytest.raises(ValueError, match="use 'train' or 'val'"):
        lmdata.load_split("test")


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


def test_bigram_truth_is_a_distribution_with_known_strong_pairs():
    truth = lmdata.bigram_truth()
    assert truth.next_ids.shape == truth.next_probs.shape and truth.next_ids.shape[
        0
    ] == len(V())
    seen = truth.row_totals > 0
    assert torch.all(truth.next_probs[seen].sum(-1) <= 1 + 1e-2)
    assert torch.all(truth.next_probs[:, :-1] >= truth.next_probs[:, 1:] - 1e-3)
    assert truth.table("upon")["next"][0] == "a"
    assert truth.table("once")["next"][0] == "upon"
    top = truth.strongest(5)
    assert (
        list(top.columns) == ["token", "next", "prob", "count"]
        and (top["prob"] > 0.9).all()
    )


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


def test_own_corpus_round_trip(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("\n\n".join(grammar.sample(40, seed=8)))
    docs = lmdata.read_texts(path)
    assert len(docs) == 40
    train, val = lmdata.pack_texts(docs, V(), seq_len=32, val_fraction=0.1)
    assert (
        train.shape[1] == val.shape[1] == 32 and train.shape[0] > 5 * val.shape[0] > 0
    )
    with pytest.raises(ValueError, match="at least 2"):
        lmdata.pack_texts(docs[:1], V(), seq_len=4)


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
