"""Reading a trained attention-only model.

Attention maps, per-head logit contributions, capacity checks:

* :func:`attention_map`: the weight a head puts on the *first* token, for every pair of tokens,
  from the weights alone (the original ``attention_map`` transposed ``Q``/``K`` and skipped the
  normalisation; this one matches the model's own pattern to float precision);
* :func:`head_contributions`: each head's and the residual path's share of the logits, which
  sum to the logits exactly;
* :func:`unembedding_coordinates`: a residual vector written as a combination of the tokens'
  unembedding vectors (the original ``new_computation_basis``);
* :func:`solve_output_weights`: the linear-algebra core of the capacity theorem: with the
  attention frozen at random, ``W_O`` alone can put the last residual anywhere for up to
  ``H·d_h`` contexts;
* :func:`model_from_artifact`: rebuild a model the ``memo-inspect`` artifact stores
  (``recipes.load_model("memo-inspect", prefix=..., cfg=...)``);
* :func:`seed_table`: mean and spread over seeds of the accuracy and KL of several settings
  (the freezing and the path-removal experiments);
* :func:`line_fit`: a least-squares line and its R² (accuracy against the number of heads);
* :func:`sweep_table`: one row per grid point of a scaling sweep, beside the paper's mean and
  the capacity bound;
* :func:`context_counts`: how often each context occurs in the first batches of a data
  function (the paper's fixed training sample).
"""

from __future__ import annotations

import math
from typing import Any, cast

import einops
import pandas as pd
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor

from interplib.core.artifacts import Artifact
from interplib.studies.memorization.model import (
    AoTConfig,
    AttentionOnly,
    Block,
    LowRank,
)

__all__ = [
    "attention_map",
    "all_pairs",
    "head_contributions",
    "unembedding_coordinates",
    "solve_output_weights",
    "model_from_artifact",
    "sweep_figure",
    "seed_table",
    "line_fit",
    "sweep_table",
    "context_counts",
]


def all_pairs(N: int) -> Int[Tensor, "context 2"]:
    """Every context ``(t1, t2)``, ordered by ``z = N·t1 + t2``."""
    t = torch.arange(N)
    return torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)


@torch.no_grad()
def attention_map(model: AttentionOnly, head: int) -> Float[Tensor, "t2 t1"]:
    """``A[i, j]``: attention of head ``head`` from the query ``t2 = i`` to ``t1 = j``.

    The query is at position 2, the key at position 1. With ``x_s = LN(e(t_s)) + p_s`` (gated
    as the model does) and ``s(x, y) = (x W_Q)·(y W_K)/√d_h``,
    ``A[i, j] = σ(s(x_i^{(2)}, x_j^{(1)}) - s(x_i^{(2)}, x_i^{(2)}))``: a two-way softmax.
    One layer, two-token contexts only.
    """
    if model.cfg.n_layers != 1 or model.cfg.n_ctx != 2:
        raise ValueError("attention_map reads one layer over two-token contexts")
    # an nn.ModuleList item is a Module to the type checker
    block = cast(Block, model.blocks[0])
    _, emb_qk, pos_qk, _, _ = block.gates
    e = (
        F.layer_norm(model.W_E, model.W_E.shape[-1:])
        if model.cfg.layernorm
        else model.W_E
    )
    x1, x2 = emb_qk * e + pos_qk * model.W_pos[0], emb_qk * e + pos_qk * model.W_pos[1]
    a = block.attn
    d_h = a.dim_mask.sum()
    q = (x2 @ a.W_Q[head]) * a.dim_mask
    k1, k2 = (x1 @ a.W_K[head]) * a.dim_mask, (x2 @ a.W_K[head]) * a.dim_mask
    s_first = q @ k1.T / d_h.sqrt()  # [t2 t1]
    s_self = (q * k2).sum(-1, keepdim=True) / d_h.sqrt()
    return torch.sigmoid(s_first - s_self)


