import itertools

import pytest
import torch

from interplib.studies.grokking import paired


def test_sign_flip_p_against_an_explicit_loop():
    diffs = [3.0, -1.0, 2.0, 0.5]
    observed = abs(sum(diffs) / len(diffs))
    hits = 0
    for signs in itertools.product((1, -1), repeat=len(diffs)):
        hits += abs(sum(s * d for s, d in zip(signs, diffs)) / len(diffs)) >= observed
    assert paired.sign_flip_p(diffs) == pytest.approx(hits / 2 ** len(diffs))
    assert paired.sign_flip_p([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2 / 32)
    assert paired.sign_flip_p([1.0, -1.0]) == 1.0
    with pytest.raises(ValueError, match="at least 2"):
        paired.sign_flip_p([1.0])


def test_bootstrap_interval_brackets_the_mean_and_is_a_point_for_equal_diffs():
    low, high = paired.bootstrap_interval([1.0, 2.0, 4.0, 8.0])
    assert 1.0 <= low <= 3.75 <= high <= 8.0
    assert paired.bootstrap_interval([2.0, 2.0, 2.0]) == pytest.approx((2.0, 2.0))
    with pytest.raises(ValueError, match="coverage"):
        paired.bootstrap_interval([1.0, 2.0], level=1.5)


def test_paired_comparison_of_log_ratios():
    x, y = [2.0, 4.0, 8.0], [1.0, 1.0, 2.0]
    result = paired.paired_comparison(x, y, log=True)
    diffs = torch.tensor(x).log() - torch.tensor(y).log()
    assert result.mean == pytest.approx(float(diffs.mean()))
    assert result.n == 3 and result.n_below == 0
    assert result.p == pytest.approx(2 / 8) == result.p_floor
    assert not result.distinguishable
    with pytest.raises(ValueError, match="positive"):
        paired.paired_comparison([1.0, -1.0], [1.0, 1.0], log=True)
    with pytest.raises(ValueError, match="one value per seed"):
        paired.paired_comparison([1.0, 2.0], [1.0, 2.0, 3.0])


def test_phase_epochs_reads_the_first_epoch_over_the_mark():
    epochs = torch.tensor([0, 100, 200, 300])
    train = torch.tensor([[0.0, 1.0, 1.0, 1.0], [0.0, 0.5, 1.0, 1.0]])
    test = torch.tensor([[0.0, 0.0, 0.2, 1.0], [0.0, 0.0, 1.0, 1.0]])
    got = paired.phase_epochs(epochs, train, test)
    assert got["memorized"].tolist() == [100, 200]
    assert got["generalized"].tolist() == [300, 200]
    assert got["ratio"].tolist() == [3.0, 1.0]
    assert got["plateau"].tolist() == [200, 0]
    with pytest.raises(ValueError, match="never reaches"):
        paired.phase_epochs(epochs, train, torch.zeros(2, 4))


def test_shared_frequency_test_counts_seeds_not_models():
    freqs = {
        "x": [[1, 2], [1, 3], [4, 5]],
        "y": [[1, 2], [1, 3], [4, 6]],
    }
    got = paired.shared_frequency_test(freqs, n_freqs=6)
    assert got["freq"] == 1 and got["seeds"] == 2 and got["models"] == 4
    # brute force: each seed's union holds frequency 1 with chance 1 - (1 - 2/6)²
    q = 1 - (1 - 2 / 6) ** 2
    tail = 1 - (1 - q) ** 3 - 3 * q * (1 - q) ** 2
    assert got["expected"] == pytest.approx(3 * q)
    assert got["p"] == pytest.approx(min(1.0, 6 * tail))
    assert paired.shared_frequency_test(freqs, 6, freq=5)["seeds"] == 1
    with pytest.raises(ValueError, match="same seeds"):
        paired.shared_frequency_test({"x": [[1]], "y": [[1], [2]]}, 6)
