"""The story corpus's WordPiece tokenizer and a small helper to read token ids as strings.

The tokenizer copies the setup of the TinyStories tokenizer of the bilinear study
(``tdooms/TinyStories-4096-uncased``): Hugging Face WordPiece, NFD -> strip accents ->
lowercase, split on whitespace and punctuation, digits one by one, ids 0 ``[UNK]``,
1 ``[BOS]``, 2 ``[EOS]`` (and 3 ``[PAD]``), 4096 tokens. It is trained on stories from
:mod:`interplib.corpus.grammar` and saved as the artifact ``story-tokenizer``::

    vocab = Vocab.load()                 # the verified artifact (trained first if missing)
    vocab.encode("Dublin is the capital city of Ireland")
    vocab.id("ireland"), vocab.decode(ids), vocab.tokens

Retraining is not bit-reproducible: the Hugging Face trainer breaks ties between equally
frequent merges, and numbers the continuation alphabet, in hash-map order. A retrain on
2026-12-06 differed from the committed artifact in 15 of the 4096 pieces, and 186 pieces had
other ids. The committed artifact is therefore the reference, and the packed data record the
sha256 of the tokenizer they were made with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)
from torch import Tensor

from interplib.core.recipes import Trained
from interplib.core.recipes import load as load_artifact
from interplib.corpus import grammar

__all__ = [
    "SPECIALS",
    "UNK",
    "BOS",
    "EOS",
    "PAD",
    "PREFIX",
    "TOKENIZER_NAME",
    "VocabConfig",
    "empty_tokenizer",
    "train_tokenizer",
    "Vocab",
    "fit",
]

SPECIALS = ("[UNK]", "[BOS]", "[EOS]", "[PAD]")
UNK, BOS, EOS, PAD = 0, 1, 2, 3
PREFIX = "##"
TOKENIZER_NAME = "story-tokenizer"


@dataclass(frozen=True)
class VocabConfig:
    """The story tokenizer: its vocabulary size and the stories it is trained on."""

    vocab_size: int = 4096  # the bilinear study's V
    n_stories: int = 20_000  # ~2.7M words: every word of the lexicon is seen
    seed: int = 1_000_000  # a story stream apart from the training data's seeds

    def __post_init__(self):
        if not 64 <= self.vocab_size <= 65_535:
            raise ValueError(
                f"vocab_size={self.vocab_size}: use 64..65535 (ids are stored as uint16)"
            )
        if self.n_stories < 100:
            raise ValueError(
                f"n_stories={self.n_stories}: train the tokenizer on at least 100 stories"
            )


def empty_tokenizer() -> Tokenizer:
    """An untrained WordPiece tokenizer with the normalizer, pre-tokenizer and decoder set."""
    tok = Tokenizer(
        models.WordPiece(unk_token="[UNK]", continuing_subword_prefix=PREFIX)
    )
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.BertPreTokenizer(),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    tok.decoder = decoders.WordPiece(prefix=PREFIX)
    return tok


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096) -> Tokenizer:
    """A WordPiece tokenizer trained on ``texts`` with the special tokens at ids 0..3."""
    tok = empty_tokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS),
        continuing_subword_prefix=PREFIX,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    for i, s in enumerate(SPECIALS):
        if tok.token_to_id(s) != i:
            raise RuntimeError(
                f"special token {s} got id {tok.token_to_id(s)}, expected {i}"
            )
    return tok


class Vocab:
    """Token strings and ids of a trained tokenizer.

    Args:
        tokenizer: a Hugging Face ``tokenizers.Tokenizer`` (``Vocab.load()`` gives the book's).
    """

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        vocab = tokenizer.get_vocab()
        self.tokens: list[str] = [""] * len(vocab)
        for s, i in vocab.items():
            self.tokens[i] = s
        self._ids = vocab

    @classmethod
    def load(cls) -> Vocab:
        """The book's tokenizer from the verified artifact ``story-tokenizer``."""
        art = load_artifact(TOKENIZER_NAME)
        return cls(Tokenizer.from_str(art.files["tokenizer.json"].decode()))

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return (
            f"Vocab({len(self)} tokens, {self.continuation_fraction():.1%} '##' pieces)"
        )

    def id(self, token: str) -> int:
        """The id of a string that is one token after normalization (" Ireland" -> id of "ireland").

        Raises:
            KeyError: if the string is not a single token of the vocabulary (unknown, or
                several tokens), saying how it does encode; never the id of ``[UNK]``.
        """
        if token in self._ids:
            return self._ids[token]
        low = token.lower()
        if low in self._ids:
            return self._ids[low]
        enc = self.tokenizer.encode(token, add_special_tokens=False)
        if enc.ids in ([UNK], []):
            raise KeyError(
                f"{token!r} is not in the vocabulary (it encodes as {enc.tokens}); see the "
                f"{len(self)} tokens in vocab.tokens, e.g. [t for t in vocab.tokens if "
                f"t.startswith({token.strip().lower()[:2]!r})]"
            )
        if len(enc.ids) == 1:
            return enc.ids[0]
        pieces = enc.tokens
        raise KeyError(
            f"{token!r} is not a single token of this vocabulary; it encodes as {pieces} "
            f"({len(pieces)} tokens). Use vocab.encode(text) for text, or pick a one-token word"
        )

    def ids(self, tokens: Sequence[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def token(self, i: int) -> str:
        if not 0 <= int(i) < len(self.tokens):
            raise IndexError(
                f"token id {i} is outside the vocabulary 0..{len(self.tokens) - 1}"
            )
        return self.tokens[int(i)]

    def to_tokens(self, ids: Iterable[int] | Tensor) -> list[str]:
        """Each id as its token string (``##`` pieces keep their prefix)."""
        if isinstance(ids, Tensor):
            ids = ids.flatten().tolist()
        return [self.token(i) for i in ids]

    def encode(
        self, text: str, bos: bool = False, eos: bool = False, unknown: str = "raise"
    ) -> list[int]:
        """The ids of a text; ``BOS`` and ``EOS`` are added only when ``bos`` and ``eos`` ask.

        Raises:
            ValueError: a word the vocabulary cannot spell (it would become ``[UNK]``),
                named; pass ``unknown="keep"`` to keep ``[UNK]`` ids on purpose.
        """
        if unknown not in ("raise", "keep"):
            raise ValueError(f"unknown={unknown!r}: use 'raise' or 'keep'")
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        if unknown == "raise" and UNK in enc.ids:
            words = sorted(
                {text[a:b] for i, (a, b) in zip(enc.ids, enc.offsets) if i == UNK}
            )
            raise ValueError(
                f"{words} cannot be spelled with this vocabulary (they would become "
                f"[UNK]); see vocab.tokens, or pass unknown='keep'"
            )
        return [BOS] * bos + enc.ids + [EOS] * eos

    def decode(self, ids: Iterable[int] | Tensor, skip_special: bool = True) -> str:
        """Text from ids: ``##`` pieces glued to their word, spaces before punctuation removed."""
        if isinstance(ids, Tensor):
            ids = ids.flatten().tolist()
        return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special)

    def hf_tokenizer(self):
        """The same tokenizer as a ``transformers`` fast tokenizer.

        For HF models and TransformerBridge. It adds no special tokens by itself, like
        :meth:`encode`.
        """
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(
            tokenizer_object=self.tokenizer,
            unk_token="[UNK]",
            bos_token="[BOS]",
            eos_token="[EOS]",
            pad_token="[PAD]",
        )

    def is_continuation(self) -> Tensor:
        """``[d_vocab]`` bool: which tokens are ``##`` continuation pieces."""
        return torch.tensor([t.startswith(PREFIX) for t in self.tokens])

    def continuation_fraction(self) -> float:
        return float(self.is_continuation().float().mean())


def fit(cfg: VocabConfig, device: torch.device, progress) -> Trained:
    """Train the tokenizer on ``cfg.n_stories`` stories and measure it."""
    texts = grammar.sample(cfg.n_stories, cfg.seed)
    tok = train_tokenizer(
        progress(texts, total=len(texts), desc="tokenizer"), cfg.vocab_size
    )
    vocab = Vocab(tok)
    counts = torch.zeros(len(vocab), dtype=torch.int64)
    n_words = n_tokens = 0
    for enc in tok.encode_batch(texts[:2000], add_special_tokens=False):
        ids = torch.tensor(enc.ids, dtype=torch.int64)
        counts += torch.bincount(ids, minlength=len(vocab))
        n_tokens += len(enc.ids)
        n_words += len({w for w in enc.words if w is not None})  # pre-tokens per story
    cont = vocab.is_continuation()
    metrics = {
        "vocab_size": len(vocab),
        "continuation_fraction": float(cont.float().mean()),
        "n_continuation": int(cont.sum()),
        "tokens_per_word": n_tokens / max(n_words, 1),
        "unk_rate": float(counts[UNK] / counts.sum()),
    }
    return Trained(
        tensors={"is_continuation": cont, "sample_counts": counts.to(torch.int32)},
        metrics=metrics,
        key_metric=("continuation_fraction", metrics["continuation_fraction"]),
        files={"tokenizer.json": tok.to_str(pretty=False).encode()},
    )
