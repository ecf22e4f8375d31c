"""The story corpus: its words, grammar and rules, tokenizer and packed language-model data."""

__all__: list[str] = []
