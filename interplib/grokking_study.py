"""The binarized-grokking study's recipes: five seeds each of a full-precision, a binary and a
ternary one-layer transformer on a + b mod 113.

One recipe per variant (``grok-fp``, ``grok-binary``, ``grok-ternary``); each trains its five
seeds together in one batched run (:func:`interplib.grokking.fit`). The variants differ only
in ``weights``: same split, same init seeds, same optimiser, same number of epochs, so
quantization is the one difference.

The learning rate is 3e-3, three times Nanda et al.'s 1e-3, so that the book's models can be
trained on its 2-core CPU: a one-seed check at 3e-3 took the full-precision model from
memorization to 98.6 % test accuracy by epoch 2,250 (the paper's 1e-3 needs about 10,000), and
the binary model by epoch 750. 4,000 epochs of five seeds take about 0.33 s an epoch on two
threads, some 23 minutes per recipe. The paper's rate is ``GrokConfig(lr=1e-3,
epochs=30_000)``, about 2.8 hours per variant on that CPU; on a GPU, ``python -m
interplib.train grok-fp grok-binary grok-ternary --device cuda`` runs the book's recipes.
"""

from __future__ import annotations

from .grokking import GrokConfig, fit, load_models
from .recipes import Recipe, load, register

__all__ = ["RUNS", "load_variant"]

STUDY = "grokking"
EPOCHS = 4_000
RUNS = {f"grok-{w}": GrokConfig(weights=w, lr=3e-3, epochs=EPOCHS, checkpoints=(500, 1_000, 1_500, 2_000, 3_000))
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
