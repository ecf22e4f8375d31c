"""The registry: discovery, deterministic training, loading a missing artifact once, refusing
stale ones."""

import dataclasses
from pathlib import Path

import pytest
import torch
from builders import TINY_MARKOV as TINY

from interplib.core import recipes
from interplib.core.artifacts import MissingArtifact, StaleArtifact


def test_training_is_deterministic(tiny_recipe):
    first = recipes.train("test-markov-tiny", "cpu", progress=False).tensors
    second = recipes.train("test-markov-tiny", "cpu", progress=False).tensors
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)


def test_the_code_version_is_read_before_training(tiny_recipe, monkeypatch):
    """A long run records the code it started with, not the checkout at its end."""
    reads = iter(["the code that trains", "the checkout at the end"])
    monkeypatch.setattr(recipes, "code_version", lambda: next(reads))
    art = recipes.train("test-markov-tiny", "cpu", progress=False)
    assert art.meta["code_version"] == "the code that trains"


def test_load_trains_a_missing_artifact_once(tiny_recipe, capsys):
    art = recipes.load("test-markov-tiny", "cpu")
    assert "is missing: training it now on cpu (about 0 s)" in capsys.readouterr().err
    again = recipes.load("test-markov-tiny", "cpu")
    assert capsys.readouterr().err == ""
    torch.testing.assert_close(art.tensors["W_E"], again.tensors["W_E"])


def test_load_refuses_a_stale_artifact(tiny_recipe, art_root):
    recipes.train("test-markov-tiny", "cpu", progress=False)
    recipes._RECIPES["test-markov-tiny"] = dataclasses.replace(
        tiny_recipe, config=dataclasses.replace(TINY, lr=1e-3)
    )
    assert recipes.status("test-markov-tiny")[0] == "stale"
    with pytest.raises(
        StaleArtifact, match="python -m interplib.train test-markov-tiny --force"
    ):
        recipes.load("test-markov-tiny")


def test_load_refuses_an_older_recipe_version(tiny_recipe):
    recipes.train("test-markov-tiny", "cpu", progress=False)
    recipes._RECIPES["test-markov-tiny"] = dataclasses.replace(tiny_recipe, version=2)
    state, detail = recipes.status("test-markov-tiny")
    assert state == "stale" and "version 1 of its recipe" in detail


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no GPU; use --device cpu or auto"):
        recipes.resolve_device("cuda")


def test_recipes_are_discovered_in_every_study():
    found = recipes.discover()
    studies = Path(recipes.__file__).parents[1] / "studies"
    expected = {
        f"interplib.studies.{d.name}.recipes"
        for d in studies.iterdir()
        if (d / "__init__.py").exists()
    }
    assert expected | {"interplib.corpus.recipes"} == set(found)


def test_load_model_names_the_known_models():
    with pytest.raises(KeyError, match="known:"):
        recipes.load_model("gpt-2")


def test_load_model_refuses_a_data_artifact():
    with pytest.raises(ValueError, match="holds data, not a model"):
        recipes.load_model("story-bigrams")


def test_a_missing_artifact_too_long_for_a_cell_is_not_trained_in_it(
    tiny_recipe, monkeypatch
):
    monkeypatch.setenv("INTERPLIB_TRAIN_BUDGET", "0.05")  # the tiny recipe says 0.1 s
    with pytest.raises(MissingArtifact, match="python -m interplib.train"):
        recipes.load("test-markov-tiny", "cpu")
    monkeypatch.setenv("INTERPLIB_TRAIN_BUDGET", "10")
    art = recipes.load("test-markov-tiny", "cpu")  # trained here: it fits
    assert recipes.estimate("test-markov-tiny", "cpu") == art.meta["wall_time_s"]
    assert recipes.estimate("test-markov-tiny", "cuda") is None  # never measured there


def _rebuilt(config):
    """The config constructed again from its fields, so that its checks run."""
    return type(config)(
        **{f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    )


def test_every_recipe_has_a_smaller_smoke_config_that_validates(monkeypatch):
    table = recipes.recipes()
    for name, recipe in table.items():
        assert recipe.smoke is not None, f"{name} has no smoke config"
        tiny = recipe.smoke(recipe.config)
        assert type(tiny) is type(recipe.config)
        assert dataclasses.asdict(tiny) != dataclasses.asdict(recipe.config), name
        assert _rebuilt(tiny) == tiny
    monkeypatch.setenv(
        recipes.SMOKE_ENV, "1"
    )  # smoke mode: the registry hands them out
    for name, recipe in recipes.recipes().items():
        assert recipe.config == table[name].smoke(table[name].config)  # type: ignore[misc]
    monkeypatch.setenv(recipes.SMOKE_ENV, "0")
    assert recipes.get("markov-bigram").config == table["markov-bigram"].config
