"""Write (or check) ``notebooks/``: the reader notebooks Binder and Colab open.

The build writes a reader notebook for every chapter (``_build/html/_sources/chapters/``,
served by the site's download button; :mod:`interplib.book.export`): glued values,
references and citations as text, math as ``$…$``, glued figures placed where the prose puts
them. This copies them without their outputs (a reader runs them; the outputs are the
download's) into ``notebooks/``, which is committed because Binder and Colab open files of
the repository, and the launch buttons point there once a chapter's file exists.

    python tools/export_notebooks.py _build/html notebooks          # `make notebooks`
    python tools/export_notebooks.py _build/html notebooks --check  # `make check-notebooks`

``--check`` exits 1 when a committed notebook differs from what the last build makes of
its chapter (a chapter edited without ``make notebooks``), or one is missing or left over.
A notebook whose only differences are numbers passes with a note: some glued values are
measured on the machine that builds (the story corpus times its grammar), and a float can
end in another last digit on another CPU; those values are the build's, checked by its
claims, and ``make notebooks`` refreshes them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def without_outputs(nb: dict) -> dict:
    """The reader notebook as Binder and Colab open it: every code cell unexecuted."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb


def text(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def numbers_masked(notebook_text: str) -> str:
    """The notebook's text with every number replaced by ``#``."""
    return NUMBER.sub("#", notebook_text)


def expected(site: Path) -> dict[str, str]:
    """What ``notebooks/`` should hold, by file name, from the built site."""
    served = sorted((site / "_sources" / "chapters").glob("*.ipynb"))
    if not served:
        sys.exit(
            f"export_notebooks: no notebooks under {site}/_sources; run `make book`"
        )
    return {p.name: text(without_outputs(json.loads(p.read_text()))) for p in served}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    want = expected(args.site)
    have = {p.name: p.read_text() for p in sorted(args.out.glob("*.ipynb"))}
    stale = sorted(n for n in want if have.get(n) != want[n])
    extra = sorted(set(have) - set(want))
    if args.check:
        numeric = [
            n
            for n in stale
            if n in have and numbers_masked(have[n]) == numbers_masked(want[n])
        ]
        for name in numeric:
            print(
                f"export_notebooks: {args.out / name} differs from the build's in "
                "numbers only (values measured or rounded on this machine)"
            )
        stale = [n for n in stale if n not in numeric]
        for name in stale:
            print(f"export_notebooks: {args.out / name} differs from the build's")
        for name in extra:
            print(f"export_notebooks: {args.out / name} has no chapter")
        ok = not stale and not extra
        print(
            f"export_notebooks: {len(want) - len(stale)} of {len(want)} reader notebooks "
            f"in sync{'' if ok else '; run `make notebooks` and commit notebooks/'}"
        )
        return 0 if ok else 1
    args.out.mkdir(exist_ok=True)
    for name in stale:
        (args.out / name).write_text(want[name])
    for name in extra:
        (args.out / name).unlink()
    print(
        f"export_notebooks: {len(stale)} written, {len(extra)} removed, in {args.out}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
