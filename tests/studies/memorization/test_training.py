"""The study's data streams: each law's samples, pooled epochs, pure in the step."""

import pytest
import torch

from interplib.studies.memorization import laws as mem
from interplib.studies.memorization.model import AoTConfig, AttentionOnly
from interplib.studies.memorization.training import freeze, law_data, make_law


def test_law_data_is_pure_and_follows_each_law():
    laws = [make_law("table", 6, s) for s in range(3)]
    data = law_data(laws, 50, 0, per_model=True)
    a, b = data(7), data(7)
    assert torch.equal(a["tokens"], b["tokens"]) and a["tokens"].shape == (3, 50, 3)
    for k, law in enumerate(laws):
        t = a["tokens"][k]
        assert torch.equal(t[:, 2], mem.table(law)[t[:, 0], t[:, 1]])
        torch.testing.assert_close(a["target"][k], law.pi2[t[:, 0], t[:, 1]].float())
    with pytest.raises(ValueError, match="priors differ"):
        law_data(
            [make_law("table", 6, 0, (3, 3)), make_law("table", 6, 1, (3, 3))],
            5,
            0,
            True,
        )


def test_pooled_data_reuse_one_sample_in_reshuffled_epochs():
    law = make_law("power", 5, 0)
    data = law_data([law], 4, 3, per_model=False, pool_batches=3)

    def rows(steps):
        return sorted(
            map(tuple, torch.cat([data(s)["tokens"] for s in steps]).tolist())
        )

    epoch0, epoch1 = rows(range(3)), rows(range(3, 6))
    assert epoch0 == epoch1  # the same 12 sequences, t3 included
    assert not torch.equal(data(0)["tokens"], data(3)["tokens"])  # in another order
    assert torch.equal(
        data(4)["tokens"], law_data([law], 4, 3, False, 3)(4)["tokens"]
    )  # pure in the step
    fresh = law_data([law], 4, 3, per_model=False)
    assert rows(range(3)) != sorted(
        map(tuple, torch.cat([fresh(s)["tokens"] for s in range(3, 6)]).tolist())
    )
    with pytest.raises(ValueError, match="pool_batches=-1"):
        law_data([law], 4, 3, False, -1)


def test_each_model_can_reshuffle_the_one_sample_in_its_own_order():
    law = make_law("table", 5, 0)
    shared = law_data([law], 4, 3, per_model=False, pool_batches=3)
    own = law_data([law], 4, 3, per_model=False, pool_batches=3, shuffles=3)
    assert own(4)["tokens"].shape == (3, 4, 3) and own(4)["target"].shape == (3, 4, 5)
    for s in range(6):  # the first model sees the shared order
        assert torch.equal(own(s)["tokens"][0], shared(s)["tokens"])
    epoch = torch.stack([own(s)["tokens"] for s in range(3, 6)], 1)  # model step b 3
    sample = [sorted(map(tuple, e.flatten(0, 1).tolist())) for e in epoch]
    assert sample[0] == sample[1] == sample[2]  # one sample, three orders
    assert not torch.equal(epoch[0], epoch[1]) and not torch.equal(epoch[1], epoch[2])
    t = own(5)["tokens"]
    assert torch.equal(t[..., 2], mem.table(law)[t[..., 0], t[..., 1]])
    assert torch.equal(own(5)["tokens"], t)  # pure in the step, back and forth
    assert torch.equal(own(1)["tokens"][0], shared(1)["tokens"])
    laws = [make_law("table", 5, s) for s in range(3)]
    per_law = law_data(laws, 4, 3, per_model=True, pool_batches=3, shuffles=3)(2)
    for k in range(3):
        assert torch.equal(
            per_law["tokens"][k, :, 2],
            mem.table(laws[k])[per_law["tokens"][k, :, 0], per_law["tokens"][k, :, 1]],
        )
    with pytest.raises(ValueError, match="need a fixed sample"):
        law_data([law], 4, 3, False, shuffles=2)
    with pytest.raises(ValueError, match="3 laws for 2 orders"):
        law_data(laws, 4, 3, True, 3, shuffles=2)


def test_the_papers_table_is_one_randperm_per_row_from_its_seed():
    """Its power_unif_law: one randperm(N) for the prior, N for the first token, N² for the
    table rows, from the global generator; the next token is where the permutation puts 0."""
    torch.manual_seed(7)
    for _ in range(1 + 6):
        torch.randperm(6)
    rows = [torch.randperm(6) for _ in range(36)]
    brute = torch.tensor([int((r == 0).nonzero()) for r in rows]).reshape(6, 6)
    assert torch.equal(mem.table(make_law("paper_table", 6, 7)), brute)
    assert not torch.equal(mem.table(make_law("table", 6, 7)), brute)


def test_unknown_law_kind():
    with pytest.raises(ValueError, match="unknown law kind"):
        make_law("zipf", 5, 0)


def tiny(**kw):
    torch.manual_seed(0)
    return AttentionOnly(
        AoTConfig(**{"d_vocab": 7, "d_model": 5, "d_head": 3, "n_heads": 2, **kw})
    ).double()


def test_freezing_really_freezes():
    m = tiny()
    trainable = freeze(m, "embed", "pos", "qkv", "unembed")
    assert trainable == ["blocks.0.attn.W_O"]
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        loss = m(torch.randint(7, (8, 2))).logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for n, p in m.named_parameters():
        assert torch.equal(p, before[n]) == (n != "blocks.0.attn.W_O"), n


def test_freeze_rejects_unknown_groups():
    with pytest.raises(ValueError, match="unknown parameter group"):
        freeze(tiny(), "pos_emb")
