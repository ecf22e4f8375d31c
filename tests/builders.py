"""Tiny models, toy token sequences and samples that several test files build (``from
builders import ...``)."""

from __future__ import annotations

import functools
import importlib.util
import math
import sys
from pathlib import Path

import torch

from interplib.core import bridge
from interplib.corpus import grammar
from interplib.studies.bilinear.model import BilinearConfig, BilinearTransformer
from interplib.studies.circuits.model import (
    AttnOnlyConfig,
    AttnOnlyTransformer,
    to_bridge,
)
from interplib.studies.grokking.model import GrokConfig
from interplib.studies.layernorm import model as neox
from interplib.studies.markov.model import MarkovConfig


def tiny_bilinear_config(**overrides) -> BilinearConfig:
    """A bilinear transformer small enough for brute force: vocab 7, 2 layers, d_model 8, 2
    heads."""
    base = dict(
        d_vocab=7,
        n_layers=2,
        d_model=8,
        n_heads=2,
        d_mlp=6,
        n_ctx=8,
        init_std=0.5,
        seed=0,
    )
    return BilinearConfig(**{**base, **overrides})


def tiny_bilinear(
    random_gains: bool = True, dtype: torch.dtype = torch.float64, **overrides
) -> BilinearTransformer:
    """:func:`tiny_bilinear_config`'s model in eval mode, with every norm gain drawn from U(0.5,
    1.5)
    (seed 1) unless ``random_gains=False``: unit gains would hide a forgotten gain."""
    model = BilinearTransformer(tiny_bilinear_config(**overrides)).to(dtype).eval()
    if random_gains:
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(".w"):
                    p.copy_(0.5 + torch.rand(p.shape, generator=g, dtype=torch.float64))
    return model


def counting_tokens(
    n_seq: int, seq_len: int = 12, d_vocab: int = 16, seed: int = 0
) -> torch.Tensor:
    """``[n_seq, seq_len]`` sequences that count up mod d_vocab from a random start: a bigram
    rule to learn."""
    start = torch.randint(
        d_vocab, (n_seq, 1), generator=torch.Generator().manual_seed(seed)
    )
    return (start + torch.arange(seq_len)) % d_vocab


TINY_MARKOV = MarkovConfig(d_vocab=4, d_model=4, steps=20, batch=8, seq_len=8)
"""A Markov recipe's config that trains in a blink: the ``tiny_recipe`` fixture's (tests/core)."""


def tiny_grok_config(**overrides) -> GrokConfig:
    """A grokking config small enough for brute force: p=7, d_model 16, 2 heads of 4, d_mlp 12,
    10 epochs logged every 5, one seed, no kept checkpoints."""
    base = dict(
        p=7,
        d_model=16,
        n_heads=2,
        d_head=4,
        d_mlp=12,
        epochs=10,
        log_every=5,
        seeds=(0,),
        checkpoints=(),
    )
    return GrokConfig(**{**base, **overrides})


def tiny_config(**overrides) -> AttnOnlyConfig:
    base = dict(n_layers=2, d_model=24, n_heads=3, n_ctx=24, d_vocab=40)
    return AttnOnlyConfig(**{**base, **overrides})


def perturbed_twin(cfg, seed=0) -> AttnOnlyTransformer:
    """A float64 twin whose biases and LN weights are non-trivial too."""
    twin = AttnOnlyTransformer(cfg).double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return twin


def brute_forward(bridge, tokens, replace_z=None, zs=None):
    """The model from its raw weights, head by head: (logits, [scores per layer]).

    ``replace_z[(layer, head)]`` replaces that head's z (broadcast over batch and positions);
    a dict passed as ``zs`` collects every head's z.
    """
    sd = bridge.state_dict()
    cfg = bridge.cfg
    T = tokens.shape[1]

    def ln(x, prefix):
        if cfg.normalization_type is None:
            return x
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.pow(2).mean(-1, keepdim=True) + cfg.eps).sqrt()
        if cfg.normalization_type == "LN":
            x = x * sd[f"{prefix}.weight"] + sd[f"{prefix}.bias"]
        return x

    x = sd["embed.weight"][tokens] + sd["pos_embed.weight"][:T]
    all_scores = []
    for l in range(cfg.n_layers):
        h_in = ln(x, f"blocks.{l}.ln1")
        out = sd[f"blocks.{l}.attn.o.bias"].clone()
        layer_scores = []
        for h in range(cfg.n_heads):
            sl = slice(h * cfg.d_head, (h + 1) * cfg.d_head)
            q, k, v = (
                h_in @ sd[f"blocks.{l}.attn.{n}.weight"][sl].T
                + sd[f"blocks.{l}.attn.{n}.bias"][sl]
                for n in "qkv"
            )
            s = q @ k.transpose(-1, -2) / math.sqrt(cfg.d_head)
            s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
            layer_scores.append(s)
            z = s.softmax(-1) @ v
            if zs is not None:
                zs[(l, h)] = z
            if replace_z and (l, h) in replace_z:
                z = torch.zeros_like(z) + replace_z[(l, h)]
            out = out + z @ sd[f"blocks.{l}.attn.o.weight"][:, sl].T
        all_scores.append(torch.stack(layer_scores, 1))
        x = x + out
    return ln(x, "ln_final") @ sd["unembed.weight"].T, all_scores


