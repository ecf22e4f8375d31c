"""Notebooks that read well outside the book: the executed chapters with MyST resolved.

A chapter's Markdown cells speak MyST (the roles ``glue:text``, ``numref``, ``eq``,
``cite:p``, ..., directives such as ``note`` or ``glue:figure``, equations labelled as
``$$ … $$ (eq-label)``), which Jupyter, VS Code and Colab show as raw text, and its
figures are glued into the prose rather than shown by the cell that makes them.
:func:`export_notebook` turns an executed chapter into a notebook that reads as the page
does:

* glued values are pasted as text, formatted as the role asks (myst-nb's own formatter);
* cross-references, equation references and citations become the text the site shows
  (``Fig. 3``, ``(2)``, ``[Elhage et al., 2021]``), linked to the online page when they
  point to another page, and the cited works are listed at the end;
* labelled equations carry their number (``\\tag{2}``) and the book's TeX macros are
  expanded, so any MathJax or KaTeX typesets them;
* directives become Markdown: admonitions and exercises as quotes, solutions as
  ``<details>``, tables and figures with their numbered captions;
* a glued figure is placed where the prose puts it, in a code cell that shows it again
  (``book.cells.glued(key)``) and holds the build's output;
* every plotly output draws with no network (:mod:`interplib.book.offline`).

Resolving references needs the book's build: a :class:`Resolver` answers for the roles
(:mod:`interplib.book.site` gives one from the Sphinx environment). Anything without a
reader form is reported in ``problems``, never passed through silently.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from interplib.book.cells import GLUE_PREFIX
from interplib.book.offline import offline_figures

__all__ = [
    "Resolver",
    "Figure",
    "Export",
    "expand_macros",
    "export_notebook",
]

ROLE = re.compile(r"\{(?P<role>[a-z][a-z:-]*)\}`(?P<content>[^`]*)`")
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[^}]+)\}[ \t]*(?P<arg>.*)$")
LABELLED_MATH = re.compile(r"\$\$(?P<body>.+?)\$\$[ \t]*\((?P<label>[^)\s]+)\)", re.S)
# display math, or inline math that may wrap onto the next line (never across a paragraph)
MATH = re.compile(r"\$\$.+?\$\$|\$(?:[^$\n]|\n(?![ \t]*\n))+\$", re.S)
TARGET = re.compile(r"^\([^)\s]+\)=[ \t]*\n?", re.M)
COMMENT = re.compile(r"^%.*\n?", re.M)
XREF_ROLES = {
    "numref",
    "ref",
    "doc",
    "eq",
    "cite",
    "cite:p",
    "cite:t",
    "cite:ps",
    "cite:ts",
}
ADMONITIONS = {
    "note", "tip", "hint", "important", "warning", "caution", "attention", "danger",
    "error", "seealso",
}  # fmt: skip


class Resolver(Protocol):
    """What only the book's build knows."""

    def xref(self, role: str, content: str) -> tuple[str, str | None] | None:
        """The text a reference role shows and its absolute URL (None: same page, or no
        link), or None when it does not resolve. ``role`` is one of ``XREF_ROLES``."""
        ...

    def reference(self, key: str) -> str:
        """The bibliography entry of a cited ``key``, as Markdown."""
        ...


@dataclass
class Figure:
    """A glued output placed by ``{glue:figure}``/``{glue}``, with its numbered caption."""

    key: str
    caption: str = ""


