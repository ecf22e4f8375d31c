"""The bilinear-bigrams study's recipes: 1- and 2-layer bilinear transformers on the story corpus.

Both train with :func:`interplib.core.training.train_lm` on the ``story-lmdata`` splits and are
stored in float16 (:func:`interplib.studies.bilinear.model.model_tensors`);
``recipes.load_model("bilinear-l1")`` rebuilds one in float32. The configs are the CPU
path: 2,000 steps of 16 × 256 tokens (8.2M tokens), about 72 min (1 layer) and 99 min
(2 layers) on the book's 2-core CPU (the sidecars' wall times). On a GPU,
``python -m interplib.train bilinear-l1 --device cuda`` runs the same recipe.
"""

from __future__ import annotations

import torch

from interplib.core.artifacts import Artifact
from interplib.core.recipes import Recipe, Trained, register
from interplib.core.training import (
    LMRun,
    LMTrainConfig,
    artifact_payload,
    smoke_run,
    split_payload,
    train_lm,
)
from interplib.corpus import lmdata
from interplib.studies.bilinear.model import (
    BilinearConfig,
    BilinearTransformer,
    model_from_tensors,
)

__all__ = ["RUNS", "fit", "model_from_artifact"]

STUDY = "bilinear"


CPU_TRAINING = LMTrainConfig(
    steps=2000,
    batch_size=16,
    lr=1e-3,
    warmup_steps=100,
    eval_every=250,
    eval_sequences=128,
)
RUNS = {
    f"bilinear-l{n}": LMRun(BilinearConfig(n_layers=n), CPU_TRAINING) for n in (1, 2)
}


def fit(run: LMRun, device: torch.device, progress) -> Trained:
    """Train, store float16 weights and the curves.

    The validation loss is measured on the stored weights.
    """
    model = BilinearTransformer(run.model)
    val = lmdata.load_split("val")
    result = train_lm(
        model,
        lmdata.load_split("train"),
        val,
        run.train,
        device,
        progress,
        desc=run.model.name,
    )
    tensors, metrics = artifact_payload(model, result, val)
    return Trained(
        tensors,
        metrics,
        key_metric=("validation loss (nats/token)", metrics["val_loss_float16"]),
    )


def model_from_artifact(run: LMRun, art: Artifact) -> BilinearTransformer:
    """The trained model an artifact holds, float32, eval mode (the recipes' loader)."""
    weights, _ = split_payload(art.tensors)
    return model_from_tensors(run.model, weights)


for _name, _run in RUNS.items():
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_run,
            fit=fit,
            needs=(lmdata.DATA_NAME,),
            loader=model_from_artifact,
            smoke=smoke_run,
            seconds={"cpu": {1: 4334, 2: 5924}[_run.model.n_layers]},
            description=f"{_run.model.n_layers}-layer bilinear transformer on the story corpus",
        )
    )
