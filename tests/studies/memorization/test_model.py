"""The attention-only model: both architectures, masks and the sequence encoder."""

import math

import pytest
import torch

from interplib.studies.memorization.model import (
    AoTConfig,
    AttentionOnly,
    LowRank,
)


def tiny(**kw):
    torch.manual_seed(0)
    return AttentionOnly(
        AoTConfig(**{"d_vocab": 7, "d_model": 5, "d_head": 3, "n_heads": 2, **kw})
    ).double()


def brute_logits(m, tokens):
    """Eq. (2) by loops: per example, per head, softmax over the two keys of the last query."""
    out = []
    for t in tokens:
        x = m.W_E[t]
        xin = x + m.W_pos
        last = x[-1].clone()
        for h in range(m.cfg.n_heads):
            a = m.blocks[0].attn
            q = xin[-1] @ a.W_Q[h]
            s = torch.stack([q @ (xin[j] @ a.W_K[h]) for j in range(2)]) / math.sqrt(
                m.cfg.d_head
            )
            w = s.softmax(0)
            last = last + sum(w[j] * (xin[j] @ a.W_V[h]) for j in range(2)) @ a.W_O[h]
        out.append(last @ m.W_U)
    return torch.stack(out)


def test_forward_matches_brute_force():
    m = tiny()
    tokens = torch.randint(7, (9, 2))
    torch.testing.assert_close(m(tokens), brute_logits(m, tokens))


def test_masked_heads_equal_a_smaller_model():
    big = tiny(n_heads=3).set_active(n_heads=2)
    small = tiny(n_heads=2)
    with torch.no_grad():
        for n in ("W_E", "W_pos", "W_U"):
            getattr(small, n).copy_(getattr(big, n))
        for n in ("W_Q", "W_K", "W_V", "W_O"):
            getattr(small.blocks[0].attn, n).copy_(getattr(big.blocks[0].attn, n)[:2])
    tokens = torch.randint(7, (5, 2))
    torch.testing.assert_close(big(tokens), small(tokens))


def test_skip_residual_removes_the_residual():
    m = tiny(skip_residual=True)
    cache = m.run_with_cache(torch.randint(7, (4, 2)))[1]
    torch.testing.assert_close(
        cache["blocks.0.hook_resid_post"], cache["blocks.0.hook_attn_out"]
    )


def test_low_rank_indexes_contexts_as_N_t1_plus_t2():
    m = LowRank(5, 3)
    logits = m(torch.tensor([[1, 2]]))
    torch.testing.assert_close(logits[0], m.W_E[1 * 5 + 2] @ m.W_U)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"n_heads": 0}, "n_heads=0"),
        ({"d_mlp": -1}, "d_mlp=-1"),
        ({"skip_pos_qk": True, "skip_emb_qk": True}, "leave queries"),
    ],
)
def test_bad_configs_give_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        AoTConfig(**kw)


def test_deeper_models_with_mlp_run_and_train():
    m = tiny(n_layers=2, d_mlp=8, mlp_depth=2, layernorm=True)
    tokens = torch.randint(7, (4, 2))
    out = m(tokens)
    assert out.shape == (4, 7)
    out.logsumexp(-1).sum().backward()
    assert (
        m.blocks[0].mlp.layers[0].weight.grad is not None
        and m.blocks[0].attn.W_Q.grad.abs().sum() > 0
    )


def paper_code_logits(m, tokens):
    """The paper code's forward (models.py at 26160e7), with torch's MultiheadAttention.

    One shared compress before the heads and decompress after them when d != d_h, positions
    in d_h dimensions, one ``MultiheadAttention(d_h, 1, bias=False)`` per head, summed.
    """
    d, h = m.cfg.d_model, m.cfg.d_head
    res, pos = m.W_E[tokens], m.W_pos[None]
    x = res @ m.W_C + pos if d != h else res + pos
    mask = torch.tril(torch.ones(2, 2)) == 0
    a, total = m.blocks[0].attn, 0
    for j in range(m.cfg.n_heads):
        mha = torch.nn.MultiheadAttention(h, 1, batch_first=True, bias=False).double()
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([a.W_Q[j].T, a.W_K[j].T, a.W_V[j].T]))
            mha.out_proj.weight.copy_(a.W_O[j].T)
        total = total + mha(x, x, x, attn_mask=mask)[0]
    out = total @ m.W_D if d != h else total
    return ((out + res) @ m.W_U)[:, -1]


