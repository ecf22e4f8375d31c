"""The book's GPU work in one device call: tests, smoke and the packed retrain, then packing.

Runs on the lent GPU machine under its own ``python3`` (standard library only here; the
training runs in subprocesses). ``notes/gpu-session.md`` gives the exact calls.

    python3 tools/gpu_session.py run [--budget 540] [--jobs 8] [--smoke] [NAME ...]
    python3 tools/gpu_session.py fetch            # a warm machine: what `run` left behind

``run``, within ``--budget`` seconds from its start:

1. installs ``.whl/*.whl`` (if any) into ``WORK/site`` and prints the environment;
2. starts, side by side: the CUDA tests (test files that mention ``cuda``, ``-k "cuda or
   gpu"``), the smoke run of every recipe (``train --all --smoke``, its own root; skipped with
   ``--smoke``, where the main run is itself the smoke) and the main run
   (``train NAME... | --all --force --jobs N --deadline D``, into ``WORK/artifacts``, seeded
   from a carried ``artifacts/`` for dependencies), D leaving ``PACK_S`` for packing;
3. packs what finished into ``$OUT`` (``tools/device_pack.py``: manifest, log, tar parts).

``fetch`` packs the data files an earlier ``run`` on the same (still warm) machine left on the
device because $OUT was full. ``--rehearse`` (here, on the CPU) makes the packages the GPU
image lacks unimportable, so a missing wheel shows up before any device time is spent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import device_pack  # noqa: E402 (a sibling script, not a package)

REPO = Path(__file__).resolve().parents[1]
PACK_S = 45  # seconds kept at the end for packing and the reply
# a training command's deadline counts from its packed run's start, after python, torch and
# the registry are imported: up to ~30 s on a loaded CPU (rehearsal), a few on the GPU machine
STARTUP_S = 30
TESTS_S = 150  # the CUDA tests' own time limit
SMOKE_S = 150  # the GPU smoke run's deadline
# What the GPU image lacks among the packages interplib itself imports (KINDS.md's list,
# 2026-11-17): the training path must run without them (--rehearse checks it here).
DEVICE_LACKS = (
    "transformer_lens plotly IPython sphinx myst_nb nbformat jupyter_cache docutils"
)
BLOCKER = """import os, sys
_lacks = set(os.environ.get("DEVICE_LACKS", "").split())
class _Lacks:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _lacks:
            raise ModuleNotFoundError(f"No module named {name!r} (not on the GPU image)")
