"""Command line: train the book's artifacts.

Usage::

    python -m interplib.train NAME [NAME ...] [--device auto|cpu|cuda] [--force] [--jobs N]
    python -m interplib.train --all [--device cuda] [--force] [--jobs N] [--logs DIR]
                              [--deadline SECONDS] [--estimates FILE] [--report FILE]
    python -m interplib.train --all --smoke [--device cpu] [--jobs 2]
    python -m interplib.train --list
    python -m interplib.train --manifest

A valid artifact is kept unless ``--force``; a missing or stale one is trained. Writes are
atomic: an interrupted run leaves the previous artifact intact. ``--all`` on a CPU skips the
recipes marked as GPU runs (``Recipe.gpu``); name one to train it there anyway.

``--jobs N`` (default 1: one recipe after the other, in this process) packs the run: up to N
recipes train at once, each in its own ``python -m interplib.train NAME --force`` subprocess
with ``OMP_NUM_THREADS`` = cores // N and its output in ``--logs/NAME.log``; a recipe starts
once every recipe it ``needs`` (among those asked for) has finished; each saves its own
artifact when done, so a cut-off run keeps what finished. A failed recipe skips its
dependants and makes the exit code 1 (:func:`packed`). Among the ready recipes the longest
expected one starts first (with its chain of dependants; an unmeasured one counts as the
longest). ``--deadline SECONDS`` (a packed run, even with ``--jobs 1``) ends the run by then:
a recipe whose expected time no longer fits is skipped instead of started, and what still
runs at the deadline is stopped, so a lent machine's call ends inside its limit with every
finished artifact saved. ``--estimates FILE`` (JSON, name -> seconds) replaces the expected
times (a device that lacks the committed sidecars); ``--report FILE`` writes each recipe's
state and wall time as JSON.

``--smoke`` trains the tiny version of every recipe asked for (``Recipe.smoke``; GPU runs
included) into a fresh temporary artifacts root (``$INTERPLIB_ARTIFACTS`` if already set):
the whole pipeline, dependencies first, in a few minutes on a CPU, never touching the
committed artifacts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch

from interplib.core import paths, recipes
from interplib.core.paths import BookNotFound

__all__ = ["Job", "listing", "main", "packed"]


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


@dataclass
class Job:
    """One recipe of a packed run (:func:`packed`) and what became of it.

    ``state``: ``waiting``, ``running``, ``done``, ``kept`` (valid, not retrained), ``failed``,
    ``skipped`` (a recipe it needs failed or was skipped) or ``interrupted``. ``start`` and
    ``end`` are seconds since the run began.
    """

    name: str
    state: str = "waiting"
    start: float | None = None
    end: float | None = None
    log: Path | None = None
    detail: str = ""
    process: subprocess.Popen | None = None
    output: IO[bytes] | None = None

    @property
    def wall(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


def _child_env(jobs: int) -> dict[str, str]:
    """The environment of a packed run's subprocess: its share of the cores, this interplib."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    package_root = str(Path(recipes.__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(
        filter(None, [package_root, os.environ.get("PYTHONPATH", "")])
    )
    return {
        **os.environ,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "PYTHONPATH": pythonpath,
        "PYTHONUNBUFFERED": "1",
        "TQDM_MININTERVAL": "10",  # a progress bar in a log file: one update per 10 s
    }


