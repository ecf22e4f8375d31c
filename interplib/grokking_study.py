"""The binarized-grokking study's recipes: five seeds each of a full-precision, a binary and a
ternary one-layer transformer on a + b mod 113.

One recipe per variant (``grok-fp``, ``grok-binary``, ``grok-ternary``); each trains its five
seeds together in one batched run (:func:`interplib.grokking.fit`). The variants differ only
in ``weights``: same split, same init seeds, same optimiser, same number of epochs, so
quantization is the one difference.

The training is the paper's: learning rate 1e-3, weight decay 1, and 20,000 full-batch
epochs (Nanda et al.'s full-precision model has grokked by about epoch 13,300; the
TransformerLens demo trains 25,000). On a GPU the epochs after the warm-up replay one captured CUDA graph
(:func:`interplib.grokking.train_stacked`): ``python -m interplib.train grok-fp grok-binary
grok-ternary --device cuda``. The same command with ``--device cpu`` is the CPU path: about
0.36 s an epoch of five seeds on two threads, some 2 hours per variant; for development,
``GrokConfig(epochs=4_000, lr=3e-3)`` groks in about 25 minutes.
"""

from __future__ import annotations

from .grokking import GrokConfig, fit, load_models
from .recipes import Recipe, load, register

__all__ = ["RUNS", "load_variant"]

STUDY = "grokking"
EPOCHS = 20_000
RUNS = {f"grok-{w}": GrokConfig(weights=w, epochs=EPOCHS, checkpoints=(1_000, 5_000, 10_000, 15_000))
        for w in ("fp", "binary", "ternary")}


def load_variant(name: str, prefix: str = "final"):
    """``(config, artifact, models)`` of recipe ``name``: one model per seed (or the kept checkpoint)."""
    if name not in RUNS:
        raise KeyError(f"no grokking run named {name!r}; use one of {', '.join(RUNS)}")
    art = load(name)
    return RUNS[name], art, load_models(RUNS[name], art.tensors, prefix)


for _name, _cfg in RUNS.items():
    register(Recipe(name=_name, study=STUDY, config=_cfg, fit=fit,
                    seconds={"cpu": 0.36 * EPOCHS},
                    description=f"1-layer transformer on a + b mod {_cfg.p}, {_cfg.weights} weights, "
                                f"{len(_cfg.seeds)} seeds trained together"))
