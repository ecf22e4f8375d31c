"""The story corpus's artifacts: the tokenizer, the packed LM data and its bigram ground truth."""

from __future__ import annotations

from dataclasses import replace

from interplib.core.recipes import Recipe, register
from interplib.corpus import lmdata, tokenizer

__all__: list[str] = []

register(
    Recipe(
        name=tokenizer.TOKENIZER_NAME,
        study="stories",
        config=tokenizer.VocabConfig(),
        fit=tokenizer.fit,
        smoke=lambda cfg: replace(cfg, n_stories=2_000),
        seconds={"cpu": 10.0},
        description="WordPiece tokenizer (4096 tokens, lowercase) trained on the generated "
        "story corpus",
    )
)

register(
    Recipe(
        name=lmdata.DATA_NAME,
        study="stories",
        config=lmdata.DataConfig(),
        fit=lmdata.fit_data,
        # 64 training rows and 16 validation rows of 256 tokens
        smoke=lambda cfg: replace(cfg, n_train_tokens=64 * 256, n_val_tokens=16 * 256),
        needs=(tokenizer.TOKENIZER_NAME,),
        seconds={"cpu": 15.0},
        description="story corpus tokenized and packed: hashes of the 20M-token train split, "
        "the validation split",
    )
)

register(
    Recipe(
        name=lmdata.BIGRAMS_NAME,
        study="stories",
        config=lmdata.BigramConfig(),
        fit=lmdata.fit_bigrams,
        smoke=lambda cfg: replace(cfg, k=8),
        needs=(lmdata.DATA_NAME,),
        seconds={"cpu": 5.0},
        description="ground truth: top-32 next tokens per token with probabilities, counted "
        "on the train split",
    )
)
