"""One training loop for every language model of the book: AdamW, warm-up + cosine, evaluations.

:func:`train_lm` trains any model that maps ``tokens [batch pos]`` to logits ``[batch pos
d_vocab]`` (or to a Hugging Face output with ``.logits``): the bilinear transformer
(``models``), the small GPT-NeoX (``neox``) and the attention-only twin or bridge
(``attention_models``). The model's own config holds only its architecture; how it is
trained is a :class:`LMTrainConfig`.

* Data: two LongTensors of packed sequences ``[n_seq, seq_len]`` (training, validation).
  Each step draws ``batch_size`` training sequences without replacement, reshuffled every
  epoch by a generator seeded from ``cfg.seed`` (the global RNG is never used).
* Optimiser: AdamW; matrices decay, vectors (norm gains, biases) never do, embeddings only
  with ``decay_embeddings`` (:func:`param_groups`); linear warm-up then cosine decay
  (:func:`learning_rate`); gradient clipping.
* Evaluations at step 0, every ``eval_every`` steps and at the end, on the first
  ``eval_sequences`` validation sequences: the loss and the loss per position, plus what an
  ``on_evaluate`` callback returns (the attention-only chapter's probes plug in there).
* On CUDA the forward passes run under bfloat16 autocast (``amp``) and AdamW is fused. The
  CUDA path is **untested here** (the test machine has no GPU); on CPU all runs in float32.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import einops
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.core.checks import check_token_ids

Progress = Callable[..., Any]  # tqdm-like: progress(iterable, total=..., desc=...)
OnEvaluate = Callable[[nn.Module, dict[str, Any]], dict[str, Any]]
EMBEDDING_NAMES = (
    "W_E",
    "W_pos",
)  # TransformerLens-style embeddings held outside nn.Embedding


@dataclass(frozen=True)
class LMTrainConfig:
    """How :func:`train_lm` trains; the model's config holds the architecture and its init seed."""

    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3  # the bilinear family's learning rate
    min_lr_ratio: float = 0.1  # cosine decays to lr·min_lr_ratio at the last step
    warmup_steps: int = 100  # linear warm-up from lr/warmup_steps to lr
    weight_decay: float = 0.01  # on matrices only: never on norm gains or biases
    decay_embeddings: bool = False  # also decay token/position embeddings (GPT-2 style)
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # max global grad norm; 0 disables
    eval_every: int = 250
    eval_sequences: int = (
        256  # validation sequences per evaluation (the final val_loss uses all)
    )
    amp: bool = True  # bfloat16 autocast on CUDA (untested here); ignored on CPU
    seed: int = 0  # the batch order; the weights' seed is the model config's

    def __post_init__(self):
        object.__setattr__(
            self, "betas", tuple(self.betas)
        )  # a list from JSON would make the config unhashable
        if min(self.steps, self.batch_size, self.eval_every, self.eval_sequences) < 1:
            raise ValueError(
                f"steps={self.steps}, batch_size={self.batch_size}, eval_every={self.eval_every}, "
                f"eval_sequences={self.eval_sequences}: use positive integers"
            )
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps}: use 0 … steps - 1 = {self.steps - 1}, "
                f"so that the cosine phase exists"
            )
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(
                f"lr={self.lr}, min_lr_ratio={self.min_lr_ratio}: need lr > 0 and "
                "0 ≤ min_lr_ratio ≤ 1"
            )
        if (
            self.weight_decay < 0
            or self.grad_clip < 0
            or len(self.betas) != 2
            or not all(0 <= b < 1 for b in self.betas)
        ):
            raise ValueError(
                f"weight_decay={self.weight_decay}, grad_clip={self.grad_clip}, "
                f"betas={self.betas}: "
                f"need weight_decay ≥ 0, grad_clip ≥ 0 and two betas in [0, 1)"
            )


@dataclass(frozen=True)
class LMRun:
    """One model of a study, as a recipe config: its architecture (a frozen config with the
    init seed, e.g. ``BilinearConfig`` or ``NeoXConfig``) and how :func:`train_lm` trains it."""

    model: Any
    train: LMTrainConfig
    seed: int = 0  # the global seed of the run (the weights' seed is ``model.seed``)


def smoke_run(run: Any) -> Any:
    """A run config (an :class:`LMRun` or any frozen config with a ``train`` field) trained for
    4 steps of 4 sequences, evaluated on 8: the recipes' ``smoke`` for the language models."""
    return dataclasses.replace(
        run,
        train=dataclasses.replace(
            run.train,
            steps=4,
            batch_size=4,
            warmup_steps=1,
            eval_every=2,
            eval_sequences=8,
        ),
    )


