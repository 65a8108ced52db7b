"""The quality gates as the routes apply them, each gate alone, checked against the snapshot's raw columns and
never against the ranker's own gate arrays (the code under test).

The catalogue is the small marketplace with planted cases: best sellers that fail exactly one gate (and pass
every other), best sellers sitting exactly on every limit (which pass: the limits are inclusive), the biggest
room rated just below the anchor gate and one with too many violations, and rooms exactly on the anchor limits.
Were a gate dropped or its comparison loosened or tightened, a planted good would reach a page or a board (its
category and price narrow the picks to a handful of goods), or a room on the limit would vanish."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from flask.testing import FlaskClient

from fixtures.marketplace import Generated, write_marketplace
from serve.app import create_app
from training.trainer import train

# the service's default limits, written out: a good passes at refund <= 0.15, shop rating >= 4.0, violations <= 2
# and stock > 0; an anchor at rating >= 4.0 and violations <= 3
GOOD_FAILS = {"violations": {"merchant_violations": 3}, "shop_rating": {"shop_rating": 3.9},
              "refund": {"refund_rate": 0.16}, "stock": {"stock": 0},
              "price": {"price": 999_999.0}}  # a placeholder: over 10x the most its buyers paid per unit in 30 days
GOOD_AT_LIMITS = {"merchant_violations": 2, "shop_rating": 4.0, "refund_rate": 0.15, "stock": 1}
GOOD_CLEAN = {"merchant_violations": 0, "shop_rating": 4.8, "refund_rate": 0.01, "stock": 100}
ANCHOR_FAILS = {"rating": {"shop_rating": 3.9}, "violations": {"violations": 4}}
ANCHOR_AT_LIMITS = {"shop_rating": 4.0, "violations": 3}
ANCHOR_CLEAN = {"shop_rating": 4.8, "violations": 0}


@dataclasses.dataclass
class Planted:
    client: FlaskClient
    products: pd.DataFrame  # the raw products table, by product_id (as strings)
    anchors: pd.DataFrame
    goods: dict[str, str]  # gate name (or "at_limits") -> product_id
    rooms: dict[str, str]  # gate name (or "at_limits") -> anchor_id


def passes_goods_gates(row: pd.Series) -> bool:
    """`paid_max` and `paid_min`: the most and least paid per unit in the orders' last 30 days (NaN: under 3
    units), from the raw orders."""
    placeholder = row["price"] > 10 * row["paid_max"] or row["price"] * 10 < row["paid_min"]  # NaN: False
    return bool(row["refund_rate"] <= 0.15 and row["shop_rating"] >= 4.0 and row["merchant_violations"] <= 2
                and row["stock"] > 0 and not placeholder)


def passes_anchor_gates(row: pd.Series) -> bool:
    return bool(row["shop_rating"] >= 4.0 and row["violations"] <= 3)


@pytest.fixture(scope="module")
def planted(tmp_path_factory, small_generated: Generated) -> Planted:
    gen = small_generated
    products, anchors = gen.products.copy(), gen.anchors.copy()
    products["product_id"] = products["product_id"].astype(str)
    anchors["anchor_id"] = anchors["anchor_id"].astype(str)
    orders = gen.orders.assign(product_id=gen.orders["product_id"].astype(str),
                               anchor_id=gen.orders["anchor_id"].astype(str))
    recent = orders[orders["ordered_at"] >= orders["ordered_at"].max() - pd.Timedelta(days=6)]
    # best sellers of the last week, each in a category of its own among the planted goods
    sellers = recent["product_id"].value_counts().index
    category = products.set_index("product_id")["category"]
    chosen: list[str] = []
    for pid in sellers:
        if category[pid] not in {category[c] for c in chosen}:
            chosen.append(pid)
        if len(chosen) == len(GOOD_FAILS) + 1:
            break
    goods = dict(zip([*GOOD_FAILS, "at_limits"], chosen, strict=True))
    for name, pid in goods.items():
        values = {**GOOD_CLEAN, **GOOD_FAILS.get(name, GOOD_AT_LIMITS if name == "at_limits" else {})}
        products.loc[products["product_id"] == pid, list(values)] = list(values.values())
    biggest = orders["anchor_id"].value_counts().index[: len(ANCHOR_FAILS) + 1]
    rooms = dict(zip([*ANCHOR_FAILS, "at_limits"], biggest, strict=True))
    for name, aid in rooms.items():
        values = {**ANCHOR_CLEAN, **ANCHOR_FAILS.get(name, ANCHOR_AT_LIMITS if name == "at_limits" else {})}
        anchors.loc[anchors["anchor_id"] == aid, list(values)] = list(values.values())
    base = tmp_path_factory.mktemp("gates")
    snapshot = write_marketplace(dataclasses.replace(gen, products=products, anchors=anchors), base / "snapshot")
    artifact = train(snapshot, base / "artifact")
    client = create_app({"model": str(Path(artifact))}).test_client()
    month = orders[(orders["ordered_at"] > orders["ordered_at"].max() - pd.Timedelta(days=30)) & ~orders["refunded"]]
    unit = month.assign(unit=month["amount"] / month["quantity"]).groupby("product_id")
    paid = unit["unit"].agg(["max", "min"]).where(unit["quantity"].sum() >= 3)
    products = products.set_index("product_id")
    products["paid_max"], products["paid_min"] = paid["max"], paid["min"]
    return Planted(client, products, anchors.set_index("anchor_id"), goods, rooms)


def get(client: FlaskClient, url: str, **params) -> dict:
    r = client.get(url, query_string=params)
    assert r.status_code == 200, (url, r.get_json())
    return r.get_json()


def picks_narrowed_to(world: Planted, anchor: str, product: str) -> set[str]:
    """Every pick of the room among the goods of the product's category and price (a handful)."""
    row = world.products.loc[product]
    body = get(world.client, f"/v1/anchors/{anchor}/picks", k=200, category=row["category"],
               price_min=float(row["price"]), price_max=float(row["price"]))
    assert body["paging"]["next_offset"] is None
    return {str(it["product"]["product_id"]) for it in body["items"]}


