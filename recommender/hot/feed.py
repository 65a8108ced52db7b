"""The fan feed's scoring: plain arrays in, arrays out.

The feed needs who sells each bursting good; that is resolved once per list and model version (cached on the
list), since a list is served to many requests.

The feed re-ranks the strongest bursts for one fan: log(lift) + `affinity_weight` x the fan's affinity
(z-scored inner product of fan and good vectors over the candidates) + `follow_bonus` when an anchor the fan
follows sells the good.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.arrays import ranges
from recommender.hot.config import HotConfig
from recommender.hot.lists import HotList

FEED_CANDIDATES = 300  # the strongest servable bursts a fan's feed re-ranks
FOLLOWS_READ = 500  # a fan's follows looked at for sellers (most fans first)


@dataclass(frozen=True)
class Sellers:
    """(room, good) pairs of a hot list, sorted by room: the rooms shelving each bursting good, the good as its
    position in the list, and the room's place among that good's sellers (0: the one with most fans)."""

    anchor: np.ndarray
    burst: np.ndarray
    rank: np.ndarray


def sellers_of(hl: HotList, version: str, rows: np.ndarray, sellers: tuple[np.ndarray, np.ndarray]) -> Sellers:
    """The list's seller pairs, built once per list and model. `rows`: the list's model rows (`rows_of`);
    `sellers`: good -> the anchors shelving it, most fans first (CSR indptr, anchor rows)."""
    key = (version, "sellers")
    pairs = hl.resolved.get(key)
    if pairs is None:
        indptr, anchors = sellers
        known = np.flatnonzero(rows >= 0)
        lo, hi = indptr[rows[known]], indptr[rows[known] + 1]
        at = ranges(lo, hi)
        by_room = np.argsort(anchors[at], kind="stable")
        pairs = hl.resolved[key] = Sellers(anchors[at][by_room], np.repeat(known, hi - lo)[by_room],
                                           (at - np.repeat(lo, hi - lo))[by_room])
    return pairs


def followed_sellers(pairs: Sellers, followed: np.ndarray, listed: int, idx: np.ndarray,
                     most: int = FOLLOWS_READ) -> np.ndarray:
    """For each listed good (positions `idx` in a list of `listed` goods), the anchor with most fans among those
    the fan follows (`followed`, anchor rows) that shelves it, else -1. Reads only the fan's follows and the
    list's seller pairs, not their shelves."""
    followed = np.asarray(followed)[:most]
    at = ranges(np.searchsorted(pairs.anchor, followed, "left"), np.searchsorted(pairs.anchor, followed, "right"))
    best = np.full(listed, -1, np.int64)
    if len(at):
        order = np.lexsort((pairs.rank[at], pairs.burst[at]))  # per good, its best seller first
        burst, anchor = pairs.burst[at][order], pairs.anchor[at][order]
        first = np.ones(len(burst), bool)
        first[1:] = burst[1:] != burst[:-1]
        best[burst[first]] = anchor[first]
    return best[idx]


def personalise(rows: np.ndarray, lift: np.ndarray, seller: np.ndarray, fan_vector: np.ndarray,
                product_vectors: np.ndarray, cfg: HotConfig, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The fan's top `k` of the candidates (model `rows`, their `lift` and followed `seller`, -1 for none):
    positions among the candidates, best first, and every candidate's affinity. None when there is nothing to
    personalise on: no candidates, or a fan the model knows nothing about (no purchases, no follows)."""
    if not len(rows) or (not np.any(fan_vector) and not (seller >= 0).any()):
        return None
    affinity = np.asarray(product_vectors)[rows] @ fan_vector
    z = (affinity - affinity.mean()) / (affinity.std() or 1.0)
    score = np.log(lift) + cfg.affinity_weight * z + cfg.follow_bonus * (seller >= 0)
    order = np.lexsort((np.arange(len(rows)), -score))[:k]
    return order, affinity
