"""The attention-only twin: its config, its bridge against brute force, hooks, long inputs, half
precision."""

import pytest
import torch
from builders import brute_forward, perturbed_twin, tiny_config

from interplib.core.checks import check_token_ids
from interplib.studies.circuits.analysis import InductionProbes, ProbeConfig
from interplib.studies.circuits.model import (
    AttnOnlyConfig,
    AttnOnlyTransformer,
    attention_only,
    bridge_from_state,
    to_bridge,
)

NORMS = [None, "LN", "LNPre"]


def test_config_rejects_bad_values_with_the_fix():
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        AttnOnlyConfig(d_model=30, n_heads=8)
    with pytest.raises(ValueError, match="use None, 'LN' or 'LNPre'"):
        AttnOnlyConfig(normalization="RMS")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one layer"):
        AttnOnlyConfig(n_layers=0)
    with pytest.raises(ValueError, match="icl_late"):
        InductionProbes(AttnOnlyConfig(n_ctx=64), ProbeConfig(icl_late=100))
    with pytest.raises(ValueError, match="repeat_period"):
        InductionProbes(
            AttnOnlyConfig(n_ctx=64), ProbeConfig(icl_late=50, repeat_period=40)
        )
    with pytest.raises(ValueError, match="icl_early < icl_late"):
        ProbeConfig(icl_early=30, icl_late=20)
    assert (
        AttnOnlyConfig().d_head == 32
        and AttnOnlyConfig(n_layers=1).name == "attn-only-1l-s0"
    )


@pytest.mark.parametrize("norm", NORMS)
def test_twin_bridge_and_brute_force_agree(norm):
    cfg = tiny_config(normalization=norm)
    twin = perturbed_twin(cfg)
    bridge = to_bridge(twin, dtype=torch.float64)
    assert set(twin.state_dict()) == set(bridge.state_dict()) - {"unembed.bias"}
    tokens = torch.randint(
        0, cfg.d_vocab, (3, cfg.n_ctx), generator=torch.Generator().manual_seed(1)
    )
    logits, cache = bridge.run_with_cache(tokens)
    expected, scores = brute_forward(bridge, tokens)
    torch.testing.assert_close(twin(tokens), expected)
    torch.testing.assert_close(logits, expected)
    for layer, s in enumerate(scores):
        # the gap filled: TL 4.3 would cache the pattern here; we cache the real scores
        torch.testing.assert_close(cache[f"blocks.{layer}.attn.hook_attn_scores"], s)
        torch.testing.assert_close(
            s.softmax(-1), cache[f"blocks.{layer}.attn.hook_pattern"]
        )


def test_hook_attn_scores_is_a_live_hook_point():
    cfg = tiny_config()
    bridge = to_bridge(perturbed_twin(cfg), dtype=torch.float64)
    tokens = torch.randint(
        0, cfg.d_vocab, (2, 10), generator=torch.Generator().manual_seed(2)
    )

    def only_self(scores, hook):  # attend to the current position only
        eye = torch.eye(scores.shape[-1], dtype=torch.bool)
        return scores.masked_fill(~eye, float("-inf"))

    edited = bridge.run_with_hooks(
        tokens, fwd_hooks=[("blocks.0.attn.hook_attn_scores", only_self)]
    )
    assert not torch.allclose(edited, bridge(tokens))
    with bridge.hooks(fwd_hooks=[("blocks.0.attn.hook_attn_scores", only_self)]):
        _, cache = bridge.run_with_cache(tokens)
    torch.testing.assert_close(
        cache["blocks.0.attn.hook_pattern"],
        torch.eye(10, dtype=torch.float64).expand(2, cfg.n_heads, 10, 10),
    )


def test_long_sequences_are_refused_with_the_fix():
    cfg = tiny_config()
    too_long = torch.zeros(1, cfg.n_ctx + 1, dtype=torch.long)
    with pytest.raises(ValueError, match=r"but the model's n_ctx=24: truncate"):
        AttnOnlyTransformer(cfg)(too_long)
    with pytest.raises(ValueError, match="add a batch axis"):
        check_token_ids(torch.zeros(5, dtype=torch.long), n_ctx=24)
    with pytest.raises(ValueError, match="n_ctx"):
        attention_only(cfg)(too_long)


def test_bridge_from_half_precision_state_and_bad_states():
    cfg = tiny_config(normalization="LN")
    twin = perturbed_twin(cfg).float()
    half = {
        k: v.half() for k, v in twin.state_dict().items()
    }  # artifacts store float16
    bridge = bridge_from_state(cfg, half, dtype=torch.float32)
    tokens = torch.randint(
        0, cfg.d_vocab, (2, 12), generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(bridge(tokens), twin(tokens), atol=0.05, rtol=0.01)
    with pytest.raises(
        ValueError, match="missing \\['embed.weight'\\].*pass the AttnOnlyConfig"
    ):
        bridge_from_state(cfg, {k: v for k, v in half.items() if k != "embed.weight"})
    with pytest.raises(ValueError, match="wrong shapes"):
        bridge_from_state(tiny_config(normalization="LN", d_vocab=41), half)
