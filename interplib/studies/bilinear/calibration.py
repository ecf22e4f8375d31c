"""What a bigram score should be read against: a noise ceiling, near-ties, class balance.

* :func:`fresh_counts`: bigram counts of a fresh sample of stories (a seed no split uses),
  the table a perfect learner of the same number of tokens would have; scored like any
  other table against the training split's counts, it is the **noise ceiling**.
* :func:`near_ties`: how often the k-th and (k+1)-th true followers are within a few
  percent of each other, where a top-k score is decided by sampling noise.
* :func:`binary_scores`: a two-class prediction next to the majority answer and balanced
  accuracy (the articles ``a``/``an``, where one class is much rarer).
"""

from __future__ import annotations

from jaxtyping import Bool, Float, Int
from torch import Tensor

from interplib.corpus import grammar, lmdata
from interplib.corpus.tokenizer import Vocab

__all__ = ["fresh_counts", "near_ties", "binary_scores"]


def fresh_counts(
    n_tokens: int, seed: int, vocab: Vocab | None = None
) -> Int[Tensor, "out in"]:
    """``C[o, i]``: bigram counts of the first ``n_tokens`` of ``grammar.stories(seed)``.

    Encoded and packed like the splits (``[BOS] story [EOS]``, rows of the splits'
    ``seq_len``, pairs inside a row), indexed [output, input] as the chapter's tables.
    The training split uses seed 0 and validation seed 1: use another. Cost: about 2 s per
    million tokens on one CPU core.
    """
    if seed in (0, 1):
        raise ValueError(
            f"seed={seed} is a split's own seed (0: train, 1: validation); use 2 or more"
        )
    vocab = Vocab.load() if vocab is None else vocab
    seq_len = lmdata.DataConfig().seq_len
    stream = lmdata.encode_stories(grammar.stories(seed), vocab, n_tokens)
    return lmdata.bigram_counts(lmdata.pack(stream, seq_len), len(vocab)).T


def near_ties(
    log_probs: Float[Tensor, "out in"],
    k: int,
    inputs: Tensor | None = None,
    within: float = 0.05,
) -> Float[Tensor, " in"]:
    """Per input i: 1.0 if its (k+1)-th likeliest follower has at least ``1 - within`` of
    the k-th's probability, else 0.0 (over ``inputs``, a mask or index tensor)."""
    lp = log_probs if inputs is None else log_probs[:, inputs]
    if not 0 < k < lp.shape[0]:
        raise ValueError(f"k={k}: use 1 … {lp.shape[0] - 1}")
    top = lp.double().topk(k + 1, dim=0).values  # [k+1 in]
    return ((top[k] - top[k - 1]).exp() >= 1 - within).double()


def binary_scores(
    predicted: Bool[Tensor, " n"], label: Bool[Tensor, " n"]
) -> dict[str, float]:
    """Accuracy of a yes/no prediction, with its controls.

    ``{"accuracy", "majority baseline" (always the commoner label), "balanced accuracy"
    (the mean of the two recalls; 0.5 for any constant answer), "recall (yes)",
    "recall (no)"}``.
    """
    if predicted.shape != label.shape or label.ndim != 1:
        raise ValueError(
            f"predicted {tuple(predicted.shape)} and label {tuple(label.shape)} must be "
            "two vectors of one length"
        )
    if label.all() or not label.any():
        raise ValueError("label holds a single class: balanced accuracy is undefined")
    yes = float(predicted[label].double().mean())
    no = float((~predicted[~label]).double().mean())
    share = float(label.double().mean())
    return {
        "accuracy": float((predicted == label).double().mean()),
        "majority baseline": max(share, 1 - share),
        "balanced accuracy": (yes + no) / 2,
        "recall (yes)": yes,
        "recall (no)": no,
    }
