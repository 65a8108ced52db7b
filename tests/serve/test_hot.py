"""Hot items through the API, the same specification for the in-process and the Redis store: ingestion validates
each event and is idempotent, a burst surfaces platform-wide and in its own room only, gated goods never
surface, the fan feed is personalised, and a dead Redis degrades to the last known list."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import redis

from serve.app import create_app
from tests.conftest import redis_server

TOKEN = "events-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def hot_config(**extra) -> dict:
    return {"clock": "events", "events_token": TOKEN, "refresh_seconds": 0, "retry_seconds": 0, **extra}


def started(config: dict):
    """The app, once its hot store has counted the model's last week (in the background with Redis)."""
    app = create_app(config)
    loading = app.extensions["xuanpin"]["hot"].bootstrapping
    if loading is not None:
        loading.join(60)
    return app


@pytest.fixture(params=["memory", "redis"])
def app(request, small_artifact):
    hot = hot_config()
    if request.param == "redis":
        hot |= {"redis_url": request.getfixturevalue("redis_url"), "redis_prefix": f"t{uuid.uuid4().hex[:8]}:"}
    return started({"model": str(small_artifact), "hot": hot})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(app):
    """Ids to play with: goods that pass the gates, one that fails them, two rooms, the store's clock."""
    s = app.extensions["xuanpin"]["serving"]
    hot = app.extensions["xuanpin"]["hot"]
    ok = np.flatnonzero(s.ranker.gate)
    ids = s.model.product_ids.ids
    now = datetime.fromtimestamp(hot.store.now() * 60, UTC)
    return {"goods": [ids[r].item() for r in ok[:8]], "gated": ids[np.flatnonzero(~s.ranker.gate)[0]].item(),
            "rooms": [s.model.anchor_ids.ids[a].item() for a in (0, 1)], "now": now, "serving": s}


def event(order_id, anchor, product, at: datetime, **extra) -> dict:
    return {"order_id": order_id, "fan_id": 1, "anchor_id": anchor, "product_id": product, "quantity": 1,
            "amount": 9.9, "ordered_at": at.isoformat(), **extra}


def burst(client, anchor, product, at: datetime, orders: int = 30, tag: str = "b") -> dict:
    """`orders` orders of one good in one room over the five minutes before `at`."""
    events = [event(f"{tag}-{product}-{anchor}-{i}", anchor, product, at - timedelta(seconds=10 * i))
              for i in range(orders)]
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH)
    assert r.status_code == 200, r.json
    return r.json


def hot_ids(response) -> list:
    return [item["product"]["product_id"] for item in response.json["items"]]


# -- ingestion ---------------------------------------------------------------------------------------------

def test_the_model_s_recent_orders_are_counted_at_start(app, small_artifact):
    from recommender.artifact import load_model

    hot = app.extensions["xuanpin"]["hot"]
    model = load_model(small_artifact)
    recent = model.recent_orders
    assert hot.store.now() == int(recent["minute"].max())
    goods, n = np.unique(model.product_ids.ids[recent["product"]].astype(str), return_counts=True)
    day, week = hot.store.history(goods)
    # the hour ring holds the current hour and the 167 before it: up to an hour of the oldest day falls out
    assert 0.97 * n.sum() <= week.sum() <= n.sum() and (week <= n).all() and (day <= week).all()


def test_ingestion_needs_the_token(client, world):
    one = {"events": [event("t1", world["rooms"][0], world["goods"][0], world["now"])]}
    assert client.post("/v1/events/orders", json=one).status_code == 401
    assert client.post("/v1/events/orders", json=one, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/v1/events/orders", json=one, headers={"Authorization": TOKEN}).status_code == 401
    for scheme in ("bearer", "BEARER"):  # the scheme is case-insensitive (RFC 7235), the token is not
        assert client.post("/v1/events/orders", json=one,
                           headers={"Authorization": f"{scheme} {TOKEN}"}).status_code == 200
    assert client.post("/v1/events/orders", json=one,
                       headers={"Authorization": f"Bearer {TOKEN.upper()}"}).status_code == 401


def test_ingestion_is_off_without_a_token(small_artifact):
    app = create_app({"model": str(small_artifact), "hot": {"clock": "events"}})
    r = app.test_client().post("/v1/events/orders", json={"events": []}, headers=AUTH)
    assert r.status_code == 403 and "XUANPIN_EVENTS_TOKEN" in r.json["error"]["message"]


def test_each_event_is_validated_and_good_ones_are_still_counted(client, world):
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]
    events = [
        event("v1", room, good, now),
        event("v2", room, good, now, quantity=0),  # bad quantity
        event("v3", room, "no-such-good", now),  # unknown product
        event("v4", "no-such-room", good, now),  # unknown anchor
        {"order_id": "v5", "anchor_id": room},  # missing fields
        event("v6", room, good, now, refunded=True),  # not demand
        event("v7", room, good, now, colour="red"),  # unknown field
        event("v8", room, good, now - timedelta(days=9)),  # older than the week counted
        "not an object",
    ]
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH)
    assert r.status_code == 200
    body = r.json
    assert (body["received"], body["accepted"], body["ignored"], body["rejected"]) == (9, 1, 2, 6)
    # counted once, as an outcome; not as an error response (this is a 200: an operator's probe)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'xuanpin_hot_orders_total{outcome="rejected"} 6.0' in metrics and "event_rejected" not in metrics
    by_index = {e["index"]: e for e in body["errors"]}
    assert set(by_index) == {1, 2, 3, 4, 6, 8}
    assert by_index[1]["field"] == "quantity" and by_index[1]["order_id"] == "v2"
    assert by_index[2]["field"] == "product_id" and "no-such-good" in by_index[2]["message"]
    assert by_index[3]["field"] == "anchor_id"
    assert by_index[4]["field"] in {"fan_id", "product_id", "quantity", "amount", "ordered_at"}
    assert by_index[6]["message"] == "unknown field 'colour'"


