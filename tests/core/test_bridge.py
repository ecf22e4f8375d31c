"""Offline TransformerBridge boots of local Hugging Face GPT-NeoX directories and artifacts."""

import contextlib
import io
import json

import pytest
import torch
from builders import counting_tokens

from interplib.core import artifacts, bridge, paths
from interplib.core.training import LMTrainConfig, train_lm
from interplib.studies.layernorm import model as neox

WORDS = [f"w{i}" for i in range(46)] + ["Dublin", "Ireland"]
TOKENS = torch.tensor([[3, 4, 48, 5, 7, 9]])


@pytest.fixture(autouse=True)
def hf_cache(tmp_path, monkeypatch):
    """Materialised directories go under the test's tmp_path, not the checkout's .cache/."""
    monkeypatch.setattr(paths, "cache_root", lambda: tmp_path / "cache")


@pytest.fixture(scope="module")
def tok():
    return bridge.word_level_tokenizer(WORDS)


def tiny_model(tok, parallel=True, seed=0):
    cfg = neox.NeoXConfig(
        d_vocab=len(tok),
        d_model=32,
        n_layers=2,
        n_heads=4,
        d_mlp=64,
        n_ctx=16,
        parallel=parallel,
        seed=seed,
    )
    return neox.jitter_affine(neox.build_model(cfg), seed=seed)


def hf_logits(model, tokens=TOKENS):
    with torch.no_grad():
        return model(input_ids=tokens).logits


def test_word_level_tokenizer_round_trips(tok, tmp_path):
    assert len(tok) == 50 and tok.convert_ids_to_tokens(0) == "<|endoftext|>"
    ids = tok("w1 Dublin  Ireland")["input_ids"]
    assert ids == [3, 48, 49] and tok.decode(ids) == "w1 Dublin Ireland"
    assert tok("w1 zebra")["input_ids"] == [3, 1]  # unknown word -> <unk>
    tok.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(tmp_path)("w1 Dublin")["input_ids"] == [3, 48]
    with pytest.raises(ValueError, match="duplicates"):
        bridge.word_level_tokenizer(["a", "a"])


@pytest.mark.parametrize("parallel", [True, False])
def test_boot_local_directory_like_a_hub_id(tok, tmp_path, parallel):
    """save_pretrained -> boot(dir) is boot_transformers(dir): same logits as the HF model, same
    flags."""
    model = tiny_model(tok, parallel)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    expected = hf_logits(model)
    b = bridge.boot(tmp_path)
    assert (
        not b.training and b.cfg.parallel_attn_mlp is parallel and b.cfg.n_layers == 2
    )
    torch.testing.assert_close(b(TOKENS), expected, rtol=1e-5, atol=1e-5)
    assert b.to_tokens("w1 Dublin", prepend_bos=False).tolist() == [[3, 48]]
    assert b.to_single_token("Ireland") == 49
    # TransformerLens's own helpers run on it (test_prompt prints the top tokens and the
    # answer's rank)
    from transformer_lens.utilities import test_prompt

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        test_prompt("w1 w2 Dublin", "Ireland", b, prepend_bos=False, top_k=3)
    assert "Ranks of the answer tokens" in out.getvalue()


def test_compatibility_mode_shifts_logits_by_the_vocab_mean(tok, tmp_path):
    model = tiny_model(tok)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    raw, compat = bridge.boot(tmp_path), bridge.boot(tmp_path, compatibility=True)
    assert compat.compatibility_mode and not getattr(raw, "compatibility_mode", False)
    a, b = raw(TOKENS), compat(TOKENS)
    torch.testing.assert_close(
        a - b, a.mean(-1, keepdim=True).expand_as(a), rtol=1e-4, atol=1e-5
    )


def test_artifact_round_trip_boots_the_same_model(tok, tmp_path):
    model = tiny_model(tok)
    base = tmp_path / "artifacts"
    sidecar = bridge.save_hf(
        "toy", "tiny-neox", model, tok, {"metrics": {"val_loss": 1.0}}, base=base
    )
    meta = json.loads(sidecar.read_text())
    assert meta["config"]["model_type"] == "gpt_neox" and set(meta["files"]) >= {
        "safetensors",
        "config.json",
        "tokenizer.json",
    }
    art = artifacts.load("tiny-neox", base=base)
    assert all(
        v.dtype == torch.float16 for v in art.tensors.values() if v.is_floating_point()
    )
    folder = bridge.materialize(art, tmp_path / "hf")
    assert {p.name for p in folder.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    }
    assert bridge.materialize(art, tmp_path / "hf") == folder  # reused, not rewritten
    b = bridge.boot(folder)
    # the artifact stores float16 weights: the booted bridge is the float16-rounded model, widened
    rounded = tiny_model(tok).half().float().eval()
    torch.testing.assert_close(b(TOKENS), hf_logits(rounded), rtol=1e-5, atol=1e-5)
    assert (b(TOKENS) - hf_logits(model)).abs().max() < 1e-2
    # the reader's own call on the materialised directory gives the same model
    from transformer_lens.model_bridge import TransformerBridge

    direct = TransformerBridge.boot_transformers(str(folder), device="cpu")
    torch.testing.assert_close(direct(TOKENS), b(TOKENS))
    # stored in full precision, the round trip is exact
    bridge.save_hf("toy", "tiny-neox-f32", model, tok, dtype=None, base=base)
    exact = bridge.boot(
        bridge.materialize(artifacts.load("tiny-neox-f32", base=base), tmp_path / "f32")
    )
    torch.testing.assert_close(exact(TOKENS), hf_logits(model), rtol=1e-6, atol=1e-6)


