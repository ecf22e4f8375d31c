"""The small GPT-NeoX builder (its training: tests/test_lm_training.py)."""

import ast
from pathlib import Path

import pytest
import torch

from interplib.studies.layernorm import model as neox

TINY = dict(d_vocab=50, d_model=32, n_layers=2, n_heads=4, d_mlp=64, n_ctx=16)


def test_config_validation_names_the_fix():
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        neox.NeoXConfig(**{**TINY, "n_heads": 5})
    with pytest.raises(ValueError, match="positive even integer"):
        neox.NeoXConfig(**{**TINY, "rotary_pct": 0.3})
    with pytest.raises(ValueError, match="epsilon must be positive"):
        neox.NeoXConfig(**{**TINY, "ln_eps": 0.0})
    with pytest.raises(ValueError, match="positive integer"):
        neox.NeoXConfig(**{**TINY, "n_layers": 0})


def test_hf_config_is_pythia_shaped():
    cfg = neox.NeoXConfig(**TINY)
    hf = neox.hf_config(cfg)
    assert (
        hf.use_parallel_residual
        and not hf.tie_word_embeddings
        and hf.hidden_act == "gelu"
    )
    assert (
        hf.layer_norm_eps == 1e-5
        and hf.rope_parameters["partial_rotary_factor"] == 0.25
    )
    model = neox.build_model(cfg)
    assert model.gpt_neox.layers[0].attention.rotary_ndims == cfg.rotary_dim == 2
    assert (
        model.lm_head.bias is None
        and model.lm_head.weight.data_ptr() != model.gpt_neox.embed_in.weight.data_ptr()
    )
    assert not neox.build_model(
        neox.NeoXConfig(**TINY, parallel=False)
    ).config.use_parallel_residual
    # the seed fixes the weights, without touching the global RNG
    state = torch.random.get_rng_state()
    again = neox.build_model(cfg)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(
        torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters())
    )
    other = neox.build_model(neox.NeoXConfig(**TINY, seed=1))
    assert not torch.equal(model.lm_head.weight, other.lm_head.weight)


def test_parallel_block_is_x_plus_attn_plus_mlp():
    """The HF layer computes x + attn(ln1 x) + mlp(ln2 x) when parallel, brute force from its
    parts."""
    for parallel in (True, False):
        model = neox.jitter_affine(
            neox.build_model(neox.NeoXConfig(**TINY, parallel=parallel))
        ).double()
        layer = model.gpt_neox.layers[0]
        x = torch.randn(1, 5, 32, dtype=torch.float64)
        pos = model.gpt_neox.rotary_emb(x, torch.arange(5)[None])
        attn = lambda h: layer.attention(
            h, attention_mask=None, position_embeddings=pos
        )[0]  # noqa: E731
        if parallel:
            expected = (
                x
                + attn(layer.input_layernorm(x))
                + layer.mlp(layer.post_attention_layernorm(x))
            )
        else:
            mid = x + attn(layer.input_layernorm(x))
            expected = mid + layer.mlp(layer.post_attention_layernorm(mid))
        got = layer(x, attention_mask=None, position_embeddings=pos)
        got = got[0] if isinstance(got, tuple) else got
        torch.testing.assert_close(got, expected)


def test_jitter_and_drop_bias():
    model = neox.jitter_affine(neox.build_model(neox.NeoXConfig(**TINY)), seed=3)
    ln = model.gpt_neox.final_layer_norm
    assert (ln.weight - 1).abs().max() > 0.05 and ln.bias.abs().max() > 0.01
    assert model.gpt_neox.layers[0].attention.dense.bias.abs().max() > 0.01
    neox.drop_layernorm_bias(model)
    assert all(
        m.bias is None for m in model.modules() if isinstance(m, torch.nn.LayerNorm)
    )
    assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 50)


def test_training_code_imports_without_transformer_lens():
    """The lent GPU machine has no TransformerLens: the models, the training loop, bridge's
    artifact half
    and what they import must not import it at module level (bridge imports it inside boot())."""
    root = Path(neox.__file__).parents[2]
    for module in (
        "studies/layernorm/model",
        "core/training",
        "studies/circuits/model",
        "core/bridge",
        "core/recipes",
        "core/artifacts",
    ):
        tree = ast.parse((root / f"{module}.py").read_text())
        for node in tree.body:
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.startswith("transformer_lens") for n in names), (
                module,
                names,
            )
