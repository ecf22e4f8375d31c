"""Interpretability tools for any model; nothing here knows about a particular study."""

__all__: list[str] = []
