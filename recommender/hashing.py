"""Stable keys of ids: the same in every process, replica and restart, so a replayed order is recognised by
whichever worker sees it again, and the artifact's recent orders and the live stream agree on an order's key."""

from __future__ import annotations

import numpy as np
import pandas as pd


def order_keys(order_ids) -> np.ndarray:
    """Order ids to 64-bit keys: pandas' fixed-key hash (ids are compared as strings: 17 and "17" are one)."""
    ids = np.asarray(order_ids).astype(str).astype(object)
    return pd.util.hash_array(ids, categorize=False)
