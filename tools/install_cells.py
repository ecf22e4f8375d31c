"""Write (or check) every chapter's first cell: the Colab install cell of
:func:`interplib.book.site.install_cell`, from ``_config.yml``'s ``repository.url``.

    python tools/install_cells.py           # rewrite the chapters (then `make sync`)
    python tools/install_cells.py --check   # exit 1 if a chapter's cell differs
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from interplib.book.site import INSTALL_TAG, install_cell

REPO = Path(__file__).resolve().parents[1]
CELL = re.compile(
    r"```\{code-cell\} ipython3\n:tags: \[remove-cell\]\n\n# Colab:.*?\n```\n\n?", re.S
)
TITLE = re.compile(r"^# .*\n\n?", re.M)


def chapters() -> list[Path]:
    """The chapters that hold code (the notebooks Colab and Binder open)."""
    return sorted(
        p for p in (REPO / "chapters").glob("*.md") if "```{code-cell}" in p.read_text()
    )


def with_install_cell(text: str, url: str) -> str:
    """``text`` with its install cell (right after the title) set to the canonical one."""
    cell = f"```{{code-cell}} ipython3\n:tags: [{INSTALL_TAG}]\n\n{install_cell(url)}\n```\n\n"
    text = CELL.sub("", text, count=1)
    title = TITLE.search(text)
    if title is None:
        raise ValueError("a chapter without a '# Title' line")
    return text[: title.end()] + cell + text[title.end() :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    stale = []
    for path in chapters():
        text = path.read_text()
        new = with_install_cell(text, url)
        if new != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(new)
    verb = "differ" if args.check else "rewritten"
    print(f"install_cells: {len(stale)} of {len(chapters())} chapters {verb} {stale}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
