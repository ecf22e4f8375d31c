"""Shared fixtures: one torch thread for every test; an empty artifacts root on request; and a
guard that keeps the committed ``artifacts/`` out of the unit tests.

A test that reads the committed artifacts (through :func:`interplib.core.artifacts.find`, which
:func:`~interplib.core.artifacts.load` and every loader goes through, or
:func:`~interplib.core.artifacts.sidecars`) must say so with ``@pytest.mark.artifacts``; those
tests live in ``tests/artifacts/``. ``pytest -m "not artifacts"`` runs the unit tests alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from interplib.core import artifacts, paths

COMMITTED = (paths.book_root() / "artifacts").resolve()


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Tiny models on a shared 2-core CPU: a second torch thread spin-waits and costs more than
    it saves
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


def is_committed(folder: Path) -> bool:
    """Whether ``folder`` is the committed ``artifacts/`` or inside it."""
    folder = Path(folder).resolve()
    return folder == COMMITTED or COMMITTED in folder.parents


@pytest.fixture(autouse=True)
def committed_artifacts_guard(request, monkeypatch):
    """Fail a test without ``@pytest.mark.artifacts`` that reads the committed artifacts/."""
    if request.node.get_closest_marker("artifacts"):
        yield
        return

    def refuse(base):
        folder = base or artifacts.root()
        if is_committed(folder):
            pytest.fail(
                f"{request.node.nodeid} reads the committed artifacts ({COMMITTED}): "
                f"mark it @pytest.mark.artifacts and move it to tests/artifacts/, or "
                f"give it an empty root with the art_root fixture",
                pytrace=False,
            )

    find, sidecars = artifacts.find, artifacts.sidecars

    def guarded_find(name, base=None):
        refuse(base)
        return find(name, base)

    def guarded_sidecars(base=None):
        refuse(base)
        return sidecars(base)

    monkeypatch.setattr(artifacts, "find", guarded_find)
    monkeypatch.setattr(artifacts, "sidecars", guarded_sidecars)
    yield