def test_a_replayed_batch_is_not_counted_twice(client, world):
    first = burst(client, world["rooms"][0], world["goods"][0], world["now"], orders=12, tag="replay")
    again = burst(client, world["rooms"][0], world["goods"][0], world["now"], orders=12, tag="replay")
    assert (first["accepted"], first["duplicates"]) == (12, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 12)


@pytest.mark.parametrize("body", [[], {"events": []}, {"events": "x"}, {"orders": [1]}])
def test_a_malformed_body_is_a_400_naming_events(client, body):
    r = client.post("/v1/events/orders", json=body, headers=AUTH)
    assert r.status_code == 400 and r.json["error"]["field"] == "events"


def test_no_body_at_all_is_a_400_naming_the_content_type(client):
    r = client.post("/v1/events/orders", headers=AUTH)
    assert r.status_code == 400 and r.json["error"]["field"] == "Content-Type"


@pytest.mark.parametrize(("data", "said"), [(b'{"events": [', "could not be read as JSON"),
                                             (b"\xff\xfe", "could not be read as JSON"),
                                             (b'{"events": [{"amount": NaN}]}', "could not be read as JSON"),
                                             (b'{"events": [{"order_id": "\\ud800x"}]}', "could not be read"),
                                             (b'{"events": [{"amount": 1e400, "order_id": "\\ud800x"}]}',
                                              "could not be read"),
                                             ('{"events": [{"amount": 1e400}]}'.encode("utf-16"),
                                              "could not be read as JSON")])
def test_a_body_that_does_not_parse_says_why(client, data, said):
    r = client.post("/v1/events/orders", data=data, content_type="application/json", headers=AUTH)
    assert r.status_code == 400 and r.json["error"]["field"] == "events" and said in r.json["error"]["message"]


def test_a_compressed_body_is_refused_naming_its_encoding(client, world):
    """An operator's probe: a gzip body read "str is not valid UTF-8"."""
    import gzip

    body = json.dumps({"events": [event("gz", world["rooms"][0], world["goods"][0], world["now"])]}).encode()
    r = client.post("/v1/events/orders", data=gzip.compress(body), content_type="application/json",
                    headers={**AUTH, "Content-Encoding": "gzip"})
    assert r.status_code == 415 and r.json["error"]["field"] == "Content-Encoding"
    assert "Content-Encoding gzip is not read: send the body uncompressed" in r.json["error"]["message"]
    r = client.post("/v1/events/orders", data=body, content_type="application/json",
                    headers={**AUTH, "Content-Encoding": "identity"})
    assert r.status_code == 200 and r.json["accepted"] == 1


@pytest.mark.parametrize(("field", "written"), [("amount", "1e400"), ("amount", "1" + "0" * 5000),
                                               ("quantity", "1" + "0" * 30), ("quantity", "7" * 5000),
                                               ("order_id", "-" + "9" * 4301)])
def test_a_number_no_double_holds_is_its_own_event_s_error_not_the_batch_s(client, world, field, written):
    """1e400 and an integer of thousands of digits are valid JSON that orjson refuses for the whole body (and
    Python's int() past 4,300 digits); like any other bad value such a number refuses only its event."""
    good = event("big-ok", world["rooms"][0], world["goods"][0], world["now"])
    bad = event("big-bad", world["rooms"][0], world["goods"][0], world["now"])
    bad[field] = "PLACEHOLDER"
    data = f'{{"events": [{json.dumps(good)}, {json.dumps(bad)}]}}'.replace('"PLACEHOLDER"', written).encode()
    r = client.post("/v1/events/orders", data=data, content_type="application/json", headers=AUTH)
    assert r.status_code == 200, r.json
    assert (r.json["accepted"], r.json["rejected"]) == (1, 1)
    assert r.json["errors"][0]["index"] == 1 and r.json["errors"][0]["field"] == field


def test_whole_numbers_are_read_exactly_with_python_s_digit_limit_off(monkeypatch):
    """With PYTHONINTMAXSTRDIGITS=0 (no limit) every integer of a re-read body became a float (review)."""
    from serve.events import _whole_number

    monkeypatch.setattr("sys.get_int_max_str_digits", lambda: 0)
    read = _whole_number("9007199254740993")  # 2^53 + 1: a float would read 9007199254740992
    assert isinstance(read, int) and read == 9007199254740993


