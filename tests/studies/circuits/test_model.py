import json

import pytest
import torch
from builders import brute_forward, perturbed_twin, tiny_config

from interplib.core.checks import check_token_ids
from interplib.core.training import LMTrainConfig, train_lm
from interplib.interp.patterns import repeat_loss, repeated_random_tokens
from interplib.studies.circuits.analysis import (
    InductionProbes,
    ProbeConfig,
    head_pattern_scores,
)
from interplib.studies.circuits.model import (
    AttnOnlyConfig,
    AttnOnlyTransformer,
    attention_only,
    bridge_from_state,
    to_bridge,
)

NORMS = [None, "LN", "LNPre"]


PROBES = ProbeConfig(icl_early=2, icl_late=20, repeat_period=8, repeat_batch=16)
TRAIN = LMTrainConfig(
    steps=40,
    batch_size=8,
    lr=1e-2,
    warmup_steps=5,
    eval_every=10,
    eval_sequences=16,
    betas=(0.9, 0.99),
    decay_embeddings=True,
)


def test_config_rejects_bad_values_with_the_fix():
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        AttnOnlyConfig(d_model=30, n_heads=8)
    with pytest.raises(ValueError, match="use None, 'LN' or 'LNPre'"):
        AttnOnlyConfig(normalization="RMS")
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


def test_repeated_random_tokens_have_bos_and_two_copies():
    toks = repeated_random_tokens(40, 7, 5, torch.Generator().manual_seed(0), bos=0)
    assert toks.shape == (5, 15) and (toks[:, 0] == 0).all() and (toks[:, 1:] > 0).all()
    assert torch.equal(toks[:, 1:8], toks[:, 8:])
    assert repeated_random_tokens(
        40, 7, 5, torch.Generator().manual_seed(0), bos=None
    ).shape == (5, 14)


def test_training_records_the_probes_at_every_evaluation():
    cfg = tiny_config()
    g = torch.Generator().manual_seed(0)

    # a deterministic walk t -> 7t + 3 mod V from a random start: the direct path can learn it
    def walk(n):
        steps = [torch.randint(0, cfg.d_vocab, (n,), generator=g)]
        for _ in range(cfg.n_ctx - 1):
            steps.append((7 * steps[-1] + 3) % cfg.d_vocab)
        return torch.stack(steps, 1)

    train, val = walk(64), walk(16)
    assert torch.equal(train[:, 1:], (7 * train[:, :-1] + 3) % cfg.d_vocab)
    probes = InductionProbes(cfg, PROBES)
    result = train_lm(AttnOnlyTransformer(cfg), train, val, TRAIN, on_evaluate=probes)
    h = result.history
    assert h["step"] == [0, 10, 20, 30, 40] and len(result.train_loss) == TRAIN.steps
    assert h["val_loss"][-1] < 0.6 * h["val_loss"][0], h["val_loss"]
    t = result.tensors()
    assert t["val_loss_by_pos"].shape == (5, cfg.n_ctx - 1)
    assert (
        t["induction_score"].shape
        == t["prev_token_score"].shape
        == (5, cfg.n_layers, cfg.n_heads)
    )
    torch.testing.assert_close(
        t["icl_score"],
        t["val_loss_by_pos"][:, PROBES.icl_late]
        - t["val_loss_by_pos"][:, PROBES.icl_early],
    )
    assert (t["repeat_first"] > 0).all() and (t["repeat_second"] > 0).all()
    summary = json.loads(json.dumps(probes.summary(result)))
    assert summary["val_loss"] == result.val_loss and summary["steps"] == TRAIN.steps
    assert (
        summary["icl_score"] == h["icl_score"][-1]
        and len(summary["max_induction_score_by_layer"]) == cfg.n_layers
    )


def test_training_also_runs_on_the_bridge():
    cfg = tiny_config()
    g = torch.Generator().manual_seed(0)
    train, val = (
        torch.randint(0, cfg.d_vocab, (n, cfg.n_ctx), generator=g) for n in (16, 8)
    )
    bridge = attention_only(cfg)
    before = bridge.W_Q.detach().clone()
    result = train_lm(
        bridge,
        train,
        val,
        LMTrainConfig(steps=3, batch_size=8, warmup_steps=1, eval_every=3),
        on_evaluate=InductionProbes(cfg, PROBES),
    )
    assert len(result.train_loss) == 3 and not torch.equal(before, bridge.W_Q.detach())
    assert (
        result.history["step"] == [0, 3] and len(result.history["induction_score"]) == 2
    )


def test_probes_need_validation_sequences_longer_than_icl_late():
    cfg = tiny_config()
    good = torch.zeros(8, cfg.n_ctx, dtype=torch.long)
    with pytest.raises(
        ValueError,
        match="have 10 tokens but icl_late=20 needs at least 22: lower icl_late or pack",
    ):
        train_lm(
            AttnOnlyTransformer(cfg),
            good,
            good[:, :10],
            LMTrainConfig(steps=1, batch_size=8, warmup_steps=0),
            on_evaluate=InductionProbes(cfg, PROBES),
        )


def test_repeat_loss_splits_the_copies_without_their_first_tokens():
    loss = torch.arange(12.0)[None].repeat(
        2, 1
    )  # [BOS, r, r] with period 6: 12 targets
    rl = repeat_loss(loss, 6)
    assert rl.first == pytest.approx(
        torch.arange(1.0, 6).mean().item()
    )  # targets 2..6 of the first copy
    assert rl.repeated == pytest.approx(
        torch.arange(7.0, 12).mean().item()
    )  # targets 2..6 of the repeat


def test_twin_pattern_scores_match_the_bridge():
    from interplib.interp import circuits

    cfg = tiny_config()
    twin = perturbed_twin(cfg)
    bridge = to_bridge(twin, dtype=torch.float64)
    rt = repeated_random_tokens(cfg.d_vocab, 7, 4, torch.Generator().manual_seed(5))
    prev, ind = head_pattern_scores(twin, rt, 7)
    torch.testing.assert_close(prev, circuits.previous_token_scores(bridge, rt).float())
    torch.testing.assert_close(ind, circuits.induction_scores(bridge, rt, 7).float())
    prev_b, ind_b = head_pattern_scores(bridge, rt, 7)
    torch.testing.assert_close((prev_b, ind_b), (prev, ind))


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
