import pytest
import torch
from builders import tiny_grok_config

from interplib.studies.grokking import emergence
from interplib.studies.grokking.model import GrokTransformer
from interplib.studies.grokking.task import dataset


def test_frequency_ranks_against_sorted_lists():
    norms = torch.tensor([[1.0, 3.0, 2.0, 0.5], [4.0, 1.0, 2.0, 3.0]])
    ranks, shares = emergence.frequency_ranks(norms, [2, 4])
    for s, row in enumerate(norms.tolist()):
        order = sorted(range(4), key=lambda i: -row[i])
        assert ranks[s].tolist() == [order.index(1) + 1, order.index(3) + 1]
        total = sum(v * v for v in row)
        assert shares[s].tolist() == pytest.approx(
            [row[1] ** 2 / total, row[3] ** 2 / total]
        )
    with pytest.raises(ValueError, match="out-of-range \\[5\\]"):
        emergence.frequency_ranks(norms, [5])


def test_top_set_epoch_is_the_first_epoch_from_which_the_set_stays_on_top():
    ranks = torch.tensor([[1, 2], [3, 1], [2, 1], [1, 2]])
    assert emergence.top_set_epoch([0, 10, 20, 30], ranks) == 20
    assert emergence.top_set_epoch([0, 10], torch.tensor([[1, 2], [1, 3]])) is None
    with pytest.raises(ValueError, match="2 epochs for 4"):
        emergence.top_set_epoch([0, 10], ranks)


def test_logit_scale_against_a_loop_over_pairs():
    torch.manual_seed(0)
    model = GrokTransformer(tiny_grok_config()).double()
    tokens, labels = dataset(7)
    logits = model(tokens)[:, -1]
    squares, margins = [], []
    for row, label in zip(logits.tolist(), labels.tolist()):
        mean = sum(row) / len(row)
        squares += [(v - mean) ** 2 for v in row]
        margins.append(row[label] - max(v for i, v in enumerate(row) if i != label))
    got = emergence.logit_scale(model)
    assert got["rms"] == pytest.approx((sum(squares) / len(squares)) ** 0.5)
    assert got["margin"] == pytest.approx(float(torch.tensor(margins).median()))


def test_logit_scale_counts_pairs_whose_softmax_rounds_to_one():
    torch.manual_seed(0)
    model = GrokTransformer(tiny_grok_config()).double()
    with torch.no_grad():
        model.unembed.weight.mul_(
            1e4
        )  # huge logits: float32 rounds, float64 less often
    tokens, labels = dataset(7)
    logits = model(tokens)[:, -1].detach()
    want = {}
    for dtype in (torch.float32, torch.float64):
        hits = 0
        for row, label in zip(logits.to(dtype), labels.tolist()):
            hits += bool(torch.softmax(row, -1)[label] == 1)
        want[dtype] = hits / len(labels)
    got = emergence.logit_scale(model)
    assert got["collapsed_float32"] == pytest.approx(want[torch.float32])
    assert got["collapsed_float64"] == pytest.approx(want[torch.float64])
    assert got["collapsed_float32"] >= got["collapsed_float64"]
