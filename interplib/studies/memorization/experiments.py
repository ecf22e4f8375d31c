"""The memorization study's smaller experiments, one recipe each.

The original notebook's cells, fixed:

* ``memo-dynamics``: next-token vs full-divergence training, with a sequence-encoder baseline;
* ``memo-freezing``: which parameter groups suffice to memorise a table;
* ``memo-skips``: removing the residual path or parts of the attention inputs;
* ``memo-inspect``: the three small models the chapter opens (attention maps, per-head
  contributions, superposition in a low-entropy law);
* ``memo-subspace``: how close a rank-d model's ``W_U`` comes to the law's log-probability
  subspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from interplib.core.batched import linear_decay, train_models
from interplib.core.recipes import Trained
from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.losses import exact_divergence
from interplib.studies.memorization.model import AoTConfig, AttentionOnly, LowRank
from interplib.studies.memorization.training import (
    adam,
    aot_models,
    freeze,
    law_data,
    law_evaluator,
    make_law,
    make_loss,
)

__all__ = [
    "CellConfig",
    "FREEZE_SETS",
    "SKIP_SETS",
    "subspace_distance",
    "random_subspace_distance",
    "DYNAMICS",
    "DYNAMICS_SEED",
    "FREEZING",
    "SKIPS",
    "InspectConfig",
    "SubspaceConfig",
    "fit_dynamics",
    "fit_freezing",
    "fit_inspect",
    "fit_skips",
    "fit_subspace",
    "law_subspace",
]


@dataclass(frozen=True)
class CellConfig:
    """One experiment of the original notebook.

    Its law, its models (``seeds`` of them), its training.
    """

    N: int = 100
    supports: tuple[int, int] = (40, 40)
    d_model: int = 10
    d_head: int = 10
    n_heads: int = 5
    seeds: int = 3
    steps: int = 2000
    batch: int = 512
    lr: float = 1e-2
    lr_end: float = 5e-4
    law_seed: int = 2222
    seed: int = 0

    def __post_init__(self):
        if (
            min(
                self.N,
                self.d_model,
                self.d_head,
                self.n_heads,
                self.seeds,
                self.steps,
                self.batch,
            )
            < 1
        ):
            raise ValueError("sizes, seeds, steps and batch must be positive")
        if any(not 1 <= s <= self.N for s in self.supports):
            raise ValueError(
                f"supports={self.supports}: each must lie in [1, N={self.N}]"
            )


def _arch(cfg: CellConfig, **kw) -> AoTConfig:
    return AoTConfig(
        d_vocab=cfg.N, d_model=cfg.d_model, d_head=cfg.d_head, n_heads=cfg.n_heads, **kw
    )


def _train(
    cfg,
    models,
    law,
    loss="next_token",
    trainable=None,
    eval_every=0,
    progress=None,
    desc="",
    device=None,
):
    H = mem.conditional_entropy(law)
    return train_models(
        models,
        make_loss(loss, H),
        law_data([law], cfg.batch, cfg.seed, False),
        cfg.steps,
        adam(cfg.lr),
        schedule=linear_decay(cfg.steps, 1.0, cfg.lr_end / cfg.lr),
        trainable=trainable,
        evaluate=law_evaluator(models[0], [law]) if eval_every else None,
        eval_every=eval_every,
        progress=progress,
        desc=desc,
        device=device,
    )


def _final(models, law, result):
    out = law_evaluator(models[0], [law])(result.params, result.buffers)
    return out["kl"], out["accuracy"]


# --- dynamics -------------------------------------------------------------------------------

DYNAMICS = CellConfig(steps=1000, batch=256)
# the original notebook's budget: one pass over 5000 fresh batches of 1024, Adam at a
# constant 1e-3 (its train() at 09bf52f has no schedule): 20x the samples of DYNAMICS
DYNAMICS_SEED = CellConfig(steps=5000, batch=1024, lr=1e-3, lr_end=1e-3)


def fit_dynamics(cfg: CellConfig, device, progress) -> Trained:
    """Both losses on the table and on a noisy power law.

    A sequence encoder is the optimal baseline.
    """
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    tensors: dict[str, Tensor] = {}
    metrics: dict[str, Any] = {"eval_steps": list(range(0, cfg.steps + 1, 100))}
    for kind in ("table", "power"):
        law = make_law(kind, cfg.N, cfg.law_seed, cfg.supports)
        metrics[kind] = {"entropy": mem.conditional_entropy(law), "T0": law.n_contexts}
        for loss in ("full_divergence", "next_token"):
            models = aot_models(_arch(cfg), seeds)
            r = _train(
                cfg,
                models,
                law,
                loss,
                eval_every=100,
                progress=progress,
                desc=f"{kind} {loss}",
                device=device,
            )
            tensors[f"{kind}.{loss}_batch_loss"] = r.history["loss"][
                :, ::10
            ].contiguous()
            tensors[f"{kind}.{loss}_kl"] = torch.stack(r.evals["kl"], -1)
            tensors[f"{kind}.{loss}_acc"] = torch.stack(r.evals["accuracy"], -1)
        torch.manual_seed(cfg.seed)
        low = [LowRank(cfg.N, cfg.d_model) for _ in seeds]
        r = _train(
            cfg,
            low,
            law,
            "full_divergence",
            eval_every=100,
            progress=progress,
            desc=f"{kind} encoder",
            device=device,
        )
        tensors[f"{kind}.low_rank_kl"] = torch.stack(r.evals["kl"], -1)
        tensors[f"{kind}.low_rank_acc"] = torch.stack(r.evals["accuracy"], -1)
    final = float(tensors["table.next_token_acc"][:, -1].mean())
    return Trained(
        tensors, metrics, key_metric=("next-token accuracy on the table", final)
    )


# --- freezing -------------------------------------------------------------------------------

FREEZE_SETS = {  # name -> groups frozen
    "all trained": (),
    "only W_O": ("embed", "pos", "qkv", "unembed"),
    "all but W_O": ("out",),
    "only W_Q W_K W_V": ("embed", "pos", "out", "unembed"),
    "only W_E W_pos W_U": ("qkv", "out"),
}
FREEZING = CellConfig(
    N=10,
    supports=(10, 10),
    d_model=5,
    d_head=5,
    n_heads=20,
    steps=1000,
    batch=256,
    law_seed=666,
)


def fit_freezing(cfg: CellConfig, device, progress) -> Trained:
    law = make_law("table", cfg.N, cfg.law_seed, cfg.supports)
    kl, acc = (
        torch.zeros(len(FREEZE_SETS), cfg.seeds),
        torch.zeros(len(FREEZE_SETS), cfg.seeds),
    )
    for i, groups in enumerate(FREEZE_SETS.values()):
        models = aot_models(_arch(cfg), range(cfg.seed, cfg.seed + cfg.seeds))
        trainable = freeze(models[0], *groups)
        r = _train(
            cfg,
            models,
            law,
            trainable=trainable,
            progress=progress,
            desc=f"freeze {i}",
            device=device,
        )
        kl[i], acc[i] = _final(models, law, r)
    return Trained(
        {"kl": kl, "accuracy": acc},
        {"sets": list(FREEZE_SETS), "T0": law.n_contexts},
        key_metric=("accuracy, only W_O", float(acc[1].mean())),
    )


# --- skips ----------------------------------------------------------------------------------

SKIP_SETS = {
    "full model": {},
    "no residual": {"skip_residual": True},
    "no position in QK": {"skip_pos_qk": True},
    "no token in QK": {"skip_emb_qk": True},
    "no position in OV": {"skip_pos_ov": True},
    "no token in OV": {"skip_emb_ov": True},
}
SKIPS = CellConfig(n_heads=10, steps=1000, batch=256, law_seed=666)


def fit_skips(cfg: CellConfig, device, progress) -> Trained:
    """All switch settings train in one batch: the switches are gate buffers of one architecture."""
    law = make_law("table", cfg.N, cfg.law_seed, cfg.supports)
    models = [
        m
        for i, flags in enumerate(SKIP_SETS.values())
        for m in aot_models(
            _arch(cfg, **flags),
            range(100 * i + cfg.seed, 100 * i + cfg.seed + cfg.seeds),
        )
    ]
    r = _train(cfg, models, law, progress=progress, desc="skips", device=device)
    kl, acc = _final(models, law, r)
    shape = (len(SKIP_SETS), cfg.seeds)
    return Trained(
        {"kl": kl.reshape(shape), "accuracy": acc.reshape(shape)},
        {"sets": list(SKIP_SETS), "T0": law.n_contexts, "seconds": round(r.seconds, 2)},
        key_metric=("accuracy, full model", float(acc.reshape(shape)[0].mean())),
    )


# --- models to inspect ----------------------------------------------------------------------

MAPS = CellConfig(
    N=100,
    supports=(10, 10),
    d_model=10,
    d_head=10,
    n_heads=3,
    seeds=1,
    steps=1000,
    law_seed=666,
)
HEADS2 = CellConfig(
    N=10,
    supports=(10, 5),
    d_model=5,
    d_head=5,
    n_heads=2,
    seeds=1,
    steps=1000,
    law_seed=2222,
)
SUPER = CellConfig(
    N=10,
    supports=(10, 10),
    d_model=5,
    d_head=5,
    n_heads=5,
    seeds=1,
    steps=1000,
    law_seed=2108,
)


@dataclass(frozen=True)
class InspectConfig:
    """``memo-inspect``: the three small models the chapter opens, and the noisy law's ``p``."""

    maps: CellConfig = MAPS
    heads: CellConfig = HEADS2
    superposition: CellConfig = SUPER
    p: float = 0.95  # probability of the correct token in the noisy law
    seed: int = 0


