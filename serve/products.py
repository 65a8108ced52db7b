"""/v1/products: a good's page (statistics, board rank, promotion data), similar goods, and the anchors
that fit it (the merchant's 达人广场 view)."""

from __future__ import annotations

import numpy as np
from flask import Blueprint

from recommender.ranking import AnchorFilters, audience_line
from serve import schemas
from serve.api import check_choice, endpoint
from serve.present import anchor_summary, plain, product_card
from serve.state import Serving, serving

bp = Blueprint("products", __name__, url_prefix="/v1/products")


@endpoint(bp, "/<product_id>", response=schemas.ProductDetail)
def detail(product_id: str, q: schemas.NoQuery):
    """A good with its sales over 1/7/30 days, TOP board rank and promotion data."""
    s = serving()
    row = s.product_row(product_id)
    st = s.model.product_stats.iloc[row]
    windows = {}
    for w in (1, 7, 30):
        rank = int(s.ranker.board_rank[w][row])
        windows[f"{w}d"] = {"sales": int(st[f"sales_{w}d"]), "gmv": float(st[f"gmv_{w}d"]),
                            "orders": int(st[f"orders_{w}d"]), "anchors": int(st[f"anchors_{w}d"]),
                            "board_rank": rank or None}
    return {
        "product": product_card(s.cards, row),
        "created_at": str(s.model.products.iloc[row]["created_at"]),
        "windows": windows,
        "promotion": {"shelf_anchors": int(st["shelf_anchors"]), "selling_anchors_30d": int(st["anchors_30d"]),
                      "anchor_conversion_30d": plain(st["anchor_conversion_30d"]), "gmv_30d": float(st["gmv_30d"]),
                      "buyers_30d": int(st["buyers_30d"]), "refund_share_30d": float(st["refund_share_30d"])},
        "quality": _quality(s, row),
        "model_version": s.version,
    }


def _quality(s: Serving, row: int) -> dict:
    failures = s.ranker.gate_failures(row)
    return {"passes_gates": not failures, "failures": failures}


@endpoint(bp, "/<product_id>/anchors", query=schemas.ProductAnchorsQuery, response=schemas.ProductAnchorsResponse)
def anchors(product_id: str, q: schemas.ProductAnchorsQuery):
    """Anchors whose audience fits a good and who sell its category, with reasons."""
    s = serving()
    row = s.product_row(product_id)
    rooms = s.ranker.rooms
    check_choice(q.tier, rooms.tiers, "tier")
    for dim in ("gender", "age_band", "region"):
        check_choice(getattr(q, dim), rooms.audience_labels.get(dim, []), dim)
    filters = AnchorFilters(tier=q.tier, min_fans=q.min_fans, max_fans=q.max_fans, gender=q.gender,
                            gender_share_min=q.gender_share_min, age_band=q.age_band, age_share_min=q.age_share_min,
                            region=q.region, region_share_min=q.region_share_min,
                            audience_price_min=q.audience_price_min, audience_price_max=q.audience_price_max,
                            category_gmv_min=q.category_gmv_min, new_only=q.new)
    page = s.ranker.anchors_for(row, q.k, q.offset, filters=filters)
    shown = np.array([it["anchor"] for it in page.items], np.int64)
    lines = audience_line(rooms, shown)
    new = rooms.new[shown].tolist() if rooms.new is not None else [False] * len(shown)
    items = [{"rank": q.offset + i + 1, "anchor": anchor_summary(s.cards, it["anchor"]), "score": it["score"],
              "breakdown": it["breakdown"], "reasons": it["reasons"], "on_shelf": it["on_shelf"],
              "new_anchor": new[i], "audience": lines[i]}
             for i, it in enumerate(page.items)]
    return {"product": product_card(s.cards, row), "quality": _quality(s, row), "items": items,
            "paging": {"offset": q.offset, "k": q.k, "next_offset": page.next_offset, "candidates": page.candidates},
            "model_version": s.version}


@endpoint(bp, "/<product_id>/similar", query=schemas.SimilarQuery, response=schemas.SimilarResponse)
def similar(product_id: str, q: schemas.SimilarQuery):
    """Goods closest to this one in the embedding space (quality-gated)."""
    s = serving()
    row = s.product_row(product_id)
    items = [{"product": product_card(s.cards, r), "similarity": round(c, 6)} for r, c in s.ranker.similar(row, q.k)]
    return {"product": product_card(s.cards, row), "items": items, "model_version": s.version}
