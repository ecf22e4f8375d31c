"""Small GPT-NeoX (Pythia-family) models: a config and a builder.

The book cannot download Pythia, so the LayerNorm chapter trains a model of the same
family from a :class:`NeoXConfig`: pre-LayerNorm blocks, partial rotary embeddings
(NeoX rotate-half on the first ``rotary_pct`` of each head), attention and MLP run in
**parallel** on the same residual (``x + attn(ln1 x) + mlp(ln2 x)``), exact GELU and an
untied unembedding without bias -- the shape of ``EleutherAI/pythia-70m-deduped``
(d_model 512, 6 layers, 8 heads, rotary 16 of 64 head dims) at any size.

The model is a plain Hugging Face ``GPTNeoXForCausalLM``, so the very code that analyses
it also runs on the real Pythia (``interplib.core.bridge`` boots both through
``TransformerBridge.boot_transformers``). This module imports no TransformerLens: a
training run needs only torch and transformers (the lent GPU machine has no TL).

Train one with :func:`interplib.core.training.train_lm`, the loop every model of the book uses
(this module's former loop used ``weight_decay=0.1`` and ``batch_size=64``; embeddings, norms and
biases are not decayed there either).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

__all__ = [
    "NeoXConfig",
    "PYTHIA_70M",
    "hf_config",
    "build_model",
    "byte_level_bpe",
    "save_random_pythia",
    "drop_layernorm_bias",
    "jitter_affine",
]


@dataclass(frozen=True)
class NeoXConfig:
    """The architecture of a small GPT-NeoX; defaults are a Pythia-70m shape scaled down."""

    d_vocab: int = 512
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 512  # 4 * d_model, as Pythia
    n_ctx: int = 64
    rotary_pct: float = 0.25  # Pythia rotates 16 of 64 head dims
    rotary_base: float = 10000.0
    parallel: bool = (
        True  # Pythia's use_parallel_residual; False gives sequential blocks
    )
    ln_eps: float = 1e-5
    act: str = "gelu"  # exact GELU, as Pythia
    init_range: float = 0.02
    seed: int = 0

    def __post_init__(self):
        if (
            min(
                self.d_vocab,
                self.d_model,
                self.n_layers,
                self.n_heads,
                self.d_mlp,
                self.n_ctx,
            )
            < 1
        ):
            raise ValueError(f"{self}: every size must be a positive integer")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                f"pick n_heads among the divisors of d_model"
            )
        rot = self.d_head * self.rotary_pct
        if not 0 < self.rotary_pct <= 1 or rot != int(rot) or int(rot) % 2:
            raise ValueError(
                f"rotary_pct={self.rotary_pct} rotates {rot} of d_head={self.d_head} dims; "
                "choose it so that d_head * rotary_pct is a positive even integer "
                "(Pythia: 0.25 of 64)"
            )
        if self.ln_eps <= 0:
            raise ValueError(
                f"ln_eps={self.ln_eps}: LayerNorm's epsilon must be positive (Pythia: 1e-5)"
            )

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def rotary_dim(self) -> int:
        return int(self.d_head * self.rotary_pct)


# EleutherAI/pythia-70m-deduped's config.json: vocabulary padded to 50,304, context 2048
PYTHIA_70M = NeoXConfig(
    d_vocab=50304, d_model=512, n_layers=6, n_heads=8, d_mlp=2048, n_ctx=2048
)


def hf_config(
    cfg: NeoXConfig, bos_token_id: int = 0, eos_token_id: int = 0
) -> GPTNeoXConfig:
    """The Hugging Face config of ``cfg`` (attention biases on, untied unembedding, no dropout)."""
    return GPTNeoXConfig(
        vocab_size=cfg.d_vocab,
        hidden_size=cfg.d_model,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        intermediate_size=cfg.d_mlp,
        hidden_act=cfg.act,
        # transformers 5 names (what rotary_pct=, rotary_emb_base= are translated to)
        rope_parameters={
            "rope_type": "default",
            "rope_theta": cfg.rotary_base,
            "partial_rotary_factor": cfg.rotary_pct,
        },
        max_position_embeddings=cfg.n_ctx,
        initializer_range=cfg.init_range,
        layer_norm_eps=cfg.ln_eps,
        use_parallel_residual=cfg.parallel,
        tie_word_embeddings=False,
        attention_dropout=0.0,
        hidden_dropout=0.0,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
    )


def build_model(cfg: NeoXConfig, **hf_kwargs) -> GPTNeoXForCausalLM:
    """A freshly initialised ``GPTNeoXForCausalLM`` for ``cfg``.

    Seeded by ``cfg.seed``, in eval mode.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = GPTNeoXForCausalLM(hf_config(cfg, **hf_kwargs))
    return model.eval()


