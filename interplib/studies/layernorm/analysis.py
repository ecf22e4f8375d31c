"""What the LayerNorm chapter measures on its model besides the logit split: fact recall
(on the grammar's own phrasings and on phrasings the grammar never writes), and the small
readers of a split it applies to every fact (heads as a grid, the largest writer and its
table under each reading)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from interplib.corpus import lexicon as L
from interplib.corpus.rules import fact_prompts
from interplib.corpus.tokenizer import BOS

if TYPE_CHECKING:
    from interplib.interp.attribution import LogitSplit

__all__ = [
    "HELD_OUT_PHRASINGS",
    "fact_recall",
    "held_out_fragments",
    "held_out_prompts",
    "answer_first_tokens",
    "head_grid",
    "largest_writer",
    "writer_table",
]

# Phrasings of the four relations that no frame of the grammar writes (interplib.corpus.grammar
# ``fact`` and the episodes): (relation, phrasing, prompt template). The chapter checks that no
# prompt made from them occurs in the training split.
HELD_OUT_PHRASINGS: tuple[tuple[str, str, str], ...] = (
    ("country", "X is a big city in", "{capital} is a big city in"),
    ("country", "The city of X is in", "The city of {capital} is in"),
    ("capital", "In Y, the capital city is", "In {ref}, the capital city is"),
    ("capital", "The capital city in Y is", "The capital city in {ref} is"),
    ("continent", "Y is a big country in", "{Ref} is a big country in"),
    ("language", "The people in Y speak", "The people in {ref} speak"),
)


def held_out_fragments() -> dict[str, str]:
    """The longest fixed part of each held-out phrasing (the template without its slots).

    A prompt in that phrasing contains its fragment, so a fragment that never occurs in the
    training split proves that no prompt in that phrasing does.
    """
    return {
        phrasing: max(
            (part.strip(" ,") for part in re.split(r"\{\w+\}", template)), key=len
        )
        for _, phrasing, template in HELD_OUT_PHRASINGS
    }


def held_out_prompts() -> pd.DataFrame:
    """Cloze prompts in the phrasings of ``HELD_OUT_PHRASINGS``, one row per country.

    Columns as :func:`interplib.corpus.rules.fact_prompts` (country, relation, phrasing,
    prompt, answer); the answers are the fact table's.
    """
    rows = []
    for c in L.COUNTRIES:
        values = {
            "country": c.ref,
            "capital": c.capital,
            "continent": c.continent,
            "language": c.language,
        }
        for relation, phrasing, template in HELD_OUT_PHRASINGS:
            prompt = template.format(capital=c.capital, ref=c.ref, Ref=c.Ref)
            rows.append(
                dict(
                    country=c.name,
                    relation=relation,
                    phrasing=phrasing,
                    prompt=prompt,
                    answer=values[relation],
                )
            )
    return pd.DataFrame(rows)


@torch.no_grad()
def fact_recall(
    model,
    tokenizer,
    prompts: pd.DataFrame | None = None,
    batch_size: int = 128,
    bos: int | None = BOS,
    prefix: str = "",
) -> pd.DataFrame:
    """Greedy recall of every fact.

    Returns ``prompts`` (default :func:`interplib.corpus.rules.fact_prompts`) plus:
    ``answer_rank`` (rank of the answer's first token after ``[bos] prefix + prompt``,
    0 = top), ``recalled`` (every answer token is the argmax under teacher forcing, i.e.
    greedy decoding writes the answer), ``n_answer_tokens`` (the answer's length in tokens:
    above 1, the decomposed token is only a first piece) and ``copyable`` (the answer's first
    token already occurs in the prompt, so copying could produce it).

    ``model`` maps ``tokens [batch pos]`` to logits (or an HF output); rows are right-padded,
    which causal attention makes exact at the positions read. The defaults fit the book's
    tokenizer (every story starts with ``[BOS]``); for Pythia pass ``bos=None, prefix=" "``
    (no BOS, as the seed's call, and a byte-level BPE whose words carry a leading space).
    """
    prompts = fact_prompts() if prompts is None else prompts
    device = next(model.parameters()).device
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    start_ids = [] if bos is None else [bos]
    contexts = [[*start_ids, *encode(prefix + p)] for p in prompts["prompt"]]
    targets = [encode(" " + a) for a in prompts["answer"]]
    if min(map(len, targets)) == 0:
        raise ValueError("an answer encodes to no token; drop empty answers")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ranks, recalled = [], []
    for start in range(0, len(contexts), batch_size):
        chunk = list(
            zip(
                contexts[start : start + batch_size],
                targets[start : start + batch_size],
            )
        )
        rows = [context + target for context, target in chunk]
        tokens = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            tokens[i, : len(row)] = torch.tensor(row)
        out = model(tokens.to(device))
        logits = (out.logits if hasattr(out, "logits") else out).float().cpu()
        for row_logits, (context, target) in zip(logits, chunk):
            read = row_logits[
                len(context) - 1 : len(context) - 1 + len(target)
            ]  # [answer_token vocab]
            ranks.append(int((read[0] > read[0, target[0]]).sum()))
            recalled.append(bool((read.argmax(-1) == torch.tensor(target)).all()))
    return prompts.assign(
        answer_rank=ranks,
        recalled=recalled,
        n_answer_tokens=[len(t) for t in targets],
        copyable=[t[0] in c for c, t in zip(contexts, targets)],
    )


def answer_first_tokens(model, answers: Sequence[str]) -> torch.Tensor:
    """The first token id of ``" " + answer`` for each answer: ``int64 [n_answers]``.

    A multi-token answer ("the united kingdom") is read at its first token, the one the
    logit at the prompt's last position predicts. ``model`` is a ``TransformerBridge``
    (anything with ``to_tokens(text, prepend_bos=False)``).
    """
    return torch.tensor(
        [model.to_tokens(" " + a, prepend_bos=False)[0, 0].item() for a in answers],
        dtype=torch.long,
    )


_HEAD = re.compile(r"^L(\d+)H(\d+)$")


def head_grid(split: LogitSplit, rows=None) -> torch.Tensor:
    """The per-head terms of a ``unit="head"`` split as a grid: ``[n_layers n_heads]``.

    ``split.terms`` is ``[part batch]``; the parts labelled ``"L{layer}H{head}"`` are kept
    (the embedding, the output biases ``b_O`` and the MLPs are not heads) and averaged over
    the batch rows ``rows`` (a boolean mask or indices over ``batch``; all rows by default).
    With one prompt this is that prompt's terms.

    Raises:
        ValueError: the split has no head parts (split with ``unit="head"``).
    """
    heads = [(i, _HEAD.match(label)) for i, label in enumerate(split.labels)]
    heads = [(i, int(m[1]), int(m[2])) for i, m in heads if m]
    if not heads:
        raise ValueError("the split has no 'L{layer}H{head}' parts: use unit='head'")
    terms = split.terms
    if rows is not None:
        # a copy of an array: a pandas column's values are read-only
        rows = rows if isinstance(rows, torch.Tensor) else torch.tensor(np.array(rows))
        terms = terms[:, rows]
    grid = torch.zeros(
        1 + max(l for _, l, _ in heads),
        1 + max(h for _, _, h in heads),
        dtype=terms.dtype,
    )
    for i, layer, head in heads:
        grid[layer, head] = terms[i].mean()
    return grid


def largest_writer(
    split: LogitSplit, exclude: Sequence[str] = ("embed", "pos_embed")
) -> list[str]:
    """For each batch row, the label of the part with the largest (signed) term.

    ``split.terms`` is ``[part batch]``; the parts in ``exclude`` (by default the
    embeddings, which are not a block's writers) are left out. Returns ``batch`` labels.
    """
    keep = [i for i, label in enumerate(split.labels) if label not in exclude]
    best = split.terms[keep].argmax(0)  # [batch]
    return [split.labels[keep[i]] for i in best.tolist()]


def writer_table(
    splits: dict[str, LogitSplit], groups: Sequence[str], rows=None
) -> pd.DataFrame:
    """How often each part is the largest writer, per reading and group.

    ``splits`` maps a reading name to a split (e.g. ``lens.split_readings``'s); ``groups``
    labels each batch row (e.g. the relation); ``rows`` selects batch rows (a boolean mask,
    all by default). Returns counts with one row per ``(reading, largest writer)`` (only the
    parts that are the largest writer somewhere, in the order of the parts) and one column
    per group, zeros where a part never is.

    Raises:
        ValueError: if a split's batch does not match ``groups``.
    """
    labels = np.asarray(groups)
    keep = np.ones(len(labels), bool) if rows is None else np.asarray(rows, bool)
    tables = {}
    for reading, split in splits.items():
        if split.terms.shape[1] != len(labels):
            raise ValueError(
                f"the {reading!r} split has {split.terms.shape[1]} rows but groups has "
                f"{len(labels)}; pass one group label per batch row"
            )
        largest = np.asarray(largest_writer(split))
        counts = pd.crosstab(largest[keep], labels[keep])
        order = [label for label in split.labels if label in counts.index]
        tables[reading] = counts.loc[order]
    table = pd.concat(tables, names=["reading", "largest writer"])
    return table.fillna(0).astype(int).rename_axis(columns="group")
