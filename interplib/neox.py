"""Small GPT-NeoX (Pythia-family) models: a config builder and one training loop.

The book cannot download Pythia, so the LayerNorm chapter trains a model of the same
family from a :class:`NeoXConfig`: pre-LayerNorm blocks, partial rotary embeddings
(NeoX rotate-half on the first ``rotary_pct`` of each head), attention and MLP run in
**parallel** on the same residual (``x + attn(ln1 x) + mlp(ln2 x)``), exact GELU and an
untied unembedding without bias -- the shape of ``EleutherAI/pythia-70m-deduped``
(d_model 512, 6 layers, 8 heads, rotary 16 of 64 head dims) at any size.

The model is a plain Hugging Face ``GPTNeoXForCausalLM``, so the very code that analyses
it also runs on the real Pythia (``interplib.bridge`` boots both through
``TransformerBridge.boot_transformers``). This module imports no TransformerLens: a
training run needs only torch and transformers (the lent GPU machine has no TL).

:func:`train` fits a model on packed token sequences ``[n_seq, seq_len]`` with AdamW,
linear warmup then cosine decay, gradient clipping, and a validation loss at intervals.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from jaxtyping import Int
from torch import Tensor, nn
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

Progress = Callable[..., Any]  # tqdm-like: progress(iterable, total=..., desc=...)


@dataclass(frozen=True)
class NeoXConfig:
    """The architecture of a small GPT-NeoX; defaults are a Pythia-70m shape scaled down."""

    d_vocab: int = 512
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 512               # 4 * d_model, as Pythia
    n_ctx: int = 64
    rotary_pct: float = 0.25       # Pythia rotates 16 of 64 head dims
    rotary_base: float = 10000.0
    parallel: bool = True          # Pythia's use_parallel_residual; False gives sequential blocks
    ln_eps: float = 1e-5
    act: str = "gelu"              # exact GELU, as Pythia
    init_range: float = 0.02
    seed: int = 0

    def __post_init__(self):
        if min(self.d_vocab, self.d_model, self.n_layers, self.n_heads, self.d_mlp, self.n_ctx) < 1:
            raise ValueError(f"{self}: every size must be a positive integer")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}; "
                             f"pick n_heads among the divisors of d_model")
        rot = self.d_head * self.rotary_pct
        if not 0 < self.rotary_pct <= 1 or rot != int(rot) or int(rot) % 2:
            raise ValueError(f"rotary_pct={self.rotary_pct} rotates {rot} of d_head={self.d_head} dims; "
                             f"choose it so that d_head * rotary_pct is a positive even integer (Pythia: 0.25 of 64)")
        if self.ln_eps <= 0:
            raise ValueError(f"ln_eps={self.ln_eps}: LayerNorm's epsilon must be positive (Pythia: 1e-5)")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def rotary_dim(self) -> int:
        return int(self.d_head * self.rotary_pct)


def hf_config(cfg: NeoXConfig, bos_token_id: int = 0, eos_token_id: int = 0) -> GPTNeoXConfig:
    """The Hugging Face config of ``cfg`` (attention biases on, untied unembedding, no dropout)."""
    return GPTNeoXConfig(
        vocab_size=cfg.d_vocab,
        hidden_size=cfg.d_model,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        intermediate_size=cfg.d_mlp,
        hidden_act=cfg.act,
        rotary_pct=cfg.rotary_pct,
        rotary_emb_base=cfg.rotary_base,
        max_position_embeddings=cfg.n_ctx,
        initializer_range=cfg.init_range,
        layer_norm_eps=cfg.ln_eps,
        use_parallel_residual=cfg.parallel,
        tie_word_embeddings=False,
        attention_dropout=0.0,
        hidden_dropout=0.0,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
    )


def build_model(cfg: NeoXConfig, **hf_kwargs) -> GPTNeoXForCausalLM:
    """A freshly initialised ``GPTNeoXForCausalLM`` for ``cfg``, seeded by ``cfg.seed``, in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = GPTNeoXForCausalLM(hf_config(cfg, **hf_kwargs))
    return model.eval()


