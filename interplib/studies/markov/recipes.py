"""The worked example's recipe: a zero-layer transformer trained on a 12-state Markov chain."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from interplib.core.artifacts import Artifact
from interplib.core.recipes import Recipe, Trained, register
from interplib.studies.markov.analysis import loss_floor
from interplib.studies.markov.model import (
    MarkovConfig,
    ZeroLayerTransformer,
    sample_chain,
    transition_matrix,
)

__all__ = ["fit", "model_from_artifact"]


def fit(cfg: MarkovConfig, device: torch.device, progress) -> Trained:
    """Train a zero-layer transformer on fresh samples of the chain.

    Adam, linear decay, cross-entropy.
    """
    P = transition_matrix(cfg)
    g = torch.Generator().manual_seed(cfg.seed + 1)
    model = ZeroLayerTransformer(cfg.d_vocab, cfg.d_model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    decay = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / cfg.steps)
    losses = []
    for _ in progress(range(cfg.steps), desc="markov"):
        tokens = sample_chain(P, cfg.batch, cfg.seq_len, g).to(device)
        logits = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(
            logits.flatten(0, 1), tokens[:, 1:].flatten()
        )
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
        metrics={
            "loss": [round(v, 5) for v in losses],
            "entropy_floor": floor,
            "final_loss": final,
        },
        key_metric=("final_loss - entropy", final - floor),
    )


def model_from_artifact(cfg: MarkovConfig, art: Artifact) -> ZeroLayerTransformer:
    """The trained model an artifact holds (the loader of ``markov-bigram``)."""
    tensors = art.tensors
    d_vocab, d_model = tensors["W_E"].shape
    model = ZeroLayerTransformer(d_vocab, d_model)
    model.load_state_dict(
        {"W_E": tensors["W_E"].float(), "W_U": tensors["W_U"].float()}
    )
    return model.eval()


register(
    Recipe(
        name="markov-bigram",
        study="markov",
        config=MarkovConfig(),
        fit=fit,
        loader=model_from_artifact,
        smoke=lambda cfg: replace(cfg, steps=20),
        seconds={"cpu": 5.0},
        description=(
            "zero-layer transformer trained on a 12-state Markov chain (the worked example)"
        ),
    )
)