@torch.no_grad()
def head_contributions(
    model: AttentionOnly, tokens: Int[Tensor, "batch 2"]
) -> tuple[Float[Tensor, "batch d_vocab"], Float[Tensor, "batch head d_vocab"]]:
    """Direct logit contributions, centred over the vocabulary: ``(residual, heads)``.

    They sum to the centred logits (one layer, no MLP).
    """
    if model.cfg.n_layers != 1 or model.cfg.d_mlp:
        raise ValueError("head_contributions splits a one-layer model without MLP")
    logits, cache = model.run_with_cache(tokens)
    result = cache["blocks.0.attn.hook_result"][:, -1]  # batch head d_model
    # the residual path at the last position
    resid = cast(Block, model.blocks[0]).gates[0] * cache["hook_embed"][:, -1]
    centre = lambda x: x - x.mean(-1, keepdim=True)  # noqa: E731
    heads = centre(einops.einsum(result, model.W_U, "b head d, d v -> b head v"))
    return centre(resid @ model.W_U), heads


def unembedding_coordinates(
    x: Float[Tensor, "... d_model"], W_U: Float[Tensor, "d_model d_vocab"]
) -> Float[Tensor, "... d_vocab"]:
    """``c`` with ``W_U c = x`` and the least norm: ``x`` as a combination of the tokens'
    unembedding vectors (the columns of ``W_U``), ``c = W_Uᵀ (W_U W_Uᵀ)⁻¹ x``.

    The original notebook's ``new_computation_basis`` (``W_U (W_Uᵀ W_U)⁻¹ v`` for its
    ``[vocab, d]`` unembedding). Unlike the logits ``W_Uᵀ x`` it does not favour tokens whose
    unembedding vectors are long or crowded together; the two agree when the rows of
    ``W_U`` are orthonormal.

    Raises:
        ValueError: if the shapes disagree or ``W_U`` has rank below ``d_model``.
    """
    d = W_U.shape[0]
    if x.shape[-1] != d or W_U.ndim != 2 or W_U.shape[1] < d:
        raise ValueError(
            f"x {tuple(x.shape)} and W_U {tuple(W_U.shape)}: need [... d] and [d, vocab ≥ d]"
        )
    gram = W_U.double() @ W_U.double().T  # [d d]
    if int(torch.linalg.matrix_rank(gram)) < d:
        raise ValueError("W_U has rank below d_model: the coordinates are not unique")
    solved = torch.linalg.solve(gram, x.double().reshape(-1, d).T)  # [d n]
    return (W_U.double().T @ solved).T.reshape(*x.shape[:-1], -1).to(x.dtype)


@torch.no_grad()
def solve_output_weights(
    model: AttentionOnly,
    tokens: Int[Tensor, "context 2"],
    targets: Float[Tensor, "context d_model"],
) -> tuple[Tensor, int]:
    """Least-squares ``W_O`` making the last residual equal ``targets`` with everything else frozen.

    The last residual is ``r(t) + Z(t) vec(W_O)`` where ``Z(t) = [z_1(t) … z_H(t)]`` stacks the
    heads' value mixtures; ``Z [context, H·d_h]`` generically has rank ``min(T, H·d_h)``, so the
    fit is exact for up to ``H·d_h`` contexts. Returns ``W_O [head d_head d_model]`` and
    ``rank(Z)``.
    """
    _, cache = model.run_with_cache(tokens)
    z = cache["blocks.0.attn.hook_z"][:, -1]  # context head d_head
    Z = einops.rearrange(z, "t head h -> t (head h)").double()
    resid = cast(Block, model.blocks[0]).gates[0] * cache["hook_embed"][:, -1]
    sol = torch.linalg.lstsq(Z, (targets - resid).double()).solution
    W_O = einops.rearrange(sol, "(head h) d -> head h d", head=model.cfg.n_heads)
    return W_O.to(model.W_U.dtype), int(torch.linalg.matrix_rank(Z))


