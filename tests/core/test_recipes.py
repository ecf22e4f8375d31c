import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from interplib.core import artifacts, recipes
from interplib.core import cli as train
from interplib.core.artifacts import StaleArtifact
from interplib.studies.markov.recipes import MarkovConfig, fit

TINY = MarkovConfig(d_vocab=4, d_model=4, steps=20, batch=8, seq_len=8)


@pytest.fixture
def tiny_recipe(art_root):
    recipe = recipes.register(
        recipes.Recipe(
            name="test-markov-tiny",
            study="test",
            config=TINY,
            fit=fit,
            seconds={"cpu": 0.1},
        )
    )
    yield recipe
    recipes._RECIPES.pop(recipe.name)


def test_cli_trains_lists_and_keeps_valid_artifacts(tiny_recipe, art_root, capsys):
    assert train.main(["test-markov-tiny", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "missing, training on cpu" in out and "saved in" in out
    meta = json.loads((art_root / "test" / "test-markov-tiny.json").read_text())
    assert meta["config"] == json.loads(json.dumps(dataclasses.asdict(TINY)))
    assert meta["recipe_version"] == 1 and meta["device"].startswith("cpu")
    assert meta["wall_time_s"] > 0 and len(meta["metrics"]["loss"]) == TINY.steps
    assert train.main(["test-markov-tiny"]) == 0
    assert "valid, kept" in capsys.readouterr().out
    assert train.main(["--list"]) == 0
    row = next(
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("test-markov-tiny")
    )
    assert " valid " in row and "KiB" in row


def test_training_is_deterministic(tiny_recipe):
    first = recipes.train("test-markov-tiny", "cpu", progress=False).tensors
    second = recipes.train("test-markov-tiny", "cpu", progress=False).tensors
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)


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


def test_cli_rejects_unknown_names_and_no_arguments(capsys):
    with pytest.raises(SystemExit):
        train.main(["no-such-artifact"])
    assert "unknown artifact(s) no-such-artifact" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main([])


def test_cuda_request_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no GPU; use --device cpu or auto"):
        recipes.resolve_device("cuda")


def test_config_validation_names_the_fix():
    with pytest.raises(ValueError, match="concentration=-1"):
        MarkovConfig(concentration=-1)


def test_every_committed_recipe_has_a_valid_artifact(monkeypatch):
    monkeypatch.delenv("INTERPLIB_ARTIFACTS", raising=False)
    for name, recipe in recipes.recipes().items():
        if recipe.committed:
            state, detail = recipes.status(name)
            assert state == "valid", detail


def test_artifacts_fit_the_size_budget(monkeypatch):
    monkeypatch.delenv("INTERPLIB_ARTIFACTS", raising=False)
    sizes = [
        f["bytes"] for meta in artifacts.sidecars() for f in meta["files"].values()
    ]
    assert max(sizes) <= 16 * 2**20, (
        "one artifact file is over 16 MiB: store weights in float16"
    )
    assert sum(sizes) <= 64 * 2**20, "artifacts/ is over its 64 MiB budget"


def test_training_command_runs_without_transformer_lens():
    """The lent GPU image has torch but no transformer-lens: `python -m interplib.train` must still work there."""
    script = (
        "import sys; sys.modules['transformer_lens'] = None\n"  # makes `import transformer_lens` fail
        "from interplib.core import cli; sys.exit(cli.main(['--list']))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "markov-bigram" in result.stdout and "story-tokenizer" in result.stdout


def test_all_on_a_cpu_skips_the_gpu_runs(tiny_recipe, monkeypatch, capsys):
    gpu = dataclasses.replace(tiny_recipe, name="test-markov-gpu", gpu=True)
    monkeypatch.setattr(
        recipes, "recipes", lambda: {r.name: r for r in (tiny_recipe, gpu)}
    )
    assert train.main(["--all", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "skipping the GPU runs test-markov-gpu" in out
    assert "test-markov-tiny: missing, training on cpu" in out
    assert "test-markov-gpu: missing" not in out


def test_recipes_are_discovered_in_every_study():
    found = recipes.discover()
    studies = Path(recipes.__file__).parents[1] / "studies"
    expected = {
        f"interplib.studies.{d.name}.recipes"
        for d in studies.iterdir()
        if (d / "__init__.py").exists()
    }
    assert expected | {"interplib.corpus.recipes"} == set(found)
