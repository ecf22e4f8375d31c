"""How attention-only transformers memorize n-gram laws (Dana et al., 2025)."""

__all__: list[str] = []
