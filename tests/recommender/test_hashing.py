"""Order keys are a fixed-key hash: replicas and restarts agree on which orders were seen."""

from __future__ import annotations

import numpy as np

from recommender.hashing import order_keys


def test_order_keys_are_the_same_in_every_process():
    assert order_keys(["a", "b", 17]).tolist() == order_keys(["a", "b", "17"]).tolist()
    assert order_keys(["a"])[0] == np.uint64(order_keys(["a"])[0]) and order_keys(["a"])[0] != order_keys(["b"])[0]
