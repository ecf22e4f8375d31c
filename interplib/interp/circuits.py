"""QK and OV circuits of attention-only transformers: score terms, head scores, composition, paths.

**Conventions.** Everything here uses TransformerLens's row-vector layout (``resid @ W``):
``W_Q, W_K, W_V [head_index d_model d_head]``, ``W_O [head_index d_head d_model]``,
``W_E [d_vocab d_model]``, ``W_U [d_model d_vocab]``. The matrices of Elhage et al.'s
*A Mathematical Framework for Transformer Circuits* (column vectors) are the **transposes**
of these: the Framework's ``W_OV = W_O W_V`` is TL's ``(W_V W_O)^T``, its full OV circuit
``W_U W_OV W_E`` is TL's ``(W_E W_V W_O W_U)^T`` (rows = source token, columns = logit),
and its ``W_QK = W_Q^T W_K`` equals TL's ``W_Q W_K^T``.

**LayerNorm.** Models may have no normalization, ``LNPre`` or ``LN`` before each attention
and the unembedding. :func:`layer_weights` and :func:`unembed_weights` fold the centring
projection ``C = I - 11^T/d``, the LN weight and the LN bias into *effective* weights, so
that every read is ``(x / σ) @ W_eff + b_eff`` for raw residual parts ``x`` and the
per-position scale ``σ`` (``ln1.hook_scale``, frozen at its value in the forward pass; 1
without LN). With σ frozen, every decomposition below is exact: the terms sum to the
cached attention scores and the paths to the cached logits, to float tolerance.

Functions take a bridge from :func:`interplib.studies.circuits.model.attention_only`, whose
``hook_attn_scores`` carries the real scores. TL 4.3 bridges over ``boot_native`` models do
not fire ``hook_result`` (``set_use_attn_result`` raises), so
:func:`~interplib.interp.attribution.head_results` computes per-head outputs from ``hook_z``
and ``W_O``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import torch
import torch.nn.functional as F
from jaxtyping import Complex, Float, Int
from torch import Tensor
from transformer_lens import FactoredMatrix

from interplib.core.checks import check_head, check_layer, check_token_ids
from interplib.core.training import per_position_loss
from interplib.interp.attribution import head_results
from interplib.interp.patterns import (
    RepeatLoss,
    check_repeat,
    induction_stripe,
    previous_token_stripe,
    repeat_loss,
)

Head = tuple[int, int]  # (layer, head)


def check_layer_head(model, layer: int, head: int | None = None) -> None:
    """Check that ``layer`` (and ``head``) exist in ``model`` (non-negative indices)."""
    check_layer(layer, model.cfg.n_layers, negative=False)
    if head is not None:
        check_head(head, model.cfg.n_heads)


def check_tokens(model, tokens: Tensor) -> None:
    """Check ``tokens`` against ``model``'s context length and vocabulary."""
    check_token_ids(tokens, d_vocab=model.cfg.d_vocab, n_ctx=model.cfg.n_ctx)


def _norm_kind(model) -> str | None:
    kind = model.cfg.normalization_type
    if kind not in (None, "LN", "LNPre"):
        raise ValueError(
            f"normalization_type={kind!r} is not supported here: use None, 'LN' or 'LNPre'"
        )
    return kind


def _fold_ln(model, ln) -> tuple[Tensor, Tensor] | None:
    """``(C diag(w), b)`` pieces of a LayerNorm, or None without one.

    ``LN(x) = (x/σ) C diag(w) + b``.
    """
    if _norm_kind(model) is None:
        return None
    d, ref = model.cfg.d_model, model.W_E
    centre = torch.eye(d, dtype=ref.dtype, device=ref.device) - 1.0 / d
    native = ln.original_component
    w = getattr(native, "weight", None)
    b = getattr(native, "bias", None)
    w = torch.ones(d, dtype=ref.dtype, device=ref.device) if w is None else w.detach()
    b = torch.zeros(d, dtype=ref.dtype, device=ref.device) if b is None else b.detach()
    return centre * w, b  # C @ diag(w) == C * w (column scaling)


@dataclass
class LayerWeights:
    """One layer's attention weights with its LayerNorm folded in (see the module docstring)."""

    W_Q: Float[Tensor, "head_index d_model d_head"]
    W_K: Float[Tensor, "head_index d_model d_head"]
    W_V: Float[Tensor, "head_index d_model d_head"]
    W_O: Float[Tensor, "head_index d_head d_model"]
    b_Q: Float[Tensor, "head_index d_head"]
    b_K: Float[Tensor, "head_index d_head"]
    b_V: Float[Tensor, "head_index d_head"]
    b_O: Float[Tensor, " d_model"]
    scale: float  # scores are divided by it (sqrt(d_head))


