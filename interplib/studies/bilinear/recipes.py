"""The bilinear-bigrams study's recipes: 1- and 2-layer bilinear transformers on the story corpus.

Both train with :func:`interplib.core.training.train_lm` on the ``story-lmdata`` splits and are
stored in float16 (:func:`interplib.studies.bilinear.model.model_tensors`);
``recipes.load_model("bilinear-l1")`` rebuilds one in float32. The configs are the CPU
path: 2,000 steps of 16 × 256 tokens (8.2M tokens), about 72 min (1 layer) and 99 min
(2 layers) on the book's 2-core CPU (the sidecars' wall times). On a GPU,
``python -m interplib.train bilinear-l1 --device cuda`` runs the same recipe.

``bilinear-l1-long`` and ``bilinear-l2-long`` are the GPU runs still to come (not committed):
6,104 steps of 64 × 256 tokens (100M tokens, five passes over the 20M-token training split),
evaluated every 500 steps with :func:`~interplib.studies.bilinear.analysis.bigram_tracker`,
so that their curves give the chapter's readings against tokens seen.
"""

from __future__ import annotations

import dataclasses
import hashlib

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
from interplib.corpus.tokenizer import Vocab
from interplib.studies.bilinear.analysis import bigram_tracker
from interplib.studies.bilinear.model import (
    BilinearConfig,
    BilinearTransformer,
    model_from_tensors,
)

__all__ = [
    "RUNS",
    "TRACKED_RUNS",
    "LONG_RUNS",
    "fit",
    "fit_tracked",
    "fit_readings",
    "readings_only",
    "weights_sha256",
    "model_from_artifact",
    "register_runs",
]

STUDY = "bilinear"


CPU_TRAINING = LMTrainConfig(
    steps=2000,
    batch_size=16,
    lr=1e-3,
    warmup_steps=100,
    eval_every=250,
    eval_sequences=128,
)
GPU_TRAINING = LMTrainConfig(
    steps=6104,  # x 64 x 256 = 100M tokens
    batch_size=64,
    lr=1e-3,
    warmup_steps=200,
    eval_every=500,
    eval_sequences=256,
)


def fit(
    run: LMRun, device: torch.device, progress, on_evaluate=None, train=None
) -> Trained:
    """Train, store float16 weights and the curves.

    The validation loss is measured on the stored weights.
    """
    model = BilinearTransformer(run.model)
    val = lmdata.load_split("val")
    result = train_lm(
        model,
        lmdata.load_split("train") if train is None else train,
        val,
        run.train,
        device,
        progress,
        on_evaluate=on_evaluate,
        desc=run.model.name,
    )
    tensors, metrics = artifact_payload(model, result, val)
    return Trained(
        tensors,
        metrics,
        key_metric=("validation loss (nats/token)", metrics["val_loss_float16"]),
    )


def fit_tracked(run: LMRun, device: torch.device, progress) -> Trained:
    """:func:`fit`, with the chapter's bigram readings recorded at every evaluation."""
    train = lmdata.load_split("train")
    vocab = Vocab.load()
    counts = lmdata.bigram_counts(train, len(vocab)).T
    frequent = (counts.sum(0) >= 1000) & ((counts > 0).sum(0) > 10)
    ids = (vocab.id("a"), vocab.id("an"))
    track = bigram_tracker(counts, frequent, ids, probe=vocab.id("boy"))
    return fit(run, device, progress, on_evaluate=track, train=train)


def weights_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """A sha256 of a payload's weights (every tensor but the ``curve.`` ones): names,
    dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for key in sorted(k for k in tensors if not k.startswith("curve.")):
        value = tensors[key].detach().cpu().contiguous()
        digest.update(f"{key}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def readings_only(trained: Trained) -> Trained:
    """The readings of a run whose weights and per-step curves another artifact already
    holds: its evaluation curves (one value per evaluation), and the weights replaced by
    their :func:`weights_sha256` (in ``metrics["weights_sha256"]``)."""
    steps = trained.tensors["curve.step"].shape
    curves = {
        k: v
        for k, v in trained.tensors.items()
        if k.startswith("curve.") and v.shape == steps
    }
    metrics = trained.metrics | {"weights_sha256": weights_sha256(trained.tensors)}
    return dataclasses.replace(trained, tensors=curves, metrics=metrics)


def fit_readings(run: LMRun, device: torch.device, progress) -> Trained:
    """:func:`fit_tracked`, keeping the readings and the hash of the weights only."""
    return readings_only(fit_tracked(run, device, progress))


def model_from_artifact(run: LMRun, art: Artifact) -> BilinearTransformer:
    """The trained model an artifact holds, float32, eval mode (the recipes' loader)."""
    weights, _ = split_payload(art.tensors)
    return model_from_tensors(run.model, weights)


def register_runs(
    training: LMTrainConfig,
    fit_run,
    description: str,
    suffix: str = "",
    seconds: dict[int, dict[str, float]] | None = None,
    layers: tuple[int, ...] = (1, 2),
    loader=model_from_artifact,
    **options,
) -> dict[str, LMRun]:
    """Register ``bilinear-l<n><suffix>`` for n in ``layers``: the default bilinear model
    on the story corpus, trained with ``training`` by ``fit_run``.

    Args:
        description: formatted with ``n``.
        seconds: the recorded wall times by device type, per number of layers.
        options: the other :class:`~interplib.core.recipes.Recipe` fields.

    Returns:
        The runs (the recipes' configs) by name.
    """
    runs = {}
    for n in layers:
        name = f"bilinear-l{n}{suffix}"
        runs[name] = LMRun(BilinearConfig(n_layers=n), training)
        register(
            Recipe(
                name=name,
                study=STUDY,
                config=runs[name],
                fit=fit_run,
                needs=(lmdata.DATA_NAME,),
                loader=loader,
                smoke=smoke_run,
                seconds=(seconds or {}).get(n, {}),
                description=description.format(n=n),
                **options,
            )
        )
    return runs


RUNS = register_runs(
    CPU_TRAINING,
    fit,
    "{n}-layer bilinear transformer on the story corpus",
    seconds={1: {"cpu": 4334}, 2: {"cpu": 5924}},
)
# The CPU recipe again, read every 100 steps: the readings along the CPU run. Its training
# does not depend on the readings, so it ends on bilinear-l1's weights: it stores their
# hash, not a second copy (artifacts/ has a 64 MiB budget)
TRACKED_RUNS = register_runs(
    dataclasses.replace(CPU_TRAINING, eval_every=100),
    fit_readings,
    "{n}-layer bilinear transformer on the story corpus, the bigram readings tracked "
    "every 100 steps",
    suffix="-tracked",
    seconds={1: {"cpu": 2148}},  # one core; the other trained beside it
    layers=(1,),
    loader=None,
)
LONG_RUNS = register_runs(
    GPU_TRAINING,
    fit_tracked,
    "{n}-layer bilinear transformer, 100M tokens with the bigram readings tracked "
    "(a GPU run still to come)",
    suffix="-long",
    committed=False,
    gpu=True,
)
