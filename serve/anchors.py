"""/v1/anchors: an anchor's audience profile, and product picks for its shelf (选品)."""

from __future__ import annotations

import numpy as np
from flask import Blueprint

from recommender.ranking import PickFilters
from serve import schemas
from serve.api import endpoint, known, paging
from serve.present import anchor_encoded, anchor_summary, beijing, pick_items, plain
from serve.state import serving

bp = Blueprint("anchors", __name__, url_prefix="/v1/anchors")


@endpoint(bp, "/<anchor_id>/picks", query=schemas.PicksQuery, response=schemas.PicksResponse,
          csv="items")
def picks(anchor_id: str, q: schemas.PicksQuery):
    """Goods for an anchor's shelf, best first, with score breakdown and reasons."""
    s = serving()
    row = s.anchor_row(anchor_id)
    category = known(q.category, s.ranker.categories, "category")
    filters = PickFilters(category, q.price_min, q.price_max, q.commission_min, q.exclude_shelf,
                          new_goods=q.new_goods)
    page = s.ranker.picks(row, q.k, q.offset, filters)
    return {"anchor": anchor_encoded(s.cards, row), "items": pick_items(s.cards, page.items, q.offset + 1),
            "paging": paging(q.offset, q.k, page.next_offset, candidates=page.candidates),
            "model_version": s.version}


def _shares(labels: list[str], values: np.ndarray, top: int | None = None, ordered: bool = False) -> list[dict]:
    """Largest first, or in the labels' own order (`ordered`: age bands, spending levels, low to high); a `top`
    list (regions) leaves out labels no follower has."""
    order = np.arange(len(values)) if ordered else np.argsort(-values, kind="stable")
    if top:
        order = order[values[order] > 0][:top]
    return [{"label": labels[i], "share": round(float(values[i]), 4)} for i in order]


@endpoint(bp, "/<anchor_id>", response=schemas.AnchorProfile)
def profile(anchor_id: str, q: schemas.NoQuery):
    """An anchor's audience profile (gender, age, region, spending level, category shares), tier and sales
    statistics."""
    s = serving()
    row = s.anchor_row(anchor_id)
    aud = s.model.audience
    audience = {dim: _shares(aud.labels[dim], np.asarray(aud.shares[dim][row]), 10 if dim == "region" else None,
                             ordered=dim in ("age_band", "spending_level"))
                for dim in aud.shares}
    a = s.model.columns.anchors.row(row)
    # counts as integers, money (GMV) as yuan: the columns hold them as int64 and float64
    stats = {k: None if v is None else plain(v) for k, v in s.model.columns.anchor_stats.row(row).items()}
    return {
        "anchor": anchor_summary(s.cards, row),
        "shop_rating": plain(a.get("shop_rating")),
        "violations": None if a.get("violations") is None else int(a["violations"]),  # held as a float (NaN: none)
        "created_at": beijing(a["created_at"]),
        "buyers_30d": int(aud.buyers_30d[row]),
        "new_anchor": bool(s.ranker.rooms.new[row]) if s.ranker.rooms.new is not None else False,
        "audience": audience,
        "stats": stats,
        "model_version": s.version,
    }
