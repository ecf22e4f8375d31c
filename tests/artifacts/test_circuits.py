"""The committed attention-only models still load after the repeat-probe fix.

The fix (``[BOS]`` instead of ``[UNK]`` at the start of the probe, ``r`` drawn from ordinary
ids) changes what the next training records, not the config or the recipe version, so the
artifacts trained before it stay valid; their metrics say which start their curves used.
"""

import pytest
import torch

from interplib.core import recipes
from interplib.corpus import tokenizer
from interplib.interp.patterns import repeat_losses
from interplib.studies.circuits.analysis import ProbeConfig, probe_tokens

pytestmark = pytest.mark.artifacts

NAMES = ("attn-only-l2", "attn-only-l1")


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_models_load_and_their_curves_used_the_old_start(name):
    assert recipes.status(name)[0] == "valid"
    # absent before the fix: those probes started with id 0, [UNK]
    start = recipes.load(name).metrics.get("repeat_probe_start", tokenizer.UNK)
    assert start == tokenizer.UNK


def test_with_the_real_bos_the_first_copy_costs_about_a_uniform_guess():
    torch.set_num_threads(1)
    model = recipes.load_model("attn-only-l2")
    probe = probe_tokens(4096, ProbeConfig(repeat_batch=16))
    with torch.no_grad():
        loss = repeat_losses(model, probe, 50)
    assert abs(loss.first - torch.log(torch.tensor(4096.0)).item()) < 1.0
    assert loss.repeated < 0.5
