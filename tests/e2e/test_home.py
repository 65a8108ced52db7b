"""The home page (首页) is what the page opens on (`/`, no hash): with no typing it shows today's top-sales board,
the hot goods now, today's 达人带货榜 and the week's fastest-rising goods, a few rows each, as the /v1 routes
answer them, each linking to its full view; its one box finds anchors and goods. At 390 px and 1280 px, with
screenshots in test-artifacts/ (home-390.png, home-1280.png, home-search-*.png, home-hot-*.png)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_widths import WIDTHS, at, check_layout

ROWS = 5


def rows(page: Page, panel: str):
    return page.locator(f"#{panel} .home-row")


def expect_home_boards(page: Page, server) -> None:
    """The four panels show the first rows of the lists their routes answer, in the routes' order."""
    top = server.get("/v1/rankings/top-sales", window="1d", k=ROWS)
    assert top["items"], "the small marketplace sells something on its last day"
    expect(rows(page, "home-top").locator("a.title")).to_have_text([it["product"]["title"] for it in top["items"]])
    expect(rows(page, "home-top").locator(".rank")).to_have_text([str(it["rank"]) for it in top["items"]])
    expect(rows(page, "home-top").locator(".home-figure")).to_have_text(
        [f"销量 {it['sales']:,}" for it in top["items"]])

    # the sales boards count the snapshot's last day, not today: they say when their data ends (Beijing time)
    import pandas as pd

    ends = pd.Timestamp(server.get("/v1/model")["data"]["snapshot_time"], tz="UTC").tz_convert("Asia/Shanghai")
    for panel in ("home-top", "home-anchors"):
        expect(page.locator(f"#{panel} .home-note")).to_have_text(f"数据截至 {ends:%Y-%m-%d %H:%M}")

    board = server.get("/v1/rankings/anchors", window="1d", metric="gmv", k=ROWS)
    assert board["items"]
    expect(rows(page, "home-anchors").locator(".home-item > a")).to_have_text(
        [it["anchor"]["name"] for it in board["items"]])
    expect(rows(page, "home-anchors").locator(".home-second")).to_have_text(
        [f"订单 {it['orders']:,}" for it in board["items"]])
    # the audience line is the API's own sentence (rates as percentages, money in yuan)
    expect(rows(page, "home-anchors").locator(".home-sub")).to_have_text(
        [it["audience"]["text"] for it in board["items"]])

    rising = server.get("/v1/products", sort="growth_7d", min_sales_7d=10, passes_gates="true", k=ROWS)
    assert rising["items"] and all(it["passes_gates"] for it in rising["items"])
    expect(rows(page, "home-rising").locator("a.title")).to_have_text(
        [it["product"]["title"] for it in rising["items"]])
    # growth as a signed percentage with one decimal, never the API's ratio (0.25 -> +25.0%)
    shown = rows(page, "home-rising").locator(".growth").all_inner_texts()
    for text, it in zip(shown, rising["items"], strict=True):
        assert re.fullmatch(r"[+-]?[\d,]+\.\d%", text), text
        assert text.startswith("+") == (it["growth_7d"] > 0)
        assert float(text.rstrip("%").replace(",", "")) == pytest.approx(it["growth_7d"] * 100, abs=0.051)
    expect(rows(page, "home-rising").locator(".home-second")).to_have_text(
        [f"近7天 {it['product']['sales_7d']:,} 件 · {it['orders_7d']:,} 单" for it in rising["items"]])

    hot = server.get("/v1/rankings/hot", k=ROWS)
    if hot["items"]:
        expect(rows(page, "home-hot").locator("a.title")).to_have_text([it["product"]["title"] for it in hot["items"]])
        expect(rows(page, "home-hot").locator(".home-second")).to_have_text(
            [f"24小时 {it['orders_24h']:,} 单" for it in hot["items"]])
    elif hot["warming_up"]:  # the model's week is long past and the store just started: it cannot judge yet
        expect(page.locator("#home-hot .state.empty")).to_have_text(
            re.compile("尚不能判断爆款：订单计数刚开始"))
    else:
        expect(page.locator("#home-hot .state.empty")).to_have_text(re.compile("暂无实时爆款"))
    expect(page.locator("#view-home .loading")).to_have_count(0)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_opens_on_the_home_view_with_todays_boards(page, live, width, screenshots):
    at(page, width).goto(live.url + "/")
    expect(page.locator("#view-home")).to_be_visible()
    expect(page.locator(".tabs a.active")).to_have_text("首页")
    expect_home_boards(page, live)
    check_layout(page, "home", width, screenshots)