def test_an_oversized_batch_is_refused_whole(client, world):
    events = [event(f"o{i}", world["rooms"][0], world["goods"][0], world["now"]) for i in range(5001)]
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH)
    assert r.status_code == 400 and "5001" in r.json["error"]["message"]


# -- hot lists ---------------------------------------------------------------------------------------------

def test_a_burst_surfaces_platform_wide_with_its_evidence(client, world):
    good = world["goods"][1]
    assert good not in hot_ids(client.get("/v1/rankings/hot"))
    burst(client, world["rooms"][0], good, world["now"] + timedelta(minutes=1))
    r = client.get("/v1/rankings/hot")
    assert r.status_code == 200 and r.json["stale"] is False
    item = next(i for i in r.json["items"] if i["product"]["product_id"] == good)
    assert item["recent_orders"] >= 30 and item["lift"] > 10
    assert item["lift"] == pytest.approx(item["recent_orders"] / item["expected_orders"], rel=0.01)
    assert f"{item['recent_orders']:,} 单" in item["reasons"][0]["text"]
    # the live counts the card shows: the burst is in the last 24 hours and 7 days (the snapshot's sales_7d is not)
    assert item["orders_7d"] >= item["orders_24h"] >= item["recent_orders"]
    # Beijing time, the same instant as the burst's minute
    assert r.json["as_of"].endswith("+08:00")
    assert datetime.fromisoformat(r.json["as_of"]) == (world["now"] + timedelta(minutes=1)).replace(second=0,
                                                                                                    microsecond=0)


def test_a_burst_refunded_is_taken_back_and_no_longer_hot(client, world):
    """刷单: orders posted to make a good hot and then refunded. The refunds are the orders' events again with
    refunded true; the answer counts them as refunded, and the good leaves the platform's and the room's lists."""
    room, good, at = world["rooms"][0], world["goods"][2], world["now"] + timedelta(minutes=1)
    burst(client, room, good, at, tag="fake")
    assert good in hot_ids(client.get("/v1/rankings/hot")) and good in hot_ids(client.get(f"/v1/live/{room}/hot"))
    refunds = [event(f"fake-{good}-{room}-{i}", room, good, at - timedelta(seconds=10 * i), refunded=True)
               for i in range(30)]
    body = client.post("/v1/events/orders", json={"events": refunds}, headers=AUTH).json
    assert (body["refunded"], body["ignored"], body["accepted"]) == (30, 0, 0)
    assert good not in hot_ids(client.get("/v1/rankings/hot"))
    assert good not in hot_ids(client.get(f"/v1/live/{room}/hot"))
    again = client.post("/v1/events/orders", json={"events": refunds}, headers=AUTH).json
    assert (again["refunded"], again["ignored"]) == (0, 30)  # refunded already


def test_a_room_s_burst_surfaces_in_that_room_and_not_in_another(client, world):
    room, other = world["rooms"]
    good = world["goods"][2]
    burst(client, room, good, world["now"] + timedelta(minutes=1))
    assert good in hot_ids(client.get(f"/v1/live/{room}/hot"))
    assert good not in hot_ids(client.get(f"/v1/live/{other}/hot"))
    r = client.get(f"/v1/live/{room}/hot")
    assert r.json["anchor"]["anchor_id"] == room and "本直播间" in r.json["items"][0]["reasons"][0]["text"]


def test_a_gated_good_never_surfaces_however_hot(client, world):
    burst(client, world["rooms"][0], world["gated"], world["now"] + timedelta(minutes=1), orders=60)
    assert world["gated"] not in hot_ids(client.get("/v1/rankings/hot?k=100"))
    assert world["gated"] not in hot_ids(client.get(f"/v1/live/{world['rooms'][0]}/hot?k=100"))


def test_the_category_filter_is_honoured(client, world):
    at = world["now"] + timedelta(minutes=1)
    for good in world["goods"][:4]:
        burst(client, world["rooms"][0], good, at)
    category = client.get("/v1/rankings/hot").json["items"][0]["product"]["category"]
    r = client.get("/v1/rankings/hot", query_string={"category": category, "k": 100})
    assert r.json["items"] and {i["product"]["category"] for i in r.json["items"]} == {category}


def test_the_fan_feed_is_personalised(client, world):
    s = world["serving"]
    at = world["now"] + timedelta(minutes=1)
    for n, good in enumerate(world["goods"]):
        burst(client, world["rooms"][0], good, at, orders=30 + n)
    rows = s.model.product_ids.index(np.array(world["goods"]))
    affinity = np.asarray(s.model.vectors["fan"]) @ np.asarray(s.model.vectors["product"])[rows].T
    fan_a = int(affinity[:, 0].argmax() if affinity[:, 0].max() > 0 else 0)
    fan_b = int(np.argmax(affinity[:, 0] * -1 + affinity[:, -1]))
    ids = [s.model.fan_ids.ids[f].item() for f in (fan_a, fan_b)]
    feeds = [client.get("/v1/feed/hot", query_string={"fan_id": f, "k": 8}).json for f in ids]
    assert all(f["personalised"] for f in feeds)
    order_a, order_b = ([i["product"]["product_id"] for i in f["items"]] for f in feeds)
    assert set(order_a) == set(order_b) == set(world["goods"]) and order_a != order_b
    # each fan's list puts the goods they like more higher, other things equal
    for f, fan in zip(feeds, (fan_a, fan_b), strict=True):
        shown = [world["goods"].index(i["product"]["product_id"]) for i in f["items"]]
        assert [i["affinity"] for i in f["items"]] == pytest.approx(affinity[fan, shown].tolist(), abs=1e-3)
        assert np.corrcoef(np.arange(len(shown)), affinity[fan, shown])[0, 1] < 0


