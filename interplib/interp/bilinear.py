"""Bigrams read from the weights of a bilinear transformer (never a V×V×V tensor).

Notation (column vectors, as in the chapter): ``e_i`` is token i's embedding (row i of
``W_E``), ``u_o`` token o's unembedding (column o of ``W_U``), and a bilinear MLP maps its
input x to ``P((L x) ⊙ (R x))`` with ``L = W_gateᵀ``, ``R = W_inᵀ``, ``P = W_outᵀ``. Its
logit for an output token t is a quadratic form::

    u_tᵀ P((L x) ⊙ (R x)) = xᵀ S_t x,   S_t = ½ Σ_k c_k (l_k r_kᵀ + r_k l_kᵀ),   c = Pᵀ u_t,

so for inputs drawn from the vocabulary, ``x = Σ_a α_a x_a``, it is ``αᵀ Q^(t) α`` with the
**interaction matrix** ``Q^(t)_ab = x_aᵀ S_t x_b``, whose diagonal is the **MLP direct path**
``D[t, i] = x_iᵀ S_t x_i = u_tᵀ P((L x_i) ⊙ (R x_i))``.

What x_i is: the MLP's input when the residual stream holds the embedding alone, as the
model computes it, ``x_i = g₂ ⊙ e_i`` (gain applied; ``normalize=False``, the original
notebook's ``diagonal`` once the gains are folded) or ``x_i = g₂ ⊙ e_i / √(mean(e_i²)+ε)``
(``normalize=True``: the RMS division too). Every function applies the gains itself, so its
result is the same before and after :func:`fold_norms`; ``u_t`` always includes the final
norm's gain, never its (position-dependent) division. Attention and the other layers are
left out: these are weight-only readings, the chapter measures how far they go.

Costs for V tokens, d = d_model, h = d_mlp: the diagonal is O(V·d·h + V²·d) time and
O(V² + chunk·h) memory; one interaction matrix is O(d²·h + V²·d), its eigendecomposition is
of the d×d form ``S_t`` (O(d³)), mapped to tokens through ``x_aᵀ v``; O(V²) memory at most.

Ground truth for the chapter: ``bigram_log_probs`` of a corpus's counts
(``lmdata.bigram_counts``, transposed to [out, in]), and per-input
``precision_at_k``, ``mass_at_k``, ``column_correlation`` (Spearman/Pearson) and
``top1_agreement`` between
two [out, in] tables (a weight-only table, the corpus's log-probabilities, the model's
``single_token_logits``).
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple, Protocol, TypeVar

import einops
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from interplib.core.checks import Resolver, check_layer, check_token


class BilinearLayout(Protocol):
    """Any model laid out like :class:`interplib.studies.bilinear.model.BilinearTransformer`.

    TL names, ``cfg.n_layers``, ``blocks[l].mlp.W_gate|W_in|W_out``, norm gains ``ln1.w``,
    ``ln2.w``, ``ln_final.w``, ``W_E`` and ``W_U``. An ``nn.Module`` finds its submodules by
    name at run time (``__getattr__``), which a type checker cannot follow: to it every
    attribute is ``Any``, and the layout is checked by use.
    """

    def __getattr__(self, name: str) -> Any: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


# The functions that edit a copy return the type they were given.
BilinearModel = TypeVar("BilinearModel", bound=BilinearLayout)


@torch.no_grad()
def fold_norms(model: BilinearModel) -> BilinearModel:
    """A copy with every RMSNorm gain folded into the next matrix, and the gains set to 1.

    ``W_Q,K,V ← diag(g₁) W``, ``W_gate, W_in ← diag(g₂) W``, ``W_U ← diag(g_f) W_U``. Exact,
    because the norms have no bias: the division by the RMS stays in the model.
    """
    model = copy.deepcopy(model)
    for block in model.blocks:
        for W in (block.attn.W_Q, block.attn.W_K, block.attn.W_V):
            W.mul_(block.ln1.w[None, :, None])
        for W in (block.mlp.W_gate, block.mlp.W_in):
            W.mul_(block.ln2.w[:, None])
        block.ln1.w.fill_(1.0)
        block.ln2.w.fill_(1.0)
    model.unembed.W_U.mul_(model.ln_final.w[:, None])
    model.ln_final.w.fill_(1.0)
    return model


@torch.no_grad()
def center_unembed(model: BilinearModel) -> BilinearModel:
    """A copy with ``W_U`` centred over the **vocabulary**: ``W_U[:, o] -= mean_o W_U[:, o]``.

    Every logit at a position drops by the same amount (their mean), so the softmax, the
    loss and every prediction are unchanged. This is TransformerLens' ``center_unembed``.
    """
    model = copy.deepcopy(model)
    model.unembed.W_U.sub_(model.unembed.W_U.mean(dim=-1, keepdim=True))
    return model


@torch.no_grad()
def center_unembed_d_model(model: BilinearModel) -> BilinearModel:
    """A copy with each token's unembedding centred over **d_model**, as the original notebook did.

    ``u_o ← u_o − mean(u_o)·1``, so logit o becomes ``u_o·y − mean(u_o)·Σ_j y_j``: the shift
    depends on the token o, and RMSNorm does not centre y, so the outputs **change**. Kept
    only to show that; use :func:`center_unembed` for a softmax-preserving edit.
    """
    model = copy.deepcopy(model)
    model.unembed.W_U.sub_(model.unembed.W_U.mean(dim=0, keepdim=True))
    return model


def process_weights(
    model: BilinearModel, *, fold: bool = True, center: bool = True
) -> BilinearModel:
    """Fold the norms and centre the unembedding over the vocabulary (both output-preserving)."""
    if center:
        model = center_unembed(model)
    if fold:
        model = fold_norms(model)
    return model


def unembed_directions(model: BilinearLayout) -> Float[Tensor, "d_model d_vocab"]:
    """``diag(g_f) W_U``: column o is u_o with the final norm's gain applied."""
    return model.ln_final.w[:, None] * model.unembed.W_U