def model_from_artifact(
    config: Any, art: Artifact, prefix: str, cfg: AoTConfig | None = None
) -> torch.nn.Module:
    """The model stored under ``prefix.`` in an artifact (the ``memo-inspect`` loader): an
    :class:`~interplib.studies.memorization.model.AttentionOnly` if ``cfg`` is given, else a
    :class:`~interplib.studies.memorization.model.LowRank`."""
    tensors = art.tensors
    state = {
        k[len(prefix) + 1 :]: v.float()
        for k, v in tensors.items()
        if k.startswith(prefix + ".")
    }
    if not state:
        raise KeyError(
            f"no tensors named {prefix}.* in the artifact; known prefixes: "
            f"{sorted({k.split('.')[0] for k in tensors})}"
        )
    if cfg is None:
        n_ctx = round(math.log(state["W_E"].shape[0], state["W_U"].shape[1]))
        model = LowRank(state["W_U"].shape[1], state["W_E"].shape[1], n_ctx)
    else:
        model = AttentionOnly(cfg)
    model.load_state_dict(state, strict=False)
    return model.eval()


def sweep_figure(
    grid: Int[Tensor, "point 3"],
    acc: Float[Tensor, "point seed"],
    axis: int,
    N: int,
    label: str,
    published: dict[int, float] | None = None,
    train_acc: Float[Tensor, "point seed"] | None = None,
):
    """Accuracy of a sweep: every seed, mean ± std, the two capacity bounds and the paper's means.

    ``grid`` rows are ``(d, d_h, H)``; ``axis`` picks the swept one (0, 1 or 2). ``train_acc``
    adds the mean of the paper's metric (accuracy on the last training batches) as a line.
    """
    import plotly.graph_objects as go

    from interplib.book.plotting import TEMPLATE
    from interplib.studies.memorization import laws as mem

    x = grid[:, axis].tolist()
    T0 = N * N
    ours = [
        mem.accuracy_bound(mem.capacity(H, dh, d), T0, N) for d, dh, H in grid.tolist()
    ]
    prev = [
        mem.accuracy_bound(mem.previous_capacity(H, dh), T0, N)
        for d, dh, H in grid.tolist()
    ]
    fig = go.Figure()
    for s in range(acc.shape[1]):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=acc[:, s].tolist(),
                mode="markers",
                marker=dict(color="gray", size=6),
                name="seeds",
                showlegend=s == 0,
                legendgroup="seeds",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=acc.mean(1).tolist(),
            mode="lines+markers",
            name=f"mean ± std (n={acc.shape[1]})",
            error_y=dict(
                type="data", array=acc.std(1).tolist() if acc.shape[1] > 1 else None
            ),
        )
    )
    if train_acc is not None:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=train_acc.mean(1).tolist(),
                mode="lines+markers",
                name="mean, the paper's metric",
                line=dict(dash="dashdot"),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=ours,
            mode="lines",
            name="bound, C = H·d<sub>h</sub> + d",
            line=dict(dash="dash"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=prev,
            mode="lines",
            name="bound, C = H(d<sub>h</sub> − 1) + 1",
            line=dict(dash="dot"),
        )
    )
    if published:
        px_ = sorted(published)
        fig.add_trace(
            go.Scatter(
                x=px_,
                y=[published[k] for k in px_],
                mode="markers",
                name="Dana et al. (2025)",
                marker=dict(symbol="diamond", size=9),
            )
        )
    return fig.update_layout(
        template=TEMPLATE,
        xaxis_title=label,
        yaxis_title="accuracy",
        yaxis_range=[0, 1.02],
        title=f"Accuracy against {label} (N = {N}, T<sub>0</sub> = {T0})",
    )


