"""The recipes of the bilinear and attention-circuits studies: configs, a tiny fit, loading errors."""

import dataclasses

import pytest
import torch
from builders import counting_tokens

from interplib.core import recipes
from interplib.core.training import LMRun
from interplib.corpus import grammar, lmdata
from interplib.studies.bilinear import recipes as bilinear_study
from interplib.studies.bilinear.model import BilinearConfig
from interplib.studies.circuits import recipes as circuits_study
from interplib.studies.circuits.model import AttnOnlyConfig
from interplib.studies.layernorm import analysis as layernorm_analysis
from interplib.studies.layernorm import recipes as layernorm_study


def test_both_studies_register_their_models_on_the_story_vocabulary():
    table = recipes.recipes()
    for name, run in {**bilinear_study.RUNS, **circuits_study.RUNS}.items():
        assert table[name].config is run and table[name].needs == (lmdata.DATA_NAME,)
        assert run.model.d_vocab == 4096 and run.train.steps >= 1000
    assert [r.model.n_layers for r in bilinear_study.RUNS.values()] == [1, 2]
    assert [r.model.n_layers for r in circuits_study.RUNS.values()] == [2, 1]


@pytest.mark.parametrize(
    "study, model_cfg",
    [
        (
            bilinear_study,
            BilinearConfig(
                d_vocab=16, n_layers=1, d_model=16, n_heads=2, d_mlp=24, n_ctx=16
            ),
        ),
        (
            circuits_study,
            AttnOnlyConfig(n_layers=2, d_model=16, n_heads=2, n_ctx=16, d_vocab=16),
        ),
    ],
)
def test_fit_trains_and_stores_a_loadable_model(monkeypatch, study, model_cfg):
    splits = {
        "train": counting_tokens(32, d_vocab=16),
        "val": counting_tokens(8, d_vocab=16, seed=1),
    }
    monkeypatch.setattr(lmdata, "load_split", lambda split: splits[split])
    run = next(iter(study.RUNS.values()))
    extra = (
        {
            "probes": dataclasses.replace(
                run.probes, icl_early=2, icl_late=8, repeat_period=4, repeat_batch=2
            ),
            "repeat_periods": (2, 4),
        }
        if study is circuits_study
        else {}
    )
    run = dataclasses.replace(
        run,
        model=model_cfg,
        train=dataclasses.replace(
            run.train,
            steps=4,
            batch_size=8,
            warmup_steps=1,
            eval_every=2,
            eval_sequences=8,
        ),
        **extra,
    )
    out = study.fit(run, torch.device("cpu"), None)
    assert (
        out.key_metric[1] == out.metrics["val_loss_float16"]
        and 0 < out.key_metric[1] < 10
    )
    assert out.tensors["curve.step"].tolist() == [0, 2, 4]
    if study is circuits_study:
        assert out.tensors["curve.induction_score"].shape == (3, 2, 2)
        assert len(out.metrics["max_induction_score_by_layer"]) == 2


def test_load_model_names_the_known_models():
    with pytest.raises(KeyError, match="known:"):
        recipes.load_model("gpt-2")


def test_load_model_refuses_a_data_artifact():
    with pytest.raises(ValueError, match="holds data, not a model"):
        recipes.load_model("story-bigrams")


def test_neox_recipe_is_a_pythia_shaped_model_on_the_story_vocabulary():
    run = recipes.recipes()[layernorm_study.NAME].config
    assert (
        run is layernorm_study.RUN and run.model.d_vocab == 4096 and run.model.parallel
    )
    assert (
        run.model.n_ctx == lmdata.DataConfig().seq_len and run.model.rotary_pct == 0.25
    )


def test_neox_fit_trains_records_recall_and_materializes_without_its_curves(
    monkeypatch, tmp_path
):
    from interplib.core import artifacts, bridge
    from interplib.studies.layernorm.model import NeoXConfig

    splits = {
        "train": counting_tokens(32, d_vocab=4096),
        "val": counting_tokens(8, d_vocab=4096, seed=1),
    }
    monkeypatch.setattr(lmdata, "load_split", lambda split: splits[split])
    run = LMRun(
        NeoXConfig(d_vocab=4096, d_model=16, n_layers=1, n_heads=2, d_mlp=32, n_ctx=16),
        dataclasses.replace(
            layernorm_study.RUN.train,
            steps=2,
            batch_size=8,
            warmup_steps=1,
            eval_every=1,
            eval_sequences=8,
        ),
    )
    prompts = grammar.fact_prompts().head(6)
    monkeypatch.setattr(layernorm_analysis, "fact_prompts", lambda: prompts)
    out = layernorm_study.fit(run, torch.device("cpu"), None)
    assert set(out.metrics["recall_by_relation"]) == set(prompts["relation"])
    assert (
        out.tensors["curve.step"].tolist() == [0, 1, 2] and "config.json" in out.files
    )
    artifacts.save(
        "layernorm",
        "neox-tiny",
        out.tensors,
        {"config": {"seed": 0}, "metrics": out.metrics},
        out.files,
        tmp_path,
    )
    folder = bridge.materialize(artifacts.load("neox-tiny", tmp_path), tmp_path / "hf")
    from safetensors.torch import load_file

    assert not any(
        k.startswith("curve.") for k in load_file(folder / "model.safetensors")
    )


def test_fact_recall_ranks_the_answer_as_a_brute_force_argsort_does():
    from interplib.corpus.tokenizer import BOS, Vocab
    from interplib.studies.layernorm.model import NeoXConfig, build_model

    tokenizer = Vocab.load().hf_tokenizer()
    model = build_model(
        NeoXConfig(d_vocab=4096, d_model=16, n_layers=1, n_heads=2, d_mlp=32, n_ctx=32)
    )
    prompts = grammar.fact_prompts().iloc[
        [0, 6]
    ]  # a one-token and a three-token answer
    table = layernorm_study.fact_recall(model, tokenizer, prompts)
    for (_, row), rank, hit in zip(
        prompts.iterrows(), table["answer_rank"], table["recalled"]
    ):
        context = [BOS, *tokenizer(row["prompt"])["input_ids"]]
        answer = tokenizer(" " + row["answer"])["input_ids"]
        ids = context + answer
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
        order = logits[len(context) - 1].argsort(descending=True).tolist()
        assert rank == order.index(answer[0])
        greedy = [
            int(logits[len(context) - 1 + i].argmax()) for i in range(len(answer))
        ]
        assert hit == (greedy == answer)
