"""Issue 22's GPU runs: ten seeds, the weight-decay sweep, extra variants, Zhong's models.

Each run is a :class:`~interplib.studies.grokking.model.GrokVariantConfig`, trained by the
recipes' :func:`~interplib.studies.grokking.recipes.fit` as one stack (several
``(lr, weight_decay)`` cells in one AdamW, one parameter group each), registered in
``recipes.py`` as GPU recipes not yet committed. Every one of them logs the logits' size
(:func:`~interplib.studies.grokking.measures.logit_measures`) beside Nanda et al.'s measures,
and stores compactly (:func:`compact`): histories in float32, final weights in float16 for
``final_models`` models, the kept checkpoints (first model) in float16, the quantized
matrices rounded so that no binary sign or ternary level moves. On the committed 15 models
that changes no number the two grokking pages report beyond its printed precision (issue
22's measurement). :func:`clock_pizza_scores` measures the four Clock/Pizza diagnostics of
every final model at fit time and keeps the correct-logit grids they read, so Zhong et al.'s
reference models need no stored weights.

GPU seconds (:func:`gpu_seconds`) are estimated from the committed ``grok-*`` runs: 15 models
× 25,000 epochs in 178 s of one H200 (three recipes packed, the slowest one's train time),
about 2,100 model-epochs a second, cost taken proportional to model-epochs × training pairs.
That is an upper bound if a bigger stack uses the GPU better (those runs had 5 models a
process); not measured.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from interplib.studies.grokking.measures import clock_pizza
from interplib.studies.grokking.model import (
    QUANTIZED,
    GrokConfig,
    GrokTransformer,
    GrokVariantConfig,
    cell_settings,
    options,
)
from interplib.studies.grokking.quantize import level_preserving_half

__all__ = [
    "CPU_TRAINED",
    "MODEL_EPOCHS_PER_SECOND",
    "SWEEPS",
    "clock_pizza_scores",
    "compact",
    "gpu_seconds",
    "sweep_smoke",
]

# measured: grok-{fp,binary,ternary} (5 seeds × 25,000 epochs each, packed on one H200), the
# slowest train_seconds 178.27 (artifacts/grokking/grok-binary.json)
MODEL_EPOCHS_PER_SECOND = 15 * 25_000 / 178.27
TRAIN_PAIRS = int(0.3 * 113**2)  # the measured runs' full batch

_BASE = dict(lr=1e-3, weight_decay=1.0, epochs=25_000, checkpoints=())
# Weight decay {0, 0.3, 1, 3} × lr {1e-3, 3e-3}; (1e-3, 1) is grok10's setting, not repeated.
WD_CELLS = tuple(
    (lr, wd)
    for lr in (1e-3, 3e-3)
    for wd in (0.0, 0.3, 1.0, 3.0)
    if (lr, wd) != (1e-3, 1.0)
)
SWEEPS: dict[str, GrokVariantConfig] = {
    # the dynamics page's paired statistics: the committed config, ten seeds, seed 0's
    # checkpoints as grok-* keep them
    **{
        f"grok10-{w}": GrokVariantConfig(
            **{**_BASE, "checkpoints": (1_000, 3_000, 6_000, 10_000, 15_000)},
            weights=w,
            seeds=tuple(range(10)),
        )
        for w in ("fp", "binary", "ternary")
    },
    # "wd 0 never groks", tested on every variant; 10k epochs: cut for the GPU budget (the
    # committed runs generalize by 14.2k at lr 1e-3, wd 1; a cell that has not by 10k is
    # reported as censored)
    **{
        f"grok-wd-{w}": GrokVariantConfig(
            **{**_BASE, "epochs": 10_000},
            weights=w,
            seeds=(0, 1),
            cells=WD_CELLS,
            final_models=1,
        )
        for w in ("fp", "binary", "ternary")
    },
    # grok-wd-binary's weight-decay-0 cell at lr 1e-3 alone, for the CPU: does a binary
    # model grok without weight decay? (wd 1 generalizes by about 3k epochs)
    "grok-wd0-binary": GrokVariantConfig(
        **{**_BASE, "epochs": 10_000, "weight_decay": 0.0},
        weights="binary",
        seeds=(0, 1),
        final_models=0,
    ),
    # embeddings and unembedding quantized too; BitNet's 8-bit activations; a float32 loss
    **{
        f"grok-fullq-{w}": GrokVariantConfig(
            **{**_BASE, "epochs": 15_000},
            weights=w,
            seeds=(0, 1),
            quantize_embed=True,
            final_models=1,
        )
        for w in ("binary", "ternary")
    },
    **{
        f"grok-act8-{w}": GrokVariantConfig(
            **{**_BASE, "epochs": 15_000},
            weights=w,
            seeds=(0, 1),
            act_bits=8,
            final_models=1,
        )
        for w in ("binary", "ternary")
    },
    **{
        f"grok-f32-{w}": GrokVariantConfig(
            **{**_BASE, "epochs": 15_000},
            weights=w,
            seeds=(0, 1),
            loss_dtype="float32",
            final_models=1,
        )
        for w in ("fp", "binary", "ternary")
    },
    # a Pizza anchor in this book's architecture and task: constant attention (rate 0); it
    # anchors the logit measures only: read at `=` with constant attention, the logits
    # depend on x_a + x_b alone, so its gradient symmetricity is 1 by construction
    **{
        "grok-rate0-fp": GrokVariantConfig(
            **{**_BASE, "seeds": tuple(range(5))},
            weights="fp",
            attention_rate=0.0,
            final_models=1,
        )
    },
    # Zhong et al. (2023)'s reference models, their code's setup (fjzzq2002/pizza,
    # code/train-main.py): p = 59, inputs [a, b] without `=`, 1 layer, 4 heads of 32,
    # d_model 128, ReLU MLP of 512, no LayerNorm, 80 % of pairs train, full batch, AdamW
    # lr 1e-3, wd 2, betas (0.9, 0.98), 20,000 epochs, float64 loss; attention rate 0
    # (constant attention: a Pizza) and 1 (standard attention: mostly Clocks). Stored: the
    # diagnostics and the correct-logit grids, no weights (artifacts/ has little room left),
    # histories every 500 epochs
    **{
        f"zhong-rate{rate}": GrokVariantConfig(
            p=59,
            frac_train=0.8,
            weights="fp",
            seeds=(0, 1, 2, 3),
            epochs=20_000,
            log_every=500,
            lr=1e-3,
            weight_decay=2.0,
            checkpoints=(),
            attention_rate=float(rate),
            architecture="zhong",
            final_models=0,
        )
        for rate in (0, 1)
    },
}


# Trained on the book's 2-core CPU and committed: wall seconds, one torch thread each
# (2026-12-06; the zhong-* two side by side, grok-wd0-binary beside other jobs).
CPU_TRAINED = {"zhong-rate0": 4516, "zhong-rate1": 4522, "grok-wd0-binary": 2466}


def gpu_seconds(cfg: GrokConfig) -> float:
    """Estimated H200 seconds of one run from the measured rate (see the module docstring)."""
    models = len(cfg.seeds) * len(cell_settings(cfg))
    pairs = int(cfg.frac_train * cfg.p**2)
    return round(models * cfg.epochs * pairs / TRAIN_PAIRS / MODEL_EPOCHS_PER_SECOND)


def sweep_smoke(cfg: GrokVariantConfig) -> GrokVariantConfig:
    """The smoke version: p = 23, two seeds, at most two cells, 20 epochs, one checkpoint."""
    return replace(
        cfg,
        p=23,
        seeds=cfg.seeds[:2],
        cells=cfg.cells[:2],
        epochs=20,
        log_every=10,
        checkpoints=(10,),
    )


def compact(cfg: GrokConfig, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    """The stored form of every grokking run: histories float32, weights float16, finals
    of ``final_models`` (a plain ``GrokConfig``: every model).

    Weights are ``[model ...]`` stacks under ``final.`` or ``epoch<N>.``; the quantized ones
    go through :func:`~interplib.studies.grokking.quantize.level_preserving_half`, so every
    binary sign and ternary level survives the rounding. ``final_models=0`` stores no final
    weights. ``clockpizza.correct_logits`` (``[model a b]``) is kept, in float16, only where
    some model's final weights are not stored (``final_models`` is not None): the grids
    that the Clock/Pizza diagnostics read, for every model.
    """
    opts = options(cfg)
    quantized_names = {f"blocks.0.{m}.weight" for m in QUANTIZED}
    if opts.quantize_embed:
        quantized_names |= {"embed.weight", "pos_embed.weight", "unembed.weight"}
    out = {}
    for name, value in tensors.items():
        if name == "clockpizza.correct_logits":
            if opts.final_models is not None:
                out[name] = value.half()
        elif name == "history.epoch" or name.startswith("clockpizza."):
            out[name] = value
        elif name.startswith("history."):
            out[name] = value.float()
        else:
            if name.startswith("final.") and opts.final_models is not None:
                if opts.final_models == 0:
                    continue
                value = value[: opts.final_models]
            kind = cfg.weights if name.split(".", 1)[1] in quantized_names else "fp"
            out[name] = level_preserving_half(value, kind, stacked=True)
    return out


def clock_pizza_scores(
    cfg: GrokConfig, models: list[GrokTransformer], freqs: list[list[int]]
) -> dict[str, Tensor]:
    """The four Clock/Pizza diagnostics of each model, and the grids they are read from.

    Each diagnostic (:func:`~interplib.studies.grokking.measures.clock_pizza`) is a
    ``[model]`` float64 tensor; ``correct_logits`` holds the ``[model a b]`` grids of
    correct-answer logits.
    """
    out: dict[str, list[Tensor]] = {}
    for model, keys in zip(models, freqs, strict=True):
        scores, correct = clock_pizza(cfg, model, keys)
        for name, value in scores.items():
            out.setdefault(name, []).append(torch.tensor(value, dtype=torch.float64))
        out.setdefault("correct_logits", []).append(correct)
    return {k: torch.stack(v) for k, v in out.items()}