@dataclass
class Export:
    """What a chapter's Markdown becomes: text and placed figures, in order."""

    resolver: Resolver
    glue: dict[str, dict[str, Any]]
    macros: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)

    def markdown(self, text: str) -> list[str | Figure]:
        """``text`` (a Markdown cell) as reader Markdown, split around placed figures."""
        text = COMMENT.sub("", TARGET.sub("", text))
        pieces = self._blocks(text)
        out: list[str | Figure] = []
        for piece in pieces:
            if isinstance(piece, str) and out and isinstance(out[-1], str):
                out[-1] += piece
            else:
                out.append(piece)
        return [
            re.sub(r"\n{3,}", "\n\n", p.strip()) if isinstance(p, str) else p
            for p in out
            if not (isinstance(p, str) and not p.strip())
        ]

    # -- blocks: directives ---------------------------------------------------------------
    def _blocks(self, text: str) -> list[str | Figure]:
        lines = text.split("\n")
        out: list[str | Figure] = []
        plain: list[str] = []
        i = 0
        while i < len(lines):
            opened = FENCE.match(lines[i])
            if not opened:
                plain.append(lines[i])
                i += 1
                continue
            fence = opened["fence"]
            end = i + 1
            while end < len(lines) and not re.fullmatch(
                re.escape(fence[0]) + f"{{{len(fence)},}}[ \t]*", lines[end]
            ):
                end += 1
            options, body = _options(lines[i + 1 : end])
            out.append(self._inline("\n".join(plain) + "\n"))
            plain = []
            out += self._directive(opened["name"], opened["arg"].strip(), options, body)
            i = end + 1
        out.append(self._inline("\n".join(plain)))
        return out

    def _directive(
        self, name: str, arg: str, options: dict[str, str], body: str
    ) -> list[str | Figure]:
        label = options.get("name") or options.get("label", "")
        if name in ("glue:figure", "glue", "glue:any"):
            number = self._number(label)
            caption = self._inline(body.strip())
            if number and caption:
                caption = f"**{number}.** {caption}"
            return [Figure(arg, caption)]
        if name == "glue:md":
            return [f"\n{self._glue_text(arg, 'glue:md')}\n\n"]
        if name == "table":
            number = self._number(label)
            title = self._inline(arg)
            head = f"**{number}.** {title}" if number else title
            return [f"\n{head}\n\n", *self._blocks(body), "\n\n"]
        if name == "math":
            return [
                self._inline(
                    f"$$\n{body.strip()}\n$$" + (f" ({label})" if label else "")
                )
            ]
        if name in ADMONITIONS or name == "admonition":
            title = self._inline(arg) if name == "admonition" else name.capitalize()
            return [_quote(f"**{title}**", self._blocks(body))]
        if name == "exercise":
            title = self._number(label) or "Exercise"
            return [_quote(f"**{title}**", self._blocks(body))]
        if name in ("solution", "solution-start"):
            title = f"Solution to {self._number(arg) or 'the exercise'}"
            if name == "solution-start":
                return [f"\n**{title}**\n\n"]
            inner = "".join(p for p in self._blocks(body) if isinstance(p, str))
            return [
                f"\n<details>\n<summary>{title}</summary>\n\n{inner.strip()}\n\n</details>\n\n"
            ]
        if name == "solution-end":
            return ["\n"]
        if name == "bibliography":  # the notebook ends with the works it cites
            return ["\n"]
        if name == "nb-exec-table":
            return ["\n*The table of executed notebooks is on the online page.*\n\n"]
        self.problems.append(f"no reader form for the directive {{{name}}}")
        return [f"\n{body}\n"]

    def _number(self, label: str) -> str:
        """``Fig. 3``, ``Table 1``, ``Exercise 2``: how the site numbers ``label``."""
        if not label:
            return ""
        found = self.resolver.xref("numref", label)
        return found[0] if found else ""

    # -- inline: roles, labelled math, macros ---------------------------------------------
    def _inline(self, text: str) -> str:
        text = LABELLED_MATH.sub(self._tagged, text)
        text = ROLE.sub(self._role, text)
        return MATH.sub(lambda m: expand_macros(m.group(0), self.macros), text)

    def _tagged(self, m: re.Match) -> str:
        found = self.resolver.xref("eq", m["label"])
        if found is None:
            self.problems.append(f"the equation label {m['label']!r} has no number")
            return f"$${m['body']}$$"
        return f"$${m['body'].rstrip()}\n\\tag{{{found[0].strip('()')}}}\n$$"

    def _role(self, m: re.Match) -> str:
        role, content = m["role"], m["content"]
        if role.startswith("glue"):
            return self._glue_text(content, role)
        if role == "math":
            return f"${content}$"
        if role in XREF_ROLES:
            found = self.resolver.xref(role, content)
            if found is None:
                why = {"doc": "unknown document", "cite": "citation not found"}
                self.problems.append(
                    f"{{{role}}}`{content}`: {why.get(role[:4], 'undefined label')}"
                )
                return content
            if role.startswith("cite"):
                for key in (k.strip() for k in content.split(",")):
                    if key not in self.cited:
                        self.cited.append(key)
            text, url = found
            return f"[{text}]({url})" if url else text
        self.problems.append(f"no reader form for the role {{{role}}}")
        return content

    def _glue_text(self, content: str, role: str) -> str:
        from myst_nb.core.variables import format_plain_text

        key, _, spec = (
            content.partition(":") if role == "glue:text" else (content, "", "")
        )
        bundle = self.glue.get(key)
        if bundle is None:
            self.problems.append(f"nothing is glued under {key!r}")
            return f"`{key}`"
        if role == "glue:text":
            return format_plain_text(bundle.get("text/plain", ""), spec)
        return str(bundle.get("text/markdown", bundle.get("text/plain", "")))


