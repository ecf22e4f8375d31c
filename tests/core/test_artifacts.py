import json
import os

import pytest
import torch

from interplib.core import artifacts
from interplib.core.artifacts import CorruptArtifact, MissingArtifact, StaleArtifact


def _save(root, name="demo", config=None, value=1.0, files=None):
    tensors = {"w": torch.full((3, 4), value), "b": torch.arange(5)}
    meta = {
        "config": config or {"seed": 0, "width": (3, 4)},
        "metrics": {"loss": [1.0, 0.5]},
    }
    return artifacts.save("study", name, tensors, meta, files=files, base=root)


def test_round_trip_preserves_tensors_config_and_files(art_root):
    _save(art_root, files={"tokenizer.json": b'{"v": 1}'})
    art = artifacts.load("demo", expected_config={"seed": 0, "width": [3, 4]})
    torch.testing.assert_close(art.tensors["w"], torch.full((3, 4), 1.0))
    torch.testing.assert_close(art.tensors["b"], torch.arange(5))
    assert art.config == {
        "seed": 0,
        "width": [3, 4],
    }  # tuples come back as lists, and compare equal
    assert art.files == {"tokenizer.json": b'{"v": 1}'}
    assert art.metrics["loss"] == [1.0, 0.5]


def test_half_precision_is_stored_as_given(art_root):
    artifacts.save(
        "study",
        "half",
        {"w": torch.ones(2, dtype=torch.float16)},
        {"config": {}, "metrics": {}},
        base=art_root,
    )
    assert artifacts.load("half").tensors["w"].dtype == torch.float16


def test_corrupted_data_file_is_refused_with_the_remake_command(art_root):
    sidecar = _save(art_root)
    meta = json.loads(sidecar.read_text())
    data = art_root / "study" / meta["files"]["safetensors"]["path"]
    blob = bytearray(data.read_bytes())
    blob[-1] ^= 0xFF
    data.write_bytes(bytes(blob))
    with pytest.raises(
        CorruptArtifact, match=r"corrupted.*python -m interplib.train demo --force"
    ):
        artifacts.load("demo")


def test_missing_artifact_names_the_command(art_root):
    with pytest.raises(
        MissingArtifact,
        match=r"'nothing' is missing.*python -m interplib.train nothing",
    ):
        artifacts.load("nothing")


def test_missing_data_file_is_reported(art_root):
    sidecar = _save(art_root)
    meta = json.loads(sidecar.read_text())
    (art_root / "study" / meta["files"]["safetensors"]["path"]).unlink()
    with pytest.raises(MissingArtifact, match="data file .* is missing"):
        artifacts.load("demo")


def test_unreadable_sidecar_is_corrupt(art_root):
    sidecar = _save(art_root)
    sidecar.write_text("{not json")
    with pytest.raises(CorruptArtifact, match="unreadable"):
        artifacts.load("demo")


def test_config_mismatch_is_stale(art_root):
    _save(art_root, config={"seed": 0})
    with pytest.raises(StaleArtifact, match=r"stale.*\{'seed': 1\}"):
        artifacts.load("demo", expected_config={"seed": 1})


def test_resave_replaces_data_and_removes_old_files(art_root):
    _save(art_root, value=1.0)
    _save(art_root, value=2.0)
    assert float(artifacts.load("demo").tensors["w"][0, 0]) == 2.0
    assert len(list((art_root / "study").glob("demo.*.safetensors"))) == 1


def test_interrupted_save_leaves_old_artifact_intact(art_root, monkeypatch):
    _save(art_root, value=1.0)
    real_replace = os.replace

    def crash_on_sidecar(src, dst):
        if str(dst).endswith("demo.json"):
            raise KeyboardInterrupt("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(artifacts.os, "replace", crash_on_sidecar)
    with pytest.raises(KeyboardInterrupt):
        _save(art_root, value=2.0)
    monkeypatch.setattr(artifacts.os, "replace", real_replace)
    assert float(artifacts.load("demo").tensors["w"][0, 0]) == 1.0
    assert not list((art_root / "study").glob(".*.tmp")), (
        "temporary files are cleaned up"
    )


def test_manifest_indexes_every_sidecar(art_root):
    _save(art_root, name="one")
    _save(art_root, name="two", files={"vocab.json": b"[]"})
    manifest = json.loads((art_root / artifacts.MANIFEST).read_text())
    assert set(manifest["artifacts"]) == {"one", "two"}
    assert manifest == artifacts.manifest(art_root)
    assert set(artifacts.table(art_root).index) == {"one", "two"}


@pytest.mark.parametrize("name", ["", "Has Space", "../escape", "dotted.name"])
def test_bad_names_are_rejected(art_root, name):
    with pytest.raises(ValueError, match="artifact name"):
        artifacts.save(
            "study",
            name,
            {"w": torch.ones(1)},
            {"config": {}, "metrics": {}},
            base=art_root,
        )


def test_table_of_an_empty_root_has_the_columns(art_root):
    assert (
        artifacts.table(art_root).empty
        and "size (KiB)" in artifacts.table(art_root).columns
    )


def test_the_next_save_sweeps_what_a_crashed_save_left(art_root, monkeypatch):
    _save(art_root, value=1.0)
    real_replace = os.replace

    def crash_on_sidecar(src, dst):
        if str(dst).endswith("demo.json"):
            raise KeyboardInterrupt("power cut after the data was written")
        return real_replace(src, dst)

    monkeypatch.setattr(artifacts.os, "replace", crash_on_sidecar)
    with pytest.raises(KeyboardInterrupt):
        _save(art_root, value=2.0)
    monkeypatch.setattr(artifacts.os, "replace", real_replace)
    folder = art_root / "study"
    assert len(list(folder.glob("demo.*.safetensors"))) == 2  # the orphan of value 2
    (folder / ".demo.stray.tmp").write_bytes(b"half")  # a temporary file of a crash
    _save(art_root, value=3.0)
    left = sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")
    meta = json.loads((folder / "demo.json").read_text())
    assert left == sorted(["demo.json", meta["files"]["safetensors"]["path"]])


def test_an_edited_metric_is_caught_like_an_edited_tensor(art_root):
    sidecar = _save(art_root)
    meta = json.loads(sidecar.read_text())
    meta["metrics"]["loss"][-1] = 0.01  # a better number, by hand
    sidecar.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    with pytest.raises(CorruptArtifact, match="edited after it was written"):
        artifacts.load("demo")
    del meta["meta_sha256"]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CorruptArtifact, match="no 'meta_sha256' field"):
        artifacts.load("demo")
