"""How templated the corpus is: each measure against a count by hand on a tiny input."""

import numpy as np
import pytest
import torch

from interplib.corpus import stats


def test_split_sentences_keeps_quoted_sentences_apart():
    text = '"Hi!" said Tom. Tom ran home. "Why?" asked Mia.'
    assert stats.split_sentences(text) == [
        "Hi!",
        "said Tom.",
        "Tom ran home.",
        "Why?",
        "asked Mia.",
    ]


def test_sentence_repetition_counts_occurrences_of_frequent_sentences():
    texts = ["A b. A b. C d."] * 5 + ["E f."]
    got = stats.sentence_repetition(texts, min_count=10)
    # "A b." occurs 10 times, "C d." 5, "E f." once: 16 occurrences, 3 types
    assert got == {
        "n_sentences": 16,
        "n_types": 3,
        "share_occurrences": pytest.approx(10 / 16),
        "share_types": pytest.approx(1 / 3),
    }
    with pytest.raises(ValueError, match="positive count"):
        stats.sentence_repetition(texts, min_count=0)
    with pytest.raises(ValueError, match="no sentence"):
        stats.sentence_repetition([""])


def test_fact_density_reads_the_statements_back():
    texts = [
        "Dublin is the capital city of Ireland. Tom ran.",
        "Mia sat down.",
        "People in France speak French. France is a country in Europe.",
    ]
    got = stats.fact_density(texts)
    n_words = sum(len(t.split()) for t in texts)
    assert got["per_story"] == pytest.approx(1.0)
    assert got["story_share"] == pytest.approx(2 / 3)
    assert got["per_1000_words"] == pytest.approx(3000 / n_words)
    with pytest.raises(ValueError, match="at least one story"):
        stats.fact_density([])


def test_deterministic_bigrams_weights_by_occurrence():
    top = torch.tensor([1.0, 0.5, 1.0, 1.0])
    totals = torch.tensor([3000, 1000, 2000, 10])  # the last is too rare to count
    got = stats.deterministic_bigrams(top, totals, min_count=1000)
    assert got == {
        "n_tokens": 3,
        "type_share": pytest.approx(2 / 3),
        "occurrence_share": pytest.approx(5000 / 6000),
    }
    with pytest.raises(ValueError, match="lower min_count"):
        stats.deterministic_bigrams(top, totals, min_count=10**6)
    with pytest.raises(ValueError, match="must both be"):
        stats.deterministic_bigrams(top, totals[:2])


def test_count_sequences_matches_a_sliding_window():
    rng = np.random.default_rng(0)
    stream = rng.integers(0, 4, size=(50, 20))
    flat = stream.ravel()
    seqs = [[1], [1, 2], [3, 3, 3], [0, 1, 2, 3], [9]]
    brute = [
        sum(list(flat[i : i + len(s)]) == s for i in range(flat.size - len(s) + 1))
        for s in seqs
    ]
    assert stats.count_sequences(stream, seqs) == brute
    assert stats.count_sequences(torch.from_numpy(stream), seqs) == brute
    with pytest.raises(ValueError, match="empty"):
        stats.count_sequences(stream, [[]])


def test_seen_suffixes_matches_a_search_by_hand():
    rng = np.random.default_rng(1)
    stream = rng.integers(0, 5, size=(40, 25))
    flat = list(stream.ravel())
    contexts = [[2], [4, 1, 2], [0, 0, 0, 0, 0, 0, 0, 0], [3, 1, 4, 1, 0], [9], [7, 2]]
    next_tokens = [3, 0, 1, 2, 0, 4]

    def occurrences(seq):  # start positions of seq in the flat stream
        n = len(seq)
        return [i for i in range(len(flat) - n + 1) if flat[i : i + n] == list(seq)]

    brute = []
    for ctx, nxt in zip(contexts, next_tokens):
        length = max(
            (k for k in range(1, len(ctx) + 1) if occurrences(ctx[-k:])), default=0
        )
        starts = occurrences(ctx[-length:]) if length else []
        followed = sum(
            i + length < len(flat) and flat[i + length] == nxt for i in starts
        )
        brute.append([length, len(starts), followed])
    got = stats.seen_suffixes(stream, contexts, next_tokens)
    assert got.tolist() == brute
    assert got[2, 0] < 8 and got[4].tolist() == [0, 0, 0]
    assert (
        stats.seen_suffixes(torch.from_numpy(stream), contexts, next_tokens).tolist()
        == brute
    )
    # the stream's very last token is seen but cannot be followed
    tail = stats.seen_suffixes(np.array([1, 2, 1]), [[1]], [2])
    assert tail.tolist() == [[1, 2, 1]]
    with pytest.raises(ValueError, match="empty"):
        stats.seen_suffixes(stream, [[]], [0])
    with pytest.raises(ValueError, match="one each"):
        stats.seen_suffixes(stream, [[1]], [0, 1])


def test_shared_with_grammar_names_every_rule_and_what_the_checkers_call():
    import inspect

    from interplib.corpus import lexicon, rules

    assert set(stats.SHARED_WITH_GRAMMAR) == {r.name for r in rules.RULES}
    assert "L.article" in inspect.getsource(rules.article_check)
    verb_sets = inspect.getsource(rules)
    assert "L.third_person" in verb_sets and "L.past" in verb_sets
    assert "L.COUNTRIES" in inspect.getsource(rules.fact_check)
    # the pronoun checker's logic is its own, but a name's gender is the lexicon's
    assert "L." not in inspect.getsource(rules.pronoun_check)
    assert rules._REFS == {**lexicon.NAMES, **lexicon.FAMILY}
    assert stats.SHARED_WITH_GRAMMAR["pronoun"].startswith("partly")
