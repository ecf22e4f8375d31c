"""Tables the studies share: the largest entries of a matrix, with labels."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor


def top_entries(
    matrix: Float[Tensor, "rows cols"],
    k: int,
    *,
    rows: Sequence[str] | None = None,
    cols: Sequence[str] | None = None,
    largest: bool = True,
    names: tuple[str, str, str] = ("row", "col", "value"),
) -> pd.DataFrame:
    """The ``k`` largest (or smallest) entries of a matrix as a table, best first.

    Cost: one ``topk`` over the flattened matrix, O(rows·cols).

    Args:
        rows, cols: labels for the two axes (token strings, say); indices if omitted.
        names: column names of the table, e.g. ``("input", "output", "logit")``.
    """
    if matrix.ndim != 2:
        raise ValueError(f"top_entries takes a 2-D matrix, got shape {tuple(matrix.shape)}")
    n_rows, n_cols = matrix.shape
    for label, seq, n in (("rows", rows, n_rows), ("cols", cols, n_cols)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{label} has {len(seq)} labels but the matrix has {n} {label}")
    if not 0 < k <= matrix.numel():
        raise ValueError(f"k={k}: ask for between 1 and {matrix.numel()} entries")
    values, flat = torch.topk(matrix.flatten(), k, largest=largest)
    r, c = flat // n_cols, flat % n_cols
    return pd.DataFrame({names[0]: _labels(rows, r), names[1]: _labels(cols, c), names[2]: values.tolist()})


def _labels(seq: Sequence[str] | None, idx: Tensor) -> list[Any]:
    return [seq[i] for i in idx.tolist()] if seq is not None else idx.tolist()
