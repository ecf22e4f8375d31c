"""A logit split exactly through LayerNorm, on a small GPT-NeoX (Pythia family) model."""
