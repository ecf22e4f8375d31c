"""The induction circuit measured at the checkpoints a retrain kept around its phase change.

The checkpoint recipes (``attn-only-l2-checkpoints``, ``attn-only-l1-checkpoints``, see
:mod:`interplib.studies.circuits.recipes`) keep a model's weights at a few steps before,
during and after the induction heads form. Here each kept model is measured with the
chapter's own tools, for the heads the final model's circuit names: their pattern scores
(previous-token and current-token on story text, induction on the repeat probe), the
K-composition of the previous-token head into the induction heads, the loss on the repeat,
and that loss with the previous-token head or the induction heads ablated (mean and
resample). :func:`checkpoint_patterns` gives every head's pattern at every checkpoint for
the attention viewer. :func:`checkpoint_measures` is what a retrain that keeps no weights
stores of each checkpoint instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.core.artifacts import Artifact
from interplib.interp.ablation import (
    Kind,
    ablated_repeat_losses,
    path_ablation_effects,
    receiver_direct_logits,
)
from interplib.interp.circuits import Head, composition_scores
from interplib.interp.patterns import (
    check_repeat,
    current_token_scores,
    induction_scores,
    previous_token_scores,
    repeat_losses,
)
from interplib.studies.circuits.model import AttnOnlyConfig, bridge_from_state
from interplib.studies.circuits.recipes import CheckpointRun, checkpoint_model

__all__ = [
    "checkpoint_measures",
    "checkpoint_models",
    "checkpoint_patterns",
    "circuit_over_checkpoints",
]


def checkpoint_models(cfg: CheckpointRun, art: Artifact) -> dict[int, Any]:
    """``{step: bridge}`` for every checkpoint the artifact kept, in step order."""
    kept = sorted(
        {int(k.split(".")[0][4:]) for k in art.tensors if k.startswith("step")}
    )
    return {step: checkpoint_model(cfg, art, step) for step in kept}


def _check_circuit(model, prev: Head, induction: Sequence[Head], current) -> None:
    if model.cfg.n_layers < 2:
        raise ValueError(
            f"a {model.cfg.n_layers}-layer model has no induction circuit to follow: "
            "use a 2-layer model's checkpoints"
        )
    if prev[0] != 0 or any(h[0] != 0 for h in current):
        raise ValueError(
            f"prev={prev}, current={list(current)}: previous- and current-token heads "
            "sit in layer 0"
        )
    if not induction or any(h[0] != 1 for h in induction):
        raise ValueError(f"induction={list(induction)}: give layer-1 heads")


def circuit_over_checkpoints(
    models: Mapping[int, Any],
    probe: Int[Tensor, "batch pos"],
    period: int,
    stories: Int[Tensor, "batch pos"],
    prev: Head,
    induction: Sequence[Head],
    current: Sequence[Head] = (),
    kinds: Sequence[Kind] = ("mean", "resample"),
) -> pd.DataFrame:
    """One row per checkpoint (index ``step``): the named heads measured in that model.

    Columns: ``previous-token`` (``prev``'s score on ``stories``), ``current-token`` (the
    smallest of the ``current`` heads' scores, NaN without any), ``induction`` (the largest
    of the ``induction`` heads' scores on ``probe``, which ends in ``[r, r]`` with
    ``len(r) = period``), ``K-composition`` (``prev`` into the ``induction`` heads, mean),
    ``repeat loss`` (the repeat's loss) and, for each ablation ``kind``, ``repeat loss,
    previous-token head <kind>-ablated`` and ``repeat loss, induction heads
    <kind>-ablated`` (resample: from the next probe sequence).

    Raises:
        ValueError: a model with fewer than two layers, heads in the wrong layers, or a
            probe that is not a repeat of ``period`` tokens.
    """
    check_repeat(probe, period)
    rows = {}
    for step, model in models.items():
        _check_circuit(model, prev, induction, current)
        cur = current_token_scores(model, stories)
        ind = induction_scores(model, probe, period)
        K = composition_scores(model, "K")
        row = {
            "previous-token": float(previous_token_scores(model, stories)[prev]),
            "current-token": min(
                (float(cur[h]) for h in current), default=float("nan")
            ),
            "induction": max(float(ind[h]) for h in induction),
            "K-composition": float(
                torch.stack([K[prev[1], h] for _, h in induction]).mean()
            ),
            "repeat loss": repeat_losses(model, probe, period).repeated,
        }
        for kind in kinds:
            for label, heads in (
                ("previous-token head", [prev]),
                ("induction heads", list(induction)),
            ):
                row[f"repeat loss, {label} {kind}-ablated"] = ablated_repeat_losses(
                    model, probe, period, heads, kind
                ).repeated
        rows[step] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("step")


def checkpoint_patterns(
    models: Mapping[int, Any], tokens: Int[Tensor, "1 pos"]
) -> Float[Tensor, "step layer head_index query_pos key_pos"]:
    """Every head's attention pattern on one sequence at every checkpoint, in step order.

    Raises:
        ValueError: ``tokens`` is not a single sequence.
    """
    if tokens.ndim != 2 or tokens.shape[0] != 1:
        raise ValueError(
            f"tokens of shape {tuple(tokens.shape)}: pass one sequence, shape [1 pos]"
        )
    out = []
    for model in models.values():
        names = [f"blocks.{l}.attn.hook_pattern" for l in range(model.cfg.n_layers)]
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
        out.append(torch.stack([cache[n][0] for n in names]))
    return torch.stack(out)


def checkpoint_measures(
    cfg: AttnOnlyConfig,
    kept: Mapping[int, Mapping[str, Tensor]],
    probe: Int[Tensor, "batch pos"],
    period: int,
    kinds: Sequence[Kind] = ("mean", "resample"),
) -> dict[str, Tensor]:
    """What the chapter reads of kept weights, stored in their place.

    For the ``n`` kept steps in order (``kept`` maps a step to the state dict of
    ``cfg``'s model): ``checkpoint.step [n]`` and ``checkpoint.patterns [n layer
    head_index query_pos key_pos]``, in float16 on the first ``probe`` sequence
    (:func:`checkpoint_patterns`). A model of two or more layers adds what its circuit
    is made of, every layer-0 head against every layer-1 head:
    ``checkpoint.K_composition [n head_0 head_1]``
    (:func:`~interplib.interp.circuits.composition_scores`),
    ``checkpoint.direct_logit [n head_1]``, each layer-1 head's clean direct logit on
    the repeat, and ``checkpoint.path_direct [n kind side head_0 head_1]``, that direct
    logit after the layer-0 head is ablated (each of ``kinds``) in the layer-1 head's
    queries, keys or values (sides in ``PATH_SIDES`` order,
    :func:`~interplib.interp.ablation.path_ablation_effects`); ``probe`` ends in
    ``[r, r]`` with ``len(r) = period``.

    Raises:
        ValueError: no kept step, or a probe that is not a repeat of ``period`` tokens.
    """
    if not kept:
        raise ValueError("no kept step: the measures need a kept checkpoint")
    check_repeat(probe, period)
    models = {
        step: bridge_from_state(cfg, dict(kept[step]), torch.float32).eval()
        for step in sorted(kept)
    }
    out = {
        "checkpoint.step": torch.tensor(list(models)),
        "checkpoint.patterns": checkpoint_patterns(models, probe[:1]).half(),
    }
    if cfg.n_layers < 2:  # a 1-layer model has nothing to compose with
        return out
    senders = [(0, h) for h in range(cfg.n_heads)]
    receivers = [(1, h) for h in range(cfg.n_heads)]
    measures = {
        "K_composition": [composition_scores(m, "K") for m in models.values()],
        "direct_logit": [
            receiver_direct_logits(m, probe, period, receivers) for m in models.values()
        ],
        "path_direct": [
            torch.stack(
                [
                    path_ablation_effects(m, probe, period, senders, receivers, kind)
                    for kind in kinds
                ]
            )
            for m in models.values()
        ],
    }
    return out | {f"checkpoint.{k}": torch.stack(v) for k, v in measures.items()}
