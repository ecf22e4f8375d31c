"""The LayerNorm-attribution study's recipe: a small GPT-NeoX (Pythia family) on the story corpus.

The chapter asks how a model writes " Ireland" after "Dublin is the capital city of", as the
seed asked of Pythia-70m. We cannot download Pythia, so ``neox-stories`` trains a model of the
same family (:mod:`interplib.studies.layernorm.model`: LayerNorm, partial rotary, parallel
attention and MLP, untied unembedding) on the story corpus, whose stories state the facts of
:func:`interplib.corpus.lexicon.fact_table`, and records how many of them it recalls
(:func:`~interplib.studies.layernorm.analysis.fact_recall`). It is stored as a Hugging Face
model (safetensors, ``config.json``, the tokenizer) that
:func:`interplib.core.bridge.boot_artifact` boots with ``TransformerBridge.boot_transformers``
exactly as a reader boots the real Pythia.

On one H100 the recipe takes a few minutes (``python -m interplib.train neox-stories --device
cuda``). The CPU path is the same command with ``--device cpu``; its cost per step is
measured on the book's status page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch

from interplib.core.artifacts import Artifact
from interplib.core.bridge import boot_artifact, hf_trained
from interplib.core.recipes import Recipe, Trained, register
from interplib.core.training import CURVE, LMRun, LMTrainConfig, smoke_run, train_lm
from interplib.corpus import lmdata
from interplib.corpus.tokenizer import BOS, EOS, Vocab
from interplib.studies.layernorm.analysis import fact_recall
from interplib.studies.layernorm.model import NeoXConfig, build_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RUN", "NAME", "fit", "model_from_artifact"]

STUDY = "layernorm"
NAME = "neox-stories"


RUN = LMRun(
    NeoXConfig(d_vocab=4096, d_model=256, n_layers=6, n_heads=8, d_mlp=1024, n_ctx=256),
    LMTrainConfig(
        steps=4000,
        batch_size=64,
        lr=1e-3,
        warmup_steps=200,
        weight_decay=0.1,
        eval_every=500,
        eval_sequences=256,
    ),
)


def fit(run: LMRun, device: torch.device, progress) -> Trained:
    """Train, then measure fact recall; stored as a float16 HF model with its curves."""
    tokenizer = Vocab.load().hf_tokenizer()
    model = build_model(run.model, bos_token_id=BOS, eos_token_id=EOS)
    val = lmdata.load_split("val")
    result = train_lm(
        model, lmdata.load_split("train"), val, run.train, device, progress, desc=NAME
    )
    recall = fact_recall(model, tokenizer)
    # pandas is unannotated: pyright cannot tell a column from a frame, hence the casts
    recalled = cast("pd.Series", recall["recalled"])
    by_relation = cast("pd.Series", recall.groupby("relation")["recalled"].mean())
    metrics = {
        **result.summary(),
        "recall_by_relation": by_relation.round(4).to_dict(),
        "recall": float(recalled.mean()),
    }
    trained = hf_trained(
        model,
        tokenizer,
        metrics,
        (
            "capital recall",
            float(recall.loc[recall["relation"] == "capital", "recalled"].mean()),
        ),
    )
    trained.tensors.update({CURVE + k: v for k, v in result.tensors().items()})
    return trained


def model_from_artifact(run: LMRun, art: Artifact, **options):
    """The trained model as a TransformerLens bridge, booted from a local Hugging Face directory
    exactly as a reader boots Pythia (:func:`interplib.core.bridge.boot_artifact`; ``options``:
    ``device``, ``dtype``, ``compatibility``)."""
    return boot_artifact(art, **options)


register(
    Recipe(
        name=NAME,
        study=STUDY,
        config=RUN,
        fit=fit,
        needs=(lmdata.DATA_NAME,),
        loader=model_from_artifact,
        smoke=smoke_run,
        description="6-layer GPT-NeoX (Pythia family) on the story corpus",
    )
)
