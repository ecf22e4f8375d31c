"""Nanda et al.'s progress measures, computed for a stack of snapshots of the grokking models.

:func:`progress_measures` gives, for every stored snapshot of every seed, the train and test
loss and accuracy, the restricted and excluded losses over the run's key frequencies, the
Gini coefficients of the embedding's and neuron-logit map's Fourier norms and the weight
norm; :func:`quantization_measures` adds, for quantized variants, the fraction of quantized
weights that flipped between snapshots. :func:`measure_grid` builds the constants once per fit.
:func:`logit_measures` logs how large the logits grow (:func:`logit_statistics`), the quantity
of Prieto et al.'s (2025) softmax-collapse account, for the sweeps' variant configs.
:func:`clock_pizza` gives one trained model's four Clock/Pizza diagnostics, the one
definition both the chapter's summary and the sweeps' fit use.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.interp import clockpizza
from interplib.interp.fourier import frequency_norms, gini
from interplib.studies.grokking.model import (
    QUANTIZED,
    GrokConfig,
    GrokTransformer,
    options,
)
from interplib.studies.grokking.quantize import (
    Weights,
    flip_fraction,
    quantized,
)
from interplib.studies.grokking.task import dataset, train_mask
from interplib.studies.grokking.training import stacked_answer_logits, sum_of_squares

__all__ = [
    "clock_pizza",
    "neuron_logit_map",
    "MeasureGrid",
    "measure_grid",
    "progress_measures",
    "quantization_measures",
    "logit_statistics",
    "logit_measures",
]


def neuron_logit_map(
    params: dict[str, Tensor], weights: Weights, quantize_unembed: bool = False
) -> Float[Tensor, "model d_mlp p"]:
    """``W_L = W_out W_U`` in TL's row form, from the effective (quantized) MLP output weights
    (and unembedding, with ``quantize_unembed``)."""
    W_out = quantized(
        params["blocks.0.mlp.out.weight"], weights, stacked=True
    )  # [model d_model d_mlp]
    W_U = params["unembed.weight"]
    return einops.einsum(
        W_out,
        quantized(W_U, weights, stacked=True) if quantize_unembed else W_U,
        "model d_model d_mlp, model p d_model -> model d_mlp p",
    )


@dataclass(frozen=True)
class MeasureGrid:
    """What every measure of one fit shares.

    Built once on the training device (:func:`measure_grid`). Measuring a stack of snapshots
    then runs a handful of large device operations and no per-model work on the host: the pairs,
    their labels, the train/test cells (as indices, so selecting them needs no host sync), each
    model's key directions and the Fourier basis.
    """

    tokens: Int[Tensor, "pair pos"]  # every input [a, b, =], row-major in (a, b)
    labels: Int[Tensor, " pair"]
    train: Int[Tensor, " n_train"]  # indices of the training pairs, ascending
    test: Int[Tensor, " n_test"]
    directions: Float[
        Tensor, "model direction a b"
    ]  # each model's cos/sin w_k(a+b), zero-padded
    basis: Float[Tensor, "component x"]  # fourier_basis(p), float64

    @property
    def n_models(self) -> int:
        return self.directions.shape[0]


def measure_grid(
    cfg: GrokConfig, freqs: list[list[int]], device: torch.device
) -> MeasureGrid:
    """The constants of :func:`progress_measures` for models with key frequencies ``freqs[m]``."""
    from interplib.interp.fourier import fourier_basis, sum_directions

    tokens, labels = dataset(cfg.p)
    is_train = train_mask(cfg.p, cfg.frac_train, cfg.data_seed)
    width = 2 * max(len(f) for f in freqs)
    return MeasureGrid(
        tokens=tokens[:, : cfg.n_ctx].to(device),  # Zhong et al.'s inputs have no `=`
        labels=labels.to(device),
        train=is_train.nonzero().flatten().to(device),
        test=(~is_train).nonzero().flatten().to(device),
        directions=torch.stack(
            [sum_directions(cfg.p, f, width=width) for f in freqs]
        ).to(device),
        basis=fourier_basis(cfg.p).to(device),
    )


def progress_measures(
    cfg: GrokConfig, snapshot: dict[str, Tensor], grid: MeasureGrid | list[list[int]]
) -> dict[str, Tensor]:
    """Every logged measure of a ``[model ...]`` stack of weights: name -> ``[model]``.

    Losses are float64 cross-entropies at ``=``; restricted loss is on the test pairs and
    excluded loss on the training pairs, each with that model's own key frequencies. The stack
    is ``n`` snapshots of the ``grid.n_models`` models, snapshot-major (model ``m`` of a
    snapshot uses ``grid.directions[m]``). ``grid`` may also be the models' key-frequency lists,
    and is then built here for this call (on the snapshot's device).
    """
    from interplib.interp.fourier import excluded_loss, restricted_loss

    if not isinstance(grid, MeasureGrid):
        grid = measure_grid(cfg, grid, next(iter(snapshot.values())).device)
    n_stack = len(snapshot["embed.weight"])
    if n_stack % grid.n_models:
        raise ValueError(
            f"the stack holds {n_stack} models, not a multiple of the grid's {grid.n_models}: "
            f"measure whole snapshots, or build the grid for these models"
        )
    logits = stacked_answer_logits(
        cfg, snapshot, grid.tokens
    ).double()  # [model pair p]
    logit_grid = einops.rearrange(logits, "model (a b) c -> model a b c", a=cfg.p)
    label_grid = einops.rearrange(grid.labels, "(a b) -> a b", a=cfg.p)
    dirs = grid.directions.repeat(
        n_stack // grid.n_models, 1, 1, 1
    )  # snapshot-major, like the stack
    nll = (
        -logits.log_softmax(-1)
        .gather(-1, grid.labels.expand(len(logits), -1)[..., None])
        .squeeze(-1)
    )
    correct = (logits.argmax(-1) == grid.labels).double()
    fully = options(cfg).quantize_embed
    W_L = neuron_logit_map(snapshot, cfg.weights, quantize_unembed=fully)
    W_E = snapshot["embed.weight"]
    W_E = (quantized(W_E, cfg.weights, stacked=True) if fully else W_E)[:, : cfg.p]
    return {
        "train_loss": nll.index_select(-1, grid.train).mean(-1),
        "test_loss": nll.index_select(-1, grid.test).mean(-1),
        "train_acc": correct.index_select(-1, grid.train).mean(-1),
        "test_acc": correct.index_select(-1, grid.test).mean(-1),
        "restricted_loss": restricted_loss(logit_grid, label_grid, dirs, grid.test),
        "excluded_loss": excluded_loss(logit_grid, label_grid, dirs, grid.train),
        "gini_embed": gini(frequency_norms(W_E.double(), grid.basis)),
        "gini_logit_map": gini(
            frequency_norms(W_L.transpose(1, 2).double(), grid.basis)
        ),
        "sum_sq": sum_of_squares(
            snapshot, [n for n in snapshot if not n.endswith("bias")]
        ),
    }


def quantization_measures(
    cfg: GrokConfig, before: dict[str, Tensor], after: dict[str, Tensor]
) -> dict[str, Tensor]:
    """BitNet's own measures between two snapshots of the stacked models: name -> ``[model]``.

    ``beta.<matrix>`` is each quantized matrix's scale mean|W| in ``after``; ``flip_frac``
    (binary and ternary only) is the fraction of all quantized entries whose level changed.
    """
    names = [f"blocks.0.{m}.weight" for m in QUANTIZED]
    out = {
        f"beta.{n.split('.', 2)[2].removesuffix('.weight')}": after[n]
        .abs()
        .flatten(1)
        .mean(-1)
        .double()
        for n in names
    }
    if cfg.weights != "fp":
        sizes = torch.tensor(
            [after[n][0].numel() for n in names],
            dtype=torch.float64,
            device=after[names[0]].device,
        )
        flips = torch.stack(
            [
                flip_fraction(before[n], after[n], cfg.weights, stacked=True)
                for n in names
            ]
        )  # [matrix model]
        out["flip_frac"] = (flips * sizes[:, None]).sum(0) / sizes.sum()
    return out


def logit_statistics(
    logits: Float[Tensor, "model pair p"], labels: Int[Tensor, " pair"]
) -> dict[str, Float[Tensor, " model"]]:
    """How large each model's logits are over the given pairs.

    ``rms``: root mean square of the logits, each pair's mean removed (what softmax sees);
    ``margin``: the median gap between the correct logit and the largest other one;
    ``collapsed_float32`` / ``collapsed_float64``: the share of pairs whose correct answer gets
    a softmax probability of exactly 1 in that precision (no gradient from them: Prieto et
    al.'s softmax collapse).
    """
    logits = logits.double()
    index = labels.expand(len(logits), -1)[..., None]
    centred = logits - logits.mean(-1, keepdim=True)
    correct = logits.gather(-1, index).squeeze(-1)
    rival = logits.scatter(-1, index, float("-inf")).amax(-1)
    out = {
        "rms": centred.pow(2).mean((-2, -1)).sqrt(),
        "margin": (correct - rival).median(-1).values,
    }
    for dtype in (torch.float32, torch.float64):
        prob = logits.to(dtype).softmax(-1).gather(-1, index).squeeze(-1)
        name = f"collapsed_{str(dtype).removeprefix('torch.')}"
        out[name] = (prob == 1).double().mean(-1)
    return out


def logit_measures(
    cfg: GrokConfig, snapshot: dict[str, Tensor], grid: MeasureGrid
) -> dict[str, Tensor]:
    """:func:`logit_statistics` over every pair for a stack of snapshots: ``logit_<name>``."""
    logits = stacked_answer_logits(cfg, snapshot, grid.tokens)
    stats = logit_statistics(logits, grid.labels)
    return {f"logit_{k}": v for k, v in stats.items()}


def clock_pizza(
    cfg: GrokConfig, model: GrokTransformer, freqs: list[int]
) -> tuple[dict[str, float], Float[Tensor, "a b"]]:
    """One model's four Clock/Pizza diagnostics and its correct-answer logit grid.

    Computed in float64 on a copy of ``model`` (the model itself is left as it is).
    ``distance_share``, ``pizza_fit`` (with the key frequencies ``freqs``) and
    ``distance_irrelevance`` read the correct logit ``L(a, b)``
    (:mod:`~interplib.interp.clockpizza`). ``gradient_symmetricity`` follows Zhong et al.'s code
    (``fjzzq2002/pizza``, ``eval-main.ipynb``): the logit of a random answer ``c`` (one
    per pair, seeded 0, the right one or not), its gradients with respect to the two input
    embeddings, their cosine, averaged over every pair ``(a, b)`` (their code: 100 random
    triples ``(a, b, c)``).

    Returns:
        ``{name: value}`` and the ``[p, p]`` grid of correct logits (float64, on the CPU).
    """
    twin = copy.deepcopy(model).double().eval()
    device = next(twin.parameters()).device
    tokens, labels = dataset(cfg.p)
    tokens = tokens[:, : cfg.n_ctx].to(device)  # Zhong et al.'s inputs have no `=`
    with torch.no_grad():
        logits = twin(tokens)[:, -1]
    correct = clockpizza.correct_logits(
        einops.rearrange(logits, "(a b) c -> a b c", a=cfg.p)
    ).cpu()
    outputs = torch.randint(
        cfg.p, labels.shape, generator=torch.Generator().manual_seed(0)
    )
    symmetricity = clockpizza.gradient_symmetricity(
        lambda x: twin.from_embedded(x)[:, -1], twin.embedded(tokens), outputs
    )
    scores = {
        "distance_share": clockpizza.distance_share(correct),
        "pizza_fit": clockpizza.pizza_fit(correct, freqs),
        "distance_irrelevance": clockpizza.distance_irrelevance(correct),
        "gradient_symmetricity": float(symmetricity.mean()),
    }
    return scores, correct
