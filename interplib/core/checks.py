"""One validator per kind of input: layer, head, position, token, token ids.

Every public function that takes one of these checks it here, so the same mistake gets
the same message everywhere: the problem, the value given, and the fix.
:func:`check_layer_head` and :func:`check_tokens` read the bounds from a model's ``cfg``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import torch
from jaxtyping import Int
from torch import Tensor

__all__ = [
    "OutOfRange",
    "check_index",
    "check_layer",
    "check_head",
    "check_position",
    "check_token",
    "check_token_ids",
    "check_layer_head",
    "check_tokens",
    "Resolver",
]

Resolver = Callable[[str], "int | Sequence[int] | Tensor"]


class OutOfRange(IndexError, ValueError):
    """An index (layer, head, position, token id) outside its range, or not an integer."""


def check_index(value: Any, n: int, what: str, *, negative: bool = True) -> int:
    """``value`` as an index in ``0..n-1``; with ``negative``, ``-n..-1`` count from the end.

    Raises:
        OutOfRange: not an integer (ints, numpy and 0-d torch integers are), or out of range.
    """
    low = -n if negative else 0
    hint = f"use an integer in 0..{n - 1}" + (
        " (or -1 for the last)" if negative else ""
    )
    try:
        if isinstance(value, Tensor) and value.ndim:  # one index, not a tensor of them
            raise TypeError
        index = operator.index(value)
    except TypeError:
        raise OutOfRange(f"{what}={value!r} is out of range: {hint}") from None
    if not low <= index < n:
        raise OutOfRange(
            f"{what}={index!r} is out of range: the model has {n} {what}"
            f"{'s' * (n != 1)}; {hint}"
        )
    return index % n


def check_layer(layer: Any, n_layers: int, *, negative: bool = True) -> int:
    """``layer`` as an index in ``0..n_layers-1`` (negative counts from the end)."""
    return check_index(layer, n_layers, "layer", negative=negative)


def check_head(head: Any, n_heads: int) -> int:
    """``head`` as an index in ``0..n_heads-1``."""
    return check_index(head, n_heads, "head", negative=False)


def check_position(pos: int | Tensor, n_pos: int) -> Int[Tensor, ...]:
    """``pos`` (an int or a tensor of them) as non-negative positions; negatives count from the end.

    Raises:
        OutOfRange: a position outside ``[-n_pos, n_pos)``.
    """
    pos_t = torch.as_tensor(pos, dtype=torch.long)
    bad = (pos_t < -n_pos) | (pos_t >= n_pos)
    if bad.any():
        raise OutOfRange(
            f"position {pos_t[bad].flatten()[0].item()} is out of range for a prompt of "
            f"{n_pos} tokens; use 0..{n_pos - 1} or -{n_pos}..-1 (the next-token "
            f"prediction of the whole prompt is at -1)"
        )
    return pos_t % n_pos


def check_token(
    token: int | str | Tensor, d_vocab: int, resolve: Resolver | None = None
) -> int:
    """The id of one token, given as an id or as a string that ``resolve`` maps to one id.

    ``resolve(word)`` may return an int or a sequence of ids (a tokenization); a sequence
    of length ≠ 1 means the word is not a single token. Nothing is ever mapped to an
    unknown-token id silently.

    Raises:
        ValueError: the word is unknown or splits into several tokens, or no resolver was given.
        OutOfRange: the id is outside the vocabulary.
    """
    if isinstance(token, str):
        if resolve is None:
            raise ValueError(
                f"token {token!r} is a string: pass resolve= (e.g. the corpus Vocab's "
                f"token-to-id lookup) or give the token id"
            )
        try:
            ids = resolve(token)
        except (KeyError, ValueError, IndexError) as err:
            raise ValueError(
                f"unknown token {token!r}: the vocabulary has no such single token ({err}); "
                f"pick a word that is one token"
            ) from None
        if isinstance(ids, Tensor):
            ids = ids.flatten().tolist()
        if not isinstance(ids, int):
            ids = list(ids)
            if len(ids) != 1:
                raise ValueError(
                    f"{token!r} is not a single token: it splits into {len(ids)} tokens "
                    f"{ids}; pick a word that is one token, or pass its id"
                )
            ids = int(ids[0])
        token = ids
    if isinstance(token, Tensor):
        token = int(token)
    if not 0 <= int(token) < d_vocab:
        raise OutOfRange(
            f"token id {token} is outside the vocabulary (0 … {d_vocab - 1})"
        )
    return int(token)


def check_token_ids(
    tokens: Any,
    *,
    d_vocab: int | None = None,
    n_ctx: int | None = None,
    min_len: int = 1,
    name: str = "tokens",
) -> None:
    """Raise a ValueError naming the fix unless ``tokens`` is a ``[batch pos]`` LongTensor of
    at least one sequence of ``min_len`` or more ids, no longer than ``n_ctx``, inside
    ``0..d_vocab-1`` (the checks whose bound is None are skipped)."""
    if not isinstance(tokens, Tensor) or tokens.dtype != torch.long or tokens.ndim != 2:
        got = (
            f"a {tokens.dtype} tensor of shape {tuple(tokens.shape)}"
            if isinstance(tokens, Tensor)
            else type(tokens).__name__
        )
        raise ValueError(
            f"{name} must be a LongTensor [batch, pos] of token ids, got {got}: "
            f"convert with tokens.long(), add a batch axis with tokens[None]"
        )
    if tokens.shape[0] < 1 or tokens.shape[1] < min_len:
        raise ValueError(
            f"{name} has shape {tuple(tokens.shape)}: need at least one sequence of "
            f"≥ {min_len} tokens"
        )
    if n_ctx is not None and tokens.shape[1] > n_ctx:
        raise ValueError(
            f"{name} has sequences of {tokens.shape[1]} tokens but the model's "
            f"n_ctx={n_ctx}: truncate to tokens[:, :{n_ctx}] or split the text into windows"
        )
    if d_vocab is not None and tokens.numel():
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= d_vocab:
            raise ValueError(
                f"{name} holds token ids {low}..{high}, outside the vocabulary "
                f"0..{d_vocab - 1}: encode with the model's tokenizer (a model built "
                f"with another vocabulary size does this too)"
            )


def check_layer_head(model, layer: int, head: int | None = None) -> None:
    """Check that ``layer`` (and ``head``) exist in ``model`` (non-negative indices)."""
    check_layer(layer, model.cfg.n_layers, negative=False)
    if head is not None:
        check_head(head, model.cfg.n_heads)


def check_tokens(model, tokens: Tensor) -> None:
    """Check ``tokens`` against ``model``'s context length and vocabulary."""
    check_token_ids(tokens, d_vocab=model.cfg.d_vocab, n_ctx=model.cfg.n_ctx)
