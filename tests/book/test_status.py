"""What the status page shows: the environment table and the recorded build times."""

import types
from pathlib import Path

import pytest

from interplib.book import status


def test_environment_lists_versions_and_device():
    env = status.environment()
    assert {"python", "torch", "transformer-lens", "device"} <= set(env.index)


def test_build_timings_explains_when_nothing_was_measured(tmp_path):
    assert (
        "make measure-build" in status.build_timings(tmp_path / "none.json")["note"][0]
    )


def tiny_book(root):
    """A book folder with one artifact sidecar, the timings and a page citing a link."""
    (root / "artifacts" / "study").mkdir(parents=True)
    (root / "artifacts" / "study" / "model.json").write_text('{"name": "model"}')
    (root / "artifacts" / "manifest.json").write_text("{}")
    (root / "book-timings.json").write_text('{"builds": []}')
    (root / "page.md").write_text("See <https://example.org>.\n")
    return root


def test_the_inputs_digest_follows_artifacts_timings_commit_and_link_sources(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("INTERPLIB_CODE_VERSION", "abc")
    root = tiny_book(tmp_path)
    where = dict(root=root, artifacts_root=root / "artifacts")
    first = status.inputs_digest(**where)
    assert first.startswith("sha256:") and status.inputs_digest(**where) == first
    seen = {first}
    changes = [
        lambda: (root / "artifacts" / "study" / "model.json").write_text("{}"),
        lambda: (root / "artifacts" / "study" / "new.json").write_text("{}"),
        lambda: (root / "book-timings.json").write_text('{"builds": [1]}'),
        lambda: (root / "book-timings.json").unlink(),
        lambda: monkeypatch.setenv("INTERPLIB_CODE_VERSION", "def"),
        lambda: (root / "page.md").write_text("See <https://example.com>.\n"),
    ]
    for change in changes:
        change()
        seen.add(status.inputs_digest(**where))
    assert len(seen) == len(changes) + 1
    assert status.inputs(**where)["book-timings.json"] == "absent"


STATUS_MD = (Path(__file__).resolve().parents[2] / "chapters" / "status.md").read_text()


def test_the_stamp_is_cell_metadata_and_part_of_the_jupyter_cache_key(tmp_path):
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    cache = get_cache(str(tmp_path / "cache"))

    def key(text: str) -> str:
        return cache.create_hashed_notebook(read_myst_markdown_notebook(text))[1]

    one, two = (
        status.stamp(STATUS_MD, "sha256:01"),
        status.stamp(STATUS_MD, "sha256:02"),
    )
    nb = read_myst_markdown_notebook(one)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata[status.STAMP_KEY] == "sha256:01"
    assert code[0].metadata["tags"] == ["remove-cell"]  # the cell's own options kept
    assert [c.source for c in code] == [
        c.source
        for c in read_myst_markdown_notebook(STATUS_MD).cells
        if c.cell_type == "code"
    ]
    assert len({key(STATUS_MD), key(one), key(two)}) == 3
    assert key(status.stamp(STATUS_MD, "sha256:01")) == key(one)


def test_the_stamp_refuses_a_page_without_code_and_a_digest_yaml_would_change():
    with pytest.raises(ValueError, match="no {code-cell}"):
        status.stamp("# A page\n", "sha256:01")
    for bad in ("12345678", "1e10", "a b", ""):
        with pytest.raises(ValueError, match="a stamp is a word"):
            status.stamp(STATUS_MD, bad)


class FakeApp:
    """The two Sphinx events watch_inputs connects, and the env it keeps the digest in."""

    def __init__(self, srcdir):
        self.srcdir = str(srcdir)
        self.env = types.SimpleNamespace(found_docs={status.STATUS_PAGE, "intro"})
        self.handlers = {}

    def connect(self, event, handler):
        self.handlers[event] = handler

    def outdated(self):
        return self.handlers["env-get-outdated"](self, self.env, set(), set(), set())

    def read(self, docname, text):
        source = [text]
        self.handlers["source-read"](self, docname, source)
        return source[0]


def test_the_status_page_is_reread_and_restamped_when_its_inputs_change(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("INTERPLIB_CODE_VERSION", "abc")
    monkeypatch.delenv("INTERPLIB_ARTIFACTS", raising=False)
    app = FakeApp(tiny_book(tmp_path))
    status.watch_inputs(app)
    assert app.outdated() == [status.STATUS_PAGE]  # first build: nothing recorded
    first = app.read(status.STATUS_PAGE, STATUS_MD)
    assert app.outdated() == [] and app.read(status.STATUS_PAGE, STATUS_MD) == first
    assert app.read("intro", "```{code-cell} ipython3\nx = 1\n```\n").count(":") == 0
    (tmp_path / "book-timings.json").write_text('{"builds": [2]}')
    assert app.outdated() == [status.STATUS_PAGE]
    assert app.read(status.STATUS_PAGE, STATUS_MD) != first
    app.env.found_docs = {"intro"}  # a book without the page (one chapter's build)
    assert app.outdated() == []
