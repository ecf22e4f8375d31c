"""Sphinx extension for the book: a site that renders with no network.

Registered in ``_config.yml`` (``sphinx.extra_extensions``). At the end of an HTML build it

* copies plotly.js (from the installed plotly wheel) and MathJax 3 (from the installed
  ``django-static-mathjax`` package) into ``_static/vendor/``, where ``_config.yml`` points
  ``html_js_files`` and ``mathjax_path``; nothing is committed, so they always match the
  installed versions;
* writes ``.nojekyll`` so GitHub Pages serves the ``_static`` folders;
* makes the downloadable executed notebooks (``_sources/**/*.ipynb``) complete and identical
  from build to build (see :func:`publishable_notebooks`), and readable outside the book:
  MyST resolved and figures that draw offline (:mod:`interplib.book.export`, with the
  references resolved by this build's Sphinx environment, :class:`SphinxResolver`);
* points the Binder and Colab buttons at ``notebooks/<chapter>.ipynb`` once that reader
  notebook is committed (``make notebooks``), else at the chapter's own ``.ipynb``;
* warns (an error under ``-W``) if any page still loads a script from the network.

It also gives myst-nb a renderer for plotly's JSON output (:class:`PlotlyMime`, registered
as a ``myst_nb.mime_renderers`` entry point in ``pyproject.toml``), preferred over the
HTML fallback of :class:`interplib.book.plotting.BookFigure`: every figure is drawn with the
page's vendored plotly.js, whatever the environment of the build.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util import logging

from interplib.book import export, status
from interplib.book.plotting import figure_html

__all__ = [
    "install_cell",
    "VENDOR",
    "plotly_js",
    "mathjax_dir",
    "copy_assets",
    "remote_scripts",
    "EXECUTED",
    "publishable_notebooks",
    "SphinxResolver",
    "reader_notebooks",
    "READER_DIR",
    "PlotlyMime",
    "setup",
]

logger = logging.getLogger(__name__)
VENDOR = "vendor"
REMOTE_SCRIPT = re.compile(r"<script[^>]+src=\"(https?:)?//[^\"]+\"", re.IGNORECASE)


def plotly_js() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: reinstall plotly (pip install --force-reinstall plotly)"
        )
    return path


def mathjax_dir() -> Path:
    try:
        import mathjax
    except ImportError as err:
        raise ImportError(
            "MathJax for the offline site comes from `pip install django-static-mathjax`"
        ) from err
    path = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (path / "tex-chtml.js").exists():
        raise FileNotFoundError(
            f"{path}/tex-chtml.js is missing: reinstall django-static-mathjax"
        )
    return path


def copy_assets(outdir: Path) -> None:
    """Put plotly.min.js and MathJax under ``outdir/_static/vendor``."""
    vendor = outdir / "_static" / VENDOR
    vendor.mkdir(parents=True, exist_ok=True)
    shutil.copy2(plotly_js(), vendor / "plotly.min.js")
    target = vendor / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    # The tex-chtml bundle and what it loads on demand: fonts, TeX extensions, accessibility.
    shutil.copytree(
        mathjax_dir(),
        target,
        ignore=shutil.ignore_patterns("*.map", "sre", "mml-*", "tex-svg*"),
    )
    (outdir / ".nojekyll").touch()


def remote_scripts(outdir: Path) -> dict[str, list[str]]:
    """Pages that load a script from the network, with the offending tags."""
    found = {}
    for page in sorted(outdir.rglob("*.html")):
        tags = [
            m.group(0) for m in REMOTE_SCRIPT.finditer(page.read_text(errors="replace"))
        ]
        if tags:
            found[str(page.relative_to(outdir))] = tags
    return found


EXECUTED = (
    "executed"  # _build/executed/: the executed chapters, as check_pages reads them
)


def publishable_notebooks(outdir: Path, cache_path: Path) -> list[Path]:
    """Write every downloadable chapter, executed, with its outputs and stable cell ids to
    ``outdir/../executed/`` (:func:`reader_notebooks` makes the download from it); return
    the files written.

    myst-nb 1.4 writes a notebook that was served from the jupyter-cache *without* outputs
    (it saves the parsed notebook, not the merged one), and nbformat gives cells random ids,
    so the download button would serve an unexecuted notebook that differs on every build.
    Each build starts from myst-nb's copy (``jupyter_execute/``), never from what the last
    build left in ``_sources`` (a reader notebook, when the page was not rewritten).
    """
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path)) if cache_path.is_dir() else None
    written = []
    for path in sorted((outdir / "_sources").rglob("*.ipynb")):
        rel = path.relative_to(outdir / "_sources")
        executed = outdir.parent / "jupyter_execute" / rel
        nb = nbformat.read(executed if executed.exists() else path, as_version=4)
        if cache is not None:
            # not cached (e.g. executed with execution_mode: force): keep it as it is
            with contextlib.suppress(KeyError):
                _, nb = cache.merge_match_into_notebook(nb)
        for i, cell in enumerate(nb.cells):
            if "id" in cell:
                cell["id"] = f"cell-{i}"
        target = outdir.parent / EXECUTED / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    return written


# reference roles: the Sphinx domain and type that resolve them
XREF = {
    "numref": ("std", "numref"),
    "ref": ("std", "ref"),
    "doc": ("std", "doc"),
    "eq": ("math", "eq"),
    "cite": ("cite", "p"),
    "cite:p": ("cite", "p"),
    "cite:t": ("cite", "t"),
    "cite:ps": ("cite", "ps"),
    "cite:ts": ("cite", "ts"),
}
EXPLICIT = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


class SphinxResolver:
    """:class:`interplib.book.export.Resolver` for one page of a finished Sphinx build: each
    role is resolved by the domain that resolved it on the page, so the notebook says what
    the page says (``Fig. 3``, ``(2)``, ``[Elhage et al., 2021]``)."""

    def __init__(self, app: Sphinx, docname: str):
        self.app, self.docname = app, docname
        self.page_url = urljoin(_base_url(app), f"{docname}.html")

    def xref(self, role: str, content: str) -> tuple[str, str | None] | None:
        domain, typ = XREF[role]
        if domain == "cite":
            cited = {c.key for c in _citations(self.app)}
            if not all(k.strip() in cited for k in content.split(",")):
                return None  # in no {bibliography} of the book
        explicit = EXPLICIT.match(content) if domain == "std" else None
        target = explicit["target"] if explicit else content
        node = addnodes.pending_xref(
            "",
            refdomain=domain,
            reftype=typ,
            reftarget=target,
            refexplicit=explicit is not None,
            refdoc=self.docname,
        )
        contnode = nodes.inline("", explicit["title"] if explicit else target)
        node += contnode
        env = self.app.env
        found = env.get_domain(domain).resolve_xref(
            env, self.docname, self.app.builder, typ, target, node, contnode
        )
        if found is None:
            return None
        refs = [found] if "refuri" in found else list(found.findall(nodes.reference))
        uri = refs[0].get("refuri", "") if refs else ""
        url = None if not uri or uri.startswith("#") else urljoin(self.page_url, uri)
        if domain == "cite":  # a citation's link goes to the References of the notebook
            url = None
        return found.astext(), url

    def reference(self, key: str) -> str:
        for citation in _citations(self.app):
            if citation.key == key:
                text = citation.formatted_entry.text.render_as("markdown")
                # as the site's tooltips: a \\url{...} field shows as the bare address
                return " ".join(text.replace("\\\\url ", "").split())
        return key


def _citations(app: Sphinx) -> list[Any]:
    """sphinxcontrib-bibtex's citations: one per key listed by a ``{bibliography}``."""
    return app.env.get_domain("cite").citations  # type: ignore[attr-defined]


