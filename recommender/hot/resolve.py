"""From a hot list to model rows: a list names goods by id (so it survives a model reload); every hot route needs
their rows in the loaded model, resolved once per list and model version (cached on the list), since a list is
served to many requests."""

from __future__ import annotations

import numpy as np

from recommender.hot.lists import HotList
from recommender.vocabulary import Vocabulary


def rows_of(hl: HotList, version: str, product_ids: Vocabulary) -> np.ndarray:
    """Each bursting good's model row (-1: unknown to the model), resolved once per list and model."""
    rows = hl.resolved.get(version)
    if rows is None:
        keys = hl.bursts.keys
        rows = hl.resolved[version] = product_ids.index(keys) if len(keys) else np.zeros(0, np.int64)
    return rows


def servable(rows: np.ndarray, gate: np.ndarray, in_category: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """Model rows of the listed goods that pass the quality gates (and are in the category: a mask over goods),
    and their positions in the list."""
    ok = rows >= 0
    ok[ok] = gate[rows[ok]]
    if in_category is not None:
        ok[ok] = in_category[rows[ok]]
    return rows[ok], np.flatnonzero(ok)
