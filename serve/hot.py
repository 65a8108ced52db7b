"""Hot items (爆款) routes: what is bursting in a live room, platform-wide, and in one fan's feed.

Every list is quality-gated like the boards (a high-refund good is never surfaced), and every item carries its
evidence: orders in the window against what the good's own baseline predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from flask import Blueprint, current_app

from recommender.arrays import ranges
from serve import schemas
from serve.api import endpoint
from serve.hotlists import HotList, HotLists
from serve.present import anchor_summary, product_card
from serve.state import Serving, serving

bp = Blueprint("hot", __name__)
FEED_CANDIDATES = 300


def hot_lists() -> HotLists:
    return current_app.extensions["xuanpin"]["hot"]


def _iso(minute: int | None) -> str | None:
    return None if minute is None else datetime.fromtimestamp(minute * 60, UTC).isoformat()


def _envelope(s: Serving, hl: HotList, hot: HotLists, items: list[dict], **extra) -> dict:
    return {"as_of": _iso(hl.bursts.now), "stale": hl.stale, "error": hl.error, "store": hot.kind,
            "window_minutes": hot.burst.recent_minutes, "items": items, "model_version": s.version, **extra}


def _rows(s: Serving, hl: HotList) -> np.ndarray:
    """Each bursting good's model row (-1: unknown to the model), resolved once per list and model."""
    rows = hl.resolved.get(s.version)
    if rows is None:
        keys = hl.bursts.keys
        rows = hl.resolved[s.version] = s.model.product_ids.index(keys) if len(keys) else np.zeros(0, np.int64)
    return rows


@dataclass(frozen=True)
class Sellers:
    """(room, good) pairs of a hot list, sorted by room: the rooms shelving each bursting good, the good as its
    position in the list, and the room's place among that good's sellers (0: the one with most fans)."""

    anchor: np.ndarray
    burst: np.ndarray
    rank: np.ndarray


def _sellers(s: Serving, hl: HotList) -> Sellers:
    """The list's seller pairs, built once per list and model, and only for the feed (the one route reading them)."""
    key = (s.version, "sellers")
    pairs = hl.resolved.get(key)
    if pairs is None:
        rows = _rows(s, hl)
        indptr, anchors = s.sellers
        known = np.flatnonzero(rows >= 0)
        lo, hi = indptr[rows[known]], indptr[rows[known] + 1]
        at = ranges(lo, hi)
        by_room = np.argsort(anchors[at], kind="stable")
        pairs = hl.resolved[key] = Sellers(anchors[at][by_room], np.repeat(known, hi - lo)[by_room],
                                           (at - np.repeat(lo, hi - lo))[by_room])
    return pairs