def drop_layernorm_bias(model: GPTNeoXForCausalLM) -> GPTNeoXForCausalLM:
    """Replace every LayerNorm by one without bias (β = 0 structurally, ``ln.bias is None``).

    GPT-NeoX always has LayerNorm biases; this variant exists so analyses are tested on
    ``nn.LayerNorm(bias=False)`` too. Hugging Face cannot save and reload it faithfully.
    """
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.LayerNorm) and child.bias is not None:
                new = nn.LayerNorm(child.normalized_shape, eps=child.eps, bias=False)
                new.weight.data.copy_(child.weight.data)
                setattr(module, name, new.to(child.weight.device, child.weight.dtype))
    return model


@torch.no_grad()
def jitter_affine(model: nn.Module, seed: int = 0, gain: float = 0.3, bias: float = 0.1) -> nn.Module:
    """Give LayerNorm weights/biases and every linear bias random values, in place.

    A fresh model has γ = 1, β = 0 and zero biases, so an identity that forgets γ, β or
    a bias still passes on it; tests and toy examples use this to leave that trivial point.
    γ ~ 1 + gain·N(0,1), β and biases ~ bias·N(0,1).
    """
    g = torch.Generator().manual_seed(seed)
    for module in model.modules():
        is_norm = isinstance(module, nn.LayerNorm)
        for pname, p in module.named_parameters(recurse=False):
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.device, p.dtype)
            if is_norm and pname == "weight":
                p.copy_(1 + gain * noise)
            elif pname == "bias":
                p.copy_(bias * noise)
    return model


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of :func:`train` (AdamW, warmup then cosine decay)."""

    steps: int = 1000
    batch: int = 64
    lr: float = 1e-3
    min_lr_frac: float = 0.1       # cosine decays to lr * min_lr_frac
    warmup: int = 100
    weight_decay: float = 0.1      # on matrices only; norms, biases and embeddings are not decayed
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batch: int = 256
    amp: bool = True               # bfloat16 autocast on CUDA; ignored on CPU
    seed: int = 0

    def __post_init__(self):
        if self.steps < 1 or self.batch < 1:
            raise ValueError(f"steps={self.steps}, batch={self.batch}: both must be at least 1")
        if not 0 <= self.warmup < self.steps:
            raise ValueError(f"warmup={self.warmup} must be in [0, steps={self.steps})")
        if self.lr <= 0 or not 0 <= self.min_lr_frac <= 1:
            raise ValueError(f"lr={self.lr}, min_lr_frac={self.min_lr_frac}: need lr > 0 and min_lr_frac in [0, 1]")
        if self.eval_every < 1:
            raise ValueError(f"eval_every={self.eval_every}: use a positive number of steps")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate before optimiser step ``step`` (0-based): linear warmup, then cosine to ``min_lr_frac``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - 1 - cfg.warmup)
    floor = cfg.lr * cfg.min_lr_frac
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            matrix = p.ndim >= 2 and not isinstance(module, (nn.Embedding, nn.LayerNorm))
            (decay if matrix else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _check_tokens(tokens: Tensor, name: str, d_vocab: int, n_ctx: int) -> None:
    if tokens.ndim != 2 or tokens.dtype != torch.long:
        raise ValueError(f"{name} has shape {tuple(tokens.shape)} and dtype {tokens.dtype}; pass a LongTensor "
                         f"of packed sequences [n_seq, seq_len] (e.g. tokens.long().view(-1, seq_len))")
    if tokens.shape[0] < 1 or tokens.shape[1] < 2:
        raise ValueError(f"{name} has shape {tuple(tokens.shape)}: need at least one sequence of length >= 2")
    if tokens.shape[1] > n_ctx:
        raise ValueError(f"{name} sequences have length {tokens.shape[1]} > n_ctx={n_ctx}; "
                         f"cut them to n_ctx or raise max_position_embeddings")
    lo, hi = int(tokens.min()), int(tokens.max())
    if lo < 0 or hi >= d_vocab:
        raise ValueError(f"{name} holds token ids in [{lo}, {hi}] but the vocabulary has {d_vocab}; "
                         f"the tokenizer and the model config disagree")


def next_token_loss(model: GPTNeoXForCausalLM, tokens: Int[Tensor, "batch pos"]) -> Tensor:
    """Mean cross-entropy of predicting ``tokens[:, 1:]`` from the prefixes."""
    logits = model(input_ids=tokens).logits[:, :-1]
    return nn.functional.cross_entropy(logits.flatten(0, 1).float(), tokens[:, 1:].flatten())


@torch.no_grad()
def evaluate(model: GPTNeoXForCausalLM, tokens: Int[Tensor, "n_seq pos"], batch: int = 256,
             amp: bool = False) -> float:
    """Mean next-token cross-entropy over all of ``tokens`` (nats per token), in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, tokens.shape[0], batch):
        chunk = tokens[start:start + batch].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            loss = next_token_loss(model, chunk)
        n = chunk.shape[0] * (chunk.shape[1] - 1)
        total, count = total + float(loss) * n, count + n
    model.train(was_training)
    return total / count


