"""External links: extracted from the pages, the bibliography and the config, and checked
against a server on the loopback interface (nothing here reaches the network)."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from interplib.book import links

REPO = Path(__file__).resolve().parents[2]


BIB = """@article{a,
  title = {A},
  url   = {https://example.net/paper.pdf},
}

@inproceedings{b,
  title  = {B},
  doi    = {10.1000/xyz123},
  eprint = {2301.05217},
  archivePrefix = {arXiv}
}

@misc{c,
  eprint = {hep-th/9901001},
  archivePrefix = {other}
}
"""


PAGE = """# A page

See [the paper](https://arxiv.org/abs/2209.11895), or <https://transformer-circuits.pub/x.html>.
A bare link: https://en.wikipedia.org/wiki/Markov_chain_(disambiguation). Local: http://localhost:8000/x
(In brackets: https://github.com/interplib/mechinterp-book.)
"""


@pytest.fixture
def book(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "page.md").write_text(PAGE)
    (tmp_path / "references.bib").write_text(BIB)
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://github.com/interplib/mechinterp-book\n"
    )
    (tmp_path / "_build" / "html").mkdir(parents=True)
    (tmp_path / "_build" / "html" / "skip.md").write_text(
        "https://built.example.net/ignored\n"
    )
    return tmp_path


def test_links_are_extracted_from_pages_bibliography_and_config(book):
    found = {(link.url, link.file, link.line) for link in links.extract(book)}
    assert found == {
        ("https://arxiv.org/abs/2209.11895", "chapters/page.md", 3),
        ("https://transformer-circuits.pub/x.html", "chapters/page.md", 3),
        (
            "https://en.wikipedia.org/wiki/Markov_chain_(disambiguation)",
            "chapters/page.md",
            4,
        ),
        ("https://github.com/interplib/mechinterp-book", "chapters/page.md", 5),
        ("https://example.net/paper.pdf", "references.bib", 3),
        ("https://doi.org/10.1000/xyz123", "references.bib", 8),
        ("https://arxiv.org/abs/2301.05217", "references.bib", 9),
        ("https://github.com/interplib/mechinterp-book", "_config.yml", 2),
    }
    frame = links.table(book)
    assert list(frame.columns) == ["link", "host", "cited in"] and len(frame) == 7
    row = frame.set_index("link").loc["https://github.com/interplib/mechinterp-book"]
    assert (
        row["cited in"] == "_config.yml:2, chapters/page.md:5"
        and row["host"] == "github.com"
    )


def test_the_book_itself_lists_its_links():
    found = links.unique(links.extract(REPO))
    assert "https://github.com/interplib/mechinterp-book" in found
    assert all(url.startswith(("http://", "https://")) for url in found)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self):
        self.send_response(
            {"/ok": 200, "/no-head": 405, "/blocked": 403}.get(self.path, 404)
        )
        self.end_headers()

    def do_GET(self):
        self.send_response(
            {"/ok": 200, "/no-head": 200, "/blocked": 403}.get(self.path, 404)
        )
        self.end_headers()

    def log_message(self, *args):
        pass


def test_link_checker_on_a_loopback_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        urls = {
            f"{base}{p}": [f"x.md:{i}"]
            for i, p in enumerate(["/ok", "/no-head", "/blocked", "/gone"])
        }
        results = {
            r.url.removeprefix(base): r for r in links.check(urls, timeout=5, workers=2)
        }
    finally:
        server.shutdown()
        server.server_close()
    assert {p: r.state for p, r in results.items()} == {
        "/ok": "ok",
        "/no-head": "ok",
        "/blocked": "blocked",
        "/gone": "broken",
    }
    assert results["/no-head"].detail.startswith("GET 200")
    assert results["/gone"].status == 404 and results["/gone"].where == ["x.md:3"]
