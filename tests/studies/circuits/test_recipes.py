"""The attention-circuits study's recipes: registered on the story vocabulary, a tiny fit with
the induction probes, its stored model as a bridge."""

import dataclasses

import pytest
import torch
from builders import tiny_lm_splits

from interplib.core import recipes
from interplib.core.artifacts import Artifact
from interplib.core.training import evaluate
from interplib.corpus import lmdata
from interplib.studies.circuits import recipes as circuits_study
from interplib.studies.circuits.model import AttnOnlyConfig


def test_the_study_registers_a_two_and_a_one_layer_model_on_the_story_vocabulary():
    table = recipes.recipes()
    for name, run in circuits_study.RUNS.items():
        assert table[name].config is run and table[name].needs == (lmdata.DATA_NAME,)
        assert run.model.d_vocab == 4096 and run.train.steps >= 1000
        assert table[name].loader is circuits_study.model_from_artifact
    assert [r.model.n_layers for r in circuits_study.RUNS.values()] == [2, 1]


def test_fit_trains_records_the_probes_and_stores_a_loadable_model(monkeypatch):
    splits = tiny_lm_splits()
    monkeypatch.setattr(lmdata, "load_split", splits.__getitem__)
    run = next(iter(circuits_study.RUNS.values()))
    run = dataclasses.replace(
        run,
        model=AttnOnlyConfig(n_layers=2, d_model=16, n_heads=2, n_ctx=16, d_vocab=16),
        train=dataclasses.replace(
            run.train,
            steps=4,
            batch_size=8,
            warmup_steps=1,
            eval_every=2,
            eval_sequences=8,
        ),
        probes=dataclasses.replace(
            run.probes, icl_early=2, icl_late=8, repeat_period=4, repeat_batch=2
        ),
        repeat_periods=(2, 4),
    )
    out = circuits_study.fit(run, torch.device("cpu"), None)
    assert (
        out.key_metric[1] == out.metrics["val_loss_float16"]
        and 0 < out.key_metric[1] < 10
    )
    assert out.tensors["curve.step"].tolist() == [0, 2, 4]
    assert out.tensors["curve.induction_score"].shape == (3, 2, 2)
    assert len(out.metrics["max_induction_score_by_layer"]) == 2
    # the loader boots the stored float16 weights as a bridge: its validation loss is the metric
    bridge = circuits_study.model_from_artifact(
        run, Artifact("attn-only-tiny", out.tensors, {})
    )
    assert evaluate(bridge, splits["val"]) == pytest.approx(
        out.metrics["val_loss_float16"], rel=1e-5
    )


def test_checkpoint_recipes_retrain_the_committed_runs_on_a_gpu_only():
    table = recipes.recipes()
    for name, run in circuits_study.RUNS.items():
        recipe = table[f"{name}-checkpoints"]
        cfg = recipe.config
        assert recipe.gpu and not recipe.committed and recipe.seconds["cuda"] > 0
        # the same training, evaluated twice as often
        assert cfg.run == dataclasses.replace(
            run, train=dataclasses.replace(run.train, eval_every=50)
        )
        assert recipe.loader is circuits_study.checkpoint_model
    # the 2-layer checkpoints bracket the committed run's phase change (1,300-1,500)
    steps = circuits_study.CHECKPOINT_RUNS["attn-only-l2-checkpoints"].checkpoints
    assert min(steps) < 1300 and 1300 < steps[2] < 1500 < max(steps)


def test_checkpoint_fit_keeps_each_step_and_it_reloads_into_the_same_model(
    monkeypatch, tiny_checkpoint_run
):
    splits = tiny_lm_splits()
    monkeypatch.setattr(lmdata, "load_split", splits.__getitem__)
    cfg = tiny_checkpoint_run()
    out = circuits_study.fit_checkpoints(cfg, torch.device("cpu"), None)
    assert out.metrics["checkpoints"] == [2, 6]
    assert out.tensors["curve.step"].tolist() == [0, 2, 4, 6]
    assert out.tensors["curve.story_icl"].shape == (4,)
    values = out.tensors["curve.story_icl_values"]  # [evaluation story]
    assert values.shape[0] == 4
    torch.testing.assert_close(values.mean(-1), out.tensors["curve.story_icl"])
    assert not any(k.startswith("blocks.") for k in out.tensors)  # no final weights
    art = Artifact("attn-only-tiny-checkpoints", out.tensors, {})
    for e, step in [(1, 2), (3, 6)]:
        bridge = circuits_study.checkpoint_model(cfg, art, step)
        # the validation loss recorded at that step, from the float16 weights
        loss = evaluate(bridge, splits["val"][:8])
        assert loss == pytest.approx(float(out.tensors["curve.val_loss"][e]), abs=2e-3)
    with pytest.raises(KeyError, match=r"kept: \[2, 6\]"):
        circuits_study.checkpoint_model(cfg, art, 4)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(checkpoints=(0,)),
        dict(checkpoints=(8,)),
        dict(checkpoints=()),
        dict(checkpoints=(2, 6), until=4),  # a checkpoint after the stop
    ],
)
def test_checkpoints_must_be_steps_of_the_run(overrides, tiny_checkpoint_run):
    with pytest.raises(ValueError, match=r"must be a step in 1\.\."):
        tiny_checkpoint_run(**overrides)