def layer_weights(model, layer: int) -> LayerWeights:
    """Effective weights of ``layer``: reads are ``(x/σ) @ W + b`` on the raw residual."""
    check_layer_head(model, layer)
    attn = model.blocks[layer].attn
    raw = {
        n: getattr(attn, n).detach()
        for n in ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O")
    }
    fold = _fold_ln(model, model.blocks[layer].ln1)
    if fold is not None:
        cw, b = fold
        for n in "QKV":
            W = raw[f"W_{n}"]
            raw[f"b_{n}"] = raw[f"b_{n}"] + torch.einsum("d,hde->he", b, W)
            raw[f"W_{n}"] = torch.einsum("cd,hde->hce", cw, W)
    return LayerWeights(**raw, scale=float(attn.original_component.scale))


def unembed_weights(
    model,
) -> tuple[Float[Tensor, "d_model d_vocab"], Float[Tensor, " d_vocab"]]:
    """``(W_U, b_U)`` with the final LayerNorm folded in: logits = (x/σ) @ W_U + b_U."""
    W_U, b_U = model.W_U.detach(), model.b_U.detach()
    fold = _fold_ln(model, model.ln_final)
    if fold is None:
        return W_U, b_U
    cw, b = fold
    return cw @ W_U, b_U + b @ W_U


def _scale(model, cache, name: str) -> Tensor:
    """The cached LN scale ``[batch pos 1]`` at ``name``, or 1 without LayerNorm."""
    if _norm_kind(model) is None:
        return torch.ones((), dtype=model.W_E.dtype, device=model.W_E.device)
    return cache[name]


def _stream_paths(
    model, cache, n_layers: int, sources: str
) -> tuple[dict[str, Tensor], Tensor]:
    """The residual after ``n_layers`` layers as paths (raw, not divided by σ), plus the bias part.

    A head maps a part x to ``A (x/σ) W_V W_O`` (pattern and LN scale frozen), so the stream
    is a sum over chains of heads in increasing layers; every bias and its onward paths
    are lumped into the second return value.
    """
    embed, pos = (
        cache["hook_embed"],
        cache["hook_pos_embed"].expand_as(cache["hook_embed"]),
    )
    parts = (
        {"direct": embed + pos}
        if sources == "embed"
        else {"token": embed, "position": pos}
    )
    bias = torch.zeros_like(embed)
    for layer in range(n_layers):
        W = layer_weights(model, layer)
        sigma = _scale(model, cache, f"blocks.{layer}.ln1.hook_scale")
        A = cache[f"blocks.{layer}.attn.hook_pattern"]

        def through_heads(x):  # [batch pos d_model] -> [batch pos head d_model]
            v = torch.einsum("bkd,hde->bkhe", x / sigma, W.W_V)
            return torch.einsum("bhqk,bkhe,hed->bqhd", A, v, W.W_O)

        new = {}
        for label, x in parts.items():
            for h, out in enumerate(through_heads(x).unbind(2)):
                new[_join(label, layer, h)] = out
        bias = (
            bias
            + through_heads(bias).sum(2)
            + torch.einsum("he,hed->d", W.b_V, W.W_O)
            + W.b_O
        )
        parts.update(new)
    return parts, bias


def _join(source: str, layer: int, head: int) -> str:
    name = f"L{layer}H{head}"
    return name if source == "direct" else f"{source}→{name}"


def residual_components(
    model, cache, layer: int, group: Literal["head", "layer", "source", "path"] = "head"
) -> tuple[list[str], Float[Tensor, "component batch pos d_model"]]:
    """Split ``blocks.{layer}.hook_resid_pre`` into components that sum to it exactly.

    * ``"head"``: ``token`` (W_E[t]), ``position`` (W_pos), then each earlier head ``L{l}H{h}``
      and each earlier output bias ``L{l} b_O``;
    * ``"layer"``: ``token``, ``position`` and one ``L{l}`` per earlier layer;
    * ``"source"``: ``token``, ``position`` and ``constant``: what every earlier head wrote is
      traced back (patterns and LN scales frozen) to the token or position embedding it
      moved, so even layer 1 splits into token–token … position–position terms;
    * ``"path"``: the paths behind ``"source"`` one by one (``token``, ``position→L0H3``, …).
    """
    check_layer_head(model, layer)
    if group in ("source", "path"):
        parts, constant = _stream_paths(model, cache, layer, "split")
        if group == "path":
            return list(parts) + ["constant"], torch.stack(
                list(parts.values()) + [constant]
            )
        by_source = {
            src: sum(
                (x for label, x in parts.items() if label.split("→")[0] == src),
                torch.zeros_like(constant),
            )
            for src in ("token", "position")
        }
        return ["token", "position", "constant"], torch.stack(
            [by_source["token"], by_source["position"], constant]
        )
    if group not in ("head", "layer"):
        raise ValueError(f"group={group!r}: use 'head', 'layer', 'source' or 'path'")
    embed = cache["hook_embed"]
    labels, parts = (
        ["token", "position"],
        [embed, cache["hook_pos_embed"].expand_as(embed)],
    )
    for earlier in range(layer):
        results = head_results(cache, earlier)
        b_O = model.blocks[earlier].attn.b_O.detach().expand_as(embed)
        if group == "head":
            labels += [f"L{earlier}H{h}" for h in range(model.cfg.n_heads)] + [
                f"L{earlier} b_O"
            ]
            parts += list(results.unbind(2)) + [b_O]
        else:
            labels.append(f"L{earlier}")
            parts.append(results.sum(2) + b_O)
    return labels, torch.stack(parts)


