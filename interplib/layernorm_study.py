"""The LayerNorm-attribution study's recipe: a small GPT-NeoX (Pythia family) on the story corpus.

The chapter asks how a model writes " Ireland" after "Dublin is the capital city of", as the
seed asked of Pythia-70m. We cannot download Pythia, so ``neox-stories`` trains a model of
the same family (:mod:`interplib.neox`: LayerNorm, partial rotary, parallel attention and
MLP, untied unembedding) on the story corpus, whose stories state the facts of
:func:`interplib.lexicon.fact_table`, and records how many of them it recalls
(:func:`fact_recall`). It is stored as a Hugging Face model (safetensors, ``config.json``,
the tokenizer) that :func:`interplib.bridge.boot_artifact` boots with
``TransformerBridge.boot_transformers`` exactly as a reader boots the real Pythia.

On one H100 the recipe takes a few minutes (``python -m interplib.train neox-stories --device
cuda``). The CPU path is the same command with ``--device cpu``; its cost per step is
measured on the book's status page.
"""

from __future__ import annotations

import pandas as pd
import torch

from . import lmdata
from .bridge import hf_trained
from .lm_training import CURVE, LMRun, LMTrainConfig, train_lm
from .neox import NeoXConfig, build_model
from .recipes import Recipe, Trained, register
from .stories import fact_prompts
from .vocab import BOS, EOS, Vocab

__all__ = ["RUN", "NAME", "fact_recall", "fit"]

STUDY = "layernorm"
NAME = "neox-stories"


RUN = LMRun(
    NeoXConfig(d_vocab=4096, d_model=256, n_layers=6, n_heads=8, d_mlp=1024, n_ctx=256),
    LMTrainConfig(steps=4000, batch_size=64, lr=1e-3, warmup_steps=200, weight_decay=0.1,
                  eval_every=500, eval_sequences=256),
)


@torch.no_grad()
def fact_recall(model, tokenizer, prompts: pd.DataFrame | None = None, batch_size: int = 128) -> pd.DataFrame:
    """Greedy recall of every fact: ``prompts`` (default :func:`interplib.stories.fact_prompts`) plus
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
        chunk = list(zip(contexts[start:start + batch_size], targets[start:start + batch_size]))
        rows = [context + target for context, target in chunk]
        tokens = torch.full((len(rows), max(map(len, rows))), tokenizer.pad_token_id, dtype=torch.long)
        for i, row in enumerate(rows):
            tokens[i, :len(row)] = torch.tensor(row)
        out = model(tokens.to(device))
        logits = (out.logits if hasattr(out, "logits") else out).float().cpu()
        for row_logits, (context, target) in zip(logits, chunk):
            read = row_logits[len(context) - 1: len(context) - 1 + len(target)]   # [answer_token vocab]
            ranks.append(int((read[0] > read[0, target[0]]).sum()))
            recalled.append(bool((read.argmax(-1) == torch.tensor(target)).all()))
    return prompts.assign(answer_rank=ranks, recalled=recalled)


def fit(run: LMRun, device: torch.device, progress) -> Trained:
    """Train, then measure fact recall; stored as a float16 HF model with its curves."""
    tokenizer = Vocab.load().hf_tokenizer()
    model = build_model(run.model, bos_token_id=BOS, eos_token_id=EOS)
    val = lmdata.load_split("val")
    result = train_lm(model, lmdata.load_split("train"), val, run.train, device, progress, desc=NAME)
    recall = fact_recall(model, tokenizer)
    metrics = {**result.summary(),
               "recall_by_relation": recall.groupby("relation")["recalled"].mean().round(4).to_dict(),
               "recall": float(recall["recalled"].mean())}
    trained = hf_trained(model, tokenizer, metrics, ("capital recall", float(
        recall.loc[recall["relation"] == "capital", "recalled"].mean())))
    trained.tensors.update({CURVE + k: v for k, v in result.tensors().items()})
    return trained


register(Recipe(name=NAME, study=STUDY, config=RUN, fit=fit, needs=(lmdata.DATA_NAME,),
                description="6-layer GPT-NeoX (Pythia family) on the story corpus"))
