"""Binarized grokking: modular addition with full-precision, binary and ternary weights."""
