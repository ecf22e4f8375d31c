"""``python -m interplib.train``: training, listing, keeping valid artifacts, refusing bad names."""

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from builders import TINY_MARKOV as TINY

from interplib.core import cli as train
from interplib.core import paths, recipes


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


NAPS = """
import time
from dataclasses import dataclass, replace

import torch

from interplib.core.recipes import Recipe, Trained, register


@dataclass(frozen=True)
class Nap:
    seconds: float = 0.0
    fail: bool = False
    seed: int = 0


def fit(cfg, device, progress):
    time.sleep(cfg.seconds)
    if cfg.fail:
        raise RuntimeError("this recipe fails on purpose")
    print("napped", cfg.seconds)
    return Trained({"x": torch.zeros(1)}, {"slept": cfg.seconds}, ("slept", cfg.seconds))


for name, cfg, needs in (
    ("test-nap-a", Nap(2.0), ()),
    ("test-nap-b", Nap(2.0), ()),
    ("test-nap-c", Nap(0.0), ("test-nap-a",)),
    ("test-nap-bad", Nap(0.0, fail=True), ()),
    ("test-nap-after-bad", Nap(0.0), ("test-nap-bad",)),
    ("test-nap-after-after", Nap(0.0), ("test-nap-after-bad",)),
):
    register(
        Recipe(
            name=name, study="test", config=cfg, fit=fit, needs=needs,
            smoke=lambda c: replace(c, seconds=0.0),
        )
    )
"""


