"""Store committed grokking artifacts compactly, without retraining them.

    python tools/compact_grokking.py [NAMES ...]   # default: grok-fp grok-binary grok-ternary

Each artifact is loaded and verified (file hashes, sidecar hash, its config), and must be
the float32 storage of the version before its recipe's current one. Its tensors go through
:func:`interplib.studies.grokking.sweeps.compact`, the function the recipe now applies at the
end of training (float16 weights that keep every binary sign and ternary level, float32
histories), and it is saved again under the same name: same config, metrics and training
provenance (device, wall time, the training's code version), the recipe's current version,
and a ``compacted`` record (the float32 file's sha256, the code version that compacted it,
when). A retrain (``python -m interplib.train grok-fp --force``) writes the same form
directly. An artifact already at the current version is left as it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys

from interplib.core import artifacts, recipes
from interplib.studies.grokking.recipes import RUNS
from interplib.studies.grokking.sweeps import compact

OWN = ("schema", "name", "study", "files", "meta_sha256")  # written by artifacts.save


def compact_artifact(name: str) -> str:
    """Compact ``name`` in place; returns what was done, in words."""
    recipe = recipes.get(name)
    art = artifacts.load(name, expected_config=dataclasses.asdict(recipe.config))
    version = art.meta.get("recipe_version")
    if version == recipe.version:
        return f"{name}: already at recipe version {version}, left as it is"
    if version != recipe.version - 1 or "compacted" in art.meta:
        raise ValueError(
            f"{name}: recipe version {version}, compacting turns version "
            f"{recipe.version - 1} into {recipe.version}; retrain it with "
            f"`python -m interplib.train {name} --force`"
        )
    before = art.meta["files"]["safetensors"]
    meta = {k: v for k, v in art.meta.items() if k not in OWN}
    meta["recipe_version"] = recipe.version
    meta["compacted"] = {
        "from_sha256": before["sha256"],
        "from_bytes": before["bytes"],
        "code_version": recipes.code_version(),
        "how": "interplib.studies.grokking.sweeps.compact on the trained tensors",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    artifacts.save(art.meta["study"], name, compact(recipe.config, art.tensors), meta)
    state, detail = recipes.status(name)
    if state != "valid":
        raise RuntimeError(f"{name}: compacted but {state}: {detail}")
    after = artifacts.load(name).meta["files"]["safetensors"]["bytes"]
    return f"{name}: {before['bytes'] / 2**20:.2f} MiB -> {after / 2**20:.2f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=list(RUNS))
    args = parser.parse_args(argv)
    for name in args.names:
        if name not in RUNS:
            parser.error(f"{name!r} is not one of {sorted(RUNS)}")
        print(compact_artifact(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
