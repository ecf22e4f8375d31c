"""What the status page shows about the machine and the build: versions, device, build times."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pandas as pd

from interplib.core import paths, recipes

__all__ = ["environment", "build_timings"]


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
