"""Batched training equals training the same models one at a time."""

import pytest
import torch
from torch import nn

from interplib.core.batched import (
    linear_decay,
    stack_state,
    stacked_forward,
    train_models,
    trim_heap,
)
from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.model import AoTConfig, AttentionOnly
from interplib.studies.memorization.training import law_data, make_loss


def models(n=3):
    out = []
    for s in range(n):
        torch.manual_seed(s)
        out.append(
            AttentionOnly(AoTConfig(d_vocab=6, d_model=4, d_head=3, n_heads=3))
            .set_active(n_heads=1 + s)
            .double()
        )
    return out


@pytest.mark.parametrize("per_model", [False, True])
def test_batched_training_equals_sequential(per_model):
    laws = [
        mem.power_unif_law((1, 1, 1), (6, 6, 1), 6, torch.Generator().manual_seed(s))
        for s in range(3)
    ]
    data = law_data(laws if per_model else laws[:1], 32, 0, per_model)
    kw = dict(
        steps=6,
        make_optimizer=lambda ps: torch.optim.Adam(ps, lr=1e-2),
        schedule=linear_decay(6, 1, 0.1),
        data_in_dims=0 if per_model else None,
        trainable=["W_E", "blocks.0.attn.W_O", "W_U"],
    )
    a = train_models(models(), make_loss("next_token", 0.0), data, batched=True, **kw)
    b = train_models(models(), make_loss("next_token", 0.0), data, batched=False, **kw)
    for n in a.params:
        torch.testing.assert_close(a.params[n], b.params[n], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(a.history["loss"], b.history["loss"])
    torch.testing.assert_close(
        a.params["W_pos"], stack_state(models())[0]["W_pos"]
    )  # frozen stays put


def test_stacked_forward_equals_each_model():
    ms = models()
    p, b = stack_state(ms)
    x = torch.randint(6, (5, 2))
    out = stacked_forward(ms[0], p, b, x)
    for k, m in enumerate(ms):
        torch.testing.assert_close(out[k], m(x))


def test_generic_over_models_and_errors():
    torch.manual_seed(0)
    lin = [nn.Linear(3, 1).double() for _ in range(2)]
    x, y = (
        torch.randn(8, 3, dtype=torch.float64),
        torch.randn(8, 1, dtype=torch.float64),
    )
    r = train_models(
        lin,
        lambda f, b: ((f(b[0]) - b[1]) ** 2).mean(),
        lambda step: (x, y),
        5,
        lambda ps: torch.optim.SGD(ps, lr=0.1),
    )
    assert r.history["loss"].shape == (2, 5)
    with pytest.raises(ValueError, match="differ in parameter names or shapes"):
        stack_state([nn.Linear(3, 1), nn.Linear(2, 1)])
    with pytest.raises(ValueError, match="not parameters"):
        train_models(
            lin,
            lambda f, b: f(b[0]).sum(),
            lambda s: (x, y),
            1,
            lambda ps: torch.optim.SGD(ps, lr=0.1),
            trainable=["nope"],
        )


def test_trim_heap_runs_where_glibc_is_and_says_so_elsewhere():
    import platform

    ok = trim_heap()
    assert isinstance(ok, bool)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert ok
