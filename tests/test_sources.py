"""The book's sources: table of contents, notebook pairs, code that fits the page (the offline-site
extension, :mod:`interplib.book.site`, is tested in tests/book/test_site.py)."""

from pathlib import Path

import jupytext
import pytest
import yaml

from interplib.book import site

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part["chapters"])
    return files


def test_every_toc_entry_exists():
    for name in toc_files():
        assert (ROOT / f"{name}.md").exists(), (
            f"_toc.yml lists {name} but {name}.md does not exist"
        )


NOTEBOOKS = sorted(
    p for p in (ROOT / "chapters").glob("*.md") if "```{code-cell}" in p.read_text()
)


@pytest.mark.parametrize("md", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_paired_with_an_output_free_ipynb_in_sync(md):
    ipynb = md.with_suffix(".ipynb")
    fix = f"run `make sync` (jupytext --sync {md.relative_to(ROOT)})"
    assert ipynb.exists(), f"{ipynb.name} is missing; {fix}"
    text = jupytext.read(md)
    pair = jupytext.read(ipynb)
    assert text.metadata["jupytext"]["formats"] == "ipynb,md:myst", (
        f"{md.name} is not paired; {fix}"
    )
    assert [(c.cell_type, c.source) for c in text.cells] == [
        (c.cell_type, c.source) for c in pair.cells
    ], f"{md.name} and {ipynb.name} differ; {fix}"
    assert not any(c.get("outputs") for c in pair.cells), (
        f"{ipynb.name} has outputs; commit it without"
    )


@pytest.mark.parametrize("md", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_the_toc(md):
    assert str(md.relative_to(ROOT).with_suffix("")) in toc_files(), (
        f"add {md.name} to _toc.yml"
    )


def code_lines(md: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of every line inside the chapter's code cells."""
    out, inside = [], False
    for n, line in enumerate(md.read_text().splitlines(), 1):
        if line.startswith("```{code-cell}"):
            inside = True
        elif inside and line.startswith("```"):
            inside = False
        elif inside and not line.startswith(":tags:") and line != "---":
            out.append((n, line))
    return out


@pytest.mark.parametrize("md", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_code_fits_the_page(md):
    """The page shows about 88 characters of code; a longer line is cut off at the right."""
    long = [
        f"{md.name}:{n} ({len(line)})" for n, line in code_lines(md) if len(line) > 88
    ]
    assert not long, f"{len(long)} code lines over 88 characters: {long[:5]}"


def test_every_chapter_starts_with_the_install_cell_written_from_the_config():
    """Colab opens a chapter's .ipynb: its first cell installs the library, with the URL of
    _config.yml (the one place it is written; `python tools/install_cells.py` rewrites)."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    for md in NOTEBOOKS:
        first = next(c for c in jupytext.read(md).cells if c.cell_type == "code")
        assert first.source == site.install_cell(url), (
            f"{md.name}: run `python tools/install_cells.py` and `make sync`"
        )
        assert "remove-cell" in first.metadata.get("tags", []), md.name