def token_inputs(
    model: BilinearLayout,
    layer: int,
    *,
    normalize: bool = False,
    tokens: Tensor | None = None,
) -> Float[Tensor, "token d_model"]:
    """Layer ``layer``'s MLP input when the residual holds one embedding: ``g₂ ⊙ e_i`` (÷ RMS)."""
    block = model.blocks[check_layer(layer, model.cfg.n_layers)]
    E = model.embed.W_E if tokens is None else model.embed.W_E[tokens]
    if normalize:
        E = E / (E.pow(2).mean(-1, keepdim=True) + block.ln2.eps).sqrt()
    return E * block.ln2.w


@torch.no_grad()
def direct_path(
    model: BilinearLayout, *, normalize: bool = False
) -> Float[Tensor, "out in"]:
    """The zero-layer bigram logits ``U E``, indexed [output, input], with the final gain.

    ``normalize=True`` divides input i by ``√(mean(e_i²)+ε)``, as the final norm would if the
    residual held ``e_i`` alone; then it is exactly the logits of the embedding-unembedding path.
    """
    E = model.embed.W_E
    if normalize:
        E = E / (E.pow(2).mean(-1, keepdim=True) + model.ln_final.eps).sqrt()
    return (E @ unembed_directions(model)).T


@torch.no_grad()
def mlp_diagonal(
    model: BilinearLayout,
    layer: int | None = None,
    *,
    normalize: bool = False,
    skip: bool = False,
    chunk: int = 1024,
) -> Float[Tensor, "... out in"]:
    """The MLP direct path ``D[o, i] = u_oᵀ P((L x_i) ⊙ (R x_i))`` of one layer, or all stacked.

    The logit of o when x_i (see the module docstring) goes through layer ``layer``'s MLP
    alone. ``skip=True`` adds the skip connection's ``u_o·e_i`` (the original's
    ``diagonal(residual=True)``, "D⁺"). Shape [out in], or [layer out in] for ``layer=None``.

    Cost: O(V·d·h + V²·d) time, O(V² + chunk·h) memory; the V×V×V tensor is never formed.

    Raises:
        IndexError: ``layer`` is out of range.
    """
    if layer is None:
        return torch.stack(
            [
                mlp_diagonal(model, l, normalize=normalize, skip=skip, chunk=chunk)
                for l in range(model.cfg.n_layers)
            ]
        )
    mlp = model.blocks[check_layer(layer, model.cfg.n_layers)].mlp
    U = unembed_directions(model)
    X = token_inputs(model, layer, normalize=normalize)
    out = torch.empty(U.shape[1], X.shape[0], dtype=U.dtype, device=U.device)
    for start in range(0, X.shape[0], chunk):
        x = X[start : start + chunk]
        y = ((x @ mlp.W_gate) * (x @ mlp.W_in)) @ mlp.W_out  # [chunk d_model]
        if skip:
            y = y + model.embed.W_E[start : start + chunk]  # the skip path adds e_i
        out[:, start : start + chunk] = (y @ U).T
    return out


