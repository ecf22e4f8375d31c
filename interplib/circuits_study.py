"""The attention-circuits study's recipes: a 2-layer and a 1-layer attention-only transformer on the story corpus.

Both train with :func:`interplib.lm_training.train_lm` in the plain-torch twin
(:class:`interplib.attention_models.AttnOnlyTransformer`) with the
:class:`~interplib.attention_models.InductionProbes` recorded every 100 steps, so the curves
show when in-context learning and the induction heads appear. They are stored in float16;
:func:`load_model` returns the TransformerLens bridge the chapter analyses. The configs are
the CPU path: 2,000 steps of 16 × 256 tokens (8.2M tokens), under an hour each on one core
of the book's 2-core CPU; ``python -m interplib.train attn-only-l2 --device cuda`` runs the
same recipe on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import lmdata
from .attention_models import AttnOnlyConfig, AttnOnlyTransformer, InductionProbes, ProbeConfig, bridge_from_state
from .lm_training import LMTrainConfig, artifact_payload, split_payload, train_lm
from .recipes import Recipe, Trained, load, register

__all__ = ["AttnOnlyRun", "RUNS", "fit", "load_model"]

STUDY = "circuits"


@dataclass(frozen=True)
class AttnOnlyRun:
    """One model of the study: architecture (with the init seed), training and the probes recorded."""

    model: AttnOnlyConfig
    train: LMTrainConfig
    probes: ProbeConfig = ProbeConfig()
    seed: int = 0      # the global seed of the run (the weights' seed is ``model.seed``)


CPU_TRAINING = LMTrainConfig(steps=2000, batch_size=16, lr=1e-3, warmup_steps=100, eval_every=100,
                             eval_sequences=64)
RUNS = {f"attn-only-l{n}": AttnOnlyRun(AttnOnlyConfig(n_layers=n), CPU_TRAINING) for n in (2, 1)}


def fit(run: AttnOnlyRun, device: torch.device, progress) -> Trained:
    """Train with the induction probes; store float16 weights, the curves and the probes' history."""
    model = AttnOnlyTransformer(run.model)
    val = lmdata.load_split("val")
    result = train_lm(model, lmdata.load_split("train"), val, run.train, device, progress,
                      on_evaluate=InductionProbes(run.model, run.probes), desc=run.model.name)
    tensors, metrics = artifact_payload(model, result, val, InductionProbes.summary(result))
    return Trained(tensors, metrics, key_metric=("validation loss (nats/token)", metrics["val_loss_float16"]))


def load_model(name: str, dtype: torch.dtype = torch.float32):
    """The trained model of recipe ``name`` as a TransformerLens bridge (eval mode)."""
    if name not in RUNS:
        raise KeyError(f"no attention-only model named {name!r}; use one of {', '.join(RUNS)}")
    weights, _ = split_payload(load(name).tensors)
    return bridge_from_state(RUNS[name].model, weights, dtype).eval()


for _name, _run in RUNS.items():
    register(Recipe(name=_name, study=STUDY, config=_run, fit=fit, needs=(lmdata.DATA_NAME,),
                    seconds={"cpu": {1: 2400, 2: 3000}[_run.model.n_layers]},
                    description=f"{_run.model.n_layers}-layer attention-only transformer on the story corpus"))