def _causal(n: int, device=None) -> Tensor:
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


@dataclass
class ScoreTerms:
    """One head's attention scores split into query-component × key-component terms.

    ``scores = Σ terms + Σ query_bias + Σ key_bias + bias_bias`` on causal entries, where
    ``terms[a, c]`` is ``(x_a/σ W_Q)(x_c/σ W_K)^T / scale``, ``query_bias[c]`` is
    ``b_Q (x_c/σ W_K)^T / scale`` (depends on the key: it shapes the pattern),
    ``key_bias[a]`` is ``(x_a/σ W_Q) b_K^T / scale`` and ``bias_bias`` is
    ``b_Q b_K^T / scale`` (both constant along a query row: the softmax ignores them).
    """

    labels: list[str]
    terms: Float[Tensor, "q_component k_component batch query_pos key_pos"]
    query_bias: Float[Tensor, "k_component batch query_pos key_pos"]
    key_bias: Float[Tensor, "q_component batch query_pos key_pos"]
    bias_bias: float
    scores: Float[
        Tensor, "batch query_pos key_pos"
    ]  # cached hook_attn_scores (-inf above the diagonal)

    def total(self) -> Float[Tensor, "batch query_pos key_pos"]:
        """The sum of every term; equals ``scores`` on the causal entries."""
        return (
            self.terms.sum((0, 1))
            + self.query_bias.sum(0)
            + self.key_bias.sum(0)
            + self.bias_bias
        )

    def named_terms(self) -> dict[str, Tensor]:
        """Every term by name ``"query–key"``.

        ``bias`` stands for b_Q on the query side, b_K on the key side.
        """
        out = {
            f"{a}–{c}": self.terms[i, j]
            for i, a in enumerate(self.labels)
            for j, c in enumerate(self.labels)
        }
        out.update({f"bias–{c}": self.query_bias[j] for j, c in enumerate(self.labels)})
        out.update({f"{a}–bias": self.key_bias[i] for i, a in enumerate(self.labels)})
        out["bias–bias"] = torch.full_like(self.scores, self.bias_bias)
        return out

    def statistics(self) -> pd.DataFrame:
        """Per term, over causal entries only: mean, mean ``|term|``, variance, row-centred
        variance, KL.

        ``row_centred_var`` removes each query row's mean first: the softmax sees only
        within-row differences, so this (not the raw variance) measures what a term does
        to the pattern. ``kl_if_removed`` is the mean KL(pattern ‖ pattern with the term
        replaced by its row mean), in nats: the pattern's sensitivity to the term.
        """
        mask = _causal(self.scores.shape[-1], self.scores.device).expand_as(self.scores)
        count = mask.sum(-1, keepdim=True)
        total = self.total().masked_fill(~mask, float("-inf"))
        logp = total.log_softmax(-1)
        rows = []
        for name, term in self.named_terms().items():
            t = term.masked_fill(~mask, 0.0)
            row_mean = t.sum(-1, keepdim=True) / count
            centred = (t - row_mean).masked_fill(~mask, 0.0)
            logq = (total - term + row_mean).log_softmax(-1)
            kl = (logp.exp() * (logp - logq)).masked_fill(~mask, 0.0).sum(-1).mean()
            vals = term[mask]
            rows.append(
                {
                    "term": name,
                    "mean": float(vals.mean()),
                    "mean_abs": float(vals.abs().mean()),
                    "var": float(vals.var(unbiased=False)),
                    "row_centred_var": float(centred.pow(2).sum() / mask.sum()),
                    "kl_if_removed": float(kl),
                }
            )
        return pd.DataFrame(rows).set_index("term")