@pytest.mark.parametrize("d_model, d_head", [(5, 3), (3, 5), (4, 4)])
def test_compress_matches_the_paper_code(d_model, d_head):
    m = tiny(compress=True, d_model=d_model, d_head=d_head, n_heads=3)
    tokens = torch.randint(7, (11, 2))
    torch.testing.assert_close(m(tokens), paper_code_logits(m, tokens))


def test_compress_caps_the_attention_rank_at_d_head():
    """Shared maps: the heads' output spans ≤ d_h dimensions; per-head maps span more."""
    tokens = mem_pairs = torch.cartesian_prod(torch.arange(7), torch.arange(7))
    ranks = {}
    for compress in (False, True):
        m = tiny(compress=compress, d_model=6, d_head=2, n_heads=3)
        out = m.run_with_cache(mem_pairs)[1]["blocks.0.hook_attn_out"][:, -1]
        ranks[compress] = int(torch.linalg.matrix_rank(out))
    assert tokens.shape == (49, 2)
    assert ranks == {False: 6, True: 2}


def test_compress_equals_per_head_when_d_equals_d_head():
    a = tiny(d_model=4, d_head=4)
    b = tiny(compress=True, d_model=4, d_head=4)
    with torch.no_grad():
        for n, p in a.named_parameters():
            dict(b.named_parameters())[n].copy_(p)
    tokens = torch.randint(7, (6, 2))
    torch.testing.assert_close(a(tokens), b(tokens))


@pytest.mark.parametrize("compress", [False, True])
def test_masked_width_equals_a_narrower_model(compress):
    small = tiny(compress=compress, d_model=3, d_head=2)
    big = tiny(compress=compress, d_model=5, d_head=2)
    with torch.no_grad():
        for n, p in big.named_parameters():
            q = dict(small.named_parameters())[n]
            p[tuple(slice(0, k) for k in q.shape)] = q
    big.set_active(d_model=3)
    tokens = torch.randint(7, (6, 2))
    torch.testing.assert_close(big(tokens), small(tokens))


def test_set_active_refuses_bad_sizes():
    with pytest.raises(ValueError, match="d_model=6"):
        tiny().set_active(d_model=6)
    with pytest.raises(ValueError, match="layernorm"):
        tiny(layernorm=True).set_active(d_model=3)


@pytest.mark.parametrize("compress", [False, True])
def test_pytorch_default_init_draws_within_the_modules_bounds(compress):
    from interplib.studies.memorization.model import pytorch_default_init

    cfg = AoTConfig(
        d_vocab=400, d_model=12, d_head=4, n_heads=50, d_mlp=300, compress=compress
    )
    m = AttentionOnly(cfg)
    masks = {n: b.clone() for n, b in m.named_buffers()}
    pytorch_default_init(m)
    d_in = 4 if compress else 12
    attn, mlp = m.blocks[0].attn, m.blocks[0].mlp
    bounds = {  # the nn.Linear / MultiheadAttention bound of each weight
        "W_E": 12**-0.5,
        "W_U": 12**-0.5,
        "W_pos": (4 if compress else 12) ** -0.5,
        "W_Q": (6 / (d_in + 12)) ** 0.5,
        "W_O": 4**-0.5,
        "mlp0": 12**-0.5,
        "mlp1": 300**-0.5,
    }
    weights = {
        "W_E": m.W_E,
        "W_U": m.W_U,
        "W_pos": m.W_pos,
        "W_Q": attn.W_Q,
        "W_O": attn.W_O,
        "mlp0": mlp.layers[0].weight,
        "mlp1": mlp.layers[1].weight,
    }
    for name, w in weights.items():
        w, b = w.detach(), bounds[name]
        assert w.abs().max() <= b, name
        if w.numel() > 1000:  # uniform: std = bound / sqrt(3)
            assert float(w.std()) == pytest.approx(b / 3**0.5, rel=0.1), name
    assert bool((mlp.layers[1].bias == 0).all())
    assert mlp.layers[0].bias.abs().max() <= 12**-0.5
    for n, b in m.named_buffers():
        assert torch.equal(b, masks[n]), n
