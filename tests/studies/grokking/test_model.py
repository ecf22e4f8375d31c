"""The config's checks, the quantized transformer and its TransformerLens bridge."""

import pytest
import torch
from builders import tiny_grok_config as tiny

from interplib.studies.grokking import quantize
from interplib.studies.grokking.model import (
    QUANTIZED,
    GrokTransformer,
    GrokVariantConfig,
    effective_state_dict,
    to_bridge,
    weight_names,
)
from interplib.studies.grokking.task import dataset


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(p=8), "not prime"),
        (dict(p=2), "at least 3"),
        (dict(frac_train=1.0), "fraction in"),
        (dict(weights="int4"), "'fp', 'binary' or 'ternary'"),
        (dict(epochs=10, log_every=3), "log_every dividing epochs"),
        (dict(seeds=()), "at least one seed"),
    ],
)
def test_bad_configs_name_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny(**kwargs)


def test_a_negative_number_of_stored_models_is_refused():
    with pytest.raises(ValueError, match="0 or more"):
        GrokVariantConfig(p=7, final_models=-1)


@pytest.mark.parametrize("weights", ["fp", "binary", "ternary"])
def test_bridge_with_effective_weights_matches_the_training_twin(weights):
    torch.manual_seed(0)
    cfg = tiny(weights=weights)
    model = GrokTransformer(cfg).double()
    tokens, _ = dataset(cfg.p)
    bridge = to_bridge(cfg, effective_state_dict(model))
    with torch.no_grad():
        torch.testing.assert_close(
            bridge(tokens).double(), model(tokens), atol=1e-5, rtol=1e-5
        )


def test_quantized_variants_use_quantized_matrices_only():
    torch.manual_seed(0)
    model = GrokTransformer(tiny(weights="binary"))
    state = effective_state_dict(model)
    for name in QUANTIZED:
        W = state[f"blocks.0.{name}.weight"]
        assert W.unique().numel() == 2 and torch.allclose(W.abs(), W.abs().max())
    torch.testing.assert_close(state["embed.weight"], model.embed.weight.detach())
    torch.testing.assert_close(
        state["blocks.0.attn.q.weight"],
        quantize.binarize(model.blocks[0].attn.q.weight.detach()),
    )


def test_model_is_causal_and_biases_start_at_zero():
    torch.manual_seed(0)
    cfg = tiny()
    model = GrokTransformer(cfg)
    assert all(
        float(p.detach().abs().max()) == 0
        for n, p in model.named_parameters()
        if n.endswith("bias")
    )
    assert "blocks.0.mlp.in.weight" in weight_names(model)
    a = model(torch.tensor([[1, 2, 7]]))
    b = model(torch.tensor([[1, 3, 7]]))
    torch.testing.assert_close(a[:, 0], b[:, 0])  # position 0 cannot see position 1


def test_checkpoints_must_be_logged_epochs():
    with pytest.raises(ValueError, match="checkpoints \\[15\\]"):
        tiny(checkpoints=(15,))
