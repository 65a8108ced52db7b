"""Hot items (爆款) routes: what is bursting in a live room, platform-wide, and in one fan's feed.

Every list is quality-gated like the boards (a high-refund good is never surfaced), and every item carries its
evidence: orders in the window against what the good's own baseline predicts. The lists, the burst test and
the feed's scoring live in `recommender.hot`; here the query is parsed and the answer formatted.
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, current_app, request

from recommender import reasons
from recommender.hot.feed import FEED_CANDIDATES, followed_sellers, personalise, sellers_of
from recommender.hot.lists import HotList, HotLists
from recommender.hot.resolve import rows_of, servable
from serve import schemas
from serve.api import endpoint, known
from serve.present import anchor_summary, beijing, product_card
from serve.state import Serving, serving

bp = Blueprint("hot", __name__)


def hot_lists() -> HotLists:
    return current_app.extensions["xuanpin"]["hot"]


def _envelope(s: Serving, hl: HotList, hot: HotLists, items: list[dict], **extra) -> dict:
    if hl.stale:
        current_app.extensions["xuanpin"]["metrics"].hot_stale.labels(request.url_rule.rule).inc()
    return {"as_of": beijing(hl.bursts.now), "stale": hl.stale, "error": hl.error,
            "warming_up": hl.bursts.warming_up, "baseline_minutes": hl.bursts.baseline_minutes, "store": hot.kind,
            "window_minutes": hot.cfg.recent_minutes, "items": items, "model_version": s.version, **extra}


def _servable(s: Serving, hl: HotList, category: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Model rows of the bursting goods that pass the quality gates (and the category), and their positions."""
    in_category = s.ranker.in_category(category) if category is not None else None
    return servable(rows_of(hl, s.version, s.model.product_ids), s.ranker.gate, in_category)


def _item(s: Serving, hl: HotList, rank: int, row: int, i: int, where: str, window: int) -> dict:
    b = hl.bursts
    recent, expected, lift = int(b.recent[i]), float(b.expected[i]), float(b.lift[i])
    return {"rank": rank, "product": product_card(s.cards, int(row)), "recent_orders": recent,
            "orders_24h": recent if b.day is None else int(b.day[i]),
            "orders_7d": recent if b.week is None else int(b.week[i]),
            "expected_orders": round(expected, 3), "lift": round(lift, 2),
            "reasons": [reasons.hot_burst(where, window, recent, expected)]}


def _items(s: Serving, hl: HotList, rows: np.ndarray, idx: np.ndarray, k: int, where: str, window: int) -> list:
    return [_item(s, hl, n + 1, r, i, where, window) for n, (r, i) in enumerate(zip(rows[:k], idx[:k], strict=True))]


@endpoint(bp, "/v1/rankings/hot", query=schemas.HotQuery, response=schemas.HotResponse, errors=(503,), csv="items")
def platform(q: schemas.HotQuery):
    """Goods bursting platform-wide now (optionally one category), strongest lift first, quality-gated."""
    s, hot = serving(), hot_lists()
    known(q.category, s.ranker.categories, "category")
    hl = hot.platform()
    rows, idx = _servable(s, hl, q.category)
    w = hot.cfg.recent_minutes
    return _envelope(s, hl, hot, _items(s, hl, rows, idx, q.k, "全平台", w), category=q.category)


@endpoint(bp, "/v1/live/<anchor_id>/hot", query=schemas.LiveHotQuery, response=schemas.LiveHotResponse, csv="items")
def live(anchor_id: str, q: schemas.LiveHotQuery):
    """Goods bursting in one live room now, to surface to all its viewers, with the room's evidence."""
    s, hot = serving(), hot_lists()
    row = s.anchor_row(anchor_id)
    hl = hot.room(str(s.model.anchor_ids.ids[row]))
    rows, idx = _servable(s, hl)
    w = hot.cfg.recent_minutes
    return _envelope(s, hl, hot, _items(s, hl, rows, idx, q.k, "本直播间", w), anchor=anchor_summary(s.cards, row))


@endpoint(bp, "/v1/feed/hot", query=schemas.FeedHotQuery, response=schemas.FeedHotResponse, errors=(503,),
          csv="items")
def feed(q: schemas.FeedHotQuery):
    """Hot goods for one fan's feed: bursting goods re-ranked by the fan's affinity, favouring goods that
    anchors the fan follows sell. Unknown or new fans (no purchases, no follows) get the platform list."""
    s, hot = serving(), hot_lists()
    hl = hot.platform()
    rows, idx = _servable(s, hl)
    rows, idx = rows[:FEED_CANDIDATES], idx[:FEED_CANDIDATES]
    fan = s.model.fan_ids.lookup(q.fan_id)
    w = hot.cfg.recent_minutes
    ranked = None
    if fan >= 0:
        pairs = sellers_of(hl, s.version, rows_of(hl, s.version, s.model.product_ids), s.sellers)
        seller = followed_sellers(pairs, s.model.follows_of(fan), len(hl.bursts.keys), idx)
        ranked = personalise(rows, hl.bursts.lift[idx], seller, np.asarray(s.model.vectors["fan"][fan]),
                             s.model.vectors["product"], hot.cfg, q.k)
    if ranked is None:  # unknown, or a fan the model knows nothing about (no purchases, no follows)
        items = _items(s, hl, rows, idx, q.k, "全平台", w)
        return _envelope(s, hl, hot, items, fan_id=q.fan_id, personalised=False)

    order, affinity = ranked
    items = []
    for n, j in enumerate(order):
        item = _item(s, hl, n + 1, rows[j], idx[j], "全平台", w)
        item["affinity"] = round(float(affinity[j]), 4)
        if seller[j] >= 0:
            a = anchor_summary(s.cards, int(seller[j]))
            item["followed_anchor"] = a
            item["reasons"].append(reasons.followed_anchor(a["name"]))
        items.append(item)
    return _envelope(s, hl, hot, items, fan_id=q.fan_id, personalised=True)