def _base_url(app: Sphinx) -> str:
    return (app.config.html_baseurl or "").rstrip("/") + "/"


def reader_notebooks(app: Sphinx, executed: list[Path]) -> list[str]:
    """Serve each ``executed`` chapter (from :func:`publishable_notebooks`) as a reader's
    notebook (:func:`interplib.book.export.export_notebook`) at ``_sources/<page>.ipynb``,
    where the download button points; the problems met, by page."""
    from plotly.offline import get_plotlyjs_version

    outdir = Path(app.outdir)
    macros = app.config.mathjax3_config.get("tex", {}).get("macros", {})
    cdn = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
    plotly = plotly_js().read_bytes()
    problems = []
    for path in executed:
        docname = path.relative_to(outdir.parent / EXECUTED).with_suffix("").as_posix()
        if docname not in app.env.found_docs:
            continue
        resolver = SphinxResolver(app, docname)
        nb = json.loads(path.read_text())
        reader, found = export.export_notebook(
            nb,
            resolver,
            page_url=resolver.page_url,
            plotly_js=plotly,
            cdn=cdn,
            macros=macros,
        )
        served = outdir / "_sources" / f"{docname}.ipynb"
        served.write_text(json.dumps(reader, indent=1, ensure_ascii=False) + "\n")
        problems += [f"{docname}: {p}" for p in found]
    return problems


