"""The API appendix (chapters/api-*.md) names every module of interplib, so none is left out."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "chapters").glob("api-*.md"))
AUTOMODULE = re.compile(r"^\.\. automodule:: ([\w.]+)\s*$", re.MULTILINE)


def modules() -> set[str]:
    """Every module and package of interplib by its dotted name (a package by its folder)."""
    names = set()
    for path in (ROOT / "interplib").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def documented() -> list[str]:
    return [m for page in PAGES for m in AUTOMODULE.findall(page.read_text())]


def test_every_module_has_an_automodule():
    missing = sorted(modules() - set(documented()))
    assert not missing, (
        f"{len(missing)} modules have no page in the API appendix: {missing}; add a section "
        "with `.. automodule:: NAME` and `:members:` to the chapters/api-*.md of its layer"
    )


def test_every_automodule_is_a_module_and_appears_once():
    names = documented()
    unknown = sorted(set(names) - modules())
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not unknown, f"automodule of modules that do not exist: {unknown}"
    assert not twice, (
        f"modules documented twice (duplicate object descriptions): {twice}"
    )


def test_api_pages_are_in_the_appendices():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    appendix = next(p for p in toc["parts"] if p["caption"] == "Appendices")
    files = [c["file"] for c in appendix["chapters"]]
    pages = [f"chapters/{p.stem}" for p in PAGES]
    assert pages and set(pages) <= set(files), (
        f"add {pages} to the Appendices in _toc.yml"
    )
    assert files[-1] == "chapters/bibliography", (
        "the bibliography stays the last appendix"
    )
