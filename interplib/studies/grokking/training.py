"""Training the grokking models: many seeds as one stack, the epochs replayed as a CUDA graph.

:func:`stacked_answer_logits` is the training forward pass of a ``[model ...]`` stack of
:class:`~interplib.studies.grokking.model.GrokTransformer` weights, read at ``=`` only;
:func:`train_stacked` runs Nanda et al.'s full-batch AdamW on it and, on a GPU, captures one
epoch as a CUDA graph and replays it. Both follow the options of a
:class:`~interplib.studies.grokking.model.GrokVariantConfig` (quantized embeddings and
activations, attention rate, loss precision, and one AdamW parameter group per
``(lr, weight_decay)`` cell of the stack); a plain ``GrokConfig`` runs exactly as before.
"""

from __future__ import annotations

import math
import time

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.studies.grokking.model import (
    GrokConfig,
    GrokTransformer,
    cell_settings,
    options,
    trained_names,
)
from interplib.studies.grokking.quantize import (
    quantize,
    quantize_activations,
)

__all__ = [
    "stacked_answer_logits",
    "train_stacked",
    "loss_and_accuracy",
    "sum_of_squares",
]


def stacked_answer_logits(
    cfg: GrokConfig, params: dict[str, Tensor], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "model batch p"]:
    """The logits at ``=`` of every model of a ``[model ...]`` stack of
    :class:`~interplib.studies.grokking.model.GrokTransformer` weights.

    Equal to ``model(tokens)[:, -1]`` for each model, but computed without ``vmap`` and only
    where the answer needs it. One layer means the answer sees the other positions only
    through their keys and values, and a key or value depends on nothing but the token and
    its position: so they are computed once per (position, token), ``3 × (p + 1)`` rows
    instead of ``3 × batch``, and looked up; the query, the MLP and the unembedding run at
    ``=`` alone. This is the training forward pass, several times cheaper than the full one.
    """

    opts = options(cfg)

    def linear(x: Tensor, name: str) -> Tensor:
        """``x W^T + b`` for each model: ``x [model ... d_in]`` -> ``[model ... d_out]``."""
        W = quantize(params[f"blocks.0.{name}.weight"], cfg.weights, stacked=True)
        x = quantize_activations(x, opts.act_bits)  # per row: one token's features
        flat = einops.rearrange(x, "model ... d_in -> model (...) d_in")
        out = torch.baddbmm(
            params[f"blocks.0.{name}.bias"][:, None], flat, W.transpose(1, 2)
        )
        return out.view(*x.shape[:-1], W.shape[1])

    def lookup(table: Tensor) -> Tensor:
        """``table [model pos vocab f]`` at each input's (position, token).

        Returns ``[model batch pos f]``.
        """
        flat = einops.rearrange(table, "model pos vocab f -> model (pos vocab) f")
        index = tokens + table.shape[2] * torch.arange(n_pos, device=tokens.device)
        return flat.index_select(1, index.flatten()).view(len(table), *tokens.shape, -1)

    def embedding(name: str) -> Tensor:
        W = params[name]
        return quantize(W, cfg.weights, stacked=True) if opts.quantize_embed else W

    n_pos = tokens.shape[-1]
    table = (
        embedding("embed.weight")[:, None]
        + embedding("pos_embed.weight")[:, :n_pos, None]
    )  # [model pos vocab d]
    k, v = (
        lookup(linear(table, name)).unflatten(
            -1, (cfg.n_heads, cfg.d_head)
        )  # [model batch pos head d_head]
        for name in ("attn.k", "attn.v")
    )
    x = table[:, -1].index_select(1, tokens[:, -1])  # [model batch d] at `=`
    q = linear(x, "attn.q").unflatten(
        -1, (cfg.n_heads, cfg.d_head)
    )  # [model batch head d_head]
    pattern = ((q[:, :, None] * k).sum(-1) / math.sqrt(cfg.d_head)).softmax(
        2
    )  # [model batch pos head]
    if opts.attention_rate != 1:  # every position is visible from the answer's
        pattern = opts.attention_rate * pattern + (1 - opts.attention_rate)
    z = (pattern[..., None] * v).sum(2).flatten(-2)  # [model batch (head d_head)]
    resid = x + linear(z, "attn.o")
    resid = resid + linear(torch.relu(linear(resid, "mlp.in")), "mlp.out")
    return torch.baddbmm(
        params["unembed.bias"][:, None],
        resid,
        embedding("unembed.weight").transpose(1, 2),
    )


