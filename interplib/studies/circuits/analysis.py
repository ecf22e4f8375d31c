"""What the circuits study records while it trains: induction and previous-token scores per head.

:class:`InductionProbes` is a ``train_lm`` evaluation hook: at every evaluation it runs the
model on fixed repeated random tokens and records each head's previous-token and induction
score (:func:`head_pattern_scores`) and the loss on the repeat, so the curves show when the
induction heads form. It reads the plain-torch twin's patterns directly, so a training
machine needs no transformer-lens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.core.training import TrainResult, per_position_loss
from interplib.corpus import tokenizer
from interplib.interp.patterns import (
    check_repeat,
    current_token_stripe,
    induction_stripe,
    previous_token_stripe,
    repeat_loss,
    repeated_random_tokens,
    standard_error,
)
from interplib.studies.circuits.model import AttnOnlyConfig, AttnOnlyTransformer, Block

__all__ = ["InductionProbes", "ProbeConfig", "head_pattern_scores", "probe_tokens"]


def head_pattern_scores(
    model: nn.Module, tokens: Int[Tensor, "batch pos"], period: int
) -> tuple[Float[Tensor, "layer head_index"], Float[Tensor, "layer head_index"]]:
    """``(previous-token score, induction score)`` of every head on ``[..., r, r]`` tokens.

    The statistics of ``patterns.previous_token_scores`` and ``patterns.induction_scores``,
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
            # a TransformerLens model or bridge: duck-typed, as nn.Module has neither
            tl_model: Any = model
            _, cache = tl_model.run_with_cache(
                tokens, names_filter=lambda n: n.endswith("attn.hook_pattern")
            )
            patterns = [
                cache[f"blocks.{l}.attn.hook_pattern"]
                for l in range(tl_model.cfg.n_layers)
            ]
    A = torch.stack(patterns).float()
    return previous_token_stripe(A).cpu(), induction_stripe(A, period).cpu()


@dataclass(frozen=True)
class ProbeConfig:
    """What :class:`InductionProbes` measures at each evaluation of a training run."""

    icl_early: int = 25  # in-context score = loss(icl_late) - loss(icl_early),
    icl_late: int = 250  # positions in a 10:1 ratio as Olsson et al.'s 500 vs 50
    repeat_period: int = 50  # length of the random segment of the repeat probe
    repeat_batch: int = 64  # repeat-probe sequences
    seed: int = 0  # the repeat probe's random tokens

    def __post_init__(self):
        if not 0 <= self.icl_early < self.icl_late:
            raise ValueError(
                f"icl_early={self.icl_early}, icl_late={self.icl_late}: "
                "need 0 <= icl_early < icl_late"
            )
        if self.repeat_period < 2 or self.repeat_batch < 1:
            raise ValueError(
                f"repeat_period={self.repeat_period}, repeat_batch={self.repeat_batch}: "
                f"need repeat_period >= 2 and repeat_batch >= 1"
            )


def probe_tokens(d_vocab: int, cfg: ProbeConfig) -> Int[Tensor, "batch pos"]:
    """The repeat probe ``[BOS, r, r]`` of a config, as the training rows start.

    ``[BOS]`` is the story tokenizer's (id 1) and ``r`` is drawn from the ordinary ids,
    never a special token. Artifacts trained before this fix started their probe with id
    0, ``[UNK]``, a token absent from training, and drew ``r`` from ids 1 on; their
    metrics have no ``repeat_probe_start`` (see :meth:`InductionProbes.summary`).
    """
    return repeated_random_tokens(
        d_vocab,
        cfg.repeat_period,
        cfg.repeat_batch,
        torch.Generator().manual_seed(cfg.seed),
        bos=tokenizer.BOS,
        specials=range(len(tokenizer.SPECIALS)),
    )


