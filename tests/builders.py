"""Tiny models and toy token sequences that several test files build (``from builders import ...``)."""

from __future__ import annotations

import torch

from interplib.models import BilinearConfig, BilinearTransformer


def tiny_bilinear_config(**overrides) -> BilinearConfig:
    """A bilinear transformer small enough for brute force: vocab 7, 2 layers, d_model 8, 2 heads."""
    base = dict(d_vocab=7, n_layers=2, d_model=8, n_heads=2, d_mlp=6, n_ctx=8, init_std=0.5, seed=0)
    return BilinearConfig(**{**base, **overrides})


def tiny_bilinear(random_gains: bool = True, dtype: torch.dtype = torch.float64, **overrides) -> BilinearTransformer:
    """:func:`tiny_bilinear_config`'s model in eval mode, with every norm gain drawn from U(0.5, 1.5)
    (seed 1) unless ``random_gains=False``: unit gains would hide a forgotten gain."""
    model = BilinearTransformer(tiny_bilinear_config(**overrides)).to(dtype).eval()
    if random_gains:
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith(".w"):
                    p.copy_(0.5 + torch.rand(p.shape, generator=g, dtype=torch.float64))
    return model


def counting_tokens(n_seq: int, seq_len: int = 12, d_vocab: int = 16, seed: int = 0) -> torch.Tensor:
    """``[n_seq, seq_len]`` sequences that count up mod d_vocab from a random start: a bigram rule to learn."""
    start = torch.randint(d_vocab, (n_seq, 1), generator=torch.Generator().manual_seed(seed))
    return (start + torch.arange(seq_len)) % d_vocab