@torch.no_grad()
def interaction_form(
    model: BilinearLayout,
    token: int | str,
    layer: int,
    *,
    resolve: Resolver | None = None,
) -> Float[Tensor, "d_model d_model"]:
    """The symmetric S_t with ``u_tᵀ MLP_l(x) = xᵀ S_t x`` for every MLP input x.

    ``S_t = ½ Σ_k c_k (l_k r_kᵀ + r_k l_kᵀ)`` with ``c = Pᵀ u_t``: only the symmetric part of
    each unit's ``l_k r_kᵀ`` contributes to a quadratic form. Cost O(d²·h).
    """
    t = check_token(token, model.cfg.d_vocab, resolve)
    mlp = model.blocks[check_layer(layer, model.cfg.n_layers)].mlp
    c = mlp.W_out @ unembed_directions(model)[:, t]  # [d_mlp]
    S = einops.einsum(mlp.W_gate * c, mlp.W_in, "a k, b k -> a b")
    return (S + S.T) / 2


@torch.no_grad()
def interaction_matrix(
    model: BilinearLayout,
    token: int | str,
    layer: int,
    *,
    resolve: Resolver | None = None,
    normalize: bool = False,
) -> Float[Tensor, "in1 in2"]:
    """``Q^(t)_ab = x_aᵀ S_t x_b``: layer l's MLP logit for t on ``Σ_a α_a x_a`` is ``αᵀ Q α``.

    Symmetric (to rounding); its diagonal is ``mlp_diagonal(model, l)[t]`` (same ``normalize``). The
    skip path is linear in x and adds no pairwise term, so there is none here (the
    original's ``interaction(residual=True)`` added one; it was wrong). Cost O(d²·h + V²·d).

    Raises:
        ValueError: ``token`` is a string that is not a single token.
        IndexError: ``token`` or ``layer`` is out of range.
    """
    X = token_inputs(model, layer, normalize=normalize)
    return (
        X @ interaction_form(model, token, layer, resolve=resolve)
    ) @ X.T  # symmetric up to rounding


class Eigen(NamedTuple):
    """``S_t = Σ_i λ_i v_i v_iᵀ``, sorted by ``|λ|`` (largest first)."""

    #: ``λ_i``, largest ``|λ|`` first
    eigenvalues: Float[Tensor, " k"]
    #: column i is ``v_i``
    eigenvectors: Float[Tensor, "d_model k"]
    #: ``x_aᵀ v_i``, how much token a loads on ``v_i``
    token_scores: Float[Tensor, "d_vocab k"]


@torch.no_grad()
def interaction_eigen(
    model: BilinearLayout,
    token: int | str,
    layer: int,
    *,
    resolve: Resolver | None = None,
    normalize: bool = False,
) -> Eigen:
    """Eigendecomposition of the interaction form S_t (Pearce et al., 2025, §3).

    ``u_tᵀ MLP(x) = Σ_i λ_i (v_iᵀ x)²``: the eigenvectors of largest ``|λ|`` give the best low-rank
    approximation, with no cross terms. In token coordinates ``Q^(t) = Σ_i λ_i s_i s_iᵀ``
    with ``s_i = X v_i`` (``token_scores``). Cost O(d²·h + d³ + V·d²).
    """
    S = interaction_form(model, token, layer, resolve=resolve)
    values, vectors = torch.linalg.eigh(S)
    order = values.abs().argsort(descending=True)
    values, vectors = values[order], vectors[:, order]
    X = token_inputs(model, layer, normalize=normalize)
    return Eigen(values, vectors, X @ vectors)


