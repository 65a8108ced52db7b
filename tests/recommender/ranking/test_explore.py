"""Exploration factors: fixed per (room, good, day), bounded, and independent across rooms and days."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from recommender.ranking.explore import Exploration

ROOMS = np.arange(400) + 10_000_000
GOODS = np.arange(2_000) * 3 + 5


def table(explore: Exploration) -> np.ndarray:
    return np.stack([explore.factors(a, np.arange(len(GOODS))) for a in range(len(ROOMS))])


def test_factors_stay_within_the_width_and_spread_evenly_on_the_log_scale():
    f = np.log(table(Exploration(0.2, ROOMS, GOODS, day=20_000)))
    assert f.min() >= -0.2 and f.max() <= 0.2
    assert abs(f.mean()) < 0.002  # uniform on [-w, w]: mean 0, sd w / sqrt(3)
    assert f.std() == pytest.approx(0.2 / np.sqrt(3), rel=0.01)
    deciles = np.histogram(f, bins=10, range=(-0.2, 0.2))[0] / f.size
    assert np.abs(deciles - 0.1).max() < 0.005


def test_a_pairs_factor_does_not_depend_on_which_goods_are_asked_with_it():
    explore = Exploration(0.1, ROOMS, GOODS, day=20_000)
    rows = np.array([7, 3, 1999, 0, 3])
    alone = [float(explore.factors(5, np.array([r]))[0]) for r in rows]
    assert explore.factors(5, rows).tolist() == alone
    assert explore.factors(5, rows).tolist() == Exploration(0.1, ROOMS, GOODS, day=20_000).factors(5, rows).tolist()


def test_rooms_and_days_draw_independently_and_the_ids_not_the_rows_decide():
    explore = table(Exploration(0.2, ROOMS, GOODS, day=20_000))
    next_day = table(Exploration(0.2, ROOMS, GOODS, day=20_001))
    assert abs(np.corrcoef(np.log(explore[0]), np.log(explore[1]))[0, 1]) < 0.1  # two rooms
    assert abs(np.corrcoef(np.log(explore).ravel(), np.log(next_day).ravel())[0, 1]) < 0.01  # two days
    # the same room and good in a catalogue numbered otherwise (the next model adds goods) keep their factor
    reordered = Exploration(0.2, ROOMS[::-1], np.concatenate([[1], GOODS[::-1]]), day=20_000)
    assert reordered.factors(len(ROOMS) - 1, np.array([len(GOODS)])) == pytest.approx(explore[0, :1])


def test_string_ids_are_hashed_the_same_way_in_every_process():
    """Workers and replicas must agree on a room's order: the factors may not depend on Python's per-process
    string hash (PYTHONHASHSEED)."""
    code = ("import numpy as np; from recommender.ranking.explore import Exploration; "
            "print(Exploration(0.3, np.array(['room-1', 'room-2']), np.array(['sku-a', 'sku-b', 'sku-c']), day=1)"
            ".factors(1, np.arange(3)).tolist())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(runs) == 1
    here = Exploration(0.3, np.array(["room-1", "room-2"]), np.array(["sku-a", "sku-b", "sku-c"]), day=1)
    assert runs.pop().strip() == str(here.factors(1, np.arange(3)).tolist())
    assert len(set(here.factors(1, np.arange(3)).tolist())) == 3


def test_width_zero_changes_nothing_and_a_width_outside_zero_to_one_is_refused():
    assert (table(Exploration(0.0, ROOMS, GOODS, day=3)) == 1).all()
    with pytest.raises(ValueError, match="exploration width"):
        Exploration(1.5, ROOMS, GOODS, day=3)
