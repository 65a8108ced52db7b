"""GET /v1/products: product search (商品搜索). Every filter, sort and error, checked against the catalogue's own
tables filtered and sorted here with pandas (never against the search code)."""

from __future__ import annotations

import unicodedata
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

SORTS = ["sales_7d", "gmv_7d", "commission_rate", "commission_per_unit", "commission_per_order", "price", "growth_7d"]


@pytest.fixture(scope="module")
def goods(serving) -> pd.DataFrame:
    """The catalogue with its statistics and the documented derived figures, one row per good."""
    m = serving.model
    p, st = m.products.reset_index(drop=True), m.product_stats.reset_index(drop=True)
    df = p.assign(sales_7d=st["sales_7d"], gmv_7d=st["gmv_7d"], orders_7d=st["orders_7d"],
                  orders_30d=st["orders_30d"], passes=np.asarray(serving.ranker.gate))
    # to the cent, half up as a shop rounds, in decimal arithmetic (47.9 x 25% is 11.98, not binary 11.97)
    df["commission_per_unit"] = df["commission_per_order"] = [
        float((Decimal(repr(float(price))) * Decimal(repr(float(rate)))).quantize(Decimal("0.01"), ROUND_HALF_UP))
        for price, rate in zip(df["price"], df["commission_rate"], strict=True)]
    # growth_7d as the schema defines it: last week against the weekly rate of the 23 days before (over the
    # days on sale then, at least 1), with 3 pseudo-orders on both sides
    age = (m.snapshot_time - pd.to_datetime(df["created_at"])).dt.total_seconds() / 86400
    days_before = (age - 7).clip(0, 23)
    baseline = (df["orders_30d"] - df["orders_7d"]).clip(lower=0) * 7 / days_before.clip(lower=1)
    df["baseline"] = baseline.round(2)
    df["growth_7d"] = ((df["orders_7d"] + 3) / (baseline + 3) - 1).round(4)
    return df


def ids_of(body: dict) -> list:
    return [it["product"]["product_id"] for it in body["items"]]


def everything(client, **params) -> tuple[list, int]:
    """Every page of one query, 100 at a time: the ids in order, and the total the first page gave."""
    out, offset, total = [], 0, None
    while offset is not None:
        body = client.get("/v1/products", query_string={**params, "k": 100, "offset": offset}).get_json()
        total = body["total"] if total is None else total
        assert body["total"] == total
        out += ids_of(body)
        offset = body["paging"]["next_offset"]
    return out, total


def expected_order(goods: pd.DataFrame, key: str, ascending: bool) -> list:
    """Sorted by the key, ties by product id ascending."""
    return goods.sort_values([key, "product_id"], ascending=[ascending, True], kind="mergesort")[
        "product_id"].tolist()


def test_without_a_query_every_good_is_listed_by_seven_day_sales(client, goods):
    got, total = everything(client)
    assert total == len(goods)
    assert got == expected_order(goods, "sales_7d", False)
    body = client.get("/v1/products").get_json()
    assert (body["sort"], body["order"], body["query"]) == ("sales_7d", "desc", None)
    assert body["paging"] == {"offset": 0, "k": 20, "next_offset": 20}


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("order", ["asc", "desc", None])
def test_every_sort_is_one_total_order(client, goods, sort, order):
    params = {"sort": sort} | ({"order": order} if order else {})
    ascending = order == "asc" if order else sort == "price"  # price: cheapest first by default
    got, total = everything(client, **params)
    assert got == expected_order(goods, sort, ascending) and total == len(goods)
    body = client.get("/v1/products", query_string=params).get_json()
    assert body["order"] == ("asc" if ascending else "desc")
    values = [it["product"].get(sort, it.get(sort)) for it in body["items"]]
    assert values == sorted(values, reverse=not ascending)


@pytest.mark.parametrize("params", [{}, {"sort": "price"}, {"q": "新鲜"}, {"sort": "growth_7d", "order": "asc"},
                                    {"category": "食品/农产品", "sort": "commission_rate"}])
