"""Check that the built site renders with the network unreachable.

Loads every executed chapter of ``_build/html`` from disk in headless Chromium with every
host name unresolvable, lets scripts run, then checks the rendered DOM: every figure div
drawn by plotly (a ``plot-container``), the page's math typeset by MathJax
(``mjx-container``) with no MathJax error, and saves a screenshot per page under
``_build/offline/`` for a person to look at.

It then does the same for the notebooks the site's download button serves
(``_sources/chapters/*.ipynb``, written by :mod:`interplib.book.export`): each is laid out
as a notebook frontend that runs scripts shows it, one window for all outputs, each output's
``text/html`` in order, with a stand-in for the classic Notebook's require.js, and every
plotly figure must draw from the copy of plotly.js the notebook carries.

    python tools/check_offline.py _build/html [--page chapters/how-to-read.html ...]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: any network fetch fails
    "--proxy-server=127.0.0.1:9",
    "--allow-file-access-from-files",
    "--virtual-time-budget=20000",
    "--window-size=1280,2400",
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    sys.exit(
        "check_offline: no Chromium found; install it with `apt-get install chromium`"
    )


def render(page: Path, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            *extra,
            page.resolve().as_uri(),
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("site", type=Path)
    parser.add_argument(
        "--page",
        action="append",
        help="a page to check (default: every chapter page that has a code cell)",
    )
    args = parser.parse_args(argv)
    pages = (
        [args.site / p for p in args.page] if args.page else chapter_pages(args.site)
    )
    if not pages or not all(p.exists() for p in pages):
        sys.exit(
            f"check_offline: no pages under {args.site}; build the book with `make book`"
        )
    failed = 0
    for page in pages:
        failed += not check_page(args.site, page)
    print(f"check_offline: {len(pages) - failed} of {len(pages)} pages render offline")
    notebooks = [
        args.site / "_sources" / p.relative_to(args.site).with_suffix(".ipynb")
        for p in pages
    ]
    notebooks = [nb for nb in notebooks if nb.exists()]
    broken = sum(not check_notebook(args.site, nb) for nb in notebooks)
    print(
        f"check_offline: {len(notebooks) - broken} of {len(notebooks)} downloadable "
        "notebooks draw every figure offline"
    )
    return 1 if failed or broken else 0


def chapter_pages(site: Path) -> list[Path]:
    """The built pages of chapters that hold code (the executed notebooks)."""
    sources = sorted((site / "_sources" / "chapters").glob("*.ipynb"))
    return [site / "chapters" / f"{s.stem}.html" for s in sources]


def check_page(site: Path, page: Path) -> bool:
    """Render ``page`` offline: every figure div drawn, math typeset, no MathJax error."""
    dom = render(page, "--dump-dom").stdout
    shot = site.parent / "offline" / f"{page.stem}.png"
    shot.parent.mkdir(exist_ok=True)
    render(page, f"--screenshot={shot}")
    figures = len(re.findall(r'<div id="fig-[0-9a-f]{12}-\d+"', dom))
    drawn = len(re.findall(r'class="plot-container plotly"', dom))
    checks = {
        f"every figure is drawn ({drawn} of {figures})": drawn == figures,
        "math is typeset by MathJax (mjx-container)": "<mjx-container" in dom
        or "$" not in page.read_text(),
        "no MathJax error (merror)": "<mjx-merror" not in dom,
    }
    print(
        f"{page.relative_to(site)}: "
        + "; ".join(f"{'ok' if ok else 'FAIL'} {what}" for what, ok in checks.items())
        + f" (screenshot {shot.relative_to(site.parent)})"
    )
    return all(checks.values())


# classic Notebook loads require.js: a UMD bundle such as plotly.js then registers with it
# instead of defining window.Plotly, unless the loader hides it
REQUIRE_STANDIN = "<script>window.define=function(){};window.define.amd={};</script>"
PLOTLY = "application/vnd.plotly.v1+json"
MYST = re.compile(r"\{[a-z][a-z:-]*\}`|^(?:`{3,}|:{3,})\{[a-z][a-z:-]*\}", re.M)


def notebook_page(nb: dict) -> tuple[str, int]:
    """The notebook as one HTML page of its outputs, and how many plotly figures it has."""
    parts, figures = [REQUIRE_STANDIN], 0
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            parts.append(f"<pre>{html.escape(source[:200])}</pre>")
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            figures += PLOTLY in data
            if "text/html" in data:
                text = data["text/html"]
                parts.append(text if isinstance(text, str) else "".join(text))
            elif "text/plain" in data:
                parts.append(f"<pre>{html.escape(str(data['text/plain']))}</pre>")
    return "<!doctype html><html><body>" + "\n".join(parts) + "</body></html>", figures


def check_notebook(site: Path, path: Path) -> bool:
    """Every plotly figure of a downloadable notebook draws offline, with no JSON renderer."""
    nb = json.loads(path.read_text())
    page, figures = notebook_page(nb)
    out = site.parent / "offline" / "notebooks" / f"{path.stem}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    dom = render(out, "--dump-dom").stdout
    render(out, f"--screenshot={out.with_suffix('.png')}")
    drawn = len(re.findall(r'class="plot-container plotly"', dom))
    prose = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )
    roles = sorted(set(MYST.findall(prose)))
    checks = {
        f"every figure is drawn offline ({drawn} of {figures})": drawn == figures,
        f"no MyST role or directive left {roles[:3]}": not roles,
    }
    print(
        f"{path.relative_to(site)}: "
        + "; ".join(f"{'ok' if ok else 'FAIL'} {what}" for what, ok in checks.items())
        + f" (page {out.relative_to(site.parent)})"
    )
    return all(checks.values())


if __name__ == "__main__":
    sys.exit(main())
