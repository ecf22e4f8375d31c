"""tools/gpu_session.py: the pieces that need no training (the whole script is rehearsed on
the CPU with ``--smoke --rehearse``, see notes/gpu-session.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from builders import load_tool

ROOT = Path(__file__).resolve().parents[2]


gs = load_tool("gpu_session")


def test_cuda_tests_are_found_and_the_artifact_tests_left_out():
    files = gs.cuda_test_files()
    assert "tests/studies/grokking/test_training.py" in files
    assert not [f for f in files if f.startswith(("tests/artifacts/", "tests/tools/"))]


def test_the_rehearsal_blocks_what_the_gpu_image_lacks(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(gs.BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "DEVICE_LACKS": gs.DEVICE_LACKS}
    code = "import json\ntry:\n import transformer_lens\nexcept ImportError as e:\n print(e)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "not on the GPU image" in out.stdout


def test_fetch_on_a_fresh_machine_says_so(tmp_path, capsys):
    assert (
        gs.main(["fetch", "--work", str(tmp_path / "w"), "--out", str(tmp_path)]) == 1
    )
    assert "nothing to fetch" in capsys.readouterr().out


def test_the_device_commands_in_the_note_fit_the_run_tool():
    """Each ```device-command block of notes/gpu-session.md: at most 2,000 characters."""
    note = (ROOT / "notes" / "gpu-session.md").read_text()
    blocks = re.findall(r"```device-command\n(.*?)```", note, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        command = " ".join(block.split())
        assert len(command) <= 2000, command
        assert "tools/gpu_session.py" in command
