"""Modular addition a + b mod p, and the one-layer transformer that groks it.

The task and model are those of Nanda et al. (2023): inputs ``[a, b, =]``, the answer read at
``=``; 1 layer, 4 heads of 32, d_model 128, a ReLU MLP of 512, learned positions, no
LayerNorm, untied embed/unembed. ``weights`` selects what the attention and MLP matrices are
in the forward pass: full precision, binary or ternary (:mod:`interplib.quantize`), always on
full-precision latent weights; embeddings and unembedding stay full precision. So the three
variants are one architecture, and every hook and analysis applies to all of them.

:class:`GrokTransformer` is the training twin (plain torch, vmappable for batched seeds);
:func:`to_bridge` loads its *effective* weights (quantized where they are) into a
TransformerLens bridge for analysis. Both have the same state-dict keys.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from .fourier import check_modulus, frequency_norms, gini
from .quantize import Weights, flip_fraction, quantize, quantized
from .recipes import Trained

QUANTIZED = ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.in", "mlp.out")


@dataclass(frozen=True)
class GrokConfig:
    """Task, architecture and training of one batch of seeds."""

    p: int = 113                   # modulus of Nanda et al. (2023)
    frac_train: float = 0.3        # 30 % of the p² pairs train; grokking needs 30-50 % (their App. D)
    weights: Literal["fp", "binary", "ternary"] = "fp"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    data_seed: int = 598           # the TransformerLens demo's split
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    epochs: int = 25_000           # full-batch steps
    lr: float = 1e-3
    weight_decay: float = 1.0      # wd = 0 never groks (Nanda et al., App. C)
    betas: tuple[float, float] = (0.9, 0.98)
    warmup: int = 10               # linear warm-up steps, as in the paper's code
    log_every: int = 100
    checkpoints: tuple[int, ...] = (1_000, 5_000, 10_000, 15_000)  # epochs whose weights are kept (first seed)
    seed: int = 0                  # the recipe seed; models are seeded by `seeds`, the split by data_seed

    def __post_init__(self):
        check_modulus(self.p)
        if not 0 < self.frac_train < 1:
            raise ValueError(f"frac_train={self.frac_train}: use a fraction in (0, 1)")
        if self.weights not in ("fp", "binary", "ternary"):
            raise ValueError(f"weights={self.weights!r}: use 'fp', 'binary' or 'ternary'")
        if not self.seeds:
            raise ValueError("seeds=(): train at least one seed")
        if self.epochs < 1 or self.log_every < 1 or self.epochs % self.log_every:
            raise ValueError(f"epochs={self.epochs}, log_every={self.log_every}: need positive values "
                             f"with log_every dividing epochs")
        bad = [e for e in self.checkpoints if e % self.log_every or not 0 <= e <= self.epochs]
        if bad:
            raise ValueError(f"checkpoints {bad}: each must be a multiple of log_every={self.log_every} "
                             f"between 0 and epochs={self.epochs}")

    @property
    def n_ctx(self) -> int:
        return 3


def dataset(p: int) -> tuple[Int[Tensor, "pair pos"], Int[Tensor, "pair"]]:
    """Every input ``[a, b, =]`` (``=`` is token p) in row-major (a, b) order, and ``(a + b) mod p``."""
    check_modulus(p)
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    tokens = torch.stack([a.flatten(), b.flatten(), torch.full((p * p,), p)], dim=1)
    return tokens, (a.flatten() + b.flatten()) % p


def train_mask(p: int, frac_train: float, data_seed: int) -> torch.BoolTensor:
    """Which of the p² pairs are training pairs: the first ``int(frac·p²)`` of a seeded permutation."""
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(data_seed))
    mask = torch.zeros(p * p, dtype=torch.bool)
    mask[order[: int(frac_train * p * p)]] = True
    return mask


class QuantLinear(nn.Linear):
    """``nn.Linear`` whose weight goes through :func:`quantize` in the forward pass (bias kept at 0)."""

    def __init__(self, d_in: int, d_out: int, weights: Weights):
        super().__init__(d_in, d_out)
        self.weights = weights

    def effective_weight(self) -> Tensor:
        return quantize(self.weight, self.weights)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.effective_weight(), self.bias)


class Attention(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        width = cfg.n_heads * cfg.d_head
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.q, self.k, self.v = (QuantLinear(cfg.d_model, width, cfg.weights) for _ in range(3))
        self.o = QuantLinear(width, cfg.d_model, cfg.weights)
        self.register_buffer("mask", torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool).triu(1), persistent=False)

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        split = "batch pos (head_index d_head) -> batch head_index pos d_head"
        q, k, v = (einops.rearrange(f(x), split, head_index=self.n_heads) for f in (self.q, self.k, self.v))
        scores = (q @ k.transpose(-2, -1) / math.sqrt(self.d_head)).masked_fill(self.mask, float("-inf"))
        z = scores.softmax(-1) @ v
        return self.o(einops.rearrange(z, "batch head_index pos d_head -> batch pos (head_index d_head)"))


class MLP(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        # `in` is a keyword, hence setattr: the keys match the bridge's `blocks.0.mlp.in.weight`
        setattr(self, "in", QuantLinear(cfg.d_model, cfg.d_mlp, cfg.weights))
        self.out = QuantLinear(cfg.d_mlp, cfg.d_model, cfg.weights)

    def forward(self, x: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        return self.out(torch.relu(getattr(self, "in")(x)))


class Block(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        self.attn, self.mlp = Attention(cfg), MLP(cfg)

    def forward(self, resid: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        resid = resid + self.attn(resid)
        return resid + self.mlp(resid)


class GrokTransformer(nn.Module):
    """The training twin: embed + positions, one block, unembed; logits ``[batch pos p]``."""

    def __init__(self, cfg: GrokConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.p + 1, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg)])
        self.unembed = nn.Linear(cfg.d_model, cfg.p)
        for name, param in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(param)  # biases stay 0, frozen by training as in the TL demo
            else:  # TransformerLens's "gpt2" init: N(0, initializer_range = 0.8 / sqrt(d_model))
                nn.init.normal_(param, std=0.8 / math.sqrt(cfg.d_model))

    def embedded(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        """The residual stream before the block: token plus position embeddings."""
        return self.embed(tokens) + self.pos_embed.weight[: tokens.shape[-1]]

    def from_embedded(self, resid: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos p"]:
        """The logits from an embedded input (so gradients with respect to the embeddings can be taken)."""
        for block in self.blocks:
            resid = block(resid)
        return self.unembed(resid)

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos p"]:
        return self.from_embedded(self.embedded(tokens))


def weight_names(model: nn.Module) -> list[str]:
    """The trained parameters: every weight, no bias."""
    return [n for n, _ in model.named_parameters() if not n.endswith("bias")]


def effective_state_dict(model: GrokTransformer) -> dict[str, Tensor]:
    """The weights the forward pass uses: quantized where the model quantizes, else as stored."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, module in model.named_modules():
        if isinstance(module, QuantLinear):
            state[f"{name}.weight"] = quantized(module.weight.detach(), module.weights).clone()
    return state