def train(
    model: GPTNeoXForCausalLM,
    train_tokens: Int[Tensor, "n_seq seq_len"],
    val_tokens: Int[Tensor, "n_val seq_len"],
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place on random batches of packed sequences; return its metrics.

    Each step draws ``cfg.batch`` rows of ``train_tokens`` (with replacement, from a
    generator seeded by ``cfg.seed``) and takes one AdamW step on the next-token loss.
    The validation loss is measured every ``cfg.eval_every`` steps and at the end.

    Returns:
        ``{"train_loss": [[step, loss], ...], "val_loss": [[step, loss], ...],
        "final_train_loss", "final_val_loss", "steps", "tokens_seen", "wall_time_s",
        "device", "n_params"}``: plain JSON data for an artifact's sidecar. The model is
        left on ``device`` in eval mode.

    Raises:
        ValueError: tokens of the wrong shape or dtype, ids outside the vocabulary,
            sequences longer than the model's context.
    """
    device = torch.device(device)
    hf = model.config
    for name, t in (("train_tokens", train_tokens), ("val_tokens", val_tokens)):
        _check_tokens(t, name, hf.vocab_size, hf.max_position_embeddings)
    amp = cfg.amp and device.type == "cuda"
    model.to(device).train()
    train_tokens = train_tokens.to(device)
    opt = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas,
                            fused=device.type == "cuda")
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    steps = range(cfg.steps)
    bar = progress(steps, total=cfg.steps, desc="train") if progress else steps
    train_curve, val_curve, running = [], [], None
    start = time.perf_counter()
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        rows = torch.randint(train_tokens.shape[0], (cfg.batch,), generator=g, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = next_token_loss(model, train_tokens[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if step % 10 == 0 or step == cfg.steps - 1:  # syncing every step would stall a GPU
            value = float(loss.detach())
            running = value if running is None else 0.9 * running + 0.1 * value
            train_curve.append([step, round(value, 5)])
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{running:.3f}")
        if (step + 1) % cfg.eval_every == 0 or step == cfg.steps - 1:
            val_curve.append([step + 1, round(evaluate(model, val_tokens, cfg.eval_batch, amp), 5)])
            model.train()
    wall = time.perf_counter() - start
    model.eval()
    return {
        "train_loss": train_curve,
        "val_loss": val_curve,
        "final_train_loss": train_curve[-1][1],
        "final_val_loss": val_curve[-1][1],
        "steps": cfg.steps,
        "tokens_seen": cfg.steps * cfg.batch * train_tokens.shape[1],
        "wall_time_s": round(wall, 3),
        "device": str(device),
        "n_params": sum(p.numel() for p in model.parameters()),
    }
