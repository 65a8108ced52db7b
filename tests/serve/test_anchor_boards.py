"""GET /v1/rankings/anchors (达人带货榜, 新人主播榜) and the 达人广场 filters of /v1/products/<id>/anchors: every
filter, sort and error, against the artifact's own arrays."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from serve.app import create_app

WINDOWS = {"1d": 0, "7d": 1, "30d": 2}


def get(client, path, **params):
    r = client.get(path, query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def error(client, path, **params) -> dict:
    r = client.get(path, query_string=params)
    assert r.status_code == 400, r.get_json()
    return r.get_json()["error"]


@pytest.fixture(scope="module")
def new_client(small_artifact):
    """A service whose 新人主播 rule admits accounts up to 2,000 days old (the small world's anchors are older
    than the default 90 days, so its new-anchor board would be empty)."""
    app = create_app({"model": str(small_artifact), "ranking": {"new_anchor_days": 2000}})
    return app.test_client(), app.extensions["xuanpin"]["serving"]


def expected_board(serving, window: str, metric: str, category: str | None = None) -> list[int]:
    """The board by its definition: gated rooms that sold, by the metric, the other metric, fans, row."""
    m = serving.model
    w = WINDOWS[window]
    gmv, orders = np.asarray(m.anchor_window_gmv)[:, w], np.asarray(m.anchor_window_orders)[:, w]
    if category is None:
        gmv, orders = np.round(gmv.sum(axis=1), 2), orders.sum(axis=1)
    else:
        col = m.audience.labels["category"].index(category)
        gmv, orders = gmv[:, col], orders[:, col]
    first, second = (gmv, orders) if metric == "gmv" else (orders, gmv)
    fans = np.asarray(m.audience.fans)
    rows = [a for a in range(len(gmv)) if serving.ranker.anchor_gate[a] and first[a] > 0]
    return sorted(rows, key=lambda a: (-first[a], -second[a], -fans[a], a))


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("metric", ["gmv", "orders"])
def test_the_board_ranks_gated_rooms_by_the_metric_in_the_window(client, serving, window, metric):
    body = get(client, "/v1/rankings/anchors", window=window, metric=metric, k=200)
    expected = expected_board(serving, window, metric)
    ids = serving.model.anchor_ids.ids
    assert [it["anchor"]["anchor_id"] for it in body["items"]] == [ids[a].item() for a in expected]
    assert [it["rank"] for it in body["items"]] == list(range(1, len(expected) + 1))
    assert body["paging"]["candidates"] == len(expected) and body["paging"]["next_offset"] is None
    st = serving.model.anchor_stats
    for it in body["items"]:
        row = serving.model.anchor_ids.lookup(str(it["anchor"]["anchor_id"]))
        assert it["fans"] == it["anchor"]["fans"] == int(serving.model.audience.fans[row])
        if window != "1d":  # the totals of the anchor profile's statistics
            assert it["gmv"] == pytest.approx(float(st[f"gmv_{window}"].iloc[row]), abs=0.01)
            assert it["orders"] == int(st[f"orders_{window}"].iloc[row])


def test_the_default_board_is_seven_days_by_gmv(client):
    body = get(client, "/v1/rankings/anchors")
    assert (body["window"], body["metric"], body["new"]) == ("7d", "gmv", False)
    assert body["items"] == get(client, "/v1/rankings/anchors", window="7d", metric="gmv", k=50)["items"]


def test_a_category_board_counts_only_that_category(client, serving):
    for category in serving.ranker.goods.categories[:4]:
        body = get(client, "/v1/rankings/anchors", window="30d", category=category, k=200)
        expected = expected_board(serving, "30d", "gmv", category)
        assert [serving.model.anchor_ids.lookup(str(it["anchor"]["anchor_id"])) for it in body["items"]] == expected
        col = serving.model.audience.labels["category"].index(category)
        for it in body["items"]:
            row = serving.model.anchor_ids.lookup(str(it["anchor"]["anchor_id"]))
            assert it["gmv"] == pytest.approx(float(serving.model.anchor_category_gmv[row, col]), abs=0.01)


def test_pages_are_slices_of_one_order(client):
    """Two pages of 10 are one page of 20, ranks continuing."""
    whole = get(client, "/v1/rankings/anchors", window="30d", metric="orders", k=40)["items"]
    first = get(client, "/v1/rankings/anchors", window="30d", metric="orders", k=10)
    second = get(client, "/v1/rankings/anchors", window="30d", metric="orders", k=10, offset=10)
    assert first["items"] + second["items"] == whole[:20]
    assert first["paging"]["next_offset"] == 10 and second["items"][0]["rank"] == 11


def test_rooms_tied_on_the_metric_take_consecutive_ranks(client, serving):
    """Never both 第 1 名: tied on orders, the one with more GMV (then more fans) ranks first."""
    tied = 0
    for category in serving.ranker.goods.categories:
        items = get(client, "/v1/rankings/anchors", window="30d", metric="orders", category=category, k=200)["items"]
        assert [it["rank"] for it in items] == list(range(1, len(items) + 1))
        for a, b in itertools.pairwise(items):
            assert (a["orders"], a["gmv"], a["fans"]) >= (b["orders"], b["gmv"], b["fans"])
            tied += a["orders"] == b["orders"]
    assert tied > 0  # the small world has ties to break


def test_a_tier_board_holds_only_that_tier(client):
    body = get(client, "/v1/rankings/anchors", window="30d", tier="腰部", k=200)
    assert body["items"] and {it["anchor"]["tier"] for it in body["items"]} == {"腰部"}
    everyone = get(client, "/v1/rankings/anchors", window="30d", k=200)["items"]
    assert [it["anchor"] for it in body["items"]] == [it["anchor"] for it in everyone if it["anchor"]["tier"] == "腰部"]


def test_the_new_anchor_board_holds_the_new_anchors_by_the_configured_rule(new_client, client):
    c, serving = new_client
    body = get(c, "/v1/rankings/anchors", window="30d", new="true", k=200)
    assert body["items"] and all(it["new_anchor"] for it in body["items"])
    rooms, cfg = serving.ranker.rooms, serving.ranker.config
    for it in body["items"]:
        row = serving.model.anchor_ids.lookup(str(it["anchor"]["anchor_id"]))
        assert rooms.age_days[row] < cfg.new_anchor_days and rooms.gmv_30d[row] < cfg.new_anchor_gmv_30d
        assert rooms.violations[row] <= cfg.new_anchor_max_violations
    # every new anchor who passes the gates: those that sold, then those that have not yet (by fans)
    assert body["paging"]["candidates"] == int((rooms.new & serving.ranker.anchor_gate).sum())
    unsold = [it for it in body["items"] if it["gmv"] == 0]
    assert body["items"][len(body["items"]) - len(unsold):] == unsold
    assert [it["fans"] for it in unsold] == sorted((it["fans"] for it in unsold), reverse=True)
    # with the default 90 days, the small world's anchors are too old: an empty board, not an error
    default = get(client, "/v1/rankings/anchors", window="30d", new="true")
    assert default["items"] == [] and default["paging"]["candidates"] == 0


def test_each_row_carries_the_audience_in_one_line(client, serving):
    aud = serving.model.audience
    for it in get(client, "/v1/rankings/anchors", k=10)["items"]:
        row = serving.model.anchor_ids.lookup(str(it["anchor"]["anchor_id"]))
        line = it["audience"]
        parts = line["text"].split(" · ")
        for dim, part in zip(("gender", "age_band", "region"), parts, strict=False):
            shares = np.asarray(aud.shares[dim][row])
            label = aud.labels[dim][int(shares.argmax())]
            assert line[dim] == {"label": label, "share": pytest.approx(float(shares.max()), abs=1e-4)}
            assert part.startswith(label) and part.endswith(f"{shares.max():.0%}")
        value = float(serving.model.audience_order_value[row])
        assert line["order_value"] == pytest.approx(value) and parts[-1] == f"客单价 ¥{value:,.0f}"


@pytest.mark.parametrize(("param", "value", "listed"), [("category", "不存在", "美妆"), ("tier", "超头部", "腰部")])
def test_unknown_category_or_tier_is_a_400_listing_the_valid_ones(client, param, value, listed):
    err = error(client, "/v1/rankings/anchors", **{param: value})
    assert err["field"] == param and value in err["message"] and listed in err["message"]


@pytest.mark.parametrize(("params", "field"), [({"window": "2d"}, "window"), ({"metric": "fans"}, "metric"),
                                               ({"k": 0}, "k"), ({"k": 201}, "k"), ({"offset": -1}, "offset"),
                                               ({"new": "maybe"}, "new"), ({"sort": "gmv"}, "sort")])
def test_invalid_board_parameters_are_400s_naming_them(client, params, field):
    assert error(client, "/v1/rankings/anchors", **params)["field"] == field


def test_a_model_without_boards_answers_503(artifact_without_boards):
    c = create_app({"model": str(artifact_without_boards)}).test_client()
    r = c.get("/v1/rankings/anchors")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "not_available"
    assert c.get("/v1/products/6000000001/anchors?k=3").status_code == 200  # the square works without


@pytest.fixture(scope="module")
def artifact_without_boards(small_artifact, tmp_path_factory):
    import shutil

    from tests.recommender.artifact.conftest import Editable

    copy = Editable(shutil.copytree(small_artifact, tmp_path_factory.mktemp("format7") / "artifact"))
    copy.as_format_7()
    return copy.path


# -- 达人广场 filters on /v1/products/<id>/anchors --------------------------------------------------------------


def square(client, product, **params) -> list[dict]:
    return get(client, f"/v1/products/{product}/anchors", k=200, **params)["items"]


def rows_of(serving, items) -> np.ndarray:
    return np.array([serving.model.anchor_ids.lookup(str(it["anchor"]["anchor_id"])) for it in items], np.int64)


def test_each_square_filter_keeps_exactly_the_rooms_that_pass_it(client, serving, ids):
    """Each filter alone: the anchors shown are those of the unfiltered list that pass it, in the same order."""
    m = serving.model
    aud, labels = m.audience.shares, m.audience.labels
    product = ids["product"]
    everyone = square(client, product)
    rows = rows_of(serving, everyone)
    category = labels["category"].index(m.products["category"].iloc[m.product_ids.lookup(str(product))])
    value = np.asarray(m.audience_order_value)
    fans = np.asarray(m.audience.fans)
    cases = {
        "max_fans": ({"max_fans": 100}, fans[rows] <= 100),
        "fans range": ({"min_fans": 50, "max_fans": 150}, (fans[rows] >= 50) & (fans[rows] <= 150)),
        "gender": ({"gender": "女", "gender_share_min": 0.7}, aud["gender"][rows, labels["gender"].index("女")] >= 0.7),
        "gender default": ({"gender": "男"}, aud["gender"][rows, labels["gender"].index("男")] >= 0.5),
        "age band": ({"age_band": "24-30", "age_share_min": 0.3},
                     aud["age_band"][rows, labels["age_band"].index("24-30")] >= 0.3),
        "region": ({"region": "广东"}, aud["region"][rows, labels["region"].index("广东")] >= 0.1),
        "price level": ({"audience_price_min": 80, "audience_price_max": 160},
                        (value[rows] >= 80) & (value[rows] <= 160)),
        "category gmv": ({"category_gmv_min": 500}, np.asarray(m.anchor_category_gmv)[rows, category] >= 500),
        "tier": ({"tier": "尾部"}, np.array([it["anchor"]["tier"] == "尾部" for it in everyone])),
    }
    for name, (params, keep) in cases.items():
        got = square(client, product, **params)
        assert 0 < len(got) < len(everyone), name
        assert [it["anchor"] for it in got] == [it["anchor"] for it, k in zip(everyone, keep, strict=True) if k], name


def test_square_filters_combine_and_page_as_one_order(client, ids):
    params = {"gender": "女", "gender_share_min": 0.6, "audience_price_max": 200}
    whole = square(client, ids["product"], **params)
    assert len(whole) > 4
    first = get(client, f"/v1/products/{ids['product']}/anchors", k=2, **params)
    second = get(client, f"/v1/products/{ids['product']}/anchors", k=2, offset=2, **params)
    assert first["items"] + second["items"] == [dict(it, rank=i + 1) for i, it in enumerate(whole[:4])]
    assert first["paging"]["candidates"] == len(whole)
    for it in whole:
        assert it["audience"]["gender"]["label"] == "女" and it["audience"]["gender"]["share"] >= 0.6
        assert it["audience"]["order_value"] <= 200


def test_the_square_s_new_filter_follows_the_new_anchor_rule(new_client):
    c, serving = new_client
    product = serving.model.product_ids.ids[0].item()
    got = square(c, product, new="true")
    assert got and all(it["new_anchor"] for it in got)
    assert serving.ranker.rooms.new[rows_of(serving, got)].all()
    assert len(got) < len(square(c, product))


@pytest.mark.parametrize(("param", "value", "listed"), [("tier", "超头部", "尾部"), ("gender", "未知", "女"),
                                                         ("age_band", "99-100", "24-30"), ("region", "火星", "广东")])
def test_unknown_square_labels_are_400s_listing_the_valid_ones(client, ids, param, value, listed):
    err = error(client, f"/v1/products/{ids['product']}/anchors", **{param: value})
    assert err["field"] == param and value in err["message"] and listed in err["message"]


@pytest.mark.parametrize(("params", "field"), [
    ({"min_fans": 100, "max_fans": 10}, "max_fans"), ({"audience_price_min": 90, "audience_price_max": 10},
                                                      "audience_price_max"),
    ({"gender": "女", "gender_share_min": 1.5}, "gender_share_min"),
    ({"age_band": "24-30", "age_share_min": -0.1}, "age_share_min"),
    ({"category_gmv_min": -1}, "category_gmv_min"), ({"new": "perhaps"}, "new")])
def test_empty_ranges_and_invalid_square_values_are_400s_naming_them(client, ids, params, field):
    assert error(client, f"/v1/products/{ids['product']}/anchors", **params)["field"] == field


@pytest.mark.parametrize(("share", "label", "value"), [("gender_share_min", "gender", "女"),
                                                        ("age_share_min", "age_band", "24-30"),
                                                        ("region_share_min", "region", "广东")])
def test_a_share_threshold_without_its_label_is_a_400_not_ignored(client, ids, share, label, value):
    """The probe's gender_share_min=0.99 alone answered every room with a 200."""
    err = error(client, f"/v1/products/{ids['product']}/anchors", **{share: 0.3})
    assert err["field"] == share and f"only with {label}" in err["message"]
    assert client.get(f"/v1/products/{ids['product']}/anchors", query_string={share: 0.3, label: value}
                      ).status_code == 200


def test_the_model_route_shows_the_thresholds_and_the_labels(client, serving):
    body = get(client, "/v1/model")
    ranking = body["ranking"]
    for key in ("small_merchant_gmv_30d", "new_shop_days", "new_anchor_days", "new_anchor_gmv_30d",
                "new_anchor_max_violations"):
        assert key in ranking
    assert "small_merchant_quantile" not in ranking
    labels = body["anchor_labels"]
    assert labels["tier"] == serving.ranker.rooms.tiers
    assert labels["region"] == serving.model.audience.labels["region"] and "女" in labels["gender"]
