"""The language-model training loop, a few steps on tiny models and random tokens."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from interplib.lm_training import LMTrainConfig, evaluate, learning_rate, train_lm
from interplib.models import BilinearConfig, BilinearTransformer


def tiny_model(seed=0):
    return BilinearTransformer(BilinearConfig(d_vocab=16, n_layers=1, d_model=16, n_heads=2, d_mlp=24,
                                              n_ctx=16, seed=seed))


def cyclic_tokens(n_seq, seq_len=12, d_vocab=16, seed=0):
    """Each sequence counts up mod d_vocab from a random start: a bigram rule to learn."""
    start = torch.randint(d_vocab, (n_seq, 1), generator=torch.Generator().manual_seed(seed))
    return (start + torch.arange(seq_len)) % d_vocab


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = LMTrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr_ratio=0.1)
    assert learning_rate(0, cfg) == pytest.approx(1e-4)
    assert learning_rate(9, cfg) == pytest.approx(1e-3)
    assert learning_rate(10, cfg) == pytest.approx(1e-3)
    assert learning_rate(99, cfg) == pytest.approx(1e-4)
    lrs = [learning_rate(s, cfg) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_a_few_steps_learn_a_bigram_rule_and_report_metrics():
    model = tiny_model()
    train, val = cyclic_tokens(64), cyclic_tokens(16, seed=1)
    before = evaluate(model, val)
    cfg = LMTrainConfig(steps=60, batch_size=16, lr=1e-2, warmup_steps=5, eval_every=20, eval_sequences=8)
    seen = []
    metrics = train_lm(model, train, val, cfg, progress=lambda it, **kw: seen.append(kw) or it)
    assert before > 0.9 * math.log(16)
    assert metrics["val_loss"] < 0.5 * before, (before, metrics["val_loss"])
    assert metrics["history"]["step"] == [20.0, 40.0, 60.0]
    assert len(metrics["history"]["val_loss"]) == 3 and metrics["tokens_seen"] == 60 * 16 * 12
    assert seen == [{"total": 60, "desc": "training"}]
    assert not model.training


def test_training_is_reproducible_from_the_seed():
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # the loop must not depend on the global RNG
        model = tiny_model()
        train_lm(model, cyclic_tokens(32), cyclic_tokens(8, seed=1),
                 LMTrainConfig(steps=5, batch_size=8, warmup_steps=1, eval_every=5))
        runs.append(model.W_E.detach().clone())
        torch.manual_seed(999)
    assert torch.equal(runs[0], runs[1])


def test_bad_token_tensors_give_clear_errors():
    model, val = tiny_model(), cyclic_tokens(4)
    cfg = LMTrainConfig(steps=1, warmup_steps=0)
    with pytest.raises(ValueError, match="LongTensor"):
        train_lm(model, cyclic_tokens(4).int(), val, cfg)
    with pytest.raises(ValueError, match="token ids 0 … 16 but the model's d_vocab=16"):
        train_lm(model, cyclic_tokens(4, d_vocab=17), val, cfg)
    with pytest.raises(ValueError, match="sequences of 20 tokens but the model's n_ctx=16"):
        train_lm(model, cyclic_tokens(4, seq_len=20), val, cfg)
    with pytest.raises(ValueError, match="warmup_steps=5"):
        LMTrainConfig(steps=4, warmup_steps=5)


def test_training_needs_only_torch():
    """A lent GPU machine has no transformer-lens: the model and the loop must import and run without it."""
    script = (
        "import sys; sys.modules['transformer_lens'] = None\n"      # makes `import transformer_lens` fail
        "import torch\n"
        "from interplib.models import BilinearConfig, BilinearTransformer\n"
        "from interplib.lm_training import LMTrainConfig, train_lm\n"
        "cfg = BilinearConfig(d_vocab=16, n_layers=1, d_model=16, n_heads=2, d_mlp=24, n_ctx=16)\n"
        "model = BilinearTransformer(cfg)\n"
        "t = torch.arange(12)[None] % 16\n"
        "print(repr(float(model(t).double().square().sum())))\n"
        "train_lm(model, t.repeat(4, 1), t, LMTrainConfig(steps=2, batch_size=2, warmup_steps=1))\n"
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert result.returncode == 0, result.stderr
    model = tiny_model()
    with torch.no_grad():
        expected = float(model(torch.arange(12)[None] % 16).double().square().sum())
    assert float(result.stdout.strip()) == pytest.approx(expected, rel=1e-6)
