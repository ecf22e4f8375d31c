"""How attention-only transformers memorize n-gram laws (Dana et al., 2025)."""
