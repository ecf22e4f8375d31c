"""QK/OV circuits and induction heads in attention-only transformers (Elhage et al., 2021)."""

__all__: list[str] = []
