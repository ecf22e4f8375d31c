"""Path expansion: the paths sum to the logits, a virtual head is the product of its heads'
patterns and OV circuits, and a path's weight-only OV circuit is the dense product."""

import pytest
import torch
from builders import NORMS, brute_forward, dense_effective
from builders import attn_only_bridge as model
from builders import random_tokens as tokens

from interplib.interp import circuits as C
from interplib.interp.paths import (
    path_expansion,
    path_kind,
    path_ov_circuit,
    target_logit_lift,
    top_promoted_tokens,
)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n_layers", [1, 2])
def test_path_expansion_sums_to_the_logits(norm, n_layers):
    m, toks = model(norm, n_layers), tokens()
    expected, _ = brute_forward(m, toks)
    for sources, n_sources in (("embed", 1), ("split", 2)):
        pe = path_expansion(m, toks, sources)
        assert len(pe.labels) == n_sources * 4**n_layers + 1 and pe.labels[-1] == "bias"
        torch.testing.assert_close(pe.logits().sum(0), expected)
        torch.testing.assert_close(pe.logits(pos=3).sum(0), expected[:, 3:4])
        torch.testing.assert_close(pe.logits(pos=-1).sum(0), expected[:, -1:])


def test_virtual_head_is_the_product_of_patterns_and_ov_circuits():
    m, toks = model(None), tokens(batch=2)
    _, cache = m.run_with_cache(toks)
    pe = path_expansion(m, toks)
    X = m.W_E[toks] + m.W_pos[: toks.shape[1]]
    A0, A1 = cache["blocks.0.attn.hook_pattern"], cache["blocks.1.attn.hook_pattern"]
    ov = lambda l, h: m.W_V[l, h] @ m.W_O[l, h]
    torch.testing.assert_close(pe.logits(["direct"])[0], X @ m.W_U)
    torch.testing.assert_close(pe.logits(["L1H2"])[0], A1[:, 2] @ X @ ov(1, 2) @ m.W_U)
    torch.testing.assert_close(
        pe.logits(["L0H1→L1H2"])[0],
        A1[:, 2] @ A0[:, 1] @ X @ ov(0, 1) @ ov(1, 2) @ m.W_U,
    )
    assert "L0H1→L1H2" in pe.labels and "L1H2→L0H1" not in pe.labels
    values, ids = pe.top_tokens("L0H1→L1H2", k=5, batch=1, pos=4)
    dense = pe.logits(["L0H1→L1H2"])[0, 1, 4]
    torch.testing.assert_close(values, dense.topk(5).values)
    with pytest.raises(KeyError, match="no path 'L2H0'"):
        pe.logits(["L2H0"])


@pytest.mark.parametrize("norm", [None, "LN"])
def test_path_ov_circuit_and_top_tokens_match_dense_products(norm):
    m = model(norm)
    W_U, _ = C.unembed_weights(m)
    e, l = dense_effective(m, 0), dense_effective(m, 1)
    dense = m.W_E @ e["W_V"][2] @ e["W_O"][2] @ l["W_V"][0] @ l["W_O"][0] @ W_U
    circuit = path_ov_circuit(m, [(0, 2), (1, 0)])
    torch.testing.assert_close(circuit.AB, dense.detach())
    torch.testing.assert_close(path_ov_circuit(m, []).AB, (m.W_E @ W_U).detach())
    src = torch.tensor([3, 17, 39])
    values, ids = top_promoted_tokens(circuit, src, k=4)
    torch.testing.assert_close(values, dense[src].topk(4).values.detach())
    with pytest.raises(ValueError, match="strictly increasing layers"):
        path_ov_circuit(m, [(1, 0), (0, 2)])


def test_path_kinds_count_the_heads_a_path_goes_through():
    kinds = {
        "direct": "direct",
        "token": "token",
        "position": "position",
        "bias": "bias",
        "L0H3": "layer 0 head",
        "L12H0": "layer 12 head",
        "token→L1H5": "layer 1 head",
        "L0H3→L1H5": "virtual",
        "position→L0H1→L1H2": "virtual",
    }
    assert {label: path_kind(label) for label in kinds} == kinds
    paths = path_expansion(model(None), tokens(batch=1, pos=4))
    counts = {
        k: [path_kind(l) for l in paths.labels].count(k) for k in set(kinds.values())
    }
    assert counts == {
        "direct": 1,
        "bias": 1,
        "layer 0 head": 3,
        "layer 1 head": 3,
        "virtual": 9,
        "token": 0,
        "position": 0,
        "layer 12 head": 0,
    }


def test_target_logit_lift_matches_a_loop_and_sums_to_the_models_lift():
    g = torch.Generator().manual_seed(0)
    path_logits = torch.randn(3, 2, 5, 7, generator=g, dtype=torch.float64)
    toks = torch.randint(0, 7, (2, 5), generator=g)
    expected = torch.zeros(3, dtype=torch.float64)
    for n in range(3):
        lifts = [
            path_logits[n, b, i, toks[b, i + 1]] - path_logits[n, b, i].mean()
            for b in range(2)
            for i in range(4)
        ]
        expected[n] = sum(lifts) / len(lifts)
    torch.testing.assert_close(target_logit_lift(path_logits, toks), expected)
    m, toks = model("LNPre"), tokens(batch=2, pos=10)
    lift = target_logit_lift(path_expansion(m, toks).logits(), toks)
    total = target_logit_lift(m(toks).detach()[None], toks)
    torch.testing.assert_close(lift.sum(0, keepdim=True), total)
    with pytest.raises(ValueError, match="need path_logits"):
        target_logit_lift(path_logits, toks)


def test_bad_tokens_get_errors_that_name_the_fix():
    m = model(None)
    with pytest.raises(
        ValueError, match="but the model's n_ctx=24: truncate to tokens"
    ):
        path_expansion(m, tokens(pos=30))
    with pytest.raises(ValueError, match="add a batch axis"):
        path_expansion(m, tokens()[0])
