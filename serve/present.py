"""Turn model rows into the JSON the API promises (serve/schemas.py). Formatting only: no computation.

A card is read from the catalogue's memory-mapped columns (shared by every worker) when a good is first shown,
and kept as one compact dict for the CARD_MEMO goods shown most recently: the same few hundred goods fill most
pages, so a worker holds a bounded memo instead of Python lists of the whole catalogue (~55 MB a worker on
100k goods).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pandas as pd

from recommender.catalogue import commission_per_unit
from recommender.evidence import days_of_stock, low_stock

if TYPE_CHECKING:
    from recommender.artifact import Model
    from recommender.ranking import Pick


def plain(value):
    """numpy scalars, NaN and pandas' missing values to JSON-able Python values."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


#: Beijing time (Asia/Shanghai): China has kept UTC+8 without daylight saving since 1991, so a fixed offset is the
#: zone exactly, with no time-zone database to depend on
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing(value) -> str | None:
    """An instant as ISO 8601 in Beijing time ("2026-07-21T17:48:24+08:00"), the time every Chinese tool shows.
    Naive timestamps are UTC (the data contract's rule); minutes since the epoch are read as such."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, int | np.integer):
        return datetime.fromtimestamp(int(value) * 60, UTC).astimezone(BEIJING).isoformat()
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts
    return ts.to_pydatetime().astimezone(BEIJING).isoformat()


CARD_MEMO = 20_000  # product cards kept per loaded model (about 1 KB each)


class Cards:
    """Cards of goods and summaries of rooms by model row, read from the model's columns (recommender/columns.py)
    when asked for; the cards and encoded picks of recently shown goods are kept (CARD_MEMO each)."""

    def __init__(self, model: Model) -> None:
        self.product_id = model.product_ids.ids
        self.products = model.columns.products
        self.stats = model.columns.product_stats
        self.anchor_id = model.anchor_ids.ids
        self.anchors = model.columns.anchors
        self.fans = model.audience.fans
        self.card_memo: dict[int, dict] = {}
        self.pick_memo: dict[int, tuple[orjson.Fragment, tuple[orjson.Fragment, ...], orjson.Fragment]] = {}
        self.anchor_memo: dict[int, orjson.Fragment] = {}  # room -> its summary, encoded

    def card(self, row: int) -> dict:
        """The product card of one good, built from the columns."""
        p, st = self.products, self.stats
        price, rate = _float(p.value("price", row)), _float(p.value("commission_rate", row))
        per_unit = None if price is None or rate is None else float(commission_per_unit(price, rate))
        return {"product_id": plain(self.product_id[row]), "title": p.value("title", row),
                "category": p.value("category", row), "price": price, "commission_rate": rate,
                "commission_per_unit": per_unit, "commission_per_order": per_unit,
                "merchant_id": p.value("merchant_id", row), "merchant_name": p.value("merchant_name", row),
                "brand": p.value("brand", row), "created_at": beijing(p.value("created_at", row)),
                "stock": self.stock(row),
                "refund_rate": _float(p.value("refund_rate", row)), "shop_rating": _float(p.value("shop_rating", row)),
                "sales_7d": _int(st.value("sales_7d", row)), "gmv_7d": _float(st.value("gmv_7d", row)),
                **self.stock_state(row)}

    def stock_state(self, row: int) -> dict:
        """库存预警 on every card: whether the stock runs out within a week at last week's pace, and in how many
        days (the product page's figures, so a pick is not pushed unmarked while it sells out)."""
        stock, sold = self.stock(row), _int(self.stats.value("sales_7d", row)) or 0
        return {"low_stock": low_stock(stock, sold), "days_of_stock": days_of_stock(stock, sold)}

    def stock(self, row: int) -> int | None:
        """A good's stock (None: unknown)."""
        return _int(self.products.value("stock", row))

    def anchor_fans(self, row: int) -> int:
        """A room's followers."""
        return int(self.fans[row])


def _float(value) -> float | None:
    return None if value is None else float(value)


def _int(value) -> int | None:
    return None if value is None else int(value)


def product_card(cards: Cards, row: int) -> dict:
    return product_cards(cards, [row])[0]


def product_cards(cards: Cards, rows: list[int]) -> list[dict]:
    """Cards of several goods (a page). Each caller gets its own copy, so it may add to a card."""
    c = cards
    memo = c.card_memo
    out = []
    for r in rows:
        card = memo.get(r)
        if card is None:
            card = c.card(r)
            if len(memo) >= CARD_MEMO:
                memo.clear()
            memo[r] = card
        out.append(card.copy())
    return out


def pick_items(cards: Cards, picks: list[Pick], first_rank: int) -> list[dict]:
    """A page of picks as the API shows them (schemas.Pick).

    What depends only on the good (its card, its own reasons, its support labels) is encoded to JSON once per
    loaded model and spliced into the response as orjson fragments, so a response encodes only the figures
    that depend on the anchor (a 20-pick response: 44 -> 21 us to encode, no copies of cards and reasons).
    The anchor's reasons are encoded on every page: keeping each one's encoding and finding it again by identity
    cost more in look-ups than it saved in encoding their Chinese text (items + JSON 97 against 75 us at best,
    measured side by side over 1,000 rooms, medium).
    """
    memo = cards.pick_memo
    items = []
    for rank, p in enumerate(picks, first_rank):
        parts = memo.get(p.product)
        if parts is None:
            if len(memo) >= CARD_MEMO:
                memo.clear()
            parts = memo[p.product] = (orjson.Fragment(orjson.dumps(cards.card(p.product))),
                                       tuple(orjson.Fragment(orjson.dumps(r)) for r in p.good_reasons),
                                       orjson.Fragment(orjson.dumps(p.support)))
        card, good_reasons, support = parts
        if p.own_sales is not None:  # the room is one of the sellers: its own sales proof, not the shared one
            good_reasons = (p.own_sales, *good_reasons[1:])
        why = [*p.anchor_reasons, *good_reasons]
        items.append({"rank": rank, "product": card, "score": p.score, "breakdown": p.breakdown, "reasons": why,
                      "supported": support, "on_shelf": p.on_shelf, "outside": p.outside})
    return items


def shop(cards: Cards, row: int) -> dict:
    """The shop line of a good's page: the merchant's name, rating, 30-day GMV and violations."""
    p = cards.products
    return {"merchant_id": p.value("merchant_id", row), "merchant_name": p.value("merchant_name", row),
            "shop_rating": _float(p.value("shop_rating", row)),
            "merchant_gmv_30d": _float(p.value("merchant_gmv_30d", row)),
            "merchant_violations": _int(p.value("merchant_violations", row))}


def anchor_summary(cards: Cards, row: int) -> dict:
    a = cards.anchors
    return {"anchor_id": plain(cards.anchor_id[row]), "name": a.value("name", row), "tier": a.value("tier", row),
            "main_category": a.value("main_category", row), "fans": cards.anchor_fans(row)}


def anchor_encoded(cards: Cards, row: int) -> orjson.Fragment:
    """A room's summary (anchor_summary) as encoded JSON, kept for the CARD_MEMO rooms asked last: a room's
    pages come back, and reading its text columns costs more than the rest of the summary."""
    memo = cards.anchor_memo
    found = memo.get(row)
    if found is None:
        if len(memo) >= CARD_MEMO:
            memo.clear()
        found = memo[row] = orjson.Fragment(orjson.dumps(anchor_summary(cards, row)))
    return found
