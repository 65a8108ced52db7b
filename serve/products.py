"""/v1/products: product search (商品搜索), a good's page (statistics, board rank, promotion data, shop, stock),
its evidence (daily trend and sellers by GMV), similar goods, and the anchors that fit it (the merchant's 达人广场
view)."""

from __future__ import annotations

import numpy as np
from flask import Blueprint

from recommender.catalogue import Catalogue, ProductQuery
from recommender.evidence import Evidence, beijing_time
from recommender.ranking import AnchorFilters, audience_line
from serve import schemas
from serve.api import ApiError, endpoint, known, paging
from serve.present import anchor_summary, beijing, plain, product_card, product_cards, shop
from serve.state import PerModel, Serving, serving

bp = Blueprint("products", __name__, url_prefix="/v1/products")

#: the model's search columns, built once (the app builds them as it loads a model: 0.02 s for 500 goods, 0.7-1.1 s
#: for 100k); dropped with the model after a reload
catalogue: PerModel[Catalogue] = PerModel(Catalogue.from_model)


@endpoint(bp, "", query=schemas.ProductSearchQuery, response=schemas.ProductSearchResponse, errors=(503,), csv="items")
def search(q: schemas.ProductSearchQuery):
    """Goods by keyword (title or brand), filters and sort, a page at a time (every good, gated or not)."""
    s = serving()
    cat = catalogue(s.model)
    known(q.category, cat.categories, "category")
    gate = s.ranker.gate
    within = None if q.passes_gates is None else gate if q.passes_gates else ~gate
    query = ProductQuery(q=q.q.strip() if q.q else None, category=q.category, price_min=q.price_min,
                         price_max=q.price_max, commission_min=q.commission_min, min_sales_7d=q.min_sales_7d,
                         max_refund_rate=q.max_refund_rate, brand=q.brand, merchant=q.merchant, sort=q.sort,
                         order=q.order, within=within)
    page = cat.search(query, q.k, q.offset)
    rows = page.rows.tolist()
    items = [{"rank": q.offset + i + 1, "product": card, "orders_7d": int(cat.orders_7d[r]),
              "baseline_orders_7d": float(cat.baseline_7d[r]), "growth_7d": float(cat.growth_7d[r]),
              "passes_gates": bool(gate[r])}
             for i, (r, card) in enumerate(zip(rows, product_cards(s.cards, rows), strict=True))]
    return {"query": query.q, "sort": page.sort, "order": page.order, "total": page.total, "items": items,
            "paging": paging(q.offset, q.k, page.next_offset), "model_version": s.version}


@endpoint(bp, "/<product_id>", response=schemas.ProductDetail)
def detail(product_id: str, q: schemas.NoQuery):
    """A good with its sales over 1/7/30 days, TOP board rank, promotion data, shop and stock."""
    s = serving()
    row = s.product_row(product_id)
    st = s.model.columns.product_stats.row(row)
    stock, sales_7d = s.cards.stock(row), int(st["sales_7d"])
    windows = {}
    for w in (1, 7, 30):
        rank = int(s.ranker.board_rank[w][row])
        windows[f"{w}d"] = {"sales": int(st[f"sales_{w}d"]), "gmv": float(st[f"gmv_{w}d"]),
                            "orders": int(st[f"orders_{w}d"]), "anchors": int(st[f"anchors_{w}d"]),
                            "board_rank": rank or None}
    return {
        "product": product_card(s.cards, row),
        "created_at": beijing(s.model.columns.products.value("created_at", row)),
        "windows": windows,
        "promotion": {"shelf_anchors": int(st["shelf_anchors"]), "selling_anchors_30d": int(st["anchors_30d"]),
                      "anchor_conversion_30d": plain(st["anchor_conversion_30d"]), "gmv_30d": float(st["gmv_30d"]),
                      "buyers_30d": int(st["buyers_30d"]),
                      # no order in 30 days: no share of refunds, not "0% refunded"
                      "refund_share_30d": float(st["refund_share_30d"]) if int(st["orders_30d"]) else None,
                      "clicks_30d": int(st["clicks_30d"]) if "clicks_30d" in st else None},
        "shop": shop(s.cards, row),
        "stock": {"stock": stock, "sales_7d": sales_7d, **s.cards.stock_state(row)},
        "quality": _quality(s, row),
        "model_version": s.version,
    }


