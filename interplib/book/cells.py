"""What chapters call around their analysis: set-up, glued numbers, checked claims.

A number in the prose comes from :func:`glue`; a sentence in the prose that states a fact
is guarded by :func:`claim`, which fails the build when the fact stops holding.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from interplib.book import plotting
from interplib.core import recipes


class ClaimError(AssertionError):
    """A sentence of the book no longer holds for the numbers the code computes."""


def claim(condition: Any, sentence: str) -> None:
    """Fail with ``sentence`` unless ``condition`` is true (a bool, or a one-element tensor/array)."""
    if isinstance(condition, (torch.Tensor, np.ndarray)):
        if int(np.prod(condition.shape)) != 1:
            raise TypeError(
                f"claim() needs one truth value, got an array of shape {tuple(condition.shape)}"
            )
        condition = condition.item()
    if not isinstance(condition, (bool, np.bool_)):
        raise TypeError(
            f"claim() needs a bool, got {type(condition).__name__}: compare before claiming"
        )
    if not condition:
        raise ClaimError(
            f"the book says: {sentence!r}, but the computed numbers disagree"
        )


def plain(value: Any) -> Any:
    """Numpy/torch scalars as Python numbers (myst-nb cannot format ``np.float64(...)``)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(
                f"glue a scalar, not a tensor of shape {tuple(value.shape)}"
            )
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(key: str, value: Any) -> Any:
    """Glue a number, string, table or plotly figure under ``key`` without displaying it; returns it.

    A string is glued as Markdown, so ``{glue}`key``` pastes it without quotes (``{glue:text}``
    would show its repr); numbers take ``{glue:text}`key:.3f``` as usual.
    """
    from myst_nb import glue as _glue

    if hasattr(value, "to_plotly_json"):
        _glue(key, plotting.show(value), display=False)
        return value
    if isinstance(value, str):
        from IPython.display import Markdown

        _glue(key, Markdown(value), display=False)
        return value
    value = plain(value)
    _glue(key, value, display=False)
    return value


def glue_all(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Glue every value of ``mapping`` under ``prefix + key``; returns the glued values.

    One call in place of a column of :func:`glue` calls, so a reader's cell keeps its
    computation in view: ``glue_all({"acc": acc, "n": n}, prefix="memo_")``.
    """
    return {key: glue(prefix + key, value) for key, value in mapping.items()}


def setup(seed: int = 0) -> torch.device:
    """Seed every generator and return the device chapters run on (the GPU when there is one)."""
    recipes.seed_everything(seed)
    torch.set_grad_enabled(True)
    return recipes.resolve_device("auto")
