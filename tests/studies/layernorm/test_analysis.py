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


def test_writer_table_counts_the_largest_writer_per_reading_and_group():
    a, b = head_split(batch=6, seed=2), head_split(batch=6, seed=3)
    groups = ["x", "y", "x", "y", "x", "x"]
    rows = [True, True, False, True, True, True]
    table = analysis.writer_table({"raw": a, "margin": b}, groups, rows)
    assert list(table.columns) == ["x", "y"]
    assert list(dict.fromkeys(table.index.get_level_values(0))) == ["raw", "margin"]
    for name, split in (("raw", a), ("margin", b)):
        largest = analysis.largest_writer(split)
        part = table.loc[name]
        for group in ("x", "y"):
            for label in set(largest):
                want = sum(
                    1
                    for i in range(6)
                    if rows[i] and groups[i] == group and largest[i] == label
                )
                got = part.loc[label, group] if label in part.index else 0
                assert got == want
        order = [split.labels.index(label) for label in part.index]
        assert order == sorted(order)  # rows in the order of the parts
    assert table.values.sum() == 2 * sum(rows)
    with pytest.raises(ValueError, match="one group label per batch row"):
        analysis.writer_table({"raw": a}, groups[:3])


def test_held_out_prompts_are_phrasings_the_grammar_never_writes():
    from interplib.corpus import grammar
    from interplib.corpus.rules import fact_prompts

    held = analysis.held_out_prompts()
    train = fact_prompts()
    assert set(held["answer"]) <= set(train["answer"])
    assert not set(held["prompt"]) & set(train["prompt"])
    assert set(held["relation"]) == set(train["relation"])
    fragments = analysis.held_out_fragments()
    assert set(fragments) == set(held["phrasing"])
    for phrasing, fragment in fragments.items():
        for prompt in held.loc[held["phrasing"] == phrasing, "prompt"]:
            assert fragment in prompt
    text = " ".join(grammar.sample(500, seed=3))
    assert not any(fragment in text for fragment in fragments.values())


class _WordTokenizer:
    """Word-level ids over a fixed list, the interface fact_recall reads."""

    pad_token_id = 0

    def __init__(self, words):
        self.ids = {w: i + 2 for i, w in enumerate(words)}

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [self.ids[w] for w in text.split()]}


def test_fact_recall_flags_multi_token_and_copyable_answers():
    import pandas as pd

    words = ["a", "b", "c", "d", "e"]
    tok = _WordTokenizer(words)
    prompts = pd.DataFrame({"prompt": ["a b", "c d", "a"], "answer": ["c", "e a", "a"]})

    class Oracle(torch.nn.Module):
        """Predicts, at each position, the next token of the right answer for prompt 0."""

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, tokens):
            logits = torch.zeros(*tokens.shape, 8)
            logits[..., tok.ids["c"]] = 1.0
            return logits

    got = analysis.fact_recall(Oracle(), tok, prompts, bos=None)
    assert got["n_answer_tokens"].tolist() == [1, 2, 1]
    assert got["copyable"].tolist() == [False, False, True]
    assert got["recalled"].tolist() == [True, False, False]
    assert got["answer_rank"].tolist() == [0, 1, 1]
    with_bos = analysis.fact_recall(Oracle(), tok, prompts, bos=1)
    assert with_bos["recalled"].tolist() == got["recalled"].tolist()