def attention_score_terms(
    model,
    tokens: Int[Tensor, "batch pos"],
    layer: int,
    head: int,
    group: Literal["head", "layer", "source", "path"] = "head",
) -> ScoreTerms:
    """Split head ``(layer, head)``'s attention scores on ``tokens`` into exact terms.

    The residual at ``layer`` is split by :func:`residual_components`: in layer 0 the four
    terms are token–token, token–position, position–token and position–position (the
    seed's split, with biases counted once and LN scales σ frozen); ``group="source"`` gives
    the same four (plus ``constant``) in any layer. Cost: one forward pass
    plus ``n_components² × batch × pos²`` numbers.
    """
    check_layer_head(model, layer, head)
    check_tokens(model, tokens)
    _, cache = model.run_with_cache(tokens)
    labels, comps = residual_components(model, cache, layer, group)
    sigma = _scale(model, cache, f"blocks.{layer}.ln1.hook_scale")
    W = layer_weights(model, layer)
    q = torch.einsum("cbpd,de->cbpe", comps / sigma, W.W_Q[head])
    k = torch.einsum("cbpd,de->cbpe", comps / sigma, W.W_K[head])
    terms = torch.einsum("abqe,cbke->acbqk", q, k) / W.scale
    query_bias = (
        torch.einsum("e,cbke->cbk", W.b_Q[head], k)[:, :, None, :].expand(
            -1, -1, q.shape[2], -1
        )
        / W.scale
    )
    key_bias = (
        torch.einsum("abqe,e->abq", q, W.b_K[head])[..., None].expand(
            -1, -1, -1, k.shape[2]
        )
        / W.scale
    )
    bias_bias = float(W.b_Q[head] @ W.b_K[head]) / W.scale
    scores = cache[f"blocks.{layer}.attn.hook_attn_scores"][:, head]
    return ScoreTerms(
        labels,
        terms.detach(),
        query_bias.detach(),
        key_bias.detach(),
        bias_bias,
        scores.detach(),
    )


def term_table(
    model,
    tokens: Int[Tensor, "batch pos"],
    layer: int,
    stat: str = "kl_if_removed",
    group: Literal["head", "layer", "source", "path"] = "source",
) -> pd.DataFrame:
    """One statistic of :meth:`ScoreTerms.statistics` for every head of ``layer``.

    Rows are heads, columns terms.

    ``table.idxmax(axis=1)`` then names the term that dominates each head's pattern.
    """
    check_layer_head(model, layer)
    rows = {}
    for head in range(model.cfg.n_heads):
        stats = attention_score_terms(model, tokens, layer, head, group).statistics()
        if stat not in stats.columns:
            raise ValueError(f"stat={stat!r}: use one of {list(stats.columns)}")
        rows[f"L{layer}H{head}"] = stats[stat]
    return pd.DataFrame(rows).T


def _patterns(
    model, tokens
) -> Float[Tensor, "layer batch head_index query_pos key_pos"]:
    check_tokens(model, tokens)
    names = [f"blocks.{l}.attn.hook_pattern" for l in range(model.cfg.n_layers)]
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return torch.stack([cache[n] for n in names]).detach()


def previous_token_scores(
    model, tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "layer head_index"]:
    """Mean attention from each position to the one before it (``pattern.diagonal(-1)``)."""
    return previous_token_stripe(_patterns(model, tokens))


def induction_scores(
    model, tokens: Int[Tensor, "batch pos"], period: int
) -> Float[Tensor, "layer head_index"]:
    """Mean attention on the induction stripe of tokens ending in ``[r, r]``.

    ``len(r) = period``; see :func:`interplib.interp.patterns.induction_stripe`.
    """
    check_repeat(tokens, period)
    return induction_stripe(_patterns(model, tokens), period)


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


def ov_eigenvalues(model) -> Complex[Tensor, "layer head_index d_head"]:
    """The d_head non-zero eigenvalues of every head's full OV circuit ``W_E W_V W_O W_U``.

    Computed as the eigenvalues of the ``d_head × d_head`` matrix ``W_O W_U W_E W_V``
    (``FactoredMatrix.eigenvalues``; eig(AB) = eig(BA) up to zeros), never the V×V matrix.
    They are the eigenvalues of the Framework's ``W_U W_OV W_E`` too (a transpose).
    """
    W_U, _ = unembed_weights(model)
    W_E = model.W_E.detach()
    out = []
    for layer in range(model.cfg.n_layers):
        W = layer_weights(model, layer)
        fm = FactoredMatrix(
            torch.einsum("vd,hde->hve", W_E, W.W_V),
            torch.einsum("hed,dv->hev", W.W_O, W_U),
        )
        out.append(fm.eigenvalues)
    return torch.stack(out)


