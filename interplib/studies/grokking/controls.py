"""Controls and causal checks for the grokking models' transfer measures.

A measure such as "the input-to-neuron path puts 99 % of its energy in the key frequencies"
says something about the quantized matrices only if a matrix that knows nothing about the task
would not give the same: :func:`random_map_share` puts a Gaussian matrix in their place.
:func:`neuron_frequency_ablation` is Nanda et al.'s (2023, §4.4) causal test: keep only, or
remove, the key ``cos/sin w_k(a+b)`` components of the neurons and run the rest of the model.
:func:`residual_norm_share` measures how far a matrix is from low rank (their "W_L is about
rank 10"), and :func:`component_frequencies` reads the embedding's principal components as
waves (the TransformerLens demo's sinusoids).
"""

from __future__ import annotations

from typing import cast

import einops
import torch
from jaxtyping import Float
from torch import Tensor

from interplib.interp.fourier import frequency_norms, frequency_share, sum_directions
from interplib.studies.grokking.model import Block, GrokTransformer
from interplib.studies.grokking.task import dataset

__all__ = [
    "component_frequencies",
    "neuron_frequency_ablation",
    "random_map_share",
    "residual_norm_share",
]


def random_map_share(
    W: Float[Tensor, "x d"],
    freqs: list[int],
    d_out: int,
    draws: int = 20,
    seed: int = 0,
) -> Float[Tensor, " draw"]:
    """``frequency_share(W G, freqs)`` for Gaussian matrices ``G`` of shape ``[d, d_out]``.

    The control for any path that starts at ``W`` (e.g. ``W_E`` followed by the value, output
    and MLP-input matrices): a linear map of ``W``'s columns keeps the Fourier spectrum over
    ``x`` in expectation, so a share this high comes from ``W`` alone, not from the map.
    """
    if draws < 1 or d_out < 1:
        raise ValueError(f"draws={draws}, d_out={d_out}: both must be at least 1")
    g = torch.Generator().manual_seed(seed)
    W = W.double()
    return torch.tensor(
        [
            frequency_share(
                W @ torch.randn(W.shape[-1], d_out, generator=g, dtype=torch.float64),
                freqs,
            )
            for _ in range(draws)
        ],
        dtype=torch.float64,
    )


def residual_norm_share(W: Float[Tensor, "m n"], rank: int) -> float:
    """``‖W − W_rank‖ / ‖W‖`` (Frobenius), ``W_rank`` its best rank-``rank`` approximation.

    Nanda et al. report under 0.0055 for their ``W_L`` at rank 10 (two directions per key
    frequency).
    """
    s = torch.linalg.svdvals(W.double())
    if not 0 <= rank <= len(s):
        raise ValueError(f"rank={rank}: use 0..{len(s)} for a {tuple(W.shape)} matrix")
    return float(s[rank:].pow(2).sum().sqrt() / s.pow(2).sum().sqrt())


def component_frequencies(
    W: Float[Tensor, "x d"], n: int = 8
) -> tuple[list[int], Float[Tensor, " component"]]:
    """The first ``n`` principal components of ``W``'s rows, each read as a wave over ``x``.

    Returns each component's strongest frequency and the share of its energy (constant
    excluded) in that frequency: near 1 when the component is a sinusoid, about ``1/56`` spread
    evenly for noise (p = 113).
    """
    centred = W.double() - W.double().mean(0)
    U, _, _ = torch.linalg.svd(centred, full_matrices=False)
    if not 1 <= n <= U.shape[1]:
        raise ValueError(f"n={n}: use 1..{U.shape[1]} components")
    energy = frequency_norms(U[:, :n, None].transpose(0, 1)).pow(2)  # [component freq]
    best = energy.argmax(-1)
    return (best + 1).tolist(), energy.max(-1).values / energy.sum(-1)


@torch.no_grad()
def neuron_frequency_ablation(
    model: GrokTransformer, ablations: dict[str, tuple[list[int], bool]]
) -> dict[str, dict[str, float]]:
    """Loss and accuracy over all pairs with the neurons' key ``w_k(a+b)`` parts kept or removed.

    The neurons at ``=`` are functions on the ``(a, b)`` grid; their projection on the
    orthonormal ``cos/sin w_k(a+b)`` directions of some frequencies
    (:func:`~interplib.interp.fourier.sum_directions`) is the clock's part.
    ``ablations[name] = (freqs, keep)``: ``keep=True`` replaces each neuron by its grid mean
    plus that part, ``keep=False`` subtracts it. The ablated neurons
    then go through the (effective) output matrix and the unembedding beside the unchanged
    residual stream; one forward pass serves every ablation. Nanda et al. (2023, §4.4):
    keeping only the key parts lowers the loss, removing them sends it above chance.
    """
    p = model.unembed.out_features
    tokens, labels = dataset(p)
    resid = model.embedded(tokens)
    block = cast(Block, model.blocks[0])
    resid = (resid + block.attn(resid))[
        :, -1
    ].double()  # resid_mid at `=`: [pair d_model]
    mlp_in = getattr(block.mlp, "in")
    acts = torch.relu(mlp_in(resid.to(mlp_in.weight.dtype))).double()
    grid = einops.rearrange(acts, "(a b) neuron -> neuron a b", a=p)
    mean = grid.mean((-2, -1), keepdim=True)
    out = block.mlp.out
    W_out, b_out = out.effective_weight().double(), out.bias.double()
    results = {}
    for name, (freqs, keep) in ablations.items():
        dirs = sum_directions(p, freqs)  # [direction a b]
        coeffs = einops.einsum(
            grid, dirs, "neuron a b, direction a b -> neuron direction"
        )
        clock = einops.einsum(
            coeffs, dirs, "neuron direction, direction a b -> neuron a b"
        )
        ablated = einops.rearrange(
            mean + clock if keep else grid - clock, "neuron a b -> (a b) neuron"
        )
        final = resid + ablated @ W_out.T + b_out
        logits = final @ model.unembed.weight.double().T + model.unembed.bias.double()
        results[name] = {
            "loss": float(-logits.log_softmax(-1).gather(-1, labels[:, None]).mean()),
            "accuracy": float((logits.argmax(-1) == labels).double().mean()),
        }
    return results
