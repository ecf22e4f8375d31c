"""Plotly figures in a notebook that draw with no network, in every frontend.

A figure output keeps plotly's JSON (``application/vnd.plotly.v1+json``, which JupyterLab
and VS Code draw themselves) and gets a ``text/html`` for the frontends that draw HTML
(Colab, a trusted classic Notebook, nbconvert's HTML): it draws with the page's
``Plotly`` if there is one, else with the copy of plotly.js the notebook's first figure
carries (gzipped, about 2 MB instead of 4.8), else with plotly.js from its CDN (a frontend
that isolates each output, like Colab, is online). Where no script runs (GitHub) it says
where the figure is drawn. No static image: that needs a renderer (kaleido and a Chrome)
the book's build does not have.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from typing import Any

from interplib.book.plotting import figure_id

__all__ = ["PLOTLY", "plotly_loader", "figure_html", "offline_figures"]

PLOTLY = "application/vnd.plotly.v1+json"


@functools.cache  # one compression per build, however many chapters
def plotly_loader(plotly_js: bytes) -> str:
    """A script that defines ``window.interplibPlotly``: a promise of ``window.Plotly``
    from this copy of plotly.js (gzipped, base64), decompressed in the browser."""
    packed = base64.b64encode(gzip.compress(plotly_js, mtime=0)).decode()
    return (
        "<script>window.interplibPlotly=window.interplibPlotly||(async function(){"
        f'var b=Uint8Array.from(atob("{packed}"),function(c){{return c.charCodeAt(0);}});'
        "var s=new Blob([b]).stream().pipeThrough(new DecompressionStream('gzip'));"
        "var code=await new Response(s).text();"
        "var d=window.define;window.define=undefined;"  # require.js would capture plotly
        "try{(0,eval)(code);}finally{window.define=d;}"
        "return window.Plotly;})();</script>\n"
    )


def figure_html(spec: dict[str, Any], *, cdn: str, page: str, suffix: str = "") -> str:
    """HTML that draws plotly's ``spec`` with the page's plotly.js, else the notebook's
    copy (:func:`plotly_loader`), else plotly.js from ``cdn``; until then (or where no
    script runs) it says where the figure is drawn."""
    div_id = figure_id(spec) + suffix
    args = ", ".join(
        json.dumps(spec.get(k, {}), sort_keys=True)
        for k in ("data", "layout", "config")
    )
    height = spec.get("layout", {}).get("height", 450)
    draw = (
        f"function draw(){{var gd=document.getElementById({json.dumps(div_id)});"
        f'gd.textContent="";gd.style.height="{height}px";Plotly.newPlot(gd, {args});}}'
    )
    load = (
        "function cdn(){var s=document.createElement('script');"
        f"s.src={json.dumps(cdn)};s.onload=draw;document.head.appendChild(s);}}"
    )
    return (
        f'<div id="{div_id}" class="plotly-graph-div" style="width:100%">'
        f"<p><em>An interactive plotly figure: it draws where the notebook may run "
        f'scripts, and on the <a href="{page}">online page</a>.</em></p></div>\n'
        f"<script>(function(){{{draw}{load}"
        "if(window.Plotly){draw();}else if(window.interplibPlotly)"
        "{window.interplibPlotly.then(draw,cdn);}else{cdn();}})();</script>"
    )


def offline_figures(
    cells: list[dict[str, Any]], plotly_js: bytes, *, cdn: str, page: str
) -> None:
    """Give every plotly output an HTML that draws offline; the first carries plotly.js."""
    count = 0
    for cell in cells:
        for out in cell.get("outputs", []):
            spec = out.get("data", {}).get(PLOTLY)
            if spec is None:
                continue
            count += 1
            html = figure_html(spec, cdn=cdn, page=page, suffix=f"-{count}")
            if count == 1:
                html = plotly_loader(plotly_js) + html
            out["data"]["text/html"] = html
