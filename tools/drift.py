"""Compare the metrics of two artifact roots: is a retrained artifact the one that was committed?

    python tools/drift.py COMMITTED RETRAINED [--tolerances tools/drift.toml]
                          [--markdown drift.md] [--json drift.json] [--only-retrained]

Each root is a folder laid out like ``artifacts/`` (``STUDY/NAME.json`` sidecars). For every
artifact in either root it compares

* the key metric (``key_metric.value``), and
* every named scalar in ``metrics`` (nested dicts are flattened as ``a.b``; lists, strings
  and booleans are not compared and are counted as skipped),

and calls a metric *drifted* when ``|new - old| > atol + rtol * |old|`` (numpy's ``isclose``
rule) with the tolerances of ``tools/drift.toml``: a default, overridden per
``artifact:metric`` glob. An artifact present in one root only, a changed config or a missing
metric is drift too: the book is built from the committed artifacts, so a retrained one that
differs in kind is as much a reproducibility failure as one that differs in value. With
``--only-retrained`` (a partial retrain: one device call, or the recipes a CPU can afford) the
committed artifacts the retrained root lacks are named and left out. The device table also
says whether each artifact's files are bit for bit the committed ones (same sha256).

Prints a Markdown table (for a CI job summary) and exits 0 when everything is within
tolerance, 1 on drift, 2 when a root is unusable. Standard library only.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tomllib

DEFAULT_TOLERANCES = Path(__file__).with_name("drift.toml")
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
KEY = "key_metric"


class RootError(ValueError):
    """An artifact root that cannot be compared (missing, empty, unreadable sidecar)."""


@dataclass
class Row:
    artifact: str
    metric: str
    old: float | None
    new: float | None
    rtol: float | None
    atol: float | None
    status: str  # "ok", "drift", "missing-new", "missing-old", "config-changed"
    note: str = ""

    @property
    def drifted(self) -> bool:
        return self.status != "ok"

    @property
    def delta(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        return abs(self.new - self.old)


def read_root(root: Path) -> dict[str, dict[str, Any]]:
    """Sidecars of an artifact root by artifact name."""
    if not root.is_dir():
        raise RootError(f"{root} is not a folder of artifacts")
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(root.glob("*/*.json")):
        if not NAME_RE.fullmatch(path.stem):
            continue
        try:
            meta = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RootError(f"{path} is not a readable sidecar ({err})") from err
        if not isinstance(meta, dict) or "metrics" not in meta:
            continue  # not an artifact sidecar
        found[meta.get("name", path.stem)] = meta
    return found


def scalars(meta: dict[str, Any]) -> tuple[dict[str, float], int]:
    """``(named scalar metrics, number skipped)``; the key metric is named ``key_metric``."""
    out: dict[str, float] = {}
    skipped = 0

    def walk(prefix: str, value: Any) -> None:
        nonlocal skipped
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[prefix] = float(value)
        else:
            skipped += 1

    walk("", meta.get("metrics") or {})
    km = meta.get(KEY)
    if isinstance(km, dict) and isinstance(km.get("value"), (int, float)):
        out[KEY] = float(km["value"])
    return out, skipped


def load_tolerances(path: Path | None) -> dict[str, Any]:
    """``{"default": {"rtol", "atol"}, "metrics": {glob: {"rtol"?, "atol"?}}}`` from a TOML file."""
    if path is None:
        return {"default": {"rtol": 0.05, "atol": 0.01}, "metrics": {}}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise RootError(f"tolerances {path}: {err}") from err
    default = data.get("default", {})
    if not {"rtol", "atol"} <= set(default):
        raise RootError(f"tolerances {path}: [default] needs both rtol and atol")
    for pattern, tol in data.get("metrics", {}).items():
        if not set(tol) <= {"rtol", "atol"} or not tol:
            raise RootError(
                f"tolerances {path}: [metrics.{pattern!r}] takes only rtol and atol"
            )
        if ":" not in pattern:
            raise RootError(
                f"tolerances {path}: pattern {pattern!r} must read 'artifact-glob:metric-glob'"
            )
    return {"default": default, "metrics": data.get("metrics", {})}


def tolerance(
    tolerances: dict[str, Any], artifact: str, metric: str
) -> tuple[float, float]:
    """``(rtol, atol)``: the default, updated by every matching pattern.

    In file order: the last match wins.
    """
    tol = dict(tolerances["default"])
    for pattern, override in tolerances["metrics"].items():
        art_pat, met_pat = pattern.split(":", 1)
        if fnmatch.fnmatchcase(artifact, art_pat) and fnmatch.fnmatchcase(
            metric, met_pat
        ):
            tol.update(override)
    return float(tol["rtol"]), float(tol["atol"])


def compare(
    old_root: Path,
    new_root: Path,
    tolerances: dict[str, Any],
    only_retrained: bool = False,
) -> tuple[list[Row], int]:
    """One row per (artifact, metric), plus the number of non-scalar metrics skipped.

    ``only_retrained``: a committed artifact the retrained root lacks is left out (a
    partial retrain), not reported as drift.
    """
    old, new = read_root(old_root), read_root(new_root)
    if only_retrained:
        old = {name: meta for name, meta in old.items() if name in new}
    if not old:
        raise RootError(
            f"{old_root} holds no artifact sidecars (STUDY/NAME.json)"
            + (" that were retrained" if only_retrained else "")
            + ": nothing to compare against"
        )
    rows: list[Row] = []
    skipped = 0
    for name in sorted(set(old) | set(new)):
        if name not in new:
            rows.append(
                Row(name, "*", None, None, None, None, "missing-new", "not retrained")
            )
            continue
        if name not in old:
            rows.append(
                Row(
                    name,
                    "*",
                    None,
                    None,
                    None,
                    None,
                    "missing-old",
                    "retrained but never committed",
                )
            )
            continue
        if old[name].get("config") != new[name].get("config"):
            rows.append(
                Row(
                    name,
                    "config",
                    None,
                    None,
                    None,
                    None,
                    "config-changed",
                    "the retrained artifact was made from another config",
                )
            )
        a, skip_a = scalars(old[name])
        b, skip_b = scalars(new[name])
        skipped += max(skip_a, skip_b)
        for metric in sorted(set(a) | set(b), key=lambda m: (m != KEY, m)):
            rtol, atol = tolerance(tolerances, name, metric)
            x, y = a.get(metric), b.get(metric)
            if x is None or y is None:
                status = "missing-new" if y is None else "missing-old"
                rows.append(Row(name, metric, x, y, rtol, atol, status))
                continue
            ok = (
                math.isfinite(x)
                and math.isfinite(y)
                and abs(y - x) <= atol + rtol * abs(x)
            ) or x == y
            rows.append(Row(name, metric, x, y, rtol, atol, "ok" if ok else "drift"))
    return rows, skipped


def same_files(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``identical`` when both sidecars list the same files with the same sha256 (a
    bit-for-bit retrain), ``differ`` when not, ``–`` when either lists none."""

    def hashes(meta: dict[str, Any]) -> dict[str, str]:
        files = meta.get("files")
        if not isinstance(files, dict):
            return {}
        return {
            kind: str(f.get("sha256"))
            for kind, f in files.items()
            if isinstance(f, dict) and "sha256" in f
        }

    a, b = hashes(old), hashes(new)
    if not a or not b:
        return "–"
    return "identical" if a == b else "differ"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.6g}"


