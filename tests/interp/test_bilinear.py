"""interplib.interp.bilinear against brute force on tiny random float64 bilinear transformers."""

import dataclasses
import math
import os
import time

import einops
import pandas as pd
import pytest
import torch
from builders import tiny_bilinear, tiny_bilinear_config
from torch.testing import assert_close
from torch.utils._python_dispatch import TorchDispatchMode

from interplib.book import tables
from interplib.core.checks import check_token
from interplib.interp import bilinear as bl
from interplib.studies.bilinear.model import BilinearConfig, BilinearTransformer


def tokens(model, batch=3, pos=6, seed=2):
    return torch.randint(
        model.cfg.d_vocab, (batch, pos), generator=torch.Generator().manual_seed(seed)
    )


def dense_token_tensor(model, layer, normalize=False):
    """Brute force: T[o, a, b] = u_oᵀ P((L x_a) ⊙ (R x_b)), all V³ entries, through the model's
    own norm."""
    block = model.blocks[layer]
    with torch.no_grad():
        X = block.ln2(model.W_E) if normalize else model.W_E * block.ln2.w
        U = model.ln_final.w[:, None] * model.unembed.W_U
        return einops.einsum(
            X @ block.mlp.W_gate,
            X @ block.mlp.W_in,
            block.mlp.W_out,
            U,
            "a k, b k, k r, r o -> o a b",
        )


# ----------------------------------------------------------------------------- weight processing


def test_fold_norms_preserves_logits_exactly():
    model = tiny_bilinear()
    folded = bl.fold_norms(model)
    t = tokens(model)
    assert_close(folded(t), model(t), rtol=1e-12, atol=1e-12)
    for name, p in folded.named_parameters():
        if name.endswith(".w"):
            assert torch.equal(p, torch.ones_like(p)), name
    assert not torch.equal(model.blocks[0].ln1.w, torch.ones(5, dtype=torch.float64)), (
        "input was mutated"
    )


def test_center_unembed_preserves_softmax_and_shifts_each_position_by_a_constant():
    model = tiny_bilinear()
    centred = bl.center_unembed(model)
    t = tokens(model)
    diff = centred(t) - model(t)
    assert_close(
        diff, diff[..., :1].expand_as(diff), rtol=0, atol=1e-12
    )  # one constant per position
    assert_close(
        centred(t).log_softmax(-1), model(t).log_softmax(-1), rtol=1e-12, atol=1e-12
    )
    assert_close(
        centred.W_U.sum(-1),
        torch.zeros(model.cfg.d_model, dtype=torch.float64),
        rtol=0,
        atol=1e-12,
    )


def test_seed_d_model_centering_changes_outputs():
    model = tiny_bilinear()
    edited = bl.center_unembed_d_model(model)
    t = tokens(model)
    diff = edited(t) - model(t)
    spread = (diff - diff[..., :1]).abs().max()
    assert spread > 1e-2, (
        f"the shift should depend on the output token (spread {spread:.2e})"
    )
    gap = (edited(t).softmax(-1) - model(t).softmax(-1)).abs().max()
    assert gap > 1e-3, f"the probabilities should change (max gap {gap:.2e})"


def test_process_weights_preserves_softmax():
    model = tiny_bilinear()
    processed = bl.process_weights(model)
    t = tokens(model)
    assert_close(
        processed(t).log_softmax(-1), model(t).log_softmax(-1), rtol=1e-12, atol=1e-12
    )


# ----------------------------------------------------------------------------- direct paths


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("layer", [0, 1])
def test_diagonal_matches_dense_tensor(layer, normalize):
    model = tiny_bilinear()
    T = dense_token_tensor(model, layer, normalize)
    expected = einops.einsum(T, "o i i -> o i")
    assert_close(bl.mlp_diagonal(model, layer, normalize=normalize), expected)
    with_skip = expected + (model.W_E @ (model.ln_final.w[:, None] * model.W_U)).T
    assert_close(
        bl.mlp_diagonal(model, layer, normalize=normalize, skip=True), with_skip
    )


def test_diagonal_of_every_layer_is_stacked_and_chunking_is_invisible():
    model = tiny_bilinear()
    stacked = bl.mlp_diagonal(model, normalize=True)
    assert stacked.shape == (2, 7, 7)
    assert_close(stacked[1], bl.mlp_diagonal(model, 1, normalize=True, chunk=2))


