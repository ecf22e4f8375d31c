r"""An exact split of one logit into per-component terms, through the final LayerNorm.

Notation (row vectors, TransformerLens layout ``logits = LN(x) @ W_U + b_U``): ``N`` is
``d_model``, :math:`c(v) = v - \tfrac{\langle \mathbf 1, v\rangle}{N}\mathbf 1` centres a
vector (it is linear and symmetric), and PyTorch's LayerNorm uses the *biased* variance
with ε *inside* the root:

.. math::

    \mathrm{LN}(x) = \gamma \odot \frac{c(x)}{\sqrt{\lVert c(x)\rVert^2/N + \varepsilon}} + \beta
                   = \sqrt N\,\gamma \odot
                    \frac{c(x)}{\sqrt{\lVert c(x)\rVert^2 + N\varepsilon}} + \beta .

The final residual is a sum of writers, ``x = embed + Σ_l Δ_l`` (or finer: attention and
MLP outputs, single heads, biases). Because ``c`` is linear and the denominator is one
number per position, the logit of token ``t`` is **exactly**

.. math::

    \text{logit}_t = \sum_k \underbrace{\frac{\sqrt N\,\langle u_t, c(x_k)\rangle}
        {\sqrt{\lVert c(x)\rVert^2 + N\varepsilon}}}_{\text{term}_k} + b'_t,
    \qquad u_t = \gamma \odot W_U[:, t], \quad b'_t = b_U[t] + \langle \beta, W_U[:, t]\rangle .

The denominator is computed from the *full* final residual and shared by every term (it is
TransformerLens's ``ln_final.hook_scale`` times √N); the terms are direct attributions
under that frozen scale, not causal effects (removing a writer changes the scale:
:func:`logit_without`). The seed notebook's version had four mistakes (its LayerNorm helper's
uncentred variance and ``−ε``, a centring that adds the mean, ε for Nε, and γ, β and the
centring left out of the stated identity); ``notes/layernorm-attribution.md`` §2 states them
with the corrected formulas.

The functions read a ``TransformerBridge`` ``run_with_cache`` cache (``cache.model`` is the
bridge) and work on a raw bridge (Hugging Face weights, γ and β live in ``ln_final``) and
on one in compatibility mode (γ, β folded into ``W_U``, ``b_U``; then ``u_t`` is the
processed column and the logits are HF's minus their vocabulary mean). Token ids index
the vocabulary; a string answer must be exactly one token (:func:`answer_token`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import einops
import pandas as pd
import torch
from jaxtyping import Float, Int
from torch import Tensor

from interplib.core.checks import check_layer, check_position

Unit = Literal["block", "component", "head"]
UNITS: tuple[str, ...] = ("block", "component", "head")


# ---------------------------------------------------------------- the LayerNorm maths


def center(v: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_model"]:
    """``c(v) = v - mean(v)`` over the last axis.

    (The seed's ``center`` returned ``v + mean(v)``.)
    """
    return v - v.mean(-1, keepdim=True)


def ln_scale(x: Float[Tensor, "... d_model"], eps: float) -> Float[Tensor, "... 1"]:
    """``sqrt(‖c(x)‖²/N + ε)``: LayerNorm's divisor, equal to TransformerLens's ``hook_scale``."""
    return (center(x).pow(2).mean(-1, keepdim=True) + eps).sqrt()


def layer_norm(
    x: Float[Tensor, "... d_model"],
    weight: Tensor | None,
    bias: Tensor | None,
    eps: float,
) -> Float[Tensor, "... d_model"]:
    """PyTorch's LayerNorm written out (biased variance, ε inside the root).

    The brute-force reference.
    """
    out = center(x) / ln_scale(x, eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def split_logit(
    parts: Float[Tensor, "part *batch d_model"],
    final_resid: Float[Tensor, "*batch d_model"],
    u: Float[Tensor, "*batch d_model"],
    eps: float,
    check: bool = True,
) -> Float[Tensor, " part *batch"]:
    """Split ``⟨u, LN(x)⟩`` exactly into one term per writer of the residual.

    The identity is the module docstring's equation:
    ``term_k = √N ⟨u, c(part_k)⟩ / sqrt(‖c(x)‖² + Nε)``; the terms sum to the logit minus its
    bias ``b'``. Cost: one pass over ``parts``.

    Args:
        parts: the residual stream split by writer; they must sum to ``final_resid``.
        final_resid: the input of the final LayerNorm (``ln_final.hook_in``) at the same
            positions.
        u: the readout direction with γ folded in, ``γ ⊙ W_U[:, t]`` (from :func:`readout`).
        eps: the final LayerNorm's ε.
        check: verify that the parts sum to ``final_resid`` (to float tolerance).

    Raises:
        ValueError: if shapes disagree or the parts do not sum to the final residual.
    """
    if parts.shape[1:] != final_resid.shape or u.shape[-1] != final_resid.shape[-1]:
        raise ValueError(
            f"parts {tuple(parts.shape)}, final_resid {tuple(final_resid.shape)} and u "
            f"{tuple(u.shape)} disagree: parts must be [part, *final_resid.shape] "
            "and u [..., d_model]"
        )
    if check:
        gap = (parts.sum(0) - final_resid).abs().max().item()
        tol = 64 * torch.finfo(parts.dtype).eps * parts.abs().sum(0).max().item()
        if gap > tol:
            raise ValueError(
                f"the parts do not sum to the final residual (max gap {gap:.3g} > tolerance "
                f"{tol:.3g}); pass every writer (embed, each block's outputs) "
                "from the same forward pass"
            )
    n = final_resid.shape[-1]
    denom = (center(final_resid).pow(2).sum(-1) + n * eps).sqrt()
    return n**0.5 * (center(parts) * u).sum(-1) / denom


def logit_without(
    parts: Float[Tensor, "part *batch d_model"],
    final_resid: Float[Tensor, "*batch d_model"],
    u: Float[Tensor, "*batch d_model"],
    bias: Float[Tensor, "*batch"],
    eps: float,
) -> Float[Tensor, " part *batch"]:
    """The logit with part ``k`` removed from the final residual and LayerNorm *recomputed*.

    Downstream blocks are not re-run: this isolates what the shared scale does. Compare
    ``logit - logit_without`` (a direct effect with its own scale) with ``term_k`` (frozen scale).
    """
    rest = final_resid - parts
    n = final_resid.shape[-1]
    return (
        n**0.5
        * (center(rest) * u).sum(-1)
        / (center(rest).pow(2).sum(-1) + n * eps).sqrt()
        + bias
    )


def residual_rounding_bound(*summands: Tensor) -> Tensor:
    """Elementwise bound on ``|(post - pre) - (attn_out + mlp_out)|`` from float rounding alone.

    Pass ``resid_pre, resid_post, attn_out, mlp_out``. A block adds a small update to a big
    residual; each addition rounds to the residual's last bit, so the difference
    ``post - pre`` carries an error of a few units in the last place *of the residual*,
    not of the update. First-order analysis of both block orders (parallel:
    ``pre + (attn + mlp)``; sequential: ``(pre + attn) + mlp``) gives the bound
    ``2u (|pre| + |post| + |attn| + |mlp|)`` with ``u`` the unit roundoff (2⁻²⁴ in float32).
    """
    unit_roundoff = torch.finfo(summands[0].dtype).eps / 2
    total = summands[0].abs()
    for s in summands[1:]:
        total = total + s.abs()
    return 2 * unit_roundoff * total


# ---------------------------------------------------------------- inputs: tokens, positions, layers


def answer_token(model, answer: str | int) -> int:
    """The token id of a one-token answer.

    Raises:
        ValueError: if ``answer`` is several tokens (or none), or an id outside the vocabulary.
    """
    d_vocab = model.W_U.shape[-1]
    if isinstance(answer, int) or (isinstance(answer, Tensor) and answer.numel() == 1):
        token = int(answer)
        if not 0 <= token < d_vocab:
            raise ValueError(
                f"token id {token} is outside the vocabulary [0, {d_vocab}); pass a valid id "
                "or the answer string"
            )
        return token
    ids = model.to_tokens(answer, prepend_bos=False)[0].tolist()
    unk = getattr(model.tokenizer, "unk_token_id", None)
    if unk is not None and unk in ids and answer != model.tokenizer.unk_token:
        raise ValueError(
            f"answer {answer!r} is not in the model's vocabulary (it encodes as the "
            f"unknown token {model.tokenizer.unk_token!r}); see the vocabulary with "
            f"model.tokenizer.get_vocab()"
        )
    if len(ids) != 1:
        pieces = [model.tokenizer.decode([i]) for i in ids]
        raise ValueError(
            f"answer {answer!r} is {len(ids)} tokens {pieces} (ids {ids}), "
            "but a logit belongs to one token; "
            "pass a single-token answer (mind the leading space, e.g. ' Ireland'), "
            "or decompose the first "
            f"token ({pieces[0] if pieces else '—'!r}) and then each later one at its own position"
        )
    return ids[0]


# ---------------------------------------------------------------- reading the bridge


def _final_norm(model):
    """``(weight, bias, eps)`` of the final LayerNorm.

    Read from the HF module inside the bridge's ``ln_final``.
    """
    ln = getattr(model, "ln_final", None)
    inner = getattr(ln, "_original_component", ln)
    if not isinstance(inner, torch.nn.LayerNorm):
        raise TypeError(
            f"the final norm is {type(inner).__name__}, not a LayerNorm; this decomposition "
            f"is written for LayerNorm models (GPT-NeoX / Pythia)"
        )
    return inner.weight, inner.bias, inner.eps


def _folded_unembed(
    model,
) -> tuple[Float[Tensor, "d_model d_vocab"], Float[Tensor, " d_vocab"]]:
    """``(U, B)`` for the whole vocabulary: ``U = diag(γ) W_U`` and ``B = b_U + β W_U``."""
    weight, beta, _ = _final_norm(model)
    W_U = model.W_U
    b_U = getattr(model, "b_U", None)
    B = (
        torch.zeros(W_U.shape[-1], dtype=W_U.dtype, device=W_U.device)
        if b_U is None
        else b_U
    )
    U = W_U * weight[:, None] if weight is not None else W_U
    return U, (B + beta @ W_U if beta is not None else B)


def _token_ids(model, tokens, device) -> Int[Tensor, ...]:
    """One id (scalar tensor) for an int/str/one-element tensor; a LongTensor of ids as given."""
    if isinstance(tokens, Tensor) and tokens.numel() > 1:
        return tokens.long().to(device)
    single = int(tokens) if isinstance(tokens, Tensor) else tokens
    return torch.tensor(answer_token(model, single), device=device)


def readout(
    model,
    tokens: int | str | Int[Tensor, " batch"],
    baseline: int | str | Int[Tensor, " batch"] | None = None,
    center_vocab: bool = False,
) -> tuple[Float[Tensor, "*batch d_model"], Float[Tensor, "*batch"]]:
    """``(u, b')`` of a token with the final LayerNorm's γ and β folded in.

    ``u = γ ⊙ W_U[:, t]`` and ``b' = b_U[t] + ⟨β, W_U[:, t]⟩``, so
    ``logit_t = √N⟨u, c(x)⟩/‖…‖ + b'``.
    With ``baseline`` the direction of the logit *difference* ``t − baseline``. With
    ``center_vocab`` the vocabulary mean of ``u`` and ``b'`` is subtracted, which is what
    TransformerLens's ``center_unembed`` does to a compatibility-mode model.
    """
    U, B = _folded_unembed(model)
    if center_vocab:
        U, B = U - U.mean(-1, keepdim=True), B - B.mean()
    t = _token_ids(model, tokens, U.device)
    u, b = U[:, t].movedim(0, -1), B[t]
    if baseline is not None:
        s = _token_ids(model, baseline, U.device)
        u, b = u - U[:, s].movedim(0, -1), b - B[s]
    return u, b


def _at(
    act: Float[Tensor, "batch pos *rest"], pos: Int[Tensor, ...]
) -> Float[Tensor, " batch *rest"]:
    """``act[b, pos[b]]`` for every batch row (``pos`` a scalar or one position per row)."""
    pos = pos.to(act.device).expand(act.shape[0])
    return act[torch.arange(act.shape[0], device=act.device), pos]


@torch.no_grad()
def head_results(cache, layer: int) -> Float[Tensor, "batch pos head_index d_model"]:
    """What each attention head of ``layer`` writes: ``z_h @ W_O[h]``.

    Without the output bias ``b_O``. Computed from the cached ``hook_z`` and the bridge's
    ``W_O``, independently of TransformerLens's ``stack_head_results`` (the tests compare the
    two).
    """
    model = cache.model
    layer = check_layer(layer, model.cfg.n_layers)
    z = cache[f"blocks.{layer}.attn.hook_z"]
    W_O = model.blocks[layer].attn.W_O
    if z.ndim == 3:  # some bridges cache z flat as [batch pos (head d_head)]
        z = einops.rearrange(
            z,
            "batch pos (head_index d_head) -> batch pos head_index d_head",
            head_index=W_O.shape[0],
        )
    return einops.einsum(
        z,
        W_O,
        "batch pos head_index d_head, head_index d_head d_model -> batch pos head_index d_model",
    )


@torch.no_grad()
def residual_parts(
    cache,
    unit: Unit = "component",
    pos: int | Int[Tensor, " batch"] = -1,
) -> tuple[Float[Tensor, "part batch d_model"], list[str]]:
    """The final residual at ``pos`` split into writers, with labels.

    * ``"block"``: ``embed``, then ``Δ_l = resid_post − resid_pre`` per block (labels ``"L0"``…);
    * ``"component"``: ``embed``, then ``attn_out`` and ``mlp_out`` per block (``"L0 attn"``,
      ``"L0 mlp"``…);
    * ``"head"``: ``embed``, then per block each head (``"L0H0"``…), the attention output bias
      (``"L0 b_O"``) and the MLP (``"L0 mlp"``).

    ``pos_embed`` is added after ``embed`` when the model has one (rotary models do not).
    The parts sum to ``ln_final.hook_in`` up to float rounding.

    Raises:
        ValueError: an unknown unit or a position out of range.
    """
    if unit not in UNITS:
        raise ValueError(f"unit={unit!r}: use one of {UNITS}")
    model = cache.model
    n_layers = model.cfg.n_layers
    embed = cache["hook_embed"]
    pos = check_position(pos, embed.shape[1])
    parts, labels = [_at(embed, pos)], ["embed"]
    if "hook_pos_embed" in cache.keys():
        parts.append(_at(cache["hook_pos_embed"], pos))
        labels.append("pos_embed")
    for layer in range(n_layers):
        if unit == "block":
            delta = (
                cache[f"blocks.{layer}.hook_resid_post"]
                - cache[f"blocks.{layer}.hook_resid_pre"]
            )
            parts.append(_at(delta, pos))
            labels.append(f"L{layer}")
            continue
        if unit == "component":
            parts.append(_at(cache[f"blocks.{layer}.hook_attn_out"], pos))
            labels.append(f"L{layer} attn")
        else:
            heads = _at(head_results(cache, layer), pos)  # [batch head d_model]
            parts.extend(heads.unbind(1))
            labels.extend(f"L{layer}H{h}" for h in range(heads.shape[1]))
            b_O = model.blocks[layer].attn.b_O
            parts.append(
                b_O.expand_as(parts[0])
                if b_O is not None
                else torch.zeros_like(parts[0])
            )
            labels.append(f"L{layer} b_O")
        parts.append(_at(cache[f"blocks.{layer}.hook_mlp_out"], pos))
        labels.append(f"L{layer} mlp")
    return torch.stack(parts), labels


# ---------------------------------------------------------------- the decomposition


@dataclass
class LogitSplit:
    """One logit (per batch row) split into per-writer terms; ``terms.sum(0) + bias == logit``.

    Attributes:
        labels: one per part, aligned with ``terms``.
        terms: ``[part batch]`` contributions in logit units.
        raw: ``[part batch]`` the same before the shared scale, ``⟨u, c(part)⟩`` in residual units
            (the seed printed these).
        bias: ``[batch]`` ``b' = b_U[t] + ⟨β, W_U[:, t]⟩``.
        logit: ``[batch]`` the model's own logit from the same forward pass.
        scale: ``[batch]`` the shared divisor ``sqrt(‖c(x)‖² + Nε) / √N``
            (= ``ln_final.hook_scale``).
    """

    labels: list[str]
    terms: Float[Tensor, "part batch"]
    raw: Float[Tensor, "part batch"]
    bias: Float[Tensor, " batch"]
    logit: Float[Tensor, " batch"]
    scale: Float[Tensor, " batch"]

    @property
    def total(self) -> Float[Tensor, " batch"]:
        """The reassembled logit ``Σ terms + bias``."""
        return self.terms.sum(0) + self.bias

    @property
    def rel_error(self) -> float:
        """The identity's float error, ``max |total − logit| / max |logit|`` over the batch."""
        return (
            (self.total - self.logit).abs().max()
            / self.logit.abs().max().clamp_min(1e-30)
        ).item()

    def by_layer(self) -> tuple[Float[Tensor, "group batch"], list[str]]:
        """The terms summed per block: ``embed`` (with ``pos_embed``), then ``"L0"``, ``"L1"``, ….

        Any unit gives the same numbers (up to float rounding): the ``"block"`` split.
        """
        groups: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            key = (
                "embed"
                if label in ("embed", "pos_embed")
                else label.split(" ")[0].split("H")[0]
            )
            groups.setdefault(key, []).append(i)
        return torch.stack([self.terms[idx].sum(0) for idx in groups.values()]), list(
            groups
        )

    def frame(self, row: int = 0) -> pd.DataFrame:
        """A table of one batch row.

        Per part: raw inner product, logit-unit term; then the bias and the total.
        """
        df = pd.DataFrame(
            {
                "part": self.labels,
                "raw": self.raw[:, row].tolist(),
                "term": self.terms[:, row].tolist(),
            }
        )
        tail = pd.DataFrame(
            {
                "part": ["bias", "total", "model logit"],
                "raw": [float("nan")] * 3,
                "term": [
                    self.bias[row].item(),
                    self.total[row].item(),
                    self.logit[row].item(),
                ],
            }
        )
        return pd.concat([df, tail], ignore_index=True)


def _model_logits(cache) -> Float[Tensor, "batch pos d_vocab"]:
    for key in ("hook_unembed", "unembed.hook_out"):
        if key in cache.keys():
            return cache[key]
    raise KeyError(
        "the cache holds no logits (hook_unembed); run `model.run_with_cache(tokens)` "
        "without a names_filter"
    )


@torch.no_grad()
def decompose_logit(
    cache,
    token: int | str | Int[Tensor, " batch"],
    pos: int | Int[Tensor, " batch"] = -1,
    unit: Unit = "component",
    baseline: int | str | Int[Tensor, " batch"] | None = None,
    center_vocab: bool = False,
) -> LogitSplit:
    """Split the logit of ``token`` at ``pos`` exactly into per-writer terms.

    The identity is the module docstring's boxed one.

    Args:
        cache: from ``model.run_with_cache(tokens)`` on a ``TransformerBridge`` (raw or
            compatibility mode).
        token: the answer: an id, a one-token string, or one id per batch row.
        pos: the position whose next-token logit is split; one per row for padded batches.
        unit: ``"block"``, ``"component"`` or ``"head"`` (see :func:`residual_parts`).
        baseline: if given, split the logit difference ``token − baseline`` instead.
        center_vocab: subtract the vocabulary mean of ``u`` and ``b'``; on a raw model this
            gives exactly TransformerLens's terms for a compatibility-mode
            (``center_unembed``) model.

    Raises:
        ValueError: a multi-token answer, a position out of range, an unknown unit.
    """
    model = cache.model
    parts, labels = residual_parts(cache, unit, pos)
    final = cache["ln_final.hook_in"]
    pos_t = check_position(pos, final.shape[1])
    x = _at(final, pos_t)
    _, _, eps = _final_norm(model)
    u, b = readout(model, token, baseline, center_vocab)
    u = u.to(x.dtype).expand_as(x)
    b = b.to(x.dtype).expand(x.shape[0])
    terms = split_logit(parts, x, u, eps)
    n = x.shape[-1]
    scale = (center(x).pow(2).sum(-1) + n * eps).sqrt() / n**0.5
    raw = (center(parts) * u).sum(-1)

    logits = _at(_model_logits(cache), pos_t)  # [batch d_vocab]
    rows = torch.arange(x.shape[0], device=x.device)
    logit = logits[rows, _token_ids(model, token, x.device).expand(x.shape[0])]
    if baseline is not None:
        logit = (
            logit
            - logits[rows, _token_ids(model, baseline, x.device).expand(x.shape[0])]
        )
    elif center_vocab:
        logit = logit - logits.mean(-1)
    return LogitSplit(
        labels=labels, terms=terms, raw=raw, bias=b, logit=logit, scale=scale
    )


@torch.no_grad()
def block_residual_gap(cache, layer: int) -> tuple[float, float, float]:
    """``(max gap, bound there, worst ratio)`` of one block's residual update and its outputs.

    The gap is ``|(resid_post − resid_pre) − (attn_out + mlp_out)|`` elementwise over every
    batch row, position and dimension. Returns its true maximum, the rounding bound
    :func:`residual_rounding_bound` at the element where that maximum sits, and the largest
    ratio gap / bound over all elements (the check passes when it is at most 1; the element
    with the worst ratio need not be the one with the largest gap). A parallel block (Pythia)
    has no ``resid_mid``, so only the sum can be checked.
    """
    layer = check_layer(layer, cache.model.cfg.n_layers)
    pre, post = (
        cache[f"blocks.{layer}.hook_resid_pre"],
        cache[f"blocks.{layer}.hook_resid_post"],
    )
    attn, mlp = (
        cache[f"blocks.{layer}.hook_attn_out"],
        cache[f"blocks.{layer}.hook_mlp_out"],
    )
    gap = ((post - pre) - (attn + mlp)).abs().flatten()
    bound = residual_rounding_bound(pre, post, attn, mlp).flatten()
    at_max = gap.argmax()
    ratio = gap / bound.clamp_min(torch.finfo(gap.dtype).tiny)
    return gap[at_max].item(), bound[at_max].item(), ratio.max().item()


# ------------------------------------------------------------ the seed's variants, for the chapter


def identity_variants(
    final_resid: Float[Tensor, " d_model"],
    parts: Float[Tensor, "part d_model"],
    w: Float[Tensor, " d_model"],
    gamma: Float[Tensor, " d_model"] | None,
    beta: Float[Tensor, " d_model"] | None,
    b_U: float,
    eps: float,
) -> dict[str, float]:
    """The logit by the exact identity and by each wrong variant, one mistake at a time.

    Works on *unfolded* weights: ``w`` is the raw column ``W_U[:, t]``, ``gamma``/``beta``
    the final LayerNorm's. Keys:

    * ``"exact"``: the identity (equals the model's logit);
    * ``"ε not Nε"``: the seed's λ, ``1/sqrt(‖c(x)‖² + ε)``;
    * ``"centre adds the mean"``: the seed's ``center(v) = v + mean(v)`` used for ``c``;
    * ``"seed LN helper"``: the seed's ``LN``: uncentred variance ``mean(x²)`` and ``−ε``;
    * ``"unbiased variance"``: ``N−1`` in the variance;
    * ``"numerator not centred"``: ``⟨u, part⟩`` instead of ``⟨u, c(part)⟩``;
    * ``"no γ"``, ``"no β"``: γ or β left out of ``u``, ``b'``;
    * ``"per-part denominator"``: each part normalised by its own norm;
    * ``"seed formula"``: the seed's cell as written (no γ, β or centring; ``v + mean``; ε).
    """
    x, n = final_resid, final_resid.shape[-1]
    g = gamma if gamma is not None else torch.ones_like(w)
    bt = beta if beta is not None else torch.zeros_like(w)
    u, bias = g * w, b_U + (bt * w).sum()
    seed_centre = lambda v: v + v.mean(-1, keepdim=True)  # noqa: E731 - the seed's function, verbatim

    def assemble(numerators, denom_sq, u=u, bias=bias):
        return (n**0.5 * (numerators * u).sum() / denom_sq.sqrt() + bias).item()

    cx2 = center(x).pow(2).sum()
    seed_ln = (x - x.mean()) / (x.pow(2).mean() - eps).sqrt()
    per_part = (
        n**0.5
        * (center(parts) * u).sum(-1)
        / (center(parts).pow(2).sum(-1) + n * eps).sqrt()
    )
    return {
        "exact": assemble(center(parts), cx2 + n * eps),
        "ε not Nε": assemble(center(parts), cx2 + eps),
        "centre adds the mean": assemble(
            seed_centre(parts), seed_centre(x).pow(2).sum() + n * eps
        ),
        "seed LN helper": ((g * seed_ln + bt) @ w + b_U).item(),
        "unbiased variance": (
            (g * center(x) / (cx2 / (n - 1) + eps).sqrt() + bt) @ w + b_U
        ).item(),
        "numerator not centred": assemble(parts, cx2 + n * eps),
        "no γ": assemble(center(parts), cx2 + n * eps, u=w),
        "no β": assemble(center(parts), cx2 + n * eps, bias=torch.as_tensor(b_U)),
        "per-part denominator": (per_part.sum() + bias).item(),
        "seed formula": assemble(
            parts, seed_centre(x).pow(2).sum() + eps, u=w, bias=torch.as_tensor(b_U)
        ),
    }


def symbolic_identity_gap(n: int = 3, n_parts: int = 2, variant: str = "exact"):
    """``⟨w, LN(Σ parts)⟩ + b_U`` minus the identity's right-hand side, as a sympy expression.

    With symbolic parts, γ, β, w, b_U and ε > 0 in dimension ``n``. ``variant="exact"``
    simplifies to 0; ``"eps"`` (ε for Nε) and ``"centre"`` (``v + mean``) do not.
    """
    import sympy as sp

    sym = lambda name: sp.symbols(f"{name}0:{n}", real=True)  # noqa: E731
    parts = [sym(f"p{k}_") for k in range(n_parts)]
    gamma, beta, w = sym("gamma"), sym("beta"), sym("w")
    b_U, eps = sp.Symbol("b_U", real=True), sp.Symbol("epsilon", positive=True)

    def c(v, sign=-1):
        mean = sum(v) / n
        return [vi + sign * mean for vi in v]

    x = [sum(p[i] for p in parts) for i in range(n)]
    var = sum(ci**2 for ci in c(x)) / n
    lhs = (
        sum(
            w[i] * (gamma[i] * c(x)[i] / sp.sqrt(var + eps) + beta[i]) for i in range(n)
        )
        + b_U
    )
    sign = +1 if variant == "centre" else -1
    n_eps = eps if variant == "eps" else n * eps
    u = [gamma[i] * w[i] for i in range(n)]
    denom = sp.sqrt(sum(ci**2 for ci in c(x, sign)) + n_eps)
    rhs = (
        sp.sqrt(n)
        * sum(sum(u[i] * c(p, sign)[i] for i in range(n)) for p in parts)
        / denom
        + b_U
        + sum(beta[i] * w[i] for i in range(n))
    )
    if variant not in ("exact", "eps", "centre"):
        raise ValueError(f"variant={variant!r}: use 'exact', 'eps' or 'centre'")
    return lhs - rhs


__all__: Sequence[str] = [
    "center",
    "ln_scale",
    "layer_norm",
    "split_logit",
    "logit_without",
    "residual_rounding_bound",
    "answer_token",
    "readout",
    "head_results",
    "residual_parts",
    "LogitSplit",
    "decompose_logit",
    "block_residual_gap",
    "identity_variants",
    "symbolic_identity_gap",
    "UNITS",
    "Unit",
]