class InductionProbes:
    """The attention-only chapter's ``on_evaluate`` callback for ``train_lm``.

    See :func:`interplib.core.training.train_lm`. At each evaluation it records
    ``icl_score = loss(icl_late) - loss(icl_early)`` from the loop's per-position validation
    loss (negative: later tokens are predicted better, the model learns in context);
    ``repeat_first`` and ``repeat_second``, the losses on the first and the repeated copy of
    ``[BOS, r, r]`` random tokens (:func:`probe_tokens`), whose gap opens when induction
    heads form; and every head's ``prev_token_score`` and ``induction_score`` on that probe
    (``[layer head_index]`` tensors, :func:`head_pattern_scores`).

    Raises:
        ValueError: if the probe does not fit the model's context, or (at the first
            evaluation) the validation sequences are too short for ``icl_late``.
    """

    def __init__(self, model_cfg: AttnOnlyConfig, cfg: ProbeConfig = ProbeConfig()):
        if cfg.icl_late >= model_cfg.n_ctx - 1:
            raise ValueError(
                f"icl_late={cfg.icl_late}: need icl_late < n_ctx - 1 = {model_cfg.n_ctx - 1}"
            )
        if cfg.repeat_period > (model_cfg.n_ctx - 1) // 2:
            raise ValueError(
                f"repeat_period={cfg.repeat_period}: need repeat_period <= (n_ctx - 1) // 2 = "
                f"{(model_cfg.n_ctx - 1) // 2} so [BOS, r, r] fits the context"
            )
        self.cfg = cfg
        self.tokens = probe_tokens(model_cfg.d_vocab, cfg)

    def __call__(
        self, model: nn.Module, evaluation: dict[str, Any]
    ) -> dict[str, float | Tensor]:
        by_pos, cfg = evaluation["val_loss_by_pos"], self.cfg
        if by_pos.shape[0] <= cfg.icl_late:
            raise ValueError(
                f"validation sequences have {by_pos.shape[0] + 1} tokens but "
                f"icl_late={cfg.icl_late} "
                f"needs at least {cfg.icl_late + 2}: lower icl_late or pack longer sequences"
            )
        rep = repeat_loss(per_position_loss(model, self.tokens), cfg.repeat_period)
        prev, ind = head_pattern_scores(model, self.tokens, cfg.repeat_period)
        return {
            "icl_score": float(by_pos[cfg.icl_late] - by_pos[cfg.icl_early]),
            "repeat_first": rep.first,
            "repeat_second": rep.repeated,
            "prev_token_score": prev,
            "induction_score": ind,
        }

    @staticmethod
    def summary(result: TrainResult) -> dict[str, Any]:
        """``result.summary()``, each layer's largest induction and previous-token score, and
        the id the repeat probe starts with (``repeat_probe_start``, the tokenizer's BOS)."""
        return {
            **result.summary(),
            "repeat_probe_start": tokenizer.BOS,
            "max_induction_score_by_layer": result.history["induction_score"][-1]
            .amax(-1)
            .tolist(),
            "max_prev_token_score_by_layer": result.history["prev_token_score"][-1]
            .amax(-1)
            .tolist(),
        }


def initial_attention_spread(
    cfg: AttnOnlyConfig, tokens: Int[Tensor, "batch pos"]
) -> tuple[float, float]:
    """``(std of the residual entries a layer-0 head reads, std of its attention scores)``
    of a freshly initialised
    :class:`~interplib.studies.circuits.model.AttnOnlyTransformer` on ``tokens``.

    The residual is ``ln1(embed + pos_embed)`` of block 0, ``[batch pos d_model]``; the
    scores are ``q k^T / sqrt(d_head)`` of every layer-0 head for every query-key pair
    (the causal mask not applied), ``[batch head_index query_pos key_pos]``. Small scores
    mean near-uniform patterns at the start of training. The model is built from
    ``cfg`` (its ``seed``), so the result is deterministic.
    """
    model = AttnOnlyTransformer(cfg)
    with torch.no_grad():
        x = model.embed(tokens) + model.pos_embed.weight[: tokens.shape[1]]
        block = cast(Block, model.blocks[0])  # a Module to the type checker
        x = block.ln1(x)
        attn = block.attn
        split = "batch pos (head_index d_head) -> batch head_index pos d_head"
        q, k = (
            einops.rearrange(f(x), split, head_index=cfg.n_heads)
            for f in (attn.q, attn.k)
        )
        scores = q @ k.transpose(-2, -1) / math.sqrt(cfg.d_head)
    return float(x.std()), float(scores.std())


