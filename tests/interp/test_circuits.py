"""QK/OV circuits: score terms, residual components, composition, copying and QK circuits, against
brute force; and a trained toy that forms the induction circuit."""

import itertools
import math

import pytest
import torch
from builders import NORMS, brute_forward, dense_effective, perturbed_twin, tiny_config
from builders import attn_only_bridge as model
from builders import random_tokens as tokens
from transformer_lens import FactoredMatrix

from interplib.core.training import LMTrainConfig, train_lm
from interplib.interp import circuits as C
from interplib.interp.ablation import ablated_repeat_losses
from interplib.interp.attribution import head_results
from interplib.interp.patterns import (
    induction_scores,
    previous_token_scores,
    repeat_losses,
    repeated_random_tokens,
)
from interplib.studies.circuits.analysis import InductionProbes, ProbeConfig
from interplib.studies.circuits.model import (
    AttnOnlyConfig,
    AttnOnlyTransformer,
    attention_only,
    to_bridge,
)


def causal(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


@pytest.mark.parametrize("norm", NORMS)
def test_score_terms_sum_to_the_cached_scores_for_every_head(norm):
    m, toks = model(norm), tokens()
    _, brute_scores = brute_forward(m, toks)
    mask = causal(toks.shape[1])
    for layer, head in itertools.product(range(2), range(3)):
        st = C.attention_score_terms(m, toks, layer, head)
        torch.testing.assert_close(
            st.scores[:, mask], brute_scores[layer][:, head][:, mask]
        )
        torch.testing.assert_close(st.total()[:, mask], st.scores[:, mask])
        assert st.labels == (
            ["token", "position"]
            if layer == 0
            else ["token", "position", "L0H0", "L0H1", "L0H2", "L0 b_O"]
        )
    for group, labels in (
        ("layer", ["token", "position", "L0"]),
        ("source", ["token", "position", "constant"]),
    ):
        grouped = C.attention_score_terms(m, toks, 1, 2, group=group)
        assert grouped.labels == labels
        torch.testing.assert_close(grouped.total()[:, mask], grouped.scores[:, mask])
    paths = C.attention_score_terms(m, toks, 1, 2, group="path")
    assert paths.labels == [
        "token",
        "position",
        "token→L0H0",
        "token→L0H1",
        "token→L0H2",
        "position→L0H0",
        "position→L0H1",
        "position→L0H2",
        "constant",
    ]
    torch.testing.assert_close(paths.total()[:, mask], paths.scores[:, mask])


def test_layer0_terms_are_the_seeds_four_products_with_biases_once():
    m, toks = model(None), tokens(batch=1)
    st = C.attention_score_terms(m, toks, 0, 1)
    E, P = m.W_E[toks[0]], m.W_pos[: toks.shape[1]]
    W_Q, W_K, b_Q, b_K = m.W_Q[0, 1], m.W_K[0, 1], m.b_Q[0, 1], m.b_K[0, 1]
    s = math.sqrt(m.cfg.d_head)
    for i, X in enumerate((E, P)):
        for j, Y in enumerate((E, P)):
            torch.testing.assert_close(st.terms[i, j, 0], (X @ W_Q) @ (Y @ W_K).T / s)
        torch.testing.assert_close(
            st.query_bias[i, 0], (b_Q @ (X @ W_K).T / s).expand(len(X), -1)
        )
    assert st.bias_bias == pytest.approx(float(b_Q @ b_K) / s)


def test_statistics_see_only_what_the_softmax_sees():
    m, toks = model("LN"), tokens()
    stats = C.attention_score_terms(m, toks, 1, 0).statistics()
    assert len(stats) == 6 * 6 + 2 * 6 + 1
    assert {"mean", "mean_abs", "var", "row_centred_var", "kl_if_removed"} <= set(
        stats.columns
    )
    constant_in_key = stats.loc[
        [f"{c}–bias" for c in ["token", "position", "L0H1"]] + ["bias–bias"]
    ]
    assert (
        constant_in_key["row_centred_var"].abs().max() < 1e-20
    )  # query-only terms: invisible
    assert constant_in_key["kl_if_removed"].abs().max() < 1e-12
    assert (stats["kl_if_removed"] > -1e-12).all() and (
        stats["row_centred_var"] <= stats["var"] + 1e-12
    ).all()
    st = C.attention_score_terms(m, toks, 0, 0)
    term = st.terms[1, 1]
    vals = term[causal(toks.shape[1]).expand_as(term)]
    assert C.attention_score_terms(m, toks, 0, 0).statistics().loc[
        "position–position", "var"
    ] == pytest.approx(float(vals.var(unbiased=False)))


def test_term_table_collects_one_statistic_per_head():
    m, toks = model("LN"), tokens(batch=2)
    table = C.term_table(m, toks, 1, "row_centred_var")
    assert (
        list(table.index) == ["L1H0", "L1H1", "L1H2"]
        and "position–token" in table.columns
    )
    assert table.loc["L1H1", "token–position"] == pytest.approx(
        C.attention_score_terms(m, toks, 1, 1, "source")
        .statistics()
        .loc["token–position", "row_centred_var"]
    )
    with pytest.raises(ValueError, match="stat='size'"):
        C.term_table(m, toks, 0, "size")


@pytest.mark.parametrize("norm", NORMS)
def test_residual_components_and_head_results_rebuild_the_stream(norm):
    m, toks = model(norm), tokens()
    _, cache = m.run_with_cache(toks)
    labels, parts = C.residual_components(m, cache, 1)
    torch.testing.assert_close(parts.sum(0), cache["blocks.1.hook_resid_pre"])
    for group in ("layer", "source", "path"):
        torch.testing.assert_close(
            C.residual_components(m, cache, 1, group)[1].sum(0),
            cache["blocks.1.hook_resid_pre"],
        )
    # layer 0 wrote A (x/σ) W_V W_O for x = token, position and constants: the token part by
    # brute force
    labels, by_source = C.residual_components(m, cache, 1, "source")
    W = dense_effective(m, 0)
    sigma = cache["blocks.0.ln1.hook_scale"] if norm else 1.0
    A = cache["blocks.0.attn.hook_pattern"]
    moved = sum(
        A[:, h] @ (cache["hook_embed"] / sigma) @ W["W_V"][h] @ W["W_O"][h]
        for h in range(3)
    )
    torch.testing.assert_close(by_source[0], cache["hook_embed"] + moved)
    torch.testing.assert_close(
        head_results(cache, 0).sum(2) + m.b_O[0], cache["blocks.0.hook_attn_out"]
    )
    with pytest.raises(ValueError, match="use 'head', 'layer', 'source' or 'path'"):
        C.residual_components(m, cache, 1, group="heads")


@pytest.mark.parametrize("norm", [None, "LN"])
def test_composition_scores_match_dense_products(norm):
    m = model(norm)
    e, l = dense_effective(m, 0), dense_effective(m, 1)
    fro = torch.linalg.matrix_norm
    for kind in "QKV":
        scores = C.composition_scores(m, kind)
        for h1, h2 in itertools.product(range(3), range(3)):
            ov = e["W_V"][h1] @ e["W_O"][h1]  # TL rows: the Framework's W_OV^T
            qk = l["W_Q"][h2] @ l["W_K"][h2].T
            M = {"Q": ov @ qk, "K": ov @ qk.T, "V": ov @ (l["W_V"][h2] @ l["W_O"][h2])}[
                kind
            ]
            right = qk if kind != "V" else l["W_V"][h2] @ l["W_O"][h2]
            assert scores[h1, h2] == pytest.approx(
                float(fro(M) / (fro(ov) * fro(right))), rel=1e-9
            )
    if norm is None:  # no LN to fold: TL's own all_composition_scores agrees
        for kind in "QKV":
            torch.testing.assert_close(
                C.composition_scores(m, kind),
                m.all_composition_scores(kind)[0, :, 1, :].detach(),
            )


def test_composition_baseline_is_about_one_over_sqrt_d():
    mean, std = C.composition_baseline(
        attention_only(AttnOnlyConfig(d_vocab=50, n_ctx=8)), n_samples=60
    )
    assert (
        abs(mean - 0.0624) < 0.004 and std < 0.005
    )  # d_model 256, d_head 32 (reference note)
    small_mean, _ = C.composition_baseline(model(None), "V", n_samples=100)
    assert abs(small_mean - 1 / math.sqrt(24)) < 0.05


def test_composition_checks_its_layers_and_kind():
    m = model(None)
    with pytest.raises(ValueError, match="pass earlier < later"):
        C.composition_scores(m, "K", earlier=1, later=1)
    with pytest.raises(ValueError, match="use 'Q', 'K' or 'V'"):
        C.composition_scores(m, "X")
    with pytest.raises(ValueError, match="layer=2 is out of range.*0..1"):
        C.composition_scores(m, "K", earlier=0, later=2)


@pytest.mark.parametrize("norm", [None, "LNPre"])
def test_copying_score_matches_dense_eigenvalues(norm):
    m = model(norm)
    centred = torch.eye(24, dtype=torch.float64) - 1 / 24
    W_U = m.W_U if norm is None else centred @ m.W_U  # LNPre: centring only
    torch.testing.assert_close(C.unembed_weights(m)[0], W_U)
    scores, frac = C.copying_scores(m), C.copying_scores(m, "positive_fraction")
    for layer, head in itertools.product(range(2), range(3)):
        W = dense_effective(m, layer)
        full = m.W_E @ W["W_V"][head] @ W["W_O"][head] @ W_U  # 40 × 40, rank ≤ 8
        lam = torch.linalg.eigvals(full.detach())
        assert scores[layer, head] == pytest.approx(
            float(lam.real.sum() / lam.abs().sum()), abs=1e-9
        )
        top = lam[
            lam.abs().argsort(descending=True)[: m.cfg.d_head]
        ]  # the d_head non-zero ones
        assert frac[layer, head] == pytest.approx(float((top.real > 0).double().mean()))
    with pytest.raises(ValueError, match="trace_ratio"):
        C.copying_scores(m, "fraction")


def test_copying_score_flips_sign_with_the_ov_circuit():
    cfg = tiny_config(n_layers=1)
    twin = perturbed_twin(cfg)
    m = to_bridge(twin, dtype=torch.float64)
    with torch.no_grad():
        twin.blocks[0].attn.o.weight.neg_()
    flipped = to_bridge(twin, dtype=torch.float64)
    torch.testing.assert_close(C.copying_scores(flipped), -C.copying_scores(m))


@pytest.mark.parametrize("norm", [None, "LN"])
def test_qk_circuits_match_dense_products_and_eigenvalues(norm):
    m = model(norm)
    e, l = dense_effective(m, 0), dense_effective(m, 1)
    same = m.W_E @ l["W_Q"][2] @ l["W_K"][2].T @ m.W_E.T
    torch.testing.assert_close(C.qk_circuit(m, 1, 2).AB, same)
    shifted = m.W_E @ l["W_Q"][2] @ (m.W_E @ e["W_V"][0] @ e["W_O"][0] @ l["W_K"][2]).T
    circuit = C.qk_circuit(m, 1, 2, key_head=(0, 0))
    torch.testing.assert_close(circuit.AB, shifted)
    lam = torch.linalg.eigvals(shifted)
    assert C.eigenvalue_score(circuit) == pytest.approx(
        float(lam.real.sum() / lam.abs().sum()), abs=1e-9
    )
    with pytest.raises(ValueError, match="earlier layer than 1"):
        C.qk_circuit(m, 1, 0, key_head=(1, 1))
    with pytest.raises(ValueError, match="square"):
        C.eigenvalue_score(FactoredMatrix(m.W_E, m.W_E.T[:, :5]))


def test_bad_layers_and_heads_get_errors_that_name_the_fix():
    m = model(None)
    with pytest.raises(
        ValueError,
        match="layer=2 is out of range: the model has 2 layers; use an integer in 0..1",
    ):
        C.attention_score_terms(m, tokens(), 2, 0)
    with pytest.raises(
        ValueError,
        match="head=3 is out of range: the model has 3 heads; use an integer in 0..2",
    ):
        C.attention_score_terms(m, tokens(), 0, 3)
    with pytest.raises(ValueError, match="layer=0.5 is out of range"):
        C.composition_scores(m, "K", earlier=0.5)


def periodic_tokens(n, n_ctx, d_vocab, g):
    """[BOS, r, r, r, ...] with r random of length 4..8: later copies are predictable only in
    context."""
    period = torch.randint(4, 9, (n, 1), generator=g)
    r = torch.randint(1, d_vocab, (n, 8), generator=g)
    return torch.cat(
        [
            torch.zeros(n, 1, dtype=torch.long),
            r.gather(1, torch.arange(n_ctx - 1)[None] % period),
        ],
        1,
    )


def test_trained_two_layer_model_forms_an_induction_circuit_one_layer_does_not():
    g = torch.Generator().manual_seed(0)
    train, val = periodic_tokens(2000, 24, 32, g), periodic_tokens(64, 24, 32, g)
    rt = repeated_random_tokens(32, 8, 32, torch.Generator().manual_seed(1), bos=1)
    training = LMTrainConfig(
        steps=400,
        batch_size=16,
        lr=1e-2,
        warmup_steps=20,
        eval_every=200,
        eval_sequences=32,
        betas=(0.9, 0.99),
        decay_embeddings=True,
    )
    probes = ProbeConfig(icl_early=3, icl_late=20, repeat_period=8)
    trained = {}
    for n_layers in (1, 2):
        cfg = AttnOnlyConfig(
            n_layers=n_layers, d_model=32, n_heads=2, n_ctx=24, d_vocab=32
        )
        twin = AttnOnlyTransformer(cfg)
        result = train_lm(
            twin, train, val, training, on_evaluate=InductionProbes(cfg, probes)
        )
        trained[n_layers] = to_bridge(twin).requires_grad_(False)
        assert (
            result.history["icl_score"][-1] < -0.5
        )  # later tokens are predicted better: in-context learning
    two, one = trained[2], trained[1]
    ind2, ind1 = induction_scores(two, rt, 8), induction_scores(one, rt, 8)
    assert ind2[1].max() > 0.5 and ind1.max() < 0.4 and ind2[0].max() < 0.4
    loss2, loss1 = repeat_losses(two, rt, 8), repeat_losses(one, rt, 8)
    assert loss2.repeated < 0.5 * loss1.repeated and loss2.repeated < 0.2 * loss2.first
    # the circuit is causal: without layer 0 (previous-token information) or layer 1 the repeat
    # is not copied
    for layer in (0, 1):
        ablated = ablated_repeat_losses(two, rt, 8, [(layer, 0), (layer, 1)], "mean")
        assert ablated.repeated > 5 * loss2.repeated
    mean, std = C.composition_baseline(two, "K")
    assert C.composition_scores(two, "K").max() > mean + 3 * std
    # the induction heads' K-composition circuit through layer 0 says "attend where the previous
    # token is mine"
    induction_head = int(ind2[1].argmax())
    shifted = max(
        C.eigenvalue_score(C.qk_circuit(two, 1, induction_head, key_head=(0, p)))
        for p in range(2)
    )
    assert shifted > 0.5


def test_head_score_table_holds_each_heads_scores():
    m = model("LNPre")
    text = tokens(batch=2, pos=12, seed=3)
    probe = repeated_random_tokens(40, 6, 4, torch.Generator().manual_seed(0), bos=1)
    table = C.head_score_table(m, text, probe, 6)
    assert list(table.index) == [f"L{l}H{h}" for l in range(2) for h in range(3)]
    expected = {
        "previous-token": previous_token_scores(m, text),
        "induction": induction_scores(m, probe, 6),
        "copying": C.copying_scores(m),
        "positive eigenvalues": C.copying_scores(m, "positive_fraction"),
    }
    assert list(table.columns) == list(expected)
    for column, scores in expected.items():
        for l, h in itertools.product(range(2), range(3)):
            assert table.loc[f"L{l}H{h}", column] == pytest.approx(float(scores[l, h]))


@pytest.mark.parametrize("kind", "QKV")
def test_permuted_baseline_is_the_mean_over_trained_pairs_with_shuffled_coordinates(
    kind,
):
    m = model(None)
    e, l = dense_effective(m, 0), dense_effective(m, 1)
    fro = torch.linalg.matrix_norm
    g = torch.Generator().manual_seed(3)
    pick = torch.randint(3, (2, 5), generator=g)
    perms = [torch.randperm(24, generator=g) for _ in range(5)]
    scores = []
    for s, perm in enumerate(perms):
        h0, h1 = int(pick[0, s]), int(pick[1, s])
        ov = e["W_V"][h0] @ e["W_O"][h0]
        right = {
            "Q": l["W_Q"][h1] @ l["W_K"][h1].T,
            "K": l["W_K"][h1] @ l["W_Q"][h1].T,
            "V": l["W_V"][h1] @ l["W_O"][h1],
        }[kind][perm]
        scores.append(float(fro(ov @ right) / (fro(ov) * fro(right))))
    mean, std = C.composition_baseline(m, kind, 5, seed=3, method="permuted")
    assert mean == pytest.approx(float(torch.tensor(scores).mean()), rel=1e-6)
    assert std == pytest.approx(float(torch.tensor(scores).std()), rel=1e-5)
    with pytest.raises(ValueError, match="use 'gaussian' or 'permuted'"):
        C.composition_baseline(m, kind, method="shuffled")


def test_diagonal_ranks_match_a_dense_sort():
    g = torch.Generator().manual_seed(0)
    A, B = torch.randn(7, 3, generator=g), torch.randn(3, 7, generator=g)
    dense = A @ B
    brute = torch.tensor([int((dense[i] > dense[i, i]).sum()) for i in range(7)])
    fm = FactoredMatrix(A, B)
    torch.testing.assert_close(C.diagonal_ranks(fm, chunk=3), brute)
    rows = torch.tensor([4, 1])
    torch.testing.assert_close(C.diagonal_ranks(fm, rows), brute[rows])
    eye = FactoredMatrix(torch.eye(5), torch.eye(5))
    assert (C.diagonal_ranks(eye) == 0).all()
    with pytest.raises(ValueError, match="square"):
        C.diagonal_ranks(FactoredMatrix(A, torch.randn(3, 4)))
