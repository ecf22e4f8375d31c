"""The seed notebook's Pythia-70m numbers, as reference values, in the chapter's reading.

The seed (``../shared/seeds/004_28eedd032b57984c.txt``) ran ``EleutherAI/pythia-70m-deduped``
through TransformerLens with its default processing (``fold_ln``, ``center_writing_weights``,
``center_unembed``), on " Dublin is the capital city of" with no BOS, and printed the numbers
below. The checkpoint cannot be downloaded here, so these stored outputs are the only record;
they are copied as printed. Because TransformerLens had centred the unembedding, its "logit"
20.87 and "bias" 4.684 are **vocabulary-centred** quantities: they compare with the
``"centred"`` reading of :func:`interplib.interp.lens.split_readings`, not with a raw
Hugging Face logit. :func:`reading_summary` puts either model's numbers into the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

__all__ = ["SEED_TOP10", "SEED", "reading_summary", "seed_summary"]

# utils.test_prompt(" Dublin is the capital city of", "Ireland", model, prepend_bos=False)
SEED_TOP10 = pd.DataFrame(
    {
        "token": [
            " the",
            " London",
            " Dublin",
            " New",
            " Ireland",
            " B",
            " England",
            " a",
            " Belfast",
            " Paris",
        ],
        "logit": [22.56, 21.26, 21.12, 20.95, 20.87, 20.45, 20.42, 20.33, 20.28, 20.19],
        "prob": [
            0.1167,
            0.0319,
            0.0278,
            0.0233,
            0.0217,
            0.0142,
            0.0138,
            0.0126,
            0.0120,
            0.0110,
        ],
    }
)

SEED = {
    "answer": " Ireland",
    "d_model": 512,
    "eps": 1e-5,
    "logit": 20.871273040771484,  # the reassembled "Result"; the cache gives 20.8713
    "lambda": 0.0116585623472929,  # 1 / sqrt(‖c(x)‖² + ε), the seed's ε slip included
    "bias": 4.6844482421875,  # TL's b_U[Ireland]: ⟨β, W_U⟩ minus its vocabulary mean
    # ⟨Ireland, Δx^i⟩ in residual units, blocks 0..5
    "block_raw": (
        3.751769781112671,
        -0.10114288330078125,
        0.11024236679077148,
        17.597177505493164,
        -1.415786623954773,
        41.282501220703125,
    ),
    "last_attn_raw": 16.106090545654297,
    "last_mlp_raw": 25.176414489746094,
}


def reading_summary(
    block_terms: Sequence[float],
    last_attn: float,
    last_mlp: float,
    embed: float,
    bias: float,
    logit: float,
    scale: float,
    answer_rank: int,
    answer_prob: float,
    top_prob: float,
    margin: float,
) -> pd.Series:
    """One model's numbers for the seed prompt, in the rows of the parity table.

    All terms in logit units of the vocabulary-centred reading. ``scale`` is
    ``ln_final.hook_scale`` (``‖c(x)‖/√N`` up to ε); ``margin`` is the answer's logit minus
    the best other token's. The largest block and its share are of the sum of block terms.

    Raises:
        ValueError: if the block terms are empty.
    """
    if not block_terms:
        raise ValueError("block_terms is empty: pass one term per block")
    rows: dict[str, float | int | str] = {
        "answer rank (0 = top)": answer_rank,
        "answer probability": answer_prob,
        "top token's probability": top_prob,
        "margin over the best other token": margin,
        "centred logit": logit,
        "bias b′ (centred)": bias,
        "ln_final scale ‖c(x)‖/√N": scale,
        "embedding term": embed,
    }
    rows.update({f"block {i} term": t for i, t in enumerate(block_terms)})
    last = len(block_terms) - 1
    rows[f"block {last} attention"] = last_attn
    rows[f"block {last} MLP"] = last_mlp
    largest = max(range(len(block_terms)), key=lambda i: block_terms[i])
    rows["largest block"] = f"block {largest}"
    rows["its share of the block terms"] = block_terms[largest] / sum(block_terms)
    return pd.Series(rows)


def seed_summary() -> pd.Series:
    """The seed's numbers in :func:`reading_summary`'s rows, converted to logit units.

    A raw inner product times ``√N λ`` is a term; the embedding's term (the seed did not print
    it) is what is left of the logit after the bias and the blocks. The margin is from the
    printed top-10 (two decimals): " Ireland" minus " the".
    """
    n, lam = SEED["d_model"], SEED["lambda"]
    to_logit = math.sqrt(n) * lam
    blocks = [r * to_logit for r in SEED["block_raw"]]
    top = SEED_TOP10.set_index("token")
    answer = SEED["answer"]
    return reading_summary(
        block_terms=blocks,
        last_attn=SEED["last_attn_raw"] * to_logit,
        last_mlp=SEED["last_mlp_raw"] * to_logit,
        embed=SEED["logit"] - SEED["bias"] - sum(blocks),
        bias=SEED["bias"],
        logit=SEED["logit"],
        scale=1 / to_logit,
        answer_rank=int(SEED_TOP10["token"].tolist().index(answer)),
        answer_prob=float(top.loc[answer, "prob"]),
        top_prob=float(SEED_TOP10["prob"].iloc[0]),
        margin=float(top.loc[answer, "logit"] - SEED_TOP10["logit"].iloc[0]),
    )
