"""The losses and exact scores, against loops over every context."""

import pytest
import torch

from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.losses import (
    accuracy,
    evaluate,
    exact_divergence,
    full_divergence,
    next_token_loss,
)
from interplib.studies.memorization.model import AoTConfig, AttentionOnly


def tiny(**kw):
    torch.manual_seed(0)
    return AttentionOnly(
        AoTConfig(**{"d_vocab": 7, "d_model": 5, "d_head": 3, "n_heads": 2, **kw})
    ).double()


def test_kl_is_zero_for_the_true_law_and_losses_agree():
    law = mem.power_unif_law(
        (1, 1, 0.7), (7, 7, 7), 7, torch.Generator().manual_seed(0)
    )
    tokens, weight, target = mem.contexts(law)
    H = mem.conditional_entropy(law)
    assert exact_divergence(target.log(), weight, target).abs() < 1e-12
    assert float(accuracy(target.log(), weight, target)) == pytest.approx(1.0)
    # full divergence on the whole context set equals the exact KL when the batch is the prior
    logits = torch.randn(len(tokens), 7, dtype=torch.float64)
    fd = full_divergence(
        logits, target, 0.0
    )  # uniform prior: the mean is the weighted sum
    assert float(fd - H) == pytest.approx(
        float(exact_divergence(logits, weight, target)), rel=1e-10
    )
    ce = next_token_loss(target.log(), target.argmax(-1), H)
    assert torch.isfinite(ce)


def test_evaluate_is_exact_over_every_context():
    """KL and accuracy equal a loop over every context (t1, t2), weighted by its prior."""
    law = mem.power_unif_law((1, 1, 1), (7, 7, 1), 7, torch.Generator().manual_seed(0))
    m = tiny()
    kl = acc = 0.0
    with torch.no_grad():
        for t1 in range(7):
            for t2 in range(7):
                w, p = float(law.prior[t1, t2]), law.pi2[t1, t2]
                logq = m(torch.tensor([[t1, t2]]))[0].log_softmax(-1)
                kl += w * sum(
                    float(p[y] * (p[y].log() - logq[y])) for y in range(7) if p[y] > 0
                )
                acc += w * float(logq.argmax() == p.argmax())
    out = evaluate(m, law, chunk=5)  # chunks that split the contexts unevenly
    assert out["kl"] == pytest.approx(kl, rel=1e-12, abs=1e-15)
    assert out["accuracy"] == pytest.approx(acc, rel=1e-12, abs=1e-15)
    assert evaluate(m, law) == pytest.approx(out, rel=1e-12)