@pytest.fixture
def naps(tmp_path, art_root, monkeypatch):
    """Tiny recipes that sleep (or fail), in a module the packed run's subprocesses import too
    (``$INTERPLIB_RECIPE_MODULES``); unregistered afterwards."""
    module = "packed_test_naps"
    (tmp_path / f"{module}.py").write_text(NAPS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv(recipes.EXTRA_RECIPES_ENV, module)
    before = set(recipes._RECIPES)
    yield tmp_path / "logs"
    for name in set(recipes._RECIPES) - before:
        recipes._RECIPES.pop(name)
    sys.modules.pop(module, None)


def test_packed_run_is_concurrent_and_respects_needs(naps, art_root, capsys):
    began = time.perf_counter()
    jobs = train.packed(
        ["test-nap-c", "test-nap-a", "test-nap-b"], torch.device("cpu"), 2, naps
    )
    elapsed = time.perf_counter() - began
    by = {job.name: job for job in jobs}
    assert [job.name for job in jobs] == ["test-nap-a", "test-nap-b", "test-nap-c"]
    assert all(job.state == "done" for job in jobs), capsys.readouterr().out
    a, b, c = by["test-nap-a"], by["test-nap-b"], by["test-nap-c"]
    assert a.start is not None and b.start is not None and c.start is not None
    assert a.end is not None and b.end is not None
    assert a.start < b.end and b.start < a.end  # a and b ran at the same time
    assert c.start >= a.end  # c needs a
    assert elapsed < sum(job.wall or 0 for job in jobs)
    for job in jobs:  # each subprocess's output in its log, each artifact saved by it
        assert job.log == naps / f"{job.name}.log"
        assert "napped" in job.log.read_text()
        assert (art_root / "test" / f"{job.name}.json").exists()
    out = capsys.readouterr().out
    assert "test-nap-a: started" in out and "test-nap-c: done in" in out
    assert "recipe" in out and "state" in out and "log" in out  # the final table


def test_packed_run_skips_the_dependants_of_a_failure(naps, art_root, capsys):
    argv = ["test-nap-after-after", "test-nap-after-bad", "test-nap-bad"]
    assert (
        train.main([*argv, "--jobs", "2", "--device", "cpu", "--logs", str(naps)]) == 1
    )
    out = capsys.readouterr().out
    assert "test-nap-bad: FAILED (exit 1)" in out
    assert "test-nap-after-bad: skipped, it needs test-nap-bad" in out
    assert "test-nap-after-after: skipped, it needs test-nap-after-bad" in out
    assert "fails on purpose" in (naps / "test-nap-bad.log").read_text()
    assert sorted(p.name for p in naps.iterdir()) == ["test-nap-bad.log"]
    assert not (art_root / "test").exists()


def test_jobs_1_trains_in_this_process_without_logs(tiny_recipe, tmp_path, capsys):
    logs = tmp_path / "logs"
    assert train.main(["test-markov-tiny", "--device", "cpu", "--logs", str(logs)]) == 0
    assert "test-markov-tiny: missing, training on cpu" in capsys.readouterr().out
    assert not logs.exists()


def test_smoke_trains_the_tiny_config_into_a_throwaway_root(
    tiny_recipe, art_root, monkeypatch, capsys
):
    recipes._RECIPES["test-markov-tiny"] = dataclasses.replace(
        tiny_recipe, smoke=lambda cfg: dataclasses.replace(cfg, steps=5)
    )
    assert train.main(["test-markov-tiny", "--smoke", "--device", "cpu"]) == 0
    meta = json.loads((art_root / "test" / "test-markov-tiny.json").read_text())
    assert meta["config"]["steps"] == 5 and len(meta["metrics"]["loss"]) == 5
    assert recipes.SMOKE_ENV not in os.environ  # smoke mode ends with the command
    assert recipes.status("test-markov-tiny")[0] == "stale"  # the real config differs

    monkeypatch.delenv(
        "INTERPLIB_ARTIFACTS"
    )  # a fresh temporary root, removed afterwards
    capsys.readouterr()
    assert train.main(["test-markov-tiny", "--smoke", "--device", "cpu"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("smoke mode: tiny configs, artifacts in ")
    assert not Path(line.rsplit(" ", 1)[-1]).exists()
    assert "INTERPLIB_ARTIFACTS" not in os.environ

    monkeypatch.setenv("INTERPLIB_ARTIFACTS", str(paths.book_root() / "artifacts"))
    with pytest.raises(SystemExit, match="committed"):
        train.main(["test-markov-tiny", "--smoke", "--device", "cpu"])


def test_packed_run_starts_the_longest_first_and_keeps_its_deadline(naps, art_root):
    """Expected times from ``estimates``: the longest starts first; one that cannot end before
    the deadline is skipped with its dependants; one still running then is stopped."""
    estimates = {"test-nap-a": 1.0, "test-nap-b": 600.0, "test-nap-c": 0.5}
    jobs = train.packed(
        ["test-nap-a", "test-nap-b", "test-nap-c"],
        torch.device("cpu"),
        1,
        naps,
        deadline=300.0,
        estimates=estimates,
    )
    by = {job.name: job for job in jobs}
    assert by["test-nap-b"].state == "skipped"
    assert "past the deadline" in by["test-nap-b"].detail
    assert by["test-nap-a"].state == by["test-nap-c"].state == "done"

    estimates = {"test-nap-a": 0.1, "test-nap-b": 0.5, "test-nap-c": 0.1}
    jobs = train.packed(
        ["test-nap-a", "test-nap-b", "test-nap-c"],
        torch.device("cpu"),
        1,
        naps,
        force=True,
        deadline=1.0,  # a subprocess takes longer than that to import torch
        estimates=estimates,
    )
    by = {job.name: job for job in jobs}
    assert by["test-nap-b"].state == "interrupted"  # the longest started first
    assert by["test-nap-b"].detail == "deadline"
    assert by["test-nap-a"].state == by["test-nap-c"].state == "skipped"
    assert not list(art_root.glob("test/test-nap-b.*"))  # nothing half-written


def test_deadline_report_is_json(naps, art_root, tmp_path):
    report = tmp_path / "report.json"
    argv = ["test-nap-c", "test-nap-a", "--device", "cpu", "--logs", str(naps)]
    argv += ["--deadline", "600", "--report", str(report)]
    assert train.main(argv) == 0
    got = json.loads(report.read_text())
    assert got["device"].startswith("cpu")
    assert [r["name"] for r in got["recipes"]] == ["test-nap-a", "test-nap-c"]
    assert all(r["state"] == "done" and r["wall_s"] > 0 for r in got["recipes"])
