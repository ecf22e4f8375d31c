"""The scaling sweeps on tiny settings: every grid point filled, the paper's accuracy metric."""

import dataclasses

import pytest
import torch

from interplib.studies.memorization.sweeps import HEADS, paper_accuracy, run_sweep

bar = lambda it, **_: it  # noqa: E731


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
