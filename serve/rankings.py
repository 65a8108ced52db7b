"""/v1/rankings: the selection center's TOP sales board."""

from __future__ import annotations

from flask import Blueprint

from serve import schemas
from serve.api import endpoint, known
from serve.present import product_card
from serve.state import serving

bp = Blueprint("rankings", __name__, url_prefix="/v1/rankings")


@endpoint(bp, "/top-sales", query=schemas.TopSalesQuery, response=schemas.TopSalesResponse, errors=(503,),
          csv="items")
def top_sales(q: schemas.TopSalesQuery):
    """TOP sales board over 1, 7 or 30 days, platform-wide or for one category (quality-gated)."""
    s = serving()
    window = int(q.window.rstrip("d"))
    st = s.model.product_stats
    rows = s.ranker.top_sales(window, q.k, known(q.category, s.ranker.categories, "category"))
    items = [{"rank": i + 1, "product": product_card(s.cards, r), "sales": int(st[f"sales_{window}d"].iloc[r]),
              "gmv": float(st[f"gmv_{window}d"].iloc[r])} for i, r in enumerate(rows)]
    return {"window": q.window, "category": q.category, "items": items, "model_version": s.version}