def copying_scores(
    model, kind: Literal["trace_ratio", "positive_fraction"] = "trace_ratio"
) -> Float[Tensor, "layer head_index"]:
    """How much each head's OV circuit copies: ``Σ Re λ / Σ |λ|`` (the Framework's statistic).

    The full OV circuit is not symmetric, so its eigenvalues are complex. Following the
    Framework we score ``Σ_i Re λ_i / Σ_i |λ_i|`` (``Σ λ_i`` is the real trace anyway): +1
    for a pure copying head, −1 for anti-copying. ``kind="positive_fraction"`` gives the
    fraction of eigenvalues with positive real part instead.
    """
    lam = ov_eigenvalues(model)
    if kind == "trace_ratio":
        return lam.real.sum(-1) / lam.abs().sum(-1)
    if kind == "positive_fraction":
        return (lam.real > 0).to(lam.real.dtype).mean(-1)
    raise ValueError(f"kind={kind!r}: use 'trace_ratio' or 'positive_fraction'")


def qk_circuit(
    model, layer: int, head: int, key_head: Head | None = None
) -> FactoredMatrix:
    """A head's token-level QK circuit (rows query token, columns key token), rank ≤ d_head.

    ``key_head=None``: ``W_E W_Q W_K^T W_E^T``, positive eigenvalues mean "attend to the same
    token". ``key_head=(l0, p)`` (an earlier head): the key side reads what that head wrote,
    ``W_E W_Q W_K^T (W_E W_V^p W_O^p)^T``: the K-composition circuit; for an induction head
    fed by a previous-token head, positive eigenvalues mean "attend where the *previous*
    token equals mine". LN-folded weights; positions and biases left out.
    """
    check_layer_head(model, layer, head)
    W_E, W = model.W_E.detach(), layer_weights(model, layer)
    keys = W_E
    if key_head is not None:
        l0, p = key_head
        check_layer_head(model, l0, p)
        if l0 >= layer:
            raise ValueError(
                f"key_head={key_head}: it must sit in an earlier layer than {layer}"
            )
        W0 = layer_weights(model, l0)
        keys = W_E @ W0.W_V[p] @ W0.W_O[p]
    return FactoredMatrix(W_E @ W.W_Q[head], (keys @ W.W_K[head]).T)


def eigenvalue_score(circuit: FactoredMatrix) -> float:
    """``Σ Re λ / Σ |λ|`` over a square circuit's non-zero eigenvalues.

    The Framework's copying statistic.
    """
    if circuit.ldim != circuit.rdim:
        raise ValueError(
            f"circuit is {circuit.ldim}×{circuit.rdim}: eigenvalues need a square circuit"
        )
    lam = circuit.eigenvalues
    return float(lam.real.sum() / lam.abs().sum())


def _composition(ov: FactoredMatrix, right: FactoredMatrix) -> Tensor:
    left = ov.unsqueeze(1)  # [head_earlier, 1, d, d] against [1, head_later, d, d]
    right = right.unsqueeze(0)
    return (left @ right).norm() / (left.norm() * right.norm())


def composition_scores(
    model, kind: Literal["Q", "K", "V"], earlier: int = 0, later: int = 1
) -> Float[Tensor, "head_earlier head_later"]:
    """Q-, K- or V-composition of every head of ``earlier`` into every head of ``later``.

    Framework (column) form: ``‖M W_OV‖_F / (‖M‖_F ‖W_OV‖_F)`` with ``M = W_QK^T`` (Q),
    ``W_QK`` (K) or ``W_OV`` of the later head (V). In TL rows, with ``OV = W_V W_O`` and
    ``QK = W_Q W_K^T``: ``‖OV₁ QK₂‖`` (Q), ``‖OV₁ QK₂^T‖`` (K), ``‖OV₁ OV₂‖`` (V); transposes
    keep Frobenius norms. Uses effective (LN-folded) weights and ``FactoredMatrix`` norms,
    never forming a d_model² product per pair explicitly beyond rank d_head.
    """
    check_layer_head(model, earlier)
    check_layer_head(model, later)
    if earlier >= later:
        raise ValueError(
            f"earlier={earlier}, later={later}: a head composes only with heads of later "
            f"layers; pass earlier < later"
        )
    e, l = layer_weights(model, earlier), layer_weights(model, later)
    ov = FactoredMatrix(e.W_V, e.W_O)
    if kind == "Q":
        right = FactoredMatrix(l.W_Q, l.W_K.transpose(-1, -2))
    elif kind == "K":
        right = FactoredMatrix(l.W_K, l.W_Q.transpose(-1, -2))  # QK^T
    elif kind == "V":
        right = FactoredMatrix(l.W_V, l.W_O)
    else:
        raise ValueError(f"kind={kind!r}: use 'Q', 'K' or 'V'")
    return _composition(ov, right)


