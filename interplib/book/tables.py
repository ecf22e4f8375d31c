"""Labelled tables of the largest entries of a matrix: the one ``top_entries`` of the book."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["top_entries"]


def top_entries(
    matrix: Float[Tensor, "rows cols"],
    k: int,
    *,
    rows: Sequence[str] | None = None,
    cols: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    symmetric: bool = False,
    largest: bool = True,
    names: tuple[str, str, str] = ("row", "col", "value"),
) -> pd.DataFrame:
    """The ``k`` largest (or smallest) entries of a matrix as a table, best first.

    Cost: one ``topk`` over the flattened matrix, O(rows·cols).

    Args:
        rows, cols: labels for the two axes (token strings, say); indices if omitted.
        labels: the same labels for both axes of a square matrix (a vocabulary's tokens).
        symmetric: list each unordered pair of a symmetric matrix once (row ≥ col).
        names: column names of the table, e.g. ``("input", "output", "logit")``.

    Raises:
        ValueError: a matrix that is not 2-D (or not square with ``labels``/``symmetric``),
            labels of the wrong length, or ``k`` outside the number of entries.
    """
    if matrix.ndim != 2:
        raise ValueError(
            f"top_entries takes a 2-D matrix, got shape {tuple(matrix.shape)}"
        )
    n_rows, n_cols = matrix.shape
    if (labels is not None or symmetric) and n_rows != n_cols:
        raise ValueError(
            f"labels= and symmetric= need a square matrix, got shape {tuple(matrix.shape)}"
        )
    if labels is not None:
        rows = cols = labels
    for label, seq, n in (("rows", rows, n_rows), ("cols", cols, n_cols)):
        if seq is not None and len(seq) != n:
            raise ValueError(
                f"{label} has {len(seq)} labels but the matrix has {n} {label}"
            )
    available = n_rows * (n_rows + 1) // 2 if symmetric else matrix.numel()
    if not 0 < k <= available:
        raise ValueError(f"k={k}: ask for between 1 and {available} entries")
    if symmetric:
        upper = torch.ones_like(matrix, dtype=torch.bool).triu(1)
        matrix = matrix.masked_fill(upper, float("-inf") if largest else float("inf"))
    values, flat = torch.topk(matrix.flatten(), k, largest=largest)
    r, c = flat // n_cols, flat % n_cols
    return pd.DataFrame(
        {
            names[0]: _labels(rows, r),
            names[1]: _labels(cols, c),
            names[2]: values.tolist(),
        }
    )


def _labels(seq: Sequence[str] | None, idx: Tensor) -> list[Any]:
    return [seq[i] for i in idx.tolist()] if seq is not None else idx.tolist()
