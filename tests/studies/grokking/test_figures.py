import pytest
import torch

from interplib.book import plotting
from interplib.studies.grokking import figures


def test_band_figure_draws_a_median_and_a_band_per_curve_in_the_variant_colour():
    x = torch.arange(4)
    seeds = torch.tensor([[1.0, 2, 3, 4], [3.0, 2, 1, 0], [2.0, 2, 2, 2]])
    fig = figures.band_figure({"binary, test": seeds}, x=x, log_y=False)
    band, median = fig.data
    assert median.line.color == figures.COLOURS["binary"]
    assert list(median.y) == [2.0, 2.0, 2.0, 2.0]
    assert list(band.y) == [3.0, 2, 3, 4, 0, 1, 2, 1]  # highs, then lows reversed
    assert median.name == "binary, test"
    assert "range of 3 seeds" in fig.layout.title.text
    with pytest.raises(ValueError, match="need \\[seed, 4\\]"):
        figures.band_figure({"fp": torch.zeros(2, 3)}, x=x)


def test_paired_dots_join_each_seed_and_colour_each_variant():
    fig = figures.paired_dots({"full precision": [1, 2], "binary": [3, 4]})
    lines = [t for t in fig.data if t.mode == "lines"]
    dots = [t for t in fig.data if t.mode == "markers"]
    assert len(lines) == 2 and list(lines[0].y) == [1, 3]
    assert [d.marker.color for d in dots] == [
        figures.COLOURS["full precision"],
        figures.COLOURS["binary"],
    ]
    with pytest.raises(ValueError, match="one value per seed"):
        figures.paired_dots({"binary": [1], "ternary": [1, 2]})


def test_paint_colours_traces_by_variant_and_the_rest_grey():
    fig = plotting.line(torch.zeros(2, 3), names=["ternary", "Gaussian control"])
    figures.paint(fig)
    assert fig.data[0].line.color == figures.COLOURS["ternary"]
    assert fig.data[1].line.color == "#7f7f7f"


def test_anchor_plane_colours_variants_and_draws_references_and_boxes():
    fig = figures.anchor_plane(
        {"binary": ([0.1, 0.2], [0.3, 0.4]), "rate 0": ([0.5], [0.9])},
        {"published": ((0.1, 0.9), (0.2, 0.6))},
    )
    binary, reference = fig.data
    assert binary.marker.color == figures.COLOURS["binary"]
    assert reference.marker.color == "black" and reference.marker.symbol.endswith(
        "open"
    )
    (box,) = fig.layout.shapes
    assert (box.x0, box.x1, box.y0, box.y1) == (0.1, 0.9, 0.2, 0.6)
    assert fig.layout.annotations[0].text == "published"
    with pytest.raises(ValueError, match="1 x and 2 y"):
        figures.anchor_plane({"fp": ([0.1], [0.2, 0.3])}, {})
