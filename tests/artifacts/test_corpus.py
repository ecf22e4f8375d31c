"""The committed story tokenizer and LM data: special ids, single-token words, encodings, the
splits reproduced from the seed, the bigram truth."""

from functools import cache

import numpy as np
import pytest
import torch

from interplib.core.artifacts import ArtifactError
from interplib.core.recipes import load as load_artifact
from interplib.corpus import grammar, lmdata
from interplib.corpus import tokenizer as vocab
from interplib.corpus.tokenizer import BOS, EOS, PAD, UNK, Vocab

pytestmark = pytest.mark.artifacts


@cache
def V() -> Vocab:
    return Vocab.load()


def test_special_tokens_have_fixed_ids():
    assert V().tokens[:4] == ["[UNK]", "[BOS]", "[EOS]", "[PAD]"]
    assert (UNK, BOS, EOS, PAD) == (0, 1, 2, 3)
    assert (
        V().encode("a", bos=True, eos=True)[0] == BOS
        and V().encode("a", bos=True, eos=True)[-1] == EOS
    )


def test_size_and_continuation_pieces():
    assert len(V()) == vocab.VocabConfig().vocab_size == 4096
    assert V().continuation_fraction() >= 0.10
    assert V().is_continuation().sum() == sum(t.startswith("##") for t in V().tokens)


def test_fact_words_are_single_tokens_and_long_words_split():
    for w in (
        "dublin",
        "ireland",
        "capital",
        "city",
        "once",
        "upon",
        "named",
        "little",
        "girl",
    ):
        assert isinstance(V().id(w), int)
    pieces = (
        V()
        .tokenizer.encode("Ouagadougou hippopotamus", add_special_tokens=False)
        .tokens
    )
    assert any(p.startswith("##") for p in pieces)


def test_lowercases_and_round_trips_up_to_whitespace():
    for text in grammar.sample(50, seed=5):
        ids = V().encode(text)
        assert UNK not in ids
        assert "".join(V().decode(ids).split()) == "".join(text.lower().split())
    assert V().encode("DUBLIN") == V().encode("dublin")


def test_id_normalizes_case_and_spaces():
    assert V().id(" Ireland") == V().id("Ireland") == V().id("ireland")


def test_id_of_a_multi_token_string_says_how_it_encodes():
    with pytest.raises(KeyError, match="not a single token.*##"):
        V().id("hippopotamusblueberry")
    with pytest.raises(IndexError, match="outside the vocabulary"):
        V().token(len(V()))


def test_ids_tokens_and_decode_agree():
    ids = V().ids(["once", "upon", "a", "time"])
    assert V().to_tokens(torch.tensor(ids)) == ["once", "upon", "a", "time"]
    assert V().decode(ids) == "once upon a time"


def test_hf_tokenizer_encodes_the_same_ids():
    hf = V().hf_tokenizer()
    text = "Dublin is the capital city of Ireland."
    assert hf(text)["input_ids"] == V().encode(text)
    assert (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id, hf.unk_token_id) == (
        BOS,
        EOS,
        PAD,
        UNK,
    )


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