def composition_baseline(
    model, kind: Literal["Q", "K", "V"] = "K", n_samples: int = 200, seed: int = 0
) -> tuple[float, float]:
    """Mean and std of the composition score between random heads of this model's shapes.

    Each factor (W_Q, W_K, W_V, W_O) is i.i.d. Gaussian; the score does not depend on its
    scale. Close to ``1/sqrt(d_model)`` (0.0624 ± 0.0015 at d_model 256, d_head 32).
    """
    if kind not in ("Q", "K", "V"):
        raise ValueError(f"kind={kind!r}: use 'Q', 'K' or 'V'")
    d, dh = model.cfg.d_model, model.cfg.d_head
    g = torch.Generator().manual_seed(seed)
    W = {
        n: torch.randn(n_samples, *s, generator=g, dtype=torch.float64)
        for n, s in (("V1", (d, dh)), ("O1", (dh, d)), ("A", (d, dh)), ("B", (dh, d)))
    }
    ov = FactoredMatrix(W["V1"], W["O1"])
    right = FactoredMatrix(
        W["A"], W["B"]
    )  # any rank-d_head product: Q, K and V are alike in law
    scores = (ov @ right).norm() / (ov.norm() * right.norm())
    return float(scores.mean()), float(scores.std())


@dataclass
class PathExpansion:
    """The final residual stream split into paths; ``logits()`` reads them through W_U.

    Labels: ``direct`` (or ``token``/``position`` with ``sources="split"``), one-head paths
    ``L0H3``, virtual heads ``L0H3→L1H5``, and ``bias`` (every bias and its onward paths,
    plus b_U). ``resid[i]`` is path i's contribution to the final residual divided by the
    final LN scale; ``sum(logits()) == model(tokens)``.
    """

    labels: list[str]
    resid: Float[Tensor, "path batch pos d_model"]
    W_U: Float[Tensor, "d_model d_vocab"]
    b_U: Float[Tensor, " d_vocab"]

    def index(self, label: str) -> int:
        if label not in self.labels:
            raise KeyError(
                f"no path {label!r}; paths look like {self.labels[:4]} ... {self.labels[-2:]}"
            )
        return self.labels.index(label)

    def logits(
        self, labels: Sequence[str] | None = None, pos: int | slice = slice(None)
    ) -> Float[Tensor, "path batch pos d_vocab"]:
        """The logit contribution of each path in ``labels`` (default: all) at positions ``pos``.

        Memory is paths × batch × positions × d_vocab: at d_vocab 4096 select paths or
        positions (163 paths × 256 positions is 0.7 GB in float32).
        """
        idx = (
            list(range(len(self.labels)))
            if labels is None
            else [self.index(l) for l in labels]
        )
        pos = (
            slice(pos, pos + 1 if pos != -1 else None) if isinstance(pos, int) else pos
        )
        out = torch.einsum("nbpd,dv->nbpv", self.resid[idx][:, :, pos], self.W_U)
        bias = [i for i, j in enumerate(idx) if self.labels[j] == "bias"]
        out[bias] += self.b_U
        return out

    def top_tokens(
        self, label: str, k: int = 10, batch: int = 0, pos: int = -1
    ) -> tuple[Tensor, Tensor]:
        """``(values, token ids)`` of the k logits that path ``label`` raises most.

        At one position.
        """
        return self.logits([label], pos)[0, batch, 0].topk(k)


def path_expansion(
    model,
    tokens: Int[Tensor, "batch pos"],
    sources: Literal["embed", "split"] = "embed",
) -> PathExpansion:
    """Expand an attention-only model's logits on ``tokens`` into paths, exactly.

    With each head's pattern ``A`` and the LN scales frozen at their values in the forward
    pass, a head maps a residual part x to ``A (x/σ) W_V W_O``, so the final residual is
    the sum over every chain of heads in increasing layers: the direct path, single heads,
    and virtual heads (two or more). A model with ``n_layers`` and H heads has
    ``(1 + H)^n_layers`` chains (times 2 with ``sources="split"``), plus one bias path.
    """
    check_tokens(model, tokens)
    if sources not in ("embed", "split"):
        raise ValueError(
            f"sources={sources!r}: use 'embed' (token + position together) or 'split'"
        )
    _, cache = model.run_with_cache(tokens)
    parts, bias = _stream_paths(model, cache, model.cfg.n_layers, sources)
    W_U, b_U = unembed_weights(model)
    sigma = _scale(model, cache, "ln_final.hook_scale")
    resid = torch.stack(list(parts.values()) + [bias]) / sigma
    return PathExpansion(list(parts) + ["bias"], resid.detach(), W_U, b_U)


