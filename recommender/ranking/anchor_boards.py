"""Anchor boards (达人带货榜): rooms ranked by GMV or orders over 1, 7 or 30 days, overall or in one category,
and the new-anchor board (新人主播榜), each row with its audience in one line.

A board is one total order: the metric, then the other metric, then fans, all descending, then the anchor's row.
Ranks are positions in it (1, 2, 3 ...), so two rooms tied on GMV are 1 and 2, never both "第 1 名", and a page
is a slice of the same order. Only rooms that pass the anchor gates (rating, violations) and sold in the
window (in the category) are on a board; a tier or the new-anchor rule narrows it, ranks counting within it.
The new-anchor board then lists the 新人主播 who have not sold yet, most fans first (GMV and orders 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.ranking.catalog import WINDOWS, Rooms

METRICS = ("gmv", "orders")
ORDER_MEMO = 256  # orderings kept per loaded model: (window, metric, category) -> gated rows in board order


@dataclass(frozen=True)
class BoardPage:
    """One page of a board: anchor rows with their rank, GMV and orders in the window (and category)."""

    rows: np.ndarray
    rank: np.ndarray
    gmv: np.ndarray
    orders: np.ndarray
    total: int  # rooms on the board
    next_offset: int | None


class AnchorBoards:
    """The anchor boards of one loaded model, from its (anchors, windows, categories) GMV and orders."""

    def __init__(self, gmv: np.ndarray, orders: np.ndarray, rooms: Rooms, gate: np.ndarray,
                 categories: list[str]) -> None:
        """`categories`: the goods' categories (sorted), the columns of `gmv` and `orders` via the rooms'
        audience columns."""
        self.rooms, self.gate, self.categories = rooms, np.asarray(gate, bool), list(categories)
        self._gmv, self._orders = np.asarray(gmv, float), np.asarray(orders, np.int64)
        self._gmv_total, self._orders_total = self._gmv.sum(axis=2), self._orders.sum(axis=2)
        self._memo: dict[tuple[int, str, str | None], np.ndarray] = {}

    def figures(self, window: int, category: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(anchors,) GMV and orders in the window, overall or in one category."""
        w = WINDOWS.index(window)
        if category is None:
            return np.round(self._gmv_total[:, w], 2), self._orders_total[:, w]
        col = int(self.rooms.audience_column[self.categories.index(category)])
        return self._gmv[:, w, col], self._orders[:, w, col]

    def order(self, window: int, metric: str, category: str | None) -> np.ndarray:
        """Gated rooms that sold in the window (and category), in board order. Kept per model."""
        key = (window, metric, category)
        rows = self._memo.get(key)
        if rows is None:
            gmv, orders = self.figures(window, category)
            first, second = (gmv, orders) if metric == "gmv" else (orders, gmv)
            rows = np.flatnonzero(self.gate & (first > 0))
            fans = np.asarray(self.rooms.fans, np.int64)[rows]
            rows = rows[np.lexsort((rows, -fans, -second[rows], -first[rows]))]
            if len(self._memo) >= ORDER_MEMO:
                self._memo.clear()
            self._memo[key] = rows
        return rows

    def page(self, window: int, metric: str = "gmv", category: str | None = None, tier: str | None = None,
             new: bool = False, k: int = 20, offset: int = 0) -> BoardPage:
        """One page of a board. `category` must be one of `categories` and `metric` one of METRICS (the caller
        validates them; an unknown one raises ValueError)."""
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        rows = self.order(window, metric, category)
        if tier is not None:
            rows = rows[self.rooms.tier[rows] == tier]
        if new:
            rows = rows[self.rooms.new[rows]] if self.rooms.new is not None else rows[:0]
            rows = np.concatenate([rows, self._unsold_new(category, tier, rows)])
        gmv, orders = self.figures(window, category)
        shown = rows[offset:offset + k]
        return BoardPage(shown, np.arange(offset + 1, offset + 1 + len(shown)), gmv[shown], orders[shown], len(rows),
                         offset + k if len(rows) > offset + k else None)

    def _unsold_new(self, category: str | None, tier: str | None, sold: np.ndarray) -> np.ndarray:
        """新人主播 who pass the gates and sold nothing in the window (in the category: of that main category), most
        fans first: a merchant looking for new anchors to back (扶持) finds them after those that sold, where a
        sales board alone would be empty (a new room often has not sold yet)."""
        if self.rooms.new is None:
            return sold[:0]
        keep = self.gate & self.rooms.new
        keep[sold] = False
        if category is not None:
            main = self.rooms.main
            code = self.categories.index(category)
            keep &= main == code if main is not None else False
        if tier is not None:
            keep &= self.rooms.tier == tier
        rows = np.flatnonzero(keep)
        fans = np.asarray(self.rooms.fans, np.int64)[rows]
        return rows[np.lexsort((rows, -fans))]


def audience_line(rooms: Rooms, rows: np.ndarray) -> list[dict]:
    """Each room's audience in one line, as the selection center writes it: the largest gender, age band and
    region share of its followers and their average order (女 72% · 24-30岁 41% · 广东 18% · 客单价 ¥89), with
    the figures behind it. A dimension the snapshot lacks is left out; no buyer: no 客单价. A room under
    reasons.MIN_FANS_FOR_SHARES followers says how few they are first (仅 5 位粉丝 · 女 80% …): a share of five
    people reads like a profile of an audience that is not there yet."""
    rows = np.asarray(rows, np.int64)
    out: list[dict] = [{} for _ in range(len(rows))]
    fans = np.asarray(rooms.fans, np.int64)[rows].tolist()
    few = (~np.asarray(rooms.quotable)[rows]).tolist() if len(rows) else []
    parts: list[list[str]] = [[f"仅 {n} 位粉丝" if n else "暂无粉丝"] if f else []
                              for n, f in zip(fans, few, strict=True)]
    for i, f in enumerate(few):
        if f:
            out[i]["few_fans"] = fans[i]
    for dim, suffix in (("gender", ""), ("age_band", "岁"), ("region", "")):
        shares = rooms.audience.get(dim)
        if shares is None or not len(rows):
            continue
        block = np.asarray(shares[rows], float)
        top = block.argmax(axis=1)
        labels = rooms.audience_labels[dim]
        for i, (j, share) in enumerate(zip(top.tolist(), block[np.arange(len(rows)), top].tolist(), strict=True)):
            if share <= 0:
                continue
            label = labels[j]
            shown = label if label.endswith(suffix) else f"{label}{suffix}"
            parts[i].append(f"{shown} {share:.0%}")
            out[i][dim] = {"label": label, "share": round(share, 4)}
    value = rooms.order_value
    values = [None] * len(rows) if value is None else np.asarray(value, float)[rows].tolist()
    for i, v in enumerate(values):
        if v is not None and np.isfinite(v):
            parts[i].append(f"客单价 ¥{v:,.0f}")
            out[i]["order_value"] = round(v, 2)
        out[i]["text"] = " · ".join(parts[i])
    return out
