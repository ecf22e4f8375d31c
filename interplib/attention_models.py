"""Attention-only transformers (no MLPs; the chapter uses 1 and 2 layers) and their training loop.

The chapter's models are the Framework paper's toy models: learned token and absolute
position embeddings, ``n_layers`` blocks of multi-head attention written into the residual
stream, an optional LayerNorm before each attention and before the unembedding, no MLPs.

Two implementations of one model, with identical state-dict keys:

* :func:`attention_only` builds it as a TransformerLens 4.3 ``TransformerBridge`` with
  ``TransformerBridge.boot_native``, so TL hooks, ``run_with_cache`` and ``FactoredMatrix``
  views (``model.W_Q``, ``model.OV``...) apply. All analysis (``interplib.circuits``) runs on it.
* :class:`AttnOnlyTransformer` is the same network in plain torch, for training: importable
  without transformer-lens (the lent GPU machine has none) and about 7 % less CPU time per
  step than the bridge. :func:`to_bridge` turns a trained one into the bridge.

**Gap of TL 4.3 filled here.** On ``boot_native`` models the bridge fires
``hook_attn_scores`` with the *attention pattern* (post-softmax), not the scores: its
``AttentionBridge`` treats the wrapped module's second output as "scores" after the fact.
:func:`attention_only` swaps each native attention for a ``ScoredAttention``, which fires
``hook_attn_scores`` with the real pre-softmax scores (scaled by ``1/sqrt(d_head)``, causal
entries masked to ``-inf``, as ``HookedTransformer`` did), before the softmax, so a hook on
it also edits the pattern. ``hook_pattern``, ``hook_q|k|v|z`` and ``hook_attn_out`` are TL's own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Optional

import einops
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

Normalization = Optional[Literal["LN", "LNPre"]]


@dataclass(frozen=True)
class AttnOnlyConfig:
    """An attention-only transformer and how it is trained.

    Model sizes follow the seed's "minigpt" (d_model 256, 8 heads of 32); training
    fields are used by :func:`train_attention_only` only.
    """

    n_layers: int = 2
    d_model: int = 256
    n_heads: int = 8
    n_ctx: int = 256
    d_vocab: int = 4096
    normalization: Normalization = None   # None keeps every path expansion exactly linear
    eps: float = 1e-5
    # training
    steps: int = 2000
    batch: int = 32
    lr: float = 1e-3
    warmup: int = 100                     # linear warm-up steps, then cosine decay to lr/10
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_sequences: int = 256             # validation sequences scored at each evaluation
    icl_early: int = 25                   # in-context score = loss(icl_late) - loss(icl_early),
    icl_late: int = 250                   # positions in a 10:1 ratio as Olsson et al.'s 500 vs 50
    repeat_period: int = 50               # length of the random segment of the repeat probe
    seed: int = 0

    def __post_init__(self):
        if self.n_layers < 1:
            raise ValueError(f"n_layers={self.n_layers}: an attention-only model needs at least one layer")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: "
                             f"pick n_heads dividing d_model (d_head = d_model / n_heads)")
        if self.normalization not in (None, "LN", "LNPre"):
            raise ValueError(f"normalization={self.normalization!r}: use None, 'LN' or 'LNPre'")
        if min(self.n_ctx, self.d_vocab, self.steps, self.batch, self.eval_every) < 1:
            raise ValueError("n_ctx, d_vocab, steps, batch and eval_every must all be positive")
        if not 0 <= self.icl_early < self.icl_late < self.n_ctx - 1:
            raise ValueError(f"icl_early={self.icl_early}, icl_late={self.icl_late}: need "
                             f"0 <= icl_early < icl_late < n_ctx - 1 = {self.n_ctx - 1}")
        if not 2 <= self.repeat_period <= (self.n_ctx - 1) // 2:
            raise ValueError(f"repeat_period={self.repeat_period}: need 2 <= repeat_period <= "
                             f"(n_ctx - 1) // 2 = {(self.n_ctx - 1) // 2} so [BOS, r, r] fits the context")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def name(self) -> str:   # "attn-only-2l-s0": the artifact stem
        norm = "" if self.normalization is None else f"-{self.normalization.lower()}"
        return f"attn-only-{self.n_layers}l{norm}-s{self.seed}"


def bridge_config(cfg: AttnOnlyConfig):
    """The ``TransformerBridgeConfig`` that ``boot_native`` builds ``cfg``'s model from."""
    from transformer_lens.config import TransformerBridgeConfig

    return TransformerBridgeConfig(
        d_model=cfg.d_model, n_heads=cfg.n_heads, d_head=cfg.d_head, n_layers=cfg.n_layers,
        n_ctx=cfg.n_ctx, d_vocab=cfg.d_vocab, attn_only=True, normalization_type=cfg.normalization,
        positional_embedding_type="standard", eps=cfg.eps, seed=cfg.seed)


