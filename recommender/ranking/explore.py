"""Per-room exploration: near-tied goods spread over the rooms of a vertical instead of topping all of them.

The model's expected commission is a posterior mean, and posterior means are smoother than the truth: rooms of one
vertical whose audiences differ in ways the orders do not show get the same few near-tied goods on top. Each
(room, good) pair's ranking score is multiplied by a factor in [e^-w, e^w] drawn from a hash of the two ids and
the snapshot's day, so

* a room's order is the same on every request and every page of one model (pages stay slices of one order),
  and rotates among near-ties with each day's model;
* two goods whose scores differ by more than the factor's range never swap, so a clearly better good is never
  displaced; the shown figures (expected commission, its range) stay the model's;
* traffic among goods the model cannot tell apart spreads over their merchants (扶持), and the feedback loop
  gets evidence about goods a vertical's rooms would otherwise never list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection of uint64 whose outputs look independent for neighbouring inputs."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _id_hash(ids: np.ndarray) -> np.ndarray:
    """Integer or string ids to uint64 with pandas' fixed-key hash: the same in every process and replica."""
    ids = np.asarray(ids)
    return pd.util.hash_array(ids if ids.dtype.kind in "iu" else ids.astype(object), categorize=False)


class Exploration:
    """Multiplicative factors e^(w u), u uniform in [-1, 1), per (room, good), fixed by their ids and `day`."""

    def __init__(self, width: float, anchor_ids: np.ndarray, product_ids: np.ndarray, day: int) -> None:
        if not 0 <= width <= 1:
            raise ValueError(f"exploration width {width}: must be in [0, 1]")
        self.width = float(width)
        self.max_factor = float(np.exp(self.width))
        with np.errstate(over="ignore"):
            salt = _mix(np.asarray([day], np.int64).view(np.uint64) + _GOLDEN)
            self._room = _mix(_id_hash(anchor_ids) ^ salt)
            self._good = _id_hash(product_ids)

    def factors(self, anchor: int, rows: np.ndarray) -> np.ndarray:
        """(len(rows),) the factors of goods `rows` (catalogue rows) in room `anchor` (anchor row)."""
        with np.errstate(over="ignore"):
            h = _mix(self._good[rows] ^ self._room[anchor])
        u = (h >> np.uint64(11)).astype(np.float64) * (2.0 / 2 ** 53) - 1.0
        return np.exp(self.width * u)
