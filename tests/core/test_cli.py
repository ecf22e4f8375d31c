"""``python -m interplib.train``: training, listing, keeping valid artifacts, refusing bad names."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from builders import TINY_MARKOV as TINY

from interplib.core import cli as train
from interplib.core import recipes


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


def test_cli_rejects_unknown_names_and_no_arguments(capsys):
    with pytest.raises(SystemExit):
        train.main(["no-such-artifact"])
    assert "unknown artifact(s) no-such-artifact" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train.main([])


def test_training_command_runs_without_transformer_lens(art_root):
    """The lent GPU image has torch but no transformer-lens: `python -m interplib.train` must
    still work there
    (listed against an empty root, so the committed artifacts are not read)."""
    script = (
        # makes `import transformer_lens` fail
        "import sys; sys.modules['transformer_lens'] = None\n"
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
