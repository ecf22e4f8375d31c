"""How templated the story corpus is: measures of its limits as a stand-in for real text.

The grammar writes a few hundred sentence frames with Zipf-weighted word choices, so the corpus
repeats itself far more than natural text: whole sentences recur verbatim
(:func:`sentence_repetition`), facts are stated densely (:func:`fact_density`), many tokens
are followed by one next token only (:func:`deterministic_bigrams`), and a token sequence can
be looked up in the packed training stream exactly (:func:`count_sequences`), as can the
longest part of a prompt the stream holds and what follows it there (:func:`seen_suffixes`).
The story-corpus appendix reports these numbers and what they mean for the chapters that
train on the corpus.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.corpus.rules import fact_statements

__all__ = [
    "SHARED_WITH_GRAMMAR",
    "split_sentences",
    "sentence_repetition",
    "fact_density",
    "deterministic_bigrams",
    "count_sequences",
    "seen_suffixes",
]

# What each checker of ``rules.measure_rules`` shares with the grammar that writes the text,
# keyed by rule name. Where the checker calls the function the grammar used to choose the
# word, a 100 % rate passes by construction: it shows the grammar calls that function
# everywhere, not that the function is right.
SHARED_WITH_GRAMMAR: dict[str, str] = {
    "a/an": "by construction: the checker calls lexicon.article, the function the grammar "
    "uses to choose the article",
    "pronoun": "partly: the checker's own logic (each pronoun against the last named "
    "character), but a name's gender comes from lexicon.NAMES and lexicon.FAMILY, the lists "
    "the grammar draws girls, boys and family from",
    "verb number": "partly: which forms are singular or plural comes from "
    "lexicon.third_person and lexicon.past, which the grammar also inflects with",
    "facts": "partly: statements are read back from the text by pattern, but compared "
    "with the same fact table the grammar writes from",
    "name recurs": "independent: counts the hero's name in the text",
    "copy": "independent: looks for any repeated six-word span",
    "once upon a time": "independent: a string match on the opening",
    "little girl named": "independent: a string match",
}

# a sentence ends at . ! or ? (a closing quote stays with it), then whitespace
_SENTENCE_END = re.compile(r'(?<=[.!?])"?\s+')


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, without their quotes: ``'"Hi!" said Tom.'`` gives two."""
    parts = (p.strip().strip('"').strip() for p in _SENTENCE_END.split(text))
    return [p for p in parts if p]


def sentence_repetition(texts: Iterable[str], min_count: int = 10) -> dict[str, float]:
    """How much of a sample is sentences that recur verbatim at least ``min_count`` times.

    Returns ``n_sentences`` (occurrences), ``n_types`` (distinct sentences),
    ``share_occurrences`` (the fraction of occurrences whose sentence occurs ``min_count``
    times or more in the sample) and ``share_types`` (the fraction of distinct sentences that
    do). Cost: one pass, a Counter of sentences.

    Raises:
        ValueError: if ``min_count`` < 1 or the texts hold no sentence.
    """
    if min_count < 1:
        raise ValueError(f"min_count={min_count}: use a positive count")
    counts = Counter(s for text in texts for s in split_sentences(text))
    if not counts:
        raise ValueError("the texts hold no sentence; pass non-empty stories")
    values = np.array(list(counts.values()))
    frequent = values >= min_count
    return {
        "n_sentences": int(values.sum()),
        "n_types": int(values.size),
        "share_occurrences": float(values[frequent].sum() / values.sum()),
        "share_types": float(frequent.mean()),
    }


def fact_density(texts: Sequence[str]) -> dict[str, float]:
    """How often the sample states a fact of the fact table.

    Returns ``per_story`` (statements per story), ``per_1000_words`` and ``story_share``
    (the fraction of stories with at least one statement); statements are read back from the
    text by :func:`interplib.corpus.rules.fact_statements`.

    Raises:
        ValueError: on an empty sample.
    """
    if not texts:
        raise ValueError("no texts: pass at least one story")
    per_story = np.array([len(fact_statements(t)) for t in texts])
    n_words = sum(len(t.split()) for t in texts)
    return {
        "per_story": float(per_story.mean()),
        "per_1000_words": float(1000 * per_story.sum() / n_words),
        "story_share": float((per_story > 0).mean()),
    }


