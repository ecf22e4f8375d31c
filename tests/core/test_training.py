"""The one language-model training loop, a few CPU steps on each model family and toy tokens."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from builders import counting_tokens, tiny_bilinear_config

from interplib.core.training import (
    LMTrainConfig,
    artifact_payload,
    evaluate,
    learning_rate,
    param_groups,
    per_position_loss,
    split_payload,
    train_lm,
)
from interplib.studies.bilinear.model import BilinearTransformer
from interplib.studies.circuits.model import AttnOnlyConfig, AttnOnlyTransformer
from interplib.studies.layernorm import model as neox

V, N_CTX = 16, 16  # every family below reads 16 token ids in a context of 16


def bilinear(seed=0):
    return BilinearTransformer(
        tiny_bilinear_config(
            d_vocab=V,
            n_layers=1,
            d_model=16,
            n_heads=2,
            d_mlp=24,
            n_ctx=N_CTX,
            init_std=0.02,
            seed=seed,
        )
    )


def pythia(seed=0):
    return neox.build_model(
        neox.NeoXConfig(
            d_vocab=V,
            d_model=32,
            n_layers=2,
            n_heads=4,
            d_mlp=64,
            n_ctx=N_CTX,
            seed=seed,
        )
    )


def attn_only(seed=0):
    return AttnOnlyTransformer(
        AttnOnlyConfig(
            n_layers=1, d_model=24, n_heads=3, n_ctx=N_CTX, d_vocab=V, seed=seed
        )
    )


FAMILIES = {"bilinear": bilinear, "neox": pythia, "attn-only": attn_only}
CFG = LMTrainConfig(
    steps=60, batch_size=16, lr=1e-2, warmup_steps=5, eval_every=20, eval_sequences=8
)


def test_learning_rate_warms_up_then_decays_by_cosine_to_the_floor():
    cfg = LMTrainConfig(steps=100, warmup_steps=10, lr=1e-3, min_lr_ratio=0.1)
    lrs = [learning_rate(s, cfg) for s in range(100)]
    assert (
        lrs[0] == pytest.approx(1e-4)
        and lrs[9] == pytest.approx(1e-3)
        and lrs[10] == pytest.approx(1e-3)
    )
    assert all(a <= b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(1e-4)
    assert lrs[50] == pytest.approx(
        1e-4 + 0.9e-3 * 0.5 * (1 + math.cos(math.pi * (50 - 10) / 89))
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(steps=4, warmup_steps=5), "warmup_steps=5"),
        (dict(steps=10, warmup_steps=10), "so that the cosine phase exists"),
        (dict(batch_size=0), "use positive integers"),
        (dict(min_lr_ratio=1.5), "0 ≤ min_lr_ratio ≤ 1"),
        (dict(betas=(0.9, 1.0)), "two betas in"),
    ],
)
def test_config_validation_names_the_fix(overrides, message):
    with pytest.raises(ValueError, match=message):
        LMTrainConfig(**overrides)
    assert LMTrainConfig(betas=[0.9, 0.99]).betas == (
        0.9,
        0.99,
    )  # a JSON list stays hashable


@pytest.mark.parametrize("family", FAMILIES)
def test_param_groups_decay_matrices_never_norms_or_biases(family):
    model = FAMILIES[family]()
    embeddings = {
        "bilinear": {"embed.W_E"},
        "neox": {"gpt_neox.embed_in.weight"},
        "attn-only": {"embed.weight", "pos_embed.weight"},
    }[family]
    names = {id(p): n for n, p in model.named_parameters()}
    for decay_embeddings in (False, True):
        decayed, kept = (
            {names[id(p)] for p in g["params"]}
            for g in param_groups(model, 0.1, decay_embeddings)
        )
        assert decayed | kept == set(names.values()) and not decayed & kept
        assert all(model.get_parameter(n).ndim >= 2 for n in decayed)
        assert {
            n for n in names.values() if model.get_parameter(n).ndim < 2
        } <= kept  # norm gains, biases
        assert embeddings <= (decayed if decay_embeddings else kept)


def test_per_position_loss_is_the_cross_entropy_of_each_next_token():
    tokens = torch.randint(0, V, (5, 12), generator=torch.Generator().manual_seed(3))
    for model in (bilinear().double(), pythia(), attn_only().double()):
        loss = per_position_loss(model, tokens, batch_size=2)
        with torch.no_grad():
            logits = model(tokens)
        logp = getattr(logits, "logits", logits).log_softmax(-1)
        expected = -logp[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0]
        torch.testing.assert_close(loss, expected)
        assert evaluate(model, tokens) == pytest.approx(
            float(expected.mean()), rel=1e-5
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_a_few_steps_learn_a_counting_rule_and_report_metrics(family):
    model = FAMILIES[family]()
    train, val = counting_tokens(64, d_vocab=V), counting_tokens(16, d_vocab=V, seed=1)
    before = evaluate(model, val)
    seen = []
    result = train_lm(
        model, train, val, CFG, progress=lambda it, **kw: seen.append(kw) or it
    )
    assert seen == [{"total": 60, "desc": "train"}]
    assert (
        result.history["step"] == [0, 20, 40, 60]
        and result.steps == len(result.train_loss) == 60
    )
    assert result.val_loss < 0.5 * before, (before, result.val_loss)
    assert result.val_loss == pytest.approx(
        evaluate(model, val), rel=1e-5
    )  # all 16 sequences, not 8
    assert result.tokens_seen == 60 * 16 * 12 and not model.training
    summary = json.loads(json.dumps(result.summary()))
    assert summary["val_loss"] == result.val_loss and summary["history"]["step"] == [
        0,
        20,
        40,
        60,
    ]
    assert summary["seconds_per_step"] > 0 and summary["n_params"] == sum(
        p.numel() for p in model.parameters()
    )
    tensors = result.tensors()
    assert tensors["train_loss"].shape == (60,) and tensors[
        "val_loss_by_pos"
    ].shape == (4, 11)
    torch.testing.assert_close(tensors["val_loss_by_pos"].mean(-1), tensors["val_loss"])


def test_the_first_evaluation_is_the_untrained_model():
    model = bilinear()
    val = counting_tokens(16, d_vocab=V, seed=1)
    before = evaluate(model, val[:8])
    result = train_lm(
        model,
        counting_tokens(64, d_vocab=V),
        val,
        LMTrainConfig(steps=3, batch_size=16, warmup_steps=1, eval_sequences=8),
    )
    assert result.history["step"] == [0, 3] and result.history["val_loss"][
        0
    ] == pytest.approx(before, rel=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_is_reproducible_from_the_seed(family):
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(123 + len(runs))  # the loop must not depend on the global RNG
        model = FAMILIES[family]()
        result = train_lm(
            model,
            counting_tokens(32, d_vocab=V),
            counting_tokens(8, d_vocab=V, seed=1),
            LMTrainConfig(
                steps=5, batch_size=8, warmup_steps=1, eval_every=5, seed=seed
            ),
        )
        runs.append(
            (result.train_loss, [p.detach().clone() for p in model.parameters()])
        )
    assert runs[0][0] == runs[1][0] and all(
        torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1])
    )
    assert runs[0][0] != runs[2][0]  # another seed, another batch order


def test_on_evaluate_metrics_are_recorded_per_evaluation():
    calls = []

    def probe(model, evaluation):
        calls.append((evaluation["step"], model.training))
        return {
            "twice": 2 * evaluation["val_loss"],
            "row": torch.arange(3.0),
            "one": torch.tensor(1.0),
        }

    result = train_lm(
        bilinear(),
        counting_tokens(32, d_vocab=V),
        counting_tokens(8, d_vocab=V, seed=1),
        LMTrainConfig(steps=6, batch_size=8, warmup_steps=1, eval_every=3),
        on_evaluate=probe,
    )
    assert calls == [(0, False), (3, False), (6, False)]
    assert result.history["twice"] == [2 * v for v in result.history["val_loss"]]
    summary = result.summary()
    assert (
        summary["one"] == 1.0
        and "row" not in summary
        and summary["history"]["one"] == [1.0] * 3
    )
    assert result.tensors()["row"].shape == (3, 3)
    with pytest.raises(
        ValueError, match=r"\['val_loss'\], names the loop records itself"
    ):
        train_lm(
            bilinear(),
            counting_tokens(8, d_vocab=V),
            counting_tokens(8, d_vocab=V),
            LMTrainConfig(steps=1, batch_size=8, warmup_steps=0),
            on_evaluate=lambda m, e: {"val_loss": 0.0},
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_bad_token_tensors_give_clear_errors(family):
    model, good = FAMILIES[family](), counting_tokens(4, d_vocab=V)
    cfg = LMTrainConfig(steps=1, batch_size=4, warmup_steps=0)
    with pytest.raises(ValueError, match="must be a LongTensor"):
        train_lm(model, good.int(), good, cfg)
    with pytest.raises(
        ValueError, match="token ids 0..16, outside the vocabulary 0..15: encode"
    ):
        train_lm(model, good, counting_tokens(4, d_vocab=17), cfg)
    with pytest.raises(
        ValueError, match="sequences of 20 tokens but the model's n_ctx=16: truncate"
    ):
        train_lm(model, counting_tokens(4, seq_len=20), good, cfg)
    with pytest.raises(
        ValueError,
        match="fewer than batch_size=8: pack more sequences or lower batch_size",
    ):
        train_lm(
            model, good, good, LMTrainConfig(steps=1, batch_size=8, warmup_steps=0)
        )


def test_training_needs_only_torch():
    """A lent GPU machine has no transformer-lens: every family and the loop must import and
    train without it."""
    script = (
        # makes `import transformer_lens` fail
        "import sys; sys.modules['transformer_lens'] = None\n"
        "import torch\n"
        "sys.path[:0] = ['tests', 'tests/core']\n"
        "from test_training import FAMILIES, counting_tokens\n"
        "from interplib.core.training import LMTrainConfig, train_lm\n"
        "t = counting_tokens(4)\n"
        "for make in FAMILIES.values():\n"
        "    model = make()\n"
        "    out = model(t[:1])\n"
        "    print(repr(float(getattr(out, 'logits', out).double().square().sum())))\n"
        "    train_lm(model, t, t, LMTrainConfig(steps=2, batch_size=2, warmup_steps=1))\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for make, line in zip(FAMILIES.values(), result.stdout.split()):
        with torch.no_grad():
            out = make()(counting_tokens(4)[:1])
        assert float(line) == pytest.approx(
            float(getattr(out, "logits", out).double().square().sum()), rel=1e-6
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_artifact_payload_stores_half_precision_weights_and_curves(family):
    model = FAMILIES[family]()
    train, val = counting_tokens(32, d_vocab=V), counting_tokens(8, d_vocab=V, seed=1)
    result = train_lm(
        model,
        train,
        val,
        LMTrainConfig(steps=4, batch_size=8, warmup_steps=1, eval_every=2),
    )
    tensors, metrics = artifact_payload(model, result, val)
    weights, curves = split_payload(tensors)
    assert set(weights) == set(model.state_dict()) and all(
        w.dtype == torch.float16 for w in weights.values() if w.is_floating_point()
    )
    assert set(curves) == set(result.tensors()) and torch.equal(
        curves["step"], torch.tensor([0, 2, 4])
    )
    rounded = FAMILIES[family]()
    rounded.load_state_dict({k: v.float() for k, v in weights.items()})
    assert metrics["val_loss_float16"] == pytest.approx(
        evaluate(rounded, val), rel=1e-6
    )
    assert metrics["val_loss_float16"] == pytest.approx(
        metrics["val_loss"], abs=1e-2
    )  # rounding costs little
    assert not any(
        p.dtype == torch.float16 for p in model.parameters()
    )  # the model is untouched


def test_a_stopped_run_is_the_prefix_of_the_full_run():
    cfg = LMTrainConfig(steps=6, batch_size=8, warmup_steps=1, eval_every=2)
    train, val = counting_tokens(32, d_vocab=V), counting_tokens(8, d_vocab=V, seed=1)
    full = train_lm(bilinear(), train, val, cfg)
    stopped = train_lm(bilinear(), train, val, cfg, stop=3)
    # the same batches and learning rates for the first three steps, then an evaluation
    assert stopped.train_loss == full.train_loss[:3]
    assert stopped.history["step"] == [0, 2, 3] and stopped.steps == 3
    assert stopped.history["val_loss"][:2] == full.history["val_loss"][:2]
    assert stopped.tokens_seen == full.tokens_seen // 2
    for stop in (0, 7):
        with pytest.raises(ValueError, match=rf"stop={stop}: .* 1\.\.6 steps"):
            train_lm(bilinear(), train, val, cfg, stop=stop)
