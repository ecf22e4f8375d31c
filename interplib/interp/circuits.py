"""QK and OV circuits of attention-only transformers: LN-folded weights, score terms, OV
copying scores, composition.

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
cached attention scores and the paths of :mod:`interplib.interp.paths` to the cached
logits, to float tolerance.

Functions take a bridge from :func:`interplib.studies.circuits.model.attention_only`, whose
``hook_attn_scores`` carries the real scores. TL 4.3 bridges over ``boot_native`` models do
not fire ``hook_result`` (``set_use_attn_result`` raises), so
:func:`~interplib.interp.attribution.head_results` computes per-head outputs from ``hook_z``
and ``W_O``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd
import torch
from jaxtyping import Complex, Float, Int
from torch import Tensor
from transformer_lens import FactoredMatrix

from interplib.core.checks import check_layer_head, check_tokens
from interplib.interp.attribution import head_results
from interplib.interp.patterns import induction_scores, previous_token_scores

Head = tuple[int, int]  # (layer, head)


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


def diagonal_ranks(
    circuit: FactoredMatrix, rows: Int[Tensor, " row"] | None = None, chunk: int = 512
) -> Int[Tensor, " row"]:
    """The rank of each row's diagonal entry within its row (0: the row's largest entry).

    For a full OV circuit (rows: source token, columns: logits) rank 0 means the head
    raises the attended token's own logit above every other: ``(ranks < k).mean()`` is the
    fraction of tokens it copies into its top k, a rank-based copying measure that, unlike
    the eigenvalue score, ignores how large the other entries are. For a QK circuit
    (rows: query token) rank 0 means the query prefers the key that matches it; for the
    K-composed circuit of :func:`qk_circuit` that is the induction rule, and
    ``(ranks == 0).mean()`` its diagonal accuracy. ``rows`` picks the rows (default all);
    ``chunk`` rows are formed at a time, never the whole square matrix.

    Raises:
        ValueError: a circuit that is not square.
    """
    if circuit.ldim != circuit.rdim:
        raise ValueError(
            f"circuit is {circuit.ldim}×{circuit.rdim}: a diagonal needs a square circuit"
        )
    idx = torch.arange(circuit.ldim) if rows is None else rows
    out = []
    for part in idx.split(chunk):
        block = circuit.A[part] @ circuit.B  # [chunk d_vocab]
        own = block.gather(1, part[:, None].to(block.device))
        out.append((block > own).sum(1).cpu())
    return torch.cat(out)


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
    model,
    kind: Literal["Q", "K", "V"] = "K",
    n_samples: int = 200,
    seed: int = 0,
    method: Literal["gaussian", "permuted"] = "gaussian",
    earlier: int = 0,
    later: int = 1,
) -> tuple[float, float]:
    """Mean and std of the composition score of pairs that share no circuit.

    ``"gaussian"``: every factor (W_Q, W_K, W_V, W_O) i.i.d. Gaussian; the score does not
    depend on its scale; close to ``1/sqrt(d_model)`` (0.0624 ± 0.0015 at d_model 256,
    d_head 32). ``"permuted"``: the model's own trained heads, a random earlier head's OV
    against a random later head's circuit whose residual coordinates are randomly
    permuted: the spectra (low rank, uneven singular values) stay those of trained heads,
    only the alignment between the pair goes. Trained low-rank matrices score above
    Gaussian ones, so this is the fairer baseline for a trained pair.
    """
    if kind not in ("Q", "K", "V"):
        raise ValueError(f"kind={kind!r}: use 'Q', 'K' or 'V'")
    g = torch.Generator().manual_seed(seed)
    if method == "permuted":
        e, l = layer_weights(model, earlier), layer_weights(model, later)
        d, H = model.cfg.d_model, model.cfg.n_heads
        pick = torch.randint(H, (2, n_samples), generator=g)
        perm = torch.stack([torch.randperm(d, generator=g) for _ in range(n_samples)])
        later_left = {"Q": l.W_Q, "K": l.W_K, "V": l.W_V}[kind][pick[1]]
        later_right = {
            "Q": l.W_K.transpose(-1, -2),
            "K": l.W_Q.transpose(-1, -2),
            "V": l.W_O,
        }[kind][pick[1]]
        rows = perm[:, :, None].expand(-1, -1, later_left.shape[-1])
        ov = FactoredMatrix(e.W_V[pick[0]], e.W_O[pick[0]])
        right = FactoredMatrix(later_left.gather(1, rows), later_right)
    elif method == "gaussian":
        d, dh = model.cfg.d_model, model.cfg.d_head
        W = {
            n: torch.randn(n_samples, *s, generator=g, dtype=torch.float64)
            for n, s in (
                ("V1", (d, dh)),
                ("O1", (dh, d)),
                ("A", (d, dh)),
                ("B", (dh, d)),
            )
        }
        ov = FactoredMatrix(W["V1"], W["O1"])
        # any rank-d_head product: Q, K and V are alike in law
        right = FactoredMatrix(W["A"], W["B"])
    else:
        raise ValueError(f"method={method!r}: use 'gaussian' or 'permuted'")
    scores = (ov @ right).norm() / (ov.norm() * right.norm())
    return float(scores.mean()), float(scores.std())


def head_score_table(
    model,
    text: Int[Tensor, "batch pos"],
    probe: Int[Tensor, "batch pos"],
    period: int,
) -> pd.DataFrame:
    """Every head's pattern and OV scores, one row per head (index ``L{layer}H{head}``).

    Columns: ``previous-token`` (:func:`.previous_token_scores` on ``text``), ``induction``
    (:func:`.induction_scores` on ``probe``, which ends in ``[r, r]`` with
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


__all__ = [
    "LayerWeights",
    "ScoreTerms",
    "attention_score_terms",
    "composition_baseline",
    "composition_scores",
    "copying_scores",
    "diagonal_ranks",
    "eigenvalue_score",
    "head_score_table",
    "layer_weights",
    "ov_eigenvalues",
    "qk_circuit",
    "residual_components",
    "term_table",
    "unembed_weights",
    "Head",
]
