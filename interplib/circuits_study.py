"""The attention-circuits study's recipes: a 2-layer and a 1-layer attention-only transformer on the story corpus.

Both train with :func:`interplib.lm_training.train_lm` in the plain-torch twin
(:class:`interplib.attention_models.AttnOnlyTransformer`) with the
:class:`~interplib.attention_models.InductionProbes` recorded every 100 steps, so the curves
show when in-context learning and the induction heads appear. They are stored in float16;
:func:`load_model` returns the TransformerLens bridge the chapter analyses.

Both train for 8,000 steps of 64 × 256 tokens (131M tokens, 6.6 passes over the corpus):
``python -m interplib.train attn-only-l2 attn-only-l1 --device cuda`` takes a few minutes
on one H100. The CPU path is the same command with ``--device cpu``; a step of 64 sequences
costs about four times the measured 1.45 s (2 layers) and 1.1 s (1 layer) of a 16-sequence
step on one core of the book's CPU, so about thirteen and ten hours. (A first CPU run of 2,000 steps of 16 × 256 tokens, 8.2M tokens, formed
no induction head.)
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


TRAINING = LMTrainConfig(steps=8000, batch_size=64, lr=1e-3, warmup_steps=200, eval_every=100,
                         eval_sequences=64)
RUNS = {f"attn-only-l{n}": AttnOnlyRun(AttnOnlyConfig(n_layers=n), TRAINING) for n in (2, 1)}


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
                    seconds={"cpu": {1: 35_000, 2: 46_000}[_run.model.n_layers], "cuda": 300},
                    description=f"{_run.model.n_layers}-layer attention-only transformer on the story corpus"))
