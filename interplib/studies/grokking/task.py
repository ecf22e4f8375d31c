"""The task: every pair ``(a, b)`` of residues mod p as ``[a, b, =]``.

And the seeded train split.
"""

from __future__ import annotations

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from interplib.interp.fourier import check_modulus

__all__ = ["dataset", "train_mask"]


def dataset(p: int) -> tuple[Int[Tensor, "pair pos"], Int[Tensor, " pair"]]:
    """Every input ``[a, b, =]`` in row-major (a, b) order, and ``(a + b) mod p``.

    ``=`` is token p.
    """
    check_modulus(p)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    tokens = torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], dim=1)
    return tokens, (a.flatten() + b.flatten()) % p


def train_mask(p: int, frac_train: float, data_seed: int) -> Bool[Tensor, " pair"]:
    """Which of the p² pairs are training pairs.

    The first ``int(frac·p²)`` of a seeded permutation.
    """
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(data_seed))
    mask = torch.zeros(p * p, dtype=torch.bool)
    mask[order[: int(frac_train * p * p)]] = True
    return mask
