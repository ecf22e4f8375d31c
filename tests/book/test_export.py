"""Reader notebooks: MyST resolved into plain Markdown, glued figures placed, figures offline."""

import json

import pytest

from interplib.book import export, offline
from interplib.book.cells import GLUE_PREFIX

PAGE = "https://book.example/chapters/page.html"
OTHER = "https://book.example/chapters/other.html"


class FakeResolver:
    """What a build of a two-page book would answer."""

    NUMBERS = {"fig-a": "Fig. 1", "tab-a": "Table 1", "ex-a": "Exercise 1"}

    def xref(self, role, content):
        if role == "numref":
            return (self.NUMBERS[content], None) if content in self.NUMBERS else None
        if role == "eq":
            return {
                "eq-a": ("(1)", None),
                "eq-b": ("(3)", OTHER + "#equation-eq-b"),
            }.get(content)
        if role == "doc":
            return ("The other chapter", OTHER) if content == "other" else None
        if role == "ref":
            return ("A section", OTHER + "#sec") if content == "sec" else None
        if role.startswith("cite"):
            names = {"smith2020": "Smith, 2020", "doe2021": "Doe, 2021"}
            keys = [k.strip() for k in content.split(",")]
            if not all(k in names for k in keys):
                return None
            return "[" + "; ".join(names[k] for k in keys) + "]", None
        raise AssertionError(role)

    def reference(self, key):
        return {
            "smith2020": "A. Smith. Zebras. 2020.",
            "doe2021": "J. Doe. Apes. 2021.",
        }[key]


def glue_output(key, bundle):
    return {
        "output_type": "display_data",
        "metadata": {"scrapbook": {"name": key, "mime_prefix": GLUE_PREFIX}},
        "data": {GLUE_PREFIX + k: v for k, v in bundle.items()},
    }


FIGURE = {
    "data": [{"type": "scatter", "y": [1, 2]}],
    "layout": {"title": {"text": "t"}},
}


