"""The page checks run on the built site (``tools/check_pages.py``, ``make check-pages``)."""

from __future__ import annotations

import json

from builders import load_tool

check_pages = load_tool("check_pages")


def code(source: str, *tags: str) -> dict:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {"tags": list(tags)} if tags else {},
        "outputs": [],
    }


def test_a_visible_cell_that_glues_or_claims_is_found():
    nb = {
        "cells": [
            code("fig = plot(x)\nbook.glue('fig_x', fig);"),
            code("claim(ok, 'it holds')"),
            code("book.glue_all({'a': 1})"),
            code("fig = plot(x)"),
        ]
    }
    found = check_pages.visible_bookkeeping(nb)
    assert [f.split(":")[0] for f in found] == ["cell 0", "cell 1", "cell 2"]
    assert "book.glue('fig_x', fig);" in found[0]


def test_check_cells_comments_strings_and_magics_are_not_bookkeeping():
    nb = {
        "cells": [
            code("book.glue('x', 1)", "hide-input"),
            code("book.claim(ok, 's')", "remove-cell"),
            code("glue('y', 2)", "remove-input"),
            code("# book.glue('x', 1) is in the check cell\nprint('claim(')"),
            code("%pip install -q x\nvalue = glued('x')"),
            {"cell_type": "markdown", "source": "book.glue('x', 1)", "metadata": {}},
        ]
    }
    assert check_pages.visible_bookkeeping(nb) == []


def test_a_cell_python_cannot_parse_is_matched_by_text():
    assert check_pages.calls_bookkeeping("x = ?\nbook.claim(ok, 's')")
    assert not check_pages.calls_bookkeeping("x = ?\nclaimed = 1")


def test_main_fails_on_visible_bookkeeping_in_an_executed_chapter(tmp_path, capsys):
    executed = tmp_path / "executed" / "chapters"
    executed.mkdir(parents=True)
    nb = {"cells": [code("fig = plot(x)\nbook.glue('fig_x', fig)")], "metadata": {}}
    (executed / "page.ipynb").write_text(json.dumps(nb))
    assert check_pages.main([str(tmp_path / "html")]) == 1
    assert "page.ipynb: glue/claim in a visible cell, cell 0" in capsys.readouterr().out
    nb["cells"] = [code("fig = plot(x)"), code("book.glue('fig_x', fig)", "hide-input")]
    (executed / "page.ipynb").write_text(json.dumps(nb))
    assert check_pages.main([str(tmp_path / "html")]) == 0
