"""The bilinear study's recipes: registered on the story vocabulary, a tiny fit, its stored
model."""

import dataclasses

import torch
from builders import tiny_lm_splits

from interplib.core import recipes
from interplib.core.artifacts import Artifact
from interplib.core.training import evaluate
from interplib.corpus import lmdata
from interplib.studies.bilinear import recipes as bilinear_study
from interplib.studies.bilinear.model import BilinearConfig


def test_the_study_registers_a_one_and_a_two_layer_model_on_the_story_vocabulary():
    table = recipes.recipes()
    for name, run in bilinear_study.RUNS.items():
        assert table[name].config is run and table[name].needs == (lmdata.DATA_NAME,)
        assert run.model.d_vocab == 4096 and run.train.steps >= 1000
        assert table[name].loader is bilinear_study.model_from_artifact
    assert [r.model.n_layers for r in bilinear_study.RUNS.values()] == [1, 2]


def test_fit_trains_and_stores_a_loadable_model(monkeypatch):
    splits = tiny_lm_splits()
    monkeypatch.setattr(lmdata, "load_split", splits.__getitem__)
    run = next(iter(bilinear_study.RUNS.values()))
    run = dataclasses.replace(
        run,
        model=BilinearConfig(
            d_vocab=16, n_layers=1, d_model=16, n_heads=2, d_mlp=24, n_ctx=16
        ),
        train=dataclasses.replace(
            run.train,
            steps=4,
            batch_size=8,
            warmup_steps=1,
            eval_every=2,
            eval_sequences=8,
        ),
    )
    out = bilinear_study.fit(run, torch.device("cpu"), None)
    assert (
        out.key_metric[1] == out.metrics["val_loss_float16"]
        and 0 < out.key_metric[1] < 10
    )
    assert out.tensors["curve.step"].tolist() == [0, 2, 4]
    # the loader rebuilds the stored float16 weights: their validation loss is the metric
    model = bilinear_study.model_from_artifact(
        run, Artifact("bilinear-tiny", out.tensors, {})
    )
    assert evaluate(model, splits["val"]) == out.metrics["val_loss_float16"]