def _count(items, noun: str) -> str:
    n = len(items)
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _seconds(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} s"


def markdown(
    rows: list[Row],
    skipped: int,
    old_root: Path,
    new_root: Path,
    old: dict[str, dict] | None = None,
    new: dict[str, dict] | None = None,
) -> str:
    bad = [r for r in rows if r.drifted]
    artifacts = sorted({r.artifact for r in rows})
    head = (
        "### Reproducibility: retrained vs committed artifacts\n\n"
        f"Committed: `{old_root}`; retrained: `{new_root}`. Tolerance: "
        "`|new − old| ≤ atol + rtol·|old|` (see `tools/drift.toml`).\n\n"
    )
    verdict = (
        f"**{len(bad)} of {len(rows)} comparisons beyond tolerance** across "
        f"{_count(artifacts, 'artifact')}."
        if bad
        else f"All {len(rows)} comparisons within tolerance across {_count(artifacts, 'artifact')}."
    )
    if skipped:
        verdict += f" {_count(range(skipped), 'non-scalar metric')} (curves, strings) not compared."
    lines = [
        head + verdict,
        "",
        "| artifact | metric | committed | retrained | abs. diff | rtol | atol | status |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    # Drifted rows first, so a long table still shows the news at the top.
    for r in sorted(
        rows, key=lambda r: (not r.drifted, r.artifact, r.metric != KEY, r.metric)
    ):
        status = "ok" if not r.drifted else f"**{r.status.upper()}**"
        if r.note:
            status += f" ({r.note})"
        lines.append(
            f"| {r.artifact} | {r.metric} | {_num(r.old)} | {_num(r.new)} | {_num(r.delta)} "
            f"| {_num(r.rtol)} | {_num(r.atol)} | {status} |"
        )
    if old is not None and new is not None:
        lines += [
            "",
            "| artifact | committed on | retrained on | wall (committed) "
            "| wall (retrained) | files |",
            "|---|---|---|---:|---:|---|",
        ]
        for name in artifacts:
            o, n = old.get(name, {}), new.get(name, {})
            lines.append(
                f"| {name} | {str(o.get('device', '–')).split(',')[0]} "
                f"| {str(n.get('device', '–')).split(',')[0]} "
                f"| {_seconds(o.get('wall_time_s'))} | {_seconds(n.get('wall_time_s'))} "
                f"| {same_files(o, n)} |"
            )
        left = sorted(set(old) - set(artifacts))
        if left:
            lines += ["", f"Not retrained, not compared: {', '.join(left)}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/drift.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "committed", type=Path, help="artifact root as committed (e.g. artifacts)"
    )
    parser.add_argument(
        "retrained",
        type=Path,
        help="artifact root written by a fresh `--all --force` run",
    )
    parser.add_argument(
        "--tolerances",
        type=Path,
        default=DEFAULT_TOLERANCES,
        help=f"TOML file of tolerances (default {DEFAULT_TOLERANCES.name})",
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the table to this file"
    )
    parser.add_argument(
        "--only-retrained",
        action="store_true",
        help="compare only the artifacts the retrained root holds (a partial retrain); "
        "the others are named, not counted as drift",
    )
    parser.add_argument(
        "--json", type=Path, help="write every comparison as JSON to this file"
    )
    args = parser.parse_args(argv)
    try:
        tolerances = load_tolerances(args.tolerances)
        rows, skipped = compare(
            args.committed, args.retrained, tolerances, args.only_retrained
        )
        old, new = read_root(args.committed), read_root(args.retrained)
    except RootError as err:
        print(f"drift: {err}", file=sys.stderr)
        return 2
    text = markdown(rows, skipped, args.committed, args.retrained, old, new)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "drifted": sum(r.drifted for r in rows),
            "compared": len(rows),
            "skipped": skipped,
            "rows": [asdict(r) | {"drifted": r.drifted} for r in rows],
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    return 1 if any(r.drifted for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