def to_bridge(cfg: GrokConfig, state: dict[str, Tensor]):
    """A TransformerLens bridge (``boot_native``) carrying the given (effective) weights."""
    import transformer_lens.model_bridge.sources  # noqa: F401  (attaches boot_native)
    from transformer_lens.config import TransformerBridgeConfig
    from transformer_lens.model_bridge import TransformerBridge

    bridge = TransformerBridge.boot_native(TransformerBridgeConfig(
        d_model=cfg.d_model, n_heads=cfg.n_heads, d_head=cfg.d_head, n_layers=1, n_ctx=cfg.n_ctx,
        d_vocab=cfg.p + 1, d_vocab_out=cfg.p, d_mlp=cfg.d_mlp, act_fn="relu",
        normalization_type=None, positional_embedding_type="standard"))
    bridge.load_state_dict({k: v.float() for k, v in state.items()})
    return bridge.eval()


def stacked_answer_logits(cfg: GrokConfig, params: dict[str, Tensor],
                          tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "model batch p"]:
    """The logits at ``=`` of every model of a ``[model ...]`` stack of :class:`GrokTransformer` weights.

    Equal to ``model(tokens)[:, -1]`` for each model, but computed without ``vmap`` and only
    where the answer needs it. One layer means the answer sees the other positions only
    through their keys and values, and a key or value depends on nothing but the token and
    its position: so they are computed once per (position, token), ``3 × (p + 1)`` rows
    instead of ``3 × batch``, and looked up; the query, the MLP and the unembedding run at
    ``=`` alone. This is the training forward pass, several times cheaper than the full one.
    """
    def linear(x: Tensor, name: str) -> Tensor:
        """``x W^T + b`` for each model: ``x [model ... d_in]`` -> ``[model ... d_out]``."""
        W = quantize(params[f"blocks.0.{name}.weight"], cfg.weights, stacked=True)
        flat = einops.rearrange(x, "model ... d_in -> model (...) d_in")
        out = torch.baddbmm(params[f"blocks.0.{name}.bias"][:, None], flat, W.transpose(1, 2))
        return out.view(*x.shape[:-1], W.shape[1])

    def lookup(table: Tensor) -> Tensor:
        """``table [model pos vocab f]`` at each input's (position, token): ``[model batch pos f]``."""
        flat = einops.rearrange(table, "model pos vocab f -> model (pos vocab) f")
        index = tokens + table.shape[2] * torch.arange(n_pos, device=tokens.device)
        return flat.index_select(1, index.flatten()).view(len(table), *tokens.shape, -1)

    n_pos = tokens.shape[-1]
    table = params["embed.weight"][:, None] + params["pos_embed.weight"][:, :n_pos, None]  # [model pos vocab d]
    k, v = (lookup(linear(table, name)).unflatten(-1, (cfg.n_heads, cfg.d_head))       # [model batch pos head d_head]
            for name in ("attn.k", "attn.v"))
    x = table[:, -1].index_select(1, tokens[:, -1])                                      # [model batch d] at `=`
    q = linear(x, "attn.q").unflatten(-1, (cfg.n_heads, cfg.d_head))                     # [model batch head d_head]
    pattern = ((q[:, :, None] * k).sum(-1) / math.sqrt(cfg.d_head)).softmax(2)          # [model batch pos head]
    z = (pattern[..., None] * v).sum(2).flatten(-2)                                      # [model batch (head d_head)]
    resid = x + linear(z, "attn.o")
    resid = resid + linear(torch.relu(linear(resid, "mlp.in")), "mlp.out")
    return torch.baddbmm(params["unembed.bias"][:, None], resid, params["unembed.weight"].transpose(1, 2))