def notebook(*markdown, outputs=()):
    code = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "source": "book.glue_all(...)",
        "outputs": [
            glue_output("acc", {"text/plain": "0.91234"}),
            glue_output("head", {"text/markdown": "L0H3", "text/plain": "L0H3"}),
            glue_output("table", {"text/markdown": "| a |\n| - |\n| 1 |"}),
            glue_output("fig_a", {offline.PLOTLY: FIGURE, "text/plain": "<fig>"}),
            *outputs,
        ],
    }
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "(page)=\n# Title"}]
    cells += [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
    return {"cells": [code, *cells], "metadata": {"kernelspec": {"name": "python3"}}}


def run(*markdown, outputs=(), macros=None):
    nb, problems = export.export_notebook(
        notebook(*markdown, outputs=outputs),
        FakeResolver(),
        page_url=PAGE,
        plotly_js=b"window.Plotly = {};",
        cdn="https://cdn.example/plotly.js",
        macros=macros,
    )
    return nb, problems


def markdown_of(nb):
    return "\n\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "markdown")


def test_glued_values_are_pasted_as_the_roles_format_them():
    nb, problems = run(
        "Accuracy {glue:text}`acc:.1%`, raw {glue:text}`acc`, head {glue}`head`.\n\n"
        "```{glue:md} table\n:format: gfm\n```"
    )
    text = markdown_of(nb)
    assert "Accuracy 91.2%, raw 0.91234, head L0H3." in text
    assert "| a |\n| - |\n| 1 |" in text
    assert "{glue" not in text and problems == []


def test_references_become_the_sites_text_linked_to_other_pages():
    nb, problems = run(
        "See {numref}`fig-a`, {eq}`eq-a`, {eq}`eq-b`, {doc}`other` and {ref}`sec`."
    )
    assert (
        "See Fig. 1, (1), [(3)](https://book.example/chapters/other.html#equation-eq-b), "
        "[The other chapter](https://book.example/chapters/other.html) and "
        "[A section](https://book.example/chapters/other.html#sec)."
    ) in markdown_of(nb)
    assert problems == []


def test_citations_are_author_year_with_a_sorted_reference_list():
    nb, _ = run("As {cite:t}`smith2020` and {cite:p}`doe2021,smith2020` show.")
    text = markdown_of(nb)
    assert "As [Smith, 2020] and [Doe, 2021; Smith, 2020] show." in text
    references = nb["cells"][-1]["source"]
    assert references == (
        "## References\n\n- J. Doe. Apes. 2021.\n- A. Smith. Zebras. 2020."
    )


def test_labelled_equations_are_numbered_and_macros_expanded():
    nb, problems = run(
        "$$\n\\softmax(x) \\WOV{h} \\WOV 2 \\R\n$$ (eq-a)\n\n"
        "Inline $\\R^n$, \\Rightarrow, wrapped $x \\in\n\\R$.\n\nNot $\n\n\\R$.",
        macros={
            "softmax": "\\operatorname{softmax}",
            "WOV": ["W_{OV}^{#1}", 1],
            "R": "X",
        },
    )
    text = markdown_of(nb)
    assert (
        "$$\n\\operatorname{softmax}(x) W_{OV}^{h} W_{OV}^{2} X\n\\tag{1}\n$$" in text
    )
    # inline math wraps onto the next line; \R... is not \Rightarrow; no math across
    # a paragraph break
    assert "Inline $X^n$, \\Rightarrow, wrapped $x \\in\nX$." in text
    assert "Not $\n\n\\R$." in text
    assert problems == []


def test_directives_become_markdown():
    nb, problems = run(
        "```{note}\nMind the {glue:text}`acc:.2f`.\n```\n\n"
        "```{admonition} Costs\n:class: note\n\nCheap.\n```\n\n"
        "```{exercise}\n:label: ex-a\n\nDo it.\n```\n\n"
        "```{solution} ex-a\n:class: dropdown\n\nDone.\n```\n\n"
        "::::{table} A caption\n:name: tab-a\n\n:::{glue:md} table\n:::\n::::"
    )
    text = markdown_of(nb)
    assert "> **Note**\n>\n> Mind the 0.91." in text
    assert "> **Costs**\n>\n> Cheap." in text
    assert "> **Exercise 1**\n>\n> Do it." in text
    assert (
        "<details>\n<summary>Solution to Exercise 1</summary>\n\nDone.\n\n</details>"
        in text
    )
    assert "**Table 1.** A caption\n\n| a |" in text
    assert "(page)=" not in text and problems == []


def test_a_glued_figure_is_placed_where_the_prose_puts_it():
    nb, problems = run(
        "Before.\n\n```{glue:figure} fig_a\n:name: fig-a\n\nThe caption.\n```\n\nAfter."
    )
    kinds = [(c["cell_type"], c["source"][:30]) for c in nb["cells"]]
    i = kinds.index(("code", 'book.cells.glued("fig_a")'))
    assert kinds[i - 1] == ("markdown", "Before.")
    assert kinds[i + 1] == ("markdown", "**Fig. 1.** The caption.")
    assert kinds[i + 2] == ("markdown", "After.")
    (shown,) = nb["cells"][i]["outputs"]
    assert shown["data"][offline.PLOTLY] == FIGURE
    # the glue records are gone from the cell that made them
    assert nb["cells"][0]["outputs"] == []
    assert problems == []


@pytest.mark.parametrize(
    ("markdown", "problem"),
    [
        ("{numref}`fig-missing`", "undefined label"),
        ("{doc}`nowhere`", "unknown document"),
        ("{cite:p}`nobody1999`", "citation not found"),
        ("{glue:text}`missing`", "nothing is glued under 'missing'"),
        ("{kbd}`Ctrl`", "no reader form for the role {kbd}"),
        ("```{mermaid}\ngraph\n```", "no reader form for the directive {mermaid}"),
    ],
)
def test_what_has_no_reader_form_is_reported(markdown, problem):
    _, problems = run(markdown)
    assert any(problem in p for p in problems), problems


def test_expand_macros_refuses_macros_of_two_arguments():
    with pytest.raises(ValueError, match="2 arguments"):
        export.expand_macros("$\\f{a}{b}$", {"f": ["#1 #2", 2]})


def load_tool(name):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_reader_notebooks_are_the_builds_without_outputs(tmp_path):
    tool = load_tool("export_notebooks")
    served = tmp_path / "html" / "_sources" / "chapters"
    served.mkdir(parents=True)
    nb, _ = run("```{glue:figure} fig_a\n```")
    (served / "page.ipynb").write_text(json.dumps(nb))
    out = tmp_path / "notebooks"
    assert tool.main([str(tmp_path / "html"), str(out), "--check"]) == 1  # missing
    assert tool.main([str(tmp_path / "html"), str(out)]) == 0
    written = json.loads((out / "page.ipynb").read_text())
    code = [c for c in written["cells"] if c["cell_type"] == "code"]
    assert code and all(
        c["outputs"] == [] and c["execution_count"] is None for c in code
    )
    assert tool.main([str(tmp_path / "html"), str(out), "--check"]) == 0
    # a number measured on another machine passes; changed prose does not
    committed = (out / "page.ipynb").read_text()
    assert '"nbformat": 4' in committed
    (out / "page.ipynb").write_text(committed.replace('"nbformat": 4', '"nbformat": 5'))
    assert tool.main([str(tmp_path / "html"), str(out), "--check"]) == 0
    (out / "page.ipynb").write_text(committed.replace('"cells"', '"cells" ', 1))
    assert tool.main([str(tmp_path / "html"), str(out), "--check"]) == 1
    (out / "page.ipynb").write_text(committed)
    (out / "old.ipynb").write_text("{}")  # a chapter that is gone
    assert tool.main([str(tmp_path / "html"), str(out), "--check"]) == 1
    assert tool.main([str(tmp_path / "html"), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["page.ipynb"]


def test_the_offline_check_lays_out_a_notebook_as_one_page_of_outputs():
    check = load_tool("check_offline")
    nb, _ = run("```{glue:figure} fig_a\n```")
    page, figures = check.notebook_page(nb)
    assert figures == 1
    assert page.index(check.REQUIRE_STANDIN) < page.index("interplibPlotly")


def test_the_offline_check_finds_myst_left_in_the_prose():
    check = load_tool("check_offline")
    raw = "Fig {numref}`fig-a`.\n\n```{note}\nx\n```"
    nb, _ = run(raw)
    assert check.MYST.findall(raw) == ["{numref}`", "```{note}"]
    assert check.MYST.findall(markdown_of(nb)) == []