@pytest.mark.parametrize("width", WIDTHS)
def test_each_panel_links_to_its_full_view(page, live, width):
    at(page, width).goto(live.url + "/")
    page.locator("#home-top a.more").click()
    expect(page.locator("#view-boards")).to_be_visible()
    full = live.get("/v1/rankings/top-sales", window="1d", k=20)
    expect(page.locator("#top-list tbody .title")).to_have_text([it["product"]["title"] for it in full["items"]])

    page.goto(live.url + "/")
    page.locator("#home-anchors a.more").click()
    expect(page.locator("#view-anchors")).to_be_visible()
    board = live.get("/v1/rankings/anchors", window="1d", k=20)
    expect(page.locator("#anchor-board .board-anchor td.name > a")).to_have_text(
        [it["anchor"]["name"] for it in board["items"]])

    page.goto(live.url + "/")
    page.locator("#home-rising a.more").click()
    expect(page.locator("#view-search")).to_be_visible()
    rising = live.get("/v1/products", sort="growth_7d", min_sales_7d=10, passes_gates="true", k=20)
    expect(page.locator("#goods-results .hit .title")).to_have_text([it["product"]["title"] for it in rising["items"]])

    page.goto(live.url + "/")
    first = page.locator("#home-top a.title").first
    title = first.inner_text()
    first.click()
    expect(page.locator("#product-title")).to_have_text(title)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_home_box_finds_anchors_and_goods(page, live, live_app, width, screenshots):
    # a word in anchors' names and in goods' titles, so the box finds both
    model = live_app.extensions["xuanpin"]["serving"].model
    titles = " ".join(model.products["title"].astype(str))
    words = (name[i:i + 2] for name in sorted(model.anchors["name"].astype(str)) for i in range(len(name) - 1))
    word = next(w for w in words if w in titles and live.get("/v1/products", q=w, k=1)["total"])
    anchors = live.get("/v1/search/anchors", q=word, k=ROWS)
    goods = live.get("/v1/products", q=word, k=ROWS)
    at(page, width).goto(live.url + "/")
    page.locator("#home-q").fill(word)
    page.locator("#home-search button").click()
    expect(page.locator(".found-anchor > a")).to_have_text([a["name"] for a in anchors["items"]])
    expect(page.locator(".found-good > a")).to_have_text([it["product"]["title"] for it in goods["items"]])
    expect(page.locator("#home-results h2")).to_have_text(
        [f"主播（{anchors['total']:,}）", f"商品（{goods['total']:,}）"])
    # the boards stay on the page under the results
    expect_home_boards(page, live)
    check_layout(page, "home-search", width, screenshots)

    if goods["total"] > ROWS:
        page.locator("#home-results a.more", has_text="全部").last.click()
        expect(page.locator("#view-search")).to_be_visible()
        expect(page.locator("#goods-q")).to_have_value(word)
        all_goods = live.get("/v1/products", q=word, k=20)
        expect(page.locator("#goods-results .hit .title")).to_have_text(
            [it["product"]["title"] for it in all_goods["items"]])


def test_an_anchor_search_from_home_that_finds_nothing_says_so(page, live):
    page.goto(live.url + "/#/home?q=" + "zzqx")
    expect(page.locator("#home-results .state.empty")).to_have_text(
        ["没有找到与“zzqx”相关的主播。", "没有找到与“zzqx”相关的商品。"])


@pytest.mark.parametrize("width", WIDTHS)
def test_a_real_burst_shows_on_the_home_page(page, hot_live, width, screenshots):
    """Orders posted to the service make goods hot: the home panel lists them as the hot route answers."""
    hot = hot_live.get("/v1/rankings/hot", k=ROWS)
    assert hot["items"]
    at(page, width).goto(hot_live.url + "/")
    expect_home_boards(page, hot_live)
    expect(rows(page, "home-hot").locator(".home-sub")).to_have_text(
        [it["reasons"][0]["text"] for it in hot["items"]])
    expect(page.locator("#home-hot .home-note")).to_have_text(
        f"截至 {hot['as_of'][:10]} {hot['as_of'][11:16]}")  # Beijing time, as the API's +08:00 instant
    check_layout(page, "home-hot", width, screenshots)