def deterministic_bigrams(
    top_prob: Float[Tensor, " d_vocab"],
    row_totals: Int[Tensor, " d_vocab"],
    min_count: int = 1000,
    threshold: float = 0.9999,
) -> dict[str, float]:
    """How many tokens have a next token that (almost) always follows them.

    ``top_prob[t]`` is ``P(most likely next | t)`` and ``row_totals[t]`` how often ``t`` is
    followed by anything (``lmdata.bigram_truth()``'s ``next_probs[:, 0]`` and
    ``row_totals``). Among tokens seen at least ``min_count`` times, returns ``n_tokens``,
    ``type_share`` (the fraction whose top next-token probability is at least
    ``threshold``) and ``occurrence_share`` (the same, weighted by how often each occurs).

    Raises:
        ValueError: if no token is seen ``min_count`` times, or the shapes differ.
    """
    if top_prob.shape != row_totals.shape:
        raise ValueError(
            f"top_prob {tuple(top_prob.shape)} and row_totals {tuple(row_totals.shape)} "
            "must both be [d_vocab]"
        )
    seen = row_totals >= min_count
    if not bool(seen.any()):
        raise ValueError(f"no token is seen {min_count} times; lower min_count")
    sure = (top_prob >= threshold) & seen
    weights = row_totals.double()
    return {
        "n_tokens": int(seen.sum()),
        "type_share": float(sure.sum() / seen.sum()),
        "occurrence_share": float(weights[sure].sum() / weights[seen].sum()),
    }


def _sorted_stream(
    stream: Int[Tensor, "..."] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(flat, order, ordered)``: the flattened stream ``[n]``, the stable argsort of its
    token ids (positions grouped by token, ascending) and the ids in that order."""
    flat = (
        stream.flatten().cpu().numpy()
        if isinstance(stream, torch.Tensor)
        else np.asarray(stream).ravel()
    )
    order = np.argsort(flat, kind="stable")
    return flat, order, flat[order]


def count_sequences(
    stream: Int[Tensor, "..."] | np.ndarray, seqs: Sequence[Sequence[int]]
) -> list[int]:
    """How many times each token sequence of ``seqs`` occurs in ``stream`` (flattened, overlaps
    counted). The packed training rows are consecutive cuts of one stream, so flattening
    them finds every occurrence.

    Cost: one stable sort of the stream (a few seconds for 20 million tokens), then per
    sequence a filter of the positions of its rarest token.

    Raises:
        ValueError: on an empty sequence.
    """
    if any(len(seq) == 0 for seq in seqs):
        raise ValueError("a sequence is empty: pass at least one token id in each")
    flat, order, ordered = _sorted_stream(stream)
    counts = []
    for seq in seqs:
        ids = np.asarray(seq)
        lo = np.searchsorted(ordered, ids, "left")
        hi = np.searchsorted(ordered, ids, "right")
        anchor = int(np.argmin(hi - lo))  # the rarest token of the sequence
        starts = order[lo[anchor] : hi[anchor]] - anchor
        starts = starts[(starts >= 0) & (starts + len(ids) <= flat.size)]
        for offset, token in enumerate(ids):
            starts = starts[flat[starts + offset] == token]
        counts.append(int(starts.size))
    return counts


def seen_suffixes(
    stream: Int[Tensor, "..."] | np.ndarray,
    contexts: Sequence[Sequence[int]],
    next_tokens: Sequence[int],
) -> np.ndarray:
    """For each context, the longest suffix that occurs in ``stream`` and what follows it.

    A prompt that never occurs can still end in a token sequence that does, followed by the
    answer: then an n-gram lookup, not recall, can complete it. Returns ``int64 [context 3]``:
    the length of the longest suffix of the context that occurs in the flattened stream (0 if
    not even its last token does), how often that suffix occurs, and how often it is followed
    by the context's ``next_tokens`` entry.

    Cost: one stable sort of the stream, then per context a filter of the positions of its
    last token, one step back per suffix token.

    Raises:
        ValueError: on an empty context, or if ``next_tokens`` has another length.
    """
    if len(next_tokens) != len(contexts):
        raise ValueError(
            f"{len(contexts)} contexts but {len(next_tokens)} next tokens: pass one each"
        )
    if any(len(ctx) == 0 for ctx in contexts):
        raise ValueError("a context is empty: pass at least one token id in each")
    flat, order, ordered = _sorted_stream(stream)
    out = np.zeros((len(contexts), 3), dtype=np.int64)
    for i, (ctx, nxt) in enumerate(zip(contexts, next_tokens)):
        lo, hi = np.searchsorted(ordered, [ctx[-1], ctx[-1] + 1])
        ends = order[lo:hi]  # where the last token occurs: the suffix of length 1
        length, seen = 0, ends[:0]
        for back, token in enumerate(reversed(ctx)):
            ends = ends[ends >= back]
            ends = ends[flat[ends - back] == token]
            if ends.size == 0:
                break
            length, seen = back + 1, ends
        followed = seen[seen + 1 < flat.size] + 1  # the last token cannot be followed
        out[i] = length, seen.size, int((flat[followed] == nxt).sum())
    return out
