"""What every store answers, the same specification for both: replays are not counted twice, a start-up load
counts a history once, and the workers sharing a store can claim work, take turns and publish to each other
(a store private to one process always gives this process the turn)."""

from __future__ import annotations

import time

import numpy as np

from recommender.hot.memory import MemoryStore
from recommender.hot.orders import Orders
from recommender.hot.redis_store import RedisStore
from tests.recommender.hot.conftest import T0, burst_at


def test_replayed_orders_are_not_counted_twice(store):
    burst_at(store, 0, 1, T0, 6, 3, "r")
    burst_at(store, 0, 1, T0, 6, 3, "r")  # the same order ids again
    keys, recent = store.recent(15, 1)
    assert keys.tolist() == ["0"] and recent.tolist() == [6]
    first = Orders.of(["x", "x"], [1, 1], [0, 0], [T0 + 1, T0 + 1])  # a duplicate inside one batch
    assert store.add(first) == 1


def test_a_loaded_history_is_counted_once(store):
    n = 40
    history = Orders.of([f"h{i}" for i in range(n)], np.ones(n), np.arange(n) % 4, T0 - np.arange(n))
    assert store.load(history) == n
    assert store.load(history) == 0
    day, week = store.history(np.array(["0", "1", "2", "3"]))
    assert day.tolist() == week.tolist() == [10, 10, 10, 10] and store.now() == T0


def test_what_is_marked_is_fetched_until_it_expires(store):
    assert store.fetch("list") is None
    store.mark("list", '{"made_at": 1}', seconds=60)
    assert store.fetch("list") == b'{"made_at": 1}'
    store.mark("list", b"gone", seconds=0.001)
    time.sleep(0.01)
    assert store.fetch("list") is None


def test_the_first_claim_and_lease_of_a_name_are_granted(store):
    assert store.claim("bootstrapped:v1", "loading")
    assert store.lease("platform:lease", 60)


def test_with_redis_a_claim_and_a_lease_go_to_one_caller_among_workers(redis_url):
    one, two = RedisStore(redis_url, prefix="claims:"), RedisStore(redis_url, prefix="claims:")
    assert one.claim("bootstrapped:v1", "loading") and not two.claim("bootstrapped:v1", "loading")
    assert one.lease("platform:lease", 60) and not two.lease("platform:lease", 60)
    assert two.claim("bootstrapped:v2")  # another name, another claim


def test_in_process_this_worker_always_has_the_claim_and_the_lease():
    store = MemoryStore()
    assert all(store.claim("bootstrapped:v1", "loading") for _ in range(3))  # no other worker to yield to
    assert all(store.lease("platform:lease", 60) for _ in range(3))


def test_the_recent_window_lists_the_goods_with_at_least_min_orders(store):
    """Platform-wide and in a room: 6, 3 and 1 orders in the window; asked for at least 3, the first two."""
    for good, n in ((0, 6), (1, 3), (2, 1)):
        burst_at(store, good, 1, T0, n, 3, f"g{good}")
    for anchor in (None, "1"):
        keys, recent = store.recent(15, 3, anchor)
        assert dict(zip(keys.tolist(), recent.tolist(), strict=True)) == {"0": 6, "1": 3}, anchor
        assert store.recent(15, 7, anchor)[0].tolist() == []