def test_an_unknown_fan_gets_the_platform_list(client, world):
    burst(client, world["rooms"][0], world["goods"][3], world["now"] + timedelta(minutes=1))
    feed = client.get("/v1/feed/hot", query_string={"fan_id": "never-seen"}).json
    assert feed["personalised"] is False
    assert hot_ids(client.get("/v1/rankings/hot")) == [i["product"]["product_id"] for i in feed["items"]]


def test_goods_sold_by_followed_anchors_are_favoured_and_say_so(client, world):
    s = world["serving"]
    m = s.model
    fan = next(f for f in range(len(m.fan_ids)) if len(m.follows_of(f)) and any(
        len(m.shelf_of(int(a))) for a in m.follows_of(f)))
    anchor = next(int(a) for a in m.follows_of(fan) if len(m.shelf_of(int(a))))
    sold = [m.product_ids.ids[r].item() for r in m.shelf_of(anchor) if s.ranker.gate[r]]
    at = world["now"] + timedelta(minutes=1)
    for good in sold[:1] + world["goods"][:4]:
        burst(client, world["rooms"][1], good, at)
    feed = client.get("/v1/feed/hot", query_string={"fan_id": m.fan_ids.ids[fan].item()}).json
    item = next(i for i in feed["items"] if i["product"]["product_id"] == sold[0])
    assert item["followed_anchor"] is not None
    assert int(m.anchor_ids.lookup(item["followed_anchor"]["anchor_id"])) in set(m.follows_of(fan).tolist())
    assert any(r["code"] == "followed_anchor" for r in item["reasons"])


def test_the_followed_seller_named_is_the_one_with_most_fans(client, world):
    s = world["serving"]
    m = s.model
    fans = np.asarray(m.audience.fans)

    def sellers(f: int, good: int) -> list[int]:
        return [int(a) for a in m.follows_of(f) if good in set(m.shelf_of(int(a)).tolist())]

    # a fan two of whose followed rooms shelve the same good, and the goods of all the rooms they follow
    fan, shared = next((f, g) for f in np.argsort(-np.diff(m.follow_indptr))[:200] for a in m.follows_of(f)
                       for g in m.shelf_of(int(a)) if s.ranker.gate[g] and len(sellers(f, int(g))) >= 2)
    followed_goods = {int(g) for a in m.follows_of(fan) for g in m.shelf_of(int(a)) if s.ranker.gate[g]}
    goods = [int(shared), *sorted(followed_goods - {int(shared)})[:5]]
    at = world["now"] + timedelta(minutes=1)
    for g in goods + [int(r) for r in m.product_ids.index(np.array(world["goods"][:3]))]:
        burst(client, world["rooms"][1], m.product_ids.ids[g].item(), at)
    feed = client.get("/v1/feed/hot", query_string={"fan_id": m.fan_ids.ids[fan].item(), "k": 100}).json
    assert len(feed["items"]) >= len(goods)
    for item in feed["items"]:
        good = int(m.product_ids.lookup(item["product"]["product_id"]))
        rooms = sellers(fan, good)
        named = item.get("followed_anchor")
        if not rooms:
            assert named is None
            continue
        best = min(rooms, key=lambda a: (-fans[a], a))
        assert int(m.anchor_ids.lookup(named["anchor_id"])) == best
    assert sum(1 for i in feed["items"] if i.get("followed_anchor")) >= len(goods)


@pytest.mark.parametrize("path", ["/v1/rankings/hot?k=0", "/v1/rankings/hot?k=101", "/v1/feed/hot",
                                  "/v1/feed/hot?fan_id=1&k=x", "/v1/rankings/hot?bogus=1"])
def test_bad_parameters_are_400(client, path):
    assert client.get(path).status_code == 400


def test_an_unknown_room_is_404(client):
    assert client.get("/v1/live/no-such-anchor/hot").status_code == 404


# -- clocks and failures -------------------------------------------------------------------------------------

