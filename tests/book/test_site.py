"""The Sphinx extension: vendored plotly.js and MathJax, no remote scripts in the site."""

from pathlib import Path

import yaml

from interplib.book import site

ROOT = Path(__file__).resolve().parents[2]


def test_site_assets_are_copied_from_installed_packages(tmp_path):
    site.copy_assets(tmp_path)
    vendor = tmp_path / "_static" / "vendor"
    assert (vendor / "plotly.min.js").stat().st_size > 1_000_000
    assert (vendor / "mathjax" / "tex-chtml.js").exists()
    assert any((vendor / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    assert (tmp_path / ".nojekyll").exists()


def test_remote_scripts_are_found(tmp_path):
    (tmp_path / "ok.html").write_text(
        '<script src="_static/vendor/plotly.min.js"></script>'
    )
    (tmp_path / "bad.html").write_text(
        '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@3"></script>'
    )
    assert list(site.remote_scripts(tmp_path)) == ["bad.html"]


def test_config_points_math_and_plotly_at_the_vendored_copies():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config["mathjax_path"] == f"{site.VENDOR}/mathjax/tex-chtml.js"
    assert f"{site.VENDOR}/plotly.min.js" in config["html_js_files"]


def test_the_execution_table_says_its_status_in_words():
    from myst_nb.ext import execution_tables

    site._words_for_status()
    status = execution_tables._key2transform["succeeded"]
    assert (status(True), status(False)) == ("succeeded", "failed")
