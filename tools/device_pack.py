"""Send the book's code to a lent GPU machine without ``artifacts/``, and bring its artifacts back.

    python tools/device_pack.py plan                 # .devpack/plan.json (estimates, recipes)
    python tools/device_pack.py slim [--carry P ...] # plan, then untrack artifacts/ for a call
    python tools/device_pack.py restore              # undo slim: git status exactly as before
    python tools/device_pack.py size [--carry P ...] # MiB that a device call would send
    python tools/device_pack.py pack ROOT OUT ...    # (on the device) artifacts into <= 8 files
    python tools/device_pack.py unpack FILES_AT [--into ROOT] [--retrain-root ROOT] [--replace]

**Why slim.** A device call sends the tracked and the untracked-not-ignored files, at most
64 MiB, and ``artifacts/`` alone is about that. ``slim`` removes the index entries under
``artifacts/`` (``git update-index --force-remove``; the files stay on disk) and ignores the
folder in ``.git/info/exclude``, saving the exact entries in ``.git/devpack-slim.json``;
``restore`` puts back every saved entry that is not in the index again (one that a
``git commit -- artifacts/...`` re-added meanwhile stays as that commit left it) and removes
the exclude line. Unstaged changes stay unstaged. Keep the window short: while slim, others
see the artifacts as staged deletions, ``git add artifacts/...`` refuses (ignored), and only
``git commit -- paths`` (never a bare ``git commit``) is safe.

**What comes back.** ``pack`` (stdlib only: it runs under the device's python3) writes
``manifest.json`` (device, phases, per-recipe state and wall time, every file's sha256, the
parts' sha256, log tails) and a tar stream split into parts of at most ``PART_BYTES``: every
trained sidecar and log first, then the data files of the recipes not committed to the
repository (the GPU work itself), then those of the retrains of committed artifacts while they
fit; the rest stays on the device (``left_on_device``) for ``gpu_session.py fetch``.
``unpack`` checks each part's hash, extracts what is whole, verifies every artifact with the
library's own check (hashes, config, recipe version) and installs it; anything corrupted, half
transferred or stale is refused with the reason.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLAN = Path(".devpack") / "plan.json"
STATE = Path(".git") / "devpack-slim.json"
EXCLUDE = Path(".git") / "info" / "exclude"
SLIM_LINE = "/artifacts/"
KEEP_LINES = ("/.devpack/", "/.whl/")  # ignored for good: the carried folders
MiB = 2**20
PART_BYTES = 15 * MiB  # each file back from $OUT: at most 16 MiB
STREAM_BYTES = 56 * MiB  # all of them: at most 64 MiB, with the manifest and the log
CPU_AS_GPU_S = 300
LOG_TAIL = 2000  # characters of each recipe's log kept in the manifest


def git(*args: str, repo: Path = REPO, stdin: str | None = None) -> str:
    """Run git in ``repo``; retries a few times while another engineer holds the index lock."""
    for attempt in range(20):
        done = subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True
        )
        if done.returncode == 0:
            return done.stdout
        if "index.lock" not in done.stderr or attempt == 19:
            raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        time.sleep(1.5)
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- here: plan, slim, restore


def plan(repo: Path = REPO) -> dict:
    """Write ``.devpack/plan.json``: the commit, and per recipe its study, flags, needs and
    expected seconds on each device type from the committed sidecars (the device has none)."""
    from interplib.core import recipes

    table = recipes.recipes()
    valid = {name for name in table if recipes.status(name)[0] == "valid"}
    head = git("rev-parse", "HEAD", repo=repo).strip()
    dirty = git("status", "--porcelain", "--", "interplib", repo=repo).strip()
    out = {
        "code_version": head + ("+dirty" if dirty else ""),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "recipes": {
            name: {
                "study": r.study,
                "gpu": r.gpu,
                "committed": r.committed,
                "needs": list(r.needs),
                "expect": {d: _expect(name, r, d) for d in ("cuda", "cpu")},
            }
            for name, r in table.items()
        },
        "waiting": [name for name in table if name not in valid],
        "retrain": [name for name in table if name in valid],
        "carry": sorted(
            {
                f"artifacts/{table[d].study}"
                for n in table
                if n not in valid
                for d in table[n].needs
            }
        ),
    }
    path = repo / PLAN
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def _expect(name: str, recipe, device: str) -> float | None:
    """Seconds expected on ``device``: the recorded time there; on a GPU, for a recipe that
    is no GPU run, the CPU's time if under ``CPU_AS_GPU_S`` (an upper bound for a small job);
    else None, unmeasured (a packed run starts it among the first and never skips it)."""
    from interplib.core import recipes

    seconds = recipes.estimate(name, device)
    if seconds is None and device == "cuda" and not recipe.gpu:
        cpu = recipes.estimate(name, "cpu")
        seconds = cpu if cpu is not None and cpu <= CPU_AS_GPU_S else None
    return seconds


def _exclude_lines(repo: Path) -> list[str]:
    path = repo / EXCLUDE
    return path.read_text().splitlines() if path.exists() else []


def _write_exclude(repo: Path, lines: list[str]) -> None:
    path = repo / EXCLUDE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def slim(repo: Path = REPO, with_plan: bool = True) -> dict:
    """Untrack ``artifacts/`` in the index and ignore it, saving what ``restore`` needs."""
    if (repo / STATE).exists():
        raise SystemExit(f"already slim ({STATE} exists): run `restore` first")
    if with_plan:
        plan(repo)
    lines = _exclude_lines(repo)
    added = [line for line in (*KEEP_LINES, SLIM_LINE) if line not in lines]
    state = {
        "entries": git("ls-files", "-s", "--", "artifacts", repo=repo),
        "status": git("status", "--porcelain", repo=repo),
        "exclude_added": SLIM_LINE in added,
        "time": time.time(),
    }
    (repo / STATE).write_text(json.dumps(state))
    _write_exclude(repo, lines + added)
    paths = git("ls-files", "-z", "--", "artifacts", repo=repo)
    git("update-index", "--force-remove", "-z", "--stdin", repo=repo, stdin=paths)
    return state


def restore(repo: Path = REPO) -> list[str]:
    """Undo :func:`slim`; returns the lines of ``git status --porcelain`` that differ from
    before (empty unless someone committed or edited meanwhile)."""
    if not (repo / STATE).exists():
        raise SystemExit(f"not slim (no {STATE}): nothing to restore")
    state = json.loads((repo / STATE).read_text())
    now = set(git("ls-files", "-z", "--", "artifacts", repo=repo).split("\0"))
    lines = [
        line
        for line in state["entries"].splitlines()
        if line.split("\t", 1)[1] not in now
    ]
    git(
        "update-index",
        "--index-info",
        repo=repo,
        stdin="".join(f"{x}\n" for x in lines),
    )
    if state["exclude_added"]:
        _write_exclude(repo, [x for x in _exclude_lines(repo) if x != SLIM_LINE])
    (repo / STATE).unlink()
    before = set(state["status"].splitlines())
    after = set(git("status", "--porcelain", repo=repo).splitlines())
    return sorted(before ^ after)


def travelling(repo: Path = REPO, carry: tuple[str, ...] = ()) -> int:
    """Bytes a device call sends: tracked files on disk, untracked files git does not
    ignore, ``shared/`` and the carried paths."""
    names = set(git("ls-files", "-z", repo=repo).split("\0"))
    names |= set(
        git("ls-files", "-z", "--others", "--exclude-standard", repo=repo).split("\0")
    )
    files = {repo / n for n in names if n}
    for extra in (*carry, "shared"):
        root = repo / extra
        if root.is_file():
            files.add(root)
        elif root.is_dir():
            files |= {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    return sum(p.lstat().st_size for p in files if p.is_symlink() or p.is_file())


# ------------------------------------------------------------------ on the device: pack


def _tail(path: Path, chars: int = LOG_TAIL) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _artifact_files(root: Path, name: str) -> tuple[Path, dict] | None:
    hits = sorted(root.glob(f"*/{name}.json"))
    if not hits:
        return None
    return hits[0], json.loads(hits[0].read_text())


def _member_bytes(size: int) -> int:
    """A tar member's bytes: a 512-byte header (plus a pax header, at most) and padded data."""
    return 1536 + -(-size // 512) * 512


def pack(
    root: Path,
    out: Path,
    report: dict,
    recipes_info: dict,
    session: dict,
    logs: Path,
    work: Path,
    names: list[str] | None = None,
    stream_bytes: int = STREAM_BYTES,
    part_bytes: int = PART_BYTES,
) -> dict:
    """Pack the artifacts trained under ``root`` into ``out`` (see the module docstring).

    ``report`` is ``train --report``'s JSON; ``names`` limits the data files to those recipes
    (``fetch``: what an earlier pack left on the device). Returns the manifest.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = {r["name"]: dict(r) for r in report.get("recipes", [])}
    done = [n for n, r in rows.items() if r["state"] == "done"]
    found = {n: hit for n in done if (hit := _artifact_files(root, n)) is not None}
    members: list[tuple[Path, str]] = []  # (file, name in the tar)
    budget = stream_bytes - tarfile.RECORDSIZE  # the closing blocks and padding

    def take(path: Path, arcname: str) -> bool:
        nonlocal budget
        cost = _member_bytes(path.stat().st_size)
        if cost > budget:
            return False
        budget -= cost
        members.append((path, arcname))
        return True

    for name, (sidecar, meta) in found.items():
        take(sidecar, f"artifacts/{meta['study']}/{sidecar.name}")
        rows[name]["shipped"] = "sidecar"
    for name, row in rows.items():
        log = logs / f"{name}.log"
        row["log_tail"] = _tail(log)
        if log.exists() and log.stat().st_size < 4 * MiB:
            take(log, f"logs/{name}.log")
    new = [n for n in found if not recipes_info.get(n, {}).get("committed", False)]
    order = new + sorted(
        (n for n in found if n not in new),
        key=lambda n: sum(f["bytes"] for f in found[n][1]["files"].values()),
    )
    left = []
    for name in order:
        if names is not None and name not in names:
            continue
        sidecar, meta = found[name]
        data = [sidecar.parent / f["path"] for f in meta["files"].values()]
        need = sum(_member_bytes(p.stat().st_size) for p in data)
        if need > budget:
            left.append(name)
            continue
        for path in data:
            take(path, f"artifacts/{meta['study']}/{path.name}")
        rows[name]["shipped"] = "full"
    for name, (_, meta) in found.items():
        rows[name]["gpu_wall_s"] = meta.get("wall_time_s")
        rows[name]["key_metric"] = meta.get("key_metric")
        rows[name]["study"] = meta["study"]
        rows[name]["files"] = meta["files"]
    stream = work / "stream.tar"
    with tarfile.open(stream, "w", format=tarfile.PAX_FORMAT) as tar:
        for path, arcname in members:
            tar.add(path, arcname=arcname, recursive=False)
    parts = []
    with open(stream, "rb") as f:
        for k, block in enumerate(iter(lambda: f.read(part_bytes), b"")):
            part = out / f"part-{k:02d}.tar"
            part.write_bytes(block)
            parts.append(
                {
                    "name": part.name,
                    "bytes": len(block),
                    "sha256": hashlib.sha256(block).hexdigest(),
                }
            )
    stream.unlink()
    manifest = {
        **session,
        "device": report.get("device", session.get("device")),
        "recipes": rows,
        "parts": parts,
        "left_on_device": left,
        "root_on_device": str(root),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# --------------------------------------------------------------------- here: unpack


class Refused(Exception):
    """An artifact that came back but may not be installed; the message says why."""


def _good_parts(files_at: Path, manifest: dict) -> tuple[list[Path], list[str]]:
    """The parts, in order, up to the first missing or corrupted one; and the complaints."""
    from interplib.core.artifacts import sha256_file

    good, bad = [], []
    for part in manifest["parts"]:
        path = files_at / part["name"]
        if not path.exists():
            bad.append(f"{part['name']} did not come back")
        elif (
            path.stat().st_size != part["bytes"] or sha256_file(path) != part["sha256"]
        ):
            bad.append(
                f"{part['name']} is corrupted or half transferred (hash mismatch)"
            )
        if bad:
            break
        good.append(path)
    return good, bad


def _extract(parts: list[Path], staging: Path) -> list[str]:
    """Extract the whole members of the concatenated parts; returns complaints."""
    complaints = []
    with tempfile.TemporaryFile() as joined:
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, joined)
        joined.seek(0)
        try:
            with tarfile.open(fileobj=joined, mode="r:") as tar:
                for member in tar:
                    if not member.isfile() or member.name.startswith(("/", "..")):
                        complaints.append(f"{member.name}: not a plain relative file")
                        continue
                    tar.extract(member, staging, filter="data")
        except (tarfile.TarError, OSError, EOFError) as err:
            complaints.append(
                f"the stream ends early ({err}): its last member is refused"
            )
    return complaints


def _verify(name: str, staging: Path, row: dict) -> None:
    from interplib.core import recipes

    state, detail = recipes.status(name, staging / "artifacts")
    if state != "valid":
        raise Refused(f"{state}: {detail}")
    sidecar = next((staging / "artifacts").glob(f"*/{name}.json"))
    meta = json.loads(sidecar.read_text())
    if meta["files"] != row["files"]:
        raise Refused("its sidecar differs from the device's manifest")


def _install(name: str, staging: Path, dest: Path, sidecar_only: bool = False) -> None:
    """Copy an artifact (data files first, the sidecar last) and drop its older files."""
    sidecar = next((staging / "artifacts").glob(f"*/{name}.json"))
    meta = json.loads(sidecar.read_text())
    folder = dest / meta["study"]
    folder.mkdir(parents=True, exist_ok=True)
    keep = {sidecar.name}
    if not sidecar_only:
        for entry in meta["files"].values():
            shutil.copy2(sidecar.parent / entry["path"], folder / entry["path"])
            keep.add(entry["path"])
    shutil.copy2(sidecar, folder / sidecar.name)
    if not sidecar_only:
        for old in folder.glob(f"{name}.*"):
            if old.name not in keep:
                old.unlink()


def unpack(
    files_at: Path,
    into: Path | None = None,
    retrain_root: Path | None = None,
    replace: bool = False,
) -> tuple[dict, list[dict]]:
    """Verify and install what a device call brought back; returns (manifest, table rows).

    A recipe's artifact goes into ``into`` (the artifacts root) when it is new there or
    ``replace``; a retrain of an artifact that is already valid there goes to
    ``retrain_root`` instead (every sidecar goes there too, for ``tools/drift.py``).
    """
    from interplib.core import artifacts, recipes

    manifest = json.loads((files_at / "manifest.json").read_text())
    into = into or artifacts.root()
    retrain_root = retrain_root or REPO / "_build" / "gpu-retrain" / "artifacts"
    parts, complaints = _good_parts(files_at, manifest)
    table = []
    with tempfile.TemporaryDirectory(prefix="device-unpack-") as tmp:
        staging = Path(tmp)
        complaints += _extract(parts, staging)
        for name, row in manifest["recipes"].items():
            entry = {
                "recipe": name,
                "state": row["state"]
                + (f" ({row['detail']})" if row["detail"] else ""),
                "job wall": row.get("wall_s"),
                "fit wall (sidecar)": row.get("gpu_wall_s"),
                "shipped": row.get("shipped", "-"),
                "key metric": row.get("key_metric"),
                "installed": "-",
            }
            table.append(entry)
            if row.get("shipped") not in ("full", "sidecar"):
                continue
            if not list((staging / "artifacts").glob(f"*/{name}.json")):
                entry["installed"] = "REFUSED: its sidecar did not come back whole"
                continue
            _install(name, staging, retrain_root, sidecar_only=True)
            if row["shipped"] != "full":
                entry["installed"] = f"sidecar -> {retrain_root}"
                continue
            try:
                _verify(name, staging, row)
            except (Refused, StopIteration, KeyError) as err:
                entry["installed"] = f"REFUSED: {err}"
                continue
            kept = recipes.status(name, into)[0] == "valid"
            target = retrain_root if kept and not replace else into
            _install(name, staging, target)
            entry["installed"] = str(target)
        if into.exists():
            artifacts.write_manifest(into)
    return {**manifest, "complaints": complaints}, table


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f} s"
    if isinstance(value, dict):
        return f"{value.get('name')}={value.get('value'):.4g}"
    return str(value)


def render(table: list[dict]) -> str:
    """The per-recipe table as Markdown, for the closing note."""
    heads = list(table[0]) if table else []
    rows = [[_fmt(row[h]) for h in heads] for row in table]
    lines = ["| " + " | ".join(heads) + " |", "|" + " --- |" * len(heads)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def remaining(manifest: dict) -> list[str]:
    """Recipes that did not come back whole: not done, or left on the device."""
    rows = manifest["recipes"]
    return [n for n, r in rows.items() if r["state"] != "done"] + list(
        manifest.get("left_on_device", [])
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan", help="write .devpack/plan.json")
    for name in ("slim", "size"):
        p = sub.add_parser(name)
        p.add_argument("--carry", nargs="*", default=[".devpack", ".whl"])
    sub.add_parser("restore")
    p = sub.add_parser("unpack")
    p.add_argument("files_at", type=Path)
    p.add_argument("--into", type=Path, default=None)
    p.add_argument("--retrain-root", type=Path, default=None)
    p.add_argument("--replace", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "plan":
        print(f"{len(plan()['recipes'])} recipes in {PLAN}")
    elif args.command == "slim":
        slim()
        size = travelling(carry=tuple(args.carry))
        print(f"slim: artifacts/ untracked for the call; {size / MiB:.2f} MiB travel")
        print("run `python tools/device_pack.py restore` as soon as the call returns")
    elif args.command == "size":
        print(f"{travelling(carry=tuple(args.carry)) / MiB:.2f} MiB travel")
    elif args.command == "restore":
        changed = restore()
        print("restored: git status as before" if not changed else "restored; changed:")
        print("\n".join(changed))
    else:
        manifest, table = unpack(
            args.files_at, args.into, args.retrain_root, args.replace
        )
        print(f"device: {manifest.get('device')}; code {manifest.get('code_version')}")
        print(render(table))
        for line in manifest["complaints"]:
            print(f"REFUSED: {line}")
        rest = remaining(manifest)
        if rest:
            print(f"not back yet: {' '.join(rest)}")
        refused = any(str(r["installed"]).startswith("REFUSED") for r in table)
        return 1 if refused or manifest["complaints"] else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