def test_with_the_wall_clock_and_an_old_model_the_store_warms_up_before_calling_anything_hot(small_artifact):
    """The snapshot's week is long past, so the store holds no whole hour of any good's usual pace: a burst
    before it has one cannot be told from a steady seller, and the list says it is warming up instead of
    flagging it. Orders in the future are refused."""
    app = create_app({"model": str(small_artifact), "hot": hot_config(clock="wall")})
    client = app.test_client()
    first = client.get("/v1/rankings/hot").json
    assert first["items"] == [] and first["warming_up"] is True and first["baseline_minutes"] == 0
    s = app.extensions["xuanpin"]["serving"]
    good, room = s.model.product_ids.ids[np.flatnonzero(s.ranker.gate)[0]].item(), s.model.anchor_ids.ids[0].item()
    later = datetime.now(UTC) + timedelta(hours=1)
    r = client.post("/v1/events/orders", json={"events": [event("f1", room, good, later)]}, headers=AUTH)
    assert r.json["rejected"] == 1 and r.json["errors"][0]["field"] == "ordered_at"
    burst(client, room, good, datetime.now(UTC), tag="wall")
    after = client.get("/v1/rankings/hot").json
    assert after["items"] == [] and after["warming_up"] is True


def test_with_the_events_clock_a_mistyped_future_date_is_refused_and_cannot_stop_the_lists(client, world):
    """One order dated ahead of its batch would move the events clock past every later order (the hot lists
    then stay empty, with Redis even across restarts): refused, naming the field and the setting, whether it
    is in the real future (a mistyped year) or only days after the replayed week; the rest of its batch and
    later orders still count."""
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]  # the store's clock: the snapshot's
    year_typo = event("typo-year", room, good, now.replace(year=now.year + 36))
    day_typo = event("typo-days", room, good, now + timedelta(days=10))  # still before the real today
    fine = [event(f"fine{i}", room, good, now - timedelta(minutes=i)) for i in range(3)]
    r = client.post("/v1/events/orders", json={"events": [year_typo, *fine[:2], day_typo, fine[2]]}, headers=AUTH)
    assert r.json["rejected"] == 2 and r.json["accepted"] == 3
    by_index = {e["index"]: e for e in r.json["errors"]}
    assert by_index[0]["field"] == "ordered_at" and "in the future" in by_index[0]["message"]
    assert by_index[3]["field"] == "ordered_at" and "max_events_ahead_minutes" in by_index[3]["message"]
    burst(client, room, good, now + timedelta(hours=2), tag="after-typo")  # a later hour still moves the clock
    assert good in hot_ids(client.get("/v1/rankings/hot"))


def test_with_the_events_clock_a_replay_that_jumps_days_ahead_is_counted_not_stalled(client, world):
    """A whole batch three days after the clock is a jump in the replay, not a typo: counted, and it moves the
    clock, so the batches after it count too."""
    room, good, now = world["rooms"][1], world["goods"][1], world["now"]
    for day in (3, 4):
        reply = burst(client, room, good, now + timedelta(days=day), tag=f"jump{day}")
        assert reply["accepted"] == 30 and reply["rejected"] == 0
    assert good in hot_ids(client.get(f"/v1/live/{room}/hot"))


def test_with_the_events_clock_a_lone_order_days_ahead_cannot_move_the_clock(small_artifact):
    """An integrator posting one order per request: a batch of one is its own median, so the median alone let one
    mistyped date move the clock ten days ahead, after which every real order was 'ignored' and the lists stayed
    empty (with Redis even across restarts). A jump needs min_jump_orders of one batch together; fewer are
    refused, naming the setting, and the real orders of the same batch and after it count."""
    app = started({"model": str(small_artifact), "hot": hot_config()})
    client = app.test_client()
    s = app.extensions["xuanpin"]["serving"]
    good = s.model.product_ids.ids[np.flatnonzero(s.ranker.gate)[0]].item()
    room = s.model.anchor_ids.ids[0].item()
    now = datetime.fromtimestamp(app.extensions["xuanpin"]["hot"].store.now() * 60, UTC)
    alone = client.post("/v1/events/orders", json={"events": [event("lone", room, good, now + timedelta(days=10))]},
                        headers=AUTH).json
    assert alone["rejected"] == 1 and alone["errors"][0]["field"] == "ordered_at"
    assert "hot.min_jump_orders" in alone["errors"][0]["message"]
    mixed = [event("real", room, good, now + timedelta(minutes=1)),
             *(event(f"typo{i}", room, good, now + timedelta(days=10, minutes=i)) for i in range(4))]
    r = client.post("/v1/events/orders", json={"events": mixed}, headers=AUTH).json
    assert r["accepted"] == 1 and r["rejected"] == 4 and [e["index"] for e in r["errors"]] == [1, 2, 3, 4]
    reply = burst(client, room, good, now + timedelta(minutes=5), tag="after")
    assert reply["accepted"] == 30 and reply["ignored"] == 0
    assert good in hot_ids(client.get("/v1/rankings/hot"))
    jump = [event(f"jump{i}", room, good, now + timedelta(days=3, minutes=i)) for i in range(5)]
    assert client.post("/v1/events/orders", json={"events": jump}, headers=AUTH).json["accepted"] == 5


