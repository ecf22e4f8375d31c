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
