"""The hook classes: TransformerLens's own when it is installed; without it, stand-ins that keep
the module tree, the state dict and the forward pass of a model built on them."""

import importlib.util
import sys

import pytest
import torch
import transformer_lens
from torch import nn
from transformer_lens.hook_points import HookPoint as TLHookPoint

from interplib.core import hooks


def without_transformer_lens(monkeypatch):
    """A fresh copy of :mod:`interplib.core.hooks` imported where transformer-lens is missing."""
    monkeypatch.setitem(sys.modules, "transformer_lens", None)
    monkeypatch.setitem(sys.modules, "transformer_lens.hook_points", None)
    spec = importlib.util.spec_from_file_location("hooks_without_tl", hooks.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_model(h, seed=0):
    """Two layers and two hook points, built on the hook classes of module ``h``."""

    class Tiny(h.HookedRootModule):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(3, 4)
            self.outer = nn.Linear(4, 2)
            self.hook_mid = h.HookPoint()
            self.hook_out = h.HookPoint()
            self.setup()

        def forward(self, x):
            return self.hook_out(self.outer(self.hook_mid(self.inner(x).relu())))

    torch.manual_seed(seed)
    return Tiny()


def test_with_transformer_lens_installed_the_classes_are_its_own():
    assert hooks.HookPoint is TLHookPoint
    assert hooks.HookedRootModule is transformer_lens.HookedRootModule


def test_without_it_the_stand_ins_keep_the_tree_the_state_and_the_forward(monkeypatch):
    bare = without_transformer_lens(monkeypatch)
    assert bare.HookPoint is not TLHookPoint
    x = torch.randn(5, 3)
    point = bare.HookPoint()
    assert point(x) is x and list(point.parameters()) == []
    full, stand_in = tiny_model(hooks), tiny_model(bare)
    assert [n for n, _ in full.named_modules()] == [
        n for n, _ in stand_in.named_modules()
    ]
    assert full.state_dict().keys() == stand_in.state_dict().keys()
    for name, value in full.state_dict().items():
        torch.testing.assert_close(stand_in.state_dict()[name], value)
    torch.testing.assert_close(stand_in(x), full(x))
    assert not hasattr(stand_in, "run_with_cache")


def test_with_transformer_lens_the_hook_points_cache_and_edit_activations():
    model = tiny_model(hooks)
    x = torch.randn(5, 3)
    out, cache = model.run_with_cache(x)
    torch.testing.assert_close(cache["hook_out"], out)
    torch.testing.assert_close(
        cache["hook_mid"], model.inner(x).relu(), msg="hook_mid is the ReLU output"
    )
    zeroed = model.run_with_hooks(
        x, fwd_hooks=[("hook_mid", lambda act, hook: torch.zeros_like(act))]
    )
    torch.testing.assert_close(zeroed, model.outer.bias.expand(5, 2))


def test_a_study_model_trains_without_transformer_lens(monkeypatch):
    """The lent GPU image has torch but no transformer-lens: the stand-ins are plain modules
    whose gradients are those of the full classes."""
    bare = without_transformer_lens(monkeypatch)
    full, stand_in = tiny_model(hooks), tiny_model(bare)
    x = torch.randn(5, 3)
    for model in (full, stand_in):
        model(x).pow(2).sum().backward()
    for (name, a), (_, b) in zip(full.named_parameters(), stand_in.named_parameters()):
        torch.testing.assert_close(b.grad, a.grad, msg=name)


@pytest.fixture(autouse=True)
def hooks_module_untouched():
    """The fresh copies above never replace the module everyone imports."""
    yield
    assert sys.modules["interplib.core.hooks"] is hooks
    assert hooks.HookPoint is TLHookPoint
