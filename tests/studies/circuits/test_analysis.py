"""The induction probes recorded during training (and the checkpoints kept), and the twin's
pattern scores."""

import json
import math

import pytest
import torch
from builders import perturbed_twin, tiny_config

from interplib.core.training import (
    LMTrainConfig,
    evaluate,
    per_position_loss,
    train_lm,
)
from interplib.corpus import tokenizer
from interplib.interp.patterns import repeated_random_tokens
from interplib.studies.circuits.analysis import (
    CheckpointProbes,
    InductionProbes,
    ProbeConfig,
    head_pattern_scores,
    in_context_scores,
    initial_attention_spread,
    probe_tokens,
    story_positions,
    window_losses,
    windowed_in_context_score,
)
from interplib.studies.circuits.model import (
    AttnOnlyTransformer,
    attention_only,
    to_bridge,
)


def brute_spread(cfg, toks):
    """The spread from the raw weights, head by head, with the LayerNorm written out."""
    sd = AttnOnlyTransformer(cfg).state_dict()
    x = sd["embed.weight"][toks] + sd["pos_embed.weight"][: toks.shape[1]]
    if cfg.normalization == "LNPre":
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.pow(2).mean(-1, keepdim=True) + cfg.eps).sqrt()
    scores = []
    for h in range(cfg.n_heads):
        sl = slice(h * cfg.d_head, (h + 1) * cfg.d_head)
        q, k = (
            x @ sd[f"blocks.0.attn.{n}.weight"][sl].T
            + sd[f"blocks.0.attn.{n}.bias"][sl]
            for n in "qk"
        )
        scores.append(q @ k.transpose(-1, -2) / math.sqrt(cfg.d_head))
    return float(x.std()), float(torch.stack(scores, 1).std())


@pytest.mark.parametrize("norm", [None, "LNPre"])
def test_initial_spread_matches_the_raw_weights(norm):
    cfg = tiny_config(normalization=norm)
    toks = torch.randint(0, 40, (3, 16), generator=torch.Generator().manual_seed(0))
    resid, score = initial_attention_spread(cfg, toks)
    assert (resid, score) == pytest.approx(brute_spread(cfg, toks), rel=1e-5)
    assert (resid, score) == initial_attention_spread(cfg, toks)  # deterministic


def test_lnpre_gives_unit_residual_entries_and_larger_scores():
    toks = torch.randint(0, 40, (3, 16), generator=torch.Generator().manual_seed(0))
    bare = initial_attention_spread(tiny_config(normalization=None), toks)
    normed = initial_attention_spread(tiny_config(normalization="LNPre"), toks)
    assert normed[0] == pytest.approx(1.0, abs=0.02)
    assert bare[0] < 0.5 and normed[1] > 10 * bare[1]


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
    assert summary["repeat_probe_start"] == tokenizer.BOS == 1