sys.meta_path.insert(0, _Lacks())
"""


class Session:
    """One call: its clock, its log (stdout and ``WORK/session.log``), its environment."""

    def __init__(self, work: Path, budget: float) -> None:
        self.began = time.monotonic()
        self.began_wall = time.time()
        self.budget = budget
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.log = open(work / "session.log", "a")  # noqa: SIM115 (the session's lifetime)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.phases: dict[str, dict] = {}

    def now(self) -> float:
        return time.monotonic() - self.began

    def left(self) -> float:
        return self.budget - self.now()

    def say(self, text: str) -> None:
        line = f"[{self.now():6.1f} s] {text}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def shell(self, command: list[str], timeout: float = 60) -> str:
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, env=self.env, timeout=timeout
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"({' '.join(command)}: {err})"
        return (done.stdout + done.stderr).strip()

    def start(self, name: str, command: list[str], env: dict | None = None):
        log = open(self.work / f"{name}.log", "w")  # noqa: SIM115 (closed in wait)
        self.say(f"{name}: {' '.join(command)}")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self.env, **(env or {})},
            cwd=REPO,
        )
        self.phases[name] = {"command": " ".join(command), "start_s": self.now()}
        return process, log

    def wait(self, name: str, process, log, limit: float) -> int:
        try:
            code = process.wait(timeout=max(1.0, limit))
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
            code = 124
        log.close()
        phase = self.phases[name]
        phase.update(rc=code, wall_s=round(self.now() - phase["start_s"], 1))
        phase["tail"] = device_pack._tail(self.work / f"{name}.log", 3000)
        self.say(f"{name}: exit {code} after {phase['wall_s']} s")
        return code


def environment(s: Session, device: str) -> dict:
    probe = (
        "import torch, platform, os; d = torch.cuda.is_available();"
        "print(platform.python_version(), torch.__version__, torch.version.cuda, d,"
        " torch.cuda.get_device_name(0) if d else 'cpu', os.cpu_count(), sep=' | ')"
    )
    info = {
        "python | torch | cuda | gpu | name | cores": s.shell(
            [sys.executable, "-c", probe]
        ),
        "nvidia-smi": s.shell(["nvidia-smi", "-L"]) if device == "cuda" else "-",
        "packages": s.shell(
            [sys.executable, "-m", "pip", "list", "--format=freeze"], timeout=120
        ),
    }
    for key in ("python | torch | cuda | gpu | name | cores", "nvidia-smi"):
        s.say(f"{key}: {info[key]}")
    return info


def install_wheels(s: Session) -> None:
    wheels = sorted((REPO / ".whl").glob("*.whl"))
    if not wheels:
        s.say("no wheels to install (.whl/ is empty or absent)")
        return
    site = s.work / "site"
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps"]
    command += ["--no-compile", "--no-cache-dir", "--upgrade", "--target", str(site)]
    out = s.shell(command + [str(w) for w in wheels], timeout=300)
    s.say(f"installed {len(wheels)} wheel(s) into {site} {out[-500:]}")
    s.env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(site), s.env.get("PYTHONPATH")])
    )


def cuda_test_files() -> list[str]:
    tests = sorted(
        p for p in (REPO / "tests").rglob("test_*.py") if "cuda" in p.read_text()
    )
    skip = ("artifacts", "tools")  # the committed artifacts stay here; these tests' own
    return [str(p.relative_to(REPO)) for p in tests if not set(skip) & set(p.parts)]


def groups(args: argparse.Namespace, plan: dict) -> list[tuple[str, list[str], int]]:
    """The main run's recipe groups: (name, recipes, jobs). Named recipes form one group;
    otherwise the waiting GPU work (``plan["waiting"]``) and, beside it, the retrain of the
    committed artifacts (``plan["retrain"]``) for drift, unless ``--no-retrain``."""
    if args.names:
        return [("train", args.names, args.jobs)]
    found = [("train", plan.get("waiting", []), args.jobs)]
    if not args.no_retrain:
        found.append(("retrain", plan.get("retrain", []), args.retrain_jobs))
    return [g for g in found if g[1]]


def with_needs(names: list[str], table: dict) -> list[str]:
    """``names`` and every recipe they need, transitively (unknown names kept as given)."""
    found: list[str] = []

    def visit(name: str) -> None:
        if name not in found:
            for need in table.get(name, {}).get("needs", []):
                visit(need)
            found.append(name)

    for name in names:
        visit(name)
    return found


def rebuild_report(work: Path, prefix: str, names: list[str], since: float) -> None:
    """A report for a training command that was stopped before writing its own: a recipe
    whose sidecar was written during this run is done, any other is ``interrupted``."""
    rows = []
    for name in names:
        hit = device_pack._artifact_files(work / f"{prefix}artifacts", name)
        fresh = hit is not None and hit[0].stat().st_mtime >= since
        state = "done" if fresh else "interrupted"
        rows.append({"name": name, "state": state, "detail": "report rebuilt"})
    (work / f"{prefix}report.json").write_text(json.dumps({"recipes": rows}))


def merge(work: Path, group: str) -> None:
    """Move a retrain group's artifacts and logs into the main root, report and logs."""
    report = json.loads((work / f"{group}-report.json").read_text())
    main = work / "report.json"
    merged = json.loads(main.read_text()) if main.exists() else {"recipes": []}
    merged.setdefault("device", report.get("device"))
    merged["recipes"] += [{**r, "group": group} for r in report["recipes"]]
    main.write_text(json.dumps(merged))
    root, into = work / f"{group}-artifacts", work / "artifacts"
    for row in report["recipes"]:
        hit = device_pack._artifact_files(root, row["name"])
        if row["state"] != "done" or hit is None:
            continue
        sidecar, meta = hit
        folder = into / meta["study"]
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"{row['name']}.*"):
            old.unlink()
        for entry in meta["files"].values():
            shutil.copy2(sidecar.parent / entry["path"], folder / entry["path"])
        shutil.copy2(sidecar, folder / sidecar.name)
    for log in (work / f"{group}-logs").glob("*.log"):
        shutil.copy2(log, work / "logs" / log.name)


