"""The losses and exact scores of the memorization study.

Both training losses are reported minus the conditional entropy ``H̄``, so each estimates the
expected KL to the law (eq-memo-kl): :func:`next_token_loss` on sampled next tokens,
:func:`full_divergence` against the whole row. :func:`exact_divergence` and :func:`accuracy`
score every context of a law once, weighted by its prior; :func:`evaluate` runs a model on
all of them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.studies.memorization.laws import TrigramLaw, contexts

__all__ = [
    "next_token_loss",
    "full_divergence",
    "exact_divergence",
    "accuracy",
    "evaluate",
]


def next_token_loss(
    logits: Float[Tensor, "batch d_vocab"],
    target: Int[Tensor, " batch"],
    entropy: float = 0.0,
) -> Float[Tensor, ""]:
    """Cross-entropy on sampled next tokens minus ``H̄``: an unbiased estimate of the expected KL."""
    return F.cross_entropy(logits, target) - entropy


def full_divergence(
    logits: Float[Tensor, "batch d_vocab"],
    target: Float[Tensor, "batch d_vocab"],
    entropy: float = 0.0,
) -> Float[Tensor, ""]:
    """Cross-entropy to the true conditional rows minus ``H̄``.

    The KL, sampled over contexts only.
    """
    return -(target * logits.log_softmax(-1)).sum(-1).mean() - entropy


def exact_divergence(
    logits: Float[Tensor, "context d_vocab"],
    weight: Float[Tensor, " context"],
    target: Float[Tensor, "context d_vocab"],
) -> Float[Tensor, ""]:
    """``Σ_z π(z) KL(π2(·|z) ‖ softmax(logits_z))`` over every context (``0 log 0 = 0``)."""
    logp = logits.double().log_softmax(-1)
    t = target.double()
    kl = torch.where(
        t > 0, t * (t.clamp_min(1e-300).log() - logp), torch.zeros_like(t)
    ).sum(-1)
    return (weight.double() * kl).sum()


def accuracy(
    logits: Float[Tensor, "context d_vocab"],
    weight: Float[Tensor, " context"],
    target: Float[Tensor, "context d_vocab"],
) -> Float[Tensor, ""]:
    """Weight of the contexts whose top logit is the most likely next token (exact, no sampling)."""
    return (weight.double() * (logits.argmax(-1) == target.argmax(-1)).double()).sum()


@torch.no_grad()
def evaluate(model: nn.Module, law: TrigramLaw, chunk: int = 4096) -> dict[str, float]:
    """Exact KL and accuracy of ``model`` over every context of ``law``, in eval mode."""
    tokens, weight, target = contexts(law)
    device = next(model.parameters()).device
    logits = torch.cat(
        [
            model(tokens[i : i + chunk].to(device)).cpu()
            for i in range(0, len(tokens), chunk)
        ]
    )
    return {
        "kl": float(exact_divergence(logits, weight, target)),
        "accuracy": float(accuracy(logits, weight, target)),
    }
