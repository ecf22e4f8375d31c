"""Binarized grokking: modular addition with full-precision, binary and ternary weights."""

__all__: list[str] = []