def test_a_checkpoint_off_the_cadence_is_one_more_evaluation_of_the_same_training(
    monkeypatch, tiny_checkpoint_run
):
    monkeypatch.setattr(lmdata, "load_split", tiny_lm_splits().__getitem__)
    fit = circuits_study.fit_checkpoints
    plain = fit(tiny_checkpoint_run(), torch.device("cpu"), None)
    dense = fit(tiny_checkpoint_run(checkpoints=(2, 3, 6)), torch.device("cpu"), None)
    assert dense.tensors["curve.step"].tolist() == [0, 2, 3, 4, 6]
    assert dense.metrics["checkpoints"] == [2, 3, 6]
    # bit for bit the same training: the extra evaluation only reads the model
    assert torch.equal(
        dense.tensors["curve.train_loss"], plain.tensors["curve.train_loss"]
    )
    on_cadence = [0, 1, 3, 4]  # the dense curve's points at steps 0, 2, 4, 6
    for key in ("val_loss", "story_icl", "induction_score"):
        assert torch.equal(
            dense.tensors[f"curve.{key}"][on_cadence], plain.tensors[f"curve.{key}"]
        )
    for key, value in plain.tensors.items():
        if key.startswith("step6."):
            assert torch.equal(dense.tensors[key], value)


@pytest.mark.parametrize("until", [0, 7])
def test_a_retrain_stops_within_the_run(until, tiny_checkpoint_run):
    with pytest.raises(ValueError, match=rf"until={until}: use 1\.\.6"):
        tiny_checkpoint_run(until=until)


def test_a_stopped_retrain_stores_measures_in_place_of_weights(
    monkeypatch, tiny_checkpoint_run
):
    monkeypatch.setattr(lmdata, "load_split", tiny_lm_splits().__getitem__)
    kept = circuits_study.fit_checkpoints(
        tiny_checkpoint_run(), torch.device("cpu"), None
    )
    cfg = tiny_checkpoint_run(checkpoints=(2, 4), until=4, keep_weights=False)
    out = circuits_study.fit_checkpoints(cfg, torch.device("cpu"), None)
    assert not any(k.startswith("step") for k in out.tensors)
    # the first four steps of the full retrain: the same curves up to step 4
    steps = out.tensors["curve.step"].tolist()
    assert steps == [0, 2, 4] and out.metrics["checkpoints"] == [2, 4]
    for key in ("val_loss", "story_icl", "story_prev_token_score"):
        torch.testing.assert_close(
            out.tensors[f"curve.{key}"], kept.tensors[f"curve.{key}"][:3]
        )
    assert out.tensors["curve.story_current_token_score"].shape == (3, 2, 2)
    assert out.tensors["checkpoint.step"].tolist() == [2, 4]
    assert out.tensors["checkpoint.K_composition"].shape == (2, 2, 2)
    # [step kind side head_0 head_1]: mean and resample, queries keys values
    assert out.tensors["checkpoint.path_direct"].shape == (2, 2, 3, 2, 2)
    assert out.tensors["checkpoint.direct_logit"].shape == (2, 2)
    assert out.tensors["checkpoint.patterns"].dtype == torch.float16
    assert "checkpoint.path_direct_blocks" not in out.tensors
    # more probe blocks: the first is the measure above, the others fresh sequences
    blocks = circuits_study.fit_checkpoints(
        cfg, torch.device("cpu"), None, probe_blocks=3
    ).tensors
    for key in ("direct_logit", "path_direct"):
        b = blocks[f"checkpoint.{key}_blocks"]
        assert b.shape == (3, *out.tensors[f"checkpoint.{key}"].shape)
        torch.testing.assert_close(b[0], out.tensors[f"checkpoint.{key}"])
        assert not torch.equal(b[1], b[2])


@pytest.mark.parametrize("name", ["attn-only-l2", "attn-only-l1"])
def test_the_phase_recipes_are_the_retrains_stopped_after_the_phase_change(name):
    recipe = recipes.get(f"{name}-phase")
    cfg = recipe.config
    full = circuits_study.CHECKPOINT_RUNS[f"{name}-checkpoints"]
    assert cfg.run == full.run and not cfg.keep_weights and recipe.committed
    # the committed 2-layer run's heads formed between steps 1,300 and 1,500
    assert min(cfg.checkpoints) < 1300 and cfg.until == max(cfg.checkpoints) > 1500
    # both stop at the same step, so their curves share an axis
    assert cfg.until == circuits_study.PHASE_RUNS["attn-only-l2-phase"].until