def test_pages_are_slices_of_one_list(client, params):
    twenty = client.get("/v1/products", query_string={**params, "k": 20}).get_json()
    tens = [client.get("/v1/products", query_string={**params, "k": 10, "offset": o}).get_json() for o in (0, 10)]
    assert ids_of(tens[0]) + ids_of(tens[1]) == ids_of(twenty)
    assert [it["rank"] for it in tens[1]["items"]] == list(range(11, 21))
    assert tens[0]["paging"]["next_offset"] == 10


def test_the_last_page_has_no_next_offset(client, goods):
    body = client.get("/v1/products", query_string={"k": 30, "offset": len(goods) - 7}).get_json()
    assert len(body["items"]) == 7 and body["paging"]["next_offset"] is None
    beyond = client.get("/v1/products", query_string={"offset": len(goods) + 5}).get_json()
    assert beyond["items"] == [] and beyond["total"] == len(goods) and beyond["paging"]["next_offset"] is None


def test_items_are_the_cards_of_the_other_routes_with_growth_and_gates(client, goods):
    body = client.get("/v1/products", query_string={"sort": "growth_7d", "k": 5}).get_json()
    by_id = goods.set_index("product_id")
    for it in body["items"]:
        detail = client.get(f"/v1/products/{it['product']['product_id']}").get_json()
        assert it["product"] == detail["product"]
        assert it["passes_gates"] == detail["quality"]["passes_gates"]
        row = by_id.loc[it["product"]["product_id"]]
        assert it["orders_7d"] == row["orders_7d"] == detail["windows"]["7d"]["orders"]
        assert it["baseline_orders_7d"] == pytest.approx(row["baseline"])
        assert it["growth_7d"] == pytest.approx(row["growth_7d"])
    assert body["items"][0]["growth_7d"] > 0


def test_search_lists_goods_that_fail_the_gates_and_says_so(client, goods):
    failing = goods[~goods["passes"]]
    assert len(failing)
    row = failing.iloc[0]
    body = client.get("/v1/products", query_string={"q": row["title"], "k": 100}).get_json()
    hit = next(it for it in body["items"] if it["product"]["product_id"] == row["product_id"])
    assert hit["passes_gates"] is False


# -- filters -------------------------------------------------------------------------------------------------


def filtered(goods: pd.DataFrame, mask: pd.Series) -> list:
    return expected_order(goods[mask], "sales_7d", False)


def test_category(client, goods):
    for category in sorted(goods["category"].unique())[:4]:
        got, total = everything(client, category=category)
        assert got == filtered(goods, goods["category"] == category) and total == len(got) > 0


def test_price_range(client, goods):
    low, high = goods["price"].quantile([0.3, 0.6]).round(1).tolist()
    got, _ = everything(client, price_min=low, price_max=high)
    assert got == filtered(goods, goods["price"].between(low, high)) and got
    assert everything(client, price_min=high)[0] == filtered(goods, goods["price"] >= high)
    assert everything(client, price_max=low)[0] == filtered(goods, goods["price"] <= low)
    exact = float(goods["price"].iloc[0])
    assert goods["product_id"].iloc[0] in everything(client, price_min=exact, price_max=exact)[0]  # inclusive


def test_commission_min_is_a_rate(client, goods):
    got, _ = everything(client, commission_min=0.3)
    assert got == filtered(goods, goods["commission_rate"] >= 0.3) and got


def test_min_sales_7d(client, goods):
    floor = int(goods["sales_7d"].quantile(0.8))
    got, _ = everything(client, min_sales_7d=floor)
    assert got == filtered(goods, goods["sales_7d"] >= floor) and got


def test_max_refund_rate(client, goods):
    got, _ = everything(client, max_refund_rate=0.05)
    assert got == filtered(goods, goods["refund_rate"].fillna(0) <= 0.05)
    assert 0 < len(got) < len(goods)


