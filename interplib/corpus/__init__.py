"""The story corpus: its words, grammar, tokenizer and packed language-model data."""

__all__: list[str] = []
