"""What the LayerNorm chapter measures on its model besides the logit split: fact recall,
and the small readers of a split it applies to every fact (heads as a grid, the largest
writer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from interplib.corpus.rules import fact_prompts
from interplib.corpus.tokenizer import BOS

if TYPE_CHECKING:
    from interplib.interp.attribution import LogitSplit

__all__ = ["fact_recall", "answer_first_tokens", "head_grid", "largest_writer"]


@torch.no_grad()
def fact_recall(
    model, tokenizer, prompts: pd.DataFrame | None = None, batch_size: int = 128
) -> pd.DataFrame:
    """Greedy recall of every fact.

    ``prompts`` (default :func:`interplib.corpus.rules.fact_prompts`) plus ``answer_rank``
    (rank of the answer's first token after ``[BOS] prompt``, 0 = top) and ``recalled`` (every
    answer token is the argmax under teacher forcing, i.e. greedy decoding writes the answer).
    ``model`` maps ``tokens [batch pos]`` to logits (or an HF output); rows are right-padded,
    which causal attention makes exact at the positions read."""
    prompts = fact_prompts() if prompts is None else prompts
    device = next(model.parameters()).device
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    contexts = [[BOS, *encode(p)] for p in prompts["prompt"]]
    targets = [encode(" " + a) for a in prompts["answer"]]
    ranks, recalled = [], []
    for start in range(0, len(contexts), batch_size):
        chunk = list(
            zip(
                contexts[start : start + batch_size],
                targets[start : start + batch_size],
            )
        )
        rows = [context + target for context, target in chunk]
        tokens = torch.full(
            (len(rows), max(map(len, rows))), tokenizer.pad_token_id, dtype=torch.long
        )
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
    return prompts.assign(answer_rank=ranks, recalled=recalled)


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
