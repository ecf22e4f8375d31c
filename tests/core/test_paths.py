"""Where the book's files are: ``$INTERPLIB_ARTIFACTS`` first, then the checkout containing the
working directory, then the package's own checkout; outside any, an error naming both fixes."""

from pathlib import Path

import pytest

from interplib.core import paths

PACKAGE_CHECKOUT = Path(paths.__file__).resolve().parents[2]


def checkout(folder: Path) -> Path:
    """A minimal book checkout: ``_toc.yml`` and ``artifacts/``."""
    (folder / "artifacts").mkdir(parents=True)
    (folder / "_toc.yml").write_text("root: intro\n")
    return folder


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("INTERPLIB_ARTIFACTS", raising=False)


@pytest.fixture
def wheel_install(monkeypatch, tmp_path):
    """interplib as if installed from a wheel: its files in a site-packages outside any checkout."""
    fake = tmp_path / "site-packages" / "interplib" / "core" / "paths.py"
    monkeypatch.setattr(paths, "__file__", str(fake))


def test_the_variable_wins_wherever_the_working_directory_is(
    tmp_path, monkeypatch, wheel_install
):
    book = checkout(tmp_path / "book")
    elsewhere = tmp_path / "mine"
    monkeypatch.setenv("INTERPLIB_ARTIFACTS", str(elsewhere))
    for cwd in (book, tmp_path):
        monkeypatch.chdir(cwd)
        assert paths.artifacts_root() == elsewhere


def test_the_checkout_containing_the_working_directory_comes_next(
    tmp_path, monkeypatch, no_env
):
    book = checkout(tmp_path / "book")
    (book / "chapters" / "deep").mkdir(parents=True)
    for cwd in (book, book / "chapters" / "deep", book / "artifacts"):
        monkeypatch.chdir(cwd)
        assert paths.book_root() == book.resolve()
        assert paths.artifacts_root() == book.resolve() / "artifacts"
        assert paths.cache_root() == book.resolve() / ".cache"


def test_the_innermost_checkout_is_the_one_that_counts(tmp_path, monkeypatch, no_env):
    outer = checkout(tmp_path / "outer")
    inner = checkout(outer / "copies" / "inner")
    monkeypatch.chdir(inner)
    assert paths.book_root() == inner.resolve()


@pytest.mark.parametrize("marker", ["_toc.yml", "artifacts"])
def test_a_folder_with_only_one_marker_is_not_a_checkout(
    tmp_path, monkeypatch, no_env, marker
):
    half = tmp_path / "half"
    half.mkdir()
    if marker == "artifacts":
        (half / "artifacts").mkdir()
    else:
        (half / "_toc.yml").write_text("")
    monkeypatch.chdir(half)
    assert paths.book_root() == PACKAGE_CHECKOUT


def test_outside_any_checkout_the_packages_own_checkout_is_used(
    tmp_path, monkeypatch, no_env
):
    monkeypatch.chdir(tmp_path)
    assert paths.book_root() == PACKAGE_CHECKOUT
    assert paths.artifacts_root() == PACKAGE_CHECKOUT / "artifacts"


def test_a_wheel_outside_a_checkout_names_both_fixes(
    tmp_path, monkeypatch, no_env, wheel_install
):
    monkeypatch.chdir(tmp_path)
    for where in (paths.book_root, paths.artifacts_root, paths.cache_root):
        with pytest.raises(paths.BookNotFound) as err:
            where()
        message = str(err.value)
        assert str(tmp_path.resolve()) in message
        assert "run from inside a clone of the book" in message
        assert "set INTERPLIB_ARTIFACTS to a folder of artifacts" in message
    assert issubclass(paths.BookNotFound, FileNotFoundError)


def test_without_a_checkout_the_cache_sits_beside_the_variables_folder(
    tmp_path, monkeypatch, wheel_install
):
    monkeypatch.setenv("INTERPLIB_ARTIFACTS", str(tmp_path / "store" / "artifacts"))
    monkeypatch.chdir(tmp_path)
    assert paths.cache_root() == tmp_path / "store" / ".cache"
