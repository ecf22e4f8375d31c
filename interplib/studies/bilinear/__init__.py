"""Bigrams read from the weights of a bilinear transformer (Pearce et al., 2025)."""

__all__: list[str] = []
