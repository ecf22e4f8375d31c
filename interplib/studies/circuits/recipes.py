"""The attention-circuits study's recipes: 2- and 1-layer attention-only transformers.

Both train on the story corpus with :func:`interplib.core.training.train_lm` in the plain-torch
twin (:class:`interplib.studies.circuits.model.AttnOnlyTransformer`) with the
:class:`~interplib.studies.circuits.analysis.InductionProbes` recorded every 100 steps, so the
curves show when in-context learning and the induction heads appear. They are stored in float16;
:func:`~interplib.core.recipes.load_model` returns the TransformerLens bridge the chapter
analyses.

The story grammar never repeats a passage, so the corpus alone rewards no induction head:
four runs without repeated passages, up to 131M tokens on an H100, formed none
(``notes/induction-heads.md``). Here a quarter of the training rows are a random segment
repeated with a random period (:func:`interplib.corpus.lmdata.with_repeated_segments`), which
only induction predicts; the validation split is the plain corpus. The learning rate is
3e-3: a toy repeat task leaves the plateau that precedes induction at 3e-3 and not in the
same time at 1e-3.

The configs are sized for a GPU: 8,000 steps of 64 × 256 tokens (131M tokens). On an H200 the
2-layer model forms its previous-token and induction heads together between steps 1,300 and
1,500; the CPU runs of 2,000 × 16 steps ended before that.
``python -m interplib.train attn-only-l2 attn-only-l1 --device cuda`` trains both; the same
command with ``--device cpu`` is the CPU path, about six hours each on the book's 2-core CPU
(the phase retrains' measured 2.8 and 2.7 seconds a step, evaluations included).

The repeat probe starts with the tokenizer's ``[BOS]`` and draws its tokens from the ordinary
ids (:func:`~interplib.studies.circuits.analysis.probe_tokens`). The committed artifacts were
trained before that fix: their probe started with id 0, ``[UNK]``, so their recorded
``repeat_first`` is too high. The fix leaves the config and the recipe version alone on
purpose, so those artifacts still load; a retrained artifact records
``repeat_probe_start`` in its metrics, and one without it used the old start.

**Checkpoints.** ``attn-only-l2-checkpoints`` and ``attn-only-l1-checkpoints`` (GPU
recipes, not committed: about 5 MB of float16 weights per checkpoint) retrain the same two
runs, evaluated every 50 steps instead of 100, and keep the weights at the steps of
``CHECKPOINT_STEPS``, chosen from the committed 2-layer run's curves to bracket its phase
change, with the in-context score counted within stories logged at every evaluation
(:class:`~interplib.studies.circuits.analysis.CheckpointProbes`).
``recipes.load_model("attn-only-l2-checkpoints", step=1400)`` returns one of them;
:mod:`interplib.studies.circuits.phases` measures the circuit at each.

**The phase change on the CPU.** ``attn-only-l2-phase`` is the 2-layer checkpoint retrain
stopped after its first 1,800 steps (the schedule of the full 8,000): the phase change and
300 steps after it, in about an hour and a half on the book's 2-core CPU.
``attn-only-l1-phase`` is the same for the 1-layer model, the control on the same axes. They
store no weights: at each checkpoint every head's pattern on one repeat-probe sequence (and
with two layers the K-composition of every layer-0 head into every layer-1 head), and at
every evaluation every head's scores, so they fit in the repository.
``attn-only-l2-routes`` is the 2-layer one again, stopped at step 1,500 and measured every
10 steps from 1,400 (on 8 blocks of 32 probe sequences): the order in which the routes into
the induction heads form, which checkpoints 100 steps apart cannot tell.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from jaxtyping import Int
from torch import Tensor

from interplib.core.artifacts import Artifact
from interplib.core.recipes import Recipe, Trained, register
from interplib.core.training import (
    CURVE,
    LMTrainConfig,
    artifact_payload,
    smoke_run,
    split_payload,
    train_lm,
)
from interplib.corpus import lmdata
from interplib.studies.circuits.analysis import (
    CheckpointProbes,
    InductionProbes,
    ProbeConfig,
    probe_tokens,
)
from interplib.studies.circuits.model import (
    AttnOnlyConfig,
    AttnOnlyTransformer,
    bridge_from_state,
)

__all__ = [
    "AttnOnlyRun",
    "CHECKPOINT_RUNS",
    "CheckpointRun",
    "PHASE_RUNS",
    "RUNS",
    "checkpoint_model",
    "fit",
    "fit_checkpoints",
    "fit_routes",
    "model_from_artifact",
]

STUDY = "circuits"


@dataclass(frozen=True)
class AttnOnlyRun:
    """One model of the study.

    Its architecture (with the init seed), its training and the probes recorded.
    """

    model: AttnOnlyConfig
    train: LMTrainConfig
    probes: ProbeConfig = ProbeConfig()
    repeat_fraction: float = 0.25  # training rows that are a repeated random segment
    repeat_periods: tuple[int, int] = (
        8,
        120,
    )  # the segments' lengths (lmdata.with_repeated_segments)
    # the global seed of the run and of the repeated rows (the weights' seed is ``model.seed``)
    seed: int = 0


TRAINING = LMTrainConfig(
    steps=8000,
    batch_size=64,
    lr=3e-3,
    warmup_steps=100,
    eval_every=100,
    eval_sequences=64,
)
RUNS = {
    f"attn-only-l{n}": AttnOnlyRun(
        AttnOnlyConfig(n_layers=n, normalization="LNPre"), TRAINING
    )
    for n in (2, 1)
}


def _data(
    run: AttnOnlyRun,
) -> tuple[Int[Tensor, "n_train pos"], Int[Tensor, "n_val pos"]]:
    """``(training rows with the repeated segments, plain validation rows)`` of a run."""
    train = lmdata.with_repeated_segments(
        lmdata.load_split("train"),
        run.repeat_fraction,
        run.model.d_vocab,
        run.repeat_periods,
        run.seed,
    )
    return train, lmdata.load_split("val")


def fit(run: AttnOnlyRun, device: torch.device, progress) -> Trained:
    """Train with the induction probes.

    Stores float16 weights, the curves and the probes' history.
    """
    model = AttnOnlyTransformer(run.model)
    train, val = _data(run)
    result = train_lm(
        model,
        train,
        val,
        run.train,
        device,
        progress,
        on_evaluate=InductionProbes(run.model, run.probes),
        desc=run.model.name,
    )
    tensors, metrics = artifact_payload(
        model, result, val, InductionProbes.summary(result)
    )
    return Trained(
        tensors,
        metrics,
        key_metric=("validation loss (nats/token)", metrics["val_loss_float16"]),
    )


def model_from_artifact(
    run: AttnOnlyRun, art: Artifact, dtype: torch.dtype = torch.float32
):
    """The trained model an artifact holds, as a TransformerLens bridge in eval mode."""
    weights, _ = split_payload(art.tensors)
    return bridge_from_state(run.model, weights, dtype).eval()


@dataclass(frozen=True)
class CheckpointRun:
    """A retrain of one of ``RUNS`` that keeps its weights at ``checkpoints``.

    ``run`` is the committed run with evaluations every 50 steps instead of 100 (the
    evaluations only read the model: the training is the same); at every evaluation the
    probes of :class:`~interplib.studies.circuits.analysis.CheckpointProbes` are recorded,
    the repeat probe started with ``[BOS]`` and the in-context score counted within the
    first ``story_sequences`` validation stories (positions ``story_late`` minus
    ``story_early``, the chapter's windows).

    A checkpoint off the 50-step cadence is one more evaluation (the training is the
    same), so its curves have a point there too. ``until`` stops after the run's first
    ``until`` steps (its schedule and batches unchanged); None trains them all.
    ``keep_weights=False`` stores, in place of each checkpoint's weights, what the chapter
    reads of them: every head's pattern on the first repeat probe sequence and, with two
    layers, the K-composition and the Q/K/V path ablations of every layer-0 head into every
    layer-1 head.

    Raises:
        ValueError: a checkpoint outside ``1..until``, no checkpoint, or ``until``
            outside ``1..steps``.
    """

    run: AttnOnlyRun
    checkpoints: tuple[int, ...]
    story_sequences: int = 256
    story_early: tuple[int, int] = (5, 15)
    story_late: tuple[int, int] = (80, 100)
    seed: int = 0
    until: int | None = None
    keep_weights: bool = True

    def __post_init__(self):
        for name in ("checkpoints", "story_early", "story_late"):  # lists from JSON
            object.__setattr__(self, name, tuple(getattr(self, name)))
        steps = self.run.train.steps
        if not 1 <= self.last_step <= steps:
            raise ValueError(f"until={self.until}: use 1..{steps} (the run's steps)")
        bad = [c for c in self.checkpoints if not 0 < c <= self.last_step]
        if bad or not self.checkpoints or self.story_sequences < 2:
            raise ValueError(
                f"checkpoints={self.checkpoints}, story_sequences={self.story_sequences}: "
                f"each checkpoint must be a step in 1..{self.last_step} (bad: {bad}), "
                "and story_sequences >= 2"
            )

    @property
    def last_step(self) -> int:
        """The step the retrain stops at (``until``, or else the run's last step)."""
        return self.run.train.steps if self.until is None else self.until


def _step_prefix(step: int) -> str:
    return f"step{step}."


def fit_checkpoints(
    cfg: CheckpointRun, device: torch.device, progress, probe_blocks: int = 1
) -> Trained:
    """Retrain ``cfg.run`` (up to ``cfg.last_step``) keeping its float16 weights at each
    checkpoint.

    Tensors: the curves under ``curve.<key>`` (with ``story_icl``, ``story_icl_se`` and
    the per-head story scores) and each checkpoint's state dict under
    ``step<N>.<name>``; with ``keep_weights=False``, in place of the state dicts, what
    :func:`~interplib.studies.circuits.phases.checkpoint_measures` measures of them:
    ``checkpoint.patterns`` on the first repeat probe sequence and, with two layers, the
    K-composition and the path ablations of every layer-0 head into every layer-1 head on
    the first 32. No final weights. ``probe_blocks > 1`` (only without weights) repeats
    the direct logits and path ablations on that many blocks of 32 probe sequences, the
    first block the one above and the others drawn with probe seeds 1, 2, ...:
    ``checkpoint.direct_logit_blocks [block n head_1]`` and
    ``checkpoint.path_direct_blocks [block n kind side head_0 head_1]``, independent
    estimates whose spread is the sampling error of the probe.
    """
    run = cfg.run
    model = AttnOnlyTransformer(run.model)
    train, val = _data(run)
    probes = CheckpointProbes(
        run.model,
        run.probes,
        cfg.checkpoints,
        val[: cfg.story_sequences],
        cfg.story_early,
        cfg.story_late,
    )
    result = train_lm(
        model,
        train,
        val,
        run.train,
        device,
        progress,
        probes,
        desc=run.model.name,
        stop=cfg.until,
        also_evaluate=cfg.checkpoints,
    )
    tensors = {CURVE + k: v for k, v in result.tensors().items()}
    if cfg.keep_weights:
        for step, state in probes.kept.items():
            tensors.update({_step_prefix(step) + k: v for k, v in state.items()})
    else:  # transformer-lens only here, after training: the training path needs none
        from interplib.studies.circuits.phases import checkpoint_measures

        period = run.probes.repeat_period
        tensors.update(
            checkpoint_measures(run.model, probes.kept, probes.tokens[:32], period)
        )
        blocks = [
            checkpoint_measures(run.model, probes.kept, tokens, period)
            for tokens in _probe_blocks(run, probe_blocks)
        ]
        for key in ("direct_logit", "path_direct") if blocks else ():
            first = tensors[f"checkpoint.{key}"]
            tensors[f"checkpoint.{key}_blocks"] = torch.stack(
                [first] + [b[f"checkpoint.{key}"] for b in blocks]
            )
    metrics = {**InductionProbes.summary(result), "checkpoints": sorted(probes.kept)}
    return Trained(
        tensors, metrics, key_metric=("validation loss (nats/token)", result.val_loss)
    )


def _probe_blocks(run: AttnOnlyRun, n: int) -> list[Int[Tensor, "32 pos"]]:
    """Blocks 1 .. n-1 of 32 repeat-probe sequences, drawn with probe seeds 1 .. n-1."""
    return [
        probe_tokens(
            run.model.d_vocab,
            dataclasses.replace(run.probes, seed=seed, repeat_batch=32),
        )
        for seed in range(1, n)
    ]


def fit_routes(cfg: CheckpointRun, device: torch.device, progress) -> Trained:
    """:func:`fit_checkpoints` with the path ablations on 8 blocks of 32 probe sequences."""
    return fit_checkpoints(cfg, device, progress, probe_blocks=8)


def checkpoint_model(
    cfg: CheckpointRun, art: Artifact, step: int, dtype: torch.dtype = torch.float32
):
    """The model a checkpoint artifact kept at ``step``, as a bridge in eval mode.

    Raises:
        KeyError: no checkpoint at ``step`` (the message lists the kept ones).
    """
    prefix = _step_prefix(step)
    state = {
        k[len(prefix) :]: v for k, v in art.tensors.items() if k.startswith(prefix)
    }
    if not state:
        raise KeyError(f"no checkpoint at step {step}; kept: {list(cfg.checkpoints)}")
    return bridge_from_state(cfg.run.model, state, dtype).eval()


def _smoke_checkpoints(cfg: CheckpointRun) -> CheckpointRun:
    """4 steps of :func:`smoke_run` (stopped there if ``cfg`` stops early), checkpoints
    at steps 2 and 4, 32 stories."""
    return dataclasses.replace(
        cfg,
        run=smoke_run(cfg.run),
        checkpoints=(2, 4),
        story_sequences=32,
        until=None if cfg.until is None else 4,
    )


# Checkpoints bracketing the committed 2-layer run's phase change: its best induction
# score is 0.03 at step 1,000, 0.09 at 1,300, 0.37 at 1,400 and 0.96 at 1,500.
CHECKPOINT_STEPS = {2: (1000, 1300, 1350, 1400, 1450, 1600), 1: (1000, 1400, 1600)}
CHECKPOINT_RUNS = {
    f"{name}-checkpoints": CheckpointRun(
        dataclasses.replace(run, train=dataclasses.replace(run.train, eval_every=50)),
        CHECKPOINT_STEPS[run.model.n_layers],
    )
    for name, run in RUNS.items()
}
# Each run's first 1,800 steps, small enough to commit: the checkpoints' patterns (and, with
# two layers, their K-composition and path ablations) in place of their weights
PHASE_RUNS = {
    f"{name}-phase": dataclasses.replace(
        CHECKPOINT_RUNS[f"{name}-checkpoints"],
        checkpoints=(1000, 1300, 1400, 1500, 1600, 1800),
        until=1800,
        keep_weights=False,
    )
    for name in RUNS
}
# The 2-layer phase retrain again through its first induction heads, measured every 10 steps
# from 1,400 to 1,500 (two of its checkpoints, 100 steps apart, bracket the heads forming):
# the order in which the key, query and value routes arrive
ROUTES_RUN = dataclasses.replace(
    PHASE_RUNS["attn-only-l2-phase"],
    checkpoints=tuple(range(1400, 1501, 10)),
    until=1500,
)


for _name, _run in RUNS.items():
    register(
        Recipe(
            name=_name,
            study=STUDY,
            config=_run,
            fit=fit,
            needs=(lmdata.DATA_NAME,),
            loader=model_from_artifact,
            smoke=smoke_run,
            # 8,000 steps at the phase retrains' measured CPU rate (5,064 s and 4,817 s
            # for 1,800 steps, evaluated twice as often as here)
            seconds={"cpu": {1: 21400, 2: 22500}[_run.model.n_layers]},
            description=(
                f"{_run.model.n_layers}-layer attention-only transformer on the story corpus"
            ),
        )
    )


def _register_retrain(
    name: str, cfg: CheckpointRun, description: str, fit=fit_checkpoints, **kw
) -> None:
    """Register a checkpoint retrain (``kw``: the :class:`Recipe` fields that differ)."""
    register(
        Recipe(
            name=name,
            study=STUDY,
            config=cfg,
            fit=fit,
            needs=(lmdata.DATA_NAME,),
            smoke=_smoke_checkpoints,
            description=description,
            **kw,
        )
    )


# GPU seconds: the committed runs' wall time on an H200 (303 s and 214 s), plus a third
# for twice as many evaluations, each with the 256-story in-context score
for _name, _cfg in CHECKPOINT_RUNS.items():
    _layers = _cfg.run.model.n_layers
    _register_retrain(
        _name,
        _cfg,
        f"{_layers}-layer attention-only transformer retrained with its weights "
        f"kept at steps {', '.join(map(str, _cfg.checkpoints))}",
        loader=checkpoint_model,
        seconds={"cuda": {2: 400, 1: 290}[_layers]},
        committed=False,  # about 5 MB of float16 weights per checkpoint
        gpu=True,
    )

# CPU seconds: the 2-layer retrain's measured 6,393 s (3.6 s a step; 5,064 s on a faster
# CPU), and the 1-layer one's 4,817 s on that faster CPU scaled alike; the 1-layer model is
# not much faster a step (embedding, unembedding and evaluations). Version 2 adds the
# per-story scores and the path ablations.
for _name, _cfg in PHASE_RUNS.items():
    _layers = _cfg.run.model.n_layers
    _register_retrain(
        _name,
        _cfg,
        f"the {_layers}-layer attention-only run's first {_cfg.last_step:,} steps "
        "retrained, every head's scores every 50 steps and "
        + ("the K-composition, path ablations and " if _layers > 1 else "")
        + "patterns at steps "
        + ", ".join(map(str, _cfg.checkpoints)),
        seconds={"cpu": {2: 6400, 1: 6100}[_layers]},
        version=2,
    )
# CPU seconds: the 2-layer phase retrain's rate over 1,500 steps, plus the 8 evaluations
# and path ablations off its cadence
_register_retrain(
    "attn-only-l2-routes",
    ROUTES_RUN,
    "the 2-layer attention-only run's first 1,500 steps retrained, every head's scores "
    "every 50 steps and the K-composition, path ablations (8 blocks of 32 probe "
    "sequences) and patterns every 10 steps from step 1,400",
    fit=fit_routes,
    seconds={"cpu": 5600},
)