def learning_rate(step: int, cfg: LMTrainConfig) -> float:
    """The rate of optimiser step ``step`` (0-based): linear warm-up from lr/warmup_steps to lr,
    then cosine down to lr·min_lr_ratio at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(
        (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps - 1, 1), 1.0
    )
    return cfg.lr * (
        cfg.min_lr_ratio
        + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    )


def param_groups(
    model: nn.Module, weight_decay: float, decay_embeddings: bool = False
) -> list[dict]:
    """AdamW groups: matrices decay; 1-D parameters (norm gains, biases) never do; embeddings
    (``nn.Embedding`` weights, ``W_E``, ``W_pos``) only if ``decay_embeddings``."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:  # a tied weight is one parameter
                continue
            seen.add(id(p))
            embedding = isinstance(module, nn.Embedding) or name in EMBEDDING_NAMES
            (
                decay
                if p.ndim >= 2 and (decay_embeddings or not embedding)
                else no_decay
            ).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def vocab_and_context(model: nn.Module) -> tuple[int, int]:
    """``(d_vocab, n_ctx)`` of a model.

    Read from ``model.cfg`` (ours, TransformerLens) or ``model.config`` (Hugging Face).
    """
    cfg: Any = getattr(
        model, "cfg", None
    )  # duck-typed: the hasattr checks below are the test
    if hasattr(cfg, "d_vocab") and hasattr(cfg, "n_ctx"):
        return cfg.d_vocab, cfg.n_ctx
    hf: Any = getattr(model, "config", None)
    if hasattr(hf, "vocab_size") and hasattr(hf, "max_position_embeddings"):
        return hf.vocab_size, hf.max_position_embeddings
    raise TypeError(
        f"{type(model).__name__} has neither .cfg.d_vocab/.cfg.n_ctx nor a Hugging Face .config: "
        f"train one of interplib's models or a transformers causal LM"
    )


def next_token_loss(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Tensor:
    """Mean cross-entropy of predicting ``tokens[:, p+1]`` from position p (at least float32)."""
    logits = (
        logits if logits.dtype == torch.float64 else logits.float()
    )  # bf16 autocast → float32
    return F.cross_entropy(
        einops.rearrange(logits[:, :-1], "b p v -> (b p) v"),
        einops.rearrange(tokens[:, 1:], "b p -> (b p)"),
    )


def _logits(model: nn.Module, tokens: Tensor) -> Tensor:
    out = model(tokens)
    return (
        out.logits if hasattr(out, "logits") else out
    )  # a Hugging Face output or the logits


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"
    )


@torch.no_grad()
def per_position_loss(
    model: nn.Module,
    tokens: Int[Tensor, "batch pos"],
    batch_size: int = 64,
    amp: bool = False,
) -> Float[Tensor, "batch pos_minus_1"]:
    """``-log p(tokens[:, i+1] | tokens[:, :i+1])`` per sequence and position i, on CPU.

    The model runs in eval mode, ``batch_size`` sequences at a time on its device; float64
    for a float64 model, float32 otherwise (bfloat16 autocast on CUDA if ``amp``).
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    for chunk in tokens.split(batch_size):
        chunk = chunk.to(device)
        with _autocast(device, amp):
            logits = _logits(model, chunk)[:, :-1]
        logits = logits if logits.dtype == torch.float64 else logits.float()
        out.append(
            nn.functional.cross_entropy(
                logits.transpose(1, 2), chunk[:, 1:], reduction="none"
            ).cpu()
        )
    model.train(was_training)
    return torch.cat(out)


def evaluate(
    model: nn.Module,
    tokens: Int[Tensor, "n_seq seq_len"],
    batch_size: int = 64,
    amp: bool = False,
) -> float:
    """Mean next-token loss over all sequences, in nats per token.

    Every prediction is weighted equally.
    """
    return float(per_position_loss(model, tokens, batch_size, amp).mean())


@dataclass
class TrainResult:
    """What :func:`train_lm` measured.

    ``history[key][e]`` is a value at evaluation ``e``, taken after ``history["step"][e]``
    optimiser steps (0, eval_every, 2·eval_every, ..., steps) on the first ``eval_sequences``
    validation sequences: ``val_loss``, ``val_loss_by_pos`` (a ``[pos-1]`` tensor, the loss of
    predicting token i+1) and every key the ``on_evaluate`` callback returned (floats or tensors).
    """

    history: dict[str, list]
    train_loss: list[float]  # every optimiser step's batch loss
    val_loss: float  # after training, on every validation sequence
    tokens_seen: int
    seconds: float  # wall time of the loop, evaluations included
    device: str
    n_params: int

    @property
    def steps(self) -> int:
        return len(self.train_loss)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers for an artifact's sidecar: final losses (``train_loss`` is the mean of
        the last 50 steps), cost, the scalar curves and the last value of each scalar metric."""
        scalars = {
            k: [float(x) for x in v]
            for k, v in self.history.items()
            if not isinstance(v[0], Tensor)
        }
        tail = self.train_loss[-50:]
        out = {
            "val_loss": self.val_loss,
            "train_loss": sum(tail) / len(tail),
            "steps": self.steps,
            "tokens_seen": self.tokens_seen,
            "seconds": round(self.seconds, 3),
            "seconds_per_step": round(self.seconds / self.steps, 6),
            "device": self.device,
            "n_params": self.n_params,
        }
        out.update(
            {k: v[-1] for k, v in scalars.items() if k not in ("step", "val_loss")}
        )
        return {**out, "history": scalars}

    def tensors(self) -> dict[str, Tensor]:
        """Every curve as a tensor for ``artifacts.save``.

        ``train_loss [steps]``, then each history key ``[evaluations]`` (tensor metrics
        stacked: ``val_loss_by_pos [evaluations pos-1]``).
        """
        out = {"train_loss": torch.tensor(self.train_loss)}
        for key, values in self.history.items():
            out[key] = (
                torch.stack(values)
                if isinstance(values[0], Tensor)
                else torch.tensor(values)
            )
        return out


