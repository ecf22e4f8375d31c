"""Issue 22's runs: variant options against brute force, cells as separate runs, storage."""

import math
from dataclasses import asdict, replace
from typing import cast

import pytest
import torch
from builders import tiny_grok_config as tiny

from interplib.core import recipes as core_recipes
from interplib.interp import clockpizza
from interplib.studies.grokking import recipes as grok_recipes
from interplib.studies.grokking.measures import clock_pizza
from interplib.studies.grokking.model import (
    Attention,
    Block,
    GrokConfig,
    GrokTransformer,
    GrokVariantConfig,
)
from interplib.studies.grokking.quantize import (
    absmax_quantized,
    level_preserving_half,
    quantize_activations,
    quantized,
)
from interplib.studies.grokking.sweeps import (
    CPU_TRAINED,
    SWEEPS,
    compact,
    gpu_seconds,
    sweep_smoke,
)
from interplib.studies.grokking.task import dataset
from interplib.studies.grokking.training import stacked_answer_logits, train_stacked


def variant(**overrides) -> GrokVariantConfig:
    return GrokVariantConfig(**{**asdict(tiny()), **overrides})


def test_absmax_quantization_matches_a_loop_over_rows():
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64) * torch.rand(5, 1, dtype=torch.float64)
    for bits in (4, 8):
        q = 2 ** (bits - 1)
        got = absmax_quantized(x, bits)
        for row, out in zip(x, got, strict=True):
            gamma = max(abs(float(v)) for v in row)
            ref = [
                max(-(q - 1), min(q - 1, round(float(v) * q / gamma))) * gamma / q
                for v in row
            ]
            torch.testing.assert_close(out, torch.tensor(ref, dtype=torch.float64))
        levels = got * q / x.abs().amax(-1, keepdim=True)
        assert torch.allclose(levels, levels.round())
        assert levels.round().abs().max() <= q - 1


def test_activation_quantization_passes_the_gradient_straight_through():
    x = torch.randn(3, 4, requires_grad=True)
    quantize_activations(x, 8).pow(2).sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, 2 * absmax_quantized(x.detach(), 8))
    assert quantize_activations(x, 0) is x


@pytest.mark.parametrize("weights", ["binary", "ternary"])
def test_level_preserving_half_keeps_every_quantized_level(weights):
    torch.manual_seed(0)
    # many matrices, their boundaries at different places between float16 neighbours
    W = torch.randn(32, 40, 50) + torch.linspace(0.2, 0.5, 32)[:, None, None]
    # put entries just beside each boundary, where plain float16 rounding crosses it
    noise = 1e-4 * torch.randn(32, 20, 50)
    for _ in range(5):  # the boundary moves with the entries put beside it
        scale = W.abs().mean((1, 2), keepdim=True)
        edge = W.mean((1, 2), keepdim=True) if weights == "binary" else 0.5 * scale
        W[:, :20] = edge + noise
    plain = torch.sign(quantized(W.half().float(), weights, stacked=True))
    levels = torch.sign(quantized(W, weights, stacked=True))
    assert bool((plain != levels).any())  # the test does probe the boundary
    half = level_preserving_half(W, weights, stacked=True)
    assert half.dtype == torch.float16
    assert torch.equal(
        torch.sign(quantized(half.float(), weights, stacked=True)), levels
    )
    ulp = (W.abs().clamp(min=6e-5) * 2**-10).float()
    assert bool(((half.float() - W).abs() <= 2 * ulp).all())


def test_a_variant_config_with_defaults_is_the_plain_model():
    plain, same = tiny(), variant()
    torch.manual_seed(0)
    a = GrokTransformer(plain)
    torch.manual_seed(0)
    b = GrokTransformer(same)
    tokens, _ = dataset(plain.p)
    torch.testing.assert_close(a(tokens), b(tokens), rtol=0, atol=0)
    # the committed artifacts' configs stay what they were: no field was added
    assert set(asdict(plain)) == set(asdict(GrokConfig()))


@pytest.mark.parametrize(
    "opts",
    [
        dict(weights="binary", act_bits=8),
        dict(weights="ternary", quantize_embed=True),
        dict(attention_rate=0.0),
        dict(attention_rate=0.3, architecture="zhong"),
    ],
)
def test_stacked_answer_logits_follow_every_option(opts):
    cfg = variant(seeds=(0, 1), **opts)
    models = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        models.append(GrokTransformer(cfg).double())
    params = {
        n: torch.stack([dict(m.named_parameters())[n].detach() for m in models])
        for n, _ in models[0].named_parameters()
    }
    tokens = dataset(cfg.p)[0][:, : cfg.n_ctx]
    got = stacked_answer_logits(cfg, params, tokens)
    for k, m in enumerate(models):
        with torch.no_grad():
            torch.testing.assert_close(got[k], m(tokens)[:, -1], rtol=1e-9, atol=1e-9)