def seed_table(
    accuracy: Float[Tensor, "setting seed"],
    kl: Float[Tensor, "setting seed"],
    settings: list[str],
) -> pd.DataFrame:
    """One row per setting: the accuracy's mean and std over seeds, the mean KL.

    The columns are ``accuracy (mean)``, ``accuracy (std)`` and ``KL (nats)``; the standard
    deviation is the unbiased one (``torch.std``), as over three seeds.
    """
    if accuracy.shape != kl.shape or accuracy.shape[0] != len(settings):
        raise ValueError(
            f"accuracy {tuple(accuracy.shape)} and kl {tuple(kl.shape)} must both be "
            f"[setting seed] with {len(settings)} settings"
        )
    columns = {
        "accuracy (mean)": accuracy.mean(1),
        "accuracy (std)": accuracy.std(1),
        "KL (nats)": kl.mean(1),
    }
    return pd.DataFrame({k: v.tolist() for k, v in columns.items()}, index=settings)


def line_fit(x: Any, y: Any) -> tuple[float, float, float]:
    """``(slope, intercept, R²)`` of the least-squares line ``y ≈ slope·x + intercept``.

    ``x`` and ``y`` are sequences (or 1-d tensors, arrays) of the same length ``n >= 2``,
    fitted in float64.
    """
    x = torch.tensor([float(v) for v in x], dtype=torch.float64)
    y = torch.tensor([float(v) for v in y], dtype=torch.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError(
            f"x {tuple(x.shape)} and y {tuple(y.shape)}: need two 1-d series of one "
            "length, at least 2"
        )
    design = torch.stack([x, torch.ones_like(x)], 1)
    fit = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    r2 = 1 - ((y - design @ fit) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return float(fit[0]), float(fit[1]), float(r2)


def sweep_table(
    grid: Int[Tensor, "point 3"],
    acc: Float[Tensor, "point seed"],
    train_acc: Float[Tensor, "point seed"],
    axis: int,
    N: int,
    published: dict[int, float] | None = None,
) -> pd.DataFrame:
    """One row per grid point ``(d, d_h, H)`` of a sweep over all ``N²`` contexts.

    Columns: ``d``, ``d_h``, ``H``; ``accuracy`` and ``std`` (the seeds' exact accuracy,
    mean and unbiased std); ``paper metric`` (mean of ``train_acc``); ``seeds``; ``paper``
    (``published[x]`` for the swept value ``x = (d, d_h, H)[axis]``, NaN where the paper has
    none); ``bound`` (the accuracy that Cor. 2 of Dana et al. 2025 guarantees with
    ``C = H·d_h + d``).
    """
    from interplib.studies.memorization import laws as mem

    if acc.shape != train_acc.shape or acc.shape[0] != grid.shape[0]:
        raise ValueError(
            f"grid {tuple(grid.shape)}, acc {tuple(acc.shape)} and train_acc "
            f"{tuple(train_acc.shape)}: need [point 3], [point seed], [point seed]"
        )
    published = published or {}
    rows = []
    for (d, dh, H), row, train_row in zip(grid.tolist(), acc, train_acc):
        rows.append(
            (
                d,
                dh,
                H,
                float(row.mean()),
                float(row.std()),
                float(train_row.mean()),
                len(row),
                published.get((d, dh, H)[axis], float("nan")),
                mem.accuracy_bound(mem.capacity(H, dh, d), N * N, N),
            )
        )
    columns = ["d", "d_h", "H", "accuracy", "std", "paper metric", "seeds", "paper"]
    return pd.DataFrame(rows, columns=[*columns, "bound"])


def context_counts(data: Any, n_batches: int, N: int) -> Int[Tensor, " context"]:
    """How often each context ``z = N·t1 + t2`` occurs in ``data(0) … data(n_batches - 1)``.

    ``data(step)`` returns ``{"tokens": [batch 3], ...}`` (one law, as
    :func:`~interplib.studies.memorization.training.law_data` gives with ``per_model=False``);
    with ``pool_batches = n_batches`` that is the whole fixed training sample, each sequence
    once. Returns ``[N²]`` counts.
    """
    contexts = torch.cat([data(k)["tokens"][:, :2] for k in range(n_batches)])
    return torch.bincount(contexts[:, 0] * N + contexts[:, 1], minlength=N * N)