def _batch_indices(n_seq: int, cfg: LMTrainConfig):
    """Endless ``batch_size`` row indices: every row once per epoch.

    Each epoch is reshuffled from ``cfg.seed``.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    while True:
        order = torch.randperm(n_seq, generator=gen)
        for start in range(0, n_seq - cfg.batch_size + 1, cfg.batch_size):
            yield order[start : start + cfg.batch_size]


def _as_metric(key: str, value: Any) -> float | Tensor:
    if isinstance(value, Tensor):
        return value.detach().cpu() if value.ndim else float(value)
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(
        f"on_evaluate returned {key}={type(value).__name__}: return floats or tensors"
    )


def train_lm(
    model: nn.Module,
    train_tokens: Int[Tensor, "n_seq seq_len"],
    val_tokens: Int[Tensor, "n_val seq_len"],
    cfg: LMTrainConfig,
    device: torch.device | str | None = None,
    progress: Progress | None = None,
    on_evaluate: OnEvaluate | None = None,
    desc: str = "train",
    stop: int | None = None,
    also_evaluate: Collection[int] = (),
) -> TrainResult:
    """Train ``model`` in place on packed sequences; it ends on ``device`` in eval mode.

    Args:
        model: maps ``tokens [batch pos]`` to logits (or an output with ``.logits``); its
            ``cfg.d_vocab``/``cfg.n_ctx`` or HF ``config`` bound the token ids and lengths.
        device: where to train; None keeps the model's device.
        progress: tqdm-like ``progress(iterable, total=..., desc=...)`` (e.g. a recipe's).
        on_evaluate: ``on_evaluate(model, evaluation) -> {name: float | tensor}``, called at
            every evaluation with the model in eval mode and ``evaluation`` holding ``step``,
            ``val_loss`` and ``val_loss_by_pos``; its values are appended to ``history``.
        stop: take only the first ``stop`` steps of the run ``cfg`` describes (its learning
            rate schedule and batches unchanged), evaluating after the last; None takes all.
        also_evaluate: steps evaluated besides every ``cfg.eval_every``-th (an evaluation
            only reads the model, so the training is unchanged); steps past the last are
            ignored.

    Raises:
        ValueError: tokens of the wrong dtype or shape, ids outside the vocabulary, sequences
            longer than the context, fewer training sequences than ``batch_size``, a
            callback metric that reuses a name the loop records, or ``stop`` outside
            ``1..cfg.steps``.
    """
    device = (
        torch.device(device) if device is not None else next(model.parameters()).device
    )
    d_vocab, n_ctx = vocab_and_context(model)
    for name, tokens in (("train_tokens", train_tokens), ("val_tokens", val_tokens)):
        check_token_ids(tokens, d_vocab=d_vocab, n_ctx=n_ctx, min_len=2, name=name)
    if train_tokens.shape[0] < cfg.batch_size:
        raise ValueError(
            f"train_tokens has {train_tokens.shape[0]} sequences, fewer than batch_size="
            f"{cfg.batch_size}: pack more sequences or lower batch_size"
        )
    n_steps = cfg.steps if stop is None else stop
    if not 1 <= n_steps <= cfg.steps:
        raise ValueError(
            f"stop={stop}: a run of steps={cfg.steps} stops after 1..{cfg.steps} steps"
        )
    amp = cfg.amp and device.type == "cuda"
    model.to(device)
    opt = torch.optim.AdamW(
        param_groups(model, cfg.weight_decay, cfg.decay_embeddings),
        lr=cfg.lr,
        betas=cfg.betas,
        fused=device.type == "cuda",
    )
    batches = _batch_indices(train_tokens.shape[0], cfg)
    val = val_tokens[: cfg.eval_sequences]
    history: dict[str, list] = {}
    train_loss: list[float] = []
    pending: list[
        Tensor
    ] = []  # step losses, read at evaluations: no host sync per step

    def record(step: int, bar) -> None:
        train_loss.extend(
            torch.stack(pending).float().cpu().tolist() if pending else []
        )
        pending.clear()
        by_pos = per_position_loss(model, val, cfg.batch_size, amp).mean(0)
        evaluation = {
            "step": step,
            "val_loss": float(by_pos.mean()),
            "val_loss_by_pos": by_pos,
        }
        if on_evaluate is not None:
            model.eval()
            extra = on_evaluate(model, dict(evaluation))
            model.train()
            if set(extra) & set(evaluation):
                raise ValueError(
                    f"on_evaluate returned {sorted(set(extra) & set(evaluation))}, names the loop "
                    f"records itself: rename them"
                )
            evaluation.update({k: _as_metric(k, v) for k, v in extra.items()})
        for key, value in evaluation.items():
            history.setdefault(key, []).append(value)
        if hasattr(bar, "set_postfix") and train_loss:
            bar.set_postfix(
                train=f"{train_loss[-1]:.3f}", val=f"{evaluation['val_loss']:.3f}"
            )

    extra_steps = frozenset(also_evaluate)
    steps = range(n_steps)
    bar = progress(steps, total=n_steps, desc=desc) if progress is not None else steps
    start = time.perf_counter()
    model.train()
    for step in bar:
        if step % cfg.eval_every == 0 or step in extra_steps:
            record(step, bar)
        batch = train_tokens[next(batches)].to(device, non_blocking=True)
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg)
        with _autocast(device, amp):
            loss = next_token_loss(_logits(model, batch), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        pending.append(loss.detach())
    record(n_steps, bar)
    seconds = time.perf_counter() - start
    model.eval()
    full = (
        history["val_loss"][-1]
        if len(val_tokens) <= len(val)
        else evaluate(model, val_tokens, cfg.batch_size, amp)
    )
    return TrainResult(
        history=history,
        train_loss=train_loss,
        val_loss=full,
        tokens_seen=n_steps * cfg.batch_size * train_tokens.shape[1],
        seconds=seconds,
        device=str(device),
        n_params=sum(p.numel() for p in model.parameters()),
    )


CURVE = "curve."  # prefix of the training curves among an artifact's tensors


def artifact_payload(
    model: nn.Module,
    result: TrainResult,
    val_tokens: Int[Tensor, "n_val seq_len"],
    summary: dict[str, Any] | None = None,
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(tensors, metrics)`` for a trained model's artifact: float16 weights under their state-dict
    names, the curves under ``curve.<key>``, and ``result.summary()`` (or ``summary``) plus
    ``val_loss_float16``, the validation loss of the weights as stored."""
    weights = {
        k: v.detach().to("cpu", torch.float16).contiguous()
        for k, v in model.state_dict().items()
    }
    stored = copy.deepcopy(model).to("cpu").float()
    stored.load_state_dict({k: v.float() for k, v in weights.items()})
    metrics = dict(summary if summary is not None else result.summary())
    metrics["val_loss_float16"] = evaluate(stored, val_tokens)
    curves = {CURVE + k: v for k, v in result.tensors().items()}
    return {**weights, **curves}, metrics


def split_payload(
    tensors: dict[str, Tensor],
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """``(weights, curves)`` from an artifact made by :func:`artifact_payload`.

    The curve names come back unprefixed.
    """
    weights = {k: v for k, v in tensors.items() if not k.startswith(CURVE)}
    return weights, {
        k[len(CURVE) :]: v for k, v in tensors.items() if k.startswith(CURVE)
    }


__all__ = [
    "CURVE",
    "LMTrainConfig",
    "TrainResult",
    "artifact_payload",
    "evaluate",
    "learning_rate",
    "next_token_loss",
    "param_groups",
    "per_position_loss",
    "split_payload",
    "train_lm",
    "vocab_and_context",
    "LMRun",
    "smoke_run",
    "Progress",
    "OnEvaluate",
]