def _pattern(model: GrokTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """The answer position's attention pattern, recomputed from the model's weights."""
    attn = cast(Attention, cast(Block, model.blocks[0]).attn)
    x = model.embedded(tokens)
    q, k = (
        f(x).unflatten(-1, (attn.n_heads, attn.d_head)).transpose(1, 2)
        for f in (attn.q, attn.k)
    )
    scores = q[:, :, -1:] @ k.transpose(-2, -1) / math.sqrt(attn.d_head)
    return scores.softmax(-1)[:, :, 0]  # [batch head pos]


def test_rate_zero_attention_is_constant_and_rate_one_is_standard():
    tokens = dataset(7)[0][:, :2]
    outs = {}
    for rate in (0.0, 1.0):
        cfg = variant(attention_rate=rate, architecture="zhong")
        torch.manual_seed(0)
        model = GrokTransformer(cfg).double().eval()
        attn = cast(Attention, cast(Block, model.blocks[0]).attn)
        seen = {}
        attn.o.register_forward_hook(lambda mod, inp, out: seen.update(z=inp[0]))
        with torch.no_grad():
            model(tokens)
            v = attn.v(model.embedded(tokens)).unflatten(-1, (attn.n_heads, -1))
            pattern = _pattern(model, tokens)
        z = seen["z"][:, -1].unflatten(-1, (attn.n_heads, -1))  # [batch head d_head]
        weights = torch.ones_like(pattern) if rate == 0 else pattern
        expected = torch.einsum("bhp,bphd->bhd", weights, v)
        torch.testing.assert_close(z, expected)
        outs[rate] = model
    # rate 0: every pair sees a plus b's values, whatever the query and key weights
    model = outs[0.0]
    with torch.no_grad():
        before = model(tokens)
        cast(Block, model.blocks[0]).attn.q.weight.normal_()
        torch.testing.assert_close(model(tokens), before)


def test_zhong_model_has_no_equals_token_and_trains_its_mlp_biases():
    cfg = variant(architecture="zhong", epochs=4, log_every=2, lr=1e-2)
    assert cfg.n_ctx == 2 and cfg.d_vocab == cfg.p
    torch.manual_seed(0)
    model = GrokTransformer(cfg)
    assert model.embed.num_embeddings == cfg.p
    assert float(model.unembed.weight.detach().std()) == pytest.approx(
        1 / cfg.p**0.5, rel=0.3
    )
    tokens, labels = dataset(cfg.p)
    snaps, _ = train_stacked(
        cfg, [model], tokens[:, :2], labels, torch.device("cpu"), lambda it, **_: it
    )
    assert snaps[-1]["blocks.0.mlp.in.bias"].abs().sum() > 0
    assert snaps[-1]["blocks.0.attn.q.bias"].abs().sum() == 0


def test_cells_train_like_separate_runs():
    cells = ((1e-2, 0.0), (3e-3, 1.0))
    cfg = variant(weights="ternary", seeds=(0, 1), cells=cells, epochs=6, log_every=3)
    tokens, labels = dataset(cfg.p)

    def fresh(c):
        out = []
        for _ in range(c):
            for seed in cfg.seeds:
                torch.manual_seed(seed)
                out.append(GrokTransformer(cfg).double())
        return out

    cpu, quiet = torch.device("cpu"), lambda it, **_: it
    together, _ = train_stacked(cfg, fresh(2), tokens, labels, cpu, quiet)
    for c, (lr, wd) in enumerate(cells):
        alone_cfg = replace(cfg, cells=(), lr=lr, weight_decay=wd)
        alone, _ = train_stacked(alone_cfg, fresh(1), tokens, labels, cpu, quiet)
        for name, value in alone[-1].items():
            torch.testing.assert_close(together[-1][name][2 * c : 2 * c + 2], value)


def test_float32_loss_differs_only_in_precision():
    cfg = variant(seeds=(0,), epochs=3, log_every=3, lr=1e-2)
    tokens, labels = dataset(cfg.p)
    runs = {}
    for dtype in ("float64", "float32"):
        torch.manual_seed(0)
        runs[dtype], _ = train_stacked(
            replace(cfg, loss_dtype=dtype),
            [GrokTransformer(cfg)],
            tokens,
            labels,
            torch.device("cpu"),
            lambda it, **_: it,
        )
    a, b = runs["float64"][-1], runs["float32"][-1]
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)


def test_compact_storage_is_float16_weights_and_float32_histories():
    cfg = variant(final_models=1)
    tensors = {
        "history.epoch": torch.arange(3),
        "history.test_loss": torch.rand(2, 3, dtype=torch.float64),
        "final.embed.weight": torch.randn(2, 4, 5),
        "epoch10.embed.weight": torch.randn(1, 4, 5),
    }
    out = compact(cfg, tensors)
    assert out["history.epoch"].dtype == torch.int64
    assert out["history.test_loss"].dtype == torch.float32
    assert out["final.embed.weight"].shape == (1, 4, 5)
    assert out["final.embed.weight"].dtype == torch.float16
    assert out["epoch10.embed.weight"].dtype == torch.float16


