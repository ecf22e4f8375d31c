"""The rules of the story grammar: every written rule holds in generated text, the checks
catch planted errors, facts read back match the table, and the measurements on texts."""

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from builders import story_texts as texts

from interplib.corpus import grammar, rules
from interplib.corpus import lexicon as L


def test_every_rule_holds_in_generated_text():
    rates = rules.measure_rules(texts())
    for rule in ("a/an", "pronoun", "verb number", "facts", "name recurs"):
        assert rates.loc[rule, "checked"] > 1000 or rule == "name recurs", rule
        assert rates.loc[rule, "rate"] == 1.0, rates.loc[rule]
    assert 0.2 < rates.loc["copy", "rate"] < 0.6
    assert 0.3 < rates.loc["once upon a time", "rate"] < 0.6
    assert rates.loc["little girl named", "rate"] > 0.4


def test_checkers_catch_planted_errors():
    assert rules.article_check(grammar.words("She saw a apple and an ball.")) == (
        2,
        0,
    )
    assert rules.pronoun_check(grammar.words("Mia went home. He was sad.")) == (1, 0)
    assert rules.pronoun_check(
        grammar.words("Mia and Tom went home. They were sad.")
    ) == (1, 1)
    assert rules.verb_check(
        grammar.words("She were sad. They was sad. Mia were sad.")
    ) == (3, 0)
    assert rules.verb_check(
        grammar.words("She plays. They play. Mia and Tom play.")
    ) == (3, 3)
    assert rules.fact_check(
        "Paris is the capital city of Germany. The capital of Ireland is Dublin."
    ) == (2, 1)


def test_facts_are_stated_in_every_phrasing_and_match_the_table():
    joined = " ".join(texts())
    assert "Dublin is the capital city of Ireland." in " ".join(texts(6000))
    for phrase in (
        "is the capital city of",
        "The capital city of",
        "The capital of",
        "is the capital of",
        "is a city in",
        "is a country in",
        "People in",
    ):
        assert phrase in joined, phrase
    stated = rules.fact_statements(joined)
    table = {c.name: c for c in L.COUNTRIES}
    capitals = Counter(country for kind, country, _ in stated if kind == "capital")
    assert set(capitals) == set(table), (
        "every country's capital is stated in a 3000-story sample"
    )
    for kind, country, value in stated:
        assert value == getattr(table[country], kind), (kind, country, value)


def test_fact_prompts_complete_to_sentences_the_grammar_writes():
    prompts = rules.fact_prompts()
    assert len(prompts) == 6 * len(L.COUNTRIES)
    joined = " ".join(texts(6000))
    assert "Dublin is the capital city of Ireland" in joined
    written = [
        f"{p} {a}" in joined for p, a in zip(prompts["prompt"], prompts["answer"])
    ]
    for phrasing, seen in (
        pd.Series(written).groupby(prompts["phrasing"]).mean().items()
    ):
        assert seen > 0.3, (
            f"only {seen:.0%} of the '{phrasing}' prompts occur in the sample"
        )
    for _, row in prompts.iterrows():
        assert rules.fact_check(f"{row.prompt} {row.answer}.") == (1, 1), row.prompt


def test_rules_table_describes_every_rule():
    rates = rules.measure_rules(texts(20))
    assert list(rates.index) == [r.name for r in rules.RULES]
    assert rates["statement"].str.len().min() > 20
    assert not math.isnan(rates.loc["a/an", "rate"])


def test_word_counts_counts_lowercased_alphabetic_words():
    got = rules.word_counts(["The cat saw the Cat.", "A cat, 3 dogs!"])
    assert got == Counter({"cat": 3, "the": 2, "saw": 1, "a": 1, "dogs": 1})


def test_zipf_fit_recovers_a_planted_power_law_and_matches_a_direct_fit():
    planted = {f"w{r}": round(1e6 * r**-1.3) for r in range(1, 3001)}
    freq, slope, intercept = rules.zipf_fit(planted)
    assert freq.tolist() == sorted(planted.values(), reverse=True)
    assert abs(slope + 1.3) < 1e-3 and abs(intercept - math.log(1e6)) < 1e-2
    counts = rules.word_counts(texts(500))
    freq, slope, intercept = rules.zipf_fit(counts, lo=5, hi=300)
    ranks = list(range(1, len(freq) + 1))[5:300]
    direct = np.polyfit(np.log(ranks), np.log(freq[5:300]), 1)
    assert np.allclose([slope, intercept], direct)
    with pytest.raises(ValueError, match="fewer than two ranks"):
        rules.zipf_fit({"a": 3, "b": 1})


def test_is_present_tense_reads_the_opening_frame():
    assert rules.is_present_tense("This is Mia. She is a little girl.")
    assert rules.is_present_tense("Say hello to Tom. He is a hedgehog.")
    assert not rules.is_present_tense("Once upon a time, there was a girl named Mia.")
    share = np.mean([rules.is_present_tense(t) for t in texts()])
    assert 0.25 < share < 0.35  # the grammar tells 30% of its stories in the present