def fit_inspect(cfg: InspectConfig, device, progress) -> Trained:
    """The small models the chapter opens: attention maps, per-head logits, superposition."""
    tensors, metrics = {}, {}
    for key, c in (("maps", cfg.maps), ("heads", cfg.heads)):
        law = make_law("table", c.N, c.law_seed, c.supports)
        models = aot_models(_arch(c, skip_residual=True), [c.seed])
        r = _train(c, models, law, progress=progress, desc=key, device=device)
        tensors.update({f"{key}.{n}": v[0] for n, v in r.params.items()})
        kl, acc = _final(models, law, r)
        metrics[key] = {
            "kl": float(kl[0]),
            "accuracy": float(acc[0]),
            "T0": law.n_contexts,
        }
    c = cfg.superposition
    law = make_law("noisy", c.N, c.law_seed, p=cfg.p)
    for key, model in (
        ("low_rank", LowRank(c.N, c.d_model)),
        ("super", AttentionOnly(_arch(c))),
    ):
        r = _train(
            c,
            [model],
            law,
            loss="full_divergence",
            progress=progress,
            desc=key,
            device=device,
        )
        tensors.update({f"{key}.{n}": v[0] for n, v in r.params.items()})
        kl, acc = _final([model], law, r)
        metrics[key] = {
            "kl": float(kl[0]),
            "accuracy": float(acc[0]),
            "entropy": mem.conditional_entropy(law),
        }
    return Trained(
        tensors,
        metrics,
        key_metric=("superposition low-rank KL", metrics["low_rank"]["kl"]),
    )


