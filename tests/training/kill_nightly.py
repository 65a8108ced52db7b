"""Run the nightly job in this process and SIGKILL it at one named point: a child process for the SIGKILL tests.

    python -m tests.training.kill_nightly PHASE DATA REGISTRY MARKER

Before it dies it writes MARKER (JSON: the phase and what it saw), so the test knows it died where it meant to;
a run that never reaches the phase exits normally and leaves no marker. The phases, in the job's order:

    candidate   the candidate's training on all but the holdout, writing into versions/.eval-*
    publish     the final training on everything: its files written, the manifest and the rename not yet done
    published   the new version renamed into versions/, CURRENT not yet changed
    swap        the new CURRENT written to its temporary file, not yet renamed over CURRENT
    swapped     CURRENT renamed to the new version, the promotion not yet in history.jsonl
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from recommender.artifact import ArtifactWriter
from training.nightly import NightlyConfig, run_nightly

PHASES = ("candidate", "publish", "published", "swap", "swapped")


def die(marker: Path, phase: str, **seen: str) -> None:
    marker.write_text(json.dumps({"phase": phase, **seen}))
    os.kill(os.getpid(), signal.SIGKILL)


def arm(phase: str, marker: Path) -> None:
    """Wrap the one step at which `phase` is reached so that it kills this process there."""
    commit, replace = ArtifactWriter.commit, os.replace

    def commit_then_maybe_die(self: ArtifactWriter, manifest: dict) -> Path:
        final = not self.out.name.startswith(".")  # versions/<id>, not the candidate's scratch
        if phase == "candidate" and not final:
            die(marker, phase, writing=str(self.tmp))
        if phase == "publish" and final:
            die(marker, phase, writing=str(self.tmp), version=self.out.name)
        out = commit(self, manifest)
        if phase == "published" and final:
            die(marker, phase, version=out.name)
        return out

    def replace_then_maybe_die(src, dst) -> None:
        if Path(dst).name == "CURRENT" and phase == "swap":
            die(marker, phase, version=Path(src).read_text().strip(), pointer=str(src))
        replace(src, dst)
        if Path(dst).name == "CURRENT" and phase == "swapped":
            die(marker, phase, version=Path(dst).read_text().strip())

    ArtifactWriter.commit = commit_then_maybe_die
    os.replace = replace_then_maybe_die


def main(phase: str, data: str, registry: str, marker: str) -> int:
    if phase not in PHASES:
        raise SystemExit(f"unknown phase {phase!r}; one of {', '.join(PHASES)}")
    arm(phase, Path(marker))
    code, _ = run_nightly(data, registry, NightlyConfig(), report=Path(marker).parent / "report")
    return code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
