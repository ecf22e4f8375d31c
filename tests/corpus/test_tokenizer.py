"""The story tokenizer (committed artifact) and the Vocab helper."""

from functools import cache

import pytest
import torch

from interplib.corpus import grammar
from interplib.corpus import tokenizer as vocab
from interplib.corpus.tokenizer import BOS, EOS, PAD, UNK, Vocab


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


def test_training_a_small_tokenizer_keeps_the_specials():
    tok = vocab.train_tokenizer(grammar.sample(200, seed=9), vocab_size=600)
    small = Vocab(tok)
    assert small.tokens[:4] == list(vocab.SPECIALS) and len(small) <= 600
    assert small.continuation_fraction() > 0.1


def test_config_validation_names_the_fix():
    with pytest.raises(ValueError, match="vocab_size=10"):
        vocab.VocabConfig(vocab_size=10)