def effective_rank(eigenvalues: Float[Tensor, " k"]) -> float:
    """``(‖λ‖₁ / ‖λ‖₂)²``: the number of equally large eigenvalues with the same norms."""
    return float((eigenvalues.abs().sum() / eigenvalues.norm()) ** 2)


def single_token_logits(
    model: BilinearLayout, batch: int = 1024
) -> Float[Tensor, "out in"]:
    """The model's real logits for every one-token context ``[i]``, indexed [output, input].

    The full forward pass (attention to itself, every layer, every norm): the reference
    the weight-only tables are measured against. Cost: V forward passes of one position.
    """
    V = model.cfg.d_vocab
    device = model.embed.W_E.device
    cols = [
        model(torch.arange(s, min(s + batch, V), device=device)[:, None])[:, 0]
        for s in range(0, V, batch)
    ]
    return torch.cat(cols).T


def bigram_log_probs(
    counts: Float[Tensor, "out in"], smoothing: float = 1.0
) -> Float[Tensor, "out in"]:
    """``log P(o | i)`` with add-``smoothing`` counts; each column is a distribution over o."""
    counts = counts.double() + smoothing
    return (counts / counts.sum(0, keepdim=True)).log()


def _columns(matrix: Tensor, inputs: Tensor | None) -> Tensor:
    return matrix if inputs is None else matrix[:, inputs]


def precision_at_k(
    scores: Float[Tensor, "out in"],
    truth: Float[Tensor, "out in"],
    k: int,
    inputs: Tensor | None = None,
) -> Float[Tensor, " in"]:
    """Per input i: the share of the k outputs ranked highest by ``scores[:, i]`` that are among the
    k highest of ``truth[:, i]``. Ties in ``truth`` are broken arbitrarily, so choose ``inputs``
    whose k-th true follower is strictly ahead of the (k+1)-th where that matters.

    Args:
        inputs: a boolean mask or index tensor over the input tokens to score (e.g. frequent ones).
    """
    a, b = _columns(scores, inputs), _columns(truth, inputs)
    if a.shape != b.shape or not 0 < k <= a.shape[0]:
        raise ValueError(
            f"scores {tuple(a.shape)} and truth {tuple(b.shape)} must match, "
            f"and k={k} be in 1 … {a.shape[0]}"
        )
    true_top = torch.zeros(b.shape, dtype=torch.bool, device=b.device)
    true_top.scatter_(0, b.topk(k, dim=0).indices, True)
    return true_top.gather(0, a.topk(k, dim=0).indices).double().mean(0)


def _ranks(rows: Float[Tensor, "n m"]) -> Float[Tensor, "n m"]:
    """1-based ranks within each row, ties sharing their average rank (as Spearman needs)."""
    rows = rows.contiguous()
    ordered = rows.sort(dim=-1).values
    lo = torch.searchsorted(ordered, rows, side="left")
    hi = torch.searchsorted(ordered, rows, side="right")
    return (lo + hi + 1).double() / 2


def column_correlation(
    a: Float[Tensor, "out in"],
    b: Float[Tensor, "out in"],
    inputs: Tensor | None = None,
    method: str = "spearman",
) -> Float[Tensor, " in"]:
    """Per input token i, the correlation over outputs o of ``a[o, i]`` and ``b[o, i]``.

    ``method="spearman"`` (ranks, ties averaged) or ``"pearson"``. Cost O(V² log V).
    """
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method={method!r}: use 'spearman' or 'pearson'")
    x, y = _columns(a, inputs).T.double(), _columns(b, inputs).T.double()
    if x.shape != y.shape:
        raise ValueError(
            f"the two tables have shapes {tuple(x.T.shape)} and {tuple(y.T.shape)}"
        )
    if method == "spearman":
        x, y = _ranks(x), _ranks(y)
    x, y = x - x.mean(-1, keepdim=True), y - y.mean(-1, keepdim=True)
    return (x * y).sum(-1) / (x.norm(dim=-1) * y.norm(dim=-1))


def top1_agreement(
    a: Float[Tensor, "out in"], b: Float[Tensor, "out in"], inputs: Tensor | None = None
) -> float:
    """Share of inputs whose highest-scoring output is the same in both tables."""
    return float(
        (_columns(a, inputs).argmax(0) == _columns(b, inputs).argmax(0)).double().mean()
    )