def _table(jobs: list[Job]) -> str:
    rows = [("recipe", "state", "wall", "log")]
    for job in jobs:
        wall = "-" if job.wall is None else f"{job.wall:.1f} s"
        state = job.state + (f" ({job.detail})" if job.detail else "")
        rows.append((job.name, state, wall, str(job.log or "-")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows
    )


def packed(
    names: list[str],
    device: torch.device,
    jobs: int,
    logs: Path,
    force: bool = False,
    smoke: bool = False,
    deadline: float | None = None,
    estimates: dict[str, float] | None = None,
) -> list[Job]:
    """Train ``names`` with up to ``jobs`` subprocesses at once, dependencies first.

    A recipe starts when every recipe in its ``needs`` that is among ``names`` is done (or
    kept); one whose dependency failed or was skipped is skipped. Among the ready recipes the
    one heading the longest chain of dependants starts first; a recipe's expected time is
    ``estimates[name]`` if given, else :func:`~interplib.core.recipes.estimate`, and an
    unmeasured one counts as the longest measured. With ``deadline`` (seconds from the start)
    a recipe expected to end after it is skipped, and at the deadline the running ones are
    stopped (``interrupted``: their previous artifact, if any, is intact) and the waiting ones
    skipped. Prints a line per start and finish and a final table; returns the jobs in the
    order of ``names``.
    """
    table = recipes.recipes()
    order = list(table)  # dependency order
    names = sorted(dict.fromkeys(names), key=order.index)
    logs.mkdir(parents=True, exist_ok=True)
    env = _child_env(jobs)
    todo = {name: Job(name) for name in names}
    began = time.perf_counter()

    def now() -> float:
        return time.perf_counter() - began

    def say(message: str) -> None:
        print(f"[{now():8.1f} s] {message}", flush=True)

    def finish(job: Job, state: str, detail: str = "") -> None:
        job.state, job.detail, job.end = state, detail, now()
        if job.output is not None:
            job.output.close()
        job.process = job.output = None

    def measured(name: str) -> float | None:
        if estimates is not None and name in estimates:
            return float(estimates[name])
        return recipes.estimate(name, device.type)

    # a smoke run's tiny configs have no recorded times: all count as unmeasured
    expected = {name: None if smoke else measured(name) for name in names}
    longest = max((s for s in expected.values() if s is not None), default=0.0)
    # a recipe's priority: its expected time plus the longest chain of its dependants
    dependants = {name: [n for n in names if name in table[n].needs] for name in names}
    priority: dict[str, float] = {}
    for name in reversed(names):  # names are in dependency order
        after = [priority[d] for d in dependants[name]]
        own = expected[name]
        priority[name] = (longest if own is None else own) + max(after, default=0.0)

    def stop(job: Job, why: str) -> None:
        assert job.process is not None
        job.process.terminate()
        try:
            job.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            job.process.kill()
            job.process.wait()
        finish(job, "interrupted", why)

    if not force:
        for job in todo.values():
            if recipes.status(job.name)[0] == "valid":
                job.state = "kept"
                say(f"{job.name}: valid, kept (use --force to retrain)")
    say(
        f"{sum(j.state == 'waiting' for j in todo.values())} recipe(s) to train on "
        f"{recipes.describe_device(device)}, {jobs} at a time, "
        f"{env['OMP_NUM_THREADS']} thread(s) each; logs in {logs}"
        + ("" if deadline is None else f"; deadline {deadline:.0f} s")
    )
    running: list[Job] = []

    def terminated(
        signum, frame
    ):  # stopped from outside: as Ctrl-C, children stopped too
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, terminated)
    except ValueError:  # not the main thread: no handler
        previous = None
    try:
        while True:
            if deadline is not None and now() >= deadline:
                for job in running:
                    stop(job, "deadline")
                    say(f"{job.name}: stopped at the deadline after {job.wall:.1f} s")
                running.clear()
                for job in todo.values():
                    if job.state == "waiting":
                        job.state, job.detail = "skipped", "deadline"
                say("deadline reached: the recipes that finished keep their artifacts")
                break
            for job in todo.values():
                if job.state != "waiting":
                    continue
                deps = [todo[d] for d in table[job.name].needs if d in todo]
                bad = [d.name for d in deps if d.state in ("failed", "skipped")]
                if bad:
                    job.start = job.end = None
                    job.state, job.detail = "skipped", f"needs {', '.join(bad)}"
                    say(f"{job.name}: skipped, it needs {', '.join(bad)}")
            ready = [
                job
                for job in todo.values()
                if job.state == "waiting"
                and all(
                    todo[d].state in ("done", "kept")
                    for d in table[job.name].needs
                    if d in todo
                )
            ]
            ready.sort(key=lambda job: -priority[job.name])
            late = [
                job
                for job in ready
                if deadline is not None
                and (expected[job.name] or 0.0) > deadline - now()
            ]
            for job in late:
                job.state = "skipped"
                job.detail = f"expects {expected[job.name] or 0:g} s: past the deadline"
                say(f"{job.name}: skipped, it {job.detail}")
            if late:
                continue  # their dependants are skipped at the top of the loop
            for job in ready[: jobs - len(running)]:
                job.log = logs / f"{job.name}.log"
                command = [
                    sys.executable,
                    "-m",
                    "interplib.train",
                    job.name,
                    "--device",
                    str(device),
                    "--force",
                ] + (["--smoke"] if smoke else [])
                job.output = open(job.log, "wb")  # noqa: SIM115 (closed by finish)
                job.output.write((" ".join(command) + "\n").encode())
                job.output.flush()
                job.process = subprocess.Popen(
                    command, stdout=job.output, stderr=subprocess.STDOUT, env=env
                )
                job.state, job.start = "running", now()
                running.append(job)
                say(f"{job.name}: started (log {job.log})")
            if not running:
                break
            time.sleep(0.1)
            for job in list(running):
                assert job.process is not None
                code = job.process.poll()
                if code is None:
                    continue
                running.remove(job)
                if code == 0:
                    finish(job, "done")
                    say(f"{job.name}: done in {job.wall:.1f} s")
                else:
                    finish(job, "failed", f"exit {code}")
                    say(
                        f"{job.name}: FAILED (exit {code}) after {job.wall:.1f} s; see {job.log}"
                    )
    except KeyboardInterrupt:
        for job in running:
            stop(job, "")
        say("interrupted: the recipes that finished keep their artifacts")
        print(_table(list(todo.values())), flush=True)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(_table(list(todo.values())), flush=True)
    say("packed run finished")
    return list(todo.values())


