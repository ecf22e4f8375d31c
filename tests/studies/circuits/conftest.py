"""Fixtures of the circuits study's tests: a tiny checkpoint retrain."""

import dataclasses

import pytest
import torch
from builders import tiny_lm_splits

from interplib.core.artifacts import Artifact
from interplib.corpus import lmdata
from interplib.studies.circuits import recipes as circuits_study
from interplib.studies.circuits.model import AttnOnlyConfig


@pytest.fixture
def tiny_checkpoint_run():
    """A factory: the 2-layer checkpoint recipe's config shrunk to ``tiny_lm_splits``."""

    def make(**overrides) -> circuits_study.CheckpointRun:
        cfg = circuits_study.CHECKPOINT_RUNS["attn-only-l2-checkpoints"]
        run = dataclasses.replace(
            cfg.run,
            model=AttnOnlyConfig(
                n_layers=2, d_model=16, n_heads=2, n_ctx=16, d_vocab=16
            ),
            train=dataclasses.replace(
                cfg.run.train,
                steps=6,
                batch_size=8,
                warmup_steps=1,
                eval_every=2,
                eval_sequences=8,
            ),
            probes=dataclasses.replace(
                cfg.run.probes, icl_early=2, icl_late=8, repeat_period=4, repeat_batch=2
            ),
            repeat_periods=(2, 4),
        )
        fields = dict(
            run=run,
            checkpoints=(2, 6),
            story_sequences=8,
            story_early=(0, 1),
            story_late=(1, 2),
        )
        return dataclasses.replace(cfg, **{**fields, **overrides})

    return make


@pytest.fixture
def tiny_checkpoints(monkeypatch, tiny_checkpoint_run):
    """``(config, artifact)`` of a tiny checkpoint retrain (steps 2 and 6) on the tiny splits."""
    monkeypatch.setattr(lmdata, "load_split", tiny_lm_splits().__getitem__)
    cfg = tiny_checkpoint_run()
    out = circuits_study.fit_checkpoints(cfg, torch.device("cpu"), None)
    return cfg, Artifact(
        "attn-only-tiny-checkpoints", out.tensors, {"metrics": out.metrics}
    )
