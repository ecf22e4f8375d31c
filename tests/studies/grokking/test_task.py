"""The task: every pair a + b mod p, and the seeded train split."""

import torch

from interplib.studies.grokking.task import dataset, train_mask


def test_dataset_lists_every_pair_with_its_sum():
    tokens, labels = dataset(5)
    assert tokens.shape == (25, 3) and (tokens[:, 2] == 5).all()
    assert tokens[7].tolist() == [1, 2, 5] and labels[7] == 3
    assert labels[24] == (4 + 4) % 5


def test_train_mask_is_seeded_and_the_right_size():
    mask = train_mask(113, 0.3, 598)
    assert int(mask.sum()) == 3830  # int(0.3 * 113**2), as in the paper
    assert torch.equal(mask, train_mask(113, 0.3, 598))
    assert not torch.equal(mask, train_mask(113, 0.3, 1))