def test_brand_is_a_whole_name_in_any_case(client, goods):
    brand = goods["brand"].dropna().value_counts().index[0]
    expected = filtered(goods, goods["brand"] == brand)
    assert everything(client, brand=brand)[0] == expected
    assert everything(client, brand=f" {brand.upper()} ")[0] == expected
    assert everything(client, brand=brand[:-1])[1] == 0  # a part of the name is a keyword's job, not brand's


def test_merchant_by_id_or_by_shop_name(client, goods):
    merchant = goods["merchant_id"].value_counts().index[0]
    by_id = filtered(goods, goods["merchant_id"] == merchant)
    assert everything(client, merchant=str(merchant))[0] == by_id and len(by_id) > 1
    name = goods["merchant_name"].value_counts().index[0]
    assert everything(client, merchant=name)[0] == filtered(goods, goods["merchant_name"] == name)
    assert everything(client, merchant="no such shop")[1] == 0


def test_passes_gates_keeps_the_goods_picks_and_boards_may_list_or_the_others(client, goods):
    """The home page's 涨势商品 asks for goods passing the gates: a good with a 37% refund rate topped it."""
    passing, total = everything(client, passes_gates="true", sort="growth_7d")
    assert passing == expected_order(goods[goods["passes"]], "growth_7d", False) and total == goods["passes"].sum()
    failing, _ = everything(client, passes_gates="false")
    assert failing == filtered(goods, ~goods["passes"]) and failing
    assert client.get("/v1/products", query_string={"passes_gates": "maybe"}).status_code == 400


def test_filters_combine(client, goods):
    category = goods["category"].value_counts().index[0]
    params = {"category": category, "price_max": 200, "commission_min": 0.2, "max_refund_rate": 0.1}
    mask = ((goods["category"] == category) & (goods["price"] <= 200) & (goods["commission_rate"] >= 0.2)
            & (goods["refund_rate"].fillna(0) <= 0.1))
    for sort in SORTS:
        got, total = everything(client, **params, sort=sort)
        assert got == expected_order(goods[mask], sort, sort == "price") and total == mask.sum() > 0


# -- keywords ------------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def keyword_mask(goods: pd.DataFrame, q: str) -> pd.Series:
    """Every word of q in the title (its spaces dropped) or the brand, folded."""
    title = goods["title"].map(lambda t: fold(t).replace(" ", ""))
    brand = goods["brand"].fillna("").map(fold)
    mask = pd.Series(True, index=goods.index)
    for word in fold(q).split():
        mask &= title.str.contains(word, regex=False) | brand.str.contains(word, regex=False)
    return mask


def test_a_chinese_keyword_matches_titles_without_a_tokenizer(client, goods):
    word = "新鲜"
    got, total = everything(client, q=word, sort="sales_7d")
    assert got == filtered(goods, keyword_mask(goods, word)) and total > 1
    assert all(word in goods.set_index("product_id").loc[i, "title"] for i in got)


def test_a_keyword_ignores_the_titles_spaces_and_every_word_must_match(client, goods):
    title = goods["title"].iloc[3]
    parts = title.split()
    assert len(parts) >= 3
    joined = "".join(parts[-2:])  # two words of the title typed without their space
    got, _ = everything(client, q=joined)
    assert goods["product_id"].iloc[3] in got
    both = f"{parts[-2]} {parts[-1]}"
    assert set(everything(client, q=both)[0]) == set(filtered(goods, keyword_mask(goods, both)))
    assert everything(client, q=f"{parts[-1]} 没有这个词")[1] == 0


def test_keywords_match_the_brand_and_ignore_case_and_width(client, goods):
    sized = goods[goods["title"].str.contains("XL")]
    assert len(sized)
    expected = set(sized["product_id"]) | set(goods[keyword_mask(goods, "xl")]["product_id"])
    for q in ("XL", "xl", "ＸＬ", " xl "):  # full-width letters as an IME types them
        assert set(everything(client, q=q)[0]) == expected, q
    brand = goods["brand"].dropna().iloc[0]
    assert set(goods[goods["brand"] == brand]["product_id"]) <= set(everything(client, q=brand)[0])