READER_DIR = (
    "notebooks"  # the reader notebooks Binder and Colab open (`make notebooks`)
)


def _launch_reader_notebooks(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Binder and Colab open ``notebooks/<chapter>.ipynb`` (MyST resolved, no outputs)
    when it is committed; until then the chapter's own ``.ipynb``."""
    name = Path(pagename).name
    if not (Path(app.srcdir) / READER_DIR / f"{name}.ipynb").exists():
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if "url" in button:
                button["url"] = re.sub(
                    rf"/{re.escape(pagename)}\.(ipynb|md)$",
                    f"/{READER_DIR}/{name}.ipynb",
                    button["url"],
                )


def _build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    executed = publishable_notebooks(outdir, outdir.parent / ".jupyter_cache")
    for problem in reader_notebooks(app, executed):
        logger.warning(f"reader notebook: {problem}")
    copy_assets(outdir)
    for page, tags in remote_scripts(outdir).items():
        logger.warning(
            f"{page} loads a script from the network ({tags[0]}); the site must render offline"
        )


INSTALL_TAG = "remove-cell"  # hidden on the site, kept in the notebook Colab opens


def install_cell(repository_url: str) -> str:
    """The first code cell of every chapter: on Colab, fetch the book (code and artifacts)
    and install its library with one pip command; elsewhere it does nothing.

    Written from ``_config.yml``'s ``repository.url``, the one place the URL is kept
    (``tools/install_cells.py`` writes it into the chapters; a test checks them).
    """
    return (
        "# Colab: fetch the book (code and artifacts) and install its library. Colab's\n"
        "# own torch is kept (interplib asks for torch>=2.6).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    repo = "{repository_url}"\n'
        "    !git clone -q --depth 1 {repo} /content/book\n"
        "    %pip install -q -e /content/book\n"
        "    %cd /content/book/chapters"
    )


class PlotlyMime:
    """myst-nb renderer of ``application/vnd.plotly.v1+json`` outputs for HTML builders."""

    MIME = "application/vnd.plotly.v1+json"
    # ascending: drawn from plotly's JSON in preference to text/html (30)
    mime_priority_overrides = [
        (builder, "application/vnd.plotly.v1+json", 25)
        for builder in ("html", "dirhtml", "singlehtml")
    ]

    @staticmethod
    def handle_mime(
        renderer: Any, data: Any, inline: bool
    ) -> list[nodes.Element] | None:
        if data.mime_type != PlotlyMime.MIME:
            return None
        spec = (
            data.content if isinstance(data.content, dict) else json.loads(data.string)
        )
        # the n-th figure of the page: ids stay unique and the same from build to build
        document = renderer.renderer.document
        count = document.get("interplib_figures", 0) + 1
        document["interplib_figures"] = count
        html = figure_html(spec, suffix=f"-{count}")
        return [nodes.raw("", html, format="html", classes=["output", "text_html"])]


def _words_for_status() -> None:
    """myst-nb's ``{nb-exec-table}`` marks each notebook ✅ or ❌, which a browser without an
    emoji font draws as a box: say it in words. (The mapping is a module-level table of
    ``myst_nb.ext.execution_tables``; a test checks it is still there.)"""
    from myst_nb.ext import execution_tables

    execution_tables._key2transform["succeeded"] = lambda ok: (
        "succeeded" if ok is True else "failed"
    )


def setup(app: Sphinx) -> dict:
    _words_for_status()
    status.watch_inputs(app)  # the status page's cache key covers the files it reads
    app.connect("build-finished", _build_finished)
    # after sphinx-book-theme's launch buttons (501), before the page is rendered
    app.connect("html-page-context", _launch_reader_notebooks, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
