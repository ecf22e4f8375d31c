"""tools/compact_grokking.py on a small fake version-1 artifact (no training)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from builders import load_tool

from interplib.core import artifacts, recipes
from interplib.studies.grokking.quantize import quantized

cg = load_tool("compact_grokking")


def version_one(name: str) -> dict[str, torch.Tensor]:
    """A float32 artifact of ``name``'s config at recipe version 1, tiny tensors."""
    recipe = recipes.get(name)
    g = torch.Generator().manual_seed(0)
    tensors = {
        "history.epoch": torch.arange(3),
        "history.test_loss": torch.rand(3, 2, dtype=torch.float64, generator=g),
        "final.embed.weight": torch.randn(2, 6, 4, generator=g),
        "final.blocks.0.mlp.in.weight": torch.randn(2, 8, 4, generator=g),
        "epoch1000.blocks.0.mlp.in.weight": torch.randn(1, 8, 4, generator=g),
    }
    meta = {
        "config": dataclasses.asdict(recipe.config),
        "recipe_version": recipe.version - 1,
        "metrics": {"final_test_acc": [1.0, 1.0]},
        "key_metric": {"name": "mean final test accuracy", "value": 1.0},
        "device": "cuda: NVIDIA H200",
        "wall_time_s": 171.6,
        "code_version": "0608d80",
    }
    artifacts.save(recipe.study, name, tensors, meta)
    return tensors


def test_compacting_keeps_provenance_and_every_level(art_root):
    before = version_one("grok-ternary")
    old = artifacts.load("grok-ternary").meta
    assert recipes.status("grok-ternary")[0] == "stale"
    assert "MiB ->" in cg.compact_artifact("grok-ternary")
    art = recipes.verified("grok-ternary")  # hashes, config and the current version
    meta = art.meta
    assert meta["recipe_version"] == recipes.get("grok-ternary").version
    assert meta["compacted"]["from_sha256"] == old["files"]["safetensors"]["sha256"]
    for key in ("config", "metrics", "key_metric", "device", "wall_time_s"):
        assert meta[key] == old[key]
    assert meta["code_version"] == "0608d80"  # the training's, not the compacting's
    t = art.tensors
    assert t["history.test_loss"].dtype == torch.float32
    assert t["history.epoch"].dtype == torch.int64
    for name in ("final.blocks.0.mlp.in.weight", "epoch1000.blocks.0.mlp.in.weight"):
        assert t[name].dtype == torch.float16
        levels = quantized(before[name], "ternary", stacked=True)
        again = quantized(t[name].float(), "ternary", stacked=True)
        assert torch.equal(torch.sign(levels), torch.sign(again))
    assert t["final.embed.weight"].shape == (2, 6, 4)  # every model's final weights
    assert "already" in cg.compact_artifact("grok-ternary")


def test_compacting_refuses_what_it_cannot_turn_into_the_current_version(art_root):
    version_one("grok-fp")
    path = artifacts.find("grok-fp")
    art = artifacts.load("grok-fp")
    meta = {k: v for k, v in art.meta.items() if k not in cg.OWN}
    meta["recipe_version"] = 0
    artifacts.save("grokking", "grok-fp", art.tensors, meta)
    assert path.exists()
    with pytest.raises(ValueError, match="retrain it with"):
        cg.compact_artifact("grok-fp")
    with pytest.raises(SystemExit):
        cg.main(["grok10-fp"])
