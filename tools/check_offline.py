"""Check that the built site renders with the network unreachable.

Loads a chapter of ``_build/html`` from disk in headless Chromium with every host name
unresolvable, lets scripts run, then checks the rendered DOM: at least one plotly figure
drawn (an ``svg.main-svg``) and the page's math typeset by MathJax (``mjx-container``), and
saves a screenshot next to the site for a person to look at.

    python tools/check_offline.py _build/html [--page chapters/how-to-read.html]
"""

from __future__ import annotations

import argparse
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--page", default="chapters/how-to-read.html")
    args = parser.parse_args(argv)
    page = args.site / args.page
    if not page.exists():
        sys.exit(
            f"check_offline: {page} does not exist; build the book first with `make book`"
        )
    dom = render(page, "--dump-dom").stdout
    shot = args.site.parent / "offline-screenshot.png"
    render(page, f"--screenshot={shot}")
    checks = {
        "a plotly figure is drawn (svg.main-svg)": 'class="main-svg"' in dom,
        "math is typeset by MathJax (mjx-container)": "<mjx-container" in dom,
        "no MathJax error (merror)": "<mjx-merror" not in dom,
    }
    for what, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    print(f"screenshot: {shot}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
