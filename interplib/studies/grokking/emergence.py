"""When the key frequencies appear, and how large the logits grow, from the kept checkpoints.

The recipes log scalar measures for every seed every 100 epochs, but keep full weights only for
the first seed at a few epochs (``GrokConfig.checkpoints``) and at the end. So anything that
needs the weights over training (a frequency's rank in the embedding, the logits' size) is
measured on seed 0 at those epochs: :func:`seed0_snapshots` rebuilds them (epoch 0 from the
seed, since initialisation is deterministic), :func:`frequency_ranks` follows each final key
frequency's rank and energy share, and :func:`logit_scale` measures the logits that the
softmax-collapse account of Prieto et al. (2025) is about.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from interplib.core import recipes
from interplib.studies.grokking.measures import logit_statistics
from interplib.studies.grokking.model import GrokTransformer
from interplib.studies.grokking.task import dataset

__all__ = ["frequency_ranks", "logit_scale", "seed0_snapshots", "top_set_epoch"]


def seed0_snapshots(name: str) -> dict[int, GrokTransformer]:
    """Seed 0 of recipe ``name`` at epoch 0 (rebuilt from its seed), every kept checkpoint and
    the end, by epoch."""
    cfg = recipes.get(name).config
    torch.manual_seed(cfg.seeds[0])
    out = {0: GrokTransformer(cfg).eval()}
    for epoch in cfg.checkpoints:
        out[epoch] = recipes.load_model(name, prefix=f"epoch{epoch}")[0]
    out[cfg.epochs] = recipes.load_model(name)[0]
    return out


def frequency_ranks(
    norms: Float[Tensor, "snapshot freq"], freqs: list[int]
) -> tuple[Float[Tensor, "snapshot key"], Float[Tensor, "snapshot key"]]:
    """Each frequency of ``freqs``' rank (1 = largest norm) and share of the energy per snapshot.

    ``norms`` are :func:`~interplib.interp.fourier.frequency_norms` of one matrix at several
    snapshots; the share is ``norm_k² / Σ norm²``.
    """
    n = norms.shape[-1]
    bad = [k for k in freqs if not 1 <= k <= n]
    if norms.ndim != 2 or bad:
        raise ValueError(
            f"need [snapshot, freq] norms and frequencies in 1..{n}; got shape "
            f"{tuple(norms.shape)} and out-of-range {bad}"
        )
    order = norms.argsort(-1, descending=True)
    rank = order.argsort(-1) + 1  # rank[s, k-1] of frequency k
    idx = torch.tensor([k - 1 for k in freqs])
    energy = norms.double().pow(2)
    return rank[:, idx], (energy / energy.sum(-1, keepdim=True))[:, idx]


def top_set_epoch(
    epochs: list[int], ranks: Float[Tensor, "snapshot key"]
) -> int | None:
    """The first of ``epochs`` from which on the final key frequencies are the top ``|K|``.

    That is, from which every snapshot ranks them 1..|K| (in any order); None if even the last
    snapshot does not.
    """
    if len(epochs) != ranks.shape[0]:
        raise ValueError(f"{len(epochs)} epochs for {ranks.shape[0]} snapshots")
    on_top = (ranks <= ranks.shape[-1]).all(-1).tolist()
    for i in range(len(on_top)):
        if all(on_top[i:]):
            return epochs[i]
    return None


@torch.no_grad()
def logit_scale(model: GrokTransformer) -> dict[str, float]:
    """The size of the logits at ``=`` over every pair.

    ``rms``: root mean square of the logits, each pair's mean removed (what softmax sees);
    ``margin``: the median gap between the correct logit and the largest other one. Logits that
    keep growing push the softmax towards exact 0s and 1s in floating point, the
    "softmax collapse" that Prieto et al. (2025) blame for grokking stalling:
    ``collapsed_float32`` and ``collapsed_float64`` are the shares of pairs whose correct answer
    gets a softmax probability of exactly 1 in that precision (no gradient from that logit).
    """
    tokens, labels = dataset(model.unembed.out_features)
    logits = model(tokens[:, : model.pos_embed.num_embeddings])[:, -1]
    return {k: float(v[0]) for k, v in logit_statistics(logits[None], labels).items()}
