"""Token tensors for the language-model chapters: the story corpus, tokenized and packed.

Each story becomes ``[BOS] tokens [EOS]``; the stories are concatenated and cut into rows of
``seq_len`` tokens (a row may start mid-story, as in GPT-style packing). Training stories come
from ``stories(seed)``, validation stories from ``stories(seed + 1)``, so no story is in both.

The training split (tens of millions of tokens) is not committed: it is rebuilt from the seed
in well under a minute and cached in ``.cache/lmdata/`` (gitignored). The artifact
``story-lmdata`` commits its sha256 and the validation split itself; :func:`load_split`
checks the cache (or a rebuild) against that hash, so every reader trains on the same bytes.
``story-bigrams`` is the ground truth of next-token statistics of the training split::

    train = load_split("train")          # Int[Tensor, "batch pos"], int64
    val = load_split("val")
    truth = bigram_truth()               # top-k next tokens per token, with probabilities

Users' own corpora: :func:`read_texts` (plain-text files) and :func:`pack_texts`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import einops
import numpy as np
import pandas as pd
import torch
from jaxtyping import Int
from torch import Tensor

from interplib.core import artifacts, paths
from interplib.core.recipes import Trained
from interplib.core.recipes import load as load_artifact
from interplib.corpus import grammar, lexicon, rules
from interplib.corpus.tokenizer import BOS, EOS, SPECIALS, TOKENIZER_NAME, Vocab

__all__ = [
    "DATA_NAME",
    "BIGRAMS_NAME",
    "cache_root",
    "DataConfig",
    "encode_stories",
    "pack",
    "with_repeated_segments",
    "sha256_tokens",
    "build_split",
    "load_split",
    "fit_data",
    "BigramConfig",
    "bigram_counts",
    "fit_bigrams",
    "BigramTruth",
    "bigram_truth",
    "ground_truth",
    "read_texts",
    "pack_texts",
]

DATA_NAME = "story-lmdata"
BIGRAMS_NAME = "story-bigrams"
_WORD = re.compile(r"[a-z]+|[0-9]|[^\sa-z0-9]")


def cache_root() -> Path:
    """``.cache/lmdata`` of the book checkout: gitignored, safe to delete."""
    return paths.cache_root() / "lmdata"


@dataclass(frozen=True)
class DataConfig:
    """The packed story data: tokens in each split, the row length and the story seed."""

    n_train_tokens: int = 20_000_000
    n_val_tokens: int = (
        262_144  # 1024 rows of 256: small enough to commit (512 KiB as int16)
    )
    seq_len: int = 256  # the bilinear study's context
    seed: int = 0  # train: stories(seed), validation: stories(seed + 1)

    def __post_init__(self):
        if self.seq_len < 2:
            raise ValueError(
                f"seq_len={self.seq_len}: a row needs at least 2 tokens (input and target)"
            )
        for name in ("n_train_tokens", "n_val_tokens"):
            if getattr(self, name) < self.seq_len:
                raise ValueError(
                    f"{name}={getattr(self, name)}: ask for at least one row of "
                    f"seq_len={self.seq_len}"
                )


class _WordIds(dict):
    """word -> token ids, filled on first use (the corpus has a few thousand distinct words)."""

    def __init__(self, vocab: Vocab):
        super().__init__()
        self.vocab = vocab

    def __missing__(self, word: str) -> list[int]:
        ids = self.vocab.tokenizer.encode(word, add_special_tokens=False).ids
        self[word] = ids
        return ids


def encode_stories(
    texts: Iterable[str], vocab: Vocab, n_tokens: int | None = None
) -> np.ndarray:
    """``[BOS] story [EOS]`` for each text, concatenated, as uint16.

    Stops once ``n_tokens`` are made. Equal to the tokenizer's own encoding for ASCII text (a
    test checks it) and ~5x faster: the text is split into words as the tokenizer's
    pre-tokenizer does, each word encoded once.
    """
    ids = _WordIds(vocab)
    out: list[int] = []
    for text in texts:
        if not text.isascii():
            out.append(BOS)
            out.extend(vocab.encode(text))
            out.append(EOS)
        else:
            out.append(BOS)
            out.extend(
                chain.from_iterable(map(ids.__getitem__, _WORD.findall(text.lower())))
            )
            out.append(EOS)
        if n_tokens is not None and len(out) >= n_tokens:
            break
    if n_tokens is not None and len(out) < n_tokens:
        raise ValueError(
            f"the texts gave {len(out)} tokens, fewer than the {n_tokens} asked for"
        )
    return np.asarray(out[:n_tokens] if n_tokens is not None else out, dtype=np.uint16)


def pack(tokens: np.ndarray | Tensor, seq_len: int) -> Int[Tensor, "batch pos"]:
    """Cut a token stream into rows of ``seq_len``.

    The tail that does not fill a row is dropped.
    """
    tokens = torch.as_tensor(np.asarray(tokens, dtype=np.int64))
    n = tokens.numel() // seq_len
    if n == 0:
        raise ValueError(
            f"{tokens.numel()} tokens do not fill one row of seq_len={seq_len}"
        )
    return tokens[: n * seq_len].reshape(n, seq_len)


def with_repeated_segments(
    rows: Int[Tensor, "batch pos"],
    fraction: float,
    d_vocab: int,
    periods: tuple[int, int] = (8, 120),
    seed: int = 0,
) -> Int[Tensor, "batch pos"]:
    """A copy of ``rows`` in which a seeded ``fraction`` of the rows are random segments repeated.

    Each chosen row becomes ``[BOS] r r r ...`` (cut to the row's length): ``r`` is a segment of
    uniform random non-special tokens whose length is drawn uniformly from ``periods``
    (inclusive). Nothing but an earlier copy predicts a token of ``r``, and the period varies,
    so the one thing these rows reward is induction: find the previous occurrence of the
    current token and predict the token that followed it. The story grammar never repeats a
    passage, so the plain corpus does not reward it (``notes/induction-heads.md``).
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction={fraction}: use a fraction of the rows in [0, 1]")
    if rows.ndim != 2:
        raise ValueError(
            f"rows has shape {tuple(rows.shape)}: pass packed rows [n_seq, seq_len]"
        )
    low, high = periods
    if not 1 <= low <= high or 2 * high + 1 > rows.shape[1]:
        raise ValueError(
            f"periods={periods}: need 1 <= low <= high and [BOS] plus two copies of the longest "
            f"segment within the row length {rows.shape[1]}, "
            f"i.e. high <= {(rows.shape[1] - 1) // 2}"
        )
    if d_vocab <= len(SPECIALS):
        raise ValueError(
            f"d_vocab={d_vocab}: need tokens beyond the {len(SPECIALS)} special ones"
        )
    # NumPy's generator, not torch.randperm(seed): a training loop that shuffles rows with
    # torch.randperm of the same seed would otherwise meet every chosen row first
    rng = np.random.default_rng(seed)
    chosen = torch.as_tensor(
        rng.choice(len(rows), round(fraction * len(rows)), replace=False)
    )
    gen = torch.Generator().manual_seed(seed)
    out = rows.clone()
    lengths = torch.randint(low, high + 1, (len(chosen),), generator=gen)
    segments = torch.randint(len(SPECIALS), d_vocab, (len(chosen), high), generator=gen)
    offsets = torch.arange(rows.shape[1] - 1)
    out[chosen, 0] = BOS
    out[chosen, 1:] = segments.gather(1, offsets % lengths[:, None])
    return out


def sha256_tokens(tokens: np.ndarray) -> str:
    return hashlib.sha256(
        np.ascontiguousarray(tokens, dtype=np.uint16).tobytes()
    ).hexdigest()


def build_split(split: str, cfg: DataConfig, vocab: Vocab) -> np.ndarray:
    """The token stream of a split, rebuilt from the seed: uint16 of exactly n rows × seq_len."""
    if split not in ("train", "val"):
        raise ValueError(f"split={split!r}: use 'train' or 'val'")
    n = cfg.n_train_tokens if split == "train" else cfg.n_val_tokens
    n -= n % cfg.seq_len
    seed = cfg.seed if split == "train" else cfg.seed + 1
    return encode_stories(grammar.stories(seed), vocab, n)


def _cache_path(cfg: DataConfig, tokenizer_sha: str, split: str) -> Path:
    key = hashlib.sha256(
        json.dumps([dataclasses.asdict(cfg), tokenizer_sha], sort_keys=True).encode()
    )
    return cache_root() / key.hexdigest()[:16] / f"{split}.npy"


def _tokenizer_sha() -> str:
    meta = artifacts.read_sidecar(artifacts.find(TOKENIZER_NAME))
    return meta["files"]["tokenizer.json"]["sha256"]


def _write_cache(path: Path, tokens: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, tokens)
    tmp.replace(path)


def load_split(split: str = "train") -> Int[Tensor, "batch pos"]:
    """The packed ``train`` or ``val`` split, verified against the ``story-lmdata`` sidecar's hash.

    The validation split is read from the committed artifact. The training split is read from
    ``.cache/lmdata/`` if its hash matches, else rebuilt from the seed (about 30 s) and checked.

    Raises:
        ArtifactError: if a rebuilt split does not reproduce the recorded hash (the grammar or the
            tokenizer changed: remake it with ``python -m interplib.train story-lmdata --force``).
    """
    art = load_artifact(DATA_NAME)
    cfg = DataConfig(**art.config)
    if split == "val":
        return pack(art.tensors["val"].numpy().astype(np.uint16), cfg.seq_len)
    if split != "train":
        raise ValueError(f"split={split!r}: use 'train' or 'val'")
    want = art.metrics["train_sha256"]
    if art.metrics["tokenizer_sha256"] != _tokenizer_sha():
        raise artifacts.StaleArtifact(
            f"{DATA_NAME} was made with another tokenizer (sha256 "
            f"{art.metrics['tokenizer_sha256'][:12]}…) than "
            f"the current {TOKENIZER_NAME} ({_tokenizer_sha()[:12]}…); remake it with "
            f"`python -m interplib.train {DATA_NAME} {BIGRAMS_NAME} --force`"
        )
    path = _cache_path(cfg, art.metrics["tokenizer_sha256"], split)
    if path.exists():
        tokens = np.load(path, allow_pickle=False)
        if sha256_tokens(tokens) == want:
            return pack(tokens, cfg.seq_len)
        print(
            f"{path} does not match the recorded hash; rebuilding it", file=sys.stderr
        )
    tokens = build_split("train", cfg, Vocab.load())
    got = sha256_tokens(tokens)
    if got != want:
        raise artifacts.ArtifactError(
            f"the rebuilt training split has sha256 {got[:12]}…, but {DATA_NAME} "
            f"records {want[:12]}…: "
            f"the story grammar or the tokenizer changed since it was made; remake it with "
            f"`{artifacts.remake_command(DATA_NAME)}`"
        )
    _write_cache(path, tokens)
    return pack(tokens, cfg.seq_len)


def fit_data(cfg: DataConfig, device: torch.device, progress) -> Trained:
    """Build both splits and record their hashes.

    The training split is cached, the validation split is committed.
    """
    vocab = Vocab.load()
    tok_sha = _tokenizer_sha()
    try:  # a previous version of this artifact: the rebuild should reproduce its hash
        old = artifacts.read_sidecar(artifacts.find(DATA_NAME))
        same_inputs = (
            old["config"] == artifacts.canonical(dataclasses.asdict(cfg))
            and old["metrics"]["tokenizer_sha256"] == tok_sha
        )
    except (artifacts.ArtifactError, KeyError):
        old, same_inputs = None, False
    train = build_split("train", cfg, vocab)
    val = build_split("val", cfg, vocab)
    _write_cache(_cache_path(cfg, tok_sha, "train"), train)
    train_sha = sha256_tokens(train)
    old_sha = (
        old["metrics"]["train_sha256"] if old is not None and same_inputs else None
    )
    reproduced = None if old_sha is None else train_sha == old_sha
    if old_sha is not None and not reproduced:
        print(
            f"{DATA_NAME}: the rebuilt training split differs from the previous one "
            f"({train_sha[:12]}… vs {old_sha[:12]}…) although config and tokenizer "
            "are the same: the story grammar changed",
            file=sys.stderr,
        )
    metrics = {
        "train_sha256": train_sha,
        "val_sha256": sha256_tokens(val),
        "tokenizer_sha256": tok_sha,
        "n_train_tokens": int(train.size),
        "n_val_tokens": int(val.size),
        "n_train_rows": int(train.size // cfg.seq_len),
        "n_val_rows": int(val.size // cfg.seq_len),
        "train_stories": int((train == BOS).sum()),
        "val_stories": int((val == BOS).sum()),
        "reproduces_previous": reproduced,
    }
    return Trained(
        tensors={"val": torch.from_numpy(val.astype(np.int16))},
        metrics=metrics,
        key_metric=("train_tokens", float(train.size)),
    )


# --------------------------------------------------------------------------- ground truth: bigrams
@dataclass(frozen=True)
class BigramConfig:
    """The bigram ground truth: ``k`` next tokens kept per token."""

    k: int = 32  # next tokens kept per token
    seed: int = 0  # unused: the statistics are counts of the training split

    def __post_init__(self):
        if not 1 <= self.k <= 4096:
            raise ValueError(
                f"k={self.k}: keep between 1 and 4096 next tokens per token"
            )


def bigram_counts(
    tokens: Int[Tensor, "... pos"], d_vocab: int
) -> Int[Tensor, "prev next"]:
    """``C[i, j]``: how often token j directly follows token i along the last axis of ``tokens``.

    A 1-D stream counts every consecutive pair; the rows of a 2-D batch count only the pairs
    inside each row. Cost O(n + d_vocab²).
    """
    tokens = torch.as_tensor(tokens)
    if tokens.ndim == 0 or tokens.dtype != torch.long:
        raise ValueError(
            f"tokens must be a LongTensor [..., pos], got {tokens.dtype} {tuple(tokens.shape)}"
        )
    if tokens.numel() and not 0 <= int(tokens.min()) <= int(tokens.max()) < d_vocab:
        raise ValueError(
            f"token ids {int(tokens.min())} … {int(tokens.max())} do not fit d_vocab={d_vocab}"
        )
    codes = tokens[..., :-1] * d_vocab + tokens[..., 1:]
    return einops.rearrange(
        torch.bincount(codes.flatten(), minlength=d_vocab * d_vocab),
        "(prev next) -> prev next",
        prev=d_vocab,
    )


def fit_bigrams(cfg: BigramConfig, device: torch.device, progress) -> Trained:
    """Top-k next tokens of every token, with empirical probabilities, over the training split."""
    train = load_split("train")
    d_vocab = len(Vocab.load())
    counts = bigram_counts(
        train.flatten().long(), d_vocab
    )  # the packed split is one stream
    totals = counts.sum(-1)
    top, ids = torch.topk(counts.float(), cfg.k, dim=-1)
    probs = top / totals.clamp(min=1).unsqueeze(-1)
    p = counts.double() / totals.clamp(min=1).unsqueeze(-1)
    entropy = -(torch.where(p > 0, p * p.log(), torch.zeros_like(p))).sum(-1)
    unigram = torch.bincount(train.flatten(), minlength=d_vocab)
    seen = totals > 0
    metrics = {
        "n_pairs": int(totals.sum()),
        "tokens_seen": int(seen.sum()),
        "mean_top1_prob": float((probs[:, 0] * totals).sum() / totals.sum()),
        "topk_mass": float((probs.sum(-1) * totals).sum() / totals.sum()),
        "conditional_entropy_nats": float((entropy * totals).sum() / totals.sum()),
    }
    return Trained(
        tensors={
            "next_ids": ids.to(torch.int16),
            "next_probs": probs.to(torch.float16),
            "row_totals": totals.to(torch.int32),
            "unigram": unigram.to(torch.int32),
            "entropy": entropy.to(torch.float32),
        },
        metrics=metrics,
        key_metric=("bigram_entropy_nats", metrics["conditional_entropy_nats"]),
    )


@dataclass
class BigramTruth:
    """The empirical next-token statistics of the training split (the bigram ground truth).

    Attributes:
        next_ids: ``[d_vocab k]`` the k most frequent next tokens of each token, most
            frequent first.
        next_probs: ``[d_vocab k]`` their empirical probabilities P(next | token).
        row_totals: ``[d_vocab]`` how often each token is followed by anything.
        unigram: ``[d_vocab]`` token counts.
        entropy: ``[d_vocab]`` H(next | token) in nats.
        vocab: the tokenizer the ids belong to.
    """

    next_ids: Tensor
    next_probs: Tensor
    row_totals: Tensor
    unigram: Tensor
    entropy: Tensor
    vocab: Vocab

    def table(self, token: str, k: int = 10) -> pd.DataFrame:
        """The k likeliest next tokens after ``token`` with their probabilities."""
        i = self.vocab.id(token)
        return pd.DataFrame(
            {
                "next": self.vocab.to_tokens(self.next_ids[i, :k].long()),
                "prob": self.next_probs[i, :k].float().tolist(),
            }
        )

    def strongest(self, k: int = 10, min_count: int = 100) -> pd.DataFrame:
        """The k strongest bigrams (highest P(next | token)).

        Only tokens seen ``min_count`` times count.
        """
        p = self.next_probs[:, 0].float().clone()
        p[self.row_totals < min_count] = -1
        order = torch.argsort(p, descending=True)[:k]
        return pd.DataFrame(
            {
                "token": self.vocab.to_tokens(order),
                "next": self.vocab.to_tokens(self.next_ids[order, 0].long()),
                "prob": p[order].tolist(),
                "count": self.row_totals[order].tolist(),
            }
        )


def bigram_truth() -> BigramTruth:
    """The verified ``story-bigrams`` artifact as a :class:`BigramTruth`."""
    t = load_artifact(BIGRAMS_NAME).tensors
    return BigramTruth(
        next_ids=t["next_ids"].long(),
        next_probs=t["next_probs"].float(),
        row_totals=t["row_totals"].long(),
        unigram=t["unigram"].long(),
        entropy=t["entropy"],
        vocab=Vocab.load(),
    )


def ground_truth() -> dict:
    """Everything the grammar guarantees, as data: rules, fact table and bigram statistics."""
    return {
        "rules": pd.DataFrame([dataclasses.asdict(r) for r in rules.RULES]).set_index(
            "name"
        ),
        "facts": lexicon.fact_table(),
        "bigrams": bigram_truth(),
    }


# --------------------------------------------------------------------------- users' own text
def read_texts(paths: str | Path | Sequence[str | Path]) -> list[str]:
    """Documents from plain-text UTF-8 files: each file is split at blank lines.

    Raises:
        FileNotFoundError: a path does not exist or is a directory.
        ValueError: a file is not UTF-8 (with the byte offset), or it holds no text.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise ValueError("read_texts got no paths; pass a file name or a list of them")
    docs: list[str] = []
    for p in map(Path, paths):
        if not p.is_file():
            raise FileNotFoundError(
                f"{p}: no such file{' (it is a directory)' if p.is_dir() else ''}; "
                "pass the path of a plain-text file"
            )
        data = p.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{p} is not UTF-8 text (invalid byte at offset {err.start}); convert it, e.g. "
                f"`iconv -f latin1 -t utf-8 {p.name}`"
            ) from None
        parts = [d.strip() for d in re.split(r"\n\s*\n", text) if d.strip()]
        if not parts:
            raise ValueError(
                f"{p} is empty (no text besides whitespace); give a file with text in it"
            )
        docs.extend(parts)
    return docs


def pack_texts(
    texts: Sequence[str], vocab: Vocab, seq_len: int = 256, val_fraction: float = 0.05
) -> tuple[Int[Tensor, "batch pos"], Int[Tensor, "batch pos"]]:
    """Train and validation rows from any documents.

    The last ``val_fraction`` of the documents validate.

    Raises:
        ValueError: too little text for one row in each split.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction={val_fraction}: use a fraction in (0, 1)")
    n_val = max(1, round(len(texts) * val_fraction))
    if len(texts) - n_val < 1:
        raise ValueError(
            f"{len(texts)} document(s): need at least 2 to make a train and a validation split"
        )
    train = encode_stories(texts[:-n_val], vocab)
    val = encode_stories(texts[-n_val:], vocab)
    return pack(train, seq_len), pack(val, seq_len)
