"""The book's first worked example: a zero-layer transformer learns a Markov chain.

A zero-layer transformer embeds the current token and unembeds it at once, so its logits
are a row of ``W_E @ W_U``. Trained on text from a Markov chain with transition matrix
``P``, the cross-entropy optimum is ``softmax(W_E @ W_U)[i] = P[i]``: the weight product
*is* the table of bigram log-probabilities, up to a constant per row. The example trains
one, and the chapter reads the chain back from the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.core.hooks import HookedRootModule, HookPoint

__all__ = ["MarkovConfig", "transition_matrix", "sample_chain", "ZeroLayerTransformer"]


@dataclass(frozen=True)
class MarkovConfig:
    """The worked example: the chain (``d_vocab`` states), the model's width, its training."""

    d_vocab: int = 12
    d_model: int = 12  # = d_vocab, so W_E W_U can represent any log-probability table
    concentration: float = (
        0.3  # Dirichlet parameter of each row of P: small -> peaked rows
    )
    seq_len: int = 32
    batch: int = 64
    steps: int = 1500
    lr: float = 3e-2
    seed: int = 0

    def __post_init__(self):
        if self.d_vocab < 2 or self.d_model < 1:
            raise ValueError(
                f"d_vocab={self.d_vocab}, d_model={self.d_model}: "
                "need d_vocab >= 2 and d_model >= 1"
            )
        if self.concentration <= 0:
            raise ValueError(
                f"concentration={self.concentration}: the Dirichlet parameter must be positive"
            )


def transition_matrix(cfg: MarkovConfig) -> Float[Tensor, "d_vocab d_vocab"]:
    """The chain's ``P[i, j] = Pr(next = j | current = i)``, drawn from the config's seed."""
    g = torch.Generator().manual_seed(cfg.seed)
    alpha = torch.full(
        (cfg.d_vocab, cfg.d_vocab), cfg.concentration, dtype=torch.float64
    )
    # torch's only seeded gamma sampler (distributions.Gamma takes no generator) is private
    gamma = torch._standard_gamma(alpha, generator=g)  # pyright: ignore[reportPrivateImportUsage]
    return gamma / gamma.sum(-1, keepdim=True)


def sample_chain(
    P: Float[Tensor, "d_vocab d_vocab"],
    batch: int,
    seq_len: int,
    generator: torch.Generator,
) -> Int[Tensor, "batch pos"]:
    """Sequences from the chain, each started at a uniformly random token."""
    tokens = torch.empty(batch, seq_len, dtype=torch.long)
    tokens[:, 0] = torch.randint(P.shape[0], (batch,), generator=generator)
    for t in range(1, seq_len):
        tokens[:, t] = torch.multinomial(
            P[tokens[:, t - 1]], 1, generator=generator
        ).squeeze(-1)
    return tokens


class ZeroLayerTransformer(HookedRootModule):
    """Embed, then unembed: ``logits = W_E[tokens] @ W_U``, with TransformerLens hook names."""

    def __init__(self, d_vocab: int, d_model: int):
        super().__init__()
        self.W_E = nn.Parameter(torch.randn(d_vocab, d_model) / d_model**0.5)
        self.W_U = nn.Parameter(torch.randn(d_model, d_vocab) / d_model**0.5)
        self.hook_embed = HookPoint()  # [batch pos d_model]
        self.hook_logits = HookPoint()  # [batch pos d_vocab]
        self.setup()

    def forward(
        self, tokens: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "batch pos d_vocab"]:
        resid = self.hook_embed(self.W_E[tokens])
        return self.hook_logits(resid @ self.W_U)