def _scored_attention_class():
    from transformer_lens.model_bridge.sources.native.model import NativeAttention

    class ScoredAttention(NativeAttention):
        """``NativeAttention`` that fires its pre-softmax scores through ``hook_attn_scores``.

        Returns ``(out, None)``: with no pattern in second place the bridge does not
        overwrite ``hook_attn_scores`` with the pattern after the fact.
        """

        def forward(self, hidden_states, attention_mask=None, position_ids=None, pattern_fn=None, **kwargs):
            batch, seq, _ = hidden_states.shape
            split = "batch pos (head_index d_head) -> batch head_index pos d_head"
            q = einops.rearrange(self.q(hidden_states), split, head_index=self.n_heads)
            k = einops.rearrange(self.k(hidden_states), split, head_index=self.n_heads)
            v = einops.rearrange(self.v(hidden_states), split, head_index=self.n_heads)
            scores = q @ k.transpose(-2, -1) / self.scale
            mask = self.causal_mask[:seq, :seq]
            if attention_mask is not None:
                mask = self._combine_attention_mask(mask, attention_mask, batch=batch)
            scores = self.scores_hook(scores.masked_fill(mask, float("-inf")))
            pattern = F.softmax(scores, dim=-1).masked_fill(mask, 0.0)
            if pattern_fn is not None:
                pattern = pattern_fn(pattern)
            z = einops.rearrange(pattern @ v, "batch head_index pos d_head -> batch pos (head_index d_head)")
            return self.o(z), None

    return ScoredAttention


def attention_only(cfg: AttnOnlyConfig, dtype: torch.dtype | None = None,
                   device: str | torch.device | None = None, tokenizer: Any = None):
    """``cfg``'s model as a TransformerLens bridge (``boot_native``), randomly initialised.

    ``hook_attn_scores`` carries the real scores (see the module docstring). Load trained
    weights with ``bridge.load_state_dict(...)`` or :func:`to_bridge`.
    """
    import transformer_lens.model_bridge.sources  # noqa: F401  (attaches boot_native)
    from transformer_lens.model_bridge import TransformerBridge

    bridge = TransformerBridge.boot_native(bridge_config(cfg), tokenizer=tokenizer, dtype=dtype, device=device)
    scored = _scored_attention_class()
    for block in bridge.blocks:
        native = block.attn.original_component
        native.__class__ = scored                    # same parameters, new forward
        object.__setattr__(native, "scores_hook", block.attn.hook_attn_scores)  # not a submodule
    return bridge


class _LNPre(nn.Module):
    """LayerNorm without weight or bias (TL's ``LNPre``)."""

    def __init__(self, eps: float):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(-1, keepdim=True)
        return x / (x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt()


def _norm(cfg: AttnOnlyConfig) -> nn.Module:
    if cfg.normalization == "LN":
        return nn.LayerNorm(cfg.d_model, eps=cfg.eps)
    if cfg.normalization == "LNPre":
        return _LNPre(cfg.eps)
    return nn.Identity()


class Attention(nn.Module):
    def __init__(self, cfg: AttnOnlyConfig):
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.q, self.k, self.v, self.o = (nn.Linear(cfg.d_model, cfg.d_model) for _ in range(4))
        self.register_buffer("causal_mask", torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool).triu(1),
                             persistent=False)

    def forward(self, x: Float[Tensor, "batch pos d_model"], patterns: list | None = None
                ) -> Float[Tensor, "batch pos d_model"]:
        split = "batch pos (head_index d_head) -> batch head_index pos d_head"
        q, k, v = (einops.rearrange(f(x), split, head_index=self.n_heads) for f in (self.q, self.k, self.v))
        mask = self.causal_mask[: x.shape[1], : x.shape[1]]
        pattern = (q @ k.transpose(-2, -1) / math.sqrt(self.d_head)).masked_fill(mask, float("-inf")).softmax(-1)
        if patterns is not None:
            patterns.append(pattern.detach())
        z = pattern @ v
        return self.o(einops.rearrange(z, "batch head_index pos d_head -> batch pos (head_index d_head)"))


