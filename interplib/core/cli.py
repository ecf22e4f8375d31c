"""Command line: train the book's artifacts.

Usage::

    python -m interplib.train NAME [NAME ...] [--device auto|cpu|cuda] [--force]
    python -m interplib.train --all [--device cuda] [--force]
    python -m interplib.train --list
    python -m interplib.train --manifest

A valid artifact is kept unless ``--force``; a missing or stale one is trained. Writes are
atomic: an interrupted run leaves the previous artifact intact. ``--all`` on a CPU skips the
recipes marked as GPU runs (``Recipe.gpu``); name one to train it there anyway.
"""

from __future__ import annotations

import argparse
import sys

from interplib.core import recipes
from interplib.core.paths import BookNotFound

__all__ = ["listing", "main"]


def _size(nbytes: int) -> str:
    return (
        f"{nbytes / 2**20:.2f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:.1f} KiB"
    )


def listing() -> str:
    """One line per recipe: name, state, size, device, wall time, the time expected on
    this machine's device (recorded on the same kind of device), key metric."""
    from interplib.core import artifacts

    here = recipes.resolve_device("auto").type
    rows = [
        (
            "name",
            "study",
            "state",
            "size",
            "trained on",
            "wall",
            f"on {here}",
            "key metric",
        )
    ]
    for name, recipe in recipes.recipes().items():
        state, _ = recipes.status(name)
        size = device = wall = metric = "-"
        expected = recipes.estimate(name, here)
        eta = "unmeasured" if expected is None else f"{expected:.0f} s"
        if recipe.gpu and here == "cpu":
            eta += " (GPU run)"
        if state != "missing":
            try:
                meta = artifacts.read_sidecar(artifacts.find(name))
                size = _size(sum(f["bytes"] for f in meta["files"].values()))
                device = meta.get("device", "-").split(",")[0]
                wall = f"{meta.get('wall_time_s', 0):.1f} s"
                km = meta.get("key_metric") or {}
                metric = f"{km.get('name')}={km.get('value'):.4g}" if km else "-"
            except artifacts.ArtifactError:
                pass
        rows.append((name, recipe.study, state, size, device, wall, eta, metric))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interplib.train", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("names", nargs="*", help="artifacts to train (see --list)")
    parser.add_argument(
        "--all",
        action="store_true",
        help="every registered artifact, dependencies first (GPU runs only on a GPU)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (cuda if available), cpu or cuda"
    )
    parser.add_argument(
        "--force", action="store_true", help="retrain even if a valid artifact exists"
    )
    parser.add_argument(
        "--list", action="store_true", help="show each artifact's state and provenance"
    )
    parser.add_argument(
        "--manifest",
        action="store_true",
        help="rebuild artifacts/manifest.json from the sidecars",
    )
    args = parser.parse_args(argv)

    try:
        return _run(parser, args)
    except BookNotFound as err:
        print(f"python -m interplib.train: {err}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.list:
        print(listing())
        return 0
    if args.manifest:
        from interplib.core import artifacts

        print(f"wrote {artifacts.write_manifest()}")
        return 0
    table = recipes.recipes()
    device = recipes.resolve_device(args.device)
    names = args.names
    if args.all:
        names = [n for n, r in table.items() if not r.gpu or device.type == "cuda"]
        skipped = [n for n in table if n not in names]
        if skipped:
            print(
                f"--all on {device.type}: skipping the GPU runs {', '.join(skipped)} "
                f"(name them to train them here anyway)"
            )
    if not names:
        parser.error("name an artifact, or pass --all or --list")
    unknown = [n for n in names if n not in table]
    if unknown:
        parser.error(
            f"unknown artifact(s) {', '.join(unknown)}; known: {', '.join(table)}"
        )
    for name in names:
        state, _ = recipes.status(name)
        if state == "valid" and not args.force:
            print(f"{name}: valid, kept (use --force to retrain)")
            continue
        why = "forced" if state == "valid" else state
        print(
            f"{name}: {why}, training on {recipes.describe_device(device)}", flush=True
        )
        art = recipes.train(name, device)
        km = art.meta["key_metric"]
        print(
            f"{name}: saved in {art.meta['wall_time_s']:.1f} s, {km['name']}={km['value']:.4g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