def train_stacked(
    cfg: GrokConfig,
    models: list[GrokTransformer],
    tokens: Int[Tensor, "batch pos"],
    labels: Int[Tensor, " batch"],
    device: torch.device,
    progress,
    graph: bool | None = None,
) -> tuple[list[dict[str, Tensor]], float]:
    """Full-batch AdamW on every model at once: ``(snapshots every log_every epochs, seconds)``.

    The weights are stacked on a ``model`` axis and trained through :func:`stacked_answer_logits`;
    the loss is the sum of the models' float64 cross-entropies, so each model gets its own
    gradient, and AdamW is element-wise, so this is ``len(models)`` independent runs (a test
    compares it with the ``vmap`` trainer of :mod:`interplib.core.batched`). Biases stay at 0
    (but Zhong et al.'s MLP biases, which their code trains). ``models`` are cell-major when
    ``cfg`` has several ``(lr, weight_decay)`` cells: each cell is one AdamW parameter group.

    A step of these small models is a few hundred tiny kernels, so on a GPU their launches,
    not the arithmetic, set the pace. With ``graph`` (the default on CUDA) the epochs after
    the learning-rate warm-up replay one captured CUDA graph of the whole step (forward,
    backward, AdamW): the same kernels on the same static tensors, launched at once.
    """
    graph = device.type == "cuda" if graph is None else graph
    if graph and device.type != "cuda":
        raise ValueError(
            f"graph=True needs a CUDA device, got {device}: pass graph=False or None"
        )
    cells = cell_settings(cfg)
    if len(models) % len(cells):
        raise ValueError(
            f"{len(models)} models for {len(cells)} cells: stack whole cells (cell-major)"
        )
    size = len(models) // len(cells)
    stacks = [
        {
            n: torch.stack(
                [dict(m.named_parameters())[n].detach() for m in cell_models]
            ).to(device)
            for n, _ in models[0].named_parameters()
        }
        for cell_models in (
            models[c * size : (c + 1) * size] for c in range(len(cells))
        )
    ]
    names = trained_names(cfg, models[0])
    opt = torch.optim.AdamW(
        [
            {
                "params": [stack[n].requires_grad_() for n in names],
                "lr": lr,
                "weight_decay": wd,
            }
            for stack, (lr, wd) in zip(stacks, cells, strict=True)
        ],
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        betas=cfg.betas,
        capturable=graph,
    )

    def stacked() -> dict[str, Tensor]:
        """The whole stack: each cell's parameters, concatenated on the model axis."""
        if len(stacks) == 1:
            return stacks[0]
        return {n: torch.cat([s[n] for s in stacks]) for n in stacks[0]}

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min(1.0, (step + 1) / cfg.warmup)
    )
    tokens, labels = (
        tokens.to(device),
        labels[:, None].expand(-1, len(models)).to(device),
    )

    loss_dtype = getattr(torch, options(cfg).loss_dtype)

    def step() -> None:
        logits = stacked_answer_logits(cfg, stacked(), tokens).to(loss_dtype)
        loss = nn.functional.cross_entropy(
            einops.rearrange(logits, "model batch p -> batch p model"),
            labels,
            reduction="none",
        ).mean(0)
        loss.sum().backward()
        opt.step()

    captured, stream = None, torch.cuda.Stream(device) if graph else None
    snapshots = []
    start = time.perf_counter()
    desc = f"{len(models)} {cfg.weights} models"  # fit serves several recipes
    for epoch in progress(range(cfg.epochs + 1), desc=desc):
        if epoch % cfg.log_every == 0:
            snapshots.append({n: v.detach().clone() for n, v in stacked().items()})
        if epoch == cfg.epochs:
            break
        # stream is set exactly when graph is: the eager epochs before capture run on it
        if captured is None and stream is not None and epoch >= max(cfg.warmup, 3):
            # the rate is constant from here on
            torch.cuda.current_stream(device).wait_stream(stream)
            opt.zero_grad(set_to_none=True)  # grads are allocated inside the graph
            captured = torch.cuda.CUDAGraph()
            with torch.cuda.graph(captured):
                step()
        if captured is not None:
            captured.replay()
            continue
        opt.zero_grad(set_to_none=True)
        if stream is not None:
            # the eager epochs before capture run on a side stream, as capture requires
            stream.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(stream):
                step()
            torch.cuda.current_stream(device).wait_stream(stream)
        else:
            step()
        sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return snapshots, time.perf_counter() - start


def loss_and_accuracy(
    logits: Float[Tensor, "batch pos p"], labels: Int[Tensor, " batch"]
) -> tuple[Tensor, Tensor]:
    """Cross-entropy at the ``=`` position, and accuracy.

    In float64: softmax collapse otherwise.
    """
    last = logits[:, -1].double()
    loss = nn.functional.cross_entropy(last, labels)
    return loss, (last.argmax(-1) == labels).double().mean()


def sum_of_squares(
    params: dict[str, Tensor], names: list[str]
) -> Float[Tensor, " model"]:
    """Σ W² over the latent weights of each stacked model (a progress measure of Nanda et al.)."""
    if not names:
        raise ValueError("names is empty: pass the latent weights to sum over")
    total = params[names[0]].double().pow(2).flatten(1).sum(-1)
    for n in names[1:]:
        total = total + params[n].double().pow(2).flatten(1).sum(-1)
    return total