def test_normalized_diagonal_is_the_mlp_applied_to_the_models_own_norm():
    model = tiny_bilinear()
    block = model.blocks[1]
    with torch.no_grad():
        logits = block.mlp(block.ln2(model.W_E)) @ (
            model.ln_final.w[:, None] * model.W_U
        )
    assert_close(bl.mlp_diagonal(model, 1, normalize=True), logits.T)


def test_diagonal_and_interactions_do_not_change_when_norms_are_folded():
    model = tiny_bilinear()
    folded = bl.fold_norms(model)
    for normalize in (False, True):
        assert_close(
            bl.mlp_diagonal(folded, normalize=normalize),
            bl.mlp_diagonal(model, normalize=normalize),
        )
        assert_close(
            bl.interaction_matrix(folded, 3, 0, normalize=normalize),
            bl.interaction_matrix(model, 3, 0, normalize=normalize),
        )
    assert_close(bl.direct_path(folded), bl.direct_path(model))


def test_direct_path_is_embed_then_unembed():
    model = tiny_bilinear()
    with torch.no_grad():
        assert_close(
            bl.direct_path(model, normalize=True),
            model.unembed(model.ln_final(model.W_E)).T,
        )
        assert_close(
            bl.direct_path(model),
            (model.W_E @ (model.ln_final.w[:, None] * model.W_U)).T,
        )


def test_single_token_logits_are_the_models_logits():
    model = tiny_bilinear()
    got = bl.single_token_logits(model, batch=3)
    with torch.no_grad():
        assert_close(got[:, 4], model(torch.tensor([[4]]))[0, 0])


# ----------------------------------------------------------------------------- interactions


@pytest.mark.parametrize("normalize", [False, True])
def test_interaction_matrix_matches_dense_slice(normalize):
    model = tiny_bilinear()
    T = dense_token_tensor(model, 1, normalize)
    for t in (0, 4):
        expected = (T[t] + T[t].T) / 2
        Q = bl.interaction_matrix(model, t, 1, normalize=normalize)
        assert_close(Q, expected)
        assert_close(Q, Q.T, rtol=0, atol=1e-12)
        assert_close(
            torch.diagonal(Q), bl.mlp_diagonal(model, 1, normalize=normalize)[t]
        )


def test_interaction_quadratic_form_is_the_mlp_logit_of_a_token_mixture():
    model = tiny_bilinear()
    g = torch.Generator().manual_seed(3)
    X = bl.token_inputs(model, 0)
    u = model.ln_final.w * model.W_U[:, 5]
    Q = bl.interaction_matrix(model, 5, 0)
    S = bl.interaction_form(model, 5, 0)
    for _ in range(5):
        alpha = torch.randn(7, generator=g, dtype=torch.float64)
        x = alpha @ X
        with torch.no_grad():
            logit = model.blocks[0].mlp(x) @ u
        assert_close(alpha @ Q @ alpha, logit)
        assert_close(x @ S @ x, logit)


def test_eigendecomposition_reconstructs_the_form_and_the_interaction_matrix():
    model = tiny_bilinear()
    eig = bl.interaction_eigen(model, 2, 1, normalize=True)
    S = bl.interaction_form(model, 2, 1)
    lam, V = eig.eigenvalues, eig.eigenvectors
    assert_close(V @ torch.diag(lam) @ V.T, S)
    assert_close(V.T @ V, torch.eye(model.cfg.d_model, dtype=torch.float64))
    assert torch.all(lam.abs()[:-1] >= lam.abs()[1:]), "eigenvalues are sorted by |λ|"
    s = eig.token_scores
    assert_close(
        s @ torch.diag(lam) @ s.T, bl.interaction_matrix(model, 2, 1, normalize=True)
    )
    assert 1.0 <= bl.effective_rank(lam) <= 5.0


def test_effective_rank_counts_equal_eigenvalues():
    assert bl.effective_rank(torch.tensor([2.0, -2.0, 2.0, 0.0])) == pytest.approx(3.0)


# ----------------------------------------------------------------------------- complexity guard


class LargestTensor(TorchDispatchMode):
    """Records the largest tensor any torch operation returns."""

    def __init__(self):
        super().__init__()
        self.numel = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.numel = max(self.numel, t.numel())
        return out


