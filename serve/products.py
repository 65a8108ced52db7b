"""/v1/products: a good's page (statistics, board rank, promotion data), similar goods, and the anchors
that fit it (the merchant's 达人广场 view)."""

from __future__ import annotations

from flask import Blueprint

from serve import schemas
from serve.api import endpoint, known
from serve.present import anchor_summary, beijing, plain, product_card
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
        "created_at": beijing(s.model.products.iloc[row]["created_at"]),
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


@endpoint(bp, "/<product_id>/anchors", query=schemas.ProductAnchorsQuery, response=schemas.ProductAnchorsResponse,
          csv="items")
def anchors(product_id: str, q: schemas.ProductAnchorsQuery):
    """Anchors whose audience fits a good and who sell its category, with reasons."""
    s = serving()
    row = s.product_row(product_id)
    page = s.ranker.anchors_for(row, q.k, q.offset, known(q.tier, s.ranker.tiers, "tier"), q.min_fans)
    items = [{"rank": q.offset + i + 1, "anchor": anchor_summary(s.cards, it["anchor"]), "score": it["score"],
              "breakdown": it["breakdown"], "reasons": it["reasons"], "on_shelf": it["on_shelf"]}
             for i, it in enumerate(page.items)]
    return {"product": product_card(s.cards, row), "quality": _quality(s, row), "items": items,
            "paging": {"offset": q.offset, "k": q.k, "next_offset": page.next_offset, "candidates": page.candidates},
            "model_version": s.version}


@endpoint(bp, "/<product_id>/similar", query=schemas.SimilarQuery, response=schemas.SimilarResponse, csv="items")
def similar(product_id: str, q: schemas.SimilarQuery):
    """Goods closest to this one in the embedding space (quality-gated)."""
    s = serving()
    row = s.product_row(product_id)
    items = [{"product": product_card(s.cards, r), "similarity": round(c, 6)} for r, c in s.ranker.similar(row, q.k)]
    return {"product": product_card(s.cards, row), "items": items, "model_version": s.version}