# ----------------------------------------------------------------- helpers the chapter reuses


@torch.no_grad()
def edit_effect(
    original: nn.Module, edited: nn.Module, tokens: Int[Tensor, "batch pos"]
) -> tuple[float, float]:
    """How far a weight edit moves a model's predictions on ``tokens`` [batch pos].

    Returns ``(max |Δ log p|, KL(original ‖ edited))``: the largest change of any
    log-probability over every position and vocabulary entry, and the KL divergence in nats
    per token, averaged over batch and pos. Both models map [batch pos] tokens to
    [batch pos d_vocab] logits; an exact edit (:func:`fold_norms`, :func:`center_unembed`)
    gives zeros up to float rounding.
    """
    a = original(tokens).log_softmax(-1)
    b = edited(tokens).log_softmax(-1)
    return float((a - b).abs().max()), float((a.exp() * (a - b)).sum(-1).mean())


def mass_at_k(
    scores: Float[Tensor, "out in"],
    log_probs: Float[Tensor, "out in"],
    k: int,
    inputs: Tensor | None = None,
) -> Float[Tensor, " in"]:
    """Per input i: the true probability mass ``Σ_o P(o | i)`` of the k outputs ranked highest
    by ``scores[:, i]``, with ``log_probs[:, i] = log P(· | i)``. Unlike a rank correlation over
    all V outputs it ignores the order of the many outputs that never follow i, and it does
    not punish swapping two near-tied followers; the truth itself scores the most that k
    outputs can hold."""
    a, b = _columns(scores, inputs), _columns(log_probs, inputs)
    if a.shape != b.shape or not 0 < k <= a.shape[0]:
        raise ValueError(
            f"scores {tuple(a.shape)} and log_probs {tuple(b.shape)} must match, "
            f"and k={k} be in 1 … {a.shape[0]}"
        )
    return b.double().exp().gather(0, a.topk(k, dim=0).indices).sum(0)


def table_scores(
    table: Float[Tensor, "out in"],
    truth: Float[Tensor, "out in"],
    inputs: Tensor | None = None,
    k: int = 10,
) -> dict[str, float]:
    """Per-input agreement of a bigram table with the truth ``log P(o | i)``, averaged over
    ``inputs``.

    ``{"precision@k": mean precision_at_k, "mass@k": mean mass_at_k, "top-1 agreement":
    top1_agreement}``; ``inputs`` is a boolean mask or index tensor over the input tokens
    (all of them when None).
    """
    return {
        f"precision@{k}": float(precision_at_k(table, truth, k, inputs).mean()),
        f"mass@{k}": float(mass_at_k(table, truth, k, inputs).mean()),
        "top-1 agreement": top1_agreement(table, truth, inputs),
    }


def global_top_share(
    table: Float[Tensor, "out in"], k: int, outputs: Bool[Tensor, " out"]
) -> float:
    """Share of the ``k`` largest entries of ``table`` (over all out × in pairs) whose output
    token is marked in ``outputs`` (e.g. word-continuation pieces)."""
    top = torch.topk(table.flatten(), k).indices // table.shape[1]
    return float(outputs[top].float().mean())


def global_top_inputs(table: Float[Tensor, "out in"], k: int) -> int:
    """How many distinct input tokens the ``k`` largest entries of ``table`` come from: a
    global top-k favours the few inputs whose entries are large everywhere."""
    return len(set((torch.topk(table.flatten(), k).indices % table.shape[1]).tolist()))


__all__ = [
    "BilinearLayout",
    "Eigen",
    "bigram_log_probs",
    "center_unembed",
    "center_unembed_d_model",
    "column_correlation",
    "direct_path",
    "edit_effect",
    "global_top_inputs",
    "global_top_share",
    "precision_at_k",
    "top1_agreement",
    "effective_rank",
    "fold_norms",
    "interaction_eigen",
    "interaction_form",
    "interaction_matrix",
    "mass_at_k",
    "mlp_diagonal",
    "process_weights",
    "single_token_logits",
    "table_scores",
    "token_inputs",
    "unembed_directions",
]