def train_stacked(cfg: GrokConfig, models: list[GrokTransformer], tokens: Int[Tensor, "batch pos"],
                  labels: Int[Tensor, "batch"], device: torch.device, progress, graph: bool | None = None
                  ) -> tuple[list[dict[str, Tensor]], float]:
    """Full-batch AdamW on every model at once: ``(snapshots every log_every epochs, seconds)``.

    The weights are stacked on a ``model`` axis and trained through :func:`stacked_answer_logits`;
    the loss is the sum of the models' float64 cross-entropies, so each model gets its own
    gradient, and AdamW is element-wise, so this is ``len(models)`` independent runs (a test
    compares it with the ``vmap`` trainer of :mod:`interplib.batched`). Biases stay at 0.

    A step of these small models is a few hundred tiny kernels, so on a GPU their launches,
    not the arithmetic, set the pace. With ``graph`` (the default on CUDA) the epochs after
    the learning-rate warm-up replay one captured CUDA graph of the whole step (forward,
    backward, AdamW): the same kernels on the same static tensors, launched at once.
    """
    graph = device.type == "cuda" if graph is None else graph
    if graph and device.type != "cuda":
        raise ValueError(f"graph=True needs a CUDA device, got {device}: pass graph=False or None")
    params = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).to(device)
              for n, _ in models[0].named_parameters()}
    trained = [params[n].requires_grad_() for n in weight_names(models[0])]
    opt = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=cfg.betas, capturable=graph)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / cfg.warmup))
    tokens, labels = tokens.to(device), labels[:, None].expand(-1, len(models)).to(device)

    def step() -> None:
        logits = stacked_answer_logits(cfg, params, tokens).double()
        loss = nn.functional.cross_entropy(einops.rearrange(logits, "model batch p -> batch p model"),
                                           labels, reduction="none").mean(0)
        loss.sum().backward()
        opt.step()

    captured, stream = None, torch.cuda.Stream(device) if graph else None
    snapshots = []
    start = time.perf_counter()
    for epoch in progress(range(cfg.epochs + 1), desc=f"grok-{cfg.weights}"):
        if epoch % cfg.log_every == 0:
            snapshots.append({n: v.detach().clone() for n, v in params.items()})
        if epoch == cfg.epochs:
            break
        if captured is None and graph and epoch >= max(cfg.warmup, 3):  # the rate is constant from here on
            torch.cuda.current_stream(device).wait_stream(stream)
            opt.zero_grad(set_to_none=True)                               # grads are allocated inside the graph
            captured = torch.cuda.CUDAGraph()
            with torch.cuda.graph(captured):
                step()
        if captured is not None:
            captured.replay()
            continue
        opt.zero_grad(set_to_none=True)
        if graph:   # the eager epochs before capture run on a side stream, as capture requires
            stream.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(stream):
                step()
            torch.cuda.current_stream(device).wait_stream(stream)
        else:
            step()
        sched.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return snapshots, time.perf_counter() - start


