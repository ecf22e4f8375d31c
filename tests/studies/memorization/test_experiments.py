"""The original notebook's smaller experiments: the subspace distance and its fit."""

import torch

from interplib.studies.memorization.experiments import (
    SubspaceConfig,
    fit_subspace,
    random_subspace_distance,
    subspace_distance,
)

bar = lambda it, **_: it  # noqa: E731


def test_subspace_distance_and_fit():
    A = torch.randn(8, 3, dtype=torch.float64)
    assert subspace_distance(A, A @ torch.randn(3, 3, dtype=torch.float64)) < 1e-10
    g = torch.Generator().manual_seed(0)
    r = random_subspace_distance(8, 3, A, 50, g).mean()
    # E‖P_A − P_B‖² = 2k − 2k²/m for random k-dim subspaces of the centred m = 7 dimensions
    assert abs(float(r**2) - (6 - 18 / 7)) < 0.6
    out = fit_subspace(
        SubspaceConfig(N=6, d_model=3, ranks=(3, 4), reps=1, steps=5),
        torch.device("cpu"),
        bar,
    )
    assert out.tensors["distance"].shape == (2, 2, 1)