class Block(nn.Module):
    def __init__(self, cfg: AttnOnlyConfig):
        super().__init__()
        self.ln1, self.attn = _norm(cfg), Attention(cfg)

    def forward(self, resid: Float[Tensor, "batch pos d_model"], patterns: list | None = None
                ) -> Float[Tensor, "batch pos d_model"]:
        return resid + self.attn(self.ln1(resid), patterns)


class AttnOnlyTransformer(nn.Module):
    """The bridge's network in plain torch; ``state_dict()`` keys equal the bridge's.

    Initialised as ``boot_native`` does ("gpt2" mode): weights N(0, 0.8/sqrt(d_model)),
    output projections further scaled by 1/sqrt(2 n_layers), biases 0, LN weights 1.
    """

    def __init__(self, cfg: AttnOnlyConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.d_vocab, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = _norm(cfg)
        self.unembed = nn.Linear(cfg.d_model, cfg.d_vocab, bias=False)
        self.reset_parameters(torch.Generator().manual_seed(cfg.seed))

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        std = 0.8 / math.sqrt(self.cfg.d_model)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                p.zero_()
            elif ".ln" in name or name.startswith("ln_final"):
                p.fill_(1.0)
            else:
                scale = std / math.sqrt(2 * self.cfg.n_layers) if name.endswith("attn.o.weight") else std
                p.copy_(torch.randn(p.shape, generator=generator) * scale)

    def forward(self, tokens: Int[Tensor, "batch pos"], patterns: list | None = None
                ) -> Float[Tensor, "batch pos d_vocab"]:
        """Logits; if ``patterns`` is a list, each layer's [batch head_index query_pos key_pos] pattern is appended."""
        check_context(tokens, self.cfg.n_ctx)
        resid = self.embed(tokens) + self.pos_embed.weight[: tokens.shape[1]]
        for block in self.blocks:
            resid = block(resid, patterns)
        return self.unembed(self.ln_final(resid))


def to_bridge(model: AttnOnlyTransformer, dtype: torch.dtype | None = None, tokenizer: Any = None):
    """The bridge with ``model``'s weights (same keys; the bridge's zero ``unembed.bias`` added)."""
    return bridge_from_state(model.cfg, model.state_dict(), dtype, tokenizer)


def bridge_from_state(cfg: AttnOnlyConfig, state: dict[str, Tensor], dtype: torch.dtype | None = None,
                      tokenizer: Any = None):
    """The bridge with weights from a state dict (e.g. an artifact's float16 tensors), cast to ``dtype``.

    Raises:
        ValueError: if the keys or shapes are not those of ``cfg``'s model.
    """
    bridge = attention_only(cfg, dtype=dtype, tokenizer=tokenizer)
    expected = bridge.state_dict()
    missing = sorted(set(expected) - set(state) - {"unembed.bias"})
    unknown = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unknown or wrong:
        raise ValueError(f"state dict does not fit {cfg.name}: missing {missing}, unknown {unknown}, "
                         f"wrong shapes {wrong}; pass the AttnOnlyConfig the weights were trained with")
    state = {k: v.detach().to("cpu", bridge.W_E.dtype) for k, v in state.items()}
    for key, value in bridge.state_dict().items():
        state.setdefault(key, torch.zeros_like(value))   # unembed.bias: the bridge has no b_U to train
    bridge.load_state_dict(state, strict=True)
    return bridge


def check_context(tokens: Tensor, n_ctx: int) -> None:
    """Raise a ValueError naming the fix if ``tokens`` is not [batch, pos] with pos <= n_ctx."""
    if tokens.ndim != 2:
        raise ValueError(f"tokens have shape {tuple(tokens.shape)}: pass a [batch, pos] LongTensor "
                         f"(add a batch axis with tokens[None])")
    if tokens.shape[1] > n_ctx:
        raise ValueError(f"sequence length {tokens.shape[1]} exceeds the model's context n_ctx={n_ctx}: "
                         f"truncate to tokens[:, :{n_ctx}] or split the text into windows")


def repeated_random_tokens(d_vocab: int, period: int, batch: int, generator: torch.Generator,
                           bos: int | None = 0) -> Int[Tensor, "batch pos"]:
    """``[BOS, r, r]`` with ``r`` uniform random tokens of length ``period`` (no BOS if None).

    Tokens are drawn from ``1..d_vocab-1`` when a BOS is given, so BOS never repeats.
    """
    low = 1 if bos is not None else 0
    r = torch.randint(low, d_vocab, (batch, period), generator=generator)
    parts = [r, r] if bos is None else [torch.full((batch, 1), bos), r, r]
    return torch.cat(parts, dim=1)


def head_pattern_scores(model: nn.Module, tokens: Int[Tensor, "batch pos"], period: int
                        ) -> tuple[Float[Tensor, "layer head_index"], Float[Tensor, "layer head_index"]]:
    """``(previous-token score, induction score)`` of every head on ``[..., r, r]`` tokens.

    The same statistics as ``circuits.previous_token_scores`` and ``circuits.induction_scores``,
    computed from the twin's patterns without transformer-lens (or from a bridge's cache),
    so a training run can log induction-head formation on a machine without TL.
    """
    device = next(model.parameters()).device
    tokens = tokens.to(device)
    with torch.no_grad():
        if isinstance(model, AttnOnlyTransformer):
            patterns: list[Tensor] = []
            model(tokens, patterns)
        else:
            _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("attn.hook_pattern"))
            patterns = [cache[f"blocks.{l}.attn.hook_pattern"] for l in range(model.cfg.n_layers)]
    A = torch.stack(patterns).float()              # [layer batch head_index query_pos key_pos]
    T = tokens.shape[1]
    queries = torch.arange(T - period, T, device=A.device)
    induction = A[..., queries, queries - period + 1].mean((1, 3))
    return A.diagonal(-1, -2, -1).mean((1, 3)).cpu(), induction.cpu()


