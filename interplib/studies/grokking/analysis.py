"""Reading a trained modular-addition model: the measurements of the grokking chapter.

Everything is read at the ``=`` position, where the answer is, over the full grid of inputs
``(a, b)``; the functions take a TransformerLens bridge
(:func:`interplib.studies.grokking.model.to_bridge`) or its training twin and work for any of
the three weight variants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.interp import fourier
from interplib.studies.grokking import controls
from interplib.studies.grokking.emergence import logit_scale
from interplib.studies.grokking.measures import clock_pizza
from interplib.studies.grokking.model import (
    GrokConfig,
    GrokTransformer,
    effective_state_dict,
    to_bridge,
)
from interplib.studies.grokking.task import dataset

__all__ = [
    "AnswerCache",
    "answer_cache",
    "first_epoch",
    "frequency_overlap",
    "jaccard",
    "neuron_clusters",
    "ov_neuron_circuit",
    "summarize",
    "values_at",
]

PATTERN, NEURONS = "blocks.0.attn.hook_pattern", "blocks.0.mlp.hook_post"


@dataclass(frozen=True)
class AnswerCache:
    """What the model computes at ``=`` for every pair, on the ``(a, b)`` grid."""

    pattern: Float[Tensor, "head a b key"]  # attention from `=` to the keys a, b, `=`
    neurons: Float[Tensor, "neuron a b"]  # the MLP's ReLU outputs
    logits: Float[Tensor, "a b c"]


def answer_cache(bridge, p: int) -> AnswerCache:
    """Run all ``p²`` inputs ``[a, b, =]`` through ``bridge``.

    Keeps what the chapter reads, in float64.
    """
    tokens, _ = dataset(p)
    with torch.no_grad():
        logits, cache = bridge.run_with_cache(
            tokens, names_filter=lambda name: name in (PATTERN, NEURONS)
        )
    return AnswerCache(
        pattern=einops.rearrange(
            cache[PATTERN][:, :, -1], "(a b) head key -> head a b key", a=p
        ).double(),
        neurons=einops.rearrange(
            cache[NEURONS][:, -1], "(a b) neuron -> neuron a b", a=p
        ).double(),
        logits=einops.rearrange(logits[:, -1], "(a b) c -> a b c", a=p).double(),
    )


@torch.no_grad()
def ov_neuron_circuit(bridge, p: int) -> Float[Tensor, "head x neuron"]:
    """``W_E[x] W_V^h W_O^h W_in``: how residue ``x`` at a key position drives each neuron through
    head ``h``'s value, per unit of attention (the effective, quantized matrices where they are).

    This is the product the original notebook meant by ``sign(W_in) @ sign(W_O) @ sign(W_V)``,
    with BitNet's centring, scales and zeros kept and the embedding in front.
    """
    return einops.einsum(
        bridge.W_E[:p].double(),
        bridge.W_V[0].double(),
        bridge.W_O[0].double(),
        bridge.W_in[0].double(),
        "x d, head d h, head h e, e neuron -> head x neuron",
    )


def first_epoch(
    epochs: Int[Tensor, " snapshot"],
    values: Float[Tensor, "model snapshot"],
    at_least: float,
) -> list[int | None]:
    """For each model, the first logged epoch at which ``values`` reaches ``at_least``.

    None if it never does.
    """
    if values.ndim != 2 or values.shape[1] != epochs.shape[0]:
        raise ValueError(
            f"values has shape {tuple(values.shape)}; need [model, {epochs.shape[0]}] to match "
            f"the {epochs.shape[0]} logged epochs"
        )
    reached = values >= at_least
    return [int(epochs[row.nonzero()[0, 0]]) if row.any() else None for row in reached]


def values_at(
    epochs: Int[Tensor, " snapshot"],
    values: Float[Tensor, "model snapshot"],
    at: Sequence[int],
) -> Float[Tensor, " model"]:
    """Each model's value at its own logged epoch: ``values[m, epochs.index(at[m])]``.

    ``at`` holds one epoch per model (e.g. each seed's phase mark from :func:`first_epoch`);
    every one must be a logged epoch.
    """
    if values.ndim != 2 or values.shape != (len(at), epochs.shape[0]):
        raise ValueError(
            f"values has shape {tuple(values.shape)}; need [model, snapshot] = "
            f"[{len(at)}, {epochs.shape[0]}] for {len(at)} epochs and {epochs.shape[0]} logs"
        )
    logged = epochs.tolist()
    missing = [e for e in at if e not in logged]
    if missing:
        raise ValueError(
            f"epochs {missing} were not logged; pick from the {len(logged)} logged epochs "
            f"({logged[0]}, {logged[1] if len(logged) > 1 else ''}, ...)"
        )
    index = torch.tensor([logged.index(e) for e in at], device=values.device)
    return values[torch.arange(len(at), device=values.device), index]


def jaccard(x: list[int], y: list[int]) -> float:
    """``|x ∩ y| / |x ∪ y|`` of two sets of frequencies: 1 when equal, 0 when disjoint."""
    if not x or not y:
        raise ValueError("jaccard needs two non-empty sets of frequencies")
    return len(set(x) & set(y)) / len(set(x) | set(y))


def frequency_overlap(freqs: dict[str, list[list[int]]]) -> dict[str, float]:
    """How much the key-frequency sets of two variants overlap, by whether the models share a seed.

    ``freqs[variant][s]`` is the key-frequency set of that variant's ``s``-th seed (the same seeds
    in every variant). Returns the mean :func:`jaccard` over pairs of models of *different*
    variants with the same seed (``same_seed``) and with different seeds (``other_seed``, the
    control: what two unrelated models share), and over pairs within a variant (``within``).
    """
    counts = {len(v) for v in freqs.values()}
    if len(freqs) < 2 or len(counts) != 1 or counts == {1}:
        raise ValueError(
            f"need at least two variants with the same number (> 1) of seeds, got "
            f"{ {k: len(v) for k, v in freqs.items()} }"
        )
    pairs: dict[str, list[float]] = {"same_seed": [], "other_seed": [], "within": []}
    names = list(freqs)
    for i, u in enumerate(names):
        for v in names[i:]:
            for s, x in enumerate(freqs[u]):
                for t, y in enumerate(freqs[v]):
                    if u != v:
                        pairs["same_seed" if s == t else "other_seed"].append(
                            jaccard(x, y)
                        )
                    elif s < t:
                        pairs["within"].append(jaccard(x, y))
    return {k: sum(v) / len(v) for k, v in pairs.items()}


def neuron_clusters(
    acts: Float[Tensor, "neuron a b"], threshold: float = 0.85
) -> dict[str, Any]:
    """Group neurons by the one frequency that explains more than ``threshold`` of their variance.

    Returns ``sizes`` (frequency -> number of explained neurons, ascending in frequency),
    ``explained`` (fraction of all neurons in a cluster), ``dead`` (neurons that are 0 on every
    input: no variance to explain, so in no cluster) and ``best`` (each neuron's best fraction,
    0 for a dead one). This is Nanda et al.'s clustering (their 85 %).
    """
    if not 0 < threshold < 1:
        raise ValueError(
            f"threshold={threshold}: use a fraction of the variance in (0, 1)"
        )
    fractions = fourier.neuron_frequency_fractions(acts).nan_to_num(
        0.0
    )  # a dead neuron is 0/0
    best = fractions.max(-1)
    inside = best.values > threshold
    freqs, counts = (best.indices[inside] + 1).unique(return_counts=True)
    return {
        "sizes": dict(zip(freqs.tolist(), counts.tolist())),
        "explained": float(inside.double().mean()),
        "dead": int((acts.flatten(1).amax(-1) <= 0).sum()),
        "best": best.values,
    }


@torch.no_grad()
def summarize(
    cfg: GrokConfig, model: GrokTransformer, threshold: float = 0.85
) -> dict[str, Any]:
    """Every per-model number of the chapter's comparison table, for one trained model.

    Key frequencies come from the model's own embedding
    (:func:`~interplib.interp.fourier.key_frequencies`); a neuron is *explained* when one
    frequency holds more than ``threshold`` of its variance over the grid, as in Nanda et al.
    (2023), and the frequencies of those neurons are the ones the model *uses*
    (``cluster_freqs``). The gradient symmetricity is Zhong et al.'s (2023, their Def. 4.1): the
    mean over every pair (a, b), each with an output c drawn at random (seeded), of the cosine
    between the gradients of logit c with respect to the two input embeddings.

    Beside each transfer measure sits its control (:mod:`.controls`): the input-to-neuron
    path's key share (``ov_key_share``) beside the same share after a Gaussian matrix
    (``ov_random_share``), ``W_L``'s frequencies and share beside the unembedding's alone
    (``unembed_*``), and the neuron ablations (``keep``/``remove`` the key frequencies) beside
    removing as many non-key ones (``remove_control``).
    """
    p = cfg.p
    bridge = to_bridge(cfg, effective_state_dict(model))
    cache = answer_cache(bridge, p)
    W_E = bridge.W_E[:p].double()
    freqs = fourier.key_frequencies(W_E)
    clusters = neuron_clusters(cache.neurons, threshold)
    used = sorted(clusters["sizes"])
    W_U = bridge.W_U.double()  # [d_model c]
    W_L = (bridge.W_out[0] @ bridge.W_U).double()  # [neuron c]
    ov = einops.rearrange(
        ov_neuron_circuit(bridge, p), "head x neuron -> x (head neuron)"
    )
    # a control set: as many frequencies as the key set, none of them key (seeded); a
    # model whose every frequency is key (an untrained one on a small p) has none
    others = [k for k in range(1, p // 2 + 1) if k not in freqs]
    pick = torch.randperm(len(others), generator=torch.Generator().manual_seed(0))
    control = sorted(others[i] for i in pick[: len(freqs)].tolist())
    sets = {"keep": (freqs, True), "remove": (freqs, False)}
    if len(control) == len(freqs):
        sets["remove_control"] = (control, False)
    ablations = controls.neuron_frequency_ablation(model, sets)
    ablations.setdefault("remove_control", {"loss": math.nan, "accuracy": math.nan})
    _, pc_share = controls.component_frequencies(W_E, min(2 * len(freqs), p - 1))
    return {
        "key_freqs": freqs,
        "n_key_freqs": len(freqs),
        "cluster_freqs": used,
        "n_cluster_freqs": len(used),
        "logit_map_freqs": fourier.key_frequencies(W_L.T),
        "unembed_freqs": fourier.key_frequencies(W_U.T),
        "embed_key_share": fourier.frequency_share(W_E, freqs),
        "embed_pc_wave_share": float(pc_share.mean()),
        "neurons_explained": clusters["explained"],
        "dead_neurons": clusters["dead"],
        "logit_map_key_share": fourier.frequency_share(W_L.T, freqs),
        "unembed_key_share": fourier.frequency_share(W_U.T, freqs),
        "logit_map_rank_residual": controls.residual_norm_share(W_L, 2 * len(used)),
        "ov_key_share": fourier.frequency_share(ov, freqs),
        "ov_random_share": float(
            controls.random_map_share(W_E, freqs, ov.shape[-1], draws=3).mean()
        ),
        **{f"{k}_loss": v["loss"] for k, v in ablations.items()},
        **{f"{k}_accuracy": v["accuracy"] for k, v in ablations.items()},
        "cos_sum_fraction": fourier.cos_sum_fraction(cache.logits, freqs),
        **clock_pizza(cfg, model, freqs)[0],
        "attention_to_a_std": float(cache.pattern[..., 0].std(dim=(1, 2)).mean()),
        **{f"logit_{k}": v for k, v in logit_scale(model).items()},
    }
