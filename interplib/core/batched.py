"""Train many small models of one architecture at once, parameters stacked on a ``model`` axis.

Small models leave a CPU or GPU mostly idle: one step of a 10-dimensional transformer is a
handful of tiny matmuls dominated by Python and kernel-launch overhead. Stacking ``K`` models'
parameters on a leading ``model`` axis and running the forward pass under ``torch.func.vmap``
over ``torch.func.functional_call`` turns ``K`` small steps into one ``K``-times larger step.

Why this equals training the models one at a time: the models share no parameters, so the
gradient of the *sum* of their losses with respect to model ``k``'s slice is model ``k``'s own
gradient, and Adam/AdamW/SGD update each parameter element by element. Different seeds,
different head counts or head widths (through mask buffers) and different frozen sets of the
same architecture all fit in one batch; a test checks batched and sequential runs agree.

The module knows nothing about transformers: it takes a list of initialised models, a loss
``loss_fn(model_fn, batch) -> scalar or (scalar, {name: scalar})`` where ``model_fn(*inputs)``
runs the current model, a pure function ``data(step) -> batch`` and an optimiser factory.
The modular-addition study reuses it with full-batch data and AdamW.
"""

from __future__ import annotations

import copy
import ctypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.utils._pytree import tree_map

__all__ = [
    "TrainResult",
    "stack_state",
    "unstack",
    "stacked_forward",
    "train_models",
    "linear_decay",
    "LossFn",
    "trim_heap",
]

LossFn = Callable[[Callable[..., Any], Any], Any]

TRIM_EVERY = 100  # steps between two trim_heap calls in train_models


def trim_heap() -> bool:
    """Give the memory the C library holds but no tensor uses back to the system
    (glibc's ``malloc_trim``); False where there is none (not glibc).

    Without it a stacked memorization grid's resident memory grew about 6 MB a step on the
    CPU until the kernel killed the run (23 GB at step 2,300 of ``memo-grid-exp3-perhead``);
    trimmed every ``TRIM_EVERY`` steps it stays flat at the same speed (measured: 444 MiB
    over 240 steps, against 771 -> 870 MiB untrimmed). A fixed mmap threshold also keeps it
    flat but halves the speed there.
    """
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim(0)
    return True


@dataclass
class TrainResult:
    """Stacked final parameters/buffers, per-step metrics ``[model step]`` and the wall time."""

    params: dict[str, Tensor]
    buffers: dict[str, Tensor]
    history: dict[str, Float[Tensor, "model step"]]
    seconds: float
    evals: dict[str, list[Tensor]] = field(default_factory=dict)

    def model(self, base: nn.Module, k: int) -> nn.Module:
        """Model ``k`` as an ordinary module (a copy of ``base`` loaded with its slice)."""
        out = copy.deepcopy(base)
        out.load_state_dict(
            {**unstack(self.params, k), **unstack(self.buffers, k)}, strict=False
        )
        return out


