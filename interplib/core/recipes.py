"""The registry of artifacts the book trains: each recipe says how one artifact is made.

Each study registers its recipes in its ``recipes`` module
(``interplib/studies/<study>/recipes.py``, and ``interplib/corpus/recipes.py`` for the
corpus's data), found by :func:`discover`::

    register(Recipe(name="markov-bigram", study="markov", config=MarkovConfig(), fit=fit,
                    loader=load, seconds={"cpu": 3}))

Chapters call :func:`load` for the verified artifact (trained first if it is missing, saying
how long that takes here; a stale or corrupted one is refused with the command that remakes
it) and :func:`load_model` for the trained model it holds, the one way to get any of the
book's models. ``python -m interplib.train`` is the command line over this.

**Smoke mode**: with ``$INTERPLIB_SMOKE`` set (``python -m interplib.train --smoke``), every
recipe that has a ``smoke`` function stands for its tiny version: :func:`recipes` and :func:`get`
return it with ``config=smoke(config)``, so training, verifying and loading (a dependency
included) all agree on the tiny configs. It is meant for a throwaway artifacts root.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import os
import pkgutil
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from interplib.core import artifacts
from interplib.core.artifacts import (
    Artifact,
    ArtifactError,
    MissingArtifact,
    StaleArtifact,
)

__all__ = [
    "Trained",
    "Progress",
    "Recipe",
    "register",
    "discover",
    "recipes",
    "get",
    "SMOKE_ENV",
    "smoke_mode",
    "resolve_device",
    "describe_device",
    "seed_everything",
    "code_version",
    "versions",
    "verified",
    "status",
    "train",
    "estimate",
    "load",
    "load_model",
]

# Packages whose ``recipes`` modules register artifacts; imported on first use, so
# `import interplib` stays light.
RECIPE_PACKAGES = ("interplib.corpus", "interplib.studies")
# Comma-separated modules imported too, e.g. a test's recipes, so that the subprocesses of a
# packed run (`python -m interplib.train --jobs N`) register them as well.
EXTRA_RECIPES_ENV = "INTERPLIB_RECIPE_MODULES"
# Set (not "" or "0"): the recipes stand for their tiny smoke versions (see the module docstring).
SMOKE_ENV = "INTERPLIB_SMOKE"


@dataclass
class Trained:
    """What a recipe's ``fit`` returns."""

    tensors: dict[str, torch.Tensor]
    metrics: dict[str, Any]
    key_metric: tuple[str, float]  # shown in `--list` and on the status page
    files: dict[str, bytes] = field(default_factory=dict)


Progress = Callable[
    ..., Any
]  # tqdm-like: progress(iterable_or_None, total=..., desc=...)


@dataclass(frozen=True)
class Recipe:
    """How to make one artifact.

    Attributes:
        name: the artifact name, unique across studies.
        study: its folder under ``artifacts/``.
        config: a frozen dataclass with a ``seed`` field; stored and compared on load.
        fit: ``fit(config, device, progress) -> Trained``.
        version: bump when ``fit`` changes what it computes; older artifacts become stale.
        seconds: measured wall time by device type, for the "this will take" message.
        needs: names of artifacts this one is made from (trained first by ``--all``).
        committed: False where the repository holds no artifact: large derived data that is
            regenerated, or a training that needs a GPU run still to come (the recipe says
            which); a test checks that every committed recipe has a valid artifact.
        gpu: True for a training too slow for a CPU; ``train --all`` skips it there.
        loader: ``loader(config, artifact, **options)`` rebuilds the trained model(s) an
            artifact holds (:func:`load_model`); None for data artifacts.
        smoke: ``smoke(config) -> config``, a tiny version of the config (a few steps, a tiny
            grid) that exercises ``fit`` in seconds; used in smoke mode (:func:`smoke_mode`).
    """

    name: str
    study: str
    config: Any
    fit: Callable[[Any, torch.device, Progress], Trained]
    version: int = 1
    seconds: dict[str, float] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    description: str = ""
    committed: bool = True
    gpu: bool = False
    loader: Callable[..., Any] | None = None
    smoke: Callable[[Any], Any] | None = None


_RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    if recipe.name in _RECIPES and _RECIPES[recipe.name] != recipe:
        raise ValueError(
            f"two recipes are named {recipe.name!r}; artifact names must be unique"
        )
    _RECIPES[recipe.name] = recipe
    return recipe


def discover() -> list[str]:
    """Import every ``recipes`` module under ``RECIPE_PACKAGES``; returns their names."""
    found = []
    for package_name in RECIPE_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            if info.name.rsplit(".", 1)[-1] == "recipes":
                importlib.import_module(info.name)
                found.append(info.name)
    for name in filter(None, os.environ.get(EXTRA_RECIPES_ENV, "").split(",")):
        importlib.import_module(name.strip())
        found.append(name.strip())
    return found


def smoke_mode() -> bool:
    """Whether the recipes stand for their smoke versions (``$INTERPLIB_SMOKE`` set)."""
    return os.environ.get(SMOKE_ENV, "") not in ("", "0")


def _as_used(recipe: Recipe) -> Recipe:
    """The recipe itself, or in smoke mode its tiny version (when it has one)."""
    if smoke_mode() and recipe.smoke is not None:
        return dataclasses.replace(recipe, config=recipe.smoke(recipe.config))
    return recipe


def recipes() -> dict[str, Recipe]:
    """All registered recipes by name, in dependency order (their smoke versions in smoke mode)."""
    discover()
    ordered: dict[str, Recipe] = {}

    def visit(name: str) -> None:
        if name not in ordered:
            for dep in _RECIPES[name].needs:
                visit(dep)
            ordered[name] = _as_used(_RECIPES[name])

    for name in sorted(_RECIPES):
        visit(name)
    return ordered


def get(name: str) -> Recipe:
    """The recipe named ``name``; a KeyError lists the known ones."""
    table = recipes()
    if name not in table:
        raise KeyError(
            f"no recipe named {name!r}; known: {', '.join(table)} (see `python -m "
            "interplib.train --list`)"
        )
    return table[name]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but torch sees no GPU; use --device cpu or auto"
        )
    return device


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"cpu: {model}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    )


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS


def code_version() -> str:
    """The git commit of this checkout, with ``+dirty`` if interplib/ has local changes.

    ``INTERPLIB_CODE_VERSION``, when set, names it instead: a copy of the working tree sent to a
    lent GPU machine carries stale or no git metadata, so the sender names the clean commit.
    """
    if os.environ.get("INTERPLIB_CODE_VERSION"):
        return os.environ["INTERPLIB_CODE_VERSION"]
    repo = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "interplib"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def versions() -> dict[str, str]:
    from interplib import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "interplib": __version__,
    }


def verified(name: str, base: Path | None = None) -> Artifact:
    """The artifact, checked against the files' hashes, the recipe's config and its version."""
    recipe = get(name)
    art = artifacts.load(name, base, expected_config=dataclasses.asdict(recipe.config))
    if art.meta.get("recipe_version") != recipe.version:
        raise StaleArtifact(
            f"artifact {name!r} was made by version "
            f"{art.meta.get('recipe_version')} of its recipe, "
            f"the code is at version {recipe.version}; regenerate it with "
            f"`{artifacts.remake_command(name)}`"
        )
    return art


def status(name: str, base: Path | None = None) -> tuple[str, str]:
    """``(state, detail)`` with state one of ``valid``, ``missing``, ``stale``, ``corrupt``."""
    try:
        verified(name, base)
    except MissingArtifact as err:
        return "missing", str(err)
    except StaleArtifact as err:
        return "stale", str(err)
    except ArtifactError as err:
        return "corrupt", str(err)
    return "valid", "ok"


