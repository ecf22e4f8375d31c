"""Check the executed chapters for what a reader should never see, after a book build.

Reads the executed chapters as the build leaves them, before they are made into the reader
notebooks the site offers for download (``_build/executed``, next to ``_build/html``), and
fails on

* a **stray output**: a cell whose visible result is only a bare number, a bare boolean or
  ``None``, or a pandas Series footer (``Name: …, dtype: …``), unless the cell is tagged
  ``show-output`` (a value meant to be shown);
* a **glued key no prose uses**: every key a chapter glues must appear in its Markdown
  (``{glue:text}`key…```, ``{glue}`key```, ``{glue:figure} key``, …);
* **bookkeeping on the reading path**: a code cell the reader sees (not tagged
  ``hide-input``, ``hide-cell``, ``remove-input`` or ``remove-cell``) that calls ``glue``,
  ``glue_all`` or ``claim``; that belongs in the collapsed check cell after it.

    python tools/check_pages.py _build/html
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

BARE = re.compile(
    r"^\s*(-?[\d.,_]+(e[+-]?\d+)?|True|False|None|np\.\w+\(.*\)|tensor\(.*\))\s*$"
)
FOOTER = re.compile(r"(^|\n)(Name: .*, )?dtype: \w+\s*$")
RICH = ("text/html", "image/png", "image/svg+xml", "application/vnd.plotly.v1+json")
HIDDEN = {"hide-input", "hide-cell", "remove-input", "remove-cell"}
BOOKKEEPING = {"glue", "glue_all", "claim"}
CALL = re.compile(r"\b(glue|glue_all|claim)\s*\(")


def stray_outputs(nb: dict) -> list[str]:
    """``"cell N: <text>"`` for every stray output of a notebook (nbformat 4 as a dict)."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "show-output" in cell.get("metadata", {}).get(
            "tags", []
        ):
            continue
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook"):  # a glue record, hidden
                continue
            if out["output_type"] == "stream":
                text = "".join(out["text"])
            elif out["output_type"] in ("execute_result", "display_data"):
                data = out.get("data", {})
                if any(kind in data for kind in RICH):
                    continue
                text = "".join(data.get("text/plain", ""))
            else:
                continue
            if BARE.match(text) or FOOTER.search(text):
                found.append(f"cell {i}: {text.strip()[-60:]!r}")
    return found


def calls_bookkeeping(source: str) -> bool:
    """Whether cell code calls ``glue``, ``glue_all`` or ``claim`` (bare or as
    ``book.…``); comments and strings do not count. IPython magics (``%…``, ``!…``) are
    skipped; a cell Python cannot parse otherwise is matched by text."""
    code = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in source.splitlines()
    )
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return bool(CALL.search(code))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
            if name in BOOKKEEPING:
                return True
    return False


def visible_bookkeeping(nb: dict) -> list[str]:
    """``"cell N: <last line>"`` for every code cell a reader sees that glues or claims."""
    found = []
    for i, cell in enumerate(nb["cells"]):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] != "code" or tags & HIDDEN:
            continue
        source = "".join(cell["source"])
        if calls_bookkeeping(source):
            found.append(f"cell {i}: {source.strip().splitlines()[-1].strip()[:60]!r}")
    return found


def glued_keys(nb: dict) -> set[str]:
    keys = set()
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                keys.add(name)
    return keys


def unused_keys(nb: dict) -> list[str]:
    prose = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )
    used = set(re.findall(r"\{glue(?::\w+)?\}`([\w.-]+)", prose))
    used |= set(re.findall(r"\{glue(?::\w+)?\}\s+([\w.-]+)", prose))
    return sorted(glued_keys(nb) - used)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", type=Path, help="the built site, e.g. _build/html")
    args = parser.parse_args(argv)
    executed = args.site.parent / "executed"
    notebooks = sorted(executed.rglob("*.ipynb"))
    if not notebooks:
        sys.exit(f"check_pages: no executed notebooks under {executed}; build first")
    problems: list[str] = []
    for path in notebooks:
        nb = json.loads(path.read_text())
        name = path.relative_to(executed)
        problems += [f"{name}: stray output in {s}" for s in stray_outputs(nb)]
        problems += [
            f"{name}: glued key {k!r} is never used in the prose"
            for k in unused_keys(nb)
        ]
        problems += [
            f"{name}: glue/claim in a visible cell, {s}"
            for s in visible_bookkeeping(nb)
        ]
    for line in problems:
        print(line)
    print(f"check_pages: {len(notebooks)} notebooks, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
