"""The bilinear study's recipes: registered on the story vocabulary, a tiny fit, its stored
model."""

import dataclasses

import torch
from builders import tiny_lm_splits

from interplib.core import recipes
from interplib.core.artifacts import Artifact
from interplib.core.training import evaluate, train_lm
from interplib.corpus import lmdata
from interplib.studies.bilinear import recipes as bilinear_study
from interplib.studies.bilinear.analysis import bigram_tracker
from interplib.studies.bilinear.model import BilinearConfig, BilinearTransformer


def test_the_study_registers_a_one_and_a_two_layer_model_on_the_story_vocabulary():
    table = recipes.recipes()
    for name, run in bilinear_study.RUNS.items():
        assert table[name].config is run and table[name].needs == (lmdata.DATA_NAME,)
        assert run.model.d_vocab == 4096 and run.train.steps >= 1000
        assert table[name].loader is bilinear_study.model_from_artifact
    assert [r.model.n_layers for r in bilinear_study.RUNS.values()] == [1, 2]


TINY_MODEL = BilinearConfig(
    d_vocab=16, n_layers=1, d_model=16, n_heads=2, d_mlp=24, n_ctx=16
)


def tiny_train(train):  # a training config cut to 4 steps of 8 sequences, read every 2
    return dataclasses.replace(
        train, steps=4, batch_size=8, warmup_steps=1, eval_every=2, eval_sequences=8
    )


def test_fit_trains_and_stores_a_loadable_model(monkeypatch):
    splits = tiny_lm_splits()
    monkeypatch.setattr(lmdata, "load_split", splits.__getitem__)
    run = next(iter(bilinear_study.RUNS.values()))
    run = dataclasses.replace(run, model=TINY_MODEL, train=tiny_train(run.train))
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


# What the GPU runs still to come train, as `dataclasses.asdict` gave it before the recipes
# were built by `register_runs`: pinned, so that no refactor changes what a GPU session runs.
LONG_MODEL = {
    "d_mlp": 768,
    "d_model": 256,
    "d_vocab": 4096,
    "eps": 1e-08,
    "init_std": 0.02,
    "n_ctx": 256,
    "n_heads": 4,
    "rotary_base": 10000.0,
    "rotary_dim": None,
    "seed": 0,
}
LONG_TRAIN = {
    "amp": True,
    "batch_size": 64,
    "betas": (0.9, 0.95),
    "decay_embeddings": False,
    "eval_every": 500,
    "eval_sequences": 256,
    "grad_clip": 1.0,
    "lr": 0.001,
    "min_lr_ratio": 0.1,
    "seed": 0,
    "steps": 6104,
    "warmup_steps": 200,
    "weight_decay": 0.01,
}


def test_the_long_runs_keep_their_exact_configs_and_recipe_fields():
    table = recipes.recipes()
    for n in (1, 2):
        recipe = table[f"bilinear-l{n}-long"]
        assert dataclasses.asdict(recipe.config) == {
            "model": {**LONG_MODEL, "n_layers": n},
            "train": LONG_TRAIN,
            "seed": 0,
        }
        assert recipe.config is bilinear_study.LONG_RUNS[recipe.name]
        assert recipe.fit is bilinear_study.fit_tracked
        assert (recipe.gpu, recipe.committed, recipe.seconds) == (True, False, {})
        assert recipe.needs == (lmdata.DATA_NAME,) and recipe.study == "bilinear"
        assert recipe.loader is bilinear_study.model_from_artifact
        assert recipe.description.startswith(f"{n}-layer bilinear transformer, 100M")
    # 100M tokens: 6,104 steps of 64 sequences of 256 tokens
    assert LONG_TRAIN["steps"] * LONG_TRAIN["batch_size"] * 256 == 100_007_936


def test_the_cpu_runs_keep_their_recipe_fields():
    table = recipes.recipes()
    for n, seconds in ((1, 4334), (2, 5924)):
        recipe = table[f"bilinear-l{n}"]
        assert recipe.fit is bilinear_study.fit and recipe.seconds == {"cpu": seconds}
        assert (recipe.gpu, recipe.committed) == (False, True)
        assert recipe.config.train == bilinear_study.CPU_TRAINING
        assert recipe.config.train.steps * recipe.config.train.batch_size == 32_000


def test_the_tracked_run_is_the_cpu_recipe_read_every_100_steps():
    table = recipes.recipes()
    tracked, plain = table["bilinear-l1-tracked"], table["bilinear-l1"]
    assert tracked.config.model == plain.config.model
    assert tracked.config.train == dataclasses.replace(
        bilinear_study.CPU_TRAINING, eval_every=100
    )
    assert tracked.fit is bilinear_study.fit_readings and tracked.loader is None
    assert (tracked.gpu, tracked.committed) == (False, True)


def test_readings_only_keeps_the_curves_and_the_hash_of_the_weights():
    from interplib.core.recipes import Trained

    g = torch.Generator().manual_seed(0)
    weights = {"a.w": torch.randn(3, 2, generator=g).half(), "b": torch.arange(4)}
    curves = {"curve.step": torch.arange(3), "curve.val_loss": torch.rand(3)}
    per_step = {
        "curve.train_loss": torch.rand(8),
        "curve.val_loss_by_pos": torch.rand(3, 5),
    }
    payload = weights | curves | per_step
    out = bilinear_study.readings_only(Trained(payload, {"x": 1}, ("x", 1.0)))
    assert set(out.tensors) == set(curves) and out.metrics["x"] == 1
    digest = out.metrics["weights_sha256"]
    assert digest == bilinear_study.weights_sha256(weights)  # the curves do not count
    nudged = weights | {"a.w": weights["a.w"].clone()}
    nudged["a.w"][1, 0] += 1
    assert bilinear_study.weights_sha256(nudged) != digest
    # a dtype or a shape alone changes it too
    assert bilinear_study.weights_sha256(weights | {"b": torch.arange(4.0)}) != digest
    assert (
        bilinear_study.weights_sha256(weights | {"a.w": weights["a.w"].reshape(2, 3)})
        != digest
    )


def test_the_readings_leave_the_training_alone():
    """Why bilinear-l1-tracked ends on bilinear-l1's weights: a tiny model evaluated every
    3 steps, every step, and every step with the tracker ends on the same weights, bit for
    bit."""
    splits = tiny_lm_splits()
    train = dataclasses.replace(
        tiny_train(bilinear_study.CPU_TRAINING), steps=6, eval_every=1
    )
    counts = lmdata.bigram_counts(splits["train"], 16).T
    counts[:, 1:3] = (
        0  # tokens 1, 2 as "a", "an": words 4, 6 after one, 3, 5 after the other
    )
    counts[[4, 6], 1], counts[[3, 5], 2] = 30, 25
    track = bigram_tracker(counts, counts.sum(0) > 0, (1, 2), probe=3)
    weights, readings = [], []
    for every, hook in ((3, None), (1, None), (1, track)):
        torch.manual_seed(0)
        model = BilinearTransformer(TINY_MODEL)
        run = dataclasses.replace(train, eval_every=every)
        result = train_lm(model, splits["train"], splits["val"], run, "cpu", None, hook)
        weights.append(model.state_dict())
        readings.append(result.history.get("precision@10"))
    assert readings[:2] == [None, None] and len(readings[2]) == 7  # steps 0, 1, ..., 6
    for other in weights[1:]:
        assert all(torch.equal(weights[0][k], other[k]) for k in weights[0])
