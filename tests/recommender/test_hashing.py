"""Order keys are a fixed-key hash: replicas and restarts agree on which orders were seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from recommender.hashing import order_keys

ROOT = Path(__file__).resolve().parents[2]
IDS = ["a", "b", "17", "订单-0001", "9" * 30]
PRINT_KEYS = f"import json; from recommender.hashing import order_keys; print(json.dumps(order_keys({IDS!r}).tolist()))"


def keys_in_a_new_process(hash_seed: str) -> list[int]:
    """The keys as another worker computes them: a fresh interpreter with its own string-hash seed."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PRINT_KEYS], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)


def test_order_keys_are_the_same_in_every_process():
    """Two interpreters whose str hashes differ (as two gunicorn workers' do) agree with each other and with this
    one: a key built on Python's hash(), or on anything seeded per process, would not."""
    here = order_keys(IDS).tolist()
    assert keys_in_a_new_process("1") == keys_in_a_new_process("2") == here
    assert len(set(here)) == len(IDS)


def test_an_order_id_is_one_key_whether_written_as_a_number_or_a_string():
    assert order_keys(["a", "b", 17]).tolist() == order_keys(["a", "b", "17"]).tolist()
    assert order_keys(["a"]).dtype == np.uint64 and order_keys(["a"])[0] != order_keys(["b"])[0]


def test_keys_do_not_change_between_releases():
    """The artifact's recent orders and Redis keep keys across deployments: a new release must recognise them."""
    assert order_keys(["a", "订单-0001"]).tolist() == [13950350942979735504, 2433203289333451957]
