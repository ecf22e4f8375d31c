"""Every module of ``interplib`` says what it offers: ``__all__`` lists its public names.

For each module: ``__all__`` exists, has no repeats, and names only what the module binds;
every public function or class the module *defines* at its top level (read from the source,
not the imports) is in it; and a plain module (not a package's ``__init__``) lists no name it
only imports: re-exporting is what a package's ``__init__`` is for.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "interplib"


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(("interplib", *parts)), path))
    return found


def top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The module's top-level statements, looking inside ``if``/``try`` (not into functions)."""
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            found += top_level(node.body) + top_level(node.orelse)
        elif isinstance(node, ast.Try):
            found += top_level(node.body) + top_level(node.orelse)
            found += top_level(node.finalbody)
            for handler in node.handlers:
                found += top_level(handler.body)
        else:
            found.append(node)
    return found


def bindings(path: Path) -> tuple[set[str], set[str], set[str]]:
    """``(functions and classes, other assigned names, imported names)`` at the top level."""
    defined, assigned, imported = set(), set(), set()
    for node in top_level(ast.parse(path.read_text()).body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                assigned |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imported |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return defined, assigned - {"__all__"}, imported


MODULES = modules()


@pytest.mark.parametrize("name, path", MODULES, ids=[name for name, _ in MODULES])
def test_all_lists_the_public_names(name: str, path: Path):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), (
        f"{path}: add __all__ = [...] with its public names"
    )
    names = list(module.__all__)
    assert all(isinstance(n, str) for n in names), f"{path}: __all__ holds non-strings"
    repeated = sorted({n for n in names if names.count(n) > 1})
    assert not repeated, f"{path}: __all__ lists {repeated} more than once"
    unbound = [n for n in names if not hasattr(module, n)]
    assert not unbound, (
        f"{path}: __all__ lists {unbound}, which the module does not bind"
    )

    defined, assigned, imported = bindings(path)
    public = sorted(n for n in defined if not n.startswith("_"))
    missing = [n for n in public if n not in names]
    assert not missing, (
        f"{path}: public {missing} not in __all__; add them, or rename with a leading _ "
        f"if they are internal"
    )
    if path.name != "__init__.py":
        only_imported = [n for n in names if n in imported - defined - assigned]
        assert not only_imported, (
            f"{path}: __all__ lists {only_imported}, which the module only imports; "
            f"import them from where they are defined"
        )
