"""The exact one-token decomposition of a bilinear transformer's bigram logits.

With a single token i in the context, every head attends to that token alone, so the
forward pass is a fixed function of the weights: the residual stream at the last layer is
the sum of the embedding ``e_i``, each layer's attention output ``OV(RMS₁(x))`` and each
layer's MLP output ``MLP(RMS₂(x))``, and the final norm divides **that whole sum** by its
RMS before the unembedding::

    logits[:, i] = Σ_parts  U (part_i / rms(x_final,i))        (gain folded into U)

:func:`one_token_terms` returns one ``[out in]`` table per part, each divided by the final
RMS the model actually applies, so the tables sum to the model's one-token logits exactly.
``attention=False`` runs the same pass with every attention output removed (the MLPs then
read the embedding alone, and the final norm divides by the RMS of what is left): the
weight-only reading, done with the model's own normalisations. ``without=("mlp 0",)``
removes a part from the residual (later layers read the stream without it): its total
effect, next to the direct effect its term measures.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from interplib.interp.bilinear import BilinearLayout, unembed_directions

__all__ = ["one_token_terms", "one_token_residuals"]


@torch.no_grad()
def one_token_residuals(
    model: BilinearLayout,
    *,
    attention: bool = True,
    without: tuple[str, ...] = (),
    chunk: int = 1024,
) -> tuple[dict[str, Float[Tensor, "in d_model"]], Float[Tensor, " in"]]:
    """The residual stream's parts for every one-token context, and the final RMS.

    Returns ``(parts, scale)``: ``parts`` maps ``"embedding"``, ``"attn {l}"`` and ``"mlp {l}"``
    (in the order they are written) to ``[in d_model]``; ``scale[i]`` is
    ``√(mean(x²) + ε)`` of their sum, the final norm's divisor. Without ``attention`` the
    ``"attn {l}"`` parts are absent and later layers read a residual without them; the
    same holds for every part named in ``without`` (e.g. ``("mlp 0",)``).
    Cost: V one-position forward passes.

    Raises:
        ValueError: ``without`` names a part the pass does not write.
    """
    V, n = model.cfg.d_vocab, model.cfg.n_layers
    writable = {f"{kind} {l}" for l in range(n) for kind in ("attn", "mlp")}
    if not attention:
        writable -= {f"attn {l}" for l in range(n)}
    if unknown := set(without) - writable:
        raise ValueError(
            f"without={without}: {sorted(unknown)} not in {sorted(writable)}"
        )
    parts: dict[str, list[Tensor]] = {"embedding": []}
    scales = []
    for start in range(0, V, chunk):
        x = model.embed.W_E[start : start + chunk][:, None]  # [chunk 1 d_model]
        parts["embedding"].append(x[:, 0])
        for layer, block in enumerate(model.blocks):
            if attention and f"attn {layer}" not in without:
                a = block.attn(block.ln1(x))
                parts.setdefault(f"attn {layer}", []).append(a[:, 0])
                x = x + a
            if f"mlp {layer}" not in without:
                m = block.mlp(block.ln2(x))
                parts.setdefault(f"mlp {layer}", []).append(m[:, 0])
                x = x + m
        scales.append((x[:, 0].pow(2).mean(-1) + model.ln_final.eps).sqrt())
    return {k: torch.cat(v) for k, v in parts.items()}, torch.cat(scales)


@torch.no_grad()
def one_token_terms(
    model: BilinearLayout, *, attention: bool = True, without: tuple[str, ...] = ()
) -> dict[str, Float[Tensor, "out in"]]:
    """Each part's logits through the model's real final norm, indexed [output, input].

    ``terms[name][o, i] = u_o · part_i / rms(x_final,i)``; the terms sum to
    :func:`interplib.interp.bilinear.single_token_logits` (with ``attention``) to float
    rounding. ``without``: parts removed from the pass (see :func:`one_token_residuals`).
    Memory: one V×V table per part.
    """
    parts, scale = one_token_residuals(model, attention=attention, without=without)
    U = unembed_directions(model)
    return {name: ((p / scale[:, None]) @ U).T for name, p in parts.items()}