@pytest.mark.parametrize("gate", list(GOOD_FAILS))
def test_a_good_failing_one_gate_alone_is_never_picked(planted: Planted, gate: str):
    bad, fine = planted.goods[gate], planted.goods["at_limits"]
    clean_room = planted.anchors.index[0]
    for anchor in (clean_room, planted.rooms["at_limits"]):
        assert bad not in picks_narrowed_to(planted, anchor, bad)
        assert fine in picks_narrowed_to(planted, anchor, fine)  # on every limit: still picked
        page = get(planted.client, f"/v1/anchors/{anchor}/picks", k=200)["items"]
        assert all(passes_goods_gates(planted.products.loc[str(it["product"]["product_id"])]) for it in page)


@pytest.mark.parametrize("gate", list(GOOD_FAILS))
@pytest.mark.parametrize("window", ["1d", "7d", "30d"])
def test_a_good_failing_one_gate_alone_is_never_on_a_board(planted: Planted, gate: str, window: str):
    bad = planted.goods[gate]
    category = planted.products.loc[bad, "category"]
    board = get(planted.client, "/v1/rankings/top-sales", window=window, category=category, k=200)["items"]
    listed = [str(it["product"]["product_id"]) for it in board]
    assert listed and bad not in listed
    assert all(passes_goods_gates(planted.products.loc[pid]) for pid in listed)
    whole = get(planted.client, "/v1/rankings/top-sales", window="7d", k=200)["items"]
    assert planted.goods["at_limits"] in {str(it["product"]["product_id"]) for it in whole}


@pytest.mark.parametrize("gate", list(GOOD_FAILS))
def test_the_product_page_names_the_one_gate_a_good_fails(planted: Planted, gate: str):
    quality = get(planted.client, f"/v1/products/{planted.goods[gate]}")["quality"]
    assert quality["passes_gates"] is False and len(quality["failures"]) == 1
    assert get(planted.client, f"/v1/products/{planted.goods['at_limits']}")["quality"] == {
        "passes_gates": True, "failures": []}


@pytest.mark.parametrize("gate", list(ANCHOR_FAILS))
def test_a_room_failing_one_anchor_gate_alone_is_never_proposed(planted: Planted, gate: str):
    """k covers every room, so every room that passes is listed: the room on the limits is, the failing one not."""
    for product in (planted.goods["at_limits"], planted.products.index[0]):
        body = get(planted.client, f"/v1/products/{product}/anchors", k=200)
        listed = {str(it["anchor"]["anchor_id"]) for it in body["items"]}
        assert planted.rooms[gate] not in listed and planted.rooms["at_limits"] in listed
        assert all(passes_anchor_gates(planted.anchors.loc[a]) for a in listed)
        assert len(listed) == sum(passes_anchor_gates(row) for _, row in planted.anchors.iterrows())


def test_the_planted_cases_are_what_the_tests_say(planted: Planted):
    """Each planted good and room fails the one gate it is named after; those on the limits pass."""
    for gate, pid in planted.goods.items():
        assert passes_goods_gates(planted.products.loc[pid]) is (gate == "at_limits")
    for gate, aid in planted.rooms.items():
        assert passes_anchor_gates(planted.anchors.loc[aid]) is (gate == "at_limits")
