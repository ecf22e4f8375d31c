import math

import pytest
import torch
from builders import tiny_grok_config

from interplib.studies.grokking import analysis as GA
from interplib.studies.grokking.model import (
    GrokConfig,
    GrokTransformer,
    effective_state_dict,
    to_bridge,
)
from interplib.studies.grokking.task import dataset

CFG = tiny_grok_config()


def model_and_bridge(weights: str):
    torch.manual_seed(0)
    cfg = GrokConfig(**{**CFG.__dict__, "weights": weights})
    model = GrokTransformer(cfg).double()
    return cfg, model, to_bridge(cfg, effective_state_dict(model))


@pytest.mark.parametrize("weights", ["fp", "binary"])
def test_answer_cache_matches_a_hand_written_forward_pass(weights):
    cfg, model, bridge = model_and_bridge(weights)
    p, H, dh = cfg.p, cfg.n_heads, cfg.d_head
    cache = GA.answer_cache(bridge, p)
    tokens, _ = dataset(p)
    state = effective_state_dict(model)
    W = {k: v.double() for k, v in state.items()}
    x = W["embed.weight"][tokens] + W["pos_embed.weight"]  # [pair pos d]
    q, k, v = (x @ W[f"blocks.0.attn.{n}.weight"].T for n in "qkv")
    pattern = torch.stack(
        [
            (
                q[:, -1, h * dh : (h + 1) * dh, None]
                * k[:, :, h * dh : (h + 1) * dh].transpose(1, 2)
            )
            .sum(1)
            .div(dh**0.5)
            .softmax(-1)
            for h in range(H)
        ],
        dim=1,
    )  # [pair head key]
    z = torch.cat(
        [
            (pattern[:, h, :, None] * v[:, :, h * dh : (h + 1) * dh]).sum(1)
            for h in range(H)
        ],
        dim=-1,
    )
    mid = x[:, -1] + z @ W["blocks.0.attn.o.weight"].T
    neurons = torch.relu(mid @ W["blocks.0.mlp.in.weight"].T)
    logits = (mid + neurons @ W["blocks.0.mlp.out.weight"].T) @ W["unembed.weight"].T
    torch.testing.assert_close(
        cache.pattern,
        pattern.reshape(p, p, H, 3).permute(2, 0, 1, 3),
        atol=1e-5,
        rtol=1e-5,
    )
    torch.testing.assert_close(
        cache.neurons, neurons.reshape(p, p, -1).permute(2, 0, 1), atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(
        cache.logits, logits.reshape(p, p, p), atol=1e-5, rtol=1e-5
    )


def test_ov_neuron_circuit_is_the_product_of_the_twins_matrices():
    cfg, model, bridge = model_and_bridge("ternary")
    W = {k: v.double() for k, v in effective_state_dict(model).items()}
    got = GA.ov_neuron_circuit(bridge, cfg.p)
    assert got.shape == (cfg.n_heads, cfg.p, cfg.d_mlp)
    for h in range(cfg.n_heads):
        cols = slice(h * cfg.d_head, (h + 1) * cfg.d_head)
        want = (
            W["embed.weight"][: cfg.p]
            @ W["blocks.0.attn.v.weight"][cols].T
            @ W["blocks.0.attn.o.weight"][:, cols].T
            @ W["blocks.0.mlp.in.weight"].T
        )
        torch.testing.assert_close(got[h], want, atol=1e-6, rtol=1e-5)


def test_first_epoch_finds_the_first_logged_crossing():
    epochs = torch.tensor([0, 100, 200, 300])
    values = torch.tensor([[0.1, 0.5, 0.99, 1.0], [0.1, 0.2, 0.3, 0.4]])
    assert GA.first_epoch(epochs, values, 0.99) == [200, None]
    assert GA.first_epoch(epochs, values, 0.0) == [0, 0]
    with pytest.raises(ValueError, match="logged epochs"):
        GA.first_epoch(epochs, values[:, :3], 0.5)


def test_summary_of_a_random_model_has_every_measure_in_range():
    cfg, model, _ = model_and_bridge("binary")
    summary = GA.summarize(cfg, model.float())
    fractions = (
        "embed_key_share",
        "neurons_explained",
        "logit_map_key_share",
        "ov_key_share",
        "cos_sum_fraction",
        "distance_irrelevance",
        "distance_share",
        "pizza_fit",
        "unembed_key_share",
        "ov_random_share",
        "logit_map_rank_residual",
        "embed_pc_wave_share",
        "keep_accuracy",
        "remove_accuracy",
    )
    for name in fractions:
        assert 0 <= summary[name] <= 1 + 1e-9, name
    assert -1 <= summary["gradient_symmetricity"] <= 1
    assert summary["n_key_freqs"] == len(summary["key_freqs"]) >= 1
    assert summary["pizza_fit"] <= summary["distance_share"] + 1e-9
    assert min(summary[f"{k}_loss"] for k in ("keep", "remove")) > 0
    assert math.isnan(summary["remove_control_loss"])  # p = 7: every frequency is key


def test_jaccard_and_frequency_overlap_against_hand_counts():
    assert GA.jaccard([1, 2, 3], [2, 3, 4]) == pytest.approx(2 / 4)
    assert GA.jaccard([5], [5]) == 1.0 and GA.jaccard([1], [2]) == 0.0
    freqs = {"fp": [[1, 2], [3, 4]], "binary": [[1, 2], [3, 5]]}
    got = GA.frequency_overlap(freqs)
    # same seed: J([1,2],[1,2]) = 1, J([3,4],[3,5]) = 1/3; other seeds ([1,2] vs [3,5], [3,4] vs
    # [1,2]) and
    # the two seeds within a variant are disjoint
    assert got["same_seed"] == pytest.approx((1 + 1 / 3) / 2)
    assert got["other_seed"] == pytest.approx(0.0)
    assert got["within"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same number"):
        GA.frequency_overlap({"fp": [[1], [2]], "binary": [[1]]})
    with pytest.raises(ValueError, match="non-empty"):
        GA.jaccard([], [1])


def test_neuron_clusters_of_planted_neurons():
    import math

    p = 11
    x = torch.arange(p, dtype=torch.float64)
    wave = lambda k: (
        1 + torch.cos(2 * math.pi * k * (x[:, None] + x[None, :]) / p)
    )  # one frequency, non-negative
    noise = torch.rand(
        p, p, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    acts = torch.stack(
        [
            wave(2),
            wave(2) + 0.1 * noise,
            wave(5),
            noise,
            torch.zeros(p, p, dtype=torch.float64),
        ]
    )
    got = GA.neuron_clusters(acts)
    assert got["sizes"] == {2: 2, 5: 1}
    assert got["explained"] == pytest.approx(3 / 5) and got["dead"] == 1
    assert got["best"][4] == 0 and got["best"][3] < 0.85 < got["best"][1] < 1
    torch.testing.assert_close(got["best"][[0, 2]], torch.ones(2, dtype=torch.float64))
    # a strict enough threshold drops the noisy wave and keeps the pure ones
    assert GA.neuron_clusters(acts, threshold=float(got["best"][1]))["sizes"] == {
        2: 1,
        5: 1,
    }
    with pytest.raises(ValueError, match="threshold=1"):
        GA.neuron_clusters(acts, threshold=1)


def test_values_at_reads_each_models_own_epoch():
    epochs = torch.tensor([0, 5, 10, 15])
    values = torch.randn(
        3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    at = [10, 0, 15]
    expected = torch.stack(
        [values[m, epochs.tolist().index(e)] for m, e in enumerate(at)]
    )
    assert torch.equal(GA.values_at(epochs, values, at), expected)
    with pytest.raises(ValueError, match="not logged"):
        GA.values_at(epochs, values, [10, 3, 15])
    with pytest.raises(ValueError, match="need"):
        GA.values_at(epochs, values, [10, 0])