def path_ov_circuit(model, heads: Sequence[Head]) -> FactoredMatrix:
    """The weight-only OV circuit of a path, ``W_E W_V¹W_O¹ … W_U``.

    Rows are source tokens, columns logits. ``heads=[]`` is the direct path ``W_E W_U``; ``[(0,
    3), (1, 5)]`` the virtual head L0H3→L1H5 (rank ≤ d_head). LN-folded weights; positions and
    biases are left out.
    """
    W_U, _ = unembed_weights(model)
    left = model.W_E.detach()
    right = None
    last = -1
    for layer, head in heads:
        check_layer_head(model, layer, head)
        if layer <= last:
            raise ValueError(
                f"heads={list(heads)}: a path goes through strictly increasing layers"
            )
        last = layer
        W = layer_weights(model, layer)
        if right is None:
            left, right = left @ W.W_V[head], W.W_O[head]
        else:
            right = right @ W.W_V[head] @ W.W_O[head]
    return (
        FactoredMatrix(left, W_U)
        if right is None
        else FactoredMatrix(left, right @ W_U)
    )


def top_promoted_tokens(
    circuit: FactoredMatrix, sources: Int[Tensor, " n"], k: int = 10
) -> tuple[Float[Tensor, "n k"], Int[Tensor, "n k"]]:
    """For each source token, the k output tokens whose logits a V×V circuit raises most.

    Only the requested rows are formed (``A[sources] @ B``).
    """
    rows = circuit.A[sources] @ circuit.B
    return rows.topk(k, dim=-1)


def _z_means(model, reference: Tensor, layers: Sequence[int]) -> dict[int, Tensor]:
    """Each layer's ``hook_z`` averaged over batch and positions of ``reference``.

    Each is ``[head_index d_head]``.
    """
    check_tokens(model, reference)
    names = [f"blocks.{l}.attn.hook_z" for l in layers]
    _, cache = model.run_with_cache(reference, names_filter=lambda n: n in names)
    return {l: cache[f"blocks.{l}.attn.hook_z"].mean((0, 1)).detach() for l in layers}


