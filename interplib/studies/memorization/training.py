"""What every training of the memorization study shares.

The laws, their data, the losses, the optimiser. The study trains groups of small models with
:func:`interplib.core.batched.train_models`; these helpers rebuild a law from a seed
(:func:`make_law`), draw batches of contexts from it (:func:`law_data`), pick the loss
(next-token cross-entropy or the full divergence to the law, :func:`make_loss`), evaluate, and
build the stacked models (:func:`aot_models`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from interplib.core.batched import stacked_forward
from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.losses import (
    accuracy,
    exact_divergence,
    full_divergence,
    next_token_loss,
)
from interplib.studies.memorization.model import AoTConfig, AttentionOnly

__all__ = [
    "PARAM_GROUPS",
    "freeze",
    "make_law",
    "law_data",
    "law_evaluator",
    "adam",
    "aot_models",
    "half",
    "make_loss",
]


def make_law(
    kind: str, N: int, seed: int, supports: Sequence[int] = (), p: float = 0.95
):
    """The laws of the study, rebuilt from a seed: ``table`` (uniform prior, deterministic ``t3``),
    ``paper_table`` (the same, drawn as the paper's code draws it: with seed 2222, its table),
    ``power`` (α = 0.9, 0.9, 0.6 on full supports) or ``noisy`` (``last_position_law``)."""
    g = torch.Generator().manual_seed(seed)
    if kind in ("table", "paper_table"):
        support = (*(supports or (N, N)), 1)
        return mem.power_unif_law((1, 1, 1), support, N, g, kind == "paper_table")
    if kind == "power":
        return mem.power_unif_law((0.9, 0.9, 0.6), (N, N, N), N, g)
    if kind == "noisy":
        return mem.last_position_law(N, 0, p, g)
    raise ValueError(
        f"unknown law kind {kind!r}; use 'table', 'paper_table', 'power' or 'noisy'"
    )


def law_data(
    laws: Sequence[mem.TrigramLaw],
    batch: int,
    seed: int,
    per_model: bool,
    pool_batches: int = 0,
    shuffles: int = 0,
):
    """``data(step)`` for :func:`~interplib.core.batched.train_models`: samples of each law, a pure
    function of the step.

    With ``pool_batches = 0`` every step draws fresh sequences (online sampling). With
    ``pool_batches = n > 0`` one fixed sample of ``n × batch`` sequences is drawn once and served in
    epochs of ``n`` batches, reshuffled every epoch: the paper's protocol (a ``TensorDataset`` of
    2^6 × 2^8 sequences behind a shuffling ``DataLoader``).

    With ``per_model`` each model has its own law (tensors get a leading ``model`` axis);
    otherwise ``laws`` holds one law shared by every model. The laws must share their prior.
    With ``shuffles = m > 0`` (a fixed sample only) each of ``m`` models reshuffles the sample
    in its own order every epoch, as each of the paper's repetitions runs its own pass of
    its ``DataLoader`` (tensors get a leading ``model`` axis of ``m``; the first order is
    the shared one of ``shuffles = 0``); otherwise every model sees the same batches.
    """
    if pool_batches < 0:
        raise ValueError(
            f"pool_batches={pool_batches}: use 0 (fresh samples every step) or a positive pool size"
        )
    if shuffles < 0 or (shuffles and not pool_batches):
        raise ValueError(
            f"shuffles={shuffles}, pool_batches={pool_batches}: orders per model need a "
            "fixed sample (pool_batches > 0); use shuffles=0 for one order"
        )
    if shuffles and per_model and len(laws) != shuffles:
        raise ValueError(
            f"{len(laws)} laws for {shuffles} orders: give one law per model, or one law"
        )
    prior = laws[0].prior.flatten()
    if any(not torch.equal(l.prior.flatten(), prior) for l in laws):
        raise ValueError(
            "law_data batches laws with one shared prior π(t1, t2); these priors differ"
        )
    N = laws[0].d_vocab
    cdf = (
        torch.stack([l.pi2.flatten(0, 1) for l in laws]).cumsum(-1).float()
    )  # law context y
    rows = torch.stack([l.pi2.flatten(0, 1) for l in laws]).float()
    law = torch.arange(len(laws))[:, None]  # [law 1]: pairs each law with its row of z

    def draw(g: torch.Generator, n: int) -> tuple[Tensor, Tensor]:
        # One draw of contexts and uniforms serves every law: t3 by inverse CDF,
        # one op for all laws.
        return torch.multinomial(prior, n, replacement=True, generator=g), torch.rand(
            n, 1, generator=g
        )

    if pool_batches:
        pool_z, pool_u = draw(
            torch.Generator().manual_seed(seed * 1_000_003 - 1), pool_batches * batch
        )

    def orders(epoch: int) -> Tensor:  # [order pool]: this epoch's shuffles
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        return torch.stack(
            [torch.randperm(len(pool_z), generator=g) for _ in range(max(shuffles, 1))]
        )

    cached: dict[int, Tensor] = {}  # the current epoch's orders (data stays pure)

    def data(step: int):
        if pool_batches:
            epoch, k = divmod(step, pool_batches)
            if epoch not in cached:
                cached.clear()
                cached[epoch] = orders(epoch)
            taken = cached[epoch][:, k * batch : (k + 1) * batch]  # order batch
            z, u = pool_z[taken], pool_u[taken]
        else:
            z, u = draw(torch.Generator().manual_seed(seed * 1_000_003 + step), batch)
            z, u = z[None], u[None]  # one order
        t3 = (cdf[law, z] < u).sum(-1).clamp(max=N - 1)  # model batch
        tokens = torch.stack(
            [(z // N).expand_as(t3), (z % N).expand_as(t3), t3], dim=-1
        )
        out = {"tokens": tokens, "target": rows[law, z].expand(*t3.shape, N)}
        return out if per_model or shuffles else {k: v[0] for k, v in out.items()}

    return data


def make_loss(kind: str, entropy: float):
    """``next_token`` (sampled cross-entropy) or ``full_divergence``, both minus ``H̄``.

    With the batch accuracy.
    """

    def loss_fn(model_fn, batch):
        tokens = batch["tokens"]
        logits = model_fn(tokens[:, :2])
        if kind == "next_token":
            loss = next_token_loss(logits, tokens[:, 2], entropy)
        elif kind == "full_divergence":
            loss = full_divergence(logits, batch["target"], entropy)
        else:
            raise ValueError(
                f"unknown loss {kind!r}; use 'next_token' or 'full_divergence'"
            )
        return loss, {"batch_acc": (logits.argmax(-1) == tokens[:, 2]).float().mean()}

    return loss_fn


def law_evaluator(base, laws: Sequence[mem.TrigramLaw]):
    """``evaluate(params, buffers) -> {"kl", "accuracy"}`` per model, exact over every context."""
    ctx = [mem.contexts(l) for l in laws]
    tokens = ctx[0][0]
    if any(not torch.equal(c[0], tokens) for c in ctx):
        raise ValueError(
            "the laws have different context supports; evaluate them separately"
        )
    weight = torch.stack([c[1] for c in ctx])
    target = torch.stack([c[2] for c in ctx])

    def evaluate(params, buffers):
        device = next(iter(params.values())).device
        logits = stacked_forward(base, params, buffers, tokens.to(device)).cpu()
        if len(laws) == 1:
            w, t = weight.expand(len(logits), -1), target.expand(len(logits), -1, -1)
        else:
            w, t = weight, target
        return {
            "kl": torch.stack(
                [exact_divergence(l, a, b) for l, a, b in zip(logits, w, t)]
            ).float(),
            "accuracy": torch.stack(
                [accuracy(l, a, b) for l, a, b in zip(logits, w, t)]
            ).float(),
        }

    return evaluate


def adam(lr: float):
    return lambda ps: torch.optim.Adam(ps, lr=lr)


def aot_models(
    cfg: AoTConfig,
    seeds: Sequence[int],
    n_heads: Sequence[int] | None = None,
    d_head: Sequence[int] | None = None,
) -> list[AttentionOnly]:
    """One model per seed (initialised under ``torch.manual_seed(seed)``), model ``i`` using only
    its first ``n_heads[i]`` heads and ``d_head[i]`` head dimensions when these are given."""
    models = []
    for i, s in enumerate(seeds):
        torch.manual_seed(s)
        m = AttentionOnly(cfg)
        m.set_active(n_heads[i] if n_heads else None, d_head[i] if d_head else None)
        models.append(m)
    return models


def half(tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {
        k: v.detach().to(torch.float16) if v.is_floating_point() else v
        for k, v in tensors.items()
    }


PARAM_GROUPS = {
    "embed": ("W_E",),
    "pos": ("W_pos",),
    "qkv": ("W_Q", "W_K", "W_V"),
    "out": ("W_O",),
    "unembed": ("W_U",),
    "compress": ("W_C", "W_D"),
    "mlp": ("mlp.",),
}


def freeze(model: nn.Module, *groups: str) -> list[str]:
    """Stop training the named parameter groups; returns the trainable names.

    The groups are ``embed pos qkv out unembed mlp compress``. Unlike the original
    ``freeze(dict)``, a group that is not named stays trainable (no ``KeyError``).
    """
    unknown = set(groups) - set(PARAM_GROUPS)
    if unknown:
        raise ValueError(
            f"unknown parameter group(s) {sorted(unknown)}; choose from {sorted(PARAM_GROUPS)}"
        )
    patterns = [p for g in groups for p in PARAM_GROUPS[g]]
    trainable = []
    for name, param in model.named_parameters():
        frozen = any(name.endswith(p) or p in name for p in patterns)
        param.requires_grad_(not frozen)
        if not frozen:
            trainable.append(name)
    if not trainable:
        raise ValueError(f"freezing {groups} leaves nothing to train")
    return trainable
