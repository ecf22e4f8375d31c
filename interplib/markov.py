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

from .hooks import HookedRootModule, HookPoint
from .recipes import Recipe, Trained, register


@dataclass(frozen=True)
class MarkovConfig:
    d_vocab: int = 12
    d_model: int = 12            # = d_vocab, so W_E W_U can represent any log-probability table
    concentration: float = 0.3   # Dirichlet parameter of each row of P: small -> peaked rows
    seq_len: int = 32
    batch: int = 64
    steps: int = 1500
    lr: float = 3e-2
    seed: int = 0

    def __post_init__(self):
        if self.d_vocab < 2 or self.d_model < 1:
            raise ValueError(f"d_vocab={self.d_vocab}, d_model={self.d_model}: need d_vocab >= 2 and d_model >= 1")
        if self.concentration <= 0:
            raise ValueError(f"concentration={self.concentration}: the Dirichlet parameter must be positive")


def transition_matrix(cfg: MarkovConfig) -> Float[Tensor, "d_vocab d_vocab"]:
    """The chain's ``P[i, j] = Pr(next = j | current = i)``, drawn from the config's seed."""
    g = torch.Generator().manual_seed(cfg.seed)
    alpha = torch.full((cfg.d_vocab, cfg.d_vocab), cfg.concentration, dtype=torch.float64)
    gamma = torch._standard_gamma(alpha, generator=g)
    return gamma / gamma.sum(-1, keepdim=True)


def sample_chain(P: Float[Tensor, "d_vocab d_vocab"], batch: int, seq_len: int,
                 generator: torch.Generator) -> Int[Tensor, "batch pos"]:
    """Sequences from the chain, each started at a uniformly random token."""
    tokens = torch.empty(batch, seq_len, dtype=torch.long)
    tokens[:, 0] = torch.randint(P.shape[0], (batch,), generator=generator)
    for t in range(1, seq_len):
        tokens[:, t] = torch.multinomial(P[tokens[:, t - 1]], 1, generator=generator).squeeze(-1)
    return tokens


class ZeroLayerTransformer(HookedRootModule):
    """Embed, then unembed: ``logits = W_E[tokens] @ W_U``, with TransformerLens hook names."""

    def __init__(self, d_vocab: int, d_model: int):
        super().__init__()
        self.W_E = nn.Parameter(torch.randn(d_vocab, d_model) / d_model**0.5)
        self.W_U = nn.Parameter(torch.randn(d_model, d_vocab) / d_model**0.5)
        self.hook_embed = HookPoint()      # [batch pos d_model]
        self.hook_logits = HookPoint()     # [batch pos d_vocab]
        self.setup()

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_vocab"]:
        resid = self.hook_embed(self.W_E[tokens])
        return self.hook_logits(resid @ self.W_U)


def fit(cfg: MarkovConfig, device: torch.device, progress) -> Trained:
    """Train a zero-layer transformer on fresh samples of the chain (Adam, linear decay, cross-entropy)."""
    P = transition_matrix(cfg)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    model = ZeroLayerTransformer(cfg.d_vocab, cfg.d_model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / cfg.steps)
    losses = []
    for _ in progress(range(cfg.steps), desc="markov"):
        tokens = sample_chain(P, cfg.batch, cfg.seq_len, g).to(device)
        logits = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tokens[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        decay.step()
        losses.append(loss.item())
    floor = loss_floor(P, cfg.seq_len)
    model = model.cpu()
    final = sum(losses[-100:]) / len(losses[-100:])
    return Trained(
        tensors={"W_E": model.W_E.detach(), "W_U": model.W_U.detach(), "P": P},
        metrics={"loss": [round(v, 5) for v in losses], "entropy_floor": floor, "final_loss": final},
        key_metric=("final_loss - entropy", final - floor),
    )


def loss_floor(P: Float[Tensor, "d_vocab d_vocab"], seq_len: int) -> float:
    """The least expected next-token loss in nats on sequences of ``seq_len`` started uniformly.

    At position t the current token is distributed as ``π_t = u P^t``, and the best prediction
    costs the entropy of its row: floor = mean over t < seq_len-1 of Σ_i π_t[i] H(P[i]).
    """
    row_entropy = -torch.where(P > 0, P * P.log(), torch.zeros_like(P)).sum(-1)
    pi = torch.full((P.shape[0],), 1.0 / P.shape[0], dtype=P.dtype)
    total = 0.0
    for _ in range(seq_len - 1):
        total += float(pi @ row_entropy)
        pi = pi @ P
    return total / (seq_len - 1)


def load_model(tensors: dict[str, Tensor]) -> ZeroLayerTransformer:
    """The trained model from an artifact's tensors."""
    d_vocab, d_model = tensors["W_E"].shape
    model = ZeroLayerTransformer(d_vocab, d_model)
    model.load_state_dict({"W_E": tensors["W_E"].float(), "W_U": tensors["W_U"].float()})
    return model.eval()


def weight_bigrams(W_E: Float[Tensor, "d_vocab d_model"],
                   W_U: Float[Tensor, "d_model d_vocab"]) -> Float[Tensor, "d_vocab d_vocab"]:
    """The next-token distribution the weights alone predict: ``softmax(W_E @ W_U)`` row by row."""
    return torch.softmax((W_E @ W_U).double(), dim=-1)


def row_centered(M: Float[Tensor, "rows cols"]) -> Float[Tensor, "rows cols"]:
    """``M`` minus each row's mean: the part of a logit table that softmax can see."""
    return M - M.mean(-1, keepdim=True)


def kl_rows(P: Float[Tensor, "rows cols"], Q: Float[Tensor, "rows cols"]) -> Float[Tensor, "rows"]:
    """``KL(P[i] || Q[i])`` in nats for each row (terms with ``P = 0`` count as 0)."""
    return torch.where(P > 0, P * (P.log() - Q.log()), torch.zeros_like(P)).sum(-1)


MARKOV = register(Recipe(
    name="markov-bigram",
    study="markov",
    config=MarkovConfig(),
    fit=fit,
    seconds={"cpu": 5.0},
    description="zero-layer transformer trained on a 12-state Markov chain (the worked example)",
))
