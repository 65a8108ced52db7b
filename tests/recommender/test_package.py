"""Importing the package names OpenBLAS's core type before faiss loads, whichever entry point loads faiss first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os, sys

class Probe:  # reports the state of the process at the moment faiss is first imported
    def find_spec(self, name, path=None, target=None):
        if name == "faiss":
            print("recommender" in sys.modules, os.environ.get("OPENBLAS_CORETYPE"))
            sys.meta_path.remove(self)
        return None

sys.meta_path.insert(0, Probe())
import {module}
"""


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return set(next((line for line in fh if line.startswith("flags")), "").split())
    except OSError:
        return set()


@pytest.mark.parametrize("module", ["serve.app", "training.trainer", "recommender.artifact"])
def test_faiss_loads_after_the_core_type_is_set(module):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    flags = _cpu_flags()
    expected = ("SkylakeX" if {"avx512f", "avx512bw"} <= flags else "Haswell" if "avx2" in flags else "None")
    assert out == ["True", expected]


def test_a_core_type_the_user_chose_is_kept():
    out = subprocess.run([sys.executable, "-c", "import os, recommender; print(os.environ['OPENBLAS_CORETYPE'])"],
                         cwd=ROOT, env={**os.environ, "OPENBLAS_CORETYPE": "Zen"}, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "Zen"