def test_no_cubic_tensor_is_ever_built():
    """V = 40 with d_model = 5, d_mlp = 6: V² = 1600 but V²·d_mlp = 9600 and V³ = 64000."""
    model = tiny_bilinear(d_vocab=40)
    T = dense_token_tensor(model, 0, normalize=True)
    with LargestTensor() as seen:
        D = bl.mlp_diagonal(model, 0, normalize=True, skip=True)
        Q = bl.interaction_matrix(model, 7, 0, normalize=True)
        eig = bl.interaction_eigen(model, 7, 0, normalize=True)
        tables.top_entries(Q, 10, symmetric=True)
    assert seen.numel <= 40 * 40, (
        f"a tensor of {seen.numel} numbers was built (V² = 1600)"
    )
    assert_close(D - bl.direct_path(model), einops.einsum(T, "o i i -> o i"))
    assert_close(Q, (T[7] + T[7].T) / 2)
    assert_close(eig.token_scores @ torch.diag(eig.eigenvalues) @ eig.token_scores.T, Q)


# ----------------------------------------------------------------------------- bad inputs


def resolver(word):
    vocab = {"girl": 3, "boy": 4}
    if word == "girlfriend":
        return [3, 6]
    return vocab[word]


def test_words_are_resolved_through_the_given_resolver():
    model = tiny_bilinear()
    assert_close(
        bl.interaction_matrix(model, "girl", 0, resolve=resolver),
        bl.interaction_matrix(model, 3, 0),
    )
    assert check_token("boy", 7, lambda w: torch.tensor([4])) == 4


def test_bad_tokens_give_clear_errors():
    model = tiny_bilinear()
    with pytest.raises(
        ValueError, match="'girlfriend' is not a single token: it splits into 2"
    ):
        bl.interaction_matrix(model, "girlfriend", 0, resolve=resolver)
    with pytest.raises(ValueError, match="unknown token 'dragon'"):
        bl.interaction_eigen(model, "dragon", 0, resolve=resolver)
    with pytest.raises(ValueError, match="pass resolve="):
        bl.interaction_form(model, "girl", 0)
    with pytest.raises(
        IndexError, match=r"token id 7 is outside the vocabulary \(0 … 6\)"
    ):
        bl.interaction_matrix(model, 7, 0)


def test_layer_out_of_range_gives_a_clear_error():
    model = tiny_bilinear(n_layers=1)
    with pytest.raises(
        IndexError,
        match=r"layer=1 is out of range: the model has 1 layer; use an integer in 0..0",
    ):
        bl.mlp_diagonal(model, 1)
    with pytest.raises(IndexError, match="layer=-2 is out of range"):
        bl.interaction_matrix(model, 0, -2)
    assert_close(bl.mlp_diagonal(model, -1), bl.mlp_diagonal(model, 0))


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny_bilinear_config().d_vocab = 3


# ----------------------------------------------------------------------------- ground truth


def test_bigram_log_probs_are_smoothed_columns():
    counts = torch.randint(
        7, (5, 5), generator=torch.Generator().manual_seed(0)
    )  # [out in]
    logp = bl.bigram_log_probs(counts, smoothing=0.5)
    assert_close(logp.exp().sum(0), torch.ones(5, dtype=torch.float64))
    assert logp[2, 3].exp().item() == pytest.approx(
        (counts[2, 3].item() + 0.5) / (counts[:, 3].sum().item() + 2.5)
    )


def test_precision_at_k_matches_set_overlap():
    g = torch.Generator().manual_seed(5)
    scores, truth = torch.randn(9, 6, generator=g), torch.randn(9, 6, generator=g)
    got = bl.precision_at_k(scores, truth, 3)
    for i in range(6):
        predicted = set(scores[:, i].topk(3).indices.tolist())
        true = set(truth[:, i].topk(3).indices.tolist())
        assert got[i].item() == pytest.approx(len(predicted & true) / 3)
    mask = torch.tensor([True, False, True, False, False, True])
    assert_close(bl.precision_at_k(scores, truth, 3, inputs=mask), got[mask])
    assert bl.precision_at_k(truth, truth, 2).eq(1).all()


def test_column_correlation_matches_pandas_with_ties():
    g = torch.Generator().manual_seed(6)
    a = torch.randn(10, 4, generator=g, dtype=torch.float64)
    b = torch.randint(3, (10, 4), generator=g).double()  # many ties, like counts
    for method in ("spearman", "pearson"):
        got = bl.column_correlation(a, b, method=method)
        for i in range(4):
            x, y = pd.Series(a[:, i].numpy()), pd.Series(b[:, i].numpy())
            if method == "spearman":
                x, y = x.rank(method="average"), y.rank(method="average")
            expected = x.corr(y)
            assert got[i].item() == pytest.approx(expected, abs=1e-12)
    assert_close(bl.column_correlation(a, a), torch.ones(4, dtype=torch.float64))
    assert bl.top1_agreement(a, a) == 1.0 and bl.top1_agreement(a, -a) == 0.0
    with pytest.raises(ValueError, match="method='kendall'"):
        bl.column_correlation(a, b, method="kendall")