def stack_state(
    models: Sequence[nn.Module],
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Parameters and buffers of identically shaped models.

    Each is stacked on a new leading ``model`` axis.
    """
    if not models:
        raise ValueError("stack_state needs at least one model")
    shapes = [{k: tuple(v.shape) for k, v in m.state_dict().items()} for m in models]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(
            "models differ in parameter names or shapes; batch only one architecture "
            "(use mask buffers for fewer heads, or train the groups separately)"
        )
    params = {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).clone()
        for n, _ in models[0].named_parameters()
    }
    buffers = {
        n: torch.stack([dict(m.named_buffers())[n] for m in models]).clone()
        for n, _ in models[0].named_buffers()
    }
    return params, buffers


def unstack(stacked: dict[str, Tensor], k: int) -> dict[str, Tensor]:
    return {n: v[k].detach().clone() for n, v in stacked.items()}


def stacked_forward(
    base: nn.Module,
    params: dict[str, Tensor],
    buffers: dict[str, Tensor],
    *inputs: Any,
    in_dims: Any = None,
) -> Any:
    """Run every stacked model on ``inputs``: outputs ``[model ...]``.

    ``inputs`` are shared, or per model with ``in_dims=0``.
    """

    def one(p, b, *x):
        return functional_call(base, (p, b), x)

    dims = (0, 0) + (
        (in_dims,) * len(inputs) if not isinstance(in_dims, tuple) else in_dims
    )
    return vmap(one, in_dims=dims)(params, buffers, *inputs)


def linear_decay(
    steps: int, start: float = 1.0, end: float = 0.0
) -> Callable[[int], float]:
    """A ``LambdaLR`` factor going linearly from ``start`` to ``end`` over ``steps`` steps."""
    return lambda step: start + (end - start) * min(step, steps) / steps


def _split(out: Any) -> tuple[Tensor, dict[str, Tensor]]:
    if isinstance(out, tuple):
        return out[0], out[1]
    return out, {}


def train_models(
    models: Sequence[nn.Module],
    loss_fn: LossFn,
    data: Callable[[int], Any],
    steps: int,
    make_optimizer: Callable[[list[Tensor]], torch.optim.Optimizer],
    *,
    schedule: Callable[[int], float] | None = None,
    trainable: Sequence[str] | None = None,
    batched: bool = True,
    data_in_dims: Any = None,
    evaluate: Callable[[dict[str, Tensor], dict[str, Tensor]], dict[str, Tensor]]
    | None = None,
    eval_every: int = 0,
    progress: Callable[..., Any] | None = None,
    desc: str = "train",
    device: torch.device | str | None = None,
) -> TrainResult:
    """Train ``models`` (same architecture, already initialised) on the same data stream.

    Args:
        loss_fn: ``loss_fn(model_fn, batch)``; ``model_fn(*inputs)`` calls the current model.
            Returns a scalar loss, or ``(loss, {name: scalar})`` for extra per-step metrics.
        data: ``data(step) -> batch``, a pure function of the step, so a sequential run sees the
            same batches; with ``data_in_dims=0`` each batch carries a leading ``model`` axis.
        make_optimizer: e.g. ``lambda ps: torch.optim.Adam(ps, lr=1e-2)``; must be element-wise.
        schedule: optional ``LambdaLR`` factor by step.
        trainable: names of the parameters to train (default all); the others are frozen.
        batched: ``True``: one ``vmap`` step for all models; ``False``: the reference loop,
            one model at a time (for the speed comparison and the equivalence test).
        evaluate: ``evaluate(params, buffers) -> {name: [model] tensor}``, called every
            ``eval_every`` steps.
        device: where to train (default: where the models are); batches are moved there.

    Returns:
        final stacked parameters and buffers, ``history[name] [model step]``, wall seconds.
    """
    if steps < 1:
        raise ValueError(f"steps={steps}: train for at least one step")
    params, buffers = stack_state(models)
    device = (
        torch.device(device)
        if device is not None
        else next(iter(params.values())).device
    )
    base = copy.deepcopy(models[0]).to(device)
    params = {n: v.to(device) for n, v in params.items()}
    buffers = {n: v.to(device) for n, v in buffers.items()}
    source = data
    data = lambda step: tree_map(
        lambda x: x.to(device) if isinstance(x, Tensor) else x, source(step)
    )  # noqa: E731
    names = list(params) if trainable is None else list(trainable)
    missing = set(names) - set(params)
    if missing:
        raise ValueError(
            f"trainable names {sorted(missing)} are not parameters; known: {sorted(params)}"
        )
    bar = progress or (lambda it, **_: it)
    start = time.perf_counter()
    if batched:
        history, evals = _run(
            base,
            params,
            buffers,
            names,
            loss_fn,
            data,
            steps,
            make_optimizer,
            schedule,
            data_in_dims,
            evaluate,
            eval_every,
            bar,
            desc,
            slot=None,
        )
    else:
        outs = []
        for k in range(len(models)):
            p_k = {n: v[k : k + 1].clone() for n, v in params.items()}
            b_k = {n: v[k : k + 1].clone() for n, v in buffers.items()}
            in_dims = data_in_dims
            outs.append(
                _run(
                    base,
                    p_k,
                    b_k,
                    names,
                    loss_fn,
                    data,
                    steps,
                    make_optimizer,
                    schedule,
                    in_dims,
                    evaluate,
                    eval_every,
                    bar,
                    f"{desc} {k}",
                    slot=k,
                )
            )
            for n in params:
                params[n][k] = p_k[n][0].detach()
        history = {n: torch.cat([h[n] for h, _ in outs]) for n in outs[0][0]}
        evals = {
            n: [
                torch.cat([e[n][i] for _, e in outs]) for i in range(len(outs[0][1][n]))
            ]
            for n in outs[0][1]
        }
    seconds = time.perf_counter() - start
    return TrainResult(
        {n: v.detach().cpu() for n, v in params.items()},
        {n: v.cpu() for n, v in buffers.items()},
        {n: v.cpu() for n, v in history.items()},
        seconds,
        {n: [v.cpu() for v in vs] for n, vs in evals.items()},
    )


def _run(
    base,
    params,
    buffers,
    names,
    loss_fn,
    data,
    steps,
    make_optimizer,
    schedule,
    data_in_dims,
    evaluate,
    eval_every,
    bar,
    desc,
    slot,
):
    for n in names:
        params[n].requires_grad_(True)
    opt = make_optimizer([params[n] for n in names])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule) if schedule else None

    def one(p, b, batch):
        return _split(loss_fn(lambda *x: functional_call(base, (p, b), x), batch))

    if slot is None:
        step_fn = vmap(one, in_dims=(0, 0, data_in_dims))
    else:  # the reference loop: a plain call on model `slot`, no vmap

        def step_fn(p, b, batch):
            if data_in_dims == 0:
                batch = tree_map(lambda x: x[0], batch)
            loss, extra = one(
                {n: v[0] for n, v in p.items()}, {n: v[0] for n, v in b.items()}, batch
            )
            return loss[None], {k: v[None] for k, v in extra.items()}

    records: dict[str, list[Tensor]] = {}
    evals: dict[str, list[Tensor]] = {}
    for step in bar(range(steps), total=steps, desc=desc):
        batch = data(step)
        if slot is not None and data_in_dims == 0:
            batch = tree_map(lambda x: x[slot : slot + 1], batch)
        if evaluate is not None and eval_every and step % eval_every == 0:
            with torch.no_grad():
                for k, v in evaluate(params, buffers).items():
                    evals.setdefault(k, []).append(v.detach())
        loss, extra = step_fn(params, buffers, batch)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if sched is not None:
            sched.step()
        for k, v in {"loss": loss, **extra}.items():
            records.setdefault(k, []).append(v.detach())
        if step % TRIM_EVERY == TRIM_EVERY - 1:
            trim_heap()
    for n in names:
        params[n].requires_grad_(False)
    if evaluate is not None and eval_every:
        with torch.no_grad():
            for k, v in evaluate(params, buffers).items():
                evals.setdefault(k, []).append(v.detach())
    return {k: torch.stack(v, dim=-1) for k, v in records.items()}, evals
