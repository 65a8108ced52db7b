"""/v1/rankings: the selection center's TOP sales board and the anchor boards (达人带货榜)."""

from __future__ import annotations

from flask import Blueprint

from recommender.ranking import audience_line
from serve import schemas
from serve.api import ApiError, endpoint, known, paging
from serve.present import anchor_summary, product_card
from serve.state import serving

bp = Blueprint("rankings", __name__, url_prefix="/v1/rankings")


@endpoint(bp, "/top-sales", query=schemas.TopSalesQuery, response=schemas.TopSalesResponse, errors=(503,),
          csv="items")
def top_sales(q: schemas.TopSalesQuery):
    """TOP sales board over 1, 7 or 30 days, platform-wide or for one category (quality-gated)."""
    s = serving()
    window = int(q.window.rstrip("d"))
    st = s.model.columns.product_stats
    sales, gmv = st[f"sales_{window}d"], st[f"gmv_{window}d"]
    rows = s.ranker.top_sales(window, q.k, known(q.category, s.ranker.categories, "category"))
    items = [{"rank": i + 1, "product": product_card(s.cards, r), "sales": int(sales[r]), "gmv": float(gmv[r])}
             for i, r in enumerate(rows)]
    return {"window": q.window, "category": q.category, "items": items, "model_version": s.version}


@endpoint(bp, "/anchors", query=schemas.AnchorBoardQuery, response=schemas.AnchorBoardResponse, errors=(503,),
          csv="items")
def anchor_board(q: schemas.AnchorBoardQuery):
    """Anchors by GMV or orders over 1, 7 or 30 days, overall or in one category; new=true: the new-anchor board."""
    s = serving()
    rooms = s.ranker.rooms
    known(q.category, s.ranker.goods.categories, "category")
    known(q.tier, rooms.tiers, "tier")
    page = s.ranker.anchor_board(int(q.window.rstrip("d")), q.metric, q.category, q.tier, q.new, q.k, q.offset)
    if page is None:
        raise ApiError(503, "not_available", "the loaded model has no anchor boards (artifact format before 8: "
                       "retrain)")
    lines = audience_line(rooms, page.rows)
    new = rooms.new[page.rows].tolist() if rooms.new is not None else [False] * len(page.rows)
    items = [{"rank": rank, "anchor": anchor_summary(s.cards, row), "gmv": round(gmv, 2), "orders": orders,
              "fans": s.cards.anchor_fans(row), "new_anchor": is_new, "audience": line}
             for rank, row, gmv, orders, is_new, line in zip(page.rank.tolist(), page.rows.tolist(),
                                                              page.gmv.tolist(), page.orders.tolist(), new, lines,
                                                              strict=True)]
    return {"window": q.window, "metric": q.metric, "category": q.category, "tier": q.tier, "new": q.new,
            "items": items, "paging": paging(q.offset, q.k, page.next_offset, candidates=page.total),
            "model_version": s.version}
