"""The book's studies, one package each.

Each has ``model``, ``recipes``, ``analysis`` and what only it needs.
"""

__all__: list[str] = []
