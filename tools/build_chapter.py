"""Build one chapter alone, fast, while the others are being edited: a book of one page.

    python tools/build_chapter.py bilinear-bigrams [--screenshot]

Makes ``_build/one/<chapter>/``: a copy of the book's configuration whose table of contents
holds the landing page, this chapter and the bibliography, builds it with warnings shown
(references to the other chapters cannot resolve here, so they are listed apart and do not
fail), runs the page checks of ``tools/check_pages.py`` on it, and with ``--screenshot`` saves
``_build/one/<chapter>/<chapter>.png`` at 1280 px wide for a person to look at (cut into
readable slices under ``tiles/`` when ImageMagick's ``convert`` is there). Its execution cache
is its own, so chapters built this way in parallel do not collide. The whole book is still built
and checked by ``make book``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINKED = (
    "_config.yml",
    "_static",
    "references.bib",
    "intro.md",
    "chapters",
    "artifacts",
    "book-timings.json",
)
CROSS_REF = re.compile(
    r"undefined label|unknown document|term not in glossary|citation not found|"
    r"Unknown target name|toctree contains reference|not included in any toctree"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "chapter", help="the chapter's file name without .md, e.g. bilinear-bigrams"
    )
    parser.add_argument("--screenshot", action="store_true")
    args = parser.parse_args(argv)
    if not (REPO / "chapters" / f"{args.chapter}.md").exists():
        sys.exit(f"build_chapter: chapters/{args.chapter}.md does not exist")
    work = REPO / "_build" / "one" / args.chapter
    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = src / name
        if not link.exists():
            link.symlink_to(REPO / name)
    (src / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n"
        f"  - file: chapters/{args.chapter}\n  - file: chapters/bibliography\n"
    )
    jb = Path(sys.executable).parent / "jupyter-book"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [str(jb), "build", str(src), "--path-output", str(work), "--keep-going"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    log = result.stdout + result.stderr
    (work / "build.log").write_text(log)
    warnings = [
        line for line in log.splitlines() if "WARNING" in line or "ERROR" in line
    ]
    own = [
        w
        for w in warnings
        if not CROSS_REF.search(w) and "intro" not in w.split(":")[0]
    ]
    for w in own:
        print(w)
    print(
        f"build_chapter: {len(own)} warnings of this chapter "
        f"({len(warnings) - len(own)} cross-references to other pages ignored); "
        f"log: {work / 'build.log'}"
    )
    html = work / "_build" / "html"
    checks = subprocess.run(
        [sys.executable, str(REPO / "tools" / "check_pages.py"), str(html)],
        capture_output=True,
        text=True,
    )
    print(checks.stdout.strip())
    if args.screenshot:
        browser = shutil.which("chromium") or sys.exit(
            "install chromium: apt-get install chromium"
        )
        png = work / f"{args.chapter}.png"
        page = html / "chapters" / f"{args.chapter}.html"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--virtual-time-budget=20000",
                "--window-size=1280,40000",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=300,
        )
        tiles = work / "tiles"
        shutil.rmtree(tiles, ignore_errors=True)
        tiles.mkdir()
        if shutil.which("convert"):  # ImageMagick: 1280 x 1400 slices a person can read
            subprocess.run(
                [
                    "convert",
                    str(png),
                    "-trim",
                    "+repage",
                    "-crop",
                    "1280x1400",
                    "+repage",
                    str(tiles / "tile-%02d.png"),
                ],
                check=False,
            )
        print(f"build_chapter: screenshot {png}, slices in {tiles}/")
    return 1 if (result.returncode or own or checks.returncode) else 0


if __name__ == "__main__":
    sys.exit(main())