def test_relevance_puts_title_prefixes_and_the_exact_brand_first_then_sales(client, goods):
    word = "新鲜"
    body = client.get("/v1/products", query_string={"q": word, "k": 100}).get_json()
    assert body["sort"] == "relevance" and body["order"] == "desc" and body["query"] == word
    mask = keyword_mask(goods, word)
    starts = goods["title"].map(lambda t: fold(t).replace(" ", "").startswith(word))
    first = expected_order(goods[mask & starts], "sales_7d", False)
    rest = expected_order(goods[mask & ~starts], "sales_7d", False)
    assert first and rest and ids_of(body) == first + rest
    ascending = client.get("/v1/products", query_string={"q": word, "k": 100, "order": "asc"}).get_json()
    assert ids_of(ascending) == expected_order(goods[mask & ~starts], "sales_7d", True) + \
        expected_order(goods[mask & starts], "sales_7d", True)

    brand = goods["brand"].dropna().value_counts().index[0]
    got, _ = everything(client, q=brand)
    own = set(goods[goods["brand"] == brand]["product_id"])
    assert set(got[:len(own)]) == own  # the brand's own goods before goods that only mention it


def test_a_keyword_with_a_sort_is_ordered_by_the_sort(client, goods):
    got, _ = everything(client, q="新鲜", sort="price", order="desc")
    assert got == expected_order(goods[keyword_mask(goods, "新鲜")], "price", False)


def test_raw_utf8_in_the_query_string_is_read_as_utf8(client, goods):
    """A client that sends the keyword unescaped: WSGI hands the bytes over as latin-1 text (PEP 3333)."""
    raw = "q=新鲜&category=食品/农产品&k=100".encode().decode("latin-1")
    body = client.get("/v1/products", environ_overrides={"QUERY_STRING": raw}).get_json()
    escaped = client.get("/v1/products", query_string={"q": "新鲜", "category": "食品/农产品", "k": 100}).get_json()
    assert body["query"] == "新鲜" and body["total"] > 0 and body == escaped


# -- errors --------------------------------------------------------------------------------------------------


def test_an_unknown_category_is_a_400_listing_the_valid_ones(client, goods):
    r = client.get("/v1/products", query_string={"category": "美妆个护"})
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["code"] == "invalid_parameter" and error["field"] == "category"  # as on every other route
    for category in goods["category"].unique():
        assert category in error["message"]


@pytest.mark.parametrize(("query", "field"), [
    ({"price_min": 100, "price_max": 50}, "price_max"),
    ({"q": "   "}, "q"), ({"q": "\u3000"}, "q"), ({"q": ""}, "q"), ({"q": "x" * 51}, "q"),
    ({"sort": "popularity"}, "sort"), ({"order": "up"}, "order"),
    ({"k": 0}, "k"), ({"k": 101}, "k"), ({"offset": -1}, "offset"), ({"offset": 10_001}, "offset"),
    ({"commission_min": 1.5}, "commission_min"), ({"max_refund_rate": -0.1}, "max_refund_rate"),
    ({"min_sales_7d": 1.5}, "min_sales_7d"), ({"price_min": "cheap"}, "price_min"), ({"brand": ""}, "brand"),
    ({"merchant": ""}, "merchant"), ({"catgory": "美妆"}, "catgory"),
])
def test_invalid_parameters_are_400s_naming_the_field(client, query, field):
    r = client.get("/v1/products", query_string=query)
    assert r.status_code == 400, query
    assert r.get_json()["error"]["field"] == field


def test_a_parameter_given_twice_is_a_400(client):
    r = client.get("/v1/products?sort=price&sort=gmv_7d")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "sort"


def test_no_model_is_a_503(tmp_path):
    from serve.app import create_app

    app = create_app({"registry": str(tmp_path / "empty"), "poll_seconds": 0})
    assert app.test_client().get("/v1/products").status_code == 503
