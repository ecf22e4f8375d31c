"""The LayerNorm study on the committed tokenizer: the recipe's fit and the fact-recall ranking."""

import dataclasses

import pytest
import torch
from builders import counting_tokens

from interplib.core.training import LMRun
from interplib.corpus import lmdata, rules
from interplib.studies.layernorm import analysis as layernorm_analysis
from interplib.studies.layernorm import recipes as layernorm_study

pytestmark = pytest.mark.artifacts


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
    prompts = rules.fact_prompts().head(6)
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
    prompts = rules.fact_prompts().iloc[[0, 6]]  # a one-token and a three-token answer
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
