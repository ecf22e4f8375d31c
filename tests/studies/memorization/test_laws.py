"""Laws, entropy and the bounds of interplib.studies.memorization.laws, against brute force on
tiny cases."""

import math

import pytest
import sympy as sp
import torch

from interplib.studies.memorization import laws as mem


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_power_unif_law_shapes_and_normalisation():
    law = mem.power_unif_law((0.9, 0.8, 0.5), (4, 3, 2), 6, gen())
    assert (
        law.pi0.shape == (6,) and law.pi1.shape == (6, 6) and law.pi2.shape == (6, 6, 6)
    )
    for p in (law.pi0, law.pi1, law.pi2):
        torch.testing.assert_close(p.sum(-1), torch.ones_like(p.sum(-1)))
    assert ((law.pi1 > 0).sum(-1) == 3).all() and ((law.pi2 > 0).sum(-1) == 2).all()


def test_uniform_table_has_T0_contexts_and_zero_entropy():
    law = mem.power_unif_law((1, 1, 1), (5, 5, 1), 7, gen())
    assert law.n_contexts == 25
    assert mem.conditional_entropy(law) == 0.0
    tokens, weight, target = mem.contexts(law)
    assert tokens.shape == (25, 2) and math.isclose(float(weight.sum()), 1.0)
    assert torch.equal(target.argmax(-1), mem.table(law)[tokens[:, 0], tokens[:, 1]])


def test_entropy_of_known_cases():
    law = mem.power_unif_law((1, 1, 1), (3, 3, 4), 5, gen())  # uniform on 4 next tokens
    assert math.isclose(mem.conditional_entropy(law), math.log(4), rel_tol=1e-12)
    p, N = 0.9, 6
    noisy = mem.last_position_law(N, 0, p, gen())
    brute = -(p * math.log(p) + (1 - p) * math.log((1 - p) / (N - 1)))
    assert math.isclose(mem.conditional_entropy(noisy), brute, rel_tol=1e-12)


def test_conditional_entropy_matches_brute_force():
    law = mem.power_unif_law((0.7, 0.8, 0.6), (4, 4, 4), 4, gen(3))
    H = 0.0
    for a in range(4):
        for b in range(4):
            w = float(law.pi0[a] * law.pi1[a, b])
            H += w * -sum(float(q) * math.log(float(q)) for q in law.pi2[a, b] if q > 0)
    assert math.isclose(mem.conditional_entropy(law), H, rel_tol=1e-10)


def test_samples_follow_the_law():
    law = mem.power_unif_law((1, 1, 1), (2, 3, 1), 5, gen())
    x = mem.sample(law, 4000, gen(1))
    assert x.shape == (4000, 3)
    assert (law.prior[x[:, 0], x[:, 1]] > 0).all()
    assert torch.equal(x[:, 2], mem.table(law)[x[:, 0], x[:, 1]])
    freq = torch.bincount(x[:, 0], minlength=5).double() / 4000
    assert (freq - law.pi0).abs().max() < 0.05


def test_rank_d_law_has_rank_d_log_probs():
    law, W = mem.rank_d_law(8, 3, gen(), axis_aligned=False, scale=2.0)
    L = law.pi2.flatten(0, 1).log()
    L = L - L.mean(-1, keepdim=True)
    s = torch.linalg.svdvals(L)
    assert s[2] > 1e-3 and s[3] < 1e-9
    L2 = mem.almost_rank_d_law(8, 3, gen()).pi2.flatten(0, 1).log()
    s2 = torch.linalg.svdvals(L2 - L2.mean(-1, keepdim=True))
    assert s2[2] > 3 * s2[3]


def test_circle_construction_stores_any_table_and_obeys_its_bound():
    N = 7
    g = torch.randint(N, (30,), generator=gen())
    for lam in (1.0, 10.0, 100.0):
        E, W_U = mem.circle_construction(g, N, lam)
        logits = E @ W_U
        assert torch.equal(logits.argmax(-1), g)
        kl = -logits.log_softmax(-1)[torch.arange(30), g]
        bound = (N - 1) * math.exp(-lam * (1 - math.cos(2 * math.pi / N)))
        assert (kl <= bound + 1e-12).all()
    assert kl.max() < 1e-20


def test_bounds_and_their_algebra():
    assert mem.capacity(3, 4, 5) == 17 and mem.previous_capacity(3, 4) == 10
    assert mem.accuracy_bound(0, 100, 10) == pytest.approx(0.1)
    assert mem.accuracy_bound(1000, 100, 10) == pytest.approx(1.0)
    assert mem.associations(mem.accuracy_bound(37, 100, 10), 100, 10) == pytest.approx(
        37
    )
    C, T, N = sp.symbols("C T N", positive=True)
    acc = C / T + (1 - C / T) / N  # store C exactly, guess the rest uniformly
    assert sp.simplify(acc - (1 / N + (1 - 1 / N) * C / T)) == 0


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: mem.power_unif_law((1, 1, 1), (3, -1, 1), 5, gen()),
            "support size -1",
        ),
        (lambda: mem.power_unif_law((1, 1, 1), (6, 3, 1), 5, gen()), "support size 6"),
        (lambda: mem.power_unif_law((1, 0, 1), (3, 3, 1), 5, gen()), "positive"),
        (lambda: mem.last_position_law(5, 0, 1.5, gen()), r"\[0, 1\]"),
        (lambda: mem.capacity(-1, 2, 3), "positive"),
        (
            lambda: mem.sample(
                mem.power_unif_law((1, 1, 1), (2, 2, 1), 3, gen()), 0, gen()
            ),
            "batch=0",
        ),
        (
            lambda: mem.TrigramLaw(
                torch.ones(3) / 3, torch.ones(3, 3) / 3, torch.ones(3, 3, 3) / 2
            ),
            "sum to one",
        ),
    ],
)
def test_bad_arguments_give_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