def test_the_sweep_recipes_keep_the_committed_ones_valid_and_fit_the_budget():
    for cfg in SWEEPS.values():
        assert isinstance(cfg, GrokVariantConfig)
        assert sweep_smoke(cfg).epochs == 20
    assert all(isinstance(c, GrokConfig) for c in grok_recipes.RUNS.values())
    assert not any(isinstance(c, GrokVariantConfig) for c in grok_recipes.RUNS.values())
    assert all(
        len(SWEEPS[f"grok10-{w}"].seeds) == 10 for w in ("fp", "binary", "ternary")
    )
    # the committed runs' own config gives back their measured time
    assert gpu_seconds(GrokConfig(epochs=25_000)) == pytest.approx(178.27 / 3, abs=1)
    # Zhong et al.'s reference models were trained on the CPU: committed, with that time
    for name, seconds in CPU_TRAINED.items():
        recipe = core_recipes.get(name)
        assert recipe.committed and not recipe.gpu and recipe.seconds["cpu"] == seconds
        assert SWEEPS[name].final_models == 0


def test_a_sweep_fit_stores_compactly_and_scores_clock_and_pizza():
    cfg = variant(
        p=11,
        seeds=(0, 1),
        cells=((1e-2, 1.0), (1e-2, 0.0)),
        epochs=20,
        log_every=10,
        checkpoints=(10,),
        final_models=1,
        weights="binary",
    )
    out = grok_recipes.fit(cfg, torch.device("cpu"), lambda it, **_: it)
    t = out.tensors
    assert t["history.test_loss"].shape == (4, 3)
    assert t["history.logit_rms"].dtype == torch.float32
    assert t["final.embed.weight"].shape[0] == 1
    assert t["final.embed.weight"].dtype == torch.float16
    assert t["clockpizza.distance_share"].shape == (4,)
    assert len(out.metrics["key_freqs"]) == 4
    assert "correct_logits" not in out.metrics["clockpizza"]
    model = grok_recipes.load_models(cfg, t)[0]
    assert model.embed.weight.dtype == torch.float32
    # the grids of every model (three of the four have no stored weights) give back the
    # diagnostics; the first one is its stored model's, to float16's precision
    grids = t["clockpizza.correct_logits"]
    assert grids.shape == (4, 11, 11) and grids.dtype == torch.float16
    for k, grid in enumerate(grids):
        assert clockpizza.distance_irrelevance(grid.double()) == pytest.approx(
            float(t["clockpizza.distance_irrelevance"][k]), abs=2e-2
        )
    with torch.no_grad():
        logits = model.double()(dataset(11)[0])[:, -1].view(11, 11, 11)
    torch.testing.assert_close(
        clockpizza.correct_logits(logits), grids[0].double(), atol=2e-2, rtol=2e-2
    )


def test_a_fit_that_stores_no_weights_says_what_it_keeps():
    cfg = variant(
        p=11,
        seeds=(0, 1),
        epochs=20,
        log_every=10,
        architecture="zhong",
        final_models=0,
    )
    t = grok_recipes.fit(cfg, torch.device("cpu"), lambda it, **_: it).tensors
    assert not any(name.startswith("final.") for name in t)
    assert t["clockpizza.correct_logits"].shape == (2, 11, 11)
    with pytest.raises(KeyError, match=r"keeps \[\]"):
        grok_recipes.load_models(cfg, t)


def test_gradient_symmetricity_is_zhongs_random_answer_cosine_pair_by_pair():
    cfg = variant(p=7, architecture="zhong")
    torch.manual_seed(0)
    model = GrokTransformer(cfg)
    before = {n: v.clone() for n, v in model.state_dict().items()}
    scores, correct = clock_pizza(cfg, model, [1])
    assert all(v.dtype == torch.float32 for v in model.state_dict().values())
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    twin = model.double()
    tokens, labels = dataset(cfg.p)
    answers = torch.randint(
        cfg.p, labels.shape, generator=torch.Generator().manual_seed(0)
    )
    cosines = []
    for (a, b), c in zip(tokens[:, :2].tolist(), answers.tolist(), strict=True):
        x = twin.embedded(torch.tensor([[a, b]])).detach().requires_grad_()
        twin.from_embedded(x)[0, -1, c].backward()
        assert x.grad is not None
        g_a, g_b = x.grad[0]
        cosines.append(float(g_a @ g_b / (g_a.norm() * g_b.norm())))
    assert scores["gradient_symmetricity"] == pytest.approx(
        sum(cosines) / len(cosines), abs=1e-12
    )
    with torch.no_grad():
        grid = twin(tokens[:, :2])[:, -1].view(7, 7, 7)
    torch.testing.assert_close(correct, clockpizza.correct_logits(grid))
