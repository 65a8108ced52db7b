"""Turn model rows into the JSON the API promises (serve/schemas.py). Formatting only: no computation."""

from __future__ import annotations

import math

import numpy as np

from serve.state import Serving


def plain(value):
    """numpy scalars and NaN to JSON-able Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def product_card(s: Serving, row: int) -> dict:
    p = s.model.products.iloc[row]
    st = s.model.product_stats.iloc[row]

    def opt(name, kind):
        return None if name not in p or plain(p[name]) is None or p[name] is None else kind(p[name])

    return {
        "product_id": plain(s.model.product_ids.ids[row]),
        "title": str(p["title"]),
        "category": str(p["category"]),
        "price": float(p["price"]),
        "commission_rate": float(p["commission_rate"]),
        "commission_per_order": round(float(p["price"]) * float(p["commission_rate"]), 2),
        "merchant_id": plain(p["merchant_id"]),
        "brand": opt("brand", str),
        "stock": opt("stock", int),
        "refund_rate": opt("refund_rate", float),
        "shop_rating": opt("shop_rating", float),
        "sales_7d": int(st["sales_7d"]),
        "gmv_7d": float(st["gmv_7d"]),
    }


def anchor_summary(s: Serving, row: int) -> dict:
    a = s.model.anchors.iloc[row]
    return {
        "anchor_id": plain(s.model.anchor_ids.ids[row]),
        "name": str(a["name"]),
        "tier": plain(a["tier"]) if "tier" in a else None,
        "main_category": plain(a["main_category"]) if "main_category" in a else None,
        "fans": int(s.model.audience.fans[row]),
    }
