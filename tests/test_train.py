"""``python -m interplib.train``: the module runs the command line of :mod:`interplib.core.cli`."""

import runpy
import sys

import pytest

from interplib.core import cli, recipes


def run(monkeypatch, *args: str) -> int:
    """``python -m interplib.train ARGS`` in this process; its exit status."""
    monkeypatch.setattr(sys, "argv", ["python -m interplib.train", *args])
    monkeypatch.delitem(sys.modules, "interplib.train", raising=False)
    with pytest.raises(SystemExit) as done:
        runpy.run_module("interplib.train", run_name="__main__")
    return done.value.code


def test_list_names_every_recipe_as_missing_in_an_empty_root(
    monkeypatch, art_root, capsys
):
    assert run(monkeypatch, "--list") == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line.split()[2] for line in lines[1:] if line.strip()}
    assert set(recipes.recipes()) <= set(listed)
    assert {listed[name] for name in recipes.recipes()} == {"missing"}


def test_a_bad_name_exits_with_status_2_naming_it(monkeypatch, art_root, capsys):
    assert run(monkeypatch, "no-such-artifact") == 2
    assert "unknown artifact(s) no-such-artifact" in capsys.readouterr().err


def test_importing_the_module_runs_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "interplib.train", raising=False)
    import interplib.train

    assert interplib.train.main is cli.main