NORMS = [None, "LN", "LNPre"]
"""The normalizations of :class:`AttnOnlyConfig`: none, LayerNorm, LayerNorm without weights."""
_ATTN_ONLY: dict = {}


def attn_only_bridge(norm=None, n_layers=2, **overrides):
    """A float64 bridge (d_model 24, 3 heads, vocab 40) with non-trivial biases and LN weights;
    cached."""
    key = (norm, n_layers, tuple(sorted(overrides.items())))
    if key not in _ATTN_ONLY:
        cfg = tiny_config(normalization=norm, n_layers=n_layers, **overrides)
        _ATTN_ONLY[key] = to_bridge(
            perturbed_twin(cfg, seed=n_layers), dtype=torch.float64
        ).requires_grad_(False)
    return _ATTN_ONLY[key]


def random_tokens(batch=3, pos=16, seed=0, d_vocab=40):
    """``[batch pos]`` uniform token ids in ``0..d_vocab-1`` (seeded)."""
    return torch.randint(
        0, d_vocab, (batch, pos), generator=torch.Generator().manual_seed(seed)
    )


def dense_effective(m, layer):
    """Effective weights by brute force: LN(x) = (x - mean)/σ * w + b applied to identity rows."""
    d = m.cfg.d_model
    W = {n: getattr(m, n)[layer].detach() for n in ("W_Q", "W_K", "W_V", "W_O")}
    if m.cfg.normalization_type is not None:
        sd = m.state_dict()
        w = sd.get(f"blocks.{layer}.ln1.weight", torch.ones(d, dtype=torch.float64))
        centred = torch.eye(d, dtype=torch.float64) - torch.eye(
            d, dtype=torch.float64
        ).mean(-1, keepdim=True)
        for n in ("W_Q", "W_K", "W_V"):
            W[n] = torch.einsum("cd,hde->hce", centred * w, W[n])
    return W


NEOX_WORDS = [f"w{i}" for i in range(46)] + ["Dublin", "Ireland"]
NEOX_TOKENS = torch.tensor([[3, 4, 48, 5, 7, 9], [10, 11, 12, 13, 48, 2]])
NEOX_SHAPES = [  # (parallel, ln_bias, d_model, n_heads)
    (True, True, 32, 4),
    (False, True, 32, 4),
    (True, False, 16, 2),
    (False, False, 24, 3),
]


@functools.cache
def neox_tokenizer():
    """A word-level tokenizer of ``NEOX_WORDS`` (50 tokens with the specials); cached."""
    return bridge.word_level_tokenizer(NEOX_WORDS)


def neox_bridge(
    tok,
    parallel=True,
    ln_bias=True,
    d_model=32,
    n_heads=4,
    dtype=torch.float32,
    seed=0,
    **boot_kwargs,
):
    """A booted tiny model; cached, since tests only read from it (booting is the slow part)."""
    return _neox_bridge(
        parallel,
        ln_bias,
        d_model,
        n_heads,
        dtype,
        seed,
        tuple(sorted(boot_kwargs.items())),
    )


@functools.cache
def _neox_bridge(parallel, ln_bias, d_model, n_heads, dtype, seed, boot_kwargs):
    tok = neox_tokenizer()
    cfg = neox.NeoXConfig(
        d_vocab=len(tok),
        d_model=d_model,
        n_layers=2,
        n_heads=n_heads,
        d_mlp=2 * d_model,
        n_ctx=16,
        parallel=parallel,
        seed=seed,
    )
    model = neox.build_model(cfg)
    if not ln_bias:
        neox.drop_layernorm_bias(model)
    neox.jitter_affine(model, seed=seed + 1)
    return bridge.boot(
        "tiny-neox", hf_model=model, tokenizer=tok, dtype=dtype, **dict(boot_kwargs)
    )


@functools.cache
def story_texts(n: int = 3000, seed: int = 0) -> tuple[str, ...]:
    """The first ``n`` stories of ``grammar.sample(n, seed)``, cached."""
    return tuple(grammar.sample(n, seed))


def tiny_lm_splits() -> dict[str, torch.Tensor]:
    """``{"train", "val"}`` packed splits of counting sequences (vocab 16) for a recipe's fit."""
    return {
        "train": counting_tokens(32, d_vocab=16),
        "val": counting_tokens(8, d_vocab=16, seed=1),
    }


def load_tool(name: str):
    """The module ``tools/<name>.py`` (the tools are scripts, not a package, and import one
    another by name: their folder goes on ``sys.path``)."""
    tools = Path(__file__).resolve().parents[1] / "tools"
    if str(tools) not in sys.path:
        sys.path.insert(0, str(tools))
    path = tools / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
