"""The seed's Pythia-70m numbers and their conversion to logit units."""

import math

import pytest

from interplib.studies.layernorm import seed


def test_the_seeds_terms_reassemble_its_logit():
    s = seed.SEED
    to_logit = math.sqrt(s["d_model"]) * s["lambda"]
    total = s["bias"] + to_logit * sum(s["block_raw"])
    summary = seed.seed_summary()
    # the embedding term closes the sum; the seed's printed logit is 20.87
    assert total + summary["embedding term"] == pytest.approx(s["logit"])
    assert 0 < summary["embedding term"] < 0.1
    assert s["last_attn_raw"] + s["last_mlp_raw"] == pytest.approx(
        s["block_raw"][5], abs=1e-4
    )


def test_the_seed_summary_reads_its_printed_tables():
    summary = seed.seed_summary()
    assert summary["answer rank (0 = top)"] == 4
    assert summary["answer probability"] == pytest.approx(0.0217)
    assert summary["margin over the best other token"] == pytest.approx(20.87 - 22.56)
    assert summary["block 5 term"] == pytest.approx(10.890, abs=1e-3)
    assert summary["block 5 attention"] == pytest.approx(4.249, abs=1e-3)
    assert summary["largest block"] == "block 5"
    assert summary["ln_final scale ‖c(x)‖/√N"] == pytest.approx(
        85.77 / math.sqrt(512), rel=1e-3
    )


def test_reading_summary_names_the_largest_block_and_its_share():
    got = seed.reading_summary(
        [1.0, 3.0, -1.0], 2.0, 1.0, 0.5, 0.1, 3.6, 2.0, 0, 0.9, 0.9, 2.5
    )
    assert got["largest block"] == "block 1"
    assert got["its share of the block terms"] == pytest.approx(1.0)
    assert got["block 2 attention"] == 2.0
    with pytest.raises(ValueError, match="one term per block"):
        seed.reading_summary([], 0, 0, 0, 0, 0, 1, 0, 0, 0, 0)