def drop_layernorm_bias(model: GPTNeoXForCausalLM) -> GPTNeoXForCausalLM:
    """Replace every LayerNorm by one without bias (β = 0 structurally, ``ln.bias is None``).

    GPT-NeoX always has LayerNorm biases; this variant exists so analyses are tested on
    ``nn.LayerNorm(bias=False)`` too. Hugging Face cannot save and reload it faithfully.
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.LayerNorm) and child.bias is not None:
                new = nn.LayerNorm(
                    list(child.normalized_shape), eps=child.eps, bias=False
                )
                new.weight.data.copy_(child.weight.data)
                setattr(module, name, new.to(child.weight.device, child.weight.dtype))
    return model


@torch.no_grad()
def jitter_affine(
    model: nn.Module, seed: int = 0, gain: float = 0.3, bias: float = 0.1
) -> nn.Module:
    """Give LayerNorm weights/biases and every linear bias random values, in place.

    A fresh model has γ = 1, β = 0 and zero biases, so an identity that forgets γ, β or
    a bias still passes on it; tests and toy examples use this to leave that trivial point.
    γ ~ 1 + gain·N(0,1), β and biases ~ bias·N(0,1).
    """
    g = torch.Generator().manual_seed(seed)
    for module in model.modules():
        is_norm = isinstance(module, nn.LayerNorm)
        for pname, p in module.named_parameters(recurse=False):
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(
                p.device, p.dtype
            )
            if is_norm and pname == "weight":
                p.copy_(1 + gain * noise)
            elif pname == "bias":
                p.copy_(bias * noise)
    return model


def byte_level_bpe(texts: Sequence[str], vocab_size: int = 512):
    """A byte-level BPE tokenizer of Pythia's kind, trained on ``texts`` (offline, seconds).

    Like the GPT-NeoX-20B tokenizer: bytes mapped to printable characters, words carry their
    leading space (" Ireland" is one token ``ĠIreland`` when frequent enough), no prefix space
    is added, ``<|endoftext|>`` is id 0 (BOS, EOS and UNK) and ``<|padding|>`` id 1. Returns a
    ``PreTrainedTokenizerFast`` that ``save_pretrained`` writes as ``tokenizer.json``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if not texts:
        raise ValueError(
            "texts is empty: pass the sentences the merges are learned from"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    end = "<|endoftext|>"
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=end,
        eos_token=end,
        unk_token=end,
        pad_token="<|padding|>",
    )


def save_random_pythia(
    directory: str | Path,
    texts: Sequence[str],
    cfg: NeoXConfig = PYTHIA_70M,
    vocab_size: int = 512,
) -> Path:
    """A randomly initialised GPT-NeoX of ``cfg`` (default: Pythia-70m's exact shape) and a
    :func:`byte_level_bpe` tokenizer trained on ``texts``, saved as a local Hugging Face
    directory (``config.json``, ``model.safetensors``, ``tokenizer.json``) that
    ``TransformerBridge.boot_transformers(directory)`` loads as it loads the real Pythia.

    The weights are random, so the predictions mean nothing; the directory exercises the
    real model's path offline: byte-level BPE with leading-space tokens, no BOS, a
    vocabulary padded beyond the tokenizer's, Pythia's sizes. Cost at the default shape:
    about 2 s to build and 280 MB on disk (float32).

    Raises:
        ValueError: if the tokenizer would be larger than ``cfg.d_vocab``.
    """
    if vocab_size > cfg.d_vocab:
        raise ValueError(
            f"vocab_size={vocab_size} exceeds the model's d_vocab={cfg.d_vocab}; "
            "the embedding needs a row per token"
        )
    directory = Path(directory)
    tokenizer = byte_level_bpe(texts, vocab_size)
    model = build_model(cfg, bos_token_id=0, eos_token_id=0)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