def _servable(s: Serving, hl: HotList, category: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Model rows of the bursting goods that pass the quality gates (and the category), and their positions."""
    rows = _rows(s, hl)
    ok = rows >= 0
    ok[ok] = s.ranker.gate[rows[ok]]
    if category is not None:
        ok[ok] = s.ranker.in_category(category)[rows[ok]]
    return rows[ok], np.flatnonzero(ok)


def _item(s: Serving, hl: HotList, rank: int, row: int, i: int, where: str, window: int) -> dict:
    b = hl.bursts
    recent, expected, lift = int(b.recent[i]), float(b.expected[i]), float(b.lift[i])
    text = f"{where}近{window}分钟 {recent} 单，约为平时同期的 {lift:.1f} 倍（平时约 {expected:.1f} 单）"
    return {"rank": rank, "product": product_card(s, int(row)), "recent_orders": recent,
            "expected_orders": round(expected, 3), "lift": round(lift, 2),
            "reasons": [{"code": "burst", "text": text, "value": recent}]}


def _items(s: Serving, hl: HotList, rows: np.ndarray, idx: np.ndarray, k: int, where: str, window: int) -> list:
    return [_item(s, hl, n + 1, r, i, where, window) for n, (r, i) in enumerate(zip(rows[:k], idx[:k], strict=True))]


@endpoint(bp, "/v1/rankings/hot", query=schemas.HotQuery, response=schemas.HotResponse, errors=(400,))
def platform(q: schemas.HotQuery):
    """Goods bursting platform-wide now (optionally one category), strongest lift first, quality-gated."""
    s, hot = serving(), hot_lists()
    hl = hot.platform()
    rows, idx = _servable(s, hl, q.category)
    w = hot.burst.recent_minutes
    return _envelope(s, hl, hot, _items(s, hl, rows, idx, q.k, "全平台", w), category=q.category)


@endpoint(bp, "/v1/live/<anchor_id>/hot", query=schemas.LiveHotQuery, response=schemas.LiveHotResponse)
def live(anchor_id: str, q: schemas.LiveHotQuery):
    """Goods bursting in one live room now, to surface to all its viewers, with the room's evidence."""
    s, hot = serving(), hot_lists()
    row = s.anchor_row(anchor_id)
    hl = hot.room(str(s.model.anchor_ids.ids[row]))
    rows, idx = _servable(s, hl)
    w = hot.burst.recent_minutes
    return _envelope(s, hl, hot, _items(s, hl, rows, idx, q.k, "本直播间", w), anchor=anchor_summary(s, row))


@endpoint(bp, "/v1/feed/hot", query=schemas.FeedHotQuery, response=schemas.FeedHotResponse, errors=(400,))
def feed(q: schemas.FeedHotQuery):
    """Hot goods for one fan's feed: bursting goods re-ranked by the fan's affinity, favouring goods that
    anchors the fan follows sell. Unknown or new fans (no purchases, no follows) get the platform list."""
    s, hot = serving(), hot_lists()
    hl = hot.platform()
    rows, idx = _servable(s, hl)
    rows, idx = rows[:FEED_CANDIDATES], idx[:FEED_CANDIDATES]  # the strongest bursts, re-ranked for the fan
    fan = s.model.fan_ids.lookup(q.fan_id)
    w = hot.burst.recent_minutes
    vec = np.asarray(s.model.vectors["fan"][fan]) if fan >= 0 else None
    seller = _followed_sellers(s, hl, fan, idx) if fan >= 0 else None
    if vec is None or not len(rows) or (not np.any(vec) and not (seller >= 0).any()):
        # unknown, or a fan the model knows nothing about (no purchases, no follows): the platform list
        items = _items(s, hl, rows, idx, q.k, "全平台", w)
        return _envelope(s, hl, hot, items, fan_id=q.fan_id, personalised=False)

    cfg = hot.cfg
    affinity = np.asarray(s.model.vectors["product"])[rows] @ vec
    z = (affinity - affinity.mean()) / (affinity.std() or 1.0)
    score = np.log(hl.bursts.lift[idx]) + cfg.affinity_weight * z + cfg.follow_bonus * (seller >= 0)
    order = np.lexsort((np.arange(len(rows)), -score))[:q.k]
    items = []
    for n, j in enumerate(order):
        item = _item(s, hl, n + 1, rows[j], idx[j], "全平台", w)
        item["affinity"] = round(float(affinity[j]), 4)
        if seller[j] >= 0:
            a = anchor_summary(s, int(seller[j]))
            item["followed_anchor"] = a
            item["reasons"].append({"code": "followed_anchor", "text": f"你关注的主播「{a['name']}」在卖这件商品",
                                    "value": 1.0})
        items.append(item)
    return _envelope(s, hl, hot, items, fan_id=q.fan_id, personalised=True)


def _followed_sellers(s: Serving, hl: HotList, fan: int, idx: np.ndarray, most: int = 500) -> np.ndarray:
    """For each listed good (positions `idx`), the anchor with most fans among those the fan follows that
    shelves it, else -1. Reads only the fan's follows and the list's seller pairs, not their shelves."""
    pairs = _sellers(s, hl)
    followed = np.asarray(s.model.follows_of(fan))[:most]
    at = ranges(np.searchsorted(pairs.anchor, followed, "left"), np.searchsorted(pairs.anchor, followed, "right"))
    best = np.full(len(hl.bursts.keys), -1, np.int64)
    if len(at):
        order = np.lexsort((pairs.rank[at], pairs.burst[at]))  # per good, its best seller first
        burst, anchor = pairs.burst[at][order], pairs.anchor[at][order]
        first = np.ones(len(burst), bool)
        first[1:] = burst[1:] != burst[:-1]
        best[burst[first]] = anchor[first]
    return best[idx]
