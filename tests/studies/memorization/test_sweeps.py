"""The study's data stream and recipes, on tiny settings."""

import dataclasses

import pytest
import torch

from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.experiments import (
    SubspaceConfig,
    fit_subspace,
    random_subspace_distance,
    subspace_distance,
)
from interplib.studies.memorization.sweeps import HEADS, paper_accuracy, run_sweep
from interplib.studies.memorization.training import law_data, make_law

bar = lambda it, **_: it  # noqa: E731


def test_law_data_is_pure_and_follows_each_law():
    laws = [make_law("table", 6, s) for s in range(3)]
    data = law_data(laws, 50, 0, per_model=True)
    a, b = data(7), data(7)
    assert torch.equal(a["tokens"], b["tokens"]) and a["tokens"].shape == (3, 50, 3)
    for k, law in enumerate(laws):
        t = a["tokens"][k]
        assert torch.equal(t[:, 2], mem.table(law)[t[:, 0], t[:, 1]])
        torch.testing.assert_close(a["target"][k], law.pi2[t[:, 0], t[:, 1]].float())
    with pytest.raises(ValueError, match="priors differ"):
        law_data(
            [make_law("table", 6, 0, (3, 3)), make_law("table", 6, 1, (3, 3))],
            5,
            0,
            True,
        )


def test_pooled_data_reuse_one_sample_in_reshuffled_epochs():
    law = make_law("power", 5, 0)
    data = law_data([law], 4, 3, per_model=False, pool_batches=3)

    def rows(steps):
        return sorted(
            map(tuple, torch.cat([data(s)["tokens"] for s in steps]).tolist())
        )

    epoch0, epoch1 = rows(range(3)), rows(range(3, 6))
    assert epoch0 == epoch1  # the same 12 sequences, t3 included
    assert not torch.equal(data(0)["tokens"], data(3)["tokens"])  # in another order
    assert torch.equal(
        data(4)["tokens"], law_data([law], 4, 3, False, 3)(4)["tokens"]
    )  # pure in the step
    fresh = law_data([law], 4, 3, per_model=False)
    assert rows(range(3)) != sorted(
        map(tuple, torch.cat([fresh(s)["tokens"] for s in range(3, 6)]).tolist())
    )
    with pytest.raises(ValueError, match="pool_batches=-1"):
        law_data([law], 4, 3, False, -1)


def test_paper_accuracy_averages_the_hundred_steps_before_the_last():
    acc = torch.zeros(2, 150)
    acc[:, -101:-1] = torch.tensor([[0.25], [0.75]])
    acc[:, -1] = 1.0  # the last step is left out, as in the paper's code
    torch.testing.assert_close(paper_accuracy(acc), torch.tensor([0.25, 0.75]))
    with pytest.raises(ValueError, match="at least 101 steps"):
        paper_accuracy(torch.zeros(1, 100))


def test_run_sweep_fills_every_grid_point_and_times_the_speedup():
    cfg = dataclasses.replace(
        HEADS,
        grid=((4, 2, 1), (4, 2, 3), (3, 2, 2)),
        N=6,
        seeds=2,
        steps=101,
        batch=16,
        pool_batches=4,
        speedup_steps=2,
    )
    out = run_sweep(cfg, torch.device("cpu"), bar)
    for key in ("accuracy", "train_accuracy"):
        assert out.tensors[key].shape == (3, 2)
        assert ((out.tensors[key] >= 0) & (out.tensors[key] <= 1)).all()
    assert out.metrics["speedup"] > 0 and out.metrics["speedup_models"] == 4


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


def test_unknown_law_kind():
    with pytest.raises(ValueError, match="unknown law kind"):
        make_law("zipf", 5, 0)
