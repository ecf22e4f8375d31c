"""Attention-only transformers (no MLPs; the chapter uses 1 and 2 layers) and their training probes.

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

Either trains with :func:`interplib.lm_training.train_lm`; pass ``on_evaluate=InductionProbes(cfg)``
to record the in-context score, the repeat probe and the head scores at every evaluation.

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
from dataclasses import dataclass
from typing import Any, Literal, Optional

import einops
import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn

from .lm_training import TrainResult, per_position_loss

Normalization = Optional[Literal["LN", "LNPre"]]


@dataclass(frozen=True)
class AttnOnlyConfig:
    """An attention-only transformer; sizes follow the seed's "minigpt" (d_model 256, 8 heads of 32).

    Training settings live in :class:`interplib.lm_training.LMTrainConfig`, the probes
    recorded during training in :class:`ProbeConfig`.
    """

    n_layers: int = 2
    d_model: int = 256
    n_heads: int = 8
    n_ctx: int = 256
    d_vocab: int = 4096
    normalization: Normalization = None   # None keeps every path expansion exactly linear
    eps: float = 1e-5
    seed: int = 0

    def __post_init__(self):
        if self.n_layers < 1:
            raise ValueError(f"n_layers={self.n_layers}: an attention-only model needs at least one layer")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: "
                             f"pick n_heads dividing d_model (d_head = d_model / n_heads)")
        if self.normalization not in (None, "LN", "LNPre"):
            raise ValueError(f"normalization={self.normalization!r}: use None, 'LN' or 'LNPre'")
        if min(self.n_ctx, self.d_vocab) < 1:
            raise ValueError(f"n_ctx={self.n_ctx}, d_vocab={self.d_vocab}: use positive integers")

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


def check_repeat(tokens: Tensor, period: int) -> None:
    """Raise a ValueError naming the fix unless ``tokens`` end in two copies of a length-``period`` segment."""
    if period < 2 or tokens.ndim != 2 or tokens.shape[1] < 2 * period:
        raise ValueError(f"period={period} with tokens of shape {tuple(tokens.shape)}: need period >= 2 and "
                         f"at least 2*period positions; build them with repeated_random_tokens")
    if not torch.equal(tokens[:, -period:], tokens[:, -2 * period:-period]):
        raise ValueError(f"tokens do not end in two copies of a length-{period} segment: build them with "
                         f"interplib.attention_models.repeated_random_tokens(d_vocab, {period}, batch, generator)")


def previous_token_stripe(patterns: Float[Tensor, "layer batch head_index query_pos key_pos"]
                          ) -> Float[Tensor, "layer head_index"]:
    """Mean attention from each position to the one before it (``pattern.diagonal(-1)``)."""
    return patterns.diagonal(-1, -2, -1).mean((1, 3))


def induction_stripe(patterns: Float[Tensor, "layer batch head_index query_pos key_pos"], period: int
                     ) -> Float[Tensor, "layer head_index"]:
    """Mean attention on the induction stripe of tokens ending in ``[r, r]`` with ``len(r) = period``.

    A query in the second copy at position i attends to i − period + 1: the token after
    the previous occurrence of its own token (TL's and ARENA's induction score).
    """
    T = patterns.shape[-1]
    queries = torch.arange(T - period, T, device=patterns.device)
    return patterns[..., queries, queries - period + 1].mean((1, 3))


def head_pattern_scores(model: nn.Module, tokens: Int[Tensor, "batch pos"], period: int
                        ) -> tuple[Float[Tensor, "layer head_index"], Float[Tensor, "layer head_index"]]:
    """``(previous-token score, induction score)`` of every head on ``[..., r, r]`` tokens.

    The statistics of ``circuits.previous_token_scores`` and ``circuits.induction_scores``,
    read from the twin's patterns without transformer-lens (or from a bridge's cache),
    so a training run can log induction-head formation on a machine without TL.
    """
    check_repeat(tokens, period)
    device = next(model.parameters()).device
    tokens = tokens.to(device)
    with torch.no_grad():
        if isinstance(model, AttnOnlyTransformer):
            patterns: list[Tensor] = []
            model(tokens, patterns)
        else:
            _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("attn.hook_pattern"))
            patterns = [cache[f"blocks.{l}.attn.hook_pattern"] for l in range(model.cfg.n_layers)]
    A = torch.stack(patterns).float()
    return previous_token_stripe(A).cpu(), induction_stripe(A, period).cpu()


@dataclass
class RepeatLoss:
    """Mean loss on the first and on the repeated copy of ``r`` (first token of each excluded)."""

    first: float
    repeated: float


def repeat_loss(loss: Float[Tensor, "batch pos_minus_1"], period: int) -> RepeatLoss:
    """Split per-token losses of tokens ending in ``[r, r]`` by copy; the first token of each copy
    is left out, since nothing in the context predicts it."""
    T = loss.shape[1] + 1
    first = loss[:, T - 2 * period: T - period - 1]    # targets 2..period of the first copy
    repeated = loss[:, T - period: T - 1]               # targets 2..period of the repeat
    return RepeatLoss(float(first.mean()), float(repeated.mean()))


@dataclass(frozen=True)
class ProbeConfig:
    """What :class:`InductionProbes` measures at each evaluation of a training run."""

    icl_early: int = 25         # in-context score = loss(icl_late) - loss(icl_early),
    icl_late: int = 250         # positions in a 10:1 ratio as Olsson et al.'s 500 vs 50
    repeat_period: int = 50     # length of the random segment of the repeat probe
    repeat_batch: int = 64      # repeat-probe sequences
    seed: int = 0               # the repeat probe's random tokens

    def __post_init__(self):
        if not 0 <= self.icl_early < self.icl_late:
            raise ValueError(f"icl_early={self.icl_early}, icl_late={self.icl_late}: need 0 <= icl_early < icl_late")
        if self.repeat_period < 2 or self.repeat_batch < 1:
            raise ValueError(f"repeat_period={self.repeat_period}, repeat_batch={self.repeat_batch}: "
                             f"need repeat_period >= 2 and repeat_batch >= 1")


class InductionProbes:
    """The attention-only chapter's ``on_evaluate`` callback for :func:`interplib.lm_training.train_lm`.

    At each evaluation it records ``icl_score = loss(icl_late) - loss(icl_early)`` from the
    loop's per-position validation loss (negative: later tokens are predicted better, the
    model learns in context); ``repeat_first`` and ``repeat_second``, the losses on the first
    and the repeated copy of ``[BOS, r, r]`` random tokens, whose gap opens when induction
    heads form; and every head's ``prev_token_score`` and ``induction_score`` on that probe
    (``[layer head_index]`` tensors, :func:`head_pattern_scores`).

    Raises:
        ValueError: if the probe does not fit the model's context, or (at the first
            evaluation) the validation sequences are too short for ``icl_late``.
    """

    def __init__(self, model_cfg: AttnOnlyConfig, cfg: ProbeConfig = ProbeConfig()):
        if cfg.icl_late >= model_cfg.n_ctx - 1:
            raise ValueError(f"icl_late={cfg.icl_late}: need icl_late < n_ctx - 1 = {model_cfg.n_ctx - 1}")
        if cfg.repeat_period > (model_cfg.n_ctx - 1) // 2:
            raise ValueError(f"repeat_period={cfg.repeat_period}: need repeat_period <= (n_ctx - 1) // 2 = "
                             f"{(model_cfg.n_ctx - 1) // 2} so [BOS, r, r] fits the context")
        self.cfg = cfg
        self.tokens = repeated_random_tokens(model_cfg.d_vocab, cfg.repeat_period, cfg.repeat_batch,
                                             torch.Generator().manual_seed(cfg.seed))

    def __call__(self, model: nn.Module, evaluation: dict[str, Any]) -> dict[str, float | Tensor]:
        by_pos, cfg = evaluation["val_loss_by_pos"], self.cfg
        if by_pos.shape[0] <= cfg.icl_late:
            raise ValueError(f"validation sequences have {by_pos.shape[0] + 1} tokens but icl_late={cfg.icl_late} "
                             f"needs at least {cfg.icl_late + 2}: lower icl_late or pack longer sequences")
        rep = repeat_loss(per_position_loss(model, self.tokens), cfg.repeat_period)
        prev, ind = head_pattern_scores(model, self.tokens, cfg.repeat_period)
        return {"icl_score": float(by_pos[cfg.icl_late] - by_pos[cfg.icl_early]), "repeat_first": rep.first,
                "repeat_second": rep.repeated, "prev_token_score": prev, "induction_score": ind}

    @staticmethod
    def summary(result: TrainResult) -> dict[str, Any]:
        """``result.summary()`` plus each layer's largest induction and previous-token score."""
        return {**result.summary(),
                "max_induction_score_by_layer": result.history["induction_score"][-1].amax(-1).tolist(),
                "max_prev_token_score_by_layer": result.history["prev_token_score"][-1].amax(-1).tolist()}


__all__ = ["AttnOnlyConfig", "AttnOnlyTransformer", "InductionProbes", "ProbeConfig", "RepeatLoss",
           "attention_only", "bridge_config", "bridge_from_state", "check_context", "check_repeat",
           "head_pattern_scores", "induction_stripe", "previous_token_stripe", "repeat_loss",
           "repeated_random_tokens", "to_bridge"]
