"""The binarized-grokking study's recipes: five seeds each of a full-precision, a binary and a
ternary one-layer transformer on a + b mod 113.

One recipe per variant (``grok-fp``, ``grok-binary``, ``grok-ternary``); each trains its five
seeds together in one batched run (:func:`interplib.grokking.fit`). The variants differ only
in ``weights``: same split, same init seeds, same optimiser (Nanda et al.'s full-batch AdamW at
lr 1e-3), same number of epochs, so quantization is the one difference.

The recipes are GPU runs: ``tools/train_grokking_gpu.sh`` trains the three variants
concurrently on one GPU, where the epochs after the warm-up replay one captured CUDA graph
(:func:`interplib.grokking.train_stacked`). The CPU path is
``python -m interplib.train grok-fp grok-binary grok-ternary --device cpu``: an epoch of five
seeds costs 0.36 s (full precision) to 1.14 s (ternary) on the book's 2-core machine, about
16 hours for the three recipes.
"""

from __future__ import annotations

from .grokking import GrokConfig, fit, load_models
from .recipes import Recipe, load, register

__all__ = ["RUNS", "load_variant"]

STUDY = "grokking"
EPOCHS = 25_000
RUNS = {f"grok-{w}": GrokConfig(weights=w, lr=1e-3, epochs=EPOCHS, checkpoints=(1_000, 3_000, 6_000, 10_000, 15_000))
        for w in ("fp", "binary", "ternary")}
CPU_SECONDS_PER_EPOCH = {"fp": 0.36, "binary": 0.82, "ternary": 1.14}   # five seeds, 2-core machine
GPU_SECONDS = {"fp": 172, "binary": 180, "ternary": 179}                 # one H200, the three at once


def load_variant(name: str, prefix: str = "final"):
    """``(config, artifact, models)`` of recipe ``name``: one model per seed (or the kept checkpoint)."""
    if name not in RUNS:
        raise KeyError(f"no grokking run named {name!r}; use one of {', '.join(RUNS)}")
    art = load(name)
    return RUNS[name], art, load_models(RUNS[name], art.tensors, prefix)


for _name, _cfg in RUNS.items():
    register(Recipe(name=_name, study=STUDY, config=_cfg, fit=fit,
                    seconds={"cpu": CPU_SECONDS_PER_EPOCH[_cfg.weights] * EPOCHS, "cuda": GPU_SECONDS[_cfg.weights]},
                    description=f"1-layer transformer on a + b mod {_cfg.p}, {_cfg.weights} weights, "
                                f"{len(_cfg.seeds)} seeds trained together"))
