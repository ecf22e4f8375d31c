"""The registry's tests register a tiny Markov recipe of their own, trained into an empty root."""

import pytest
from builders import TINY_MARKOV

from interplib.core import recipes
from interplib.studies.markov.recipes import fit


@pytest.fixture
def tiny_recipe(art_root):
    """``test-markov-tiny``: registered for one test, trained into ``art_root`` on demand."""
    recipe = recipes.register(
        recipes.Recipe(
            name="test-markov-tiny",
            study="test",
            config=TINY_MARKOV,
            fit=fit,
            seconds={"cpu": 0.1},
        )
    )
    yield recipe
    recipes._RECIPES.pop(recipe.name)
