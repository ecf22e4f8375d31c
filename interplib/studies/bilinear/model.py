"""Our small transformers, each readable in one sitting.

``BilinearTransformer`` is the architecture of the ``tdooms/TinyStories-*`` bilinear family
(Pearce et al., 2025): pre-norm RMSNorm without biases, rotary positions (NeoX "rotate-half"
over the whole head), causal attention, and a **bilinear MLP** ``P((L x) ⊙ (R x))`` with no
elementwise nonlinearity, untied embedding and unembedding, no biases anywhere::

    x₀ = W_E[t]
    x ← x + Attn(RMS₁(x));   x ← x + MLP(RMS₂(x))      (per block)
    logits = RMS_f(x) @ W_U

Weights use TransformerLens' row-vector layout and names (``resid @ W``): ``W_E [d_vocab
d_model]``, ``W_Q|W_K|W_V [head_index d_model d_head]``, ``W_O [head_index d_head d_model]``,
``W_gate|W_in [d_model d_mlp]``, ``W_out [d_mlp d_model]``, ``W_U [d_model d_vocab]``; the
norms' gains are ``ln1.w``, ``ln2.w``, ``ln_final.w``. In the column-vector notation of the
chapter, ``L = W_gateᵀ``, ``R = W_inᵀ``, ``P = W_outᵀ``, ``E = W_Eᵀ``, ``U = W_Uᵀ``.

TransformerLens has no identity-gated MLP, so this is our own module; every named activation
goes through a ``HookPoint`` under TransformerLens' names, so ``run_with_cache`` and hooks
work. The MLP's hooks follow TL's gated MLP: left ``mlp.hook_pre`` (``x @ W_gate``), right
``mlp.hook_pre_linear`` (``x @ W_in``), product ``mlp.hook_post``. Without transformer-lens
installed (a bare GPU machine), the hook points are plain identities: training needs only torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from interplib.core.hooks import HookedRootModule, HookPoint
from interplib.core.training import next_token_loss

__all__ = [
    "BilinearConfig",
    "RMSNorm",
    "rotate_half",
    "Attention",
    "BilinearMLP",
    "Block",
    "Embed",
    "Unembed",
    "BilinearTransformer",
    "n_params",
    "model_tensors",
    "model_from_tensors",
]


@dataclass(frozen=True)
class BilinearConfig:
    """A bilinear transformer of the ``tdooms/TinyStories-*`` family, with its init seed."""

    d_vocab: int = 4096  # the story tokenizer's size, as the original TinyStories-4096
    n_layers: int = 1
    d_model: int = 256
    n_heads: int = 4
    d_mlp: int = (
        768  # 3·d_model: the original family's width (fits the 11.8 MB checkpoint)
    )
    n_ctx: int = 256
    rotary_base: float = 10000.0
    rotary_dim: int | None = (
        None  # dims of each head that rotate; None: all (the largest even ≤ d_head)
    )
    eps: float = 1e-8  # the original RMSNorm's epsilon
    init_std: float = 0.02  # every weight ~ N(0, 0.02²), as the original
    seed: int = 0

    def __post_init__(self):
        for field in ("d_vocab", "n_layers", "d_model", "n_heads", "d_mlp", "n_ctx"):
            if getattr(self, field) < 1:
                raise ValueError(
                    f"{field}={getattr(self, field)}: use a positive integer"
                )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: "
                f"pick n_heads dividing d_model (e.g. 4 for d_model=256)"
            )
        if self.rotary_dim is not None and not (
            0 < self.rotary_dim <= self.d_head and self.rotary_dim % 2 == 0
        ):
            raise ValueError(
                f"rotary_dim={self.rotary_dim}: rotary positions rotate pairs of dimensions, "
                f"use an even number in 2 … d_head={self.d_head} (or None for all)"
            )
        if self.eps <= 0 or self.init_std <= 0 or self.rotary_base <= 1:
            raise ValueError(
                f"eps={self.eps}, init_std={self.init_std}, rotary_base={self.rotary_base}: "
                f"need eps > 0, init_std > 0, rotary_base > 1"
            )

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    @property
    def n_rotary(self) -> int:
        return (
            self.rotary_dim
            if self.rotary_dim is not None
            else self.d_head - self.d_head % 2
        )

    @property
    def name(self) -> str:  # "bilinear-l1-d256-v4096-s0": the artifact stem
        return f"bilinear-l{self.n_layers}-d{self.d_model}-v{self.d_vocab}-s{self.seed}"


class RMSNorm(nn.Module):
    """``w ⊙ x / √(mean(x²) + eps)``.

    ``hook_scale`` is the divisor, ``hook_normalized`` is x/scale.
    """

    def __init__(self, cfg: BilinearConfig):
        super().__init__()
        self.eps = cfg.eps
        self.w = nn.Parameter(torch.ones(cfg.d_model))
        self.hook_scale = HookPoint()  # [batch pos 1]
        self.hook_normalized = HookPoint()  # [batch pos d_model]

    def forward(
        self, x: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        scale = self.hook_scale((x.pow(2).mean(-1, keepdim=True) + self.eps).sqrt())
        return self.hook_normalized(x / scale) * self.w


def rotate_half(x: Float[Tensor, "... d_head"]) -> Float[Tensor, "... d_head"]:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    """Causal multi-head attention with NeoX rotary positions on q and k, no biases."""

    # buffers and hook points made in __init__ (by register_buffer and setattr)
    rotary_cos: Tensor
    rotary_sin: Tensor
    mask: Tensor
    hook_q: HookPoint
    hook_k: HookPoint
    hook_v: HookPoint
    hook_rot_q: HookPoint
    hook_rot_k: HookPoint
    hook_attn_scores: HookPoint
    hook_pattern: HookPoint
    hook_z: HookPoint

    def __init__(self, cfg: BilinearConfig):
        super().__init__()
        self.cfg = cfg
        shape = (cfg.n_heads, cfg.d_model, cfg.d_head)
        self.W_Q, self.W_K, self.W_V = (
            nn.Parameter(torch.empty(shape)) for _ in range(3)
        )
        self.W_O = nn.Parameter(torch.empty(cfg.n_heads, cfg.d_head, cfg.d_model))
        r = cfg.n_rotary
        inv_freq = 1.0 / cfg.rotary_base ** (
            torch.arange(0, r, 2, dtype=torch.float64) / r
        )
        angles = einops.einsum(
            torch.arange(cfg.n_ctx, dtype=torch.float64),
            inv_freq,
            "pos, freq -> pos freq",
        )
        angles = torch.cat(
            (angles, angles), dim=-1
        )  # rotate-half pairs dim j with j + r/2
        self.register_buffer("rotary_cos", angles.cos().float(), persistent=False)
        self.register_buffer("rotary_sin", angles.sin().float(), persistent=False)
        self.register_buffer(
            "mask",
            torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool).tril(),
            persistent=False,
        )
        for name in ("q", "k", "v", "rot_q", "rot_k", "attn_scores", "pattern", "z"):
            setattr(self, f"hook_{name}", HookPoint())

    def rotate(
        self, x: Float[Tensor, "batch pos head_index d_head"]
    ) -> Float[Tensor, "batch pos head_index d_head"]:
        n, r = x.shape[1], self.cfg.n_rotary
        cos, sin = self.rotary_cos[:n, None, :], self.rotary_sin[:n, None, :]
        x_rot, x_pass = x[..., :r], x[..., r:]
        return torch.cat((x_rot * cos + rotate_half(x_rot) * sin, x_pass), dim=-1)

    def forward(
        self, x: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        q = self.hook_q(einops.einsum(x, self.W_Q, "b p d, h d e -> b p h e"))
        k = self.hook_k(einops.einsum(x, self.W_K, "b p d, h d e -> b p h e"))
        v = self.hook_v(einops.einsum(x, self.W_V, "b p d, h d e -> b p h e"))
        q, k = self.hook_rot_q(self.rotate(q)), self.hook_rot_k(self.rotate(k))
        scores = einops.einsum(q, k, "b q h e, b k h e -> b h q k") / math.sqrt(
            self.cfg.d_head
        )
        n = x.shape[1]
        scores = self.hook_attn_scores(
            scores.masked_fill(~self.mask[:n, :n], float("-inf"))
        )
        pattern = self.hook_pattern(scores.softmax(dim=-1))
        z = self.hook_z(einops.einsum(pattern, v, "b h q k, b k h e -> b q h e"))
        return einops.einsum(z, self.W_O, "b q h e, h e d -> b q d")


class BilinearMLP(nn.Module):
    """``((x @ W_gate) ⊙ (x @ W_in)) @ W_out``: a gated MLP whose gate is the identity."""

    def __init__(self, cfg: BilinearConfig):
        super().__init__()
        self.W_gate = nn.Parameter(
            torch.empty(cfg.d_model, cfg.d_mlp)
        )  # left,  L = W_gateᵀ
        self.W_in = nn.Parameter(
            torch.empty(cfg.d_model, cfg.d_mlp)
        )  # right, R = W_inᵀ
        self.W_out = nn.Parameter(torch.empty(cfg.d_mlp, cfg.d_model))  # P = W_outᵀ
        self.hook_pre, self.hook_pre_linear, self.hook_post = (
            HookPoint(),
            HookPoint(),
            HookPoint(),
        )

    def forward(self, x: Float[Tensor, "... d_model"]) -> Float[Tensor, "... d_model"]:
        left = self.hook_pre(x @ self.W_gate)
        right = self.hook_pre_linear(x @ self.W_in)
        return self.hook_post(left * right) @ self.W_out


class Block(nn.Module):
    # hook points made in __init__ (by setattr)
    hook_resid_pre: HookPoint
    hook_attn_out: HookPoint
    hook_resid_mid: HookPoint
    hook_mlp_out: HookPoint
    hook_resid_post: HookPoint

    def __init__(self, cfg: BilinearConfig):
        super().__init__()
        self.ln1, self.attn, self.ln2, self.mlp = (
            RMSNorm(cfg),
            Attention(cfg),
            RMSNorm(cfg),
            BilinearMLP(cfg),
        )
        for name in ("resid_pre", "attn_out", "resid_mid", "mlp_out", "resid_post"):
            setattr(self, f"hook_{name}", HookPoint())

    def forward(
        self, x: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_model"]:
        x = self.hook_resid_pre(x)
        x = self.hook_resid_mid(x + self.hook_attn_out(self.attn(self.ln1(x))))
        return self.hook_resid_post(x + self.hook_mlp_out(self.mlp(self.ln2(x))))


class Embed(nn.Module):
    def __init__(self, cfg: BilinearConfig):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))

    def forward(
        self, tokens: Int[Tensor, "batch pos"]
    ) -> Float[Tensor, "batch pos d_model"]:
        return self.W_E[tokens]


class Unembed(nn.Module):
    def __init__(self, cfg: BilinearConfig):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab))

    def forward(
        self, x: Float[Tensor, "batch pos d_model"]
    ) -> Float[Tensor, "batch pos d_vocab"]:
        return x @ self.W_U


class BilinearTransformer(HookedRootModule):
    """The bilinear transformer; ``model(tokens)`` gives logits, ``run_with_cache`` works.

    State-dict names are TransformerLens' (``embed.W_E``, ``blocks.0.attn.W_Q``,
    ``blocks.0.mlp.W_gate``, ``ln_final.w``, ``unembed.W_U``, ...).
    """

    def __init__(self, cfg: BilinearConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = RMSNorm(cfg)
        self.unembed = Unembed(cfg)
        self.reset_parameters()
        self.setup()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Gains to 1, every matrix ~ N(0, init_std²), from ``cfg.seed`` (global RNG untouched)."""
        g = torch.Generator().manual_seed(self.cfg.seed)
        for name, p in self.named_parameters():
            if name.endswith(".w"):
                p.fill_(1.0)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * self.cfg.init_std)

    def forward(self, tokens: Int[Tensor, "batch pos"], return_type: str = "logits"):
        """Logits ``[batch pos d_vocab]``; ``return_type="loss"`` gives the mean next-token loss."""
        if tokens.ndim == 1:
            tokens = tokens[None]
        if tokens.shape[-1] > self.cfg.n_ctx:
            raise ValueError(
                f"{tokens.shape[-1]} positions but n_ctx={self.cfg.n_ctx}: "
                f"cut the sequence or build the model with a larger n_ctx"
            )
        x = self.hook_embed(self.embed(tokens))
        for block in self.blocks:
            x = block(x)
        logits = self.unembed(self.ln_final(x))
        if return_type == "logits":
            return logits
        if return_type == "loss":
            return next_token_loss(logits, tokens)
        raise ValueError(f"return_type={return_type!r}: use 'logits' or 'loss'")

    @property
    def W_E(self) -> Float[Tensor, "d_vocab d_model"]:
        return self.embed.W_E

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]:
        return self.unembed.W_U


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_tensors(
    model: nn.Module, dtype: torch.dtype = torch.float16
) -> dict[str, Tensor]:
    """The state dict as CPU tensors for an artifact.

    float16 halves the files (1 layer ≈ 5.9 MB).
    """
    return {
        name: t.detach().to("cpu", dtype).contiguous()
        for name, t in model.state_dict().items()
    }


def model_from_tensors(
    cfg: BilinearConfig, tensors: dict[str, Tensor]
) -> BilinearTransformer:
    """A float32 model (eval mode) from :func:`model_tensors`; every parameter must be present."""
    model = BilinearTransformer(cfg)
    model.load_state_dict({name: t.float() for name, t in tensors.items()}, strict=True)
    return model.eval()