def run(args: argparse.Namespace) -> int:
    s = Session(args.work, args.budget)
    out = Path(args.out or os.environ.get("OUT") or s.work / "out")
    if args.rehearse:
        blocker = s.work / "blocker"
        blocker.mkdir(exist_ok=True)
        (blocker / "sitecustomize.py").write_text(BLOCKER)
        s.env["DEVICE_LACKS"] = DEVICE_LACKS
        s.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(blocker), s.env.get("PYTHONPATH")])
        )
        s.say(f"rehearsal: unimportable here as on the GPU image: {DEVICE_LACKS}")
    else:
        install_wheels(s)
    s.env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [s.env.get("PYTHONPATH"), str(REPO)])
    )
    plan_path = REPO / device_pack.PLAN
    if not plan_path.exists():
        s.say(f"no {device_pack.PLAN}: run `tools/device_pack.py plan` (or slim) first")
        s.log.close()
        return 2
    plan = json.loads(plan_path.read_text())
    s.env.setdefault("INTERPLIB_CODE_VERSION", plan.get("code_version", "unknown"))
    info = environment(s, args.device)
    estimates = s.work / "estimates.json"
    expected = {n: r["expect"].get(args.device) for n, r in plan["recipes"].items()}
    estimates.write_text(json.dumps({n: v for n, v in expected.items() if v}))
    for old in ("artifacts", "retrain-artifacts", "smoke-artifacts", "logs"):
        shutil.rmtree(s.work / old, ignore_errors=True)
    for old in ("report.json", "retrain-report.json", "smoke-report.json", "left.json"):
        (s.work / old).unlink(missing_ok=True)
    # the book's marker (paths.MARKERS) where no carried artifacts/ made the folder
    (REPO / "artifacts").mkdir(exist_ok=True)
    if not args.smoke:  # carried dependencies
        shutil.copytree(REPO / "artifacts", s.work / "artifacts")
    train = [sys.executable, "-m", "interplib.train", "--device", args.device]
    running = []
    if not args.no_tests:
        files = cuda_test_files()
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
        ]
        command += ["-m", "not artifacts", "-k", "cuda or gpu", *files]
        running.append(("tests", *s.start("tests", command), TESTS_S))
    if not args.smoke and not args.no_smoke_check:
        command = train + ["--all", "--smoke", "--jobs", str(args.smoke_jobs)]
        command += ["--deadline", str(SMOKE_S), "--logs", str(s.work / "smoke-logs")]
        command += ["--report", str(s.work / "smoke-report.json")]
        env = {"INTERPLIB_ARTIFACTS": str(s.work / "smoke-artifacts")}
        running.append(("smoke", *s.start("smoke", command, env), SMOKE_S + 30))
    deadline = s.left() - PACK_S - STARTUP_S
    for group, names, jobs in groups(args, plan):
        if args.smoke:  # no carried dependency fits the tiny configs: train them first
            names = with_needs(names, plan["recipes"])
        prefix = "" if group == "train" else f"{group}-"
        command = train + [*names, "--force", "--jobs", str(jobs)]
        command += ["--deadline", f"{deadline:.0f}"]
        command += [] if args.smoke else ["--estimates", str(estimates)]
        command += ["--logs", str(s.work / f"{prefix}logs")]
        command += ["--report", str(s.work / f"{prefix}report.json")]
        command += ["--smoke"] if args.smoke else []
        env = {"INTERPLIB_ARTIFACTS": str(s.work / f"{prefix}artifacts")}
        running.append((group, *s.start(group, command, env), deadline + STARTUP_S))
    for name, process, log, limit in running:
        s.wait(name, process, log, limit - (s.now() - s.phases[name]["start_s"]))
    (s.work / "logs").mkdir(exist_ok=True)
    for group, names, _ in groups(args, plan):
        prefix = "" if group == "train" else f"{group}-"
        if not (s.work / f"{prefix}report.json").exists():  # the command was stopped
            rebuild_report(s.work, prefix, names, s.began_wall)
            s.say(f"{group}: no report; rebuilt from the sidecars written in this run")
        if group != "train":
            merge(s.work, group)
    report_path = s.work / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    smoke_path = s.work / "smoke-report.json"
    if smoke_path.exists():
        s.phases["smoke"]["recipes"] = json.loads(smoke_path.read_text())["recipes"]
    session = {
        "code_version": s.env["INTERPLIB_CODE_VERSION"],
        "mode": "smoke" if args.smoke else "full",
        "budget_s": args.budget,
        "environment": info,
        "phases": s.phases,
    }
    (s.work / "session.json").write_text(json.dumps(session))
    return finish(s, out, report, plan, session, None)


