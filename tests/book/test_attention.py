import json

import numpy as np
import pytest
import torch

from interplib.book import plotting
from interplib.book.attention import attention_view


def _patterns(n_heads: int, n: int) -> torch.Tensor:
    scores = torch.randn(n_heads, n, n, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(n, n, dtype=torch.bool).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(-1)


def test_one_heatmap_per_head_with_the_first_visible_and_a_selector():
    fig = attention_view(_patterns(3, 4), ["a", "b", "a", "c"], heads=["x", "y", "z"])
    assert [t.name for t in fig.data] == ["x", "y", "z"]
    assert [t.visible for t in fig.data] == [True, False, False]
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["x", "y", "z"]
    assert buttons[1].args[0]["visible"] == [False, True, False]
    assert fig.layout.title.text == "x"


def test_weights_below_the_diagonal_are_kept_and_future_keys_blank():
    pattern = _patterns(2, 5)
    fig = attention_view(pattern, list("abcde"), decimals=6)
    for h, trace in enumerate(fig.data):
        for q in range(5):
            for k in range(5):
                got = trace.z[q][k]
                if k > q:
                    assert got is None
                else:
                    assert got == pytest.approx(float(pattern[h, q, k]), abs=1e-6)


def test_repeated_tokens_stay_distinct_on_the_axes_and_hover_names_both():
    fig = attention_view(_patterns(1, 3)[0], ["the", "dog", "the"])
    trace = fig.data[0]
    assert len(set(trace.x)) == 3 and list(trace.x) == list(trace.y)
    assert list(fig.layout.xaxis.ticktext) == ["the", "dog", "the"]
    assert "query %{y}" in trace.hovertemplate and "key %{x}" in trace.hovertemplate
    assert "weight %{z" in trace.hovertemplate
    assert not fig.layout.updatemenus  # one head: nothing to select


def test_the_figure_serialises_to_plain_json_for_the_offline_site():
    spec = plotting.figure_spec(attention_view(_patterns(2, 6), list("abcdef")))
    text = json.dumps(spec, allow_nan=False)  # no NaN: valid JSON everywhere
    assert "cdn" not in text and "http" not in text
    assert "Plotly.newPlot" in plotting.figure_html(spec)


def test_takes_numpy_arrays():
    fig = attention_view(np.eye(3), ["a", "b", "c"])
    assert fig.data[0].z[2][2] == 1.0


@pytest.mark.parametrize(
    "pattern, tokens, heads, message",
    [
        (torch.ones(2, 3, 4), list("abc"), None, "as many keys as queries"),
        (torch.ones(3), list("abc"), None, "query_pos key_pos"),
        (torch.ones(3, 3), list("ab"), None, "2 tokens for a pattern over 3"),
        (torch.ones(2, 3, 3), list("abc"), ["x"], "1 head names for 2 heads"),
    ],
)
def test_bad_inputs_are_named(pattern, tokens, heads, message):
    with pytest.raises(ValueError, match=message):
        attention_view(pattern, tokens, heads=heads)
