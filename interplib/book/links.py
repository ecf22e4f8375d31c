"""The book's external links: listed for the status page, checked where the network allows.

Internal links and cross-references are checked by the build itself (``-n`` turns a broken
one into an error). External links cannot be checked offline, so this module

* **extracts** every ``http(s)`` link from the book's sources: the Markdown pages (prose,
  ``[text](url)``, ``<url>``, bare URLs), ``references.bib`` (``url`` and ``doi`` fields, and
  arXiv ``eprint`` fields; a DOI becomes ``https://doi.org/...``, an eprint
  ``https://arxiv.org/abs/...``) and ``_config.yml``. :func:`table` returns them as a
  DataFrame for the status page; extraction reads files only and never touches the network;
* **checks** them (:func:`check`): a ``HEAD`` request, then ``GET`` where a server refuses
  ``HEAD``, each with a timeout, a few in parallel. ``make linkcheck`` runs
  ``python -m interplib.book.links --check``; it is not part of the tests or of CI's build, and
  the weekly ``.github/workflows/linkcheck.yml`` runs it where the network is open.

A server that answers 401, 403 or 429 is reported as *blocked* (it refuses robots, the link
may well be fine) and does not fail the check unless ``--strict``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "REPO",
    "Link",
    "Result",
    "clean",
    "sources",
    "extract",
    "unique",
    "table",
    "check_one",
    "check",
    "main",
]

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {
    "_build",
    ".venv",
    ".git",
    "node_modules",
    ".ipynb_checkpoints",
    "artifacts",
    "tests",
    ".pytest_cache",
    ".ruff_cache",
    ".cache",
    "build",
}

# A URL ends at whitespace, a quote, angle bracket or backtick; a closing bracket ends it
# unless the URL opened one (Wikipedia's "..._(disambiguation)").
URL_RE = re.compile(r"https?://[^\s<>\"'`{}|\\^]+")
TRAILING = ".,;:!?*_~"
BIB_FIELD_RE = re.compile(
    r"^\s*(url|doi|eprint|archiveprefix|eprinttype)\s*=\s*[{\"](.+?)[}\"]\s*,?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
BIB_ENTRY_RE = re.compile(r"^@\w+\s*\{", re.MULTILINE)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "example.com", "example.org")


@dataclass(frozen=True)
class Link:
    """One external link and where it is: the file (relative to the book's root) and line."""

    url: str
    file: str  # relative to the book's root, POSIX
    line: int


@dataclass
class Result:
    """A checked link: its state, HTTP status, detail, time taken and where it appears."""

    url: str
    state: str  # "ok", "blocked", "broken"
    status: int | None
    detail: str
    seconds: float
    where: list[str] = field(default_factory=list)


def clean(url: str) -> str:
    """Strip the punctuation and unbalanced closing brackets that prose puts after a URL."""
    while url:
        if (
            url[-1] in TRAILING
            or url[-1] == ")"
            and url.count(")") > url.count("(")
            or url[-1] == "]"
            and url.count("]") > url.count("[")
        ):
            url = url[:-1]
        else:
            break
    return url


def sources(root: Path = REPO) -> list[Path]:
    """The files links are taken from: every ``*.md`` outside build and tool folders, the
    bibliography and the book's configuration."""
    found = [
        p
        for p in root.rglob("*.md")
        if not (set(p.relative_to(root).parts[:-1]) & SKIP_DIRS)
    ]
    found += [p for p in (root / "references.bib", root / "_config.yml") if p.exists()]
    return sorted(found)


def _in_text(text: str, rel: str) -> list[Link]:
    links = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in URL_RE.finditer(line):
            url = clean(match.group(0))
            host = urlsplit(url).hostname
            if host and not host.endswith(LOCAL_HOSTS):
                links.append(Link(url, rel, number))
    return links


def _in_bib(text: str, rel: str) -> list[Link]:
    """``url`` and ``doi`` fields, and arXiv ``eprint`` fields.

    The bibliography renders all three as links.
    """
    links = []
    starts = [m.start() for m in BIB_ENTRY_RE.finditer(text)] + [len(text)]
    for begin, end in zip(starts, starts[1:]):
        fields = {}
        for match in BIB_FIELD_RE.finditer(text, begin, end):
            fields[match.group(1).lower()] = (
                match.group(2).strip(),
                text.count("\n", 0, match.start(2)) + 1,
            )
        if "url" in fields and fields["url"][0].lower().startswith(
            ("http://", "https://")
        ):
            links.append(Link(clean(fields["url"][0]), rel, fields["url"][1]))
        if "doi" in fields:
            doi = re.sub(
                r"^(https?://(dx\.)?doi\.org/|doi:)",
                "",
                fields["doi"][0],
                flags=re.IGNORECASE,
            )
            links.append(Link(f"https://doi.org/{doi}", rel, fields["doi"][1]))
        archive = (
            fields.get("archiveprefix") or fields.get("eprinttype") or ("arxiv", 0)
        )[0].lower()
        if "eprint" in fields and archive == "arxiv":
            links.append(
                Link(
                    f"https://arxiv.org/abs/{fields['eprint'][0]}",
                    rel,
                    fields["eprint"][1],
                )
            )
    return links


def extract(root: Path = REPO) -> list[Link]:
    """Every external link in the book's sources, in file and line order (duplicates kept)."""
    root = Path(root)
    links: list[Link] = []
    for path in sources(root):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        links += _in_bib(text, rel) if path.suffix == ".bib" else _in_text(text, rel)
    return links


def unique(links: list[Link]) -> dict[str, list[str]]:
    """URL -> the places (``file:line``) that cite it, URLs sorted."""
    places: dict[str, list[str]] = {}
    for link in links:
        places.setdefault(link.url, []).append(f"{link.file}:{link.line}")
    return dict(sorted(places.items()))


def table(root: Path = REPO):
    """A DataFrame of the external links for the status page: link, host, where it is cited."""
    import pandas as pd

    rows = [
        {"link": url, "host": urlsplit(url).hostname, "cited in": ", ".join(where)}
        for url, where in unique(extract(root)).items()
    ]
    return pd.DataFrame(rows, columns=["link", "host", "cited in"])


def check_one(url: str, timeout: float = 15.0) -> Result:
    """HEAD, then GET if the server refuses HEAD; never raises."""
    headers = {
        "User-Agent": "interplib-linkcheck/1 (+https://github.com/interplib/mechinterp-book)",
        "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.8",
    }
    start = time.perf_counter()
    status: int | None = None
    detail = ""
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, detail = response.status, f"{method} {response.status}"
                if response.geturl() != url:
                    detail += f" -> {response.geturl()}"
                break
        except urllib.error.HTTPError as err:
            status, detail = err.code, f"{method} {err.code} {err.reason}"
            if method == "HEAD" and err.code in (
                400,
                403,
                404,
                405,
                406,
                429,
                501,
                503,
            ):
                continue  # many servers answer HEAD wrongly: ask again with GET
            break
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as err:
            status, detail = (
                None,
                f"{method} {type(err).__name__}: {getattr(err, 'reason', err)}",
            )
            break
    seconds = time.perf_counter() - start
    if status is not None and status < 400:
        state = "ok"
    elif status in (401, 403, 429):
        state = "blocked"
    else:
        state = "broken"
    return Result(url, state, status, detail, round(seconds, 2))


def check(
    links: dict[str, list[str]], timeout: float = 15.0, workers: int = 8
) -> list[Result]:
    """Check every URL of ``unique(extract())``; results in URL order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda url: check_one(url, timeout), links))
    for result in results:
        result.where = links[result.url]
    return results


def _markdown(rows: list[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interplib.book.links",
        description=(__doc__ or "").split("\n")[0],
    )
    parser.add_argument(
        "--root", type=Path, default=REPO, help="the book's root folder"
    )
    parser.add_argument(
        "--check", action="store_true", help="request every link (needs the network)"
    )
    parser.add_argument(
        "--timeout", type=float, default=15.0, help="seconds per request"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="count blocked links (401/403/429) as broken",
    )
    args = parser.parse_args(argv)

    links = unique(extract(args.root))
    if not args.check:
        print(
            _markdown(
                [[url, ", ".join(where)] for url, where in links.items()],
                ["link", "cited in"],
            )
        )
        print(f"\n{len(links)} distinct external links.")
        return 0
    results = check(links, timeout=args.timeout)
    bad = [
        r
        for r in results
        if r.state == "broken" or (args.strict and r.state == "blocked")
    ]
    order = {"broken": 0, "blocked": 1, "ok": 2}
    rows = [
        [r.state, r.url, str(r.status or "–"), r.detail, ", ".join(r.where)]
        for r in sorted(results, key=lambda r: (order[r.state], r.url))
    ]
    print(_markdown(rows, ["state", "link", "status", "detail", "cited in"]))
    counts = {s: sum(r.state == s for r in results) for s in order}
    print(
        f"\n{len(results)} links: {counts['ok']} ok, {counts['blocked']} blocked, "
        f"{counts['broken']} broken."
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
