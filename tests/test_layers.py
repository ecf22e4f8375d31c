"""The package's layers, read from the imports: the tree is the architecture.

* ``core`` (artifacts, recipes, training loops, hooks, checks) imports only ``core``;
* ``corpus`` (the story corpus) imports ``core`` and itself;
* ``interp`` (tools for any model) imports ``core`` and itself, never a study;
* ``book`` (glue, figures, the site) imports ``core`` and itself;
* ``studies.<study>`` imports ``core``, ``interp``, ``corpus``, ``book`` and itself, never
  another study.

Recipes are found by ``core.recipes.discover`` at run time, not imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "interplib"

ALLOWED = {
    "core": {"core"},
    "corpus": {"core", "corpus"},
    "interp": {"core", "interp"},
    "book": {"core", "book"},
    "studies": {"core", "interp", "corpus", "book"},
}


def layer(module: str) -> str:
    """``interplib.studies.grokking.model`` -> ``studies.grokking``; ``interplib.core.x`` ->
    ``core``."""
    parts = module.split(".")[1:]
    if not parts or not (PACKAGE / parts[0]).is_dir():
        return "root"  # interplib/__init__.py and the `python -m interplib.train` shim
    if parts[0] == "studies" and len(parts) > 1:
        return f"studies.{parts[1]}"
    return parts[0]


def modules() -> list[tuple[str, Path]]:
    return [
        (
            ".".join(("interplib", *path.relative_to(PACKAGE).with_suffix("").parts)),
            path,
        )
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def imports(path: Path) -> set[str]:
    """Every ``interplib...`` module a file imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(
                    f"{path}: relative import; write interplib.… in full"
                )
            if node.module.startswith("interplib"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("interplib"))
    known = {name for name, _ in modules()} | {
        name.rsplit(".", 1)[0] for name, _ in modules()
    }
    return {m for m in found if m in known}


def allowed(source: str, target: str) -> bool:
    if target == "interplib":  # the package itself (__version__)
        return True
    src, dst = layer(source), layer(target)
    if src in ("root",):  # interplib/__init__ and the `python -m interplib.train` shim
        return True
    if src.startswith("studies."):
        return dst == src or dst in ALLOWED["studies"]
    return dst in ALLOWED[src]


@pytest.mark.parametrize("name,path", modules(), ids=[n for n, _ in modules()])
def test_imports_respect_the_layers(name, path):
    wrong = sorted(t for t in imports(path) if not allowed(name, t))
    assert not wrong, f"{name} ({layer(name)}) must not import {wrong}"


def test_every_study_has_the_same_shape():
    studies = [
        d for d in (PACKAGE / "studies").iterdir() if (d / "__init__.py").exists()
    ]
    assert len(studies) == 6
    for study in studies:
        for required in ("model.py", "recipes.py", "analysis.py"):
            assert (study / required).exists(), f"{study.name} has no {required}"


def test_the_layer_check_catches_a_wrong_arrow():
    assert not allowed("interplib.interp.circuits", "interplib.studies.circuits.model")
    assert not allowed(
        "interplib.studies.grokking.model", "interplib.studies.circuits.model"
    )
    assert not allowed("interplib.core.recipes", "interplib.corpus.lmdata")
    assert allowed("interplib.studies.grokking.model", "interplib.interp.fourier")
