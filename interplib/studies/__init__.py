"""The book's studies, one package each: ``model``, ``recipes``, ``analysis`` and what only it needs."""

__all__: list[str] = []