def loss_and_accuracy(logits: Float[Tensor, "batch pos p"], labels: Int[Tensor, "batch"]) -> tuple[Tensor, Tensor]:
    """Cross-entropy at the ``=`` position, in float64 (softmax collapse otherwise), and accuracy."""
    last = logits[:, -1].double()
    loss = nn.functional.cross_entropy(last, labels)
    return loss, (last.argmax(-1) == labels).double().mean()


def sum_of_squares(params: dict[str, Tensor], names: list[str]) -> Float[Tensor, "model"]:
    """Σ W² over the latent weights of each stacked model (a progress measure of Nanda et al.)."""
    return sum(params[n].double().pow(2).flatten(1).sum(-1) for n in names)


def neuron_logit_map(params: dict[str, Tensor], weights: Weights) -> Float[Tensor, "model d_mlp p"]:
    """``W_L = W_out W_U`` in TL's row form, from the effective (quantized) MLP output weights."""
    W_out = quantized(params["blocks.0.mlp.out.weight"], weights, stacked=True)   # [model d_model d_mlp]
    return einops.einsum(W_out, params["unembed.weight"], "model d_model d_mlp, model p d_model -> model d_mlp p")


@dataclass(frozen=True)
class MeasureGrid:
    """What every measure of one fit shares, built once on the training device (:func:`measure_grid`).

    Measuring a stack of snapshots then runs a handful of large device operations and no
    per-model work on the host: the pairs, their labels, the train/test cells (as indices, so
    selecting them needs no host sync), each model's key directions and the Fourier basis.
    """

    tokens: Int[Tensor, "pair pos"]              # every input [a, b, =], row-major in (a, b)
    labels: Int[Tensor, "pair"]
    train: Int[Tensor, "n_train"]                # indices of the training pairs, ascending
    test: Int[Tensor, "n_test"]
    directions: Float[Tensor, "model direction a b"]   # each model's cos/sin w_k(a+b), zero-padded
    basis: Float[Tensor, "component x"]          # fourier_basis(p), float64

    @property
    def n_models(self) -> int:
        return self.directions.shape[0]


