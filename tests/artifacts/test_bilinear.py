"""The bilinear study's calibration on the committed tokenizer: fresh stories, counted."""

import pytest
import torch

from interplib.corpus import grammar, lmdata
from interplib.corpus.tokenizer import Vocab
from interplib.studies.bilinear.calibration import fresh_counts

pytestmark = pytest.mark.artifacts


def test_fresh_counts_count_the_pairs_inside_each_packed_row():
    vocab = Vocab.load()
    n = 2 * 256
    got = fresh_counts(n, seed=2, vocab=vocab)
    stream = lmdata.encode_stories(grammar.stories(2), vocab, n).astype("int64")
    expected = torch.zeros(len(vocab), len(vocab), dtype=torch.long)
    for row in stream.reshape(2, 256).tolist():
        for prev, nxt in zip(row[:-1], row[1:]):
            expected[nxt, prev] += 1
    assert torch.equal(got, expected)
    assert int(got.sum()) == 2 * 255


def test_the_long_gpu_recipes_track_the_bigram_readings_in_their_smoke_config():
    from interplib.core.training import smoke_run
    from interplib.studies.bilinear import recipes as study

    run = smoke_run(study.LONG_RUNS["bilinear-l1-long"])
    out = study.fit_tracked(run, torch.device("cpu"), None)
    for key in (
        "precision@10",
        "an balanced accuracy",
        "embedding RMS",
        "effective rank",
    ):
        curve = out.tensors[f"curve.{key}"]
        assert curve.shape == (3,) and torch.isfinite(curve).all(), key
    assert 0 <= float(out.tensors["curve.precision@10"].max()) <= 1
