"""The binarized-grokking study's recipes: five seeds each of a full-precision, a binary and a
ternary one-layer transformer on a + b mod 113.

One recipe per variant (``grok-fp``, ``grok-binary``, ``grok-ternary``); each trains its five
seeds together in one batched run (:func:`fit`). The variants differ only
in ``weights``: same split, same init seeds, same optimiser (Nanda et al.'s full-batch AdamW at
lr 1e-3), same number of epochs, so quantization is the one difference.

The recipes are GPU runs: ``python -m interplib.train grok-fp grok-binary grok-ternary
--device cuda --jobs 3 --force`` (``tools/train_grokking_gpu.sh``) trains the three variants
concurrently on one GPU, where the epochs after the warm-up replay one captured CUDA graph
(:func:`interplib.studies.grokking.training.train_stacked`). The CPU path is
``python -m interplib.train grok-fp grok-binary grok-ternary --device cpu``: an epoch of five
seeds costs 0.36 s (full precision) to 1.14 s (ternary) on the book's 2-core machine, about
16 hours for the three recipes.

Issue 22's runs (:mod:`interplib.studies.grokking.sweeps`: ``grok10-*`` with ten seeds,
``grok-wd-*``, ``grok-fullq-*``, ``grok-act8-*``, ``grok-f32-*``, ``zhong-rate0/1``) go through
the same :func:`fit` with a ``GrokVariantConfig``: GPU recipes, not committed until trained,
each with its estimated GPU seconds.

Every run is stored compactly (:func:`~interplib.studies.grokking.sweeps.compact`: float16
weights that keep every binary sign and ternary level, float32 histories): half the size of
float32, and no number the two grokking pages report moves beyond its printed precision.
The committed ``grok-*`` artifacts (recipe version 2) were trained in float32 storage and
compacted afterwards, the same function applied to the trained tensors
(``tools/compact_grokking.py``, recorded in each sidecar under ``compacted``).
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch
from torch import Tensor

from interplib.core.artifacts import Artifact
from interplib.core.recipes import Recipe, Trained, register
from interplib.studies.grokking.measures import (
    logit_measures,
    measure_grid,
    progress_measures,
    quantization_measures,
)
from interplib.studies.grokking.model import (
    GrokConfig,
    GrokTransformer,
    GrokVariantConfig,
    cell_settings,
    options,
)
from interplib.studies.grokking.quantize import quantized
from interplib.studies.grokking.sweeps import (
    CPU_TRAINED,
    SWEEPS,
    clock_pizza_scores,
    compact,
    gpu_seconds,
    sweep_smoke,
)
from interplib.studies.grokking.task import dataset, train_mask
from interplib.studies.grokking.training import train_stacked

__all__ = [
    "RUNS",
    "fit",
    "load_models",
    "model_from_artifact",
    "CPU_SECONDS_PER_EPOCH",
    "MEASURE_CHUNK",
    "smoke",
]

STUDY = "grokking"
VERSION = 2  # 2: stored compactly (float16 weights, float32 histories)
EPOCHS = 25_000
RUNS = {
    f"grok-{w}": GrokConfig(
        weights=w,
        lr=1e-3,
        epochs=EPOCHS,
        checkpoints=(1_000, 3_000, 6_000, 10_000, 15_000),
    )
    for w in ("fp", "binary", "ternary")
}
CPU_SECONDS_PER_EPOCH = {
    "fp": 0.36,
    "binary": 0.82,
    "ternary": 1.14,
}  # five seeds, 2-core machine
GPU_SECONDS = {"fp": 172, "binary": 180, "ternary": 179}  # one H200, the three at once


MEASURE_CHUNK = (
    8  # snapshots measured together (40 models of five seeds: a few GB in float64)
)


def smoke(cfg: GrokConfig) -> GrokConfig:
    """The recipes' smoke version: one seed, 20 epochs logged every 10, one kept checkpoint."""
    return replace(cfg, seeds=(0,), epochs=20, log_every=10, checkpoints=(10,))


