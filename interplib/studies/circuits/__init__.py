"""QK/OV circuits and induction heads in attention-only transformers (Elhage et al., 2021)."""
