"""The 商品搜索 view in Chromium at phone (390 px) and desktop (1280 px) width: what it shows is what GET /v1/products
answers, every control fits on its line, and screenshots of both widths go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

WIDTHS = {"phone": 390, "desktop": 1280}


def yuan_value(text: str) -> float:
    text = text.replace("¥", "").replace(",", "")
    return float(text[:-1]) * 1e4 if text.endswith("万") else float(text)


@pytest.fixture(scope="module", params=list(WIDTHS))
def width(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def sized(browser, width):
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(sized):
    pg = sized.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    pg.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def search(page: Page, press: str = "搜索") -> None:
    """Press a button of the form and wait until the new answer is on the page."""
    with page.expect_response(lambda r: "/v1/products?" in r.url or r.url.endswith("/v1/products")):
        page.locator("#goods-form").get_by_role("button", name=press, exact=True).click()
    expect(page.locator("#goods-results .loading")).to_have_count(0)


def shown_matches(page: Page, body: dict) -> None:
    """The cards on the page are the API's items, figure by figure, and the summary gives its total."""
    items = body["items"]
    cards = page.locator("#goods-results .hit")
    expect(cards).to_have_count(len(items))
    expect(page.locator(".hit .title")).to_have_text([it["product"]["title"] for it in items])
    expect(page.locator(".hit .rank")).to_have_text([f"#{it['rank']}" for it in items])
    prices = page.locator(".hit .price").all_inner_texts()
    per_order = page.locator(".hit .per-order").all_inner_texts()
    rates = page.locator(".hit .rate").all_inner_texts()
    growth = page.locator(".hit .growth").all_inner_texts()
    sales = page.locator(".hit .sales").all_inner_texts()
    for it, p, o, r, g, s in zip(items, prices, per_order, rates, growth, sales, strict=True):
        card = it["product"]
        assert yuan_value(p) == pytest.approx(card["price"])
        assert yuan_value(o) == pytest.approx(card["commission_per_unit"])
        assert r == f"{round(card['commission_rate'] * 100)}%"
        assert g == ("+" if it["growth_7d"] > 0 else "") + f"{it['growth_7d'] * 100:,.1f}%"
        assert s == f"{card['sales_7d']:,}"
    gated = page.locator(".hit").evaluate_all("cards => cards.map(c => !!c.querySelector('.gated'))")
    assert gated == [not it["passes_gates"] for it in items]
    expect(page.locator("#goods-summary")).to_contain_text(f"找到 {body['total']:,} 个商品")


