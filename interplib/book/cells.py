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

__all__ = [
    "ClaimError",
    "claim",
    "plain",
    "GLUE_PREFIX",
    "glue",
    "glued",
    "glue_all",
    "setup",
]


class ClaimError(AssertionError):
    """A sentence of the book no longer holds for the numbers the code computes."""


def claim(condition: Any, sentence: str) -> None:
    """Fail with ``sentence`` unless ``condition`` is true.

    ``condition`` is a bool, or a one-element tensor/array.
    """
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


# myst-nb's glue protocol: a display record, hidden from every frontend by this prefix,
# that the book build reads back by the name in its ``scrapbook`` metadata.
GLUE_PREFIX = "application/papermill.record/"


def glue(key: str, value: Any) -> None:
    """Glue a number, string, table or plotly figure under ``key`` without displaying it.

    Returns nothing, so a cell that ends in a glue shows nothing. A string reads the
    same under ``{glue}`key``` and ``{glue:text}`key```; numbers take
    ``{glue:text}`key:.3f```; a figure goes through :func:`~interplib.book.plotting.show`. Needs no
    book tooling: in any IPython kernel it writes the hidden record myst-nb reads, and in
    a plain script it only returns the value.
    """
    if hasattr(value, "to_plotly_json"):
        shown: Any = plotting.show(value)
    elif isinstance(value, str):
        shown = _Text(value)
    else:
        shown = plain(value)
    _GLUED[key] = shown
    _record(key, shown)


_GLUED: dict[str, Any] = {}


def glued(key: str) -> Any:
    """What :func:`glue` stored under ``key`` in this kernel, to display it again: the
    exported notebooks (:mod:`interplib.book.export`) place a glued figure with
    ``book.cells.glued(key)`` where the prose puts it."""
    if key not in _GLUED:
        raise KeyError(
            f"nothing is glued under {key!r} yet: run the cell that glues it first"
        )
    return _GLUED[key]


def _record(key: str, obj: Any) -> None:
    from IPython import get_ipython
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    if get_ipython() is None:  # a plain script: nothing to record into
        return
    bundle, metadata = format_display_data(obj)
    metadata["scrapbook"] = {"name": key, "mime_prefix": GLUE_PREFIX}
    display(
        {GLUE_PREFIX + k: v for k, v in bundle.items()}, raw=True, metadata=metadata
    )


class _Text:
    """A glued string: the same words for ``{glue}`` (Markdown) and ``{glue:text}`` (plain)."""

    def __init__(self, text: str):
        self.text = text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/markdown": self.text, "text/plain": self.text}


def glue_all(mapping: Mapping[str, Any], prefix: str = "") -> None:
    """Glue every value of ``mapping`` under ``prefix + key``.

    One call in place of a column of :func:`glue` calls, so a reader's cell keeps its
    computation in view: ``glue_all({"acc": acc, "n": n}, prefix="memo_")``.
    """
    for key, value in mapping.items():
        glue(prefix + key, value)


def setup(seed: int = 0) -> torch.device:
    """Seed every generator and return the device chapters run on (the GPU when there is one)."""
    recipes.seed_everything(seed)
    torch.set_grad_enabled(True)
    return recipes.resolve_device("auto")
