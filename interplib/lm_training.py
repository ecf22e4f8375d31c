"""Train a language model on packed token sequences: AdamW, linear warmup, cosine decay.

The data are two LongTensors of packed sequences, ``[n_seq, seq_len]`` (training and
validation); each step draws ``batch_size`` training sequences without replacement
(reshuffled every epoch, from the config's seed) and minimises the mean next-token loss.
On CUDA the forward pass runs under bfloat16 autocast; on CPU in float32.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from jaxtyping import Int
from torch import Tensor, nn

from .models import next_token_loss

Progress = Callable[..., Any]


@dataclass(frozen=True)
class LMTrainConfig:
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3             # the original family's learning rate
    min_lr_ratio: float = 0.1    # cosine decays to lr·min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.01   # the original's; applied to matrices only, not to norm gains
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0       # max global grad norm; 0 disables
    eval_every: int = 250
    eval_sequences: int = 256    # validation sequences per periodic evaluation (the final one uses all)
    seed: int = 0

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1 or self.eval_sequences < 1:
            raise ValueError(f"steps={self.steps}, batch_size={self.batch_size}, eval_every={self.eval_every}, "
                             f"eval_sequences={self.eval_sequences}: use positive integers")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps}: use 0 … steps={self.steps}")
        if self.lr <= 0 or not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"lr={self.lr}, min_lr_ratio={self.min_lr_ratio}: need lr > 0 and 0 ≤ min_lr_ratio ≤ 1")
        if self.weight_decay < 0 or self.grad_clip < 0 or not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError("weight_decay and grad_clip must be ≥ 0, betas in [0, 1)")


def learning_rate(step: int, cfg: LMTrainConfig) -> float:
    """Linear warmup from lr/warmup to lr over ``warmup_steps``, then cosine down to lr·min_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(cfg.steps - cfg.warmup_steps - 1, 1)
    progress = min((step - cfg.warmup_steps) / span, 1.0)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def check_tokens(tokens: Tensor, name: str, d_vocab: int, n_ctx: int) -> None:
    if not isinstance(tokens, Tensor) or tokens.dtype != torch.long or tokens.ndim != 2:
        got = f"{tokens.dtype} tensor of shape {tuple(tokens.shape)}" if isinstance(tokens, Tensor) else type(tokens)
        raise ValueError(f"{name} must be a LongTensor [n_seq, seq_len] of packed sequences, got {got}")
    if tokens.shape[0] < 1 or tokens.shape[1] < 2:
        raise ValueError(f"{name} has shape {tuple(tokens.shape)}: need at least one sequence of ≥ 2 tokens")
    if tokens.shape[1] > n_ctx:
        raise ValueError(f"{name} has sequences of {tokens.shape[1]} tokens but the model's n_ctx={n_ctx}: "
                         f"repack the corpus with seq_len ≤ n_ctx")
    low, high = int(tokens.min()), int(tokens.max())
    if low < 0 or high >= d_vocab:
        raise ValueError(f"{name} holds token ids {low} … {high} but the model's d_vocab={d_vocab}: "
                         f"build the model with the tokenizer's vocabulary size")


@torch.no_grad()
def evaluate(model: nn.Module, tokens: Int[Tensor, "n_seq seq_len"], batch_size: int = 32,
             device: torch.device | str | None = None) -> float:
    """Mean next-token loss over all sequences (every prediction weighted equally)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, tokens.shape[0], batch_size):
        batch = tokens[start:start + batch_size].to(device)
        with _autocast(torch.device(device)):
            logits = model(batch)
        n = batch.shape[0] * (batch.shape[1] - 1)
        total += float(next_token_loss(logits, batch)) * n
        count += n
    model.train(was_training)
    return total / count


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _optimizer(model: nn.Module, cfg: LMTrainConfig) -> torch.optim.AdamW:
    matrices = [p for p in model.parameters() if p.ndim >= 2]
    vectors = [p for p in model.parameters() if p.ndim < 2]      # norm gains: no decay
    return torch.optim.AdamW(
        [{"params": matrices, "weight_decay": cfg.weight_decay}, {"params": vectors, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(cfg.beta1, cfg.beta2),
    )


def train_lm(
    model: nn.Module,
    train_tokens: Int[Tensor, "n_seq seq_len"],
    val_tokens: Int[Tensor, "n_val seq_len"],
    cfg: LMTrainConfig,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place; returns metrics with the loss history.

    Args:
        model: takes ``tokens [batch pos]`` and returns logits ``[batch pos d_vocab]``; needs
            ``model.cfg.d_vocab`` and ``model.cfg.n_ctx``.
        progress: tqdm-like ``progress(iterable, total=..., desc=...)`` (e.g. a recipe's).

    Returns:
        ``val_loss`` (all validation sequences, at the end), ``train_loss`` (mean of the last
        50 steps), ``history`` (``step``, ``train_loss``, ``val_loss``, ``lr`` at each evaluation),
        ``tokens_seen``, ``seconds``, ``seconds_per_step`` and the config.
    """
    device = torch.device(device)
    d_vocab, n_ctx = model.cfg.d_vocab, model.cfg.n_ctx
    check_tokens(train_tokens, "train_tokens", d_vocab, n_ctx)
    check_tokens(val_tokens, "val_tokens", d_vocab, n_ctx)
    model.to(device).train()
    opt = _optimizer(model, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    order, cursor = torch.randperm(train_tokens.shape[0], generator=gen), 0
    history: dict[str, list[float]] = {"step": [], "train_loss": [], "val_loss": [], "lr": []}
    recent: list[float] = []
    steps = range(cfg.steps)
    bar = progress(steps, total=cfg.steps, desc="training") if progress is not None else steps
    start = time.perf_counter()
    for step in bar:
        if cursor + cfg.batch_size > order.numel():   # a new epoch: reshuffle
            order, cursor = torch.randperm(train_tokens.shape[0], generator=gen), 0
        batch = train_tokens[order[cursor:cursor + cfg.batch_size]].to(device, non_blocking=True)
        cursor += cfg.batch_size
        lr = learning_rate(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        with _autocast(device):
            loss = next_token_loss(model(batch), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        recent = (recent + [loss.detach().item()])[-50:]
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            val = evaluate(model, val_tokens[:cfg.eval_sequences], cfg.batch_size, device)
            for key, value in (("step", step + 1), ("train_loss", sum(recent) / len(recent)), ("val_loss", val), ("lr", lr)):
                history[key].append(float(value))
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(train=f"{history['train_loss'][-1]:.3f}", val=f"{val:.3f}")
    seconds = time.perf_counter() - start
    model.eval()
    return {
        "val_loss": evaluate(model, val_tokens, cfg.batch_size, device),
        "train_loss": sum(recent) / len(recent),
        "history": history,
        "tokens_seen": cfg.steps * cfg.batch_size * train_tokens.shape[1],
        "seconds": seconds,
        "seconds_per_step": seconds / cfg.steps,
        "config": asdict(cfg),
    }
