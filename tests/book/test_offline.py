"""Figures in a notebook that draw offline: one gzipped plotly.js, HTML for every figure."""

import base64
import gzip
import re

from interplib.book import offline

FIGURE = {"data": [{"type": "scatter", "y": [1, 2]}], "layout": {"height": 300}}
PAGE = "https://book.example/chapters/page.html"


def figure_cell(*specs):
    outputs = [
        {"output_type": "display_data", "metadata": {}, "data": {offline.PLOTLY: s}}
        for s in specs
    ]
    return {"cell_type": "code", "source": "", "outputs": outputs}


def test_figures_draw_offline_with_one_copy_of_plotly_per_notebook():
    text = {"output_type": "stream", "name": "stdout", "text": "hi"}
    cells = [
        {"cell_type": "markdown", "source": "# t"},
        figure_cell(FIGURE),
        {"cell_type": "code", "source": "", "outputs": [text]},
        figure_cell(FIGURE, {"data": [], "layout": {}}),
    ]
    offline.offline_figures(
        cells, b"window.Plotly = {};", cdn="https://cdn.ex/p.js", page=PAGE
    )
    htmls = [
        o["data"]["text/html"]
        for c in cells
        for o in c.get("outputs", [])
        if "data" in o
    ]
    assert len(htmls) == 3
    assert htmls[0].count("window.interplibPlotly=window.interplibPlotly||") == 1
    assert all("interplibPlotly=" not in h for h in htmls[1:])  # later ones wait for it
    assert all("online page" in h and PAGE in h for h in htmls)  # where no script runs
    assert all("cdn.ex/p.js" in h for h in htmls)  # an isolated output (Colab) loads it
    # one figure drawn twice keeps unique div ids
    ids = [re.search(r'<div id="([^"]+)"', h)[1] for h in htmls]
    assert len(set(ids)) == 3 and 'style.height="300px"' in htmls[0]
    assert cells[2]["outputs"] == [text]


def test_the_gzipped_plotly_is_the_original():
    script = offline.plotly_loader(b"var Plotly = 1;")
    packed = re.search(r'atob\("([^"]+)"\)', script)[1]
    assert gzip.decompress(base64.b64decode(packed)) == b"var Plotly = 1;"
    # require.js (classic Notebook) is hidden while plotly.js defines window.Plotly
    assert "window.define=undefined" in script
