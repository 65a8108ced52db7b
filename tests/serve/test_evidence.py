"""A good's evidence over HTTP: its shop line and stock warning, its 30-day trend by Beijing day and the rooms
that sold it by GMV, each compared with the snapshot's own orders (pandas, independently of the core)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from recommender.contract import load_snapshot
from serve.app import create_app


@pytest.fixture(scope="module")
def market(small_snapshot):
    return load_snapshot(small_snapshot)


@pytest.fixture(scope="module")
def window(market) -> tuple[pd.DataFrame, list[str]]:
    """Unrefunded orders of the 30 Beijing dates up to the snapshot's, with each order's Beijing date."""
    def beijing(times: pd.Series) -> pd.Series:
        return times.dt.tz_localize("UTC").dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m-%d")

    last = pd.Timestamp(beijing(pd.Series([market.snapshot_time]))[0])
    dates = [str((last - pd.Timedelta(days=d)).date()) for d in range(29, -1, -1)]
    o = market.purchases.assign(date=beijing(market.purchases["ordered_at"]))
    return o[o["date"].isin(dates)], dates


@pytest.fixture(scope="module")
def seller_table(window, market) -> pd.DataFrame:
    """Per (good, room) of the window: orders, units, GMV, buyers and buyers who follow the room."""
    o, _ = window
    follows = set(zip(market.follows["fan"], market.follows["anchor"], strict=True))
    o = o.assign(follower=[(f, a) in follows for f, a in zip(o["fan"], o["anchor"], strict=True)])
    t = o.groupby(["product", "anchor"]).agg(orders=("order_id", "size"), sales=("quantity", "sum"),
                                             gmv=("amount", "sum"), buyers=("fan", "nunique")).reset_index()
    fan_buyers = o[o["follower"]].groupby(["product", "anchor"])["fan"].nunique()
    t["fan_buyers"] = [int(fan_buyers.get(k, 0)) for k in zip(t["product"], t["anchor"], strict=True)]
    t["gmv"] = t["gmv"].round(2)
    t["fans"] = np.bincount(market.follows["anchor"], minlength=len(market.anchor_ids))[t["anchor"]]
    t["anchor_id"] = market.anchor_ids.ids[t["anchor"]].astype(np.int64)
    t["tier"] = market.anchors["tier"].to_numpy()[t["anchor"]]
    return t


@pytest.fixture(scope="module")
def busy(seller_table, market) -> int:
    """The good sold by the most rooms in the window (its product id)."""
    return int(market.product_ids.ids[seller_table.groupby("product").size().idxmax()])


def product_row(market, product_id: int) -> int:
    return int(market.product_ids.index(np.array([product_id]))[0])


def test_the_detail_carries_the_shop_line_from_the_snapshot(client, market, ids):
    body = client.get(f"/v1/products/{ids['product']}").get_json()
    p = market.products.iloc[product_row(market, ids["product"])]
    assert body["shop"] == {"merchant_id": int(p["merchant_id"]), "merchant_name": p["merchant_name"],
                            "shop_rating": float(p["shop_rating"]), "merchant_gmv_30d": float(p["merchant_gmv_30d"]),
                            "merchant_violations": int(p["merchant_violations"])}
    assert body["product"]["merchant_name"] == p["merchant_name"]
    created = pd.Timestamp(body["created_at"])
    assert body["created_at"].endswith("+08:00") and created.tz_convert("UTC").tz_localize(None) == p["created_at"]


def test_a_good_whose_stock_is_below_its_last_weeks_sales_is_flagged_low(client, serving):
    stock = serving.model.products["stock"].to_numpy(float)
    sold = serving.model.product_stats["sales_7d"].to_numpy()
    low = int(np.flatnonzero((stock < sold) & (stock > 0))[0])
    plenty = int(np.flatnonzero((stock >= sold) & (sold > 0))[0])
    for row, flagged in ((low, True), (plenty, False)):
        pid = serving.model.product_ids.ids[row].item()
        status = client.get(f"/v1/products/{pid}").get_json()["stock"]
        assert status["low_stock"] is flagged
        assert status["stock"] == int(stock[row]) and status["sales_7d"] == int(sold[row])
        assert status["days_of_stock"] == pytest.approx(stock[row] / (sold[row] / 7), abs=0.05)
    idle = int(np.flatnonzero(sold == 0)[0])
    status = client.get(f"/v1/products/{serving.model.product_ids.ids[idle].item()}").get_json()["stock"]
    assert status["low_stock"] is False and status["days_of_stock"] is None


def test_the_trend_is_every_beijing_day_of_the_window_as_the_orders_say(client, window, busy):
    o, dates = window
    body = client.get(f"/v1/products/{busy}/trend").get_json()
    assert body["timezone"] == "Asia/Shanghai" and body["as_of"].endswith("+08:00")
    assert body["as_of"][:10] == dates[-1]
    mine = o[o["product_id"] == busy].groupby("date")
    assert [d["date"] for d in body["days"]] == dates
    assert [d["orders"] for d in body["days"]] == [int(mine.size().get(d, 0)) for d in dates]
    assert [d["sales"] for d in body["days"]] == [int(mine["quantity"].sum().get(d, 0)) for d in dates]
    np.testing.assert_allclose([d["gmv"] for d in body["days"]],
                               [mine["amount"].sum().get(d, 0.0) for d in dates], atol=0.006)
    assert body["totals"]["orders"] == sum(d["orders"] for d in body["days"])
    assert body["totals"]["gmv"] == pytest.approx(sum(d["gmv"] for d in body["days"]), abs=0.01)


def test_the_trend_of_the_last_days_is_the_tail_of_the_month(client, busy):
    month = client.get(f"/v1/products/{busy}/trend").get_json()["days"]
    week = client.get(f"/v1/products/{busy}/trend?days=7").get_json()
    assert week["days"] == month[-7:]
    assert week["totals"]["sales"] == sum(d["sales"] for d in month[-7:])
    assert len(client.get(f"/v1/products/{busy}/trend?days=1").get_json()["days"]) == 1


def test_a_good_that_never_sold_has_a_flat_trend_and_no_sellers(client, serving):
    row = int(np.flatnonzero(serving.model.product_stats["sales_30d"].to_numpy() == 0)[0])
    pid = serving.model.product_ids.ids[row].item()
    days = client.get(f"/v1/products/{pid}/trend").get_json()["days"]
    assert len(days) == 30 and not any(d["orders"] or d["sales"] or d["gmv"] for d in days)
    body = client.get(f"/v1/products/{pid}/sellers").get_json()
    assert body["items"] == [] and body["sellers_total"] == 0 and body["paging"]["next_offset"] is None


def shown(body: dict) -> list[int]:
    return [it["anchor"]["anchor_id"] for it in body["items"]]


def test_sellers_are_the_rooms_that_sold_it_by_gmv_with_their_figures(client, seller_table, market, busy):
    want = seller_table[seller_table["product"] == product_row(market, busy)]
    want = want.sort_values(["gmv", "anchor"], ascending=[False, True])
    body = client.get(f"/v1/products/{busy}/sellers?k=200").get_json()
    assert body["sellers_total"] == len(want) and body["paging"]["candidates"] == len(want)
    assert body["window"]["timezone"] == "Asia/Shanghai" and body["window"]["days"] == 30
    assert shown(body) == want["anchor_id"].tolist()
    for item, (_, row) in zip(body["items"], want.iterrows(), strict=True):
        assert (item["orders"], item["sales"], item["buyers"], item["fan_buyers"]) == (
            row["orders"], row["sales"], row["buyers"], row["fan_buyers"])
        assert item["gmv"] == pytest.approx(row["gmv"], abs=0.006)
        assert item["anchor"]["fans"] == row["fans"]
        assert item["conversion"] == pytest.approx(row["fan_buyers"] / row["fans"] if row["fans"] else 0, abs=1e-6)
    assert [it["rank"] for it in body["items"]] == [it["gmv_rank"] for it in body["items"]] == \
        list(range(1, len(want) + 1))


@pytest.mark.parametrize("sort, field", [("orders", "orders"), ("sales", "sales"), ("conversion", "conversion"),
                                         ("fans", None)])
def test_sellers_sort_descending_with_ties_by_gmv_rank(client, busy, sort, field):
    body = client.get(f"/v1/products/{busy}/sellers?k=200&sort={sort}").get_json()
    assert body["sort"] == sort
    key = [(-(it[field] if field else it["anchor"]["fans"]), it["gmv_rank"]) for it in body["items"]]
    assert key == sorted(key) and len(key) == body["sellers_total"]


def test_sellers_filter_by_tier_and_fans(client, seller_table, market, busy):
    mine = seller_table[seller_table["product"] == product_row(market, busy)]
    tier = mine["tier"].mode()[0]
    body = client.get(f"/v1/products/{busy}/sellers", query_string={"tier": tier, "k": 200}).get_json()
    assert sorted(shown(body)) == sorted(mine.loc[mine["tier"] == tier, "anchor_id"].tolist())
    assert body["paging"]["candidates"] == len(body["items"]) < body["sellers_total"]
    floor = int(mine["fans"].median())
    body = client.get(f"/v1/products/{busy}/sellers?k=200&min_fans={floor}").get_json()
    assert sorted(shown(body)) == sorted(mine.loc[mine["fans"] >= floor, "anchor_id"].tolist())
    unknown = client.get(f"/v1/products/{busy}/sellers?tier=没有这层")  # a typo must not read as "nobody sells it"
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "tier"
    assert tier in unknown.get_json()["error"]["message"]


def test_seller_pages_are_slices_of_one_order(client, busy):
    whole = client.get(f"/v1/products/{busy}/sellers?k=4&sort=orders").get_json()
    first = client.get(f"/v1/products/{busy}/sellers?k=2&sort=orders").get_json()
    second = client.get(f"/v1/products/{busy}/sellers?k=2&offset=2&sort=orders").get_json()
    assert shown(first) + shown(second) == shown(whole)
    assert first["paging"]["next_offset"] == 2 and [it["rank"] for it in second["items"]] == [3, 4]


def test_only_the_kept_biggest_sellers_are_listed(small_artifact, small_snapshot, tmp_path, busy):
    """A model trained to keep 2 rooms per good lists those 2 and still counts every seller."""
    from training.config import TrainConfig
    from training.trainer import train

    full = create_app({"model": str(small_artifact)}).test_client().get(f"/v1/products/{busy}/sellers").get_json()
    config = TrainConfig.model_validate({"evidence": {"top_sellers": 2}, "audience_fit": {"enabled": False}})
    path = train(small_snapshot, tmp_path / "kept2", config)
    body = create_app({"model": str(path)}).test_client().get(f"/v1/products/{busy}/sellers?sort=fans").get_json()
    assert body["kept"] == 2 and body["sellers_total"] == full["sellers_total"] > 2
    assert sorted(shown(body)) == sorted(shown(full)[:2])


@pytest.mark.parametrize("query, field", [("days=0", "days"), ("days=31", "days"), ("days=abc", "days"),
                                          ("day=7", "day")])
def test_a_bad_trend_query_is_a_400_naming_the_field(client, busy, query, field):
    r = client.get(f"/v1/products/{busy}/trend?{query}")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == field


@pytest.mark.parametrize("query, field", [("k=0", "k"), ("k=201", "k"), ("offset=-1", "offset"),
                                          ("sort=price", "sort"), ("min_fans=-5", "min_fans"), ("tier=", "tier"),
                                          ("order=desc", "order")])
def test_a_bad_sellers_query_is_a_400_naming_the_field(client, busy, query, field):
    r = client.get(f"/v1/products/{busy}/sellers?{query}")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == field


@pytest.mark.parametrize("route", ["trend", "sellers"])
def test_an_unknown_good_is_a_404(client, route):
    r = client.get(f"/v1/products/no-such-good/{route}")
    assert r.status_code == 404 and r.get_json()["error"]["field"] == "product_id"


def test_a_model_without_evidence_says_so_with_a_404(small_artifact, tmp_path, busy):
    """An artifact of format 7 (before the evidence files) serves everything else; its evidence routes say why."""
    from tests.recommender.artifact.conftest import Editable

    old = Editable(shutil.copytree(small_artifact, tmp_path / "format7"))
    old.as_format_7(7)
    client = create_app({"model": str(old.path)}).test_client()
    for route in ("trend", "sellers"):
        r = client.get(f"/v1/products/{busy}/{route}")
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_evidence"
        assert "format 7" in r.get_json()["error"]["message"]
    assert client.get(f"/v1/products/{busy}").status_code == 200
