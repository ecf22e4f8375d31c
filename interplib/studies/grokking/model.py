"""Modular addition a + b mod p, and the one-layer transformer that groks it.

The task and model are those of Nanda et al. (2023): inputs ``[a, b, =]``, the answer read at
``=``; 1 layer, 4 heads of 32, d_model 128, a ReLU MLP of 512, learned positions, no LayerNorm,
untied embed/unembed. ``weights`` selects what the attention and MLP matrices are in the forward
pass: full precision, binary or ternary (:mod:`interplib.studies.grokking.quantize`), always on
full-precision latent weights; embeddings and unembedding stay full precision. So the three
variants are one architecture, and every hook and analysis applies to all of them.

:class:`GrokTransformer` is the training twin (plain torch, vmappable for batched seeds);
:func:`to_bridge` loads its *effective* weights (quantized where they are) into a
TransformerLens bridge for analysis. Both have the same state-dict keys.

:class:`GrokVariantConfig` adds the options of issue 22's sweeps (several learning rates and
weight decays in one stack, quantized embeddings, 8-bit activations, a float32 loss, Zhong et
al.'s attention rate and model). It is a subclass, not new ``GrokConfig`` fields: an
artifact's validity compares its stored config with ``asdict(config)``, so a new field on
``GrokConfig`` would make the committed ``grok-*`` artifacts stale. :func:`options` reads the
options of any config (a plain ``GrokConfig`` has the defaults, its model unchanged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.interp.fourier import check_modulus
from interplib.studies.grokking.quantize import (
    Weights,
    quantize,
    quantize_activations,
    quantized,
)

__all__ = [
    "QUANTIZED",
    "GrokConfig",
    "GrokVariantConfig",
    "options",
    "cell_settings",
    "trained_names",
    "QuantLinear",
    "Attention",
    "MLP",
    "Block",
    "GrokTransformer",
    "weight_names",
    "effective_state_dict",
    "to_bridge",
]

QUANTIZED = ("attn.q", "attn.k", "attn.v", "attn.o", "mlp.in", "mlp.out")


@dataclass(frozen=True)
class GrokConfig:
    """Task, architecture and training of one batch of seeds."""

    p: int = 113  # modulus of Nanda et al. (2023)
    frac_train: float = (
        0.3  # 30 % of the p² pairs train; grokking needs 30-50 % (their App. D)
    )
    weights: Literal["fp", "binary", "ternary"] = "fp"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    data_seed: int = 598  # the TransformerLens demo's split
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    epochs: int = 25_000  # full-batch steps
    lr: float = 1e-3
    weight_decay: float = 1.0  # wd = 0 never groks (Nanda et al., App. C)
    betas: tuple[float, float] = (0.9, 0.98)
    warmup: int = 10  # linear warm-up steps, as in the paper's code
    log_every: int = 100
    checkpoints: tuple[int, ...] = (
        1_000,
        5_000,
        10_000,
        15_000,
    )  # epochs whose weights are kept (first seed)
    seed: int = (
        0  # the recipe seed; models are seeded by `seeds`, the split by data_seed
    )

    def __post_init__(self):
        check_modulus(self.p)
        if not 0 < self.frac_train < 1:
            raise ValueError(f"frac_train={self.frac_train}: use a fraction in (0, 1)")
        if self.weights not in ("fp", "binary", "ternary"):
            raise ValueError(
                f"weights={self.weights!r}: use 'fp', 'binary' or 'ternary'"
            )
        if not self.seeds:
            raise ValueError("seeds=(): train at least one seed")
        if self.epochs < 1 or self.log_every < 1 or self.epochs % self.log_every:
            raise ValueError(
                f"epochs={self.epochs}, log_every={self.log_every}: need positive values "
                f"with log_every dividing epochs"
            )
        bad = [
            e
            for e in self.checkpoints
            if e % self.log_every or not 0 <= e <= self.epochs
        ]
        if bad:
            raise ValueError(
                f"checkpoints {bad}: each must be a multiple of log_every={self.log_every} "
                f"between 0 and epochs={self.epochs}"
            )

    @property
    def n_ctx(self) -> int:
        return 3

    @property
    def d_vocab(self) -> int:
        """The number of input tokens (the residues and ``=``)."""
        return self.p + 1


@dataclass(frozen=True)
class GrokVariantConfig(GrokConfig):
    """A :class:`GrokConfig` with issue 22's options; every default is ``GrokConfig``'s model.

    The stack holds ``len(cells) × len(seeds)`` models, cell-major; the models of one seed
    share their initial weights across cells (and across recipes of one architecture).
    """

    # (lr, weight_decay) of each cell of the stack; () is the one cell (lr, weight_decay)
    cells: tuple[tuple[float, float], ...] = ()
    quantize_embed: bool = (
        False  # also quantize token and position embeddings, unembedding
    )
    act_bits: int = 0  # BitNet's absmax activations into every block matrix; 0: off
    loss_dtype: Literal["float64", "float32"] = "float64"
    # Zhong et al. (2023): pattern = rate · softmax + (1 - rate) · 1 (0: constant attention)
    attention_rate: float = 1.0
    # "zhong": their model: no `=` (the answer read at b), their init, trained MLP biases
    architecture: Literal["nanda", "zhong"] = "nanda"
    final_models: int | None = None  # models whose final weights are stored (None: all)

    def __post_init__(self):
        super().__post_init__()
        if self.weights == "fp" and self.quantize_embed:
            raise ValueError("quantize_embed=True needs weights='binary' or 'ternary'")
        if self.act_bits not in (0, 4, 8):
            raise ValueError(f"act_bits={self.act_bits}: use 0 (off), 4 or 8")
        if self.loss_dtype not in ("float64", "float32"):
            raise ValueError(f"loss_dtype={self.loss_dtype!r}: use float64 or float32")
        if self.final_models is not None and self.final_models < 0:
            raise ValueError(
                f"final_models={self.final_models}: use None (every model), 0 or more"
            )
        if not 0 <= self.attention_rate <= 1:
            raise ValueError(f"attention_rate={self.attention_rate}: use [0, 1]")
        if self.architecture not in ("nanda", "zhong"):
            raise ValueError(f"architecture={self.architecture!r}: nanda or zhong")
        if any(lr <= 0 or wd < 0 for lr, wd in self.cells):
            raise ValueError(f"cells={self.cells}: need lr > 0 and weight_decay >= 0")

    @property
    def n_ctx(self) -> int:
        return 2 if self.architecture == "zhong" else 3

    @property
    def d_vocab(self) -> int:
        return self.p if self.architecture == "zhong" else self.p + 1


_DEFAULTS = GrokVariantConfig()


def options(cfg: GrokConfig) -> GrokVariantConfig:
    """The variant options of ``cfg``: itself, or the defaults for a plain ``GrokConfig``."""
    return cfg if isinstance(cfg, GrokVariantConfig) else _DEFAULTS


def cell_settings(cfg: GrokConfig) -> list[tuple[float, float]]:
    """``(lr, weight_decay)`` of each cell of the stack (one cell for a plain config)."""
    return list(options(cfg).cells) or [(cfg.lr, cfg.weight_decay)]


def trained_names(cfg: GrokConfig, model: nn.Module) -> list[str]:
    """The parameters training updates: every weight, and Zhong et al.'s MLP biases."""
    names = weight_names(model)
    if options(cfg).architecture == "zhong":
        names += ["blocks.0.mlp.in.bias", "blocks.0.mlp.out.bias"]
    return names


