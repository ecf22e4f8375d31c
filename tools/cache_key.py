"""The key under which CI saves and restores the jupyter-cache (``_build/.jupyter_cache``).

jupyter-cache decides whether a notebook must re-execute from its code cells, their metadata
and the kernelspec only. A change to ``interplib``, to a pinned package or to an artifact would
leave every cached output in place and publish stale numbers. The key therefore has two parts:

* ``lib``: what the cache cannot see, i.e. every tracked file under ``interplib/``, the
  requirement files and ``artifacts/manifest.json`` (which lists every artifact's hash);
* ``chapters``: the book's sources (``intro.md``, ``chapters/**.md``, ``_toc.yml``,
  ``_config.yml``).

CI restores the exact key ``...-<lib>-<chapters>`` or, failing that, the newest cache with the
same ``lib`` (prefix ``...-<lib>-``): jupyter-cache then re-executes only the chapters whose
code changed. A cache saved under another ``lib`` is never restored.

Run ``make cache-key`` (or ``python tools/cache_key.py``) to see the key CI computes; the output
lines ``lib=...``, ``chapters=...`` and ``key=...`` are appended to ``$GITHUB_OUTPUT`` in CI.
Standard library only, so it runs before any install.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LIB = ("interplib/*", "requirements*.txt", "pyproject.toml", "artifacts/manifest.json")
CHAPTERS = ("intro.md", "chapters/*.md", "_toc.yml", "_config.yml", "references.bib")
IGNORED = ("*/__pycache__/*", "*.pyc", "*.egg-info/*")


def tracked_files(repo: Path = REPO) -> list[str]:
    """Paths tracked by git (POSIX, relative), or every file when ``repo`` is not a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=True
        ).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()]
    return sorted(
        n for n in names if not any(fnmatch.fnmatch(n, pat) for pat in IGNORED)
    )


def select(names: list[str], patterns: tuple[str, ...]) -> list[str]:
    # fnmatch's "*" also matches "/", so "interplib/*" covers every file below interplib/.
    return [n for n in names if any(fnmatch.fnmatch(n, pat) for pat in patterns)]


def digest(repo: Path, names: list[str]) -> str:
    """sha256 over (path, sha256 of content) pairs, sorted by path; 16 hex digits."""
    h = hashlib.sha256()
    for name in sorted(names):
        path = repo / name
        if not path.is_file():  # tracked but deleted in the working tree
            continue
        h.update(
            name.encode()
            + b"\0"
            + hashlib.sha256(path.read_bytes()).hexdigest().encode()
            + b"\n"
        )
    return h.hexdigest()[:16]


def keys(repo: Path = REPO) -> dict[str, str]:
    names = tracked_files(repo)
    lib = digest(repo, select(names, LIB))
    chapters = digest(repo, select(names, CHAPTERS))
    return {"lib": lib, "chapters": chapters, "key": f"{lib}-{chapters}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="checkout to hash (default: this one)"
    )
    parser.add_argument(
        "--files", action="store_true", help="also list the files each part hashes"
    )
    args = parser.parse_args(argv)
    for name, value in keys(args.repo).items():
        print(f"{name}={value}")
    if args.files:
        names = tracked_files(args.repo)
        for part, patterns in (("lib", LIB), ("chapters", CHAPTERS)):
            for n in select(names, patterns):
                print(f"# {part}: {n}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