@pytest.mark.skipif(
    os.environ.get("INTERPLIB_BENCH") != "1", reason="benchmark: set INTERPLIB_BENCH=1"
)
def test_real_size_speed():
    """V = 4096, d_model 256, d_mlp 768, float32: diagonal ≤ 2 s, one interaction matrix + eigen
    ≤ 1 s."""
    model = BilinearTransformer(BilinearConfig(n_layers=1)).eval()

    def best_of_3(f):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return min(times)

    t_diag = best_of_3(lambda: bl.mlp_diagonal(model, 0, normalize=True, skip=True))
    t_inter = best_of_3(
        lambda: (
            bl.interaction_matrix(model, 123, 0, normalize=True),
            bl.interaction_eigen(model, 123, 0, normalize=True),
        )
    )
    print(f"diagonal {t_diag:.3f} s, interaction matrix + eigen {t_inter:.3f} s")
    assert t_diag <= 2.0 and t_inter <= 1.0


# ----------------------------------------------------------------------------- chapter helpers


def test_edit_effect_matches_a_loop_and_is_zero_for_an_exact_edit():
    model = tiny_bilinear()
    t = tokens(model)
    dlogp, kl = bl.edit_effect(model, bl.fold_norms(model), t)
    assert dlogp < 1e-12 and abs(kl) < 1e-12
    edited = bl.center_unembed_d_model(model)
    dlogp, kl = bl.edit_effect(model, edited, t)
    with torch.no_grad():
        p = model(t).softmax(-1).flatten(0, 1).tolist()
        q = edited(t).softmax(-1).flatten(0, 1).tolist()
    gaps = [
        abs(math.log(a) - math.log(b)) for pr, qr in zip(p, q) for a, b in zip(pr, qr)
    ]
    kls = [sum(a * math.log(a / b) for a, b in zip(pr, qr)) for pr, qr in zip(p, q)]
    assert dlogp == pytest.approx(max(gaps), rel=1e-9)
    assert kl == pytest.approx(sum(kls) / len(kls), rel=1e-9)
    assert dlogp > 1e-3 and kl > 0


def test_table_scores_are_the_per_input_metrics_averaged_over_the_inputs():
    g = torch.Generator().manual_seed(7)
    table, truth = torch.randn(9, 6, generator=g), torch.randn(9, 6, generator=g)
    mask = torch.tensor([True, False, True, True, False, True])
    got = bl.table_scores(table, truth, mask, k=3)
    assert list(got) == ["precision@3", "mass@3", "top-1 agreement"]
    inputs = mask.nonzero().flatten().tolist()
    overlap = [
        len(
            set(table[:, i].topk(3).indices.tolist())
            & set(truth[:, i].topk(3).indices.tolist())
        )
        / 3
        for i in inputs
    ]
    probs = truth.double().exp()
    mass = [sum(probs[o, i] for o in table[:, i].topk(3).indices) for i in inputs]
    same = [table[:, i].argmax() == truth[:, i].argmax() for i in inputs]
    assert got["precision@3"] == pytest.approx(sum(overlap) / len(inputs))
    assert got["mass@3"] == pytest.approx(float(sum(mass)) / len(inputs))
    assert got["top-1 agreement"] == pytest.approx(sum(same) / len(inputs))
    assert bl.table_scores(truth, truth, k=2) == {
        "precision@2": 1.0,
        "mass@2": pytest.approx(float(truth.exp().topk(2, dim=0).values.sum(0).mean())),
        "top-1 agreement": 1.0,
    }


def test_global_top_share_and_inputs_match_a_sort_of_every_pair():
    g = torch.Generator().manual_seed(8)
    table = torch.randn(7, 5, generator=g)  # [out in]
    marked = torch.tensor([True, False, False, True, True, False, False])
    pairs = sorted(
        ((table[o, i].item(), o, i) for o in range(7) for i in range(5)), reverse=True
    )
    for k in (1, 4, 12, 35):
        top = pairs[:k]
        assert bl.global_top_share(table, k, marked) == pytest.approx(
            sum(marked[o].item() for _, o, _ in top) / k
        )
        assert bl.global_top_inputs(table, k) == len({i for _, _, i in top})
