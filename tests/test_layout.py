"""The tests mirror the package: ``interplib/<pkg>/<module>.py`` is tested in
``tests/<pkg>/test_<module>.py`` (``interplib/studies/<study>/<module>.py`` in
``tests/studies/<study>/test_<module>.py``, ``interplib/<module>.py`` in
``tests/test_<module>.py``).

Tests that read the committed artifacts live apart, in ``tests/artifacts/`` (marked
``artifacts``); they do not count here: every module has unit tests of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "interplib"
TESTS = ROOT / "tests"


def mirror(module: Path) -> Path:
    """The test file of a module, both relative to the repository root."""
    parts = module.relative_to("interplib").parts
    return Path("tests", *parts[:-1], f"test_{parts[-1]}")


def modules() -> list[Path]:
    """Every module of the package but the ``__init__`` files, relative to the root."""
    return [
        path.relative_to(ROOT)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "__init__.py"
    ]


def defined_tests(path: Path) -> list[str]:
    return [
        node.name
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


@pytest.mark.parametrize("module", modules(), ids=str)
def test_every_module_has_its_mirrored_test_file(module):
    tests = mirror(module)
    assert (ROOT / tests).is_file(), f"{module} has no tests: add {tests}"
    assert defined_tests(ROOT / tests), f"{tests} defines no test_ function"


def test_the_mirror_rule_for_each_kind_of_module():
    assert mirror(Path("interplib/core/paths.py")) == Path("tests/core/test_paths.py")
    assert mirror(Path("interplib/studies/markov/model.py")) == Path(
        "tests/studies/markov/test_model.py"
    )
    assert mirror(Path("interplib/train.py")) == Path("tests/test_train.py")
    assert Path("interplib/core/__init__.py") not in modules()
    assert Path("interplib/core/paths.py") in modules()


def test_the_check_catches_a_module_without_tests():
    module = Path("interplib/core/untested.py")
    assert not (ROOT / mirror(module)).exists()
    with pytest.raises(AssertionError, match="add tests/core/test_untested.py"):
        test_every_module_has_its_mirrored_test_file(module)