class QuantLinear(nn.Linear):
    """``nn.Linear`` whose weight goes through :func:`~interplib.studies.grokking.quantize.quantize`
    in the forward pass (bias kept at 0), and its input through ``act_bits``-bit absmax
    quantization when ``act_bits`` is not 0."""

    weights: Weights

    def __init__(self, d_in: int, d_out: int, weights: Weights, act_bits: int = 0):
        super().__init__(d_in, d_out)
        self.weights = weights
        self.act_bits = act_bits

    def effective_weight(self) -> Tensor:
        return quantize(self.weight, self.weights)

    def forward(self, x: Tensor) -> Tensor:
        x = quantize_activations(x, self.act_bits)
        return nn.functional.linear(x, self.effective_weight(), self.bias)


class Attention(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        width = cfg.n_heads * cfg.d_head
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.rate, bits = options(cfg).attention_rate, options(cfg).act_bits
        self.q, self.k, self.v = (
            QuantLinear(cfg.d_model, width, cfg.weights, bits) for _ in range(3)
        )
        self.o = QuantLinear(width, cfg.d_model, cfg.weights, bits)
        self.register_buffer(
            "mask",
            torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool).triu(1),
            persistent=False,
        )

    def forward(
        self, x: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        split = "batch pos (head_index d_head) -> batch head_index pos d_head"
        q, k, v = (
            einops.rearrange(f(x), split, head_index=self.n_heads)
            for f in (self.q, self.k, self.v)
        )
        scores = (q @ k.transpose(-2, -1) / math.sqrt(self.d_head)).masked_fill(
            self.mask, float("-inf")
        )
        pattern = scores.softmax(-1)
        if self.rate != 1:  # Zhong et al.'s constant part: 1 on every visible position
            visible = pattern.new_ones(pattern.shape[-2:]).masked_fill(self.mask, 0)
            pattern = self.rate * pattern + (1 - self.rate) * visible
        z = pattern @ v
        return self.o(
            einops.rearrange(
                z, "batch head_index pos d_head -> batch pos (head_index d_head)"
            )
        )


class MLP(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        # `in` is a keyword, hence setattr: the keys match the bridge's `blocks.0.mlp.in.weight`
        bits = options(cfg).act_bits
        setattr(self, "in", QuantLinear(cfg.d_model, cfg.d_mlp, cfg.weights, bits))
        self.out = QuantLinear(cfg.d_mlp, cfg.d_model, cfg.weights, bits)

    def forward(
        self, x: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        return self.out(torch.relu(getattr(self, "in")(x)))


class Block(nn.Module):
    def __init__(self, cfg: GrokConfig):
        super().__init__()
        self.attn, self.mlp = Attention(cfg), MLP(cfg)

    def forward(
        self, resid: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        resid = resid + self.attn(resid)
        return resid + self.mlp(resid)


class GrokTransformer(nn.Module):
    """The training twin: embed + positions, one block, unembed; logits ``[batch pos p]``."""

    def __init__(self, cfg: GrokConfig):
        super().__init__()
        opts = options(cfg)
        # quantized embeddings: what the forward pass reads (None: full precision)
        self.embed_weights: Weights | None = (
            cfg.weights if opts.quantize_embed else None
        )
        self.embed = nn.Embedding(cfg.d_vocab, cfg.d_model)
        self.pos_embed = nn.Embedding(cfg.n_ctx, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg)])
        self.unembed = (
            QuantLinear(cfg.d_model, cfg.p, cfg.weights)
            if opts.quantize_embed
            else nn.Linear(cfg.d_model, cfg.p)
        )
        for name, param in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(
                    param
                )  # biases stay 0, frozen by training as in the TL demo
            elif opts.architecture == "zhong":
                nn.init.normal_(param, std=1 / math.sqrt(_zhong_fan(name, cfg)))
            else:  # TransformerLens's "gpt2" init: N(0, initializer_range = 0.8 / sqrt(d_model))
                nn.init.normal_(param, std=0.8 / math.sqrt(cfg.d_model))

    def embedded(
        self, tokens: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "batch pos d_model"]:
        """The residual stream before the block: token plus position embeddings."""
        W_E, W_pos = self.embed.weight, self.pos_embed.weight
        if self.embed_weights is not None:
            W_E, W_pos = (quantize(W, self.embed_weights) for W in (W_E, W_pos))
        return W_E[tokens] + W_pos[: tokens.shape[-1]]

    def from_embedded(
        self, resid: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos p"]:
        """The logits from an embedded input.

        So gradients with respect to the embeddings can be taken.
        """
        for block in self.blocks:
            resid = block(resid)
        return self.unembed(resid)

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos p"]:
        return self.from_embedded(self.embedded(tokens))


def _zhong_fan(name: str, cfg: GrokConfig) -> int:
    """The ``randn / sqrt(n)`` scale of each weight in Zhong et al.'s code: ``n`` is the
    vocabulary for the unembedding, d_mlp for the MLP's input matrix, else d_model."""
    if name == "unembed.weight":
        return cfg.p
    return cfg.d_mlp if name == "blocks.0.mlp.in.weight" else cfg.d_model


def weight_names(model: nn.Module) -> list[str]:
    """The trained parameters: every weight, no bias."""
    return [n for n, _ in model.named_parameters() if not n.endswith("bias")]


def effective_state_dict(model: GrokTransformer) -> dict[str, Tensor]:
    """The weights the forward pass uses: quantized where the model quantizes, else as stored."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, module in model.named_modules():
        if isinstance(module, QuantLinear):
            state[f"{name}.weight"] = quantized(
                module.weight.detach(), module.weights
            ).clone()
    if model.embed_weights is not None:
        for name in ("embed.weight", "pos_embed.weight"):
            state[name] = quantized(state[name], model.embed_weights).clone()
    return state


def to_bridge(cfg: GrokConfig, state: dict[str, Tensor]):
    """A TransformerLens bridge (``boot_native``) carrying the given (effective) weights."""
    from transformer_lens.config import TransformerBridgeConfig

    # the function TL attaches as TransformerBridge.boot_native (a setattr pyright cannot see)
    from transformer_lens.model_bridge.sources import boot_native

    opts = options(cfg)
    if opts.act_bits or opts.attention_rate != 1 or opts.architecture != "nanda":
        raise ValueError(
            "a TransformerLens bridge has no quantized activations, attention rate or "
            "Zhong et al.'s model: analyse a GrokTransformer instead"
        )
    bridge = boot_native(
        TransformerBridgeConfig(
            d_model=cfg.d_model,
            n_heads=cfg.n_heads,
            d_head=cfg.d_head,
            n_layers=1,
            n_ctx=cfg.n_ctx,
            d_vocab=cfg.p + 1,
            d_vocab_out=cfg.p,
            d_mlp=cfg.d_mlp,
            act_fn="relu",
            normalization_type=None,
            positional_embedding_type="standard",
        )
    )
    bridge.load_state_dict({k: v.float() for k, v in state.items()})
    return bridge.eval()
