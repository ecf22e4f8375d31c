"""What the LayerNorm chapter measures on its model besides the logit split: fact recall."""

from __future__ import annotations

import pandas as pd
import torch

from interplib.corpus.grammar import fact_prompts
from interplib.corpus.tokenizer import BOS

__all__ = ["fact_recall"]


@torch.no_grad()
def fact_recall(
    model, tokenizer, prompts: pd.DataFrame | None = None, batch_size: int = 128
) -> pd.DataFrame:
    """Greedy recall of every fact: ``prompts`` (default :func:`interplib.corpus.grammar.fact_prompts`) plus
    ``answer_rank`` (rank of the answer's first token after ``[BOS] prompt``, 0 = top) and
    ``recalled`` (every answer token is the argmax under teacher forcing, i.e. greedy decoding
    writes the answer). ``model`` maps ``tokens [batch pos]`` to logits (or an HF output);
    rows are right-padded, which causal attention makes exact at the positions read."""
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
