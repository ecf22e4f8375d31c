"""tools/device_pack.py: slim/restore in a scratch repository; pack, split and unpack small
fake artifacts (no training)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
import torch
from builders import load_tool

from interplib.core import artifacts, recipes

dp = load_tool("device_pack")


def sh(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def repo(tmp_path):
    """A repository with tracked artifacts, an unstaged edit, an untracked artifact and a
    staged change outside artifacts/."""
    repo = tmp_path / "repo"
    (repo / "artifacts" / "s").mkdir(parents=True)
    sh(repo, "init", "-q")
    sh(repo, "config", "user.email", "t@t")
    sh(repo, "config", "user.name", "t")
    (repo / "artifacts" / "s" / "a.json").write_text("a")
    (repo / "artifacts" / "s" / "big.safetensors").write_bytes(b"x" * 200_000)
    (repo / "code.py").write_text("code")
    (repo / "other.py").write_text("other")
    sh(repo, "add", ".")
    sh(repo, "commit", "-q", "-m", "init")
    (repo / "artifacts" / "s" / "a.json").write_text("a, edited")  # unstaged
    (repo / "artifacts" / "s" / "new.json").write_text("new")  # untracked
    (repo / "code.py").write_text("code, staged")
    sh(repo, "add", "code.py")
    return repo


def test_slim_sends_no_artifacts_and_restore_leaves_git_status_as_before(repo):
    before = sh(repo, "status", "--porcelain")
    full = dp.travelling(repo)
    dp.slim(repo, with_plan=False)
    assert "artifacts" not in sh(repo, "ls-files")
    assert "artifacts" not in sh(repo, "ls-files", "--others", "--exclude-standard")
    assert dp.travelling(repo) < full - 200_000
    with pytest.raises(SystemExit, match="already slim"):
        dp.slim(repo, with_plan=False)
    # another engineer commits meanwhile, the only way allowed: `git commit -- paths`
    (repo / "other.py").write_text("other, committed meanwhile")
    sh(repo, "commit", "-q", "-m", "theirs", "--", "other.py")
    assert sh(repo, "show", "--stat", "HEAD").count("|") == 1  # no artifact deleted
    assert dp.restore(repo) == []
    assert sh(repo, "status", "--porcelain") == before
    assert dp.SLIM_LINE not in (repo / dp.EXCLUDE).read_text()
    with pytest.raises(SystemExit, match="not slim"):
        dp.restore(repo)


def test_restore_keeps_an_artifact_committed_during_the_window(repo):
    dp.slim(repo, with_plan=False)
    sh(repo, "commit", "-q", "-m", "theirs", "--", "artifacts/s/a.json")
    assert dp.restore(repo) == [" M artifacts/s/a.json"]  # now committed: clean
    assert "artifacts/s/a.json" not in sh(repo, "status", "--porcelain")
    assert sh(repo, "show", "HEAD:artifacts/s/a.json") == "a, edited"
    assert "big.safetensors" in sh(repo, "ls-files")


@dataclasses.dataclass(frozen=True)
class Fake:
    n: int = 1000
    seed: int = 0


def fake_fit(cfg, device, progress):
    raise AssertionError("never trained: the tests save the artifacts directly")


@pytest.fixture
def fakes(art_root, tmp_path):
    """Two registered recipes and their artifacts on a 'device' root: one new to the
    repository (committed=False), one a retrain of a committed artifact."""
    made = [
        recipes.register(
            recipes.Recipe(
                name=name,
                study="fake",
                config=Fake(n),
                fit=fake_fit,
                committed=committed,
            )
        )
        for name, n, committed in (
            ("test-dev-new", 9000, False),
            ("test-dev-old", 3000, True),
        )
    ]
    device_root = tmp_path / "device" / "artifacts"
    for recipe in made:
        meta = {
            "config": dataclasses.asdict(recipe.config),
            "recipe_version": 1,
            "metrics": {"loss": 0.5},
            "key_metric": {"name": "loss", "value": 0.5},
            "wall_time_s": 12.5,
            "device": "cuda: fake",
        }
        torch.manual_seed(recipe.config.n)
        tensors = {"w": torch.randn(recipe.config.n)}
        artifacts.save("fake", recipe.name, tensors, meta, base=device_root)
    report = {
        "device": "cuda: fake",
        "recipes": [
            {"name": r.name, "state": "done", "detail": "", "wall_s": 13.0}
            for r in made
        ]
        + [{"name": "test-dev-late", "state": "skipped", "detail": "deadline"}],
    }
    info = {r.name: {"committed": r.committed} for r in made}
    yield device_root, report, info
    for recipe in made:
        recipes._RECIPES.pop(recipe.name)


def pack(tmp_path, device_root, report, info, **limits):
    out = tmp_path / "out"
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return out, dp.pack(
        device_root, out, report, info, {"mode": "test"}, work / "logs", work, **limits
    )


def test_pack_splits_and_unpack_installs_verified_artifacts(fakes, tmp_path, art_root):
    device_root, report, info = fakes
    out, manifest = pack(tmp_path, device_root, report, info, part_bytes=8192)
    assert len(manifest["parts"]) > 3 and manifest["left_on_device"] == []
    assert {p.name for p in out.iterdir()} == {
        "manifest.json",
        *(p["name"] for p in manifest["parts"]),
    }
    got, table = dp.unpack(out, art_root, tmp_path / "retrain")
    assert got["complaints"] == []
    rows = {r["recipe"]: r for r in table}
    assert rows["test-dev-new"]["installed"] == str(art_root)
    assert rows["test-dev-late"]["installed"] == "-"
    assert recipes.status("test-dev-new", art_root)[0] == "valid"
    assert recipes.status("test-dev-old", art_root)[0] == "valid"
    assert dp.remaining(got) == ["test-dev-late"]
    assert "| test-dev-new | done |" in dp.render(table)
    # again: both now valid in the root, so the retrains go beside it, for drift
    _, table = dp.unpack(out, art_root, tmp_path / "retrain")
    assert {r["installed"] for r in table if r["shipped"] == "full"} == {
        str(tmp_path / "retrain")
    }
    assert recipes.status("test-dev-old", tmp_path / "retrain")[0] == "valid"


def test_pack_leaves_what_does_not_fit_on_the_device(fakes, tmp_path, art_root):
    device_root, report, info = fakes
    out, manifest = pack(tmp_path, device_root, report, info, stream_bytes=60_000)
    assert manifest["left_on_device"] == ["test-dev-old"]  # the new one first
    assert manifest["recipes"]["test-dev-old"]["shipped"] == "sidecar"
    got, table = dp.unpack(out, art_root, tmp_path / "retrain")
    assert recipes.status("test-dev-old", art_root)[0] == "missing"
    assert (tmp_path / "retrain" / "fake" / "test-dev-old.json").exists()
    assert dp.remaining(got) == ["test-dev-late", "test-dev-old"]


def test_unpack_refuses_a_corrupted_or_missing_part(fakes, tmp_path, art_root, capsys):
    device_root, report, info = fakes
    out, manifest = pack(tmp_path, device_root, report, info, part_bytes=8192)
    second = out / manifest["parts"][1]["name"]
    second.write_bytes(second.read_bytes()[:-100])  # half transferred
    got, table = dp.unpack(out, art_root, tmp_path / "retrain")
    assert "half transferred" in got["complaints"][0]
    refused = [r for r in table if str(r["installed"]).startswith("REFUSED")]
    assert refused, table
    assert recipes.status(refused[0]["recipe"], art_root)[0] == "missing"
    second.unlink()
    assert dp.main(["unpack", str(out), "--into", str(art_root)]) == 1
    assert "did not come back" in capsys.readouterr().out


def test_unpack_refuses_an_artifact_whose_data_was_altered(fakes, tmp_path, art_root):
    device_root, report, info = fakes
    data = next(device_root.glob("fake/test-dev-new.*.safetensors"))
    data.write_bytes(data.read_bytes()[:-4] + b"\0\0\0\0")  # altered on the device
    out, _ = pack(tmp_path, device_root, report, info)
    _, table = dp.unpack(out, art_root, tmp_path / "retrain")
    row = next(r for r in table if r["recipe"] == "test-dev-new")
    assert row["installed"].startswith("REFUSED: corrupt")
    assert not list(art_root.glob("fake/test-dev-new.*"))


def test_manifest_records_hashes_and_log_tails(fakes, tmp_path):
    device_root, report, info = fakes
    logs = tmp_path / "work" / "logs"
    logs.mkdir(parents=True)
    (logs / "test-dev-new.log").write_text("line\n" * 1000 + "the end\n")
    _, manifest = pack(tmp_path, device_root, report, info)
    row = manifest["recipes"]["test-dev-new"]
    assert row["log_tail"].endswith("the end\n") and len(row["log_tail"]) <= dp.LOG_TAIL
    assert (
        row["gpu_wall_s"] == 12.5 and len(row["files"]["safetensors"]["sha256"]) == 64
    )
    assert (
        json.loads((tmp_path / "out" / "manifest.json").read_text())["mode"] == "test"
    )