def _write_report(path: Path, done: list[Job], device: torch.device) -> None:
    """A packed run's outcome as JSON: the device and, per recipe, state and wall time."""
    rows = [
        {
            "name": job.name,
            "state": job.state,
            "detail": job.detail,
            "start_s": job.start,
            "wall_s": job.wall,
            "log": None if job.log is None else str(job.log),
        }
        for job in done
    ]
    report = {"device": recipes.describe_device(device), "recipes": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")


def _default_logs() -> Path:
    try:
        return paths.book_root() / "_build" / "train-logs"
    except BookNotFound:
        return Path("_build") / "train-logs"


@contextlib.contextmanager
def _smoke_root() -> Iterator[Path]:
    """Smoke mode for the duration: ``$INTERPLIB_SMOKE`` set and, unless
    ``$INTERPLIB_ARTIFACTS`` already names one, a fresh temporary artifacts root (removed
    afterwards). Refuses the committed ``artifacts/``."""
    saved = {k: os.environ.get(k) for k in (recipes.SMOKE_ENV, "INTERPLIB_ARTIFACTS")}
    made = None
    if not os.environ.get("INTERPLIB_ARTIFACTS"):
        made = Path(tempfile.mkdtemp(prefix="interplib-smoke-"))
        os.environ["INTERPLIB_ARTIFACTS"] = str(made)
    os.environ[recipes.SMOKE_ENV] = "1"
    try:
        root = paths.artifacts_root().resolve()
        with contextlib.suppress(BookNotFound):
            if root == (paths.book_root() / "artifacts").resolve():
                raise SystemExit(
                    "python -m interplib.train --smoke: $INTERPLIB_ARTIFACTS is the committed "
                    "artifacts/; smoke artifacts go to a throwaway root (leave it unset)"
                )
        print(f"smoke mode: tiny configs, artifacts in {root}", flush=True)
        yield root
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


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
        "--jobs",
        type=int,
        default=1,
        help="train up to N recipes at once, each in its own subprocess (default 1: in turn)",
    )
    parser.add_argument(
        "--logs",
        type=Path,
        default=None,
        help="folder of the subprocesses' logs with --jobs > 1 (default _build/train-logs)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="end a packed run after SECONDS: skip recipes that would end later, stop the "
        "ones still running then",
    )
    parser.add_argument(
        "--estimates",
        type=Path,
        default=None,
        help="JSON file of expected seconds by recipe name, for ordering and the deadline",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="write each recipe's state and wall time of a packed run to this JSON file",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny configs (GPU runs included) into a temporary artifacts root",
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
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: use 1 or more")

    try:
        if args.smoke and not (args.list or args.manifest):
            with _smoke_root():
                return _run(parser, args)
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
        names = [
            n
            for n, r in table.items()
            if not r.gpu or device.type == "cuda" or args.smoke
        ]
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
    if args.jobs > 1 or args.deadline is not None:
        logs = args.logs or _default_logs()
        estimates = None
        if args.estimates is not None:
            estimates = json.loads(args.estimates.read_text())
        done = packed(
            names,
            device,
            args.jobs,
            logs,
            args.force,
            args.smoke,
            args.deadline,
            estimates,
        )
        if args.report is not None:
            _write_report(args.report, done, device)
        return 0 if all(job.state in ("done", "kept") for job in done) else 1
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