def fits(page: Page) -> None:
    """Nothing sticks out sideways, and no control, tab or label wraps its text (one character per line)."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    heights = page.locator("#goods-form button, #goods-form select, #goods-form label, .tabs a, .pager button") \
        .evaluate_all("els => els.map(e => [e.textContent.trim().slice(0, 12), e.getBoundingClientRect().height,"
                      " parseFloat(getComputedStyle(e).minHeight) || 0])")
    # a row of text is under 40 px; a phone's tap targets are 44 px on purpose (min-height), and no taller
    tall = [(text, h) for text, h, least in heights if h > max(40, least + 1)]
    assert not tall, tall


def test_a_keyword_search_shows_the_apis_goods_as_cards(page, live, width, screenshots):
    page.goto(f"{live.url}/#/search")
    expect(page.locator(".tabs a.active")).to_have_text("商品搜索")
    expect(page.locator("#goods-summary")).to_contain_text("按近7天销量")  # no keyword: the best sellers
    shown_matches(page, live.get("/v1/products", k=20))

    page.locator("#goods-q").fill("新鲜")
    search(page)
    body = live.get("/v1/products", q="新鲜", k=20)
    assert body["total"] > 20
    shown_matches(page, body)
    expect(page.locator("#goods-summary")).to_contain_text("关键词“新鲜”")
    assert all("新鲜" in t for t in page.locator(".hit .title").all_inner_texts())
    fits(page)
    page.screenshot(path=screenshots / f"search-{width}.png", full_page=True)

    page.get_by_role("button", name="下一页").click()
    expect(page.locator(".hit .rank").first).to_have_text("#21")
    shown_matches(page, live.get("/v1/products", q="新鲜", k=20, offset=20))
    page.get_by_role("button", name="上一页").click()
    expect(page.locator(".hit .rank").first).to_have_text("#1")


def test_filters_and_sort_narrow_and_order_the_cards(page, live, width, screenshots):
    categories = [c["category"] for c in live.get("/v1/search/categories")["items"]]
    page.goto(f"{live.url}/#/search")
    expect(page.locator("#goods-results .hit").first).to_be_visible()
    form = page.locator("#goods-form")
    form.locator("select[name=category]").select_option(categories[0])
    form.locator("input[name=price_max]").fill("300")
    form.locator("input[name=commission_min]").fill("15")
    form.locator("input[name=max_refund_rate]").fill("10")
    form.locator("select[name=order]").select_option("asc")  # changing the order searches at once
    expect(page.locator("#goods-summary")).to_contain_text("从低到高")
    with page.expect_response(lambda r: "sort=price" in r.url):
        form.locator("select[name=sort]").select_option("price")
    expect(page.locator("#goods-results .loading")).to_have_count(0)
    body = live.get("/v1/products", category=categories[0], price_max=300, commission_min=0.15,
                    max_refund_rate=0.1, sort="price", order="asc")
    assert body["total"] > 0
    shown_matches(page, body)
    prices = [yuan_value(p) for p in page.locator(".hit .price").all_inner_texts()]
    assert prices == sorted(prices) and max(prices) <= 300
    assert set(page.locator(".hit .category").all_inner_texts()) == {categories[0]}
    expect(page.locator("#goods-summary")).to_contain_text("按价格，从低到高")
    fits(page)
    page.screenshot(path=screenshots / f"search-filters-{width}.png", full_page=True)

    with page.expect_response(lambda r: "sort=growth_7d" in r.url):
        form.locator("select[name=sort]").select_option("growth_7d")
    expect(page.locator("#goods-results .loading")).to_have_count(0)
    form.locator("select[name=order]").select_option("")
    search(page, "筛选")
    shown_matches(page, live.get("/v1/products", category=categories[0], price_max=300, commission_min=0.15,
                                 max_refund_rate=0.1, sort="growth_7d"))

    page.locator("#goods-reset").click()
    expect(page.locator("#goods-summary")).to_contain_text(f"找到 {live.get('/v1/products')['total']:,} 个商品")
    expect(form.locator("input[name=price_max]")).to_have_value("")


def test_bad_filters_and_an_unknown_category_say_what_is_wrong(page, live, width):
    page.goto(f"{live.url}/#/search?category=没有这个类目")
    alert = page.locator("#goods-results [role=alert]")
    expect(alert).to_contain_text("筛选条件有误：类目：没有“没有这个类目”，可选：")
    for c in live.get("/v1/search/categories")["items"]:
        expect(alert).to_contain_text(c["category"])

    page.goto(f"{live.url}/#/search")
    expect(page.locator("#goods-results .hit").first).to_be_visible()
    form = page.locator("#goods-form")
    form.locator("input[name=price_min]").fill("500")
    form.locator("input[name=price_max]").fill("100")
    form.get_by_role("button", name="筛选").click()
    expect(alert).to_have_text("筛选条件有误：最低价不能高于最高价。")

    page.locator("#goods-q").fill("没有这种商品")
    form.locator("input[name=price_min]").fill("")
    search(page)
    expect(page.locator("#goods-results")).to_contain_text("没有找到符合条件的商品")


def test_a_card_opens_the_product(page, live, width):
    body = live.get("/v1/products", sort="gmv_7d", k=20)
    page.goto(f"{live.url}/#/search?sort=gmv_7d")
    expect(page.locator("#goods-summary")).to_contain_text("按近7天 GMV，从高到低")
    shown_matches(page, body)
    page.locator(".hit .title").first.click()
    expect(page.locator("#product-title")).to_have_text(body["items"][0]["product"]["title"])
    assert re.search(rf"#/product/{body['items'][0]['product']['product_id']}$", page.url)
