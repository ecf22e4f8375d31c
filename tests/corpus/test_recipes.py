"""The corpus's recipes: the tokenizer, the packed data made with it, the bigram truth counted on
the data, registered in that order with their default configs."""

from interplib.core import recipes
from interplib.corpus import lmdata, tokenizer

CORPUS = (tokenizer.TOKENIZER_NAME, lmdata.DATA_NAME, lmdata.BIGRAMS_NAME)


def test_the_three_artifacts_are_registered_with_their_fits_and_default_configs():
    table = recipes.recipes()
    expected = {
        tokenizer.TOKENIZER_NAME: (tokenizer.VocabConfig(), tokenizer.fit, ()),
        lmdata.DATA_NAME: (
            lmdata.DataConfig(),
            lmdata.fit_data,
            (tokenizer.TOKENIZER_NAME,),
        ),
        lmdata.BIGRAMS_NAME: (
            lmdata.BigramConfig(),
            lmdata.fit_bigrams,
            (lmdata.DATA_NAME,),
        ),
    }
    for name, (config, fit, needs) in expected.items():
        recipe = table[name]
        assert (recipe.config, recipe.fit, recipe.needs) == (config, fit, needs), name
        assert recipe.study == "stories" and recipe.committed and not recipe.gpu
        assert recipe.loader is None and recipe.seconds["cpu"] > 0


def test_each_comes_after_what_it_is_made_from_and_before_every_study_that_needs_it():
    order = list(recipes.recipes())
    positions = [order.index(name) for name in CORPUS]
    assert positions == sorted(positions)
    for name, recipe in recipes.recipes().items():
        for dep in recipe.needs:
            assert order.index(dep) < order.index(name), (dep, name)
    users = [n for n, r in recipes.recipes().items() if lmdata.DATA_NAME in r.needs]
    assert {"bilinear-l1", "attn-only-l2", "neox-stories"} <= set(users)
