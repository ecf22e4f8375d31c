"""The small GPT-NeoX builder and its training loop (a few CPU steps on synthetic tokens)."""

import ast
import math
from pathlib import Path

import pytest
import torch

from interplib import neox


TINY = dict(d_vocab=50, d_model=32, n_layers=2, n_heads=4, d_mlp=64, n_ctx=16)


def counting_tokens(n_seq, seq_len, d_vocab, seed):
    """Sequences that count up mod d_vocab from a random start: learnable from one token back."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(d_vocab, (n_seq, 1), generator=g)
    return (start + torch.arange(seq_len)) % d_vocab


def test_config_validation_names_the_fix():
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        neox.NeoXConfig(**{**TINY, "n_heads": 5})
    with pytest.raises(ValueError, match="positive even integer"):
        neox.NeoXConfig(**{**TINY, "rotary_pct": 0.3})
    with pytest.raises(ValueError, match="epsilon must be positive"):
        neox.NeoXConfig(**{**TINY, "ln_eps": 0.0})
    with pytest.raises(ValueError, match="positive integer"):
        neox.NeoXConfig(**{**TINY, "n_layers": 0})
    with pytest.raises(ValueError, match="warmup"):
        neox.TrainConfig(steps=10, warmup=10)


def test_hf_config_is_pythia_shaped():
    cfg = neox.NeoXConfig(**TINY)
    hf = neox.hf_config(cfg)
    assert hf.use_parallel_residual and not hf.tie_word_embeddings and hf.hidden_act == "gelu"
    assert hf.layer_norm_eps == 1e-5 and hf.rope_parameters["partial_rotary_factor"] == 0.25
    model = neox.build_model(cfg)
    assert model.gpt_neox.layers[0].attention.rotary_ndims == cfg.rotary_dim == 2
    assert model.lm_head.bias is None and model.lm_head.weight.data_ptr() != model.gpt_neox.embed_in.weight.data_ptr()
    assert not neox.build_model(neox.NeoXConfig(**TINY, parallel=False)).config.use_parallel_residual
    # the seed fixes the weights, without touching the global RNG
    state = torch.random.get_rng_state()
    again = neox.build_model(cfg)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    other = neox.build_model(neox.NeoXConfig(**TINY, seed=1))
    assert not torch.equal(model.lm_head.weight, other.lm_head.weight)


def test_parallel_block_is_x_plus_attn_plus_mlp():
    """The HF layer computes x + attn(ln1 x) + mlp(ln2 x) when parallel, brute force from its parts."""
    for parallel in (True, False):
        model = neox.jitter_affine(neox.build_model(neox.NeoXConfig(**TINY, parallel=parallel))).double()
        layer = model.gpt_neox.layers[0]
        x = torch.randn(1, 5, 32, dtype=torch.float64)
        pos = model.gpt_neox.rotary_emb(x, torch.arange(5)[None])
        attn = lambda h: layer.attention(h, attention_mask=None, position_embeddings=pos)[0]  # noqa: E731
        if parallel:
            expected = x + attn(layer.input_layernorm(x)) + layer.mlp(layer.post_attention_layernorm(x))
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
    assert all(m.bias is None for m in model.modules() if isinstance(m, torch.nn.LayerNorm))
    assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 50)


def test_lr_schedule_warms_up_then_decays_by_cosine():
    cfg = neox.TrainConfig(steps=100, warmup=10, lr=1e-3, min_lr_frac=0.1)
    lrs = [neox.lr_at(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a <= b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(1e-4)
    mid = 10 + (99 - 10) / 2
    assert neox.lr_at(int(mid), cfg) == pytest.approx(1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * (int(mid) - 10) / 89)))


def test_train_a_few_steps_learns_and_is_reproducible():
    cfg = neox.NeoXConfig(**TINY)
    train_tokens, val_tokens = counting_tokens(256, 16, 50, 0), counting_tokens(32, 16, 50, 1)
    tcfg = neox.TrainConfig(steps=40, batch=16, lr=3e-3, warmup=5, eval_every=20, seed=0)
    seen = []

    def progress(it, total, desc):
        seen.append((total, desc))
        return it

    model = neox.build_model(cfg)
    before = neox.evaluate(model, val_tokens)
    metrics = neox.train(model, train_tokens, val_tokens, tcfg, progress=progress)
    assert seen == [(40, "train")]
    assert before > 0.9 * math.log(50) and metrics["final_val_loss"] < 0.6 * before
    assert [s for s, _ in metrics["val_loss"]] == [20, 40]
    assert metrics["steps"] == 40 and metrics["tokens_seen"] == 40 * 16 * 16 and not model.training
    assert metrics["final_val_loss"] == pytest.approx(neox.evaluate(model, val_tokens), abs=1e-4)
    again = neox.build_model(cfg)
    metrics2 = neox.train(again, train_tokens, val_tokens, tcfg)
    assert metrics2["val_loss"] == metrics["val_loss"]


def test_train_rejects_bad_tokens():
    model = neox.build_model(neox.NeoXConfig(**TINY))
    good = counting_tokens(8, 16, 50, 0)
    tcfg = neox.TrainConfig(steps=2, warmup=0)
    with pytest.raises(ValueError, match="LongTensor of packed sequences"):
        neox.train(model, good.int(), good, tcfg)
    with pytest.raises(ValueError, match=r"length 17 > n_ctx=16"):
        neox.train(model, torch.zeros(4, 17, dtype=torch.long), good, tcfg)
    with pytest.raises(ValueError, match="tokenizer and the model config disagree"):
        neox.train(model, good, good + 50, tcfg)


def test_training_code_imports_without_transformer_lens():
    """The lent GPU machine has no TransformerLens: neox, bridge's artifact half and what they import
    must not import it at module level (bridge imports it inside boot())."""
    root = Path(neox.__file__).parent
    for module in ("neox", "bridge", "recipes", "artifacts"):
        tree = ast.parse((root / f"{module}.py").read_text())
        for node in tree.body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("transformer_lens") for n in names), (module, names)