def test_a_store_knows_which_hours_it_counted_and_their_orders(store):
    """The hours with any order, a loaded history's and the live stream's, with the platform's orders in each;
    the hours between were not counted."""
    store.load(Orders.of(["h1", "h2", "h3"], [1, 1, 2], [0, 0, 1], [T0 - 3 * 60, T0 - 2 * 60, T0 - 2 * 60]))
    burst_at(store, 0, 1, T0, 3, 3, "live")
    hours, totals = store.hour_totals()
    assert hours.tolist() == [(T0 - 3 * 60) // 60, (T0 - 2 * 60) // 60, T0 // 60]
    assert totals.tolist() == [1, 2, 3]


def test_the_baseline_s_sums_cover_only_the_given_hours(store):
    t = T0 - np.arange(0, 5 * 60, 30)  # an order every half hour over five hours, good 0
    store.add(Orders.of([f"o{i}" for i in range(len(t))], np.ones(len(t)), np.zeros(len(t), int), t))
    hours = np.array([T0 // 60 - 3, T0 // 60 - 2])
    day, week, base_day, base_week = store.history_and_baseline(np.array(["0"]), hours)
    assert base_day.tolist() == base_week.tolist() == [4]
    assert week.tolist() == [len(t)] and (day.tolist(), week.tolist()) == tuple(
        x.tolist() for x in store.history(np.array(["0"])))


def test_a_refund_takes_its_order_back_off_every_count_once(store):
    """刷单: a burst posted and then refunded must not stay hot. The refund is the order's event again, with the
    order's id and time: the good's and the room's minute and hour counts, and the hour's total, lose it."""
    burst_at(store, 0, 1, T0, 6, 3, "fake")
    burst_at(store, 0, 2, T0, 2, 1, "real")
    times = T0 + np.arange(6) * 3 // 6  # burst_at's minutes
    fake = Orders.of([f"fake-{i}" for i in range(4)], np.ones(4, int), np.zeros(4, int), times[:4])
    assert store.refund(fake) == 4
    assert store.refund(fake) == 0  # refunded already: nothing more to take
    assert dict(zip(*(x.tolist() for x in store.recent(15, 1)), strict=True)) == {"0": 4}
    assert dict(zip(*(x.tolist() for x in store.recent(15, 1, "1")), strict=True)) == {"0": 2}
    day, week = store.history(np.array(["0"]))
    assert day.tolist() == week.tolist() == [4]
    assert store.hour_totals()[1].tolist() == [4]
    assert store.add(fake) == 0  # the refunded orders, sent again, are still not counted


def test_an_order_whose_refund_came_first_is_not_counted(store):
    early = Orders.of(["late-1", "late-2"], [1, 1], [0, 0], [T0, T0])
    burst_at(store, 5, 1, T0, 1, 1, "clock")  # the store has counted something
    assert store.refund(early) == 0
    assert store.add(early) == 0
    assert store.recent(15, 1)[0].tolist() == ["5"]


def test_a_refund_of_an_order_loaded_at_start_takes_it_back_as_a_streamed_one(store):
    """The snapshot's last day, counted at start, holds sales refunded since: their refunds take them back in
    either store (Redis kept no place for loaded orders: the review's case)."""
    history = Orders.of(["h1", "h2", "h3"], [1, 1, 1], [0, 0, 0], [T0 - 2, T0 - 1, T0])
    store.load(history)
    assert store.refund(history.take(np.array([0, 2]))) == 2
    assert store.recent(15, 1)[1].tolist() == [1] and store.history(np.array(["0"]))[1].tolist() == [1]


def test_a_refund_names_its_order_by_the_hour_of_its_time(store):
    store.add(Orders.of(["a"], [1], [0], [T0]))
    assert store.refund(Orders.of(["a"], [1], [0], [T0 + 120])) == 0  # two hours on: not this order
    assert store.refund(Orders.of(["a"], [1], [0], [T0 + 1])) == 1


def test_a_refund_dated_just_across_the_hour_still_finds_its_order(store):
    """An integrator's refund carried its order's time a tenth of a second late, across the hour: it was
    ignored. The hour before and after are looked in too, in both directions."""
    last = (T0 // 60 + 1) * 60 - 1  # the last minute of an hour
    store.add(Orders.of(["late", "early"], [1, 1], [0, 0], [last, last + 1]))
    assert store.refund(Orders.of(["late"], [1], [0], [last + 1])) == 1
    assert store.refund(Orders.of(["early"], [1], [0], [last])) == 1
    assert store.recent(15, 1)[0].tolist() == []
