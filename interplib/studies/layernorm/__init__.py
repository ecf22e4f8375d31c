"""A logit split exactly through LayerNorm, on a small GPT-NeoX (Pythia family) model."""

__all__: list[str] = []