def _concat(snapshots: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Several ``[model ...]`` snapshots as one stack, snapshot-major."""
    return {n: torch.cat([s[n] for s in snapshots]) for n in snapshots[0]}


def fit(cfg: GrokConfig, device: torch.device, progress) -> Trained:
    """Train every seed of one variant together (full batch, AdamW), then measure each snapshot.

    The key frequencies that restricted and excluded loss need are read from each model's
    *final* embedding (``fourier.key_frequencies``), as Nanda et al. do, so every
    ``log_every`` epochs a snapshot of the weights is kept and measured after training.
    """
    from interplib.interp.fourier import key_frequencies

    tokens, labels = dataset(cfg.p)
    tokens = tokens[:, : cfg.n_ctx]  # Zhong et al.'s inputs have no `=`
    is_train = train_mask(cfg.p, cfg.frac_train, cfg.data_seed)
    models = []
    for _ in cell_settings(cfg):  # cell-major; one seed's models share their init
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            models.append(GrokTransformer(cfg))
    snapshots, seconds = train_stacked(
        cfg, models, tokens[is_train], labels[is_train], device, progress
    )
    final = snapshots[-1]
    variant = isinstance(cfg, GrokVariantConfig)
    W_E = final["embed.weight"]
    if options(cfg).quantize_embed:
        W_E = quantized(W_E, cfg.weights, stacked=True)
    freqs = [key_frequencies(w[: cfg.p].double()) for w in W_E]
    grid = measure_grid(cfg, freqs, device)  # built once: every chunk reuses it
    history: dict[str, list[Tensor]] = {}
    previous = [snapshots[0], *snapshots[:-1]]
    began = time.perf_counter()
    with torch.no_grad():
        for start in progress(range(0, len(snapshots), MEASURE_CHUNK), desc="measures"):
            part = slice(start, start + MEASURE_CHUNK)
            n = len(snapshots[part])
            measures = {
                **progress_measures(cfg, _concat(snapshots[part]), grid),
                **quantization_measures(
                    cfg, _concat(previous[part]), _concat(snapshots[part])
                ),
            }
            if variant:
                measures.update(logit_measures(cfg, _concat(snapshots[part]), grid))
            for name, value in measures.items():
                history.setdefault(name, []).extend(value.cpu().view(n, len(models)))
    measure_seconds = time.perf_counter() - began
    tensors = {f"history.{k}": torch.stack(v, dim=-1) for k, v in history.items()}
    tensors["history.epoch"] = torch.arange(0, cfg.epochs + 1, cfg.log_every)
    tensors.update({f"final.{n}": v.float().cpu() for n, v in final.items()})
    for epoch in cfg.checkpoints:
        snap = snapshots[epoch // cfg.log_every]
        tensors.update(
            {f"epoch{epoch}.{n}": v[:1].float().cpu() for n, v in snap.items()}
        )
    test_acc = tensors["history.test_acc"][:, -1]
    extra = {}
    if variant:
        finals = load_models(cfg, {f"final.{n}": v for n, v in final.items()})
        scores = clock_pizza_scores(cfg, [m.to(device) for m in finals], freqs)
        tensors.update({f"clockpizza.{k}": v for k, v in scores.items()})
        extra = {
            "cells": cell_settings(cfg),
            "clockpizza": {
                k: v.tolist() for k, v in scores.items() if k != "correct_logits"
            },
        }
    tensors = compact(cfg, tensors)
    return Trained(
        tensors=tensors,
        metrics={
            **extra,
            "key_freqs": freqs,
            "final_test_acc": test_acc.tolist(),
            "final_test_loss": tensors["history.test_loss"][:, -1].tolist(),
            "train_seconds": round(seconds, 2),
            "seconds_per_epoch": seconds / cfg.epochs,
            "measure_seconds": round(measure_seconds, 2),
        },
        key_metric=("mean final test accuracy", float(test_acc.mean())),
    )


def load_models(
    cfg: GrokConfig, tensors: dict[str, Tensor], prefix: str = "final"
) -> list[GrokTransformer]:
    """The trained models of an artifact, one per stored seed.

    Latent weights, quantized in the forward pass. ``prefix`` is ``"final"`` (every seed) or
    ``"epoch<N>"`` for a kept checkpoint (the first seed).
    """
    state = {
        k[len(prefix) + 1 :]: v
        for k, v in tensors.items()
        if k.startswith(prefix + ".")
    }
    if not state:
        kept = sorted(
            {k.split(".")[0] for k in tensors if k.startswith(("final.", "epoch"))}
        )
        raise KeyError(f"no weights under {prefix!r}; the artifact keeps {kept}")
    models = []
    for k in range(len(next(iter(state.values())))):
        model = GrokTransformer(cfg)
        model.load_state_dict({n: v[k].float() for n, v in state.items()})
        models.append(model.eval())
    return models


def model_from_artifact(
    cfg: GrokConfig, art: Artifact, prefix: str = "final"
) -> list[GrokTransformer]:
    """The recipes' loader: one model per seed (``prefix="final"``) or a kept checkpoint."""
    return load_models(cfg, art.tensors, prefix)


for _name, _cfg in RUNS.items():
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_cfg,
            fit=fit,
            loader=model_from_artifact,
            smoke=smoke,
            gpu=True,
            version=VERSION,
            seconds={
                "cpu": CPU_SECONDS_PER_EPOCH[_cfg.weights] * EPOCHS,
                "cuda": GPU_SECONDS[_cfg.weights],
            },
            description=f"1-layer transformer on a + b mod {_cfg.p}, {_cfg.weights} weights, "
            f"{len(_cfg.seeds)} seeds trained together",
        )
    )

# Issue 22's runs (interplib.studies.grokking.sweeps): GPU runs not trained yet, so not
# committed, but for Zhong et al.'s reference models, trained on the CPU (CPU_TRAINED)
for _name, _cfg in SWEEPS.items():
    _on_cpu = _name in CPU_TRAINED
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_cfg,
            fit=fit,
            loader=model_from_artifact,
            smoke=sweep_smoke,
            gpu=not _on_cpu,
            committed=_on_cpu,
            # CUDA estimated, not measured: the grok-* runs' rate (sweeps.gpu_seconds)
            seconds={"cuda": gpu_seconds(_cfg)}
            | ({"cpu": CPU_TRAINED[_name]} if _on_cpu else {}),
            description=(
                f"Zhong et al.'s model on a + b mod {_cfg.p}, attention rate "
                f"{_cfg.attention_rate:g}, {len(_cfg.seeds)} seeds"
                if _cfg.architecture == "zhong"
                else f"{_cfg.weights} weights, {len(_cfg.seeds)} seeds × "
                f"{len(cell_settings(_cfg))} (lr, wd) cells"
            )
            + " (issue 22)",  # where it ran is the sidecar's device
        )
    )
