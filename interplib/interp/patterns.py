"""Attention-pattern statistics on repeated random tokens: the previous-token and induction stripes.

A sequence ``[BOS, r, r]`` with ``r`` a random segment of length ``period`` is the standard
probe for induction heads (Olsson et al., 2022): in the second copy, a query at position
``i`` that attends to ``i - period + 1`` looks at the token that followed its own token last
time. These functions build such probes, check them, and read the two stripes and the
per-position loss on the repeat from any model's attention patterns, or straight from a
model with ``run_with_cache`` (:func:`previous_token_scores`, :func:`induction_scores`,
:func:`repeat_losses`). Nothing here imports transformer-lens, so a training machine
without it records the stripes too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from interplib.core.checks import check_tokens
from interplib.core.training import per_position_loss

__all__ = [
    "RepeatLoss",
    "check_repeat",
    "current_token_scores",
    "current_token_stripe",
    "induction_scores",
    "induction_stripe",
    "occurred_before",
    "per_token_loss",
    "previous_token_scores",
    "previous_token_stripe",
    "repeat_loss",
    "repeat_losses",
    "repeated_random_tokens",
    "standard_error",
]


def repeated_random_tokens(
    d_vocab: int,
    period: int,
    batch: int,
    generator: torch.Generator,
    bos: int | None,
    specials: Sequence[int] = (),
) -> Int[Tensor, "batch pos"]:
    """``[BOS, r, r]``: ``r`` is ``period`` tokens drawn uniformly from the ordinary ids.

    Args:
        d_vocab: ids are ``0..d_vocab-1``.
        period: the length of the random segment ``r``.
        batch: the number of sequences.
        generator: the source of randomness (the same seed gives the same probe).
        bos: the id the sequences start with, the one the model saw at the start of its
            training rows (the story tokenizer's ``BOS`` is 1, not 0, which is ``[UNK]``);
            ``None`` for no start token (``[r, r]``). Always passed: a wrong start token
            changes the loss on the first copy.
        specials: ids never drawn into ``r`` (the tokenizer's special tokens); ``bos`` is
            never drawn either.

    Raises:
        ValueError: ``bos`` or a special outside the vocabulary, or no ordinary id left.
    """
    avoid = set(specials) | ({bos} if bos is not None else set())
    if any(not 0 <= i < d_vocab for i in avoid):
        raise ValueError(
            f"bos={bos}, specials={sorted(specials)}: ids must lie in 0..{d_vocab - 1}"
        )
    ordinary = torch.tensor([i for i in range(d_vocab) if i not in avoid])
    if ordinary.numel() == 0:
        raise ValueError(f"no id of 0..{d_vocab - 1} is left once {sorted(avoid)} go")
    r = ordinary[torch.randint(len(ordinary), (batch, period), generator=generator)]
    parts = [r, r] if bos is None else [torch.full((batch, 1), bos), r, r]
    return torch.cat(parts, dim=1)


def check_repeat(tokens: Tensor, period: int) -> None:
    """Raise a ValueError naming the fix unless ``tokens`` end in two copies of a segment.

    The segment is ``period`` tokens long.
    """
    if period < 2 or tokens.ndim != 2 or tokens.shape[1] < 2 * period:
        raise ValueError(
            f"period={period} with tokens of shape {tuple(tokens.shape)}: need period >= 2 and "
            f"at least 2*period positions; build them with repeated_random_tokens"
        )
    if not torch.equal(tokens[:, -period:], tokens[:, -2 * period : -period]):
        raise ValueError(
            f"tokens do not end in two copies of a length-{period} segment: build them with "
            f"interplib.interp.patterns.repeated_random_tokens(d_vocab, {period}, batch, "
            "generator, bos)"
        )


def _over_queries(
    stripe: Float[Tensor, "layer batch head_index query_pos"], by_sequence: bool
) -> Tensor:
    # [layer batch head_index] per sequence (for error bars), else [layer head_index]
    return stripe.mean(-1) if by_sequence else stripe.mean((1, 3))


def previous_token_stripe(
    patterns: Float[Tensor, "layer batch head_index query_pos key_pos"],
    by_sequence: bool = False,
) -> Float[Tensor, "layer head_index"]:
    """Mean attention from each position to the one before it (``pattern.diagonal(-1)``).

    ``by_sequence=True`` keeps the batch axis: ``[layer batch head_index]``, one score per
    sequence, for error bars.
    """
    return _over_queries(patterns.diagonal(-1, -2, -1), by_sequence)


def current_token_stripe(
    patterns: Float[Tensor, "layer batch head_index query_pos key_pos"],
    by_sequence: bool = False,
) -> Float[Tensor, "layer head_index"]:
    """Mean attention from each position to itself (``pattern.diagonal(0)``).

    A **current-token head** puts most of its weight there: it moves the current token
    into its own output subspace, where later heads read it. ``by_sequence`` as in
    :func:`previous_token_stripe`.
    """
    return _over_queries(patterns.diagonal(0, -2, -1), by_sequence)


def induction_stripe(
    patterns: Float[Tensor, "layer batch head_index query_pos key_pos"],
    period: int,
    by_sequence: bool = False,
) -> Float[Tensor, "layer head_index"]:
    """Mean attention on the induction stripe of tokens ending in ``[r, r]``, ``len(r) = period``.

    A query in the second copy at position i attends to i − period + 1: the token after
    the previous occurrence of its own token (TL's and ARENA's induction score).
    ``by_sequence`` as in :func:`previous_token_stripe`.
    """
    T = patterns.shape[-1]
    queries = torch.arange(T - period, T, device=patterns.device)
    return _over_queries(patterns[..., queries, queries - period + 1], by_sequence)


def standard_error(x: Float[Tensor, " sample"]) -> float:
    """The standard error of the mean of independent samples: ``std / sqrt(n)``."""
    if x.numel() < 2:
        raise ValueError(f"{x.numel()} sample(s): a standard error needs at least 2")
    return float(x.double().std() / x.numel() ** 0.5)


@dataclass
class RepeatLoss:
    """Mean loss on the first and on the repeated copy of ``r`` (first token of each excluded).

    ``first_se`` and ``repeated_se`` are the standard errors over sequences (each
    sequence's mean is one sample; the random segments are independent).
    """

    first: float
    repeated: float
    first_se: float = float("nan")
    repeated_se: float = float("nan")


def repeat_loss(loss: Float[Tensor, "batch pos_minus_1"], period: int) -> RepeatLoss:
    """Split per-token losses of tokens ending in ``[r, r]`` by copy; the first token of each copy
    is left out, since nothing in the context predicts it. Standard errors need 2 sequences."""
    T = loss.shape[1] + 1
    first = loss[:, T - 2 * period : T - period - 1].mean(
        1
    )  # targets 2..period, copy 1
    repeated = loss[:, T - period : T - 1].mean(1)  # targets 2..period of the repeat
    se = (
        (standard_error(first), standard_error(repeated))
        if loss.shape[0] > 1
        else (float("nan"),) * 2
    )
    return RepeatLoss(float(first.mean()), float(repeated.mean()), *se)


def occurred_before(tokens: Int[Tensor, "batch pos"]) -> Bool[Tensor, "batch pos"]:
    """Whether each token already occurred earlier in its own row.

    ``out[b, i]`` is true iff ``tokens[b, j] == tokens[b, i]`` for some ``j < i``: the
    tokens an induction head (or any head copying earlier tokens) could predict.
    Memory is batch × pos × pos booleans.
    """
    if tokens.ndim != 2:
        raise ValueError(
            f"tokens of shape {tuple(tokens.shape)}: need [batch, pos] token ids"
        )
    T = tokens.shape[1]
    earlier = torch.ones(T, T, dtype=torch.bool, device=tokens.device).tril(-1)
    return ((tokens[:, :, None] == tokens[:, None, :]) & earlier).any(-1)


def _patterns(
    model, tokens
) -> Float[Tensor, "layer batch head_index query_pos key_pos"]:
    check_tokens(model, tokens)
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return torch.stack([cache[n] for n in names]).detach()


def previous_token_scores(
    model, tokens: Int[Tensor, "batch pos"], by_sequence: bool = False
) -> Float[Tensor, "layer head_index"]:
    """Mean attention from each position to the one before it (``pattern.diagonal(-1)``)."""
    return previous_token_stripe(_patterns(model, tokens), by_sequence)


def current_token_scores(
    model, tokens: Int[Tensor, "batch pos"], by_sequence: bool = False
) -> Float[Tensor, "layer head_index"]:
    """Mean attention from each position to itself (:func:`current_token_stripe`)."""
    return current_token_stripe(_patterns(model, tokens), by_sequence)


def induction_scores(
    model, tokens: Int[Tensor, "batch pos"], period: int, by_sequence: bool = False
) -> Float[Tensor, "layer head_index"]:
    """Mean attention on the induction stripe of tokens ending in ``[r, r]``.

    ``len(r) = period``; see :func:`interplib.interp.patterns.induction_stripe`.
    """
    check_repeat(tokens, period)
    return induction_stripe(_patterns(model, tokens), period, by_sequence)


def per_token_loss(
    model, tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch pos_minus_1"]:
    """``-log p(tokens[:, i+1] | tokens[:, :i+1])`` for every sequence and position i."""
    check_tokens(model, tokens)
    return per_position_loss(model, tokens)


def repeat_losses(model, tokens: Int[Tensor, "batch pos"], period: int) -> RepeatLoss:
    """Per-token loss averaged over the first vs the repeated half of ``[..., r, r]``.

    The first token of each copy is left out: nothing in the context predicts it.
    """
    check_repeat(tokens, period)
    return repeat_loss(per_token_loss(model, tokens), period)
