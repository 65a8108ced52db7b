"""Every view at a phone's width (390 px, where Kuaishou's 选品中心 lives) and at a desktop's (1280 px): what the
page shows is what the API answers, no control wraps inside a word, nothing is wider than the screen, figures
read as Chinese tools write them, and each list downloads as the CSV the API gives. Screenshots of every view at
both widths go to test-artifacts/ (named view-width.png).
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest
from playwright.sync_api import Page, expect

WIDTHS = [390, 1280]

#: for every visible control and link, the places its text goes to a new line without a space there (none allowed)
MID_WORD_BREAKS = """(els) => {
  const out = [];
  for (const el of els) {
    if (!el.getClientRects().length || !el.textContent.trim()) continue;
    const chars = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const rect = range.getClientRects()[0];
        chars.push({ c: node.data[i], rect: rect && rect.width > 0 ? rect : null });
      }
    }
    let prev = -1;
    chars.forEach((ch, i) => {
      if (!ch.rect) return;
      if (prev >= 0 && ch.rect.top >= chars[prev].rect.bottom - 2) {
        const around = chars.slice(prev, i + 1).map((x) => x.c).join("");
        if (!/\\s/.test(around)) out.push(`${el.tagName.toLowerCase()}: ${el.textContent.trim().slice(0, 40)}`);
      }
      prev = i;
    });
  }
  return out;
}"""

CONTROLS = ("button, .button, .tabs a, a, label, th, td.nw, .tag, .badge, .brand, .kpi-label, "
            "#window-stats td, .home-figure, .home-second, .growth")


def check_layout(page: Page, name: str, width: int, screenshots) -> None:
    """No control or link breaks inside a word, the page is no wider than the screen; then the screenshot."""
    broken = page.locator(CONTROLS).evaluate_all(MID_WORD_BREAKS)
    assert not broken, f"{name} at {width} px: text wraps inside a word: {broken}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} at {width} px: the page is {overflow} px wider than the screen"
    page.screenshot(path=screenshots / f"{name}-{width}.png", full_page=True)


@pytest.fixture(scope="module")
def anchor(live_app) -> dict:
    s = live_app.extensions["xuanpin"]["serving"]
    row = int(np.asarray(s.model.anchor_stats["orders_all"]).argmax())
    return {"id": str(s.model.anchor_ids.ids[row]), "name": str(s.model.anchors["name"].iloc[row])}


def at(page: Page, width: int) -> Page:
    page.set_viewport_size({"width": width, "height": 860})
    return page


def downloaded(page: Page, link) -> list[list[str]]:
    with page.expect_download() as info:
        link.click()
    data = open(info.value.path(), "rb").read()  # noqa: SIM115 - Playwright keeps the file
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark"
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline="")))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_anchor_view_at_each_width(page, live, anchor, width, screenshots):
    at(page, width).goto(f"{live.url}/#/anchor/{anchor['id']}")
    expect(page.locator("#picks .pick").first).to_be_visible()
    expect(page.locator(".bar-row").first).to_be_visible()
    picks = live.get(f"/v1/anchors/{anchor['id']}/picks")
    expect(page.locator(".pick .title")).to_have_text([p["product"]["title"] for p in picks["items"]])
    profile = live.get(f"/v1/anchors/{anchor['id']}")
    # the day the anchor joined, in Beijing time (the API's instant carries +08:00)
    assert profile["created_at"].endswith("+08:00")
    expect(page.locator(".profile .muted").first).to_contain_text(f"入驻 {profile['created_at'][:10]}")
    check_layout(page, "anchor", width, screenshots)

    table = downloaded(page, page.locator("#picks a.csv"))
    assert len(table) - 1 == len(picks["items"])
    head = table[0]
    assert [dict(zip(head, row, strict=True))["商品标题"] for row in table[1:]] == \
        [p["product"]["title"] for p in picks["items"]]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_second_page_of_10_continues_the_first(page, live, anchor, width):
    at(page, width).goto(f"{live.url}/#/anchor/{anchor['id']}?k=10")
    expect(page.locator("#picks .pick")).to_have_count(10)
    first = page.locator(".pick .title").all_inner_texts()
    page.get_by_role("button", name="下一页").click()
    expect(page.locator(".pick .rank").first).to_have_text("#11")
    second = page.locator(".pick .title").all_inner_texts()
    twenty = live.get(f"/v1/anchors/{anchor['id']}/picks", k=20)
    assert first + second == [p["product"]["title"] for p in twenty["items"]]


@pytest.mark.parametrize("width", WIDTHS)
def test_anchor_search_results_at_each_width(page, live, anchor, width, screenshots):
    at(page, width).goto(live.url + "/#/anchor")
    part = anchor["name"][-2:]
    found = live.get("/v1/search/anchors", q=part, k=10)
    page.get_by_placeholder(re.compile("主播 ID 或昵称")).fill(part)
    page.get_by_role("button", name="搜索").click()
    if found["total"] > 1 and not any(a["name"] == part for a in found["items"]):
        expect(page.locator(".anchor-pick")).to_have_text([a["name"] for a in found["items"]])
        check_layout(page, "search", width, screenshots)
        table = downloaded(page, page.locator("#anchor-results a.csv"))
        assert [row[1] for row in table[1:]] == [a["name"] for a in found["items"]]
    else:
        expect(page.locator("#anchor-name")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_product_view_at_each_width(page, live, anchor, width, screenshots):
    picks = live.get(f"/v1/anchors/{anchor['id']}/picks", k=1)
    product_id = picks["items"][0]["product"]["product_id"]
    at(page, width).goto(f"{live.url}/#/product/{product_id}")
    detail = live.get(f"/v1/products/{product_id}")
    expect(page.locator("#product-title")).to_have_text(detail["product"]["title"])
    similar = live.get(f"/v1/products/{product_id}/similar", k=8)
    expect(page.locator("#similar li a")).to_have_text([it["product"]["title"] for it in similar["items"]])
    # similarity as a percentage, never a raw cosine such as 0.39
    shown = page.locator("#similar li .muted").all_inner_texts()
    for text, it in zip(shown, similar["items"], strict=True):
        assert f"相似度 {round(it['similarity'] * 100)}%" in text
    fit = live.get(f"/v1/products/{product_id}/anchors", k=10)
    expect(page.locator("#fit-anchors tbody a")).to_have_text([m["anchor"]["name"] for m in fit["items"]])
    expect(page.locator(".product .muted").first).to_contain_text(f"上架 {detail['created_at'][:10]}")
    # the evidence panels are drawn before the layout is judged: the chart, the sellers and their CSV link
    sellers = live.get(f"/v1/products/{product_id}/sellers", k=10)
    assert sellers["items"], "the biggest seller's first pick has sellers"
    expect(page.locator("#sellers-table tbody tr")).to_have_count(len(sellers["items"]))
    expect(page.locator("#sellers a.csv")).to_be_visible()
    expect(page.locator("#trend-chart canvas")).to_be_visible()
    # the trend's time is Beijing time, to the minute, as the API's +08:00 instant
    trend = live.get(f"/v1/products/{product_id}/trend")
    assert trend["as_of"].endswith("+08:00")
    expect(page.locator("#trend-note")).to_contain_text(f"截至 {trend['as_of'][:10]} {trend['as_of'][11:16]}")
    check_layout(page, "product", width, screenshots)

    table = downloaded(page, page.locator("#fit-anchors a.csv"))
    assert [row[2] for row in table[1:]] == [m["anchor"]["name"] for m in fit["items"]]
    table = downloaded(page, page.locator("#similar a.csv"))
    assert len(table) - 1 == len(similar["items"]) and table[0][0] == "商品ID"


def fits_its_panel(page: Page, table: str) -> None:
    """Every column of `table` is on screen without swiping inside it: the table is no wider than its box."""
    over = page.locator(table).evaluate("t => t.scrollWidth - t.parentElement.clientWidth")
    assert over <= 1, f"{table} is {over} px wider than its panel: columns hidden off-screen"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_boards_at_each_width(page, live, width, screenshots):
    at(page, width).goto(f"{live.url}/#/boards")
    board = live.get("/v1/rankings/top-sales", window="7d", k=20)
    expect(page.locator("#top-list tbody .title")).to_have_text([it["product"]["title"] for it in board["items"]])
    expect(page.locator("#top-list td.rank")).to_have_text([str(it["rank"]) for it in board["items"]])
    expect(page.locator("#hot-list .loading")).to_have_count(0)
    fits_its_panel(page, "#top-list table")
    if width < 600:  # a row is a card whose figures say what they are
        expect(page.locator("#top-list td.sales").first).to_be_visible()
        label = page.locator("#top-list td.sales").first.evaluate(
            "td => getComputedStyle(td, '::before').content")
        assert label == '"销量 "', label
    check_layout(page, "boards", width, screenshots)
    table = downloaded(page, page.locator("#top-list a.csv"))
    assert [row[0] for row in table[1:]] == [str(it["rank"]) for it in board["items"]]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_real_burst_on_the_hot_board_at_each_width(page, hot_live, width, screenshots):
    """Orders posted to the service, then the page: live counts (not the snapshot's 0), the reason's figures, the
    time of the list in Beijing time, and the CSV of the board."""
    hot = hot_live.get("/v1/rankings/hot", k=20)
    assert hot["items"]
    at(page, width).goto(f"{hot_live.url}/#/boards")
    rows = page.locator("#hot-list tbody tr")
    expect(rows.locator(".title")).to_have_text([it["product"]["title"] for it in hot["items"]])
    expect(rows.locator("td.day")).to_have_text([f"{it['orders_24h']:,}" for it in hot["items"]])
    expect(rows.locator("td.recent")).to_have_text([f"{it['recent_orders']:,}" for it in hot["items"]])
    expect(rows.locator(".reasons-cell")).to_have_text([it["reasons"][0]["text"] for it in hot["items"]])
    # "截至" the list's minute in Beijing time: the API's +08:00 instant, to the minute
    expect(page.locator("#hot-list")).to_contain_text(f"截至 {hot['as_of'][:10]} {hot['as_of'][11:16]}")
    for it in hot["items"]:
        assert not re.search(r"\d+\.\d{2,}|×", it["reasons"][0]["text"])
    fits_its_panel(page, "#hot-list table")
    check_layout(page, "boards-hot", width, screenshots)
    table = downloaded(page, page.locator("#hot-list a.csv"))
    head = table[0]
    assert len(table) - 1 == len(hot["items"]) and "近24小时订单" in head


@pytest.mark.parametrize("width", WIDTHS)
def test_product_search_at_each_width(page, live, width, screenshots):
    """商品搜索 with a keyword and the growth sort: the cards are the route's, rates read as percentages."""
    body = live.get("/v1/products", q="新鲜", sort="growth_7d")
    assert body["items"]
    at(page, width).goto(f"{live.url}/#/search?q=%E6%96%B0%E9%B2%9C&sort=growth_7d")
    expect(page.locator("#goods-results .hit .title")).to_have_text([it["product"]["title"] for it in body["items"]])
    rates = page.locator("#goods-results .hit .rate").all_inner_texts()
    assert rates == [f"{round(it['product']['commission_rate'] * 100)}%" for it in body["items"]]
    expect(page.locator("#goods-results a.csv")).to_be_visible()
    check_layout(page, "goods-search", width, screenshots)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_anchor_board_at_each_width(page, live, width, screenshots):
    """达人榜: the board's rows are the route's, each category a tab that never wraps, and the CSV link is there."""
    board = live.get("/v1/rankings/anchors", window="7d", metric="gmv", k=20)
    at(page, width).goto(f"{live.url}/#/anchors")
    expect(page.locator("#anchor-board .board-anchor td.name > a")).to_have_text(
        [it["anchor"]["name"] for it in board["items"]])
    expect(page.locator("#anchor-board-tabs button").first).to_have_text("全部")
    expect(page.locator("#anchor-board a.csv")).to_be_visible()
    check_layout(page, "anchor-board", width, screenshots)
    table = downloaded(page, page.locator("#anchor-board a.csv"))
    assert len(table) - 1 == len(board["items"])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_header_stays_on_top_and_its_tabs_fit(page, live, width):
    """The sticky header covers nothing it should not: scrolled down, it stays at the top, its tabs all inside
    the screen, and the content scrolls beneath it."""
    at(page, width).goto(f"{live.url}/#/boards")
    expect(page.locator("#top-list tbody tr").first).to_be_visible()
    tabs = page.locator(".tabs a")
    expect(tabs).to_have_count(6)
    for box in (tabs.nth(i).bounding_box() for i in range(6)):
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"a tab leaves the {width} px screen: {box}"
    assert page.evaluate("window.scrollTo(0, 600), window.scrollY") > 100
    header = page.locator(".topbar").bounding_box()
    assert header["y"] == 0


def test_a_phone_s_tabs_and_check_boxes_are_big_enough_to_tap(page, live, anchor):
    """About 44 px for a finger (WCAG 2.5.5): the probe measured 21-23 px checkbox rows and 29 px tabs."""
    at(page, 390).goto(f"{live.url}/#/anchor/{anchor['id']}")
    expect(page.locator("#picks .pick").first).to_be_visible()
    heights = page.locator(".tabs a, label.check").evaluate_all(
        "(els) => els.filter((e) => e.getClientRects().length).map((e) => [e.textContent.trim(),"
        " e.getBoundingClientRect().height])")
    assert len(heights) >= 8 and all(h >= 44 for _, h in heights), heights
