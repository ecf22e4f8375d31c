"""The binarized-grokking study's recipes: five seeds each of a full-precision, a binary and a
ternary one-layer transformer on a + b mod 113.

One recipe per variant (``grok-fp``, ``grok-binary``, ``grok-ternary``); each trains its five
seeds together in one batched run (:func:`interplib.grokking.fit`). The variants differ only
in ``weights``: same split, same init seeds, same optimiser, same number of epochs, so
quantization is the one difference.

The learning rate is 3e-3, three times Nanda et al.'s 1e-3, and the training 4,000 full-batch
epochs, so that the book's models train on its 2-core CPU: a one-seed check at 3e-3 took the
full-precision model from memorization to 98.6 % test accuracy by epoch 2,250 (the paper's
1e-3 needs about 10,000), and the binary model by epoch 750. An epoch of five seeds takes
about 0.36 s on two threads, some 25 minutes per recipe.

The paper's rate is ``GrokConfig(lr=1e-3, epochs=20_000)``. On a GPU the epochs after the
warm-up replay one captured CUDA graph (:func:`interplib.grokking.train_stacked`): on one
H200 the three variants, five seeds each, trained 20,000 epochs concurrently at about 137
epochs a second each (146 s). That run is not in the book: both attempts were stopped by the
call's time limit in the measuring pass after training, since fixed (see ``notes/grokking-gpu.md``).
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
