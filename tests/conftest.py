"""Shared fixtures: one torch thread for every test; an empty artifacts root on request."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Tiny models on a shared 2-core CPU: a second torch thread spin-waits and costs more than it saves
    (40 tiny training steps took 8 s of CPU with two threads, 0.4 s with one)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def art_root(tmp_path, monkeypatch):
    """An empty artifacts root for one test, so tests never touch artifacts/."""
    root = tmp_path / "artifacts"
    root.mkdir()
    monkeypatch.setenv("INTERPLIB_ARTIFACTS", str(root))
    return root
