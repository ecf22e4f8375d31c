"""Interaction forms as a finding: their spectra against a control, and a causal check.

* :func:`spectrum_stats`: effective rank and top-k energy share of ``S_t`` for many output
  tokens at once, to compare a trained model with a randomly initialised one.
* :func:`normalized_interaction`: ``Q_ab / √|Q_aa Q_bb|``, which puts pair terms on the
  scale of the two tokens' own terms, so a genuine pair stands out from the product of two
  large diagonal entries.
* :func:`eigen_ablation`: the causal check of Pearce et al. (2025): remove the top
  eigenvectors of one output's form from the MLP's input on real positions and measure how
  that output's logit moves, against the same number of random directions, against the
  top eigenvectors of another output's form, and against the other outputs' logits.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.interp import bilinear as bl

__all__ = ["spectrum_stats", "normalized_interaction", "eigen_ablation"]


def spectrum_stats(
    model: bl.BilinearLayout, tokens: Int[Tensor, " n"], layer: int, k: int = 10
) -> Float[Tensor, "n 2"]:
    """For each output token t: ``[effective rank, share of Σλ² in the k largest |λ|]`` of
    layer ``layer``'s form ``S_t``. Cost O(n·(d²·h + d³))."""
    rows = []
    for t in tokens.tolist():
        lam = bl.interaction_eigen(model, t, layer).eigenvalues
        energy = lam.pow(2)
        rows.append((bl.effective_rank(lam), float(energy[:k].sum() / energy.sum())))
    return torch.tensor(rows, dtype=torch.float64)


def normalized_interaction(Q: Float[Tensor, "a a"]) -> Float[Tensor, "a a"]:
    """``Q_ab / √|Q_aa Q_bb|`` (0 where a diagonal entry is 0); the diagonal becomes ±1."""
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
        raise ValueError(f"Q must be square, got {tuple(Q.shape)}")
    scale = Q.diagonal().abs().sqrt()
    denom = scale[:, None] * scale[None, :]
    return torch.where(denom > 0, Q / denom.clamp_min(1e-30), torch.zeros_like(Q))


@torch.no_grad()
def _logits_without(
    model: bl.BilinearLayout,
    layer: int,
    basis: Float[Tensor, "d_model k"] | None,
    tokens: Int[Tensor, "batch pos"],
) -> Float[Tensor, "batch pos d_vocab"]:
    """The model's logits with the span of ``basis`` (orthonormal columns) projected out of
    layer ``layer``'s MLP input (after its norm and gain)."""
    if basis is None:
        return model(tokens)

    def project(module, args, out):
        return out - (out @ basis) @ basis.T

    handle = model.blocks[layer].ln2.register_forward_hook(project)
    try:
        return model(tokens)
    finally:
        handle.remove()


@torch.no_grad()
def eigen_ablation(
    model: bl.BilinearLayout,
    token: int,
    layer: int,
    tokens: Int[Tensor, "batch pos"],
    k: int,
    seed: int = 0,
    control: int | None = None,
) -> dict[str, float]:
    """Remove the ``k`` eigenvectors of ``S_token`` with the largest ``|λ|`` from the MLP's input.

    Returns mean changes over every position of ``tokens``: ``"Δ target"`` (signed mean
    change of the target's logit), ``"|Δ| target"``, ``"|Δ| other outputs"`` (mean absolute
    change of every other logit) and ``"|Δ| target, random"`` (the target's absolute change
    when k random orthonormal directions are removed instead, seed ``seed``); with
    ``control`` (another output token) also ``"|Δ| target, control's form"``, the target's
    absolute change when the top ``k`` eigenvectors of ``S_control`` are removed. The
    unembedding should be centred over the vocabulary (``process_weights``), so that a
    logit's change is a change against the mean logit.
    """
    d = model.cfg.d_model
    if not 0 < k <= d:
        raise ValueError(f"k={k}: remove between 1 and d_model={d} directions")
    top = bl.interaction_eigen(model, token, layer).eigenvectors[:, :k]
    g = torch.Generator().manual_seed(seed)
    random, _ = torch.linalg.qr(torch.randn(d, k, generator=g, dtype=top.dtype))
    base = _logits_without(model, layer, None, tokens)
    delta = _logits_without(model, layer, top, tokens) - base
    delta_random = _logits_without(model, layer, random, tokens) - base
    others = torch.ones(delta.shape[-1], dtype=torch.bool)
    others[token] = False
    out = {
        "Δ target": float(delta[..., token].mean()),
        "|Δ| target": float(delta[..., token].abs().mean()),
        "|Δ| other outputs": float(delta[..., others].abs().mean()),
        "|Δ| target, random": float(delta_random[..., token].abs().mean()),
    }
    if control is not None:
        basis = bl.interaction_eigen(model, control, layer).eigenvectors[:, :k]
        moved = _logits_without(model, layer, basis, tokens) - base
        out["|Δ| target, control's form"] = float(moved[..., token].abs().mean())
    return out
