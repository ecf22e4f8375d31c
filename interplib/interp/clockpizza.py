"""Clock or Pizza? Two diagnostics that tell the modular-addition algorithms apart.

Zhong et al. (2023) found two algorithms for a + b mod p. The **Clock** (Nanda et al.,
2023) multiplies the two inputs' waves, ``cos(w(a+b-c))``; its correct-answer logit does not
depend on ``a - b``, and the gradients of the answer with respect to the two input
embeddings differ (for one frequency their cosine is ``cos(w(a - b))``, zero on average).
The **Pizza** adds the two embeddings before a nonlinearity, so the answer's gradient is the
same vector for both inputs, and its correct logit scales with ``|cos(w(a-b)/2)|``.

* :func:`distance_irrelevance` -- how little the correct logit depends on ``a - b``: the mean
  over distances ``d`` of its spread over the pairs with ``a - b ≡ d``, over its spread over all
  pairs. Near 1 for a Clock, near 0 for a Pizza.
* :func:`gradient_symmetricity` -- the cosine between the answer logit's gradients with respect
  to the two input embeddings. Near 1 for a Pizza, near 0 (on average) for a Clock.
* :func:`distance_share` -- the share of the correct logit's variance that ``a - b`` explains
  (its class means): 1 for a Pizza, 0 for an ideal Clock.
* :func:`pizza_fit` -- the share explained by the Pizza form ``Σ_k α_k |cos(w_k(a-b)/2)|``
  fitted by least squares; at most :func:`distance_share`.

These rank a model between two idealized algorithms; what a real Clock- or Pizza-trained model
scores is measured only on such models (Zhong et al.'s attention rate 1 and 0).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

__all__ = [
    "correct_logits",
    "distance_irrelevance",
    "distance_share",
    "gradient_symmetricity",
    "pizza_fit",
]


def correct_logits(logits: Float[Tensor, "a b c"]) -> Float[Tensor, "a b"]:
    """The logit of the right answer ``(a + b) mod p`` for every pair."""
    p = logits.shape[0]
    if logits.shape != (p, p, p):
        raise ValueError(
            f"logits must be [p, p, p] (a, b, answer), got shape {tuple(logits.shape)}"
        )
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    return logits.gather(-1, ((a + b) % p).to(logits.device)[..., None]).squeeze(-1)


def distance_irrelevance(correct: Float[Tensor, "a b"]) -> float:
    """``mean_d std{L(a, b) : a - b ≡ d} / std{L(a, b)}`` of a correct-logit grid ``L``.

    Population standard deviations.

    Raises:
        ValueError: if the grid is not square or its logits are all equal (the ratio is 0/0).
    """
    p = correct.shape[0]
    if correct.shape != (p, p):
        raise ValueError(
            f"correct must be a square [p, p] grid, got shape {tuple(correct.shape)}"
        )
    total = correct.double().std(unbiased=False)
    if total == 0:
        raise ValueError(
            "the correct logit is the same for every pair, so its spread over a - b is 0/0"
        )
    a = torch.arange(p)
    shifted = correct[
        a[:, None], (a[:, None] - a[None, :]) % p
    ]  # [a, d]: the pair (a, a - d)
    return float(shifted.double().std(dim=0, unbiased=False).mean() / total)


def _by_distance(correct: Float[Tensor, "a b"]) -> Float[Tensor, "a d"]:
    """The grid rearranged so column ``d`` holds the pairs ``(a, a - d)``."""
    p = correct.shape[0]
    if correct.shape != (p, p):
        raise ValueError(
            f"correct must be a square [p, p] grid, got shape {tuple(correct.shape)}"
        )
    a = torch.arange(p, device=correct.device)
    return correct[a[:, None], (a[:, None] - a[None, :]) % p].double()


def distance_share(correct: Float[Tensor, "a b"]) -> float:
    """Share of the correct logit's variance explained by ``a - b``: between-class variance of
    the ``p`` classes ``a - b ≡ d`` over the total (equal classes, population variances)."""
    shifted = _by_distance(correct)
    total = shifted.var(unbiased=False)
    if total == 0:
        raise ValueError("the correct logit is the same for every pair: no variance")
    return float(shifted.mean(0).var(unbiased=False) / total)


def pizza_fit(correct: Float[Tensor, "a b"], freqs: list[int]) -> float:
    """R² of the Pizza form ``c + Σ_k α_k |cos(w_k (a - b) / 2)|`` fitted to the correct logit.

    ``freqs`` are the model's key frequencies, ``w_k = 2πk/p``; least squares over every pair.
    """
    shifted = _by_distance(correct)
    p = shifted.shape[0]
    if not freqs or any(not 1 <= k <= (p - 1) // 2 for k in freqs):
        raise ValueError(f"freqs={freqs}: use frequencies in 1..{(p - 1) // 2}")
    d = torch.arange(p, dtype=torch.float64, device=shifted.device)
    k = torch.tensor(freqs, dtype=torch.float64, device=shifted.device)
    features = torch.cos(torch.pi * k[None, :] * d[:, None] / p).abs()  # [d k]
    X = torch.cat([torch.ones(p, 1, dtype=torch.float64), features], dim=-1)
    y = shifted.T  # [d a]: every a of class d shares the features of d
    X_all = X.repeat_interleave(p, dim=0)
    coef = torch.linalg.lstsq(X_all, y.reshape(-1, 1)).solution
    residual = y.reshape(-1) - (X_all @ coef).squeeze(-1)
    centred = y.reshape(-1) - y.mean()
    return float(1 - residual.pow(2).sum() / centred.pow(2).sum())


def gradient_symmetricity(
    answer_logits: Callable[[Tensor], Tensor],
    embedded: Float[Tensor, "batch pos d_model"],
    answers: Int[Tensor, " batch"],
    positions: tuple[int, int] = (0, 1),
) -> Float[Tensor, " batch"]:
    """Cosine between ``∂ logit_answer / ∂ x_a`` and ``∂ logit_answer / ∂ x_b`` for each input.

    ``answer_logits`` maps the embedded inputs ``[batch pos d_model]`` to the logits at the
    answer position ``[batch p]``; ``positions`` are where ``a`` and ``b`` sit. Each row's
    logit depends on its own row only, so one backward pass gives every row's gradients.
    """
    if answers.shape != embedded.shape[:1]:
        raise ValueError(
            f"answers has shape {tuple(answers.shape)}; need one answer per input row "
            f"({embedded.shape[0]})"
        )
    x = embedded.detach().clone().requires_grad_()
    with torch.enable_grad():
        chosen = answer_logits(x).gather(-1, answers[:, None].to(x.device)).sum()
        (grad,) = torch.autograd.grad(chosen, x)
    return F.cosine_similarity(grad[:, positions[0]], grad[:, positions[1]], dim=-1)
