"""The binarized-grokking study's recipes: five seeds each of a full-precision, a binary and a
ternary one-layer transformer on a + b mod 113.

One recipe per variant (``grok-fp``, ``grok-binary``, ``grok-ternary``); each trains its five
seeds together in one batched run (:func:`interplib.grokking.fit`). The variants differ only
in ``weights``: same split, same init seeds, same optimiser, same number of epochs, so
quantization is the one difference.

Cost, measured: on one H100, three recipes run as concurrent processes trained about 49
epochs a second each, so ``python -m interplib.train grok-fp grok-binary grok-ternary
--device cuda`` needs about ten minutes per recipe when they share the GPU (processes
time-slice a GPU, so one recipe at a time, as that command runs them, should be faster; not
yet measured). That measurement predates the table-lookup forward of
:func:`interplib.grokking.stacked_answer_logits`, which made a CPU epoch 1.6-1.7x faster. On
the book's CPU an epoch of five seeds now takes 0.37 s (fp) to 0.41 s (binary) on two
threads, about 3.4 hours per recipe; for development, ``GrokConfig(epochs=..., seeds=...)``
with :func:`interplib.grokking.fit` trains a smaller run. The artifacts are not in the
repository yet (``committed=False``): no GPU run has finished them.
"""

from __future__ import annotations

from .grokking import GrokConfig, fit, load_models
from .recipes import Recipe, load, register

__all__ = ["RUNS", "load_variant"]

STUDY = "grokking"
EPOCHS = 30_000
RUNS = {f"grok-{w}": GrokConfig(weights=w, epochs=EPOCHS, checkpoints=(1_000, 5_000, 10_000, 20_000))
        for w in ("fp", "binary", "ternary")}


def load_variant(name: str, prefix: str = "final"):
    """``(config, artifact, models)`` of recipe ``name``: one model per seed (or the kept checkpoint)."""
    if name not in RUNS:
        raise KeyError(f"no grokking run named {name!r}; use one of {', '.join(RUNS)}")
    art = load(name)
    return RUNS[name], art, load_models(RUNS[name], art.tensors, prefix)


for _name, _cfg in RUNS.items():
    register(Recipe(name=_name, study=STUDY, config=_cfg, fit=fit, committed=False,
                    seconds={"cpu": 0.41 * EPOCHS, "cuda": EPOCHS / 49},
                    description=f"1-layer transformer on a + b mod {_cfg.p}, {_cfg.weights} weights, "
                                f"{len(_cfg.seeds)} seeds trained together"))
