"""The chapter's analysis on the real Pythia's path, offline.

A randomly initialised GPT-NeoX with Pythia-70m's exact config (d_model 512, 6 layers, 8
heads, rotary on 16 of 64 head dims, vocabulary 50,304) and a byte-level BPE tokenizer with
leading-space tokens, saved as a local Hugging Face directory and booted with the call a reader
makes on ``EleutherAI/pythia-70m-deduped``: ``TransformerBridge.boot_transformers(dir)``. The
prompt is the seed's, " Dublin is the capital city of" -> " Ireland", with no BOS. The weights
are random, so only the machinery is tested: tokens, identities, shapes. About 15 s on one
core (most of it writing and reading 280 MB).
"""

import pytest
import torch

from interplib.corpus.rules import fact_prompts
from interplib.interp import attribution as A
from interplib.interp.lens import (
    READINGS,
    logit_lens,
    next_token_table,
    pad_prompts,
    split_readings,
    transformer_lens_terms,
)
from interplib.studies.layernorm import analysis
from interplib.studies.layernorm import model as neox

PROMPT, ANSWER = " Dublin is the capital city of", " Ireland"


@pytest.fixture(scope="module")
def pythia_dir(tmp_path_factory):
    facts = fact_prompts()
    texts = [f" {p} {a}." for p, a in zip(facts["prompt"], facts["answer"])]
    return neox.save_random_pythia(
        tmp_path_factory.mktemp("pythia"), texts * 4, vocab_size=2048
    )


@pytest.fixture(scope="module")
def pythia(pythia_dir):
    from transformer_lens.model_bridge import TransformerBridge

    torch.set_grad_enabled(False)
    model = TransformerBridge.boot_transformers(str(pythia_dir), device="cpu")
    model.eval()
    yield model
    torch.set_grad_enabled(True)


def test_the_directory_is_pythia_70m_shaped(pythia_dir, pythia):
    from transformers import AutoConfig

    hf = AutoConfig.from_pretrained(pythia_dir)
    assert (hf.vocab_size, hf.hidden_size, hf.num_hidden_layers) == (50304, 512, 6)
    assert (hf.num_attention_heads, hf.intermediate_size) == (8, 2048)
    assert hf.use_parallel_residual and not hf.tie_word_embeddings
    assert hf.rope_parameters["partial_rotary_factor"] == 0.25
    assert pythia.cfg.parallel_attn_mlp and pythia.cfg.d_vocab == 50304
    assert pythia.blocks[0].attn.W_Q.shape[-1] == 64


def test_the_seed_prompt_tokenizes_like_pythias(pythia):
    tokens = pythia.to_tokens(PROMPT, prepend_bos=False)
    pieces = [pythia.tokenizer.decode([t]) for t in tokens[0].tolist()]
    assert pieces == [" Dublin", " is", " the", " capital", " city", " of"]  # no BOS
    assert pythia.tokenizer.decode([A.answer_token(pythia, ANSWER)]) == ANSWER
    with pytest.raises(ValueError, match="leading space"):
        A.answer_token(pythia, " Ouagadougou Ireland")


def test_the_chapters_functions_run_without_bos(pythia):
    top, rank = next_token_table(pythia, PROMPT, ANSWER, k=10, prepend_bos=False)
    assert len(top) == 10 and 0 <= rank < 50304
    tokens = pythia.to_tokens(PROMPT, prepend_bos=False)
    logits, cache = pythia.run_with_cache(tokens)
    for unit in ("block", "component", "head"):
        split = A.decompose_logit(cache, ANSWER, unit=unit)
        assert split.rel_error < 1e-4
    splits, rival = split_readings(cache, ANSWER)
    assert list(splits) == list(READINGS) and rival.item() != A.answer_token(
        pythia, ANSWER
    )
    t = A.answer_token(pythia, ANSWER)
    last = logits[0, -1]
    torch.testing.assert_close(splits["raw"].logit[0], last[t])
    torch.testing.assert_close(splits["centred"].logit[0], last[t] - last.mean())
    torch.testing.assert_close(splits["margin"].logit[0], last[t] - last[rival[0]])
    for reading in READINGS:
        assert splits[reading].rel_error < 1e-4
    lens, labels = logit_lens(cache, ANSWER)
    assert labels[-1] == "final_post" and abs(lens[-1, 0] - last[t]) < 1e-3
    for layer in range(6):
        _, _, ratio = A.block_residual_gap(cache, layer)
        assert ratio <= 1


def test_batched_fact_prompts_and_recall_run_without_bos(pythia):
    facts = fact_prompts().head(12)
    batch, last = pad_prompts(pythia, [" " + p for p in facts["prompt"]])
    first = analysis.answer_first_tokens(pythia, facts["answer"])
    _, cache = pythia.run_with_cache(batch)
    splits, _ = split_readings(cache, first, pos=last)
    assert splits["margin"].terms.shape == (1 + 2 * 6, 12)
    recall = analysis.fact_recall(pythia, pythia.tokenizer, facts, bos=None, prefix=" ")
    assert recall["answer_rank"].between(0, 50303).all()
    assert (recall["n_answer_tokens"] >= 1).all()


def test_transformer_lens_terms_agree_on_the_compatibility_model(pythia_dir, pythia):
    from interplib.core import bridge

    compat = bridge.boot(pythia_dir, compatibility=True)
    tokens = pythia.to_tokens(PROMPT, prepend_bos=False)
    _, cache_c = compat.run_with_cache(tokens)
    _, cache = pythia.run_with_cache(tokens)
    tl_terms, _, _ = transformer_lens_terms(cache_c, ANSWER)
    ours = A.decompose_logit(cache, ANSWER, center_vocab=True)
    torch.testing.assert_close(ours.terms, tl_terms, rtol=1e-3, atol=1e-3)
