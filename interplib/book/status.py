"""What the status page shows about the machine and the build: versions, device, build times.

The page also reads files its code does not show: the artifacts' sidecars, ``book-timings.json``,
the commit and the sources whose external links it lists. myst-nb's ``cache`` execution
(jupyter-cache) matches a page by its code cells and their metadata only, so a cached status
page would go on showing the artifacts and timings of the build that executed it. The book's
Sphinx extension (:mod:`interplib.book.site`) therefore calls :func:`watch_inputs`: each
build writes :func:`inputs_digest` into the metadata of the page's first code cell
(:func:`stamp`, key ``build_inputs``), which makes it part of the page's cache key, and
re-reads the page when the digest changed since the last build.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from pathlib import Path
from typing import Any

import pandas as pd

from interplib.book import links
from interplib.core import paths, recipes

__all__ = [
    "environment",
    "build_timings",
    "inputs",
    "inputs_digest",
    "stamp",
    "watch_inputs",
    "STATUS_PAGE",
    "STAMP_KEY",
]

STATUS_PAGE = "chapters/status"  # its Sphinx docname
STAMP_KEY = "build_inputs"  # the cell metadata key; the reader notebooks leave it out


def environment() -> pd.DataFrame:
    """Python, key package versions and the hardware of this run, as a two-column table."""
    from importlib.metadata import PackageNotFoundError, version

    rows = [("python", platform.python_version()), ("platform", platform.platform())]
    for package in (
        "torch",
        "transformer-lens",
        "transformers",
        "numpy",
        "pandas",
        "plotly",
        "sympy",
        "einops",
        "safetensors",
        "tokenizers",
        "jupyter-book",
        "myst-nb",
        "sphinx",
    ):
        try:
            rows.append((package, version(package)))
        except PackageNotFoundError:
            rows.append((package, "not installed"))
    rows.append(("device", recipes.describe_device(recipes.resolve_device("auto"))))
    return pd.DataFrame(rows, columns=["what", "version"]).set_index("what")


def build_timings(path: Path | None = None) -> pd.DataFrame:
    """The cold and warm build times recorded by ``make measure-build`` (``book-timings.json``)."""
    path = path or paths.book_root() / "book-timings.json"
    if not path.exists():
        return pd.DataFrame(
            {"note": ["not measured on this checkout yet: run `make measure-build`"]}
        )
    record = json.loads(path.read_text())
    return pd.DataFrame(record["builds"]).set_index("build")


def _files_digest(files: list[Path], root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def inputs(
    root: Path | None = None, artifacts_root: Path | None = None
) -> dict[str, str]:
    """What the status page shows that its code cells do not contain, one digest each.

    ``artifacts``: every JSON file under the artifacts root, the sidecars the artifact
    table is read from and the manifest (the data files are named by their sha256, which
    the sidecars record); ``book-timings.json`` ("absent" when not measured); ``commit``:
    :func:`~interplib.core.recipes.code_version`; ``link sources``: the files the external
    links are taken from (:func:`interplib.book.links.sources`).
    """
    root = root or paths.book_root()
    art_root = artifacts_root or paths.artifacts_root()
    timings = root / "book-timings.json"
    sidecars = [p for p in art_root.rglob("*.json") if p.is_file()]
    return {
        "artifacts": _files_digest(sidecars, art_root),
        "book-timings.json": _files_digest([timings], root)
        if timings.exists()
        else "absent",
        "commit": recipes.code_version(),
        "link sources": _files_digest(links.sources(root), root),
    }


def inputs_digest(**where: Any) -> str:
    """One ``sha256:`` digest (16 hex digits) over :func:`inputs` (same arguments)."""
    text = json.dumps(inputs(**where), sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


CODE_CELL = re.compile(r"^(```+|~~~+)\{code-cell\}[^\n]*\n", re.MULTILINE)


def stamp(source: str, digest: str) -> str:
    """The page's MyST source with ``digest`` in its first code cell's metadata.

    jupyter-cache hashes every code cell with its metadata, so the stamp makes the digest
    part of the page's cache key without changing any code the reader sees.

    Raises:
        ValueError: if the source has no code cell, or ``digest`` would not read back as
            one plain string.
    """
    if not re.fullmatch(r"[\w:.-]+", digest) or not digest[0].isalpha():
        raise ValueError(
            f"a stamp is a word starting with a letter (e.g. 'sha256:…'), got {digest!r}"
        )
    match = CODE_CELL.search(source)
    if match is None:
        raise ValueError("no {code-cell} in the page: nothing to stamp")
    return source[: match.end()] + f":{STAMP_KEY}: {digest}\n" + source[match.end() :]


def watch_inputs(app: Any) -> None:
    """Connect the stamp to a Sphinx build (called by :mod:`interplib.book.site`).

    ``env-get-outdated`` computes the digest of the build's source folder once per build
    and re-reads the status page when it differs from the last build's; ``source-read``
    stamps the page's source. A book without the status page is left alone.
    """

    def digest() -> str:
        root = Path(app.srcdir)
        env_root = os.environ.get("INTERPLIB_ARTIFACTS")
        art_root = Path(env_root) if env_root else root / "artifacts"
        return inputs_digest(root=root, artifacts_root=art_root)

    def outdated(app: Any, env: Any, added, changed, removed) -> list[str]:
        if STATUS_PAGE not in env.found_docs:
            return []
        previous = getattr(env, "interplib_status_inputs", None)
        env.interplib_status_inputs = digest()
        return [STATUS_PAGE] if previous != env.interplib_status_inputs else []

    def read(app: Any, docname: str, source: list[str]) -> None:
        if docname == STATUS_PAGE:
            current = getattr(app.env, "interplib_status_inputs", None) or digest()
            source[0] = stamp(source[0], current)

    app.connect("env-get-outdated", outdated)
    app.connect("source-read", read)