def finish(
    s: Session, out: Path, report: dict, plan: dict, session: dict, names
) -> int:
    s.say(f"packing into {out}")
    manifest = device_pack.pack(
        s.work / "artifacts",
        out,
        report,
        plan["recipes"],
        {**session, "session_wall_s": round(s.now(), 1)},
        s.work / "logs",
        s.work,
        names,
    )
    (s.work / "left.json").write_text(json.dumps(manifest["left_on_device"]))
    s.log.close()
    shutil.copy2(s.work / "session.log", out / "session.log")
    rows = manifest["recipes"]
    print(f"{'recipe':26} {'state':12} {'wall':>8} {'gpu wall':>9}  shipped")
    for name, r in rows.items():
        wall = "-" if r.get("wall_s") is None else f"{r['wall_s']:.0f} s"
        gpu = "-" if r.get("gpu_wall_s") is None else f"{r['gpu_wall_s']:.0f} s"
        print(f"{name:26} {r['state']:12} {wall:>8} {gpu:>9}  {r.get('shipped', '-')}")
    sizes = sum(p["bytes"] for p in manifest["parts"])
    print(
        f"{len(manifest['parts'])} part(s), {sizes / 2**20:.1f} MiB; "
        f"left on the device: {' '.join(manifest['left_on_device']) or 'nothing'}"
    )
    phases = {k: v.get("rc") for k, v in session.get("phases", {}).items()}
    print(
        f"phases: {phases}; not back: {' '.join(device_pack.remaining(manifest)) or '-'}"
    )
    return 0


def fetch(args: argparse.Namespace) -> int:
    s = Session(args.work, args.budget)
    out = Path(args.out or os.environ.get("OUT") or s.work / "out")
    if not (s.work / "left.json").exists():
        s.say(f"nothing to fetch: no earlier run in {s.work} (a fresh machine?)")
        s.log.close()
        return 1
    left = json.loads((s.work / "left.json").read_text())
    if not left:
        s.say("nothing was left on the device")
        s.log.close()
        return 0
    report = json.loads((s.work / "report.json").read_text())
    plan_path = REPO / device_pack.PLAN
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else {"recipes": {}}
    session = {**json.loads((s.work / "session.json").read_text()), "fetch": True}
    return finish(s, out, report, plan, session, left)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("command", choices=("run", "fetch"))
    parser.add_argument("names", nargs="*", help="recipes (default: every one, --all)")
    parser.add_argument(
        "--budget", type=float, default=540, help="seconds for the call"
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--retrain-jobs", type=int, default=2)
    parser.add_argument("--smoke-jobs", type=int, default=3)
    parser.add_argument("--no-retrain", action="store_true", help="waiting work only")
    parser.add_argument("--no-smoke-check", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="the main run in smoke mode"
    )
    parser.add_argument("--no-tests", action="store_true")
    parser.add_argument(
        "--rehearse", action="store_true", help="block what the GPU lacks"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/gpu-session"))
    parser.add_argument("--out", default=None, help="default $OUT")
    args = parser.parse_intermixed_args(argv)
    return run(args) if args.command == "run" else fetch(args)


if __name__ == "__main__":
    sys.exit(main())