def test_the_probe_starts_with_bos_and_draws_no_special_token():
    """The fix for the old probe, which started with id 0 ([UNK]), absent from training."""
    toks = probe_tokens(4096, ProbeConfig())
    assert toks.shape == (64, 101)
    assert (toks[:, 0] == tokenizer.BOS).all() and tokenizer.SPECIALS[1] == "[BOS]"
    assert (toks[:, 1:] >= len(tokenizer.SPECIALS)).all()
    assert torch.equal(
        toks, InductionProbes(tiny_config(n_ctx=256, d_vocab=4096)).tokens
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


def test_twin_pattern_scores_match_the_bridge():
    from interplib.interp import patterns

    cfg = tiny_config()
    twin = perturbed_twin(cfg)
    bridge = to_bridge(twin, dtype=torch.float64)
    rt = repeated_random_tokens(
        cfg.d_vocab, 7, 4, torch.Generator().manual_seed(5), bos=1
    )
    prev, ind = head_pattern_scores(twin, rt, 7)
    torch.testing.assert_close(prev, patterns.previous_token_scores(bridge, rt).float())
    torch.testing.assert_close(ind, patterns.induction_scores(bridge, rt, 7).float())
    prev_b, ind_b = head_pattern_scores(bridge, rt, 7)
    torch.testing.assert_close((prev_b, ind_b), (prev, ind))


def test_story_positions_count_from_each_bos_and_mark_cut_stories():
    toks = torch.tensor([[5, 6, 1, 7, 8, 1, 9], [1, 4, 4, 4, 1, 4, 4]])
    position, story = story_positions(toks)
    assert position.tolist() == [[-1, -1, 0, 1, 2, 0, 1], [0, 1, 2, 3, 0, 1, 2]]
    assert story.tolist() == [[-1, -1, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1, 1]]


def test_in_context_scores_match_a_loop_over_stories():
    g = torch.Generator().manual_seed(0)
    toks = torch.randint(4, 20, (6, 40), generator=g)
    toks[toks % 7 == 0] = tokenizer.BOS
    loss = torch.rand(6, 39, generator=g)
    early, late = (1, 3), (6, 9)
    brute = []
    for b in range(6):
        starts = [j for j in range(40) if toks[b, j] == tokenizer.BOS] + [40]
        for s, e in zip(starts, starts[1:]):
            # target at story position p sits at s + p and its loss at s + p - 1
            if s + late[1] - 1 < e:
                at = [loss[b, s + p - 1] for p in range(*late)]
                before = [loss[b, s + p - 1] for p in range(*early)]
                brute.append(
                    torch.stack([torch.stack(before).mean(), torch.stack(at).mean()])
                )
    got = in_context_scores(loss, toks, early, late)
    brute = torch.stack(brute)  # [story 2]: early, late
    torch.testing.assert_close(got, brute[:, 1] - brute[:, 0])
    windows = window_losses(loss, toks, early, late)
    torch.testing.assert_close(windows, brute.double())
    with pytest.raises(ValueError, match="need 0 <= early start"):
        in_context_scores(loss, toks, (3, 3), late)
    with pytest.raises(ValueError, match="no story covers"):
        in_context_scores(loss, toks, (1, 2), (30, 39))


def test_windowed_score_on_logged_curves_is_a_difference_of_window_means():
    by_pos = torch.arange(20.0).expand(3, 20)
    torch.testing.assert_close(
        windowed_in_context_score(by_pos, (2, 4), (10, 14)), torch.full((3,), 9.0)
    )


def story_rows(n: int, cfg, seed: int = 0) -> torch.Tensor:
    """``[n n_ctx]`` random ordinary tokens, each row one story from its ``[BOS]``."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.randint(
        len(tokenizer.SPECIALS), cfg.d_vocab, (n, cfg.n_ctx), generator=g
    )
    rows[:, 0] = tokenizer.BOS
    return rows


def test_checkpoint_probes_keep_the_model_of_their_step_and_score_stories():
    cfg = tiny_config()
    train, val = story_rows(64, cfg), story_rows(16, cfg, seed=1)
    early, late = (1, 4), (12, 20)
    probes = CheckpointProbes(cfg, PROBES, (10, 40), val[:8], early, late)
    model = AttnOnlyTransformer(cfg)
    result = train_lm(model, train, val, TRAIN, on_evaluate=probes)
    h = result.history
    assert sorted(probes.kept) == [10, 40] and len(h["story_icl"]) == 5
    # the last checkpoint is the trained model, stored in float16
    for key, value in model.state_dict().items():
        assert probes.kept[40][key].dtype == torch.float16
        assert torch.equal(probes.kept[40][key], value.half())
    # the step-10 checkpoint reloads into the model evaluated at step 10
    twin = AttnOnlyTransformer(cfg)
    twin.load_state_dict({k: v.float() for k, v in probes.kept[10].items()})
    assert evaluate(twin, val) == pytest.approx(h["val_loss"][1], abs=2e-3)
    icl = in_context_scores(per_position_loss(twin, val[:8]), val[:8], early, late)
    assert h["story_icl"][1] == pytest.approx(float(icl.mean()), abs=2e-3)
    assert h["story_icl_se"][1] == pytest.approx(float(icl.std() / 8**0.5), rel=1e-2)
    # the per-story scores behind the mean, on the same stories at every evaluation
    values = h["story_icl_values"]
    assert len(values) == 5 and values[1].shape == icl.shape
    torch.testing.assert_close(values[1], icl, atol=2e-3, rtol=0)
    assert all(
        float(v.mean()) == pytest.approx(m) for v, m in zip(values, h["story_icl"])
    )
    # each story's two windows, whose difference is its score
    windows = h["story_window_values"]
    assert windows[1].shape == (icl.shape[0], 2)
    for w, v in zip(windows, values):
        torch.testing.assert_close(w[:, 1] - w[:, 0], v)
    twin_windows = window_losses(per_position_loss(twin, val[:8]), val[:8], early, late)
    torch.testing.assert_close(windows[1], twin_windows.float(), atol=2e-3, rtol=0)


def test_checkpoint_probes_need_a_step():
    cfg = tiny_config()
    with pytest.raises(ValueError, match="at least one step"):
        CheckpointProbes(cfg, PROBES, (), story_rows(4, cfg), (1, 4), (12, 20))
