import json
import re

import numpy as np
import pytest
import torch

from interplib.book import plotting


def test_imshow_uses_a_diverging_scale_centred_at_zero_for_signed_data():
    fig = plotting.imshow(
        torch.tensor([[-1.0, 2.0], [0.5, -0.5]]), x=["a", "b"], y=["c", "d"]
    )
    assert fig.layout.coloraxis.cmid == 0.0
    assert list(fig.data[0].x) == ["a", "b"] and list(fig.data[0].y) == ["c", "d"]
    np.testing.assert_array_equal(fig.data[0].z, [[-1.0, 2.0], [0.5, -0.5]])


def test_imshow_keeps_a_sequential_scale_for_one_signed_data():
    assert plotting.imshow(np.ones((2, 3))).layout.coloraxis.cmid is None


def test_line_draws_one_trace_per_row_with_names():
    fig = plotting.line(
        torch.arange(6.0).reshape(2, 3), x=[1, 10, 100], names=["a", "b"], log_x=True
    )
    assert [t.name for t in fig.data] == ["a", "b"]
    np.testing.assert_array_equal(fig.data[1].y, [3.0, 4.0, 5.0])
    assert fig.layout.xaxis.type == "log"


def test_added_lines_are_drawn():
    fig = plotting.line(torch.arange(3.0)).add_hline(y=1.0)
    assert fig.layout.template.layout.shapedefaults.line.width == 1
    assert fig.layout.shapes[0].line.width is None  # so the template's width applies


def test_scatter_with_diagonal_and_hover_text():
    fig = plotting.scatter([1, 2, 3], [2, 3, 4], text=["x", "y", "z"], diagonal=True)
    assert len(fig.data) == 2 and fig.data[1].name == "y = x"
    assert list(fig.data[0].hovertext) == ["x", "y", "z"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plotting.imshow(torch.ones(2, 2, 2)), "2-D array"),
        (
            lambda: plotting.imshow(torch.ones(2, 3), x=["a"]),
            "x has 1 labels but the axis has 3",
        ),
        (lambda: plotting.line(torch.ones(3), x=[1, 2]), "each line has 3 points"),
        (lambda: plotting.scatter([1, 2], [1, 2, 3]), "same length"),
        (lambda: plotting.scatter([1, 2], [1, 2], color=["a"]), "color has 1 entries"),
        (lambda: plotting.show("not a figure"), "plotly Figure"),
    ],
)
def test_bad_inputs_are_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_show_gives_one_bundle_for_every_frontend(monkeypatch):
    monkeypatch.delenv(
        "BOOK_BUILD", raising=False
    )  # no mode: the same bundle everywhere
    bundle = plotting.show(plotting.line([1.0, 2.0], title="loss"))._repr_mimebundle_()
    spec = bundle["application/vnd.plotly.v1+json"]
    assert "y" in spec["data"][0] and json.dumps(spec)  # plain JSON (typed arrays)
    assert bundle["text/plain"] == "<plotly figure: loss>"
    html = bundle["text/html"]
    assert "Plotly.newPlot" in html and "if(window.Plotly)" in html
    assert "MathJax" not in html  # no MathJax is injected


def test_figure_html_is_stable_and_needs_the_page_plotly():
    spec = plotting.figure_spec(plotting.line([1.0, 2.0]))
    html = plotting.figure_html(spec)
    assert "Plotly.newPlot" in html and "<script src" not in html and "cdn" not in html
    ids = re.findall(r'id="(fig-[0-9a-f]{12})"', html)
    assert (
        ids
        and plotting.figure_html(plotting.figure_spec(plotting.line([1.0, 2.0])))
        == html
    )
    assert plotting.figure_html(plotting.figure_spec(plotting.line([1.0, 3.0]))) != html


def test_the_site_draws_plotly_json_in_preference_to_html():
    from types import SimpleNamespace

    from interplib.book.site import PlotlyMime

    spec = plotting.figure_spec(plotting.line([1.0, 2.0]))
    data = SimpleNamespace(
        mime_type=PlotlyMime.MIME, content=spec, string=json.dumps(spec)
    )
    renderer = SimpleNamespace(renderer=SimpleNamespace(document={}))
    (first,) = PlotlyMime.handle_mime(renderer, data, False)
    (again,) = PlotlyMime.handle_mime(renderer, data, False)  # the same figure twice
    assert first.astext() == plotting.figure_html(spec, suffix="-1")
    assert again.astext() == plotting.figure_html(spec, suffix="-2")
    assert (
        PlotlyMime.handle_mime(None, SimpleNamespace(mime_type="text/html"), False)
        is None
    )
    assert ("html", PlotlyMime.MIME, 25) in PlotlyMime.mime_priority_overrides  # < 30