def story_positions(
    tokens: Int[Tensor, "batch pos"], bos: int = tokenizer.BOS
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """``(position within its story, story number within the row)`` of every token.

    A story starts at its ``[BOS]`` (position 0). Tokens before a row's first ``[BOS]``
    belong to a story cut by the packing, whose start is unknown: position and number -1.
    """
    starts = tokens == bos
    story = starts.long().cumsum(1) - 1  # -1 before the first BOS
    index = torch.arange(tokens.shape[1]).expand_as(tokens)
    last_start = torch.where(starts, index, torch.full_like(index, -1)).cummax(1).values
    position = torch.where(story >= 0, index - last_start, torch.full_like(index, -1))
    return position, story


def window_losses(
    loss: Float[Tensor, "batch pos_minus_1"],
    tokens: Int[Tensor, "batch pos"],
    early: tuple[int, int],
    late: tuple[int, int],
    bos: int = tokenizer.BOS,
) -> Float[Tensor, "story 2"]:
    """Per story, mean loss on the targets at story positions ``early`` and ``late``
    (float64).

    Windows are half-open ``(first, end)`` ranges of positions within a story
    (:func:`story_positions`); ``loss[:, j]`` is the loss of target ``tokens[:, j+1]``.
    Only stories with every position of both windows in their row count, in row order.

    Raises:
        ValueError: empty or overlapping windows, or no story that covers both.
    """
    (a, b), (c, d) = early, late
    if not (0 <= a < b <= c < d):
        raise ValueError(
            f"early={early}, late={late}: need 0 <= early start < early end <= late "
            "start < late end"
        )
    position, story = (t[:, 1:] for t in story_positions(tokens, bos))
    n_story = int(story.max()) + 1
    key = story.clamp(min=0) + n_story * torch.arange(tokens.shape[0])[:, None]
    sums, counts = [], []
    for lo, hi in (early, late):
        inside = (position >= lo) & (position < hi) & (story >= 0)
        flat = torch.zeros(n_story * tokens.shape[0], dtype=torch.float64)
        count = torch.zeros_like(flat)
        flat.index_add_(0, key[inside], loss[inside].double())
        count.index_add_(
            0, key[inside], torch.ones_like(loss[inside], dtype=torch.float64)
        )
        sums.append(flat)
        counts.append(count)
    full = (counts[0] == b - a) & (counts[1] == d - c)
    if not full.any():
        raise ValueError(
            f"no story covers positions {a}..{d - 1}: use shorter windows or longer rows"
        )
    return torch.stack([sums[0][full] / (b - a), sums[1][full] / (d - c)], 1)


def in_context_scores(
    loss: Float[Tensor, "batch pos_minus_1"],
    tokens: Int[Tensor, "batch pos"],
    early: tuple[int, int],
    late: tuple[int, int],
    bos: int = tokenizer.BOS,
) -> Float[Tensor, " story"]:
    """Per story, mean loss on the targets at story positions ``late`` minus ``early``
    (:func:`window_losses`), so a score never compares two stories.

    Negative: the later tokens of a story are predicted better, the model uses its
    context. A window of several positions averages away the noise of a single position.

    Raises:
        ValueError: empty or overlapping windows, or no story that covers both.
    """
    windows = window_losses(loss, tokens, early, late, bos)
    return (windows[:, 1] - windows[:, 0]).float()


def windowed_in_context_score(
    loss_by_pos: Float[Tensor, "... pos_minus_1"],
    early: tuple[int, int],
    late: tuple[int, int],
) -> Float[Tensor, "..."]:
    """Mean loss over row positions ``late`` minus over ``early`` (half-open ranges).

    For curves logged as loss per *row* position (``val_loss_by_pos``): rows are packed
    stories, so the windows usually fall in different stories; prefer
    :func:`in_context_scores` wherever the tokens are at hand.
    """
    (a, b), (c, d) = early, late
    return loss_by_pos[..., c:d].mean(-1) - loss_by_pos[..., a:b].mean(-1)


__all__ += [
    "window_losses",
    "in_context_scores",
    "initial_attention_spread",
    "story_positions",
    "windowed_in_context_score",
]


class CheckpointProbes(InductionProbes):
    """:class:`InductionProbes` that also keeps the weights at chosen steps and records the
    in-context score counted within stories.

    At every evaluation it adds ``story_icl`` and ``story_icl_se``, the mean and standard
    error over stories of :func:`in_context_scores` on ``stories`` (windows ``early`` and
    ``late``, positions within a story), the per-story scores themselves as
    ``story_icl_values`` (``[story]``, the same stories at every evaluation, so two runs on
    the same stories can be compared story by story), each story's mean loss in the two
    windows as ``story_window_values`` (``[story 2]``: early, late), and every head's
    ``story_prev_token_score`` and ``story_current_token_score`` (``[layer head_index]``)
    on the first ``pattern_sequences`` of them; at each step in ``checkpoints`` it copies
    the model's state dict to ``kept[step]`` in float16 on the CPU.

    Raises:
        ValueError: no checkpoint step, a negative one, or ``pattern_sequences < 1``.
    """

    def __init__(
        self,
        model_cfg: AttnOnlyConfig,
        cfg: ProbeConfig,
        checkpoints: tuple[int, ...],
        stories: Int[Tensor, "batch pos"],
        early: tuple[int, int],
        late: tuple[int, int],
        pattern_sequences: int = 32,
    ):
        super().__init__(model_cfg, cfg)
        if not checkpoints or min(checkpoints) < 0 or pattern_sequences < 1:
            raise ValueError(
                f"checkpoints={checkpoints}, pattern_sequences={pattern_sequences}: give "
                "at least one step, each >= 0, and pattern_sequences >= 1"
            )
        self.checkpoints, self.stories = frozenset(checkpoints), stories
        self.early, self.late = early, late
        self.pattern_sequences = pattern_sequences
        self.kept: dict[int, dict[str, Tensor]] = {}

    def __call__(
        self, model: nn.Module, evaluation: dict[str, Any]
    ) -> dict[str, float | Tensor]:
        out = super().__call__(model, evaluation)
        loss = per_position_loss(model, self.stories)
        windows = window_losses(loss, self.stories, self.early, self.late)
        icl = (windows[:, 1] - windows[:, 0]).float()  # in_context_scores
        out["story_icl"] = float(icl.mean())
        out["story_icl_values"] = icl.cpu()
        out["story_window_values"] = windows.float().cpu()
        out["story_icl_se"] = standard_error(icl) if icl.numel() > 1 else float("nan")
        rows = self.stories[: self.pattern_sequences].to(
            next(model.parameters()).device
        )
        patterns: list[Tensor] = []
        with torch.no_grad():
            model(rows, patterns)
        A = torch.stack(patterns).float()
        out["story_prev_token_score"] = previous_token_stripe(A).cpu()
        out["story_current_token_score"] = current_token_stripe(A).cpu()
        if evaluation["step"] in self.checkpoints:
            self.kept[int(evaluation["step"])] = {
                k: v.detach().to("cpu", torch.float16).clone()
                for k, v in model.state_dict().items()
            }
        return out


__all__ += ["CheckpointProbes"]
