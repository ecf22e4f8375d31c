"""The worked example: a zero-layer transformer reads a Markov chain into its weights."""

__all__: list[str] = []