def test_hf_trained_carries_what_a_recipe_saves(tok, tmp_path):
    model = tiny_model(tok)
    trained = bridge.hf_trained(model, tok, {"val_loss": 2.5}, ("val_loss", 2.5))
    assert trained.key_metric == ("val_loss", 2.5)
    assert "config.json" in trained.files and "tokenizer.json" in trained.files
    assert json.loads(trained.files["config.json"])["use_parallel_residual"] is True
    assert set(trained.tensors) == set(model.state_dict())
    # what recipes.train does with it
    artifacts.save(
        "toy",
        "tiny-recipe",
        trained.tensors,
        {"config": {"seed": 0}, "metrics": trained.metrics},
        trained.files,
        base=tmp_path,
    )
    b = bridge.boot_artifact(artifacts.load("tiny-recipe", base=tmp_path))
    assert b(TOKENS).shape == (1, 6, 50)


def test_materialize_default_cache_is_keyed_by_content(tok, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "cache_root", lambda: tmp_path)
    base = tmp_path / "artifacts"
    bridge.save_hf("toy", "tiny-neox", tiny_model(tok), tok, base=base)
    first = bridge.materialize(artifacts.load("tiny-neox", base=base))
    assert (
        first.parent == tmp_path / "hf"
        and first.name.startswith("tiny-neox-")
        and first.name.endswith("-float32")
    )
    written = (first / "model.safetensors").stat().st_mtime_ns
    assert (
        bridge.materialize(artifacts.load("tiny-neox", base=base)) == first
    )  # stamp matches: reused
    assert (first / "model.safetensors").stat().st_mtime_ns == written
    bridge.save_hf(
        "toy", "tiny-neox", tiny_model(tok, seed=1), tok, base=base
    )  # new weights, new folder
    second = bridge.materialize(artifacts.load("tiny-neox", base=base))
    assert second != first and bridge.boot(second)(TOKENS).shape == (1, 6, 50)


def test_trained_model_round_trip_keeps_the_exact_split(tok, tmp_path):
    """Train briefly, save through hf_trained, boot the artifact: the split still sums to the
    logit."""
    from interplib.interp import attribution as A

    model = neox.build_model(
        neox.NeoXConfig(
            d_vocab=50, d_model=32, n_layers=2, n_heads=4, d_mlp=64, n_ctx=16
        )
    )
    data = counting_tokens(64, seq_len=16, d_vocab=50)
    result = train_lm(
        model,
        data,
        data[:8],
        LMTrainConfig(steps=10, batch_size=8, warmup_steps=2, eval_every=5),
    )
    trained = bridge.hf_trained(
        model, tok, result.summary(), ("val_loss", result.val_loss)
    )
    artifacts.save(
        "toy",
        "tiny-trained",
        trained.tensors,
        {"config": {"seed": 0}, "metrics": trained.metrics},
        trained.files,
        base=tmp_path,
    )
    b = bridge.boot_artifact(artifacts.load("tiny-trained", base=tmp_path))
    _, cache = b.run_with_cache(TOKENS)
    for unit in A.UNITS:
        assert A.decompose_logit(cache, "Ireland", unit=unit).rel_error < 1e-4


def test_boot_errors_name_the_fix(tok, tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json.*materialize"):
        bridge.boot(tmp_path)
    tiny_model(tok).config.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="no weights"):
        bridge.boot(tmp_path)
    with pytest.raises(ValueError, match="needs tokenizer"):
        bridge.boot("tiny", hf_model=tiny_model(tok))
    art = artifacts.Artifact(name="not-hf", tensors={}, meta={}, files={})
    with pytest.raises(ValueError, match="not a Hugging Face model"):
        bridge.materialize(art)


def test_boot_float64_in_memory(tok):
    model = tiny_model(tok)
    expected = hf_logits(model.double(), TOKENS)
    b = bridge.boot("tiny", hf_model=model, tokenizer=tok, dtype=torch.float64)
    out = b(TOKENS)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
