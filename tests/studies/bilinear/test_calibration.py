"""interplib.studies.bilinear.calibration: near-ties and binary scores against brute force.

``fresh_counts`` reads the committed tokenizer: tested in tests/artifacts/test_bilinear.py.
"""

import pytest
import torch

from interplib.studies.bilinear.calibration import (
    binary_scores,
    fresh_counts,
    near_ties,
)


def test_near_ties_compare_the_kth_and_next_probability():
    p = torch.tensor(
        [[0.5, 0.4, 0.3], [0.2, 0.39, 0.3], [0.19, 0.1, 0.3], [0.11, 0.11, 0.1]]
    )
    got = near_ties(p.log(), k=2, within=0.05)
    # column 0: 2nd 0.2, 3rd 0.19 (0.95 of it); column 1: 0.39 vs 0.11; column 2: a tie
    assert got.tolist() == [1.0, 0.0, 1.0]
    assert near_ties(p.log(), 2, torch.tensor([1, 2])).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="k=4"):
        near_ties(p.log(), 4)


def test_binary_scores_against_counting():
    predicted = torch.tensor([True, True, False, False, False, True])
    label = torch.tensor([True, False, False, False, False, False])
    got = binary_scores(predicted, label)
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["majority baseline"] == pytest.approx(5 / 6)
    assert got["recall (yes)"] == 1.0 and got["recall (no)"] == pytest.approx(3 / 5)
    assert got["balanced accuracy"] == pytest.approx((1 + 3 / 5) / 2)
    always_no = binary_scores(torch.zeros(6, dtype=torch.bool), label)
    assert always_no["balanced accuracy"] == 0.5
    with pytest.raises(ValueError, match="single class"):
        binary_scores(predicted, torch.zeros(6, dtype=torch.bool))


def test_fresh_counts_refuse_the_splits_seeds():
    with pytest.raises(ValueError, match="split's own seed"):
        fresh_counts(1000, seed=1)