def train(
    name: str,
    device: str | torch.device = "auto",
    base: Path | None = None,
    progress: bool = True,
) -> Artifact:
    """Run a recipe and save its artifact atomically; returns the verified artifact."""
    recipe = get(name)
    device = resolve_device(device)
    seed_everything(getattr(recipe.config, "seed", 0))

    def bar(iterable=None, **kwargs):
        return tqdm(
            iterable, disable=not progress, dynamic_ncols=True, leave=False, **kwargs
        )

    version = code_version()  # the code that trains, not the code at saving time
    start = time.perf_counter()
    result = recipe.fit(recipe.config, device, bar)
    wall = time.perf_counter() - start
    key, value = result.key_metric
    meta = {
        "config": dataclasses.asdict(recipe.config),
        "recipe_version": recipe.version,
        "description": recipe.description,
        "metrics": result.metrics,
        "key_metric": {"name": key, "value": float(value)},
        "device": describe_device(device),
        "wall_time_s": round(wall, 3),
        "code_version": version,
        "versions": versions(),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m interplib.train", name]),
    }
    artifacts.save(recipe.study, name, result.tensors, meta, result.files, base)
    return artifacts.load(name, base, expected_config=meta["config"])


# the book's cell timeout (_config.yml, execute.timeout): longer trainings run from the shell
TRAIN_BUDGET_S = 1800.0


def estimate(name: str, device_type: str, base: Path | None = None) -> float | None:
    """Expected wall time (s) of recipe ``name`` on a ``cpu`` or ``cuda`` device.

    The time recorded in the artifact's sidecar when it was trained on the same kind of
    device (even if the artifact is stale), else the recipe's ``seconds`` (measured on
    such a device and written down with the recipe), else None: unmeasured.
    """
    try:
        meta = artifacts.read_sidecar(artifacts.find(name, base))
        if str(meta.get("device", "")).split(":")[0] == device_type:
            return float(meta["wall_time_s"])
    except (ArtifactError, KeyError, ValueError):
        pass
    return get(name).seconds.get(device_type)


def load(
    name: str, device: str | torch.device = "auto", base: Path | None = None
) -> Artifact:
    """The verified artifact ``name``; trains it first if missing, refuses it if stale or corrupted.

    A missing artifact is trained here only when its :func:`estimate` on this device fits
    the book's cell timeout (``$INTERPLIB_TRAIN_BUDGET`` seconds, default
    ``TRAIN_BUDGET_S``); otherwise the error gives the command that trains it.

    Raises:
        MissingArtifact: missing and too long (or unmeasured) to train here.
        StaleArtifact, CorruptArtifact: naming the file and the command that remakes it.
    """
    try:
        return verified(name, base)
    except MissingArtifact as err:
        missing = err
    device = resolve_device(device)
    seconds = estimate(name, device.type, base)
    budget = float(os.environ.get("INTERPLIB_TRAIN_BUDGET", TRAIN_BUDGET_S))
    if seconds is None or seconds > budget:
        took = f"about {seconds:.0f} s" if seconds else "an unmeasured time"
        raise MissingArtifact(
            f"{missing}; training it takes {took} on {device.type}, more than the "
            f"{budget:.0f} s budget of a book cell: train it first with "
            f"`python -m interplib.train {name} --device {device.type}`"
        ) from None
    print(
        f"artifact {name!r} is missing: training it now on {device.type} "
        f"(about {seconds:.0f} s).",
        file=sys.stderr,
    )
    return train(name, device, base, progress=False)


def load_model(name: str, **options: Any) -> Any:
    """The trained model (or models) of artifact ``name``, verified and rebuilt by its recipe.

    ``options`` go to the recipe's loader (e.g. ``dtype`` for a bridge, ``prefix`` for a kept
    checkpoint); see each study's ``recipes`` module.

    Raises:
        ValueError: the artifact holds data, not a model.
    """
    recipe = get(name)
    if recipe.loader is None:
        raise ValueError(
            f"artifact {name!r} holds data, not a model: use recipes.load({name!r})"
        )
    return recipe.loader(recipe.config, load(name), **options)