def test_titles_get_room_above_the_plot_for_the_toolbar():
    assert plotting.line([1.0, 2.0], title="loss").layout.margin.t == 80
    assert plotting.imshow(torch.ones(2, 2)).layout.margin.t == 40


def test_bar_colours_negative_bars_and_checks_labels():
    fig = plotting.bar(torch.tensor([1.0, -2.0]), ["a", "b"], title="t")
    assert list(fig.data[0].x) == ["a", "b"] and list(fig.data[0].y) == [1.0, -2.0]
    assert fig.data[0].marker.color[0] != fig.data[0].marker.color[1]
    with pytest.raises(ValueError):
        plotting.bar([1.0, 2.0], ["only one"])


def test_line_takes_category_labels_on_x():
    fig = plotting.line([1.0, 2.0, 3.0], x=["0_pre", "1_pre", "final_post"])
    assert list(fig.data[0].x) == ["0_pre", "1_pre", "final_post"]
    with pytest.raises(ValueError, match="x has shape"):
        plotting.line([1.0, 2.0], x=["a", "b", "c"])


def test_grouped_lines_give_one_colour_and_legend_entry_per_group():
    fig = plotting.grouped_lines(
        {"fp": np.ones((3, 4)), "binary": np.zeros((2, 4))},
        x=np.arange(4),
        dash={"binary": "dot"},
        log_y=True,
    )
    assert len(fig.data) == 5
    assert [t.showlegend for t in fig.data] == [True, False, False, True, False]
    assert (
        len({t.line.color for t in fig.data[:3]}) == 1
        and fig.data[3].line.color != fig.data[0].line.color
    )
    assert fig.data[3].line.dash == "dot" and fig.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="match x"):
        plotting.grouped_lines({"fp": np.ones((3, 5))}, x=np.arange(4))
    shared = plotting.grouped_lines(
        {
            "fp, test": np.ones((1, 4)),
            "binary, test": np.ones((1, 4)),
            "fp, train": np.ones((1, 4)),
        },
        x=np.arange(4),
        colour={"fp, train": 0},
    )
    assert (
        shared.data[2].line.color
        == shared.data[0].line.color
        != shared.data[1].line.color
    )


def test_imshow_row_titles_each_panel_and_needs_three_axes():
    fig = plotting.imshow_row(
        np.random.default_rng(0).normal(size=(3, 4, 5)), ["a", "b", "c"]
    )
    assert [a.text for a in fig.layout.annotations] == ["a", "b", "c"]
    assert fig.layout.coloraxis.cmid == 0.0
    with pytest.raises(ValueError, match="panels"):
        plotting.imshow_row(np.ones((4, 5)), ["a"])
    with pytest.raises(ValueError, match="titles"):
        plotting.imshow_row(np.ones((2, 4, 5)), ["a"])
    labelled = plotting.imshow_row(
        np.ones((2, 2, 3)), ["a", "b"], y=["first", "second"]
    )
    assert list(labelled.data[0].y) == ["first", "second"]
    with pytest.raises(ValueError, match="y"):
        plotting.imshow_row(np.ones((2, 2, 3)), ["a", "b"], y=["only one"])


def test_imshow_row_wraps_panels_with_each_title_over_its_own_matrix():
    z = np.random.default_rng(0).normal(size=(6, 2, 3))
    titles = [f"panel {i}" for i in range(6)]
    fig = plotting.imshow_row(z, titles, columns=3)
    top = {}
    for trace in fig.data:
        (i,) = [i for i in range(6) if np.array_equal(trace.z, z[i])]
        xd = fig.layout[trace.xaxis.replace("x", "xaxis")].domain
        yd = fig.layout[trace.yaxis.replace("y", "yaxis")].domain
        (above,) = [
            a
            for a in fig.layout.annotations
            if xd[0] <= a.x <= xd[1] and abs(a.y - yd[1]) < 0.05
        ]
        assert above.text == titles[i]
        top[i] = yd[1]
    assert min(top[i] for i in range(3)) > max(top[i] for i in range(3, 6))
    with pytest.raises(ValueError, match="columns=7"):
        plotting.imshow_row(z, titles, columns=7)
