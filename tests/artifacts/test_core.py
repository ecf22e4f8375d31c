"""The committed artifacts: every committed recipe's artifact is valid, the manifest is in sync,
the sizes fit."""

import json

import pytest

from interplib.core import artifacts, recipes

pytestmark = pytest.mark.artifacts


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


def test_committed_manifest_is_in_sync_with_sidecars(monkeypatch):
    monkeypatch.delenv("INTERPLIB_ARTIFACTS", raising=False)
    root = artifacts.root()
    committed = json.loads((root / artifacts.MANIFEST).read_text())
    assert committed == artifacts.manifest(root), (
        "run `python -m interplib.train --manifest` to rebuild it"
    )