def test_with_the_events_clock_and_nothing_counted_a_batch_is_bounded_by_its_median_and_real_time(small_artifact):
    app = create_app({"model": str(small_artifact), "hot": hot_config(bootstrap=False)})
    client = app.test_client()
    s = app.extensions["xuanpin"]["serving"]
    good, room = s.model.product_ids.ids[np.flatnonzero(s.ranker.gate)[0]].item(), s.model.anchor_ids.ids[0].item()
    at = datetime(2026, 11, 1, 12, tzinfo=UTC)
    events = [event(f"m{i}", room, good, at + timedelta(minutes=i)) for i in range(5)]
    events.append(event("days", room, good, at + timedelta(days=9)))
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH)
    assert r.json["accepted"] == 5 and r.json["rejected"] == 1 and r.json["errors"][0]["index"] == 5
    assert "median" in r.json["errors"][0]["message"]
    alone = client.post("/v1/events/orders", json={"events": [event("y", room, good, at.replace(year=2062))]},
                        headers=AUTH)  # its own median: only real time bounds it
    assert alone.json["rejected"] == 1 and "in the future" in alone.json["errors"][0]["message"]


def bursting_on(small_artifact, url: str, retry_seconds: float):
    """A service on the Redis at `url` with one good bursting in one room: (client, room, good, the store's now)."""
    app = started({"model": str(small_artifact), "hot": hot_config(redis_url=url, retry_seconds=retry_seconds)})
    client = app.test_client()
    s = app.extensions["xuanpin"]["serving"]
    good = s.model.product_ids.ids[np.flatnonzero(s.ranker.gate)[0]].item()
    room = s.model.anchor_ids.ids[0].item()
    now = datetime.fromtimestamp(app.extensions["xuanpin"]["hot"].store.now() * 60, UTC)
    burst(client, room, good, now + timedelta(minutes=1))
    return client, room, good, now


def test_redis_killed_serves_the_last_list_marked_stale_and_the_rest_still_works(small_artifact):
    with redis_server() as (proc, url):
        client, room, good, now = bursting_on(small_artifact, url, retry_seconds=60)
        before = client.get("/v1/rankings/hot").json
        assert good in [i["product"]["product_id"] for i in before["items"]] and not before["stale"]
        proc.kill()
        proc.wait()
        after = client.get("/v1/rankings/hot")
        assert after.status_code == 200 and after.json["stale"] is True and "redis" in after.json["error"]
        assert after.json["items"] == before["items"]
        live = client.get(f"/v1/live/{room}/hot")
        assert live.status_code == 200 and live.json["stale"] is True
        r = client.post("/v1/events/orders", json={"events": [event("k1", room, good, now)]}, headers=AUTH)
        assert r.status_code == 503 and r.json["error"]["code"] == "store_unavailable"
        assert client.get(f"/v1/anchors/{room}/picks").status_code == 200  # the rest is unaffected
        assert client.get("/readyz").status_code == 200
        assert "redis unreachable" in client.get("/v1/model").json["hot"]["last_error"]
        # the outage shows in the metrics from the readers' side too, not only from ingestion's 503s
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'xuanpin_hot_stale_answers_total{route="/v1/rankings/hot"} 1.0' in metrics
        assert 'xuanpin_hot_stale_answers_total{route="/v1/live/<anchor_id>/hot"} 1.0' in metrics
        # an operator's probe: the CSV download dropped the flag, and a file saved in the outage looked current
        download = client.get("/v1/rankings/hot?format=csv")
        assert "-stale.csv" in download.headers["Content-Disposition"]
        lines = download.get_data().decode("utf-8-sig").splitlines()
        assert lines[0].endswith(",数据状态") and len(lines) > 1 and all("过期" in line for line in lines[1:])


def test_two_services_on_one_redis_share_counts_and_bootstrap_once(small_artifact, redis_url):
    hot = hot_config(redis_url=redis_url, redis_prefix=f"shared{uuid.uuid4().hex[:6]}:")
    one, two = (started({"model": str(small_artifact), "hot": hot}) for _ in range(2))
    s = one.extensions["xuanpin"]["serving"]
    good = s.model.product_ids.ids[np.flatnonzero(s.ranker.gate)[5]].item()
    room = s.model.anchor_ids.ids[3].item()
    now = datetime.fromtimestamp(one.extensions["xuanpin"]["hot"].store.now() * 60, UTC)
    first = burst(one.test_client(), room, good, now + timedelta(minutes=1), tag="w1")
    again = burst(two.test_client(), room, good, now + timedelta(minutes=1), tag="w1")
    assert first["accepted"] == 30 and again["duplicates"] == 30  # the other worker's orders are known
    assert 'xuanpin_hot_orders_total{outcome="accepted"} 30.0' in one.test_client().get("/metrics").get_data(
        as_text=True)
    assert 'xuanpin_hot_orders_total{outcome="duplicate"} 30.0' in two.test_client().get("/metrics").get_data(
        as_text=True)
    assert two.extensions["xuanpin"]["hot"].bootstrapping is None  # the first claimed the model's week
    assert good in hot_ids(two.test_client().get("/v1/rankings/hot"))


