"""The Sphinx extension: vendored plotly.js and MathJax, no remote scripts in the site."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from interplib.book import site

ROOT = Path(__file__).resolve().parents[2]


def test_site_assets_are_copied_from_installed_packages(tmp_path):
    site.copy_assets(tmp_path)
    vendor = tmp_path / "_static" / "vendor"
    assert (vendor / "plotly.min.js").stat().st_size > 1_000_000
    assert (vendor / "mathjax" / "tex-chtml.js").exists()
    assert any((vendor / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert (tmp_path / ".nojekyll").exists()


def test_remote_scripts_are_found(tmp_path):
    (tmp_path / "ok.html").write_text(
        '<script src="_static/vendor/plotly.min.js"></script>'
    )
    (tmp_path / "bad.html").write_text(
        '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3"></script>'
    )
    assert list(site.remote_scripts(tmp_path)) == ["bad.html"]


def test_config_points_math_and_plotly_at_the_vendored_copies():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["mathjax_path"] == f"{site.VENDOR}/mathjax/tex-chtml.js"
    assert f"{site.VENDOR}/plotly.min.js" in config["html_js_files"]


def test_the_execution_table_says_its_status_in_words():
    from myst_nb.ext import execution_tables

    site._words_for_status()
    status = execution_tables._key2transform["succeeded"]
    assert (status(True), status(False)) == ("succeeded", "failed")


PAGE = """---
jupytext:
  text_representation: {extension: .md, format_name: myst, format_version: 0.13}
kernelspec: {name: python3, display_name: Python 3, language: python}
---
# Tiny

```{code-cell} ipython3
from interplib import book
from interplib.book import plotting

plotting.show(plotting.line([1.0, 2.0]))
```

```{code-cell} ipython3
book.claim(1 + 1 == TWO, "one and one make two")
book.glue("two", 2)
book.glue("fig_line", plotting.line([2.0, 1.0]))
```

(sec-one)=
## One section

$$ x = 1 $$ (eq-one)

See {ref}`sec-one` of {doc}`page`.

Two is {glue:text}`two:.1f`, by {eq}`eq-one`, as {numref}`fig-line` shows
{cite:p}`elhage2021framework`.

```{glue:figure} fig_line
:name: fig-line

A line.
```

```{bibliography}
```
"""


def build_tiny_book(folder: Path, two: int) -> subprocess.CompletedProcess:
    """A one-page book with the real _config.yml, built by a plain `jupyter-book build`."""
    repo = Path(site.__file__).resolve().parents[2]
    folder.mkdir()
    for name in ("_config.yml", "references.bib"):
        shutil.copy(repo / name, folder / name)
    (folder / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (folder / "page.md").write_text(PAGE.replace("TWO", str(two)))
    (folder / site.READER_DIR).mkdir()  # a committed reader notebook (`make notebooks`)
    (folder / site.READER_DIR / "page.ipynb").write_text("{}")
    env = {k: v for k, v in os.environ.items() if k != "BOOK_BUILD"}
    jb = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jb), "build", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_a_plain_build_draws_figures_and_fails_on_a_false_claim(tmp_path):
    ok = build_tiny_book(tmp_path / "ok", two=2)
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert "reader notebook" not in ok.stdout + ok.stderr  # nothing left unresolved
    html = (tmp_path / "ok" / "_build" / "html" / "page.html").read_text()
    assert "Plotly.newPlot" in html and "vendor/plotly.min.js" in html
    # Colab opens the reader notebook once it is committed
    assert "blob/main/notebooks/page.ipynb" in html
    # the download button serves the reader notebook: MyST resolved, figures offline
    served = json.loads(
        (tmp_path / "ok" / "_build" / "html" / "_sources" / "page.ipynb").read_text()
    )
    text = "\n".join(
        c["source"] for c in served["cells"] if c["cell_type"] == "markdown"
    )
    assert "Two is 2.0, by (1), as Fig. 1 shows\n[Elhage et al., 2021]." in text
    assert "$$ x = 1\n\\tag{1}\n$$" in text
    assert "See One section of Tiny." in text  # the same page: no link
    assert "(sec-one)=" not in text
    assert "- Nelson Elhage, Neel Nanda" in text and "**Fig. 1.** A line." in text
    figures = [o for c in served["cells"] for o in c.get("outputs", []) if "data" in o]
    htmls = [
        o["data"]["text/html"] for o in figures if site.PlotlyMime.MIME in o["data"]
    ]
    assert len(htmls) == 2 and "interplibPlotly=" in htmls[0]
    bad = build_tiny_book(tmp_path / "bad", two=3)
    assert bad.returncode != 0
    log = bad.stdout + bad.stderr
    assert "page.md" in log and "one and one make two" in log


def test_downloadable_notebooks_start_from_myst_nbs_copy_on_every_build(tmp_path):
    """A page not rewritten by an incremental build keeps last build's reader notebook in
    _sources; the next build starts again from myst-nb's copy, not from it."""
    import nbformat

    outdir = tmp_path / "html"
    (outdir / "_sources").mkdir(parents=True)
    (tmp_path / "jupyter_execute").mkdir()
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Source")])
    nbformat.write(source, tmp_path / "jupyter_execute" / "page.ipynb")
    stale = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Exported")]
    )
    nbformat.write(stale, outdir / "_sources" / "page.ipynb")
    (written,) = site.publishable_notebooks(outdir, tmp_path / "no-cache")
    assert written == tmp_path / site.EXECUTED / "page.ipynb"
    served = nbformat.read(written, as_version=4)
    assert [c.source for c in served.cells] == ["# Source"]
    assert served.cells[0].id == "cell-0"