def ablated_logits(
    model,
    tokens: Int[Tensor, "batch pos"],
    heads: Sequence[Head],
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
    _means: dict[int, Tensor] | None = None,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits with the given heads' outputs (``hook_z``) replaced by 0 or by their mean.

    The mean is over batch and positions of ``reference`` (default: ``tokens`` itself).
    Zero ablation also removes the head's share of b_V; b_O stays.
    """
    check_tokens(model, tokens)
    if kind not in ("zero", "mean"):
        raise ValueError(f"kind={kind!r}: use 'zero' or 'mean'")
    for layer, head in heads:
        check_layer_head(model, layer, head)
    layers = sorted({layer for layer, _ in heads})
    means: dict[int, Tensor] = {}  # read only for kind="mean"
    if kind == "mean":
        means = (
            _means
            if _means is not None
            else _z_means(model, tokens if reference is None else reference, layers)
        )

    def hook_for(layer):
        def hook(z, hook):
            z = z.clone()
            for l, h in heads:
                if l == layer:
                    z[:, :, h] = 0.0 if kind == "zero" else means[layer][h]
            return z

        return hook

    hooks = [(f"blocks.{l}.attn.hook_z", hook_for(l)) for l in layers]
    return model.run_with_hooks(tokens, fwd_hooks=hooks).detach()


def ablated_repeat_losses(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    heads: Sequence[Head],
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
    _means: dict[int, Tensor] | None = None,
) -> RepeatLoss:
    """:func:`repeat_losses` with ``heads`` ablated.

    With the induction heads gone, the repeat's loss rises.
    """
    check_repeat(tokens, period)
    logits = ablated_logits(model, tokens, heads, kind, reference, _means)
    loss = F.cross_entropy(
        logits[:, :-1].transpose(1, 2), tokens[:, 1:], reduction="none"
    )
    return repeat_loss(loss, period)


def single_head_ablations(
    model,
    tokens: Int[Tensor, "batch pos"],
    period: int,
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
) -> Float[Tensor, "layer head_index"]:
    """Loss on the repeated half with each head ablated alone (one forward pass per head)."""
    check_repeat(tokens, period)
    means = None
    if kind == "mean":
        means = _z_means(
            model, tokens if reference is None else reference, range(model.cfg.n_layers)
        )
    out = torch.empty(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            out[layer, head] = ablated_repeat_losses(
                model, tokens, period, [(layer, head)], kind, _means=means
            ).repeated
    return out


__all__ = [
    "LayerWeights",
    "PathExpansion",
    "ScoreTerms",
    "ablated_logits",
    "ablated_repeat_losses",
    "attention_score_terms",
    "check_layer_head",
    "check_tokens",
    "composition_baseline",
    "composition_scores",
    "copying_scores",
    "eigenvalue_score",
    "induction_scores",
    "layer_weights",
    "ov_eigenvalues",
    "path_expansion",
    "path_ov_circuit",
    "per_token_loss",
    "previous_token_scores",
    "qk_circuit",
    "repeat_losses",
    "residual_components",
    "single_head_ablations",
    "term_table",
    "top_promoted_tokens",
    "unembed_weights",
    "Head",
]


# --- helpers of the attention-circuits chapter ---------------------------------------------


def head_score_table(
    model,
    text: Int[Tensor, "batch pos"],
    probe: Int[Tensor, "batch pos"],
    period: int,
) -> pd.DataFrame:
    """Every head's pattern and OV scores, one row per head (index ``L{layer}H{head}``).

    Columns: ``previous-token`` (:func:`previous_token_scores` on ``text``), ``induction``
    (:func:`induction_scores` on ``probe``, which ends in ``[r, r]`` with
    ``len(r) = period``), ``copying`` and ``positive eigenvalues``
    (:func:`copying_scores`, ``"score"`` and ``"positive_fraction"``).
    """
    prev = previous_token_scores(model, text)
    ind = induction_scores(model, probe, period)
    copy = copying_scores(model)
    positive = copying_scores(model, "positive_fraction")
    columns = {
        "previous-token": prev,
        "induction": ind,
        "copying": copy,
        "positive eigenvalues": positive,
    }
    L, H = model.cfg.n_layers, model.cfg.n_heads
    index = pd.Index([f"L{l}H{h}" for l in range(L) for h in range(H)], name="head")
    return pd.DataFrame(
        {
            k: [float(v[l, h]) for l in range(L) for h in range(H)]
            for k, v in columns.items()
        },
        index=index,
    )


def ablated_loss(
    model,
    tokens: Int[Tensor, "batch pos"],
    heads: Sequence[Head],
    kind: Literal["zero", "mean"] = "mean",
    reference: Tensor | None = None,
) -> float:
    """Mean next-token loss on ``tokens`` with ``heads`` ablated (:func:`ablated_logits`).

    The mean of ``-log p(tokens[:, i+1] | tokens[:, :i+1])`` over every sequence and
    position i; ``heads=[]`` is the clean model's loss. Mean ablation averages each head's
    ``hook_z`` over ``reference`` (default: ``tokens``).
    """
    logits = ablated_logits(model, tokens, heads, kind, reference)
    return float(F.cross_entropy(logits[:, :-1].transpose(1, 2), tokens[:, 1:]))


def path_kind(label: str) -> str:
    """The kind of a :class:`PathExpansion` label: how many heads the path goes through.

    ``"direct"``, ``"token"``, ``"position"`` and ``"bias"`` stay themselves; a path through
    one head is ``"layer {l} head"`` (``"L1H5"``, ``"token→L1H5"``); a path through two or
    more heads is ``"virtual"`` (``"L0H3→L1H5"``).
    """
    heads = re.findall(r"L(\d+)H\d+", label)
    if not heads:
        return label
    return f"layer {heads[0]} head" if len(heads) == 1 else "virtual"


def target_logit_lift(
    path_logits: Float[Tensor, "path batch pos d_vocab"],
    tokens: Int[Tensor, "batch pos"],
) -> Float[Tensor, " path"]:
    """How far each path raises the next token's logit above its own mean logit.

    For path n, ``mean over batch and i < pos-1 of
    path_logits[n, b, i, tokens[b, i+1]] - path_logits[n, b, i, :].mean()``: the direction
    a path pushes the prediction, which sums over paths to the same statistic of the
    model's logits (logits interact through the softmax, so it is not a share of the loss).
    """
    if path_logits.shape[1:3] != tokens.shape:
        raise ValueError(
            f"path_logits {tuple(path_logits.shape)} and tokens {tuple(tokens.shape)}: "
            f"need path_logits[path, batch, pos, d_vocab] for tokens[batch, pos]"
        )
    logits = path_logits[:, :, :-1]
    index = tokens[None, :, 1:, None].expand(logits.shape[0], -1, -1, 1)
    on_target = logits.gather(-1, index)[..., 0]
    return (on_target - logits.mean(-1)).mean((1, 2))


__all__ += ["ablated_loss", "head_score_table", "path_kind", "target_logit_lift"]