def per_position_loss(model: nn.Module, tokens: Int[Tensor, "batch pos"], batch: int = 64
                      ) -> Float[Tensor, "batch pos_minus_1"]:
    """Cross-entropy of predicting ``tokens[:, i+1]`` from ``tokens[:, :i+1]``, per sequence and i."""
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for chunk in tokens.split(batch):
            chunk = chunk.to(device)
            logits = model(chunk)[:, :-1].float()
            out.append(F.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none").cpu())
    return torch.cat(out)


@dataclass
class TrainingLog:
    """What one training run records.

    ``val_loss_by_pos[e, i]`` is the mean validation loss of predicting token ``i+1`` at
    evaluation ``e``; ``icl_score = loss(icl_late) - loss(icl_early)`` (negative: later
    tokens are predicted better, the model learns in context); ``repeat_first`` and
    ``repeat_second`` are losses on the first and repeated copy of ``[BOS, r, r]`` random
    tokens, whose gap opens when induction heads form; ``induction_score[e]`` and
    ``prev_token_score[e]`` are every head's scores on that probe (:func:`head_pattern_scores`).
    """

    step: list[int] = field(default_factory=list)              # evaluation steps
    train_loss: list[float] = field(default_factory=list)      # every step
    val_loss: list[float] = field(default_factory=list)
    val_loss_by_pos: list[Tensor] = field(default_factory=list)
    icl_score: list[float] = field(default_factory=list)
    repeat_first: list[float] = field(default_factory=list)
    repeat_second: list[float] = field(default_factory=list)
    prev_token_score: list[Tensor] = field(default_factory=list)   # [layer head_index] per evaluation
    induction_score: list[Tensor] = field(default_factory=list)    # on the repeat probe
    probes: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def metrics(self) -> dict[str, Any]:
        """A JSON-ready summary of the final evaluation, for a recipe's ``Trained.metrics``."""
        return {"val_loss": self.val_loss[-1], "icl_score": self.icl_score[-1],
                "repeat_first": self.repeat_first[-1], "repeat_second": self.repeat_second[-1],
                "max_induction_score_by_layer": self.induction_score[-1].amax(-1).tolist(),
                "max_prev_token_score_by_layer": self.prev_token_score[-1].amax(-1).tolist(),
                "steps": self.step[-1], "seconds": round(self.seconds, 2),
                "seconds_per_step": round(self.seconds / max(1, self.step[-1]), 4)}

    def tensors(self) -> dict[str, Tensor]:
        """The curves as tensors, for ``artifacts.save``."""
        out = {"step": torch.tensor(self.step), "train_loss": torch.tensor(self.train_loss),
               "val_loss_by_pos": torch.stack(self.val_loss_by_pos),
               "prev_token_score": torch.stack(self.prev_token_score),
               "induction_score": torch.stack(self.induction_score)}
        for name in ("val_loss", "icl_score", "repeat_first", "repeat_second"):
            out[name] = torch.tensor(getattr(self, name))
        out.update({f"probe_{k}": torch.tensor(v) for k, v in self.probes.items()})
        return out


def lr_factor(step: int, cfg: AttnOnlyConfig) -> float:
    """Linear warm-up to 1, then cosine decay to 0.1 at the last step."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_attention_only(model: nn.Module, cfg: AttnOnlyConfig, train_tokens: Int[Tensor, "n_seq seq_len"],
                         val_tokens: Int[Tensor, "n_val seq_len"], progress: Callable = None,
                         probe: Callable[[nn.Module], dict[str, float]] | None = None) -> TrainingLog:
    """Train ``model`` (the twin or the bridge) on packed sequences; returns the curves.

    AdamW with warm-up and cosine decay (:func:`lr_factor`), gradient clipping, batches drawn
    without replacement within each epoch from a generator seeded by ``cfg.seed``. Every
    ``cfg.eval_every`` steps (and at the end) it records the validation loss per position,
    the in-context score and the repeat probe, plus ``probe(model)`` if given (e.g. the
    induction score from ``interplib.circuits``). The model stays on its device; batches
    move to it.

    Raises:
        ValueError: if the token tensors are not [n_seq, seq_len] with seq_len <= n_ctx,
            too short for the in-context positions, or hold ids outside the vocabulary.
    """
    for name, toks in (("train_tokens", train_tokens), ("val_tokens", val_tokens)):
        if toks.ndim != 2 or toks.dtype != torch.long:
            raise ValueError(f"{name} has shape {tuple(toks.shape)} and dtype {toks.dtype}: "
                             f"pass a LongTensor [n_seq, seq_len] of packed token ids")
        check_context(toks, cfg.n_ctx)
        if toks.shape[1] < cfg.icl_late + 2:
            raise ValueError(f"{name} has sequences of {toks.shape[1]} tokens but icl_late={cfg.icl_late} "
                             f"needs at least {cfg.icl_late + 2}: lower icl_late or pack longer sequences")
        if toks.min() < 0 or toks.max() >= cfg.d_vocab:
            raise ValueError(f"{name} holds ids in [{int(toks.min())}, {int(toks.max())}] outside the "
                             f"vocabulary 0..{cfg.d_vocab - 1}: set d_vocab to the tokenizer's size")
    if len(train_tokens) < cfg.batch:
        raise ValueError(f"train_tokens has {len(train_tokens)} sequences, fewer than batch={cfg.batch}: "
                         f"pack more sequences or lower batch")
    progress = progress or (lambda it, **kw: it)
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(cfg.seed + 1)
    probe_tokens = repeated_random_tokens(cfg.d_vocab, cfg.repeat_period, min(64, cfg.eval_sequences),
                                          torch.Generator().manual_seed(cfg.seed + 2))
    val = val_tokens[: cfg.eval_sequences]
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, cfg))
    log, order, cursor, start = TrainingLog(), torch.randperm(len(train_tokens), generator=g), 0, time.perf_counter()

    pending: list[Tensor] = []

    def evaluate(step: int) -> None:
        if pending:
            log.train_loss.extend(torch.stack(pending).float().cpu().tolist())
            pending.clear()
        model.eval()
        by_pos = per_position_loss(model, val, cfg.batch).mean(0)
        rep = per_position_loss(model, probe_tokens, cfg.batch).mean(0)
        n = cfg.repeat_period   # targets 2..n of the first copy vs of the second (first of each unpredictable)
        log.step.append(step)
        log.val_loss.append(float(by_pos.mean()))
        log.val_loss_by_pos.append(by_pos)
        log.icl_score.append(float(by_pos[cfg.icl_late] - by_pos[cfg.icl_early]))
        log.repeat_first.append(float(rep[1:n].mean()))
        log.repeat_second.append(float(rep[n + 1:].mean()))
        prev, ind = head_pattern_scores(model, probe_tokens, n)
        log.prev_token_score.append(prev)
        log.induction_score.append(ind)
        for k, v in (probe(model) if probe else {}).items():
            log.probes.setdefault(k, []).append(float(v))
        model.train()

    model.train()
    for step in progress(range(cfg.steps), total=cfg.steps, desc=cfg.name):
        if step % cfg.eval_every == 0:
            evaluate(step)
        if cursor + cfg.batch > len(order):
            order, cursor = torch.randperm(len(train_tokens), generator=g), 0
        batch = train_tokens[order[cursor: cursor + cfg.batch]].to(device)
        cursor += cfg.batch
        logits = model(batch)[:, :-1]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        pending.append(loss.detach())   # no host sync per step; read at each evaluation
    evaluate(cfg.steps)
    model.eval()
    log.seconds = time.perf_counter() - start
    return log


__all__ = ["AttnOnlyConfig", "AttnOnlyTransformer", "TrainingLog", "attention_only", "bridge_config",
           "bridge_from_state", "check_context", "head_pattern_scores", "lr_factor", "per_position_loss",
           "repeated_random_tokens", "to_bridge", "train_attention_only"]
