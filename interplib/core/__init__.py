"""What every study stands on: artifacts, recipes, training loops, hooks, input checks."""

__all__: list[str] = []
