"""The Vocab helper on a small tokenizer trained here (the committed one:
tests/artifacts/test_corpus.py)."""

import pytest
import torch

from interplib.corpus import grammar, rules
from interplib.corpus import tokenizer as vocab
from interplib.corpus.tokenizer import BOS, EOS, UNK, Vocab


def test_training_a_small_tokenizer_keeps_the_specials():
    tok = vocab.train_tokenizer(grammar.sample(200, seed=9), vocab_size=600)
    small = Vocab(tok)
    assert small.tokens[:4] == list(vocab.SPECIALS) and len(small) <= 600
    assert small.continuation_fraction() > 0.1


def test_config_validation_names_the_fix():
    with pytest.raises(ValueError, match="vocab_size=10"):
        vocab.VocabConfig(vocab_size=10)


@pytest.fixture(scope="module")
def small() -> Vocab:
    return Vocab(vocab.train_tokenizer(grammar.sample(200, seed=9), vocab_size=600))


def test_id_ignores_case_and_a_leading_space_and_never_answers_unk(small):
    word = next(t for t in small.tokens[len(vocab.SPECIALS) :] if t.isalpha())
    assert (
        small.id(word) == small.id(" " + word.capitalize()) == small.tokens.index(word)
    )
    with pytest.raises(KeyError, match="not in the vocabulary"):
        small.id("€")
    long = max(rules.word_counts(grammar.sample(50, seed=1)), key=len)
    assert len(small.encode(long)) > 1, long
    with pytest.raises(KeyError, match=f"{long!r} is not a single token"):
        small.id(long)


def test_to_tokens_and_token_look_up_the_token_table(small):
    ids = torch.tensor([[0, 5], [len(small) - 1, 7]])
    assert small.to_tokens(ids) == [small.tokens[i] for i in (0, 5, len(small) - 1, 7)]
    with pytest.raises(IndexError, match=f"outside the vocabulary 0..{len(small) - 1}"):
        small.token(len(small))


def test_encode_adds_bos_and_eos_only_when_asked_and_decode_inverts_it(small):
    text = grammar.sample(3, seed=2)[0]
    ids = small.encode(text)
    assert BOS not in ids and EOS not in ids
    assert small.encode(text, bos=True, eos=True) == [BOS, *ids, EOS]
    assert "".join(small.decode(ids).split()) == "".join(text.lower().split())


def test_encode_refuses_a_word_it_cannot_spell_unless_told_to_keep_unk(small):
    with pytest.raises(ValueError, match="cannot be spelled"):
        small.encode("the € cat")
    assert UNK in small.encode("the € cat", unknown="keep")
    with pytest.raises(ValueError, match="use 'raise' or 'keep'"):
        small.encode("the cat", unknown="drop")


def test_continuation_pieces_are_the_tokens_with_the_prefix(small):
    expected = [t.startswith(vocab.PREFIX) for t in small.tokens]
    assert small.is_continuation().tolist() == expected
    assert small.continuation_fraction() == pytest.approx(sum(expected) / len(small))
