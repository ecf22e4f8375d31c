"""Read a model's prediction layer by layer: the logit lens, TransformerLens's own logit
attribution, and the next-token table.

:func:`logit_lens` reads the residual before each block through the final LayerNorm and
``W_U``, with each partial residual's own LayerNorm statistics (the lens) or the final one
(the running sum of :func:`~interplib.interp.attribution.decompose_logit`'s split).
:func:`transformer_lens_terms` is TransformerLens's route to the same split, for comparison;
:func:`pad_prompts` batches prompts of different lengths and :func:`next_token_table` shows
what ``test_prompt`` prints. :func:`split_readings` makes the reference point of a split
explicit: softmax ignores a shift shared by every token, so a single logit's split depends on
what it is measured against (nothing, the vocabulary mean, or the top rival; IOI and ARENA
split the logit *difference*). The inputs are those of :mod:`interplib.interp.attribution`: a
``TransformerBridge`` ``run_with_cache`` cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.core.checks import check_position
from interplib.interp.attribution import (
    LogitSplit,
    Unit,
    _at,
    _final_norm,
    _folded_unembed,
    _model_logits,
    _token_ids,
    answer_token,
    center,
    decompose_logit,
    layer_norm,
    readout,
)

__all__ = [
    "READINGS",
    "logit_lens",
    "next_token_table",
    "pad_prompts",
    "split_readings",
    "top_rival",
    "transformer_lens_terms",
]

READINGS: tuple[str, ...] = ("raw", "centred", "margin")


@torch.no_grad()
def logit_lens(
    cache,
    tokens: int | str | Int[Tensor, " batch"] | None = None,
    pos: int | Int[Tensor, " batch"] = -1,
    scale: Literal["recompute", "cached"] = "recompute",
) -> tuple[Float[Tensor, "layer batch *vocab"], list[str]]:
    """Read the residual before each block, and after the last, through ``ln_final`` and ``W_U``.

    ``scale="recompute"`` is the **logit lens**: each partial residual gets its own LayerNorm
    statistics (what the model would predict if it stopped there; TL ≥ 2.18 semantics).
    ``scale="cached"`` divides every partial sum by the *final* scale: the running sum of the
    exact decomposition (``embed``, ``embed + Δ_0``, …), whose last entry is the logit.
    Labels follow TransformerLens: ``"0_pre"``, ``"1_pre"``, …, ``"final_post"``.

    Returns:
        ``[layer batch]`` logits of ``tokens`` (one per row, or one shared), or
        ``[layer batch d_vocab]`` if ``tokens`` is None.
    """
    if scale not in ("recompute", "cached"):
        raise ValueError(
            f"scale={scale!r}: use 'recompute' (the logit lens) "
            "or 'cached' (running sum of the split)"
        )
    model = cache.model
    n_layers = model.cfg.n_layers
    names = [f"blocks.{l}.hook_resid_pre" for l in range(n_layers)] + [
        f"blocks.{n_layers - 1}.hook_resid_post"
    ]
    labels = [f"{l}_pre" for l in range(n_layers)] + ["final_post"]
    final = cache["ln_final.hook_in"]
    pos_t = check_position(pos, final.shape[1])
    stack = torch.stack(
        [_at(cache[name], pos_t) for name in names]
    )  # [layer batch d_model]
    weight, beta, eps = _final_norm(model)
    if scale == "recompute":
        normed = layer_norm(stack, weight, beta, eps)
        b_U = getattr(model, "b_U", None)
        b_U = (
            torch.zeros(model.W_U.shape[-1], dtype=normed.dtype, device=normed.device)
            if b_U is None
            else b_U
        )
        if tokens is None:
            return normed @ model.W_U + b_U, labels
        t = _token_ids(model, tokens, normed.device)
        return (normed * model.W_U[:, t].movedim(0, -1)).sum(-1) + b_U[t], labels
    x = _at(final, pos_t)
    n = x.shape[-1]
    denom = (center(x).pow(2).sum(-1) + n * eps).sqrt()
    if tokens is None:
        U, B = _folded_unembed(model)
        return n**0.5 * (center(stack) @ U) / denom[..., None] + B, labels
    u, b = readout(model, tokens)
    return n**0.5 * (center(stack) * u).sum(-1) / denom + b, labels


@torch.no_grad()
def transformer_lens_terms(
    cache,
    token: int | str,
    pos: int = -1,
    unit: Literal["component", "head"] = "component",
    baseline: int | str | None = None,
) -> tuple[Float[Tensor, "part batch"], Float[Tensor, " batch"], list[str]]:
    """TransformerLens 4.3's terms and bias for the split of :func:`.decompose_logit`.

    For comparison with it. ``"component"``: ``decompose_resid`` then ``logit_attrs`` (which
    centres each part and divides by the cached ``ln_final.hook_scale`` via
    ``apply_ln_to_stack``, then dots with ``W_U[:, t]``). ``"head"``: ``stack_head_results``
    then ``logit_attrs`` (heads only: TL has no per-layer bias or MLP parts in this stack). The
    bias is ``b_U[t]`` (difference with ``baseline``). Valid only on a compatibility-mode bridge
    (γ, β folded), which is checked.

    Raises:
        ValueError: on a raw bridge, where TL's route silently ignores γ and β.
    """
    model = cache.model
    if not getattr(model, "compatibility_mode", False):
        raise ValueError(
            "TransformerLens's decompose_resid/apply_ln_to_stack route ignores "
            "the final LayerNorm's "
            "γ and β, so it is only right on a folded model: "
            "call `bridge.enable_compatibility_mode()` "
            "on a fresh bridge (or use decompose_logit, which handles both)"
        )
    n_pos = cache["hook_embed"].shape[1]
    p = int(check_position(pos, n_pos))
    pos_slice = p  # an int position: TL's Slice picks it and drops the position axis
    if unit == "component":
        stack, labels = cache.decompose_resid(
            layer=-1, pos_slice=pos_slice, return_labels=True
        )
    elif unit == "head":
        stack, labels = cache.stack_head_results(
            layer=-1, pos_slice=pos_slice, return_labels=True
        )
    else:
        raise ValueError(
            f"unit={unit!r}: TransformerLens offers 'component' (decompose_resid) and 'head' "
            f"(stack_head_results)"
        )
    t = answer_token(model, token)
    s = None if baseline is None else answer_token(model, baseline)
    terms = cache.logit_attrs(stack, tokens=t, incorrect_tokens=s, pos_slice=pos_slice)
    b = model.b_U[t] - (model.b_U[s] if s is not None else 0)
    return terms, b.expand(terms.shape[1]), labels


def pad_prompts(
    model, prompts: Sequence[str], prepend_bos: bool = False
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, " batch"]]:
    """Tokenise prompts of different lengths into one right-padded batch.

    Returns the batch and each prompt's last position. Right padding is exact for next-token
    readouts at ``last``: causal attention never lets a position see the padding after it, and
    rotary positions count from the left. Pass ``last`` as ``pos`` to :func:`.decompose_logit` /
    :func:`logit_lens`.
    """
    rows = [model.to_tokens(p, prepend_bos=prepend_bos)[0] for p in prompts]
    if not rows or min(len(r) for r in rows) == 0:
        raise ValueError(
            "every prompt must give at least one token; drop empty prompts"
        )
    pad = (
        model.tokenizer.pad_token_id if model.tokenizer.pad_token_id is not None else 0
    )
    tokens = torch.full((len(rows), max(len(r) for r in rows)), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        tokens[i, : len(r)] = r
    return tokens, torch.tensor([len(r) - 1 for r in rows])


def next_token_table(
    model,
    prompt: str,
    answer: str | int | None = None,
    k: int = 10,
    prepend_bos: bool = False,
) -> tuple[pd.DataFrame, int | None]:
    """Top-``k`` next tokens after ``prompt`` and the answer's rank (0 = top).

    One row per token: rank, token, logit, prob.

    The same numbers ``transformer_lens.utilities.test_prompt`` prints, as a table.
    """
    tokens = model.to_tokens(prompt, prepend_bos=prepend_bos)
    with torch.no_grad():
        logits = model(tokens)[0, -1].double()
    probs = logits.softmax(-1)
    top = logits.topk(min(k, logits.shape[-1]))
    df = pd.DataFrame(
        {
            "rank": range(len(top.indices)),
            "token": [model.tokenizer.decode([i]) for i in top.indices.tolist()],
            "logit": top.values.tolist(),
            "prob": probs[top.indices].tolist(),
        }
    )
    if answer is None:
        return df, None
    t = answer_token(model, answer)
    return df, int((logits > logits[t]).sum())


def top_rival(
    logits: Float[Tensor, "batch d_vocab"], tokens: Int[Tensor, " batch"]
) -> Int[Tensor, " batch"]:
    """The highest-logit token other than ``tokens[b]`` in each row.

    For a correct prediction it is the runner-up; for a wrong one, the model's choice.

    Raises:
        ValueError: if ``tokens`` is not one id per row.
    """
    if tokens.shape != logits.shape[:1]:
        raise ValueError(
            f"tokens {tuple(tokens.shape)} must be one id per row of logits "
            f"{tuple(logits.shape)}; expand a shared answer with .expand(batch)"
        )
    rows = torch.arange(logits.shape[0], device=logits.device)
    masked = logits.clone()
    masked[rows, tokens.to(logits.device)] = -torch.inf
    return masked.argmax(-1)


@torch.no_grad()
def split_readings(
    cache,
    tokens: int | str | Int[Tensor, " batch"],
    pos: int | Int[Tensor, " batch"] = -1,
    unit: Unit = "component",
) -> tuple[dict[str, LogitSplit], Int[Tensor, " batch"]]:
    """The answer's logit split under three reference points, and the rival used.

    * ``"raw"``: the logit itself (:func:`.decompose_logit` as is). It includes whatever a
      writer adds to every token alike, which softmax ignores.
    * ``"centred"``: minus the vocabulary mean (``center_vocab=True``): TransformerLens's
      processed logit, the seed's 20.87.
    * ``"margin"``: minus the top rival's logit (``baseline=`` :func:`top_rival`): the logit
      difference that decides whether the answer is chosen; positive iff it is the argmax.

    Each split is exact (its terms plus bias equal its own logit). Returns the splits keyed
    by ``READINGS`` and the rival ids ``[batch]``.
    """
    final = cache["ln_final.hook_in"]
    pos_t = check_position(pos, final.shape[1])
    logits = _at(_model_logits(cache), pos_t)  # [batch d_vocab]
    answer = _token_ids(cache.model, tokens, logits.device).expand(logits.shape[0])
    rival = top_rival(logits, answer)
    splits = {
        "raw": decompose_logit(cache, answer, pos, unit),
        "centred": decompose_logit(cache, answer, pos, unit, center_vocab=True),
        "margin": decompose_logit(cache, answer, pos, unit, baseline=rival),
    }
    return splits, rival
