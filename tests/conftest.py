"""Shared fixtures: an empty artifacts root per test, so tests never touch artifacts/."""

from __future__ import annotations

import pytest


@pytest.fixture
def art_root(tmp_path, monkeypatch):
    root = tmp_path / "artifacts"
    root.mkdir()
    monkeypatch.setenv("INTERPLIB_ARTIFACTS", str(root))
    return root