def test_the_model_route_reports_the_hot_store(client, world):
    client.get("/v1/rankings/hot")
    hot = client.get("/v1/model").json["hot"]
    assert hot["store"] in {"memory", "redis"} and hot["clock"] == "events" and hot["last_error"] is None
    assert hot["as_of_minute"] == int(world["now"].timestamp() // 60)


def test_a_background_thread_keeps_the_platform_list_current(small_artifact):
    app = started({"model": str(small_artifact), "hot": hot_config(refresh_seconds=0.2)})
    client = app.test_client()
    s = app.extensions["xuanpin"]["serving"]
    good = s.model.product_ids.ids[np.flatnonzero(s.ranker.gate)[7]].item()
    room = s.model.anchor_ids.ids[2].item()
    assert good not in hot_ids(client.get("/v1/rankings/hot"))  # the first request computes and starts it
    now = datetime.fromtimestamp(app.extensions["xuanpin"]["hot"].store.now() * 60, UTC)
    burst(client, room, good, now + timedelta(minutes=1), tag="bg")
    deadline = time.monotonic() + 10
    while good not in hot_ids(client.get("/v1/rankings/hot")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert good in hot_ids(client.get("/v1/rankings/hot"))


def test_with_redis_a_room_s_list_is_answered_from_memory_while_a_thread_recomputes_it(small_artifact, redis_url):
    hot = hot_config(refresh_seconds=1.0, redis_url=redis_url, redis_prefix=f"swr{uuid.uuid4().hex[:6]}:")
    app = started({"model": str(small_artifact), "hot": hot})
    client = app.test_client()
    s = app.extensions["xuanpin"]["serving"]
    good = s.model.product_ids.ids[np.flatnonzero(s.ranker.gate)[4]].item()
    room = s.model.anchor_ids.ids[5].item()
    assert good not in hot_ids(client.get(f"/v1/live/{room}/hot"))  # a first request computes on the spot
    now = datetime.fromtimestamp(app.extensions["xuanpin"]["hot"].store.now() * 60, UTC)
    burst(client, room, good, now + timedelta(minutes=1), tag="swr")
    time.sleep(1.05)
    # a period old: this answer is the list held (without the burst), and a thread recomputes it
    assert good not in hot_ids(client.get(f"/v1/live/{room}/hot"))
    deadline = time.monotonic() + 10
    while good not in hot_ids(client.get(f"/v1/live/{room}/hot")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert good in hot_ids(client.get(f"/v1/live/{room}/hot"))



def test_an_id_beyond_64_bits_is_that_event_s_error_not_the_batch_s(client, world):
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]
    events = [event("big-1", room, good, now), event("big-2", 2**63, good, now),
              event("big-3", room, 2**64 - 1, now), event(2**63 + 5, room, good, now)]
    r = client.post("/v1/events/orders", data=json.dumps({"events": events}), content_type="application/json",
                    headers=AUTH)
    assert r.status_code == 200, r.json
    assert (r.json["accepted"], r.json["rejected"]) == (1, 3)
    assert sorted(e["field"] for e in r.json["errors"]) == ["anchor_id", "order_id", "product_id"]


def test_booleans_and_non_finite_amounts_are_that_event_s_error(client, world):
    """JSON's true is no id nor quantity (pydantic would read 1), and an amount must be a finite number."""
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]
    events = [event(True, room, good, now), event("bool-fan", room, good, now, fan_id=False),
              event("bool-room", True, good, now), event("bool-qty", room, good, now, quantity=True),
              event("inf", room, good, now, amount="inf"), event("nan", room, good, now, amount="NaN"),
              event("big", room, good, now, amount=1e308 * 10), event("fine", room, good, now)]
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH)
    assert r.status_code == 200, r.json
    assert (r.json["accepted"], r.json["rejected"]) == (1, 7)
    assert [(e["index"], e["field"]) for e in r.json["errors"]] == [
        (0, "order_id"), (1, "fan_id"), (2, "anchor_id"), (3, "quantity"), (4, "amount"), (5, "amount"),
        (6, "amount")]
    assert r.json["errors"][0]["order_id"] is None  # a boolean is no id to echo


def test_an_empty_order_id_is_that_event_s_error_and_spaces_around_an_id_do_not_make_another_order(client, world):
    """An empty id would make every later empty one a silent duplicate."""
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]
    events = [event("", room, good, now), event("   ", room, good, now), event("pad-1", room, good, now),
              event(" pad-1 ", room, good, now)]
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH).json
    assert [(e["index"], e["field"]) for e in r["errors"]] == [(0, "order_id"), (1, "order_id")]
    assert (r["accepted"], r["duplicates"]) == (1, 1)


def test_an_order_time_is_iso_text_not_seconds_since_1970(client, world):
    """A number would be read as seconds: milliseconds then land tens of thousands of years on, 0 in 1970."""
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]
    events = [event("epoch-s", room, good, now), event("epoch-ms", room, good, now), event("zero", room, good, now),
              event("iso", room, good, now)]
    events[0]["ordered_at"] = int(now.timestamp())
    events[1]["ordered_at"] = int(now.timestamp() * 1000)
    events[2]["ordered_at"] = 0
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH).json
    assert [(e["index"], e["field"]) for e in r["errors"]] == [(0, "ordered_at"), (1, "ordered_at"), (2, "ordered_at")]
    assert "ISO 8601" in r["errors"][0]["message"] and r["accepted"] == 1


