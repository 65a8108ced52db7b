"""Replacing an artifact survives a kill at the worst moment: `train --overwrite` always leaves one whole artifact.

Each test trains in a subprocess whose swap is slowed at one point (a marker file says it got there), kills it
with SIGKILL there, and loads what is left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recommender.artifact import load_model
from recommender.artifact.writer import ArtifactWriter, exchange
from training.trainer import train

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import os, sys, time
from pathlib import Path
import recommender.artifact.writer as w
from training.trainer import train

marker, where = Path(sys.argv[3]), sys.argv[4]
real_exchange, real_rename = w.exchange, os.rename

def pause():
    marker.write_text("here")
    time.sleep(60)

if where == "after exchange":
    def slow_exchange(a, b):
        done = real_exchange(a, b)
        pause()
        return done
    w.exchange = slow_exchange
else:  # no atomic exchange: two renames, killed between them
    w.exchange = lambda a, b: False
    calls = []
    def slow_rename(a, b):
        real_rename(a, b)
        calls.append(1)
        if len(calls) == 1 and ".old-" in str(b):
            pause()
    w.os.rename = slow_rename
train(sys.argv[1], sys.argv[2], overwrite=True)
"""


def _version(path: Path) -> str:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))["model_version"]


def _killed_at(snapshot: Path, out: Path, where: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SCRIPT), str(snapshot), str(out), str(marker),
                             where], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, "the training ended before reaching the swap"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture
def trained(tiny_csv, tmp_path) -> tuple[Path, Path, str]:
    out = tmp_path / "artifact"
    train(tiny_csv, out)
    return tiny_csv, out, _version(out)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_a_kill_right_after_the_exchange_leaves_the_new_artifact_whole(trained, tmp_path):
    snapshot, out, old = trained
    time.sleep(1.1)  # model versions are stamped to the second
    _killed_at(snapshot, out, "after exchange", tmp_path)
    assert _version(out) != old
    load_model(out)  # whole: every file there, checksums and all


def test_a_kill_between_two_renames_is_undone_by_the_next_writer(trained, tmp_path):
    """Where the file system cannot exchange, the old artifact waits beside the target; the next training (or
    any writer for that target) puts it back before anything else."""
    snapshot, out, old = trained
    _killed_at(snapshot, out, "between renames", tmp_path)
    assert not out.exists() and list(out.parent.glob(f".{out.name}.old-*"))
    with pytest.raises(FileExistsError):  # the restored artifact is there again: not replaced without overwrite
        ArtifactWriter(out)
    assert _version(out) == old
    load_model(out)


def test_the_exchange_swaps_two_directories_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not exchange(a, b):
        pytest.skip("this file system cannot exchange (the two-rename fallback is tested above)")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"
