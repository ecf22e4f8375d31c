"""The attention-circuits study's recipes: 2- and 1-layer attention-only transformers.

Both train on the story corpus with :func:`interplib.core.training.train_lm` in the plain-torch
twin (:class:`interplib.studies.circuits.model.AttnOnlyTransformer`) with the
:class:`~interplib.studies.circuits.analysis.InductionProbes` recorded every 100 steps, so the
curves show when in-context learning and the induction heads appear. They are stored in float16;
:func:`~interplib.core.recipes.load_model` returns the TransformerLens bridge the chapter
analyses.

The story grammar never repeats a passage, so the corpus alone rewards no induction head:
four runs without repeated passages, up to 131M tokens on an H100, formed none
(``notes/induction-heads.md``). Here a quarter of the training rows are a random segment
repeated with a random period (:func:`interplib.corpus.lmdata.with_repeated_segments`), which
only induction predicts; the validation split is the plain corpus. The learning rate is
3e-3: a toy repeat task leaves the plateau that precedes induction at 3e-3 and not in the
same time at 1e-3.

The configs are sized for a GPU: 8,000 steps of 64 × 256 tokens (131M tokens). On an H200 the
2-layer model forms its previous-token and induction heads together between steps 1,300 and
1,500; the CPU runs of 2,000 × 16 steps ended before that.
``python -m interplib.train attn-only-l2 attn-only-l1 --device cuda`` trains both; the same
command with ``--device cpu`` is the CPU path, about 16 times the 2,000 × 16 runs' 54 and 40
minutes on the book's 2-core CPU.

The repeat probe starts with the tokenizer's ``[BOS]`` and draws its tokens from the ordinary
ids (:func:`~interplib.studies.circuits.analysis.probe_tokens`). The committed artifacts were
trained before that fix: their probe started with id 0, ``[UNK]``, so their recorded
``repeat_first`` is too high. The fix leaves the config and the recipe version alone on
purpose, so those artifacts still load; a retrained artifact records
``repeat_probe_start`` in its metrics, and one without it used the old start.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from interplib.core.artifacts import Artifact
from interplib.core.recipes import Recipe, Trained, register
from interplib.core.training import (
    LMTrainConfig,
    artifact_payload,
    smoke_run,
    split_payload,
    train_lm,
)
from interplib.corpus import lmdata
from interplib.studies.circuits.analysis import InductionProbes, ProbeConfig
from interplib.studies.circuits.model import (
    AttnOnlyConfig,
    AttnOnlyTransformer,
    bridge_from_state,
)

__all__ = ["AttnOnlyRun", "RUNS", "fit", "model_from_artifact"]

STUDY = "circuits"


@dataclass(frozen=True)
class AttnOnlyRun:
    """One model of the study.

    Its architecture (with the init seed), its training and the probes recorded.
    """

    model: AttnOnlyConfig
    train: LMTrainConfig
    probes: ProbeConfig = ProbeConfig()
    repeat_fraction: float = 0.25  # training rows that are a repeated random segment
    repeat_periods: tuple[int, int] = (
        8,
        120,
    )  # the segments' lengths (lmdata.with_repeated_segments)
    # the global seed of the run and of the repeated rows (the weights' seed is ``model.seed``)
    seed: int = 0


TRAINING = LMTrainConfig(
    steps=8000,
    batch_size=64,
    lr=3e-3,
    warmup_steps=100,
    eval_every=100,
    eval_sequences=64,
)
RUNS = {
    f"attn-only-l{n}": AttnOnlyRun(
        AttnOnlyConfig(n_layers=n, normalization="LNPre"), TRAINING
    )
    for n in (2, 1)
}


def fit(run: AttnOnlyRun, device: torch.device, progress) -> Trained:
    """Train with the induction probes.

    Stores float16 weights, the curves and the probes' history.
    """
    model = AttnOnlyTransformer(run.model)
    val = lmdata.load_split("val")
    train = lmdata.with_repeated_segments(
        lmdata.load_split("train"),
        run.repeat_fraction,
        run.model.d_vocab,
        run.repeat_periods,
        run.seed,
    )
    result = train_lm(
        model,
        train,
        val,
        run.train,
        device,
        progress,
        on_evaluate=InductionProbes(run.model, run.probes),
        desc=run.model.name,
    )
    tensors, metrics = artifact_payload(
        model, result, val, InductionProbes.summary(result)
    )
    return Trained(
        tensors,
        metrics,
        key_metric=("validation loss (nats/token)", metrics["val_loss_float16"]),
    )


def model_from_artifact(
    run: AttnOnlyRun, art: Artifact, dtype: torch.dtype = torch.float32
):
    """The trained model an artifact holds, as a TransformerLens bridge in eval mode."""
    weights, _ = split_payload(art.tensors)
    return bridge_from_state(run.model, weights, dtype).eval()


for _name, _run in RUNS.items():
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_run,
            fit=fit,
            needs=(lmdata.DATA_NAME,),
            loader=model_from_artifact,
            smoke=smoke_run,
            seconds={"cpu": 16 * {1: 2400, 2: 3250}[_run.model.n_layers]},
            description=(
                f"{_run.model.n_layers}-layer attention-only transformer on the story corpus"
            ),
        )
    )