def test_quantities_amounts_and_refunds_are_json_numbers_and_booleans_not_text(client, world):
    """A client that quotes its numbers or writes "yes" is told so per event, not silently counted."""
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]
    events = [event("q-text", room, good, now, quantity="2"), event("a-text", room, good, now, amount="9.9"),
              event("r-yes", room, good, now, refunded="yes"), event("r-one", room, good, now, refunded=1),
              event("q-float", room, good, now, quantity=2.0), event("r-true", room, good, now, refunded=True)]
    r = client.post("/v1/events/orders", json={"events": events}, headers=AUTH)
    assert r.status_code == 200, r.json
    assert [(e["index"], e["field"]) for e in r.json["errors"]] == [
        (0, "quantity"), (1, "amount"), (2, "refunded"), (3, "refunded")]
    assert "JSON number" in r.json["errors"][0]["message"]
    assert (r.json["accepted"], r.json["ignored"], r.json["rejected"]) == (1, 1, 4)  # 2.0 items; a refund


def test_order_ids_are_echoed_as_text(client, world):
    """As the key they are counted under (42 and "42" are one order); a 64-bit id survives a JavaScript client."""
    room, good, now = world["rooms"][0], world["goods"][0], world["now"]
    events = [event(2**62 + 1, room, "no-such-good", now), event("s-1", room, good, now, quantity=0),
              event(2**63 + 5, room, good, now)]
    r = client.post("/v1/events/orders", data=json.dumps({"events": events}), content_type="application/json",
                    headers=AUTH)
    assert [e["order_id"] for e in r.json["errors"]] == [str(2**62 + 1), "s-1", str(2**63 + 5)]


@pytest.mark.parametrize("refusal", ["out_of_memory", "read_only"])
def test_a_redis_that_refuses_writes_is_unavailable_like_a_dead_one_and_recovers(small_artifact, refusal):
    """Up but refusing (full with noeviction, or a read-only replica after a failover): 503 on ingestion and stale
    lists naming the error, as when Redis is down (it was a 500 and lists that said they were fresh)."""
    with redis_server() as (_, url):
        client, room, good, now = bursting_on(small_artifact, url, retry_seconds=60)
        admin = redis.Redis.from_url(url)
        if refusal == "out_of_memory":
            admin.config_set("maxmemory-policy", "noeviction")
            admin.config_set("maxmemory", 1)
        else:
            admin.replicaof("127.0.0.1", 1)  # a master that is not there: the data stays, writes are refused
        r = client.post("/v1/events/orders", json={"events": [event("r1", room, good, now)]}, headers=AUTH)
        assert r.status_code == 503 and r.json["error"]["code"] == "store_unavailable"
        assert "redis refused" in r.json["error"]["message"]
        hot = client.get("/v1/rankings/hot")
        assert hot.status_code == 200 and hot.json["stale"] is True and "redis refused" in hot.json["error"]
        assert client.get(f"/v1/anchors/{room}/picks").status_code == 200
        admin.config_set("maxmemory", 0)
        admin.replicaof("NO", "ONE")
        r = client.post("/v1/events/orders", json={"events": [event("r2", room, good, now)]}, headers=AUTH)
        assert r.status_code == 200 and r.json["accepted"] == 1


def test_a_redis_that_lost_its_data_gets_the_model_s_week_counted_again(small_artifact):
    with redis_server() as (_, url):
        app = started({"model": str(small_artifact), "hot": hot_config(redis_url=url)})
        hot = app.extensions["xuanpin"]["hot"]
        counts = redis.Redis.from_url(url).dbsize()
        assert counts > 100 and not hot.recount_if_lost()  # the week is there: nothing to do
        redis.Redis.from_url(url).flushall()  # restarted without its data
        assert hot.recount_if_lost()
        hot.bootstrapping.join(60)
        assert redis.Redis.from_url(url).dbsize() == counts and not hot.recount_if_lost()


def test_beijing_time_sent_without_a_zone_is_refused_with_the_zone_to_add(client, world):
    """A time without a zone is UTC (the contract's rule), so a producer's bare Beijing wall time lands 8 hours
    ahead: refused as future, and the message says how to send it."""
    from zoneinfo import ZoneInfo

    bare = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)
    room, good = world["rooms"][0], world["goods"][0]
    r = client.post("/v1/events/orders", json={"events": [event("bare-bj", room, good, bare)]}, headers=AUTH).json
    (err,) = r["errors"]
    assert err["field"] == "ordered_at" and "in the future" in err["message"]
    assert f"send {bare.isoformat()}+08:00" in err["message"]


def test_a_body_that_is_json_in_all_but_its_content_type_is_told_the_header(client, world):
    """The integrator's probe: valid JSON sent as text/plain (or with no Content-Type) was told "the body must be
    JSON"; it is the header that is wrong. A 401 names the scheme it wants (WWW-Authenticate)."""
    body = json.dumps({"events": [event("ct-1", world["rooms"][0], world["goods"][0], world["now"])]})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        r = client.post("/v1/events/orders", data=body, content_type=content_type, headers=AUTH)
        assert r.status_code == 400 and r.json["error"]["field"] == "Content-Type", content_type
        assert "must be application/json" in r.json["error"]["message"]
    r = client.post("/v1/events/orders", data=body, content_type="application/json")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