def measure_grid(cfg: GrokConfig, freqs: list[list[int]], device: torch.device) -> MeasureGrid:
    """The constants of :func:`progress_measures` for models with key frequencies ``freqs[m]``."""
    from .fourier import fourier_basis, sum_directions

    tokens, labels = dataset(cfg.p)
    is_train = train_mask(cfg.p, cfg.frac_train, cfg.data_seed)
    width = 2 * max(len(f) for f in freqs)
    return MeasureGrid(
        tokens=tokens.to(device), labels=labels.to(device),
        train=is_train.nonzero().flatten().to(device), test=(~is_train).nonzero().flatten().to(device),
        directions=torch.stack([sum_directions(cfg.p, f, width=width) for f in freqs]).to(device),
        basis=fourier_basis(cfg.p).to(device),
    )


def progress_measures(cfg: GrokConfig, snapshot: dict[str, Tensor], grid: MeasureGrid | list[list[int]]
                      ) -> dict[str, Tensor]:
    """Every logged measure of a ``[model ...]`` stack of weights: name -> ``[model]``.

    Losses are float64 cross-entropies at ``=``; restricted loss is on the test pairs and
    excluded loss on the training pairs, each with that model's own key frequencies. The stack
    is ``n`` snapshots of the ``grid.n_models`` models, snapshot-major (model ``m`` of a
    snapshot uses ``grid.directions[m]``). ``grid`` may also be the models' key-frequency lists,
    and is then built here for this call (on the snapshot's device).
    """
    from .fourier import excluded_loss, restricted_loss

    if not isinstance(grid, MeasureGrid):
        grid = measure_grid(cfg, grid, next(iter(snapshot.values())).device)
    n_stack = len(snapshot["embed.weight"])
    if n_stack % grid.n_models:
        raise ValueError(f"the stack holds {n_stack} models, not a multiple of the grid's {grid.n_models}: "
                         f"measure whole snapshots, or build the grid for these models")
    logits = stacked_answer_logits(cfg, snapshot, grid.tokens).double()  # [model pair p]
    logit_grid = einops.rearrange(logits, "model (a b) c -> model a b c", a=cfg.p)
    label_grid = einops.rearrange(grid.labels, "(a b) -> a b", a=cfg.p)
    dirs = grid.directions.repeat(n_stack // grid.n_models, 1, 1, 1)   # snapshot-major, like the stack
    nll = -logits.log_softmax(-1).gather(-1, grid.labels.expand(len(logits), -1)[..., None]).squeeze(-1)
    correct = (logits.argmax(-1) == grid.labels).double()
    W_L = neuron_logit_map(snapshot, cfg.weights)
    return {
        "train_loss": nll.index_select(-1, grid.train).mean(-1), "test_loss": nll.index_select(-1, grid.test).mean(-1),
        "train_acc": correct.index_select(-1, grid.train).mean(-1),
        "test_acc": correct.index_select(-1, grid.test).mean(-1),
        "restricted_loss": restricted_loss(logit_grid, label_grid, dirs, grid.test),
        "excluded_loss": excluded_loss(logit_grid, label_grid, dirs, grid.train),
        "gini_embed": gini(frequency_norms(snapshot["embed.weight"][:, : cfg.p].double(), grid.basis)),
        "gini_logit_map": gini(frequency_norms(W_L.transpose(1, 2).double(), grid.basis)),
        "sum_sq": sum_of_squares(snapshot, [n for n in snapshot if not n.endswith("bias")]),
    }


def quantization_measures(cfg: GrokConfig, before: dict[str, Tensor], after: dict[str, Tensor]
                          ) -> dict[str, Tensor]:
    """BitNet's own measures between two snapshots of the stacked models: name -> ``[model]``.

    ``beta.<matrix>`` is each quantized matrix's scale mean|W| in ``after``; ``flip_frac``
    (binary and ternary only) is the fraction of all quantized entries whose level changed.
    """
    names = [f"blocks.0.{m}.weight" for m in QUANTIZED]
    out = {f"beta.{n.split('.', 2)[2].removesuffix('.weight')}": after[n].abs().flatten(1).mean(-1).double()
           for n in names}
    if cfg.weights != "fp":
        sizes = torch.tensor([after[n][0].numel() for n in names], dtype=torch.float64, device=after[names[0]].device)
        flips = torch.stack([flip_fraction(before[n], after[n], cfg.weights, stacked=True)
                             for n in names])   # [matrix model]
        out["flip_frac"] = (flips * sizes[:, None]).sum(0) / sizes.sum()
    return out


MEASURE_CHUNK = 8   # snapshots measured together (40 models of five seeds: a few GB in float64)


def _concat(snapshots: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Several ``[model ...]`` snapshots as one stack, snapshot-major."""
    return {n: torch.cat([s[n] for s in snapshots]) for n in snapshots[0]}


def fit(cfg: GrokConfig, device: torch.device, progress) -> Trained:
    """Train every seed of one variant together (full batch, AdamW), then measure each snapshot.

    The key frequencies that restricted and excluded loss need are read from each model's
    *final* embedding (``fourier.key_frequencies``), as Nanda et al. do, so every
    ``log_every`` epochs a snapshot of the weights is kept and measured after training.
    """
    from .fourier import key_frequencies

    tokens, labels = dataset(cfg.p)
    is_train = train_mask(cfg.p, cfg.frac_train, cfg.data_seed)
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(GrokTransformer(cfg))
    snapshots, seconds = train_stacked(cfg, models, tokens[is_train], labels[is_train], device, progress)
    final = snapshots[-1]
    freqs = [key_frequencies(w[: cfg.p].double()) for w in final["embed.weight"]]
    grid = measure_grid(cfg, freqs, device)   # built once: every chunk reuses it
    history: dict[str, list[Tensor]] = {}
    previous = [snapshots[0], *snapshots[:-1]]
    began = time.perf_counter()
    with torch.no_grad():
        for start in progress(range(0, len(snapshots), MEASURE_CHUNK), desc="measures"):
            part = slice(start, start + MEASURE_CHUNK)
            n = len(snapshots[part])
            measures = {**progress_measures(cfg, _concat(snapshots[part]), grid),
                        **quantization_measures(cfg, _concat(previous[part]), _concat(snapshots[part]))}
            for name, value in measures.items():
                history.setdefault(name, []).extend(value.cpu().view(n, len(models)))
    measure_seconds = time.perf_counter() - began
    tensors = {f"history.{k}": torch.stack(v, dim=-1) for k, v in history.items()}
    tensors["history.epoch"] = torch.arange(0, cfg.epochs + 1, cfg.log_every)
    tensors.update({f"final.{n}": v.float().cpu() for n, v in final.items()})
    for epoch in cfg.checkpoints:
        snap = snapshots[epoch // cfg.log_every]
        tensors.update({f"epoch{epoch}.{n}": v[:1].float().cpu() for n, v in snap.items()})
    test_acc = tensors["history.test_acc"][:, -1]
    return Trained(
        tensors=tensors,
        metrics={"key_freqs": freqs, "final_test_acc": test_acc.tolist(),
                 "final_test_loss": tensors["history.test_loss"][:, -1].tolist(),
                 "train_seconds": round(seconds, 2), "seconds_per_epoch": seconds / cfg.epochs,
                 "measure_seconds": round(measure_seconds, 2)},
        key_metric=("mean final test accuracy", float(test_acc.mean())),
    )


def load_models(cfg: GrokConfig, tensors: dict[str, Tensor], prefix: str = "final") -> list[GrokTransformer]:
    """The trained models of an artifact, one per stored seed (latent weights, quantized in the forward pass).

    ``prefix`` is ``"final"`` (every seed) or ``"epoch<N>"`` for a kept checkpoint (the first seed).
    """
    state = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    if not state:
        kept = sorted({k.split(".")[0] for k in tensors if k.startswith("epoch")})
        raise KeyError(f"no weights under {prefix!r}; the artifact keeps 'final' and {kept}")
    models = []
    for k in range(len(next(iter(state.values())))):
        model = GrokTransformer(cfg)
        model.load_state_dict({n: v[k] for n, v in state.items()})
        models.append(model.eval())
    return models
