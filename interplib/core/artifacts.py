"""Trained models and data as verified files: safetensors plus a JSON sidecar.

An artifact ``NAME`` of study ``STUDY`` is two files under the artifacts root::

    artifacts/STUDY/NAME.json                  the sidecar: config, metrics, provenance, hashes
    artifacts/STUDY/NAME.<sha12>.safetensors   the tensors, named by their content hash
    artifacts/STUDY/NAME.<sha12>.<suffix>      optional extra files (e.g. a tokenizer's JSON)

The sidecar is the commit point. A save writes the content-addressed data files first
(they never overwrite the files of the previous version) and then atomically replaces
the sidecar, so an interrupted save leaves the old artifact readable. ``manifest.json``
indexes every sidecar for the status page and for cache keys; it is rebuilt after each
save and a test checks it is in sync.

Nothing here unpickles: tensors go through safetensors and everything else is JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from interplib.core import paths

if TYPE_CHECKING:
    import pandas as pd  # imported when a table is made: pandas is slow to import

__all__ = [
    "MANIFEST",
    "NAME_RE",
    "ArtifactError",
    "MissingArtifact",
    "CorruptArtifact",
    "StaleArtifact",
    "root",
    "remake_command",
    "sha256_file",
    "canonical",
    "Artifact",
    "sidecar_path",
    "save",
    "meta_sha256",
    "read_sidecar",
    "find",
    "load",
    "sidecars",
    "manifest",
    "write_manifest",
    "table",
]

MANIFEST = "manifest.json"
SCHEMA = 1
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


class ArtifactError(RuntimeError):
    """An artifact cannot be used; the message names the file and the command that remakes it."""


class MissingArtifact(ArtifactError):
    """No sidecar, or a data file it lists is gone."""


class CorruptArtifact(ArtifactError):
    """A hash does not match, or a file is unreadable."""


class StaleArtifact(ArtifactError):
    """The artifact was made from a different config or recipe version than the code asks for."""


def root() -> Path:
    """The artifacts folder (:func:`interplib.core.paths.artifacts_root`)."""
    return paths.artifacts_root()


def remake_command(name: str) -> str:
    return f"python -m interplib.train {name} --force"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical(obj: Any) -> Any:
    """``obj`` as plain JSON data (tuples become lists).

    So configs compare equal after a round trip.
    """
    return json.loads(json.dumps(obj, sort_keys=True, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(
        f"{type(obj).__name__} is not JSON serialisable; convert it to a list or number first"
    )


@dataclass
class Artifact:
    """A loaded, verified artifact: its tensors, its extra files' bytes and its sidecar."""

    name: str
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta["metrics"]


def sidecar_path(study: str, name: str, base: Path | None = None) -> Path:
    return (base or root()) / study / f"{name}.json"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(
    study: str,
    name: str,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    files: dict[str, bytes] | None = None,
    base: Path | None = None,
) -> Path:
    """Write an artifact atomically and return its sidecar path.

    Args:
        study: folder under the artifacts root (one per chapter or data set).
        name: unique artifact name across studies, e.g. ``"markov-bigram"``.
        tensors: contiguous tensors; stored as given (cast to half precision before if wanted).
        meta: JSON-able provenance (config, metrics, device, wall time, ...); hashes are added here.
        files: extra payloads by suffix, e.g. ``{"tokenizer.json": b"..."}``.
    """
    base = base or root()
    folder = base / study
    folder.mkdir(parents=True, exist_ok=True)
    if not NAME_RE.fullmatch(name):
        raise ValueError(
            f"artifact name {name!r}: use lowercase letters, digits, '-' and '_', "
            "like 'markov-bigram'"
        )

    payloads: dict[str, Path] = {}
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp)
        os.chmod(tmp, 0o644)
        sha = sha256_file(Path(tmp))
        payloads["safetensors"] = folder / f"{name}.{sha[:12]}.safetensors"
        os.replace(tmp, payloads["safetensors"])
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for suffix, data in (files or {}).items():
        sha = hashlib.sha256(data).hexdigest()
        payloads[suffix] = folder / f"{name}.{sha[:12]}.{suffix}"
        _atomic_write_bytes(payloads[suffix], data)

    sidecar = sidecar_path(study, name, base)
    record = canonical(
        {
            **meta,
            "schema": SCHEMA,
            "name": name,
            "study": study,
            "files": {
                suffix: {
                    "path": p.name,
                    "sha256": sha256_file(p),
                    "bytes": p.stat().st_size,
                }
                for suffix, p in payloads.items()
            },
        }
    )
    record["meta_sha256"] = meta_sha256(record)
    _atomic_write_bytes(
        sidecar, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode()
    )

    # The new version is committed: every other file of this artifact is garbage, the
    # previous version's and any orphan a crashed save left behind (data or .tmp).
    keep = {p.name for p in payloads.values()} | {sidecar.name}
    for path in [*folder.glob(f"{name}.*"), *folder.glob(f".{name}.*.tmp")]:
        if path.name not in keep:
            path.unlink(missing_ok=True)
    write_manifest(base)
    return sidecar


