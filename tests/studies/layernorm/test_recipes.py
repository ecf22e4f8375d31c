"""The LayerNorm study's recipe: a Pythia-shaped model on the story vocabulary.

Its fit needs the committed tokenizer: that test is in ``tests/artifacts/test_layernorm.py``.
"""

from interplib.core import recipes
from interplib.corpus import lmdata
from interplib.studies.layernorm import recipes as layernorm_study


def test_neox_recipe_is_a_pythia_shaped_model_on_the_story_vocabulary():
    run = recipes.recipes()[layernorm_study.NAME].config
    assert (
        run is layernorm_study.RUN and run.model.d_vocab == 4096 and run.model.parallel
    )
    assert (
        run.model.n_ctx == lmdata.DataConfig().seq_len and run.model.rotary_pct == 0.25
    )
