"""Time a cold and a warm build of the book and record them in ``book-timings.json``.

Cold: ``_build`` removed, every chapter executes. Warm: the same command again, every
chapter comes from the jupyter-cache. The status page shows the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from interplib.core.recipes import code_version, describe_device, resolve_device  # noqa: E402

COMMAND = [
    str(Path(sys.executable).parent / "jupyter-book"),
    "build",
    ".",
    "-W",
    "-n",
    "--keep-going",
]


def timed_build() -> float:
    start = time.perf_counter()
    subprocess.run(
        COMMAND,
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        stdout=subprocess.DEVNULL,
    )
    return round(time.perf_counter() - start, 1)


def main() -> None:
    shutil.rmtree(ROOT / "_build", ignore_errors=True)
    cold = timed_build()
    warm = timed_build()
    record = {
        "measured": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_device(resolve_device("cpu")),
        "code_version": code_version(),
        "builds": [
            {"build": "cold (empty cache)", "seconds": cold},
            {"build": "warm (cached)", "seconds": warm},
        ],
    }
    (ROOT / "book-timings.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