def meta_sha256(record: dict[str, Any]) -> str:
    """The sha256 of a sidecar's content (config, metrics, provenance, file hashes) in
    canonical JSON, without its own ``meta_sha256`` field: loading checks it, so an edited
    metric is caught like an edited tensor."""
    body = {k: v for k, v in record.items() if k != "meta_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptArtifact(
            f"artifact sidecar {path} is unreadable ({err}); remake it with "
            f"`{remake_command(path.stem)}`"
        ) from err


def find(name: str, base: Path | None = None) -> Path:
    """The sidecar of ``name`` in any study folder; raises ``ArtifactError`` if there is none."""
    base = base or root()
    hits = sorted(base.glob(f"*/{name}.json")) if NAME_RE.fullmatch(name) else []
    if not hits:
        raise MissingArtifact(
            f"artifact {name!r} is missing (no {name}.json under {base}); "
            f"create it with `python -m interplib.train {name}`"
        )
    return hits[0]


def load(
    name: str, base: Path | None = None, expected_config: dict | None = None
) -> Artifact:
    """Load and verify an artifact.

    Every data file's sha256 must match the sidecar, and if ``expected_config`` is given
    the stored config must equal it (otherwise the artifact is stale).

    Raises:
        ArtifactError: missing, corrupted (hash mismatch, unreadable) or stale, with the
            command that regenerates it.
    """
    sidecar = find(name, base)
    meta = read_sidecar(sidecar)
    fix = f"regenerate it with `{remake_command(name)}`"
    for key in ("config", "files", "metrics", "meta_sha256"):
        if key not in meta:
            raise CorruptArtifact(
                f"artifact sidecar {sidecar} has no {key!r} field; {fix}"
            )
    if meta_sha256(meta) != meta["meta_sha256"]:
        raise CorruptArtifact(
            f"artifact sidecar {sidecar} was edited after it was written (its content "
            f"no longer matches its meta_sha256); {fix}"
        )
    if expected_config is not None and meta["config"] != canonical(expected_config):
        raise StaleArtifact(
            f"artifact {name!r} is stale: it was trained with config {meta['config']} but the code "
            f"now asks for {canonical(expected_config)}; {fix}"
        )
    paths = {}
    for suffix, entry in meta["files"].items():
        path = sidecar.parent / entry["path"]
        if not path.exists():
            raise MissingArtifact(
                f"artifact {name!r}: data file {path} is missing; {fix}"
            )
        got = sha256_file(path)
        if got != entry["sha256"]:
            raise CorruptArtifact(
                f"artifact {name!r}: {path} is corrupted (sha256 {got[:12]}…, sidecar says "
                f"{entry['sha256'][:12]}…); {fix}"
            )
        paths[suffix] = path
    if "safetensors" not in paths:
        raise CorruptArtifact(f"artifact {name!r} lists no safetensors file; {fix}")
    tensors = load_file(paths.pop("safetensors"))
    files = {suffix: path.read_bytes() for suffix, path in paths.items()}
    return Artifact(name=name, tensors=tensors, meta=meta, files=files)


def sidecars(base: Path | None = None) -> list[dict[str, Any]]:
    """Every artifact's sidecar under the root, sorted by study and name."""
    base = base or root()
    return [
        read_sidecar(p)
        for p in sorted(base.glob("*/*.json"))
        if NAME_RE.fullmatch(p.stem)
    ]


def manifest(base: Path | None = None) -> dict[str, Any]:
    """The index of all artifacts: name -> study, files, hashes, device, wall time, key metric."""
    entries = {}
    for meta in sidecars(base):
        entries[meta["name"]] = {
            "study": meta["study"],
            "config_sha256": hashlib.sha256(
                json.dumps(meta["config"], sort_keys=True).encode()
            ).hexdigest(),
            "files": meta["files"],
            "device": meta.get("device"),
            "wall_time_s": meta.get("wall_time_s"),
            "key_metric": meta.get("key_metric"),
            "code_version": meta.get("code_version"),
        }
    return {"schema": SCHEMA, "artifacts": entries}


def write_manifest(base: Path | None = None) -> Path:
    base = base or root()
    path = base / MANIFEST
    text = json.dumps(manifest(base), indent=1, sort_keys=True) + "\n"
    _atomic_write_bytes(path, text.encode())
    return path


def table(base: Path | None = None) -> pd.DataFrame:
    """One row per artifact for the status page: size, hash, device, wall time, key metric."""
    import pandas as pd

    rows = []
    for meta in sidecars(base):
        files = meta["files"].values()
        metric = meta.get("key_metric") or {}
        rows.append(
            {
                "artifact": meta["name"],
                "study": meta["study"],
                "size (KiB)": round(sum(f["bytes"] for f in files) / 1024, 1),
                "sha256": meta["files"]["safetensors"]["sha256"][:12],
                "trained on": (meta.get("device") or "").split(",")[0],
                "wall time (s)": meta.get("wall_time_s"),
                "key metric": f"{metric.get('name')} = {metric.get('value'):.4g}"
                if metric
                else "",
            }
        )
    columns = [
        "artifact",
        "study",
        "size (KiB)",
        "sha256",
        "trained on",
        "wall time (s)",
        "key metric",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("artifact")
