"""Where the book's files are: the checkout, its artifacts and its caches.

The artifacts are found by one rule, in order:

1. ``$INTERPLIB_ARTIFACTS``, when set (a folder laid out like ``artifacts/``);
2. ``artifacts/`` of the book checkout that contains the working directory;
3. ``artifacts/`` of the checkout this package was installed from (an editable install).

A library installed from a wheel into ``site-packages`` has no checkout: outside one (and
without the variable) :func:`artifacts_root` raises, naming both fixes, and nothing is ever
written into ``site-packages``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["BookNotFound", "book_root", "artifacts_root", "cache_root"]

MARKERS = ("_toc.yml", "artifacts")  # a book checkout has both


class BookNotFound(FileNotFoundError):
    """No book checkout holds the working directory, and ``$INTERPLIB_ARTIFACTS`` is unset."""


def _is_book(folder: Path) -> bool:
    return all((folder / marker).exists() for marker in MARKERS)


def book_root() -> Path:
    """The book checkout: the one containing the working directory, else the package's own."""
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if _is_book(folder):
            return folder
    source = Path(__file__).resolve().parents[2]
    if _is_book(source):
        return source
    raise BookNotFound(
        f"no book checkout (a folder with {' and '.join(MARKERS)}) contains {cwd}, and "
        f"interplib was not installed from one: run from inside a clone of the book, or "
        f"set INTERPLIB_ARTIFACTS to a folder of artifacts"
    )


def artifacts_root() -> Path:
    """``$INTERPLIB_ARTIFACTS`` if set, else ``artifacts/`` of :func:`book_root`."""
    env = os.environ.get("INTERPLIB_ARTIFACTS")
    return Path(env) if env else book_root() / "artifacts"


def cache_root() -> Path:
    """``.cache/`` of the book checkout (gitignored data rebuilt on demand: token splits, HF
    directories); beside ``$INTERPLIB_ARTIFACTS`` when there is no checkout."""
    try:
        return book_root() / ".cache"
    except BookNotFound:
        return artifacts_root().parent / ".cache"
