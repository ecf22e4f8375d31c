"""The LayerNorm chapter's readers of a logit split, against loops over the parts."""

import pytest
import torch

from interplib.interp.attribution import LogitSplit
from interplib.studies.layernorm import analysis


def head_split(n_layers=3, n_heads=4, batch=5, seed=0) -> LogitSplit:
    """A split laid out as ``residual_parts(unit="head")`` lays it out, random terms."""
    labels = ["embed"]
    for layer in range(n_layers):
        labels += [f"L{layer}H{h}" for h in range(n_heads)]
        labels += [f"L{layer} b_O", f"L{layer} mlp"]
    terms = torch.randn(
        len(labels), batch, generator=torch.Generator().manual_seed(seed)
    )
    zeros = torch.zeros(batch)
    return LogitSplit(labels, terms, terms, zeros, terms.sum(0), zeros + 1)


def test_head_grid_is_each_heads_mean_term_over_the_chosen_rows():
    split = head_split()
    rows = torch.tensor([True, False, True, True, False])
    for select in (None, rows, [0, 2, 3]):
        grid = analysis.head_grid(split, select)
        assert grid.shape == (3, 4)
        for layer in range(3):
            for head in range(4):
                row = split.terms[split.labels.index(f"L{layer}H{head}")]
                want = row.mean() if select is None else row[[0, 2, 3]].mean()
                assert torch.isclose(grid[layer, head], want)


def test_head_grid_of_one_prompt_is_its_terms():
    split = head_split(batch=1)
    grid = analysis.head_grid(split)
    assert grid[2, 1] == split.terms[split.labels.index("L2H1"), 0]


def test_head_grid_needs_a_head_split():
    split = LogitSplit(
        ["embed", "L0 attn"],
        torch.ones(2, 1),
        torch.ones(2, 1),
        torch.zeros(1),
        torch.ones(1),
        torch.ones(1),
    )
    with pytest.raises(ValueError, match="unit='head'"):
        analysis.head_grid(split)


def test_largest_writer_is_the_argmax_over_the_parts_but_the_embedding():
    split = head_split(batch=7, seed=1)
    split.terms[0, :3] = 100.0  # the embedding is never a writer
    got = analysis.largest_writer(split)
    for b in range(7):
        best = max(range(1, len(split.labels)), key=lambda i: split.terms[i, b])
        assert got[b] == split.labels[best]
    assert "embed" in analysis.largest_writer(split, exclude=())


def test_answer_first_tokens_reads_the_first_token_of_the_spaced_answer():
    class Model:
        ids = {"paris": 5, "the": 7, "united": 8, "kingdom": 9}

        def to_tokens(self, text, prepend_bos=False):
            assert text.startswith(" ") and not prepend_bos
            return torch.tensor([[self.ids[w] for w in text.lower().split()]])

    got = analysis.answer_first_tokens(Model(), ["Paris", "the United Kingdom"])
    assert got.dtype == torch.long and got.tolist() == [5, 7]