# --- subspaces ------------------------------------------------------------------------------


def _centred_basis(M: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis [N k] of the span of M's columns with the all-ones direction removed."""
    M = M - M.mean(0, keepdim=True)
    Q, _ = torch.linalg.qr(M.double())
    return Q


def subspace_distance(A: torch.Tensor, B: torch.Tensor) -> float:
    """``‖P_A - P_B‖_F`` for the spans of the columns of ``A, B [N k]`` after centring.

    Centred because the softmax ignores the direction 1.
    """
    QA, QB = _centred_basis(A), _centred_basis(B)
    return float(torch.linalg.matrix_norm(QA @ QA.T - QB @ QB.T))


def law_subspace(law: mem.TrigramLaw, d: int) -> torch.Tensor:
    """The top-``d`` right singular vectors [N d] of the row-centred log-probability matrix."""
    L = law.pi2.flatten(0, 1).log()
    L = L - L.mean(-1, keepdim=True)
    return torch.linalg.svd(L, full_matrices=False).Vh[:d].T


def random_subspace_distance(
    N: int, d: int, ref: torch.Tensor, draws: int, generator
) -> torch.Tensor:
    return torch.tensor(
        [
            subspace_distance(
                torch.randn(N, d, generator=generator, dtype=torch.float64), ref
            )
            for _ in range(draws)
        ]
    )


@dataclass(frozen=True)
class SubspaceConfig:
    """``memo-subspace``: low-rank models fitted to laws of each rank in ``ranks``.

    ``reps`` of them per rank.
    """

    N: int = 10
    d_model: int = 5
    ranks: tuple[int, ...] = (5, 6, 7, 8, 9, 10)
    reps: int = 3
    steps: int = 1000
    lr: float = 1e-2
    scale: float = 2.0
    seed: int = 0


def fit_subspace(cfg: SubspaceConfig, device, progress) -> Trained:
    """Low-rank models fitted by exact full-batch KL to rank-r laws.

    Measures the distance of ``W_U`` to the law's subspace.
    """
    g = torch.Generator().manual_seed(cfg.seed)
    laws, keys = [], []
    for aligned in (True, False):
        for r in cfg.ranks:
            for rep in range(cfg.reps):
                laws.append(
                    mem.rank_d_law(cfg.N, r, g, axis_aligned=aligned, scale=cfg.scale)[
                        0
                    ]
                )
                keys.append((aligned, r, rep))
    tokens, weight, _ = mem.contexts(laws[0])
    target = torch.stack([mem.contexts(l)[2] for l in laws]).float()
    torch.manual_seed(cfg.seed)
    models = [LowRank(cfg.N, cfg.d_model) for _ in laws]
    batch = {"tokens": tokens.expand(len(laws), -1, -1), "target": target}

    def loss_fn(model_fn, b):
        return exact_divergence(
            model_fn(b["tokens"]), weight.to(b["target"]), b["target"]
        ).float()

    r = train_models(
        models,
        loss_fn,
        lambda step: batch,
        cfg.steps,
        adam(cfg.lr),
        data_in_dims=0,
        schedule=linear_decay(cfg.steps, 1.0, 0.05),
        progress=progress,
        desc="subspace",
        device=device,
    )
    shape = (2, len(cfg.ranks), cfg.reps)
    dist = torch.tensor(
        [
            subspace_distance(r.params["W_U"][k].T, law_subspace(l, cfg.d_model))
            for k, l in enumerate(laws)
        ]
    ).reshape(shape)
    rand = torch.stack(
        [
            random_subspace_distance(
                cfg.N, cfg.d_model, law_subspace(laws[k], cfg.d_model), 30, g
            ).mean()
            for k in range(0, len(laws), cfg.reps)
        ]
    ).reshape(shape[:2])
    kl = r.history["loss"][:, -1].reshape(shape)
    return Trained(
        {"distance": dist, "random": rand, "kl": kl, "ranks": torch.tensor(cfg.ranks)},
        {"seconds": round(r.seconds, 2)},
        key_metric=("distance at rank d", float(dist[:, 0].mean())),
    )