def _evidence(s: Serving) -> Evidence:
    if s.model.evidence is None:
        raise ApiError(404, "no_evidence", f"model {s.version} (format {s.model.manifest['format_version']}) keeps "
                       "no daily sales or sellers; a model trained by this version does")
    return s.model.evidence


@endpoint(bp, "/<product_id>/trend", query=schemas.TrendQuery, response=schemas.TrendResponse, csv="days")
def trend(product_id: str, q: schemas.TrendQuery):
    """A good's daily orders, units and GMV over the last 30 Beijing days (Asia/Shanghai), zeros included."""
    s = serving()
    row = s.product_row(product_id)
    t = _evidence(s).trend(row, q.days)
    days = [{"date": d, "orders": o, "sales": u, "gmv": g} for d, o, u, g in
            zip(t["dates"], t["orders"].tolist(), t["units"].tolist(), t["gmv"].tolist(), strict=True)]
    totals = t["totals"]
    return {"product": product_card(s.cards, row), "timezone": "Asia/Shanghai",
            "as_of": beijing_time(s.model.snapshot_time), "days": days,
            "totals": {"orders": totals["orders"], "sales": totals["units"], "gmv": totals["gmv"]},
            "model_version": s.version}


@endpoint(bp, "/<product_id>/sellers", query=schemas.SellersQuery, response=schemas.SellersResponse, csv="items")
def sellers(product_id: str, q: schemas.SellersQuery):
    """The rooms that sold a good in the last 30 Beijing days, by GMV (or orders, units, conversion, fans)."""
    s = serving()
    row = s.product_row(product_id)
    ev = _evidence(s)
    rooms = s.ranker.rooms
    known(q.tier, rooms.tiers, "tier")
    page = ev.seller_page(row, rooms.fans, rooms.tier, sort=q.sort, k=q.k, offset=q.offset, tier_is=q.tier,
                          min_fans=q.min_fans)
    items = [{"rank": q.offset + i + 1, "gmv_rank": gr, "anchor": anchor_summary(s.cards, a), "orders": o,
              "sales": u, "gmv": g, "buyers": b, "fan_buyers": fb, "conversion": round(c, 6)}
             for i, (a, gr, o, u, g, b, fb, c) in enumerate(zip(
                 page.rows.tolist(), page.gmv_rank.tolist(), page.orders.tolist(), page.units.tolist(),
                 page.gmv.tolist(), page.buyers.tolist(), page.fan_buyers.tolist(), page.conversion.tolist(),
                 strict=True))]
    entry = ev.entry
    return {"product": product_card(s.cards, row),
            "window": {"timezone": entry["timezone"], "first_day": entry["first_day"], "last_day": entry["last_day"],
                       "days": ev.days},
            "sort": q.sort, "items": items,
            "paging": paging(q.offset, q.k, q.offset + q.k if page.matched > q.offset + q.k else None,
                             candidates=page.matched),
            "sellers_total": page.total, "kept": int(entry["top_sellers"]), "model_version": s.version}


def _quality(s: Serving, row: int) -> dict:
    failures = s.ranker.gate_failures(row)
    return {"passes_gates": not failures, "failures": failures}


@endpoint(bp, "/<product_id>/anchors", query=schemas.ProductAnchorsQuery, response=schemas.ProductAnchorsResponse,
          csv="items")
def anchors(product_id: str, q: schemas.ProductAnchorsQuery):
    """Anchors where a good would sell the most if shelved (达人广场), with reasons; one room in every
    ranking.new_anchor_every is kept for a 新人主播 (扶持)."""
    s = serving()
    row = s.product_row(product_id)
    rooms = s.ranker.rooms
    known(q.tier, rooms.tiers, "tier")
    for dim in ("gender", "age_band", "region"):
        known(getattr(q, dim), rooms.audience_labels.get(dim, []), dim)
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
            "paging": paging(q.offset, q.k, page.next_offset, candidates=page.candidates),
            "model_version": s.version}


@endpoint(bp, "/<product_id>/similar", query=schemas.SimilarQuery, response=schemas.SimilarResponse, csv="items")
def similar(product_id: str, q: schemas.SimilarQuery):
    """Goods closest to this one in the embedding space (quality-gated)."""
    s = serving()
    row = s.product_row(product_id)
    items = [{"product": product_card(s.cards, r), "similarity": round(c, 6)} for r, c in s.ranker.similar(row, q.k)]
    return {"product": product_card(s.cards, row), "items": items, "model_version": s.version}
