"""The rules the story grammar keeps, their checks, and measurements on texts.

``RULES`` states in words each rule of :mod:`interplib.corpus.grammar`'s stories that a model
can learn and a test can check (agreement, facts, repetition, set phrases); the ``*_check``
functions count, in any text, the cases a rule covers and how many of them hold, and
:func:`measure_rules` gathers them into one table. Facts are read back from text
(:func:`fact_statements`) and turned into cloze prompts (:func:`fact_prompts`);
:func:`word_counts`, :func:`zipf_fit` and :func:`is_present_tense` describe a sample.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from interplib.corpus import lexicon as L
from interplib.corpus.grammar import words

__all__ = [
    "Rule",
    "RULES",
    "article_check",
    "pronoun_check",
    "verb_check",
    "fact_statements",
    "fact_check",
    "measure_rules",
    "fact_prompts",
    "is_present_tense",
    "word_counts",
    "zipf_fit",
]


@dataclass(frozen=True)
class Rule:
    """A rule of the stories that a model can learn and a test can check, stated in words."""

    name: str
    kind: str  # "agreement", "fact", "repetition", "phrase"
    statement: str


RULES: tuple[Rule, ...] = (
    Rule(
        "a/an",
        "agreement",
        "The indefinite article is 'an' before a word that starts with a vowel letter and 'a' "
        "otherwise, except the silent-h words ("
        + ", ".join(sorted(L.VOWEL_SOUND_EXCEPTIONS))
        + ") take 'an' and the 'you'-sound words ("
        + ", ".join(sorted(L.CONSONANT_SOUND_EXCEPTIONS))
        + ") take 'a'.",
    ),
    Rule(
        "pronoun",
        "agreement",
        "A third-person pronoun (he/him/his, she/her, they/them/their) "
        "agrees with the most recently "
        "named character; two names joined by 'and' form one plural character.",
    ),
    Rule(
        "verb number",
        "agreement",
        "A verb right after its subject agrees in number: he, she or one name takes was/is/has/-s "
        "forms, they or 'X and Y' take were/are/have/base forms.",
    ),
    Rule(
        "facts",
        "fact",
        "Every statement of a capital, continent or language matches the fact table; a capital is "
        "stated in six phrasings, e.g. 'Dublin is the capital city of Ireland' "
        "(the most common one).",
    ),
    Rule(
        "name recurs",
        "repetition",
        "The hero's name occurs at least twice in every story.",
    ),
    Rule(
        "copy",
        "repetition",
        "One story in eight repeats a list of things verbatim ('packed ... "
        "unpacked ...') and one in "
        "eight a chant of uniformly random words ('sang it back: ...'); "
        "the rate counts stories with "
        "any repeated six-word span, so answers that echo a question count too.",
    ),
    Rule("once upon a time", "phrase", "Many stories open with 'Once upon a time,'."),
    Rule(
        "little girl named",
        "phrase",
        "'little girl' and 'little boy' are mostly followed by 'named' in openings.",
    ),
)

_SUBJ = {
    "he": "m",
    "him": "m",
    "his": "m",
    "himself": "m",
    "she": "f",
    "her": "f",
    "herself": "f",
    "they": "p",
    "them": "p",
    "their": "p",
    "themselves": "p",
}
_REFS = {**L.NAMES, **L.FAMILY}
_SG = {"was", "is", "has"} | {
    L.third_person(v) for v in L.INTRANSITIVE + L.TRANSITIVE + ("like",)
}
_PL = {"were", "are", "have"} | {
    v for v in L.INTRANSITIVE + L.TRANSITIVE if L.past(v) != v
}  # not "read"
_SG, _PL = _SG - _PL, _PL - _SG  # a form in both sets says nothing about number
_NAME = r"[A-Z][a-z]+(?: [A-Z][a-z]+)*"
_COUNTRY = r"(?:[Tt]he )?([A-Z][a-z]+(?:(?: and)? [A-Z][a-z]+)*)"
FACT_PATTERNS = {
    "capital": [
        re.compile(rf"({_NAME}) is the capital(?: city)? of {_COUNTRY}"),
        re.compile(rf"({_NAME}), the capital(?: city)? of {_COUNTRY}"),
        re.compile(rf"({_NAME}) is a city in {_COUNTRY}"),
    ],
    "capital_rev": [
        re.compile(rf"[Tt]he capital(?: city)? of {_COUNTRY} is ({_NAME})")
    ],
    "continent": [re.compile(rf"{_COUNTRY} is a country in ({_NAME})")],
    "language": [re.compile(rf"People in {_COUNTRY} speak ({_NAME})")],
}


def article_check(ws: list[str]) -> tuple[int, int]:
    """``(checked, held)`` for the a/an rule over a word list."""
    checked = held = 0
    for w, nxt in zip(ws, ws[1:]):
        lw = w.lower()
        if lw in ("a", "an") and nxt[:1].isalpha():
            checked += 1
            held += lw == L.article(nxt)
    return checked, held


def _referents(ws: list[str]):
    """Yield ``(index, gender)`` of each character mention; 'X and Y' yields one plural mention."""
    i, n = 0, len(ws)
    while i < n:
        g = _REFS.get(ws[i])
        if g is None:
            i += 1
            continue
        j = i
        while j + 2 < n and ws[j + 1] == "and" and ws[j + 2] in _REFS:
            j += 2
        yield j, ("p" if j > i else g)
        i = j + 1


def pronoun_check(ws: list[str]) -> tuple[int, int]:
    """``(checked, held)`` for the pronoun rule: each pronoun against the last named character."""
    mentions = dict(_referents(ws))
    last = None
    checked = held = 0
    for i, w in enumerate(ws):
        if i in mentions:
            last = mentions[i]
            continue
        g = _SUBJ.get(w.lower())
        if g is not None and last is not None:
            checked += 1
            held += g == last
    return checked, held


def verb_check(ws: list[str]) -> tuple[int, int]:
    """``(checked, held)`` for verb number right after a pronoun subject or a (pair of) name(s)."""
    number = {i: g == "p" for i, g in _referents(ws)}
    checked = held = 0
    for i, w in enumerate(ws[:-1]):
        lw = w.lower()
        if lw in ("he", "she", "they"):
            plural = lw == "they"
        elif i in number:
            if i > 0 and ws[i - 1] in (
                "named",
                "called",
                "to",
                "said",
                "asked",
                "showed",
                "visited",
            ):
                continue
            plural = number[i]
        else:
            continue
        nxt = ws[i + 1]
        if nxt in _SG or nxt in _PL:
            checked += 1
            held += (nxt in _PL) == plural
    return checked, held


def fact_statements(text: str) -> list[tuple[str, str, str]]:
    """Every ``(kind, country, value)`` the text states: kind is capital, continent or language."""
    out = []
    for kind, patterns in FACT_PATTERNS.items():
        for pat in patterns:
            for m in pat.finditer(text):
                if kind == "capital":
                    if (
                        m.group(1) == "What"
                    ):  # the question "What is the capital of ...?"
                        continue
                    out.append(("capital", m.group(2), m.group(1)))
                elif kind == "capital_rev":
                    out.append(("capital", m.group(1), m.group(2)))
                else:
                    out.append((kind, m.group(1), m.group(2)))
    return out


def fact_check(text: str) -> tuple[int, int]:
    """``(stated, correct)``: statements of capital/continent/language against the fact table."""
    table = {c.name: c for c in L.COUNTRIES}
    stated = correct = 0
    for kind, country, value in fact_statements(text):
        stated += 1
        c = table.get(country)
        correct += (
            c is not None
            and value
            == {"capital": c.capital, "continent": c.continent, "language": c.language}[
                kind
            ]
        )
    return stated, correct


def _has_repeat(ws: list[str], n: int = 6) -> bool:
    seen = set()
    for i in range(len(ws) - n + 1):
        gram = tuple(ws[i : i + n])
        if gram in seen:
            return True
        seen.add(gram)
    return False


def measure_rules(texts: Iterable[str]) -> pd.DataFrame:
    """Each rule of ``RULES`` with the number of cases checked and the rate at which it holds.

    Cost: one pass over the words, O(total words).
    """
    tot = Counter()
    n_stories = 0
    for text in texts:
        n_stories += 1
        ws = words(text)
        for key, (c, h) in (
            ("a/an", article_check(ws)),
            ("pronoun", pronoun_check(ws)),
            ("verb number", verb_check(ws)),
            ("facts", fact_check(text)),
        ):
            tot[key, 0] += c
            tot[key, 1] += h
        hero = next((w for w in ws if w in _REFS), None)
        tot["name recurs", 0] += 1
        tot["name recurs", 1] += hero is not None and ws.count(hero) >= 2
        tot["copy", 0] += 1
        tot["copy", 1] += _has_repeat(ws)
        tot["once upon a time", 0] += 1
        tot["once upon a time", 1] += text.startswith("Once upon a time")
        for a, b in zip(ws, ws[1:]):
            if a == "little" and b in ("girl", "boy"):
                tot["little girl named", 0] += 1
        tot["little girl named", 1] += len(
            re.findall(r"little (?:girl|boy) named", text)
        )
    rows = []
    for rule in RULES:
        checked, held = tot[rule.name, 0], tot[rule.name, 1]
        rows.append(
            dict(
                rule=rule.name,
                kind=rule.kind,
                checked=checked,
                holds=held,
                rate=held / checked if checked else float("nan"),
                statement=rule.statement,
            )
        )
    return pd.DataFrame(rows).set_index("rule")


def fact_prompts() -> pd.DataFrame:
    """Cloze prompts for fact recall: one row per country and phrasing, with the true completion.

    Columns: country, relation (capital, country, continent, language), phrasing, prompt, answer.
    ``prompt + " " + answer`` is a sentence the grammar writes (without the final period), e.g.
    "Dublin is the capital city of" + "Ireland".
    """
    rows = []
    for c in L.COUNTRIES:
        for relation, phrasing, prompt, answer in (
            (
                "country",
                "X is the capital city of",
                f"{c.capital} is the capital city of",
                c.ref,
            ),
            ("country", "X is the capital of", f"{c.capital} is the capital of", c.ref),
            (
                "capital",
                "The capital city of Y is",
                f"The capital city of {c.ref} is",
                c.capital,
            ),
            ("capital", "The capital of Y is", f"The capital of {c.ref} is", c.capital),
            ("continent", "Y is a country in", f"{c.Ref} is a country in", c.continent),
            ("language", "People in Y speak", f"People in {c.ref} speak", c.language),
        ):
            rows.append(
                dict(
                    country=c.name,
                    relation=relation,
                    phrasing=phrasing,
                    prompt=prompt,
                    answer=answer,
                )
            )
    return pd.DataFrame(rows)


_PRESENT_OPENING = re.compile(r"(This is|Meet|Say hello to) ")


def is_present_tense(text: str) -> bool:
    """Whether a story is told in the present tense, read from its text alone.

    Present-tense stories, and only they, open with the frame of
    :meth:`.Grammar.present_opening` ("This is Mia.", "Meet Tom.", "Say hello to Lily.").
    """
    return bool(_PRESENT_OPENING.match(text))


def word_counts(texts: Iterable[str]) -> Counter:
    """How often each alphabetic word occurs in ``texts``, lower-cased.

    Words are those of :func:`.words`; punctuation and numbers are left out.
    """
    return Counter(w.lower() for text in texts for w in words(text) if w.isalpha())


def zipf_fit(
    counts: dict[str, int], lo: int = 10, hi: int = 2000
) -> tuple[np.ndarray, float, float]:
    """The rank–frequency curve of ``counts`` and a power law fitted to its middle.

    Returns ``freq`` (float ``[n_types]``, descending: ``freq[r - 1]`` is the count of the
    word of rank ``r``) and the ``slope`` and ``intercept`` of the least-squares line
    ``log freq = intercept + slope · log rank`` over ``freq[lo:hi]`` (ranks ``lo + 1`` to
    ``hi``), away from the few very common words and the long tail of rare ones.

    Raises:
        ValueError: fewer than two ranks in ``lo:hi``.
    """
    freq = np.array(sorted(counts.values(), reverse=True), dtype=float)
    ranks = np.arange(1, freq.size + 1)
    if len(ranks[lo:hi]) < 2:
        raise ValueError(
            f"{freq.size} word types leave fewer than two ranks in {lo}:{hi} to fit"
        )
    slope, intercept = np.polyfit(np.log(ranks[lo:hi]), np.log(freq[lo:hi]), 1)
    return freq, float(slope), float(intercept)
