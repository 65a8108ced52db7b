"""Every other route: anchor profile, product page, anchors for a good, similar goods, the TOP board, and
the operational routes."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from serve.app import create_app


def get(client, url, **params):
    r = client.get(url, query_string=params)
    assert r.status_code == 200, (url, r.get_json())
    return r.get_json()


def test_anchor_profile_shares_and_stats(client, ids, serving):
    body = get(client, f"/v1/anchors/{ids['anchor']}")
    assert body["anchor"]["fans"] > 0
    assert {"gender", "age_band", "region", "category"} <= set(body["audience"])
    assert sum(s["share"] for s in body["audience"]["gender"]) == pytest.approx(1, abs=1e-3)
    row = serving.model.anchor_ids.lookup(ids["anchor"])
    assert body["stats"]["orders_30d"] == serving.model.anchor_stats["orders_30d"].iloc[row]
    assert all(isinstance(v, int) for k, v in body["stats"].items() if not k.startswith("gmv"))  # counts: 19, not 19.0
    shares = [s["share"] for s in body["audience"]["category"]]
    assert shares == sorted(shares, reverse=True)
    assert [s["label"] for s in body["audience"]["age_band"]] == sorted(serving.model.audience.labels["age_band"])
    assert all(s["share"] > 0 for s in body["audience"]["region"])  # a region no follower lives in is left out
    # the platform's 消费水平 in its own order, low to high, whatever the shares
    levels = body["audience"]["spending_level"]
    assert [s["label"] for s in levels] == [f"消费水平 {k} 级" for k in (1, 2, 3)]
    assert 0.8 < sum(s["share"] for s in levels) < 1  # shares of all followers: those in no level make up the rest


def test_an_anchor_profile_says_whether_it_is_a_new_anchor_as_the_merchant_view_does(client, serving):
    """新人主播 on the anchor's own page as in 达人广场 and the boards: the ranking's rule, for every room."""
    new = serving.ranker.rooms.new
    assert new is not None and new.any() and not new.all()
    for row in [int(np.flatnonzero(new)[0]), int(np.flatnonzero(~new)[0])]:
        body = get(client, f"/v1/anchors/{serving.model.anchor_ids.ids[row]}")
        assert body["new_anchor"] is bool(new[row])


def test_product_page_windows_board_and_promotion(client, ids, serving):
    body = get(client, f"/v1/products/{ids['product']}")
    row = serving.model.product_ids.lookup(ids["product"])
    st = serving.model.product_stats.iloc[row]
    for w in ("1d", "7d", "30d"):
        assert body["windows"][w]["sales"] == st[f"sales_{w}"]
        assert body["windows"][w]["gmv"] == pytest.approx(st[f"gmv_{w}"])
    assert body["windows"]["30d"]["board_rank"] == 1  # the best seller tops its category's board
    assert body["promotion"]["shelf_anchors"] == st["shelf_anchors"]
    assert body["promotion"]["selling_anchors_30d"] == st["anchors_30d"]
    assert body["promotion"]["clicks_30d"] == st["clicks_30d"] > 0  # the snapshot has a click log
    assert body["promotion"]["refund_share_30d"] == pytest.approx(st["refund_share_30d"])
    assert body["quality"] == {"passes_gates": True, "failures": []}


def test_a_good_without_orders_has_no_refund_share_not_zero(client, serving):
    """0% read as "nobody returned it" on the page of a good listed two days ago (probe)."""
    stats = serving.model.product_stats
    unsold = stats.index[stats["orders_30d"].to_numpy() == 0]
    assert len(unsold)
    good = serving.model.product_ids.ids[unsold[0]]
    assert get(client, f"/v1/products/{good}")["promotion"]["refund_share_30d"] is None


def test_product_page_says_why_a_good_is_gated(client, serving):
    row = int(np.flatnonzero(serving.ranker.goods.refund > 0.15)[0])
    pid = serving.model.product_ids.ids[row].item()
    body = get(client, f"/v1/products/{pid}")
    assert not body["quality"]["passes_gates"]
    assert any(f.startswith("refund_rate") for f in body["quality"]["failures"])
    assert all(w["board_rank"] is None for w in body["windows"].values())


def test_board_rank_on_the_page_matches_the_board(client, ids):
    page = get(client, f"/v1/products/{ids['product']}")
    board = get(client, "/v1/rankings/top-sales", window="7d", category=page["product"]["category"], k=200)
    ranks = {it["product"]["product_id"]: it["rank"] for it in board["items"]}
    assert ranks[ids["product"]] == page["windows"]["7d"]["board_rank"]


@pytest.mark.parametrize("window", ["1d", "7d", "30d"])
def test_top_sales_board_is_sorted_gated_and_filtered(client, serving, window):
    body = get(client, "/v1/rankings/top-sales", window=window, k=30)
    sales = [it["sales"] for it in body["items"]]
    assert sales and sales == sorted(sales, reverse=True)
    rows = [serving.model.product_ids.lookup(it["product"]["product_id"]) for it in body["items"]]
    assert serving.ranker.gate[rows].all()
    cat = get(client, "/v1/rankings/top-sales", window=window, category="服装")
    assert {it["product"]["category"] for it in cat["items"]} <= {"服装"}


def test_top_sales_rejects_an_unknown_window(client):
    r = client.get("/v1/rankings/top-sales?window=2d")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "window"


def test_anchors_for_a_product_fit_and_are_quality_gated(client, ids, serving):
    body = get(client, f"/v1/products/{ids['product']}/anchors", k=10)
    assert body["items"] and body["quality"]["passes_gates"] is serving.ranker.gate[
        serving.model.product_ids.lookup(ids["product"])].item()
    rows = [serving.model.anchor_ids.lookup(it["anchor"]["anchor_id"]) for it in body["items"]]
    assert serving.ranker.anchor_gate[rows].all()
    assert all(any(r["code"] == "audience_match" for r in it["reasons"]) for it in body["items"])
    fans = [r for it in body["items"] for r in it["reasons"] if r["code"] == "anchor_fans"]
    assert all(r["value"] == it["anchor"]["fans"] for r, it in zip(fans, body["items"], strict=True))


def test_the_merchant_reads_of_each_anchor_in_the_third_person_and_sees_who_sells_the_good(client, serving):
    """达人广场 is read by the merchant: 其/TA的 粉丝, never 你的; rooms that list the good already are marked."""
    m = serving.model
    sellers = serving.sellers
    good = int(np.argmax(np.diff(sellers[0])))  # the good most rooms list
    body = get(client, f"/v1/products/{m.product_ids.ids[good]}/anchors", k=50)
    texts = [r["text"] for it in body["items"] for r in it["reasons"]]
    assert texts and not any("你" in t for t in texts) and any(t.startswith("TA的粉丝") for t in texts)
    listing = set(sellers[1][sellers[0][good]:sellers[0][good + 1]].tolist())
    marked = [it["on_shelf"] for it in body["items"]]
    assert marked == [m.anchor_ids.lookup(str(it["anchor"]["anchor_id"])) in listing for it in body["items"]]
    assert any(marked)


def test_anchors_for_a_gated_product_say_it_cannot_be_picked(client, serving):
    gated = int(np.flatnonzero(~serving.ranker.gate)[0])
    body = get(client, f"/v1/products/{serving.model.product_ids.ids[gated]}/anchors", k=5)
    assert body["quality"]["passes_gates"] is False
    assert body["quality"]["failures"] == serving.ranker.gate_failures(gated)


def test_anchors_for_a_product_honour_tier_and_min_fans(client, ids):
    body = get(client, f"/v1/products/{ids['product']}/anchors", k=50, min_fans=100)
    assert body["items"] and all(it["anchor"]["fans"] >= 100 for it in body["items"])
    body = get(client, f"/v1/products/{ids['product']}/anchors", k=50, tier="腰部")
    assert body["items"] and {it["anchor"]["tier"] for it in body["items"]} == {"腰部"}


def test_min_fans_includes_the_anchor_with_exactly_that_many_and_the_last_page_has_no_next(client, ids):
    everyone = get(client, f"/v1/products/{ids['product']}/anchors", k=200)["items"]
    fans = sorted({it["anchor"]["fans"] for it in everyone})
    limit = fans[len(fans) // 2]
    body = get(client, f"/v1/products/{ids['product']}/anchors", k=200, min_fans=limit)
    assert limit in {it["anchor"]["fans"] for it in body["items"]}
    assert {it["anchor"]["anchor_id"] for it in body["items"]} == {
        it["anchor"]["anchor_id"] for it in everyone if it["anchor"]["fans"] >= limit}
    n = body["paging"]["candidates"]
    assert n == len(body["items"]) > 3
    for offset, k, more in ((0, n, False), (0, n - 1, True), (2, n - 2, False), (2, n - 3, True)):
        page = get(client, f"/v1/products/{ids['product']}/anchors", k=k, offset=offset, min_fans=limit)
        assert len(page["items"]) == k and page["paging"]["next_offset"] == (offset + k if more else None)


def test_similar_goods_exclude_itself_and_gated_goods(client, ids, serving):
    body = get(client, f"/v1/products/{ids['product']}/similar", k=15)
    found = [it["product"]["product_id"] for it in body["items"]]
    assert len(found) == 15 and ids["product"] not in found
    assert serving.ranker.gate[[serving.model.product_ids.lookup(p) for p in found]].all()
    sims = [it["similarity"] for it in body["items"]]
    assert sims == sorted(sims, reverse=True)


def test_unknown_product_is_404_on_every_product_route(client):
    for suffix in ("", "/anchors", "/similar"):
        r = client.get(f"/v1/products/123/{suffix.lstrip('/')}".rstrip("/"))
        assert r.status_code == 404 and r.get_json()["error"]["field"] == "product_id"


def test_model_health_and_readiness(client, serving):
    body = get(client, "/v1/model")
    assert body["model_version"] == serving.version and body["counts"]["anchors"] == 50
    assert body["ranking"]["max_refund_rate"] == 0.15
    assert get(client, "/healthz") == {"status": "ok"}
    assert get(client, "/readyz") == {"status": "ready"}


def test_readyz_is_503_without_a_model(app):
    saved = app.extensions["xuanpin"]["serving"]
    app.extensions["xuanpin"]["serving"] = None
    try:
        r = app.test_client().get("/readyz")
        assert r.status_code == 503 and r.get_json()["error"]["code"] == "not_ready"
    finally:
        app.extensions["xuanpin"]["serving"] = saved


def test_metrics_expose_latency_per_route_and_the_model(client, ids, serving):
    client.get(f"/v1/anchors/{ids['anchor']}/picks")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'xuanpin_request_duration_seconds_count{method="GET",route="/v1/anchors/<anchor_id>/picks",status="200"}' \
        in text
    assert f'xuanpin_model_info{{version="{serving.version}"}} 1.0' in text
    assert 'xuanpin_model_items{kind="products"} 500.0' in text


def test_the_loaded_model_and_hot_store_are_out_of_the_garbage_collector_s_sight(small_artifact):
    """A full collection walking the catalogue's lists and the hot store's order ids paused every route for
    125-200 ms on the large artifact; after loading they are frozen (gc.freeze), still freed by refcounting."""
    app = create_app({"model": str(small_artifact)})
    s = app.extensions["xuanpin"]["serving"]
    store = app.extensions["xuanpin"]["hot"].store
    assert len(store.seen) > 0  # the bootstrap counted the model's last week
    watched = {id(o) for o in gc.get_objects()}
    assert not [name for name, v in vars(s.cards).items() if isinstance(v, list)]  # cards read mapped columns
    assert id(s.cards.card_memo) not in watched
    assert id(store.room_slots.slots) not in watched and id(store.product_slot) not in watched
    assert gc.get_freeze_count() > 0


def test_paging_never_offers_a_page_deeper_than_the_api_serves():
    from serve.api import paging
    from serve.schemas import MAX_OFFSET

    assert paging(MAX_OFFSET - 200, 200, MAX_OFFSET)["next_offset"] == MAX_OFFSET  # the deepest page is offered
    assert paging(MAX_OFFSET, 200, MAX_OFFSET + 200)["next_offset"] is None  # it would be refused (400)
    assert paging(0, 20, None, candidates=7) == {"offset": 0, "k": 20, "next_offset": None, "candidates": 7}


@pytest.mark.parametrize("path", ["/v1/anchors/{anchor}/picks", "/v1/products", "/v1/products/{product}/anchors",
                                  "/v1/products/{product}/sellers", "/v1/rankings/anchors"])
def test_every_list_route_pages_within_the_deepest_offset(client, ids, monkeypatch, path):
    # with the deepest offset at 1 (it is 10,000), a first page of 2 has no next page on any list
    from serve import schemas

    if "sellers" in path:  # a good that more than two rooms sold
        board = client.get("/v1/rankings/top-sales", query_string={"window": "30d", "k": 50}).get_json()["items"]
        ids = {"product": next(it["product"]["product_id"] for it in board
                               if client.get(f"/v1/products/{it['product']['product_id']}/sellers")
                               .get_json()["paging"]["candidates"] > 2)}
    full = client.get(path.format(**ids), query_string={"k": 2}).get_json()
    assert full["paging"]["next_offset"] == 2, "the small world has more than a page here"
    monkeypatch.setattr(schemas, "MAX_OFFSET", 1)
    assert client.get(path.format(**ids), query_string={"k": 2}).get_json()["paging"]["next_offset"] is None


def test_a_reload_sets_the_version_served_before_to_0_rather_than_clearing_it():
    """Under gunicorn each worker's gauges are files that clear() leaves alone: the old version is set to 0, so
    `xuanpin_model_info == 1` is the version each worker serves, after any number of reloads."""
    from serve.metrics import Metrics

    metrics = Metrics()
    counts = {"anchors": 1, "fans": 2, "products": 3}
    metrics.model_loaded("v1", counts)
    metrics.model_loaded("v2", counts)
    metrics.model_loaded("v2", counts)  # the same version again (a retry): still 1
    text = metrics.render().decode()
    assert 'xuanpin_model_info{version="v1"} 0.0' in text and 'xuanpin_model_info{version="v2"} 1.0' in text