def _options(lines: list[str]) -> tuple[dict[str, str], str]:
    """A directive's ``:key: value`` lines and the body after them."""
    options = {}
    i = 0
    while i < len(lines) and (m := re.match(r"^:([\w-]+):\s*(.*)$", lines[i])):
        options[m[1]] = m[2].strip()
        i += 1
    return options, "\n".join(lines[i:]).strip("\n")


def _quote(title: str, pieces: list[str | Figure]) -> str:
    body = "".join(p for p in pieces if isinstance(p, str)).strip()
    lines = [title, "", *body.split("\n")]
    return "\n" + "\n".join(f"> {line}".rstrip() for line in lines) + "\n\n"


def expand_macros(math: str, macros: dict[str, Any]) -> str:
    """``math`` with the book's MathJax macros written out, so that a frontend without them
    (Jupyter, Colab's KaTeX) typesets it: ``{"R": "\\\\mathbb{R}"}`` and
    ``{"WOV": ["W_{OV}^{#1}", 1]}`` (one argument, braced or a single character)."""
    for name, definition in macros.items():
        body, nargs = (definition, 0) if isinstance(definition, str) else definition
        if nargs == 0:
            pattern = re.compile(rf"\\{name}(?![A-Za-z])")
            math = pattern.sub(lambda m, b=body: b, math)
        elif nargs == 1:
            pattern = re.compile(rf"\\{name}(?![A-Za-z])\s*(?:\{{([^{{}}]*)\}}|(\S))")
            math = pattern.sub(
                lambda m, b=body: b.replace("#1", m[1] if m[1] is not None else m[2]),
                math,
            )
        else:
            raise ValueError(
                f"the macro \\{name} takes {nargs} arguments; expand 0 or 1"
            )
    return math


def export_notebook(
    nb: dict[str, Any],
    resolver: Resolver,
    *,
    page_url: str,
    plotly_js: bytes,
    cdn: str,
    macros: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The executed chapter ``nb`` (nbformat 4, as a dict) as a reader's notebook, and the
    problems met (roles or directives without a reader form, labels that do not resolve).
    """
    glue = _glued(nb)
    export = Export(resolver, glue, macros or {})
    cells: list[dict[str, Any]] = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cells.append(_code_cell(cell))
            continue
        if cell["cell_type"] != "markdown":
            cells.append(copy.deepcopy(cell))
            continue
        for piece in export.markdown(_text(cell["source"])):
            if isinstance(piece, str):
                cells.append(_markdown_cell(piece))
            elif piece.key not in glue:
                export.problems.append(f"nothing is glued under {piece.key!r}")
            else:
                cells.append(_placement(piece.key, glue[piece.key]))
                if piece.caption:
                    cells.append(_markdown_cell(piece.caption))
    if cells and cells[0]["cell_type"] == "markdown":
        cells.insert(1, _markdown_cell(_preface(page_url)))
    if export.cited:
        # by key (first author's name, year), as the book's bibliography
        entries = [f"- {resolver.reference(key)}" for key in sorted(export.cited)]
        cells.append(_markdown_cell("## References\n\n" + "\n".join(entries)))
    offline_figures(cells, plotly_js, cdn=cdn, page=page_url)
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    metadata = {
        k: v for k, v in nb["metadata"].items() if k in ("kernelspec", "language_info")
    }
    out = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    return out, sorted(set(export.problems))


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _glued(nb: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every glued value of the executed notebook: its mime bundle, by key."""
    found = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                found[name] = {
                    k.removeprefix(GLUE_PREFIX): v
                    for k, v in out.get("data", {}).items()
                }
    return found


def _code_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """A code cell without glue records (the prose holds them), nor the outputs the
    book hides (``remove-output``)."""
    out = copy.deepcopy(cell)
    tags = out.get("metadata", {}).get("tags", [])
    hidden = {"remove-output", "remove-cell"} & set(tags)
    out["outputs"] = [
        o
        for o in out.get("outputs", [])
        if not hidden and "scrapbook" not in o.get("metadata", {})
    ]
    out["metadata"].pop("execution", None)
    out["metadata"].pop("build_inputs", None)  # a build's stamp (book.status)
    return out


def _markdown_cell(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _placement(key: str, bundle: dict[str, Any]) -> dict[str, Any]:
    output = {"output_type": "display_data", "metadata": {}, "data": dict(bundle)}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["glued-figure"]},
        "source": f"book.cells.glued({json.dumps(key)})",
        "outputs": [output],
    }


def _preface(page_url: str) -> str:
    return (
        f"*This notebook is the chapter [of the online book]({page_url}). Its numbers, "
        "references and citations were filled in when the book was built; run it to "
        "compute them again, and each `claim` checks that the prose still holds.*"
    )
