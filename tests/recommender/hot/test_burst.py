"""The burst test, the same specification over both stores: a burst is found within minutes, steady popularity
is not a burst, bursts decay, a room's burst stays in that room, and a flood is tested on its busiest goods."""

from __future__ import annotations

import numpy as np

from recommender.hot.burst import detect
from recommender.hot.config import HotConfig
from recommender.hot.orders import Orders
from tests.recommender.hot.conftest import DAY, T0, burst_at, counting_before

CFG = HotConfig(recent_minutes=15, min_orders=5, alpha=1e-4)


def feed(store, start: int, minutes: int, rate_per_hour: dict[int, float], anchor: int = 1, seed: int = 0,
         prefix: str | None = None) -> None:
    """Poisson orders per product for `minutes` minutes from `start`."""
    rng = np.random.default_rng(seed)
    p, t = [], []
    for product, rate in rate_per_hour.items():
        n = rng.poisson(rate / 60, minutes)
        t.append(np.repeat(start + np.arange(minutes), n))
        p.append(np.full(n.sum(), product))
    p, t = np.concatenate(p), np.concatenate(t)
    tag = prefix or f"{seed}-{anchor}"
    store.add(Orders.of([f"{tag}-{i}" for i in range(len(t))], np.full(len(t), anchor), p, t))


def steady_history(store) -> None:
    # product 0: a quiet good, 1 order an hour; product 1: steadily popular, 120 orders an hour; 3 days
    feed(store, T0, 3 * DAY, {0: 1.0, 1: 120.0})


def hot(store, anchor=None) -> list[str]:
    return detect(store, CFG, anchor).keys.tolist()


def test_a_burst_is_detected_within_five_minutes_and_ten_orders(store):
    steady_history(store)
    now = T0 + 3 * DAY
    assert "0" not in hot(store)  # quiet before
    burst_at(store, product=0, anchor=1, at=now, orders=10, over_minutes=5, prefix="b")
    found = detect(store, CFG)
    assert "0" in found.keys.tolist()
    i = found.keys.tolist().index("0")
    assert found.recent[i] >= 10 and found.lift[i] > 20


def test_a_steadily_popular_good_is_not_a_burst(store):
    steady_history(store)
    feed(store, T0 + 3 * DAY, 60, {1: 120.0}, seed=1)  # still 120 an hour: popular, not bursting
    assert "1" not in hot(store)


def test_a_popular_good_that_triples_is_a_burst(store):
    steady_history(store)
    feed(store, T0 + 3 * DAY, 15, {1: 400.0}, seed=2)
    assert "1" in hot(store)


def test_a_burst_decays_when_it_ends(store):
    steady_history(store)
    now = T0 + 3 * DAY
    burst_at(store, 0, 1, now, 12, 5, "b")
    assert "0" in hot(store)
    feed(store, now + 5, 30, {1: 120.0}, seed=3)  # time moves on, the quiet good goes quiet again
    assert "0" not in hot(store)


def test_a_burst_decays_when_the_clock_moves_on_without_orders(store):
    steady_history(store)
    now = T0 + 3 * DAY
    burst_at(store, 0, 1, now, 12, 5, "b")
    store.advance(now + 20)  # wall time passes, no orders at all
    assert "0" not in hot(store)


def test_a_burst_in_one_room_surfaces_there_and_not_in_other_rooms(store):
    feed(store, T0, 2 * DAY, {0: 1.0, 2: 1.0}, anchor=1, seed=4)
    feed(store, T0, 2 * DAY, {0: 1.0, 2: 1.0}, anchor=2, seed=5)
    burst_at(store, product=2, anchor=2, at=T0 + 2 * DAY, orders=10, over_minutes=5, prefix="room")
    in_room_2 = detect(store, CFG, "2")
    assert in_room_2.keys.tolist() == ["2"] and in_room_2.recent[0] >= 10
    assert "2" not in hot(store, "1")
    assert hot(store, "no-such-room") == []


def test_nothing_counted_means_nothing_hot(store):
    found = detect(store, CFG)
    assert len(found.keys) == 0 and found.now is None
    assert all(len(column) == 0 for column in (found.recent, found.expected, found.p_value, found.lift))


def test_under_a_flood_only_the_busiest_goods_are_tested(store):
    store.add(counting_before(T0))  # counting for hours before the flood
    for good in range(30):  # 30 new goods, good g gets 6 + g orders
        burst_at(store, good, 1, T0, 6 + good, 5, f"flood{good}")
    found = detect(store, HotConfig(max_candidates=10))
    assert sorted(found.keys.tolist()) == sorted(str(g) for g in range(20, 30))


def test_steady_goods_are_almost_never_called_hot():
    """20,000 goods ordering at their own steady rates (0.001 to 5 a minute) for a week: at p < 1e-4 the test
    should flag about two of them by chance, never dozens, although each rate is estimated from counts."""
    from recommender.hot.burst import poisson_bursts
    from recommender.hot.config import HotConfig
    from recommender.hot.counts import HOURS

    cfg, rng = HotConfig(), np.random.default_rng(0)
    n = 20_000
    rate = np.exp(rng.uniform(np.log(0.001), np.log(5.0), n))
    recent = rng.poisson(rate * cfg.recent_minutes)
    day = recent + rng.poisson(rate * (24 * 60 - cfg.recent_minutes))
    week = day + rng.poisson(rate * (HOURS - 24) * 60)
    keys = np.array([f"g{i}" for i in range(n)])
    flagged = poisson_bursts(keys, recent, day, week, cfg)
    tested = int((recent >= cfg.min_orders).sum())
    assert tested > 5_000 and len(flagged.keys) <= 5, (tested, len(flagged.keys))


def test_a_good_quiet_today_but_busy_all_week_is_not_hot_at_its_weekly_pace():
    """Yesterday and before it sold 2 a minute, today nearly nothing: 30 orders in 15 minutes is its usual
    pace, not a burst (the baseline is the higher of the day's and the week's rates)."""
    from recommender.hot.burst import poisson_bursts
    from recommender.hot.config import HotConfig
    from recommender.hot.counts import HOURS

    cfg = HotConfig()
    week = np.array([2.0 * (HOURS - 24) * 60 + 40])
    quiet_today = poisson_bursts(np.array(["g"]), np.array([30]), np.array([40]), week, cfg)
    assert len(quiet_today.keys) == 0
    burst = poisson_bursts(np.array(["g"]), np.array([300]), np.array([310]), week + 270, cfg)
    assert burst.keys.tolist() == ["g"]


def test_a_new_good_is_a_burst_from_min_orders_on_against_the_floor_rate():
    """No history: the baseline is the floor (0.2 an hour, 0.05 in 15 minutes), so min_orders (5) orders are
    improbable enough, four are not (too few to call, whatever the odds); the expected count is the floor's."""
    from recommender.hot.burst import poisson_bursts
    from recommender.hot.config import HotConfig

    cfg = HotConfig()
    counts = np.array([cfg.min_orders - 1, cfg.min_orders, 8])
    found = poisson_bursts(np.array(["four", "five", "eight"]), counts, counts, counts, cfg)
    assert found.keys.tolist() == ["eight", "five"]  # strongest lift first
    np.testing.assert_allclose(found.expected, cfg.floor_per_hour / 60 * cfg.recent_minutes)


# -- the baseline is taken over the hours the store counted -------------------------------------------------


def test_the_baseline_hours_are_whole_counted_hours_before_the_tested_window():
    from recommender.hot.burst import baseline_hours

    counted = np.array([10, 11, 12, 13, 20, 21, 22, 23])
    totals = np.full(len(counted), 600.0)
    # the window (15 minutes to minute 30 of hour 23) starts in hour 23; a stretch's first and last hours were
    # counted only in part (the store started or stopped within them)
    assert baseline_hours(counted, totals, 23 * 60 + 30, 15).tolist() == [11, 12, 21, 22]
    assert baseline_hours(counted, totals, 23 * 60 + 5, 15).tolist() == [11, 12, 21]  # the window starts in 22
    # an hour with far fewer orders than the hour beside it had a stop inside it
    stopped = totals.copy()
    stopped[2] = 200.0  # hour 12: a forty-minute stop
    assert baseline_hours(counted, stopped, 23 * 60 + 30, 15).tolist() == [11, 21, 22]
    unknown = np.full(len(counted), np.nan)  # totals not kept (a Redis counted by an earlier version)
    assert baseline_hours(counted, unknown, 23 * 60 + 30, 15).tolist() == [11, 12, 21, 22]


def test_a_store_that_started_empty_does_not_call_its_steady_sellers_hot(store):
    """Three hours of a good selling 120 an hour in a store that started with them: the hours before it started
    are not hours without orders, so the good's pace is its usual one, not a burst."""
    feed(store, T0, 180, {1: 120.0, 0: 1.0}, seed=7)
    found = detect(store, CFG)
    assert "1" not in found.keys.tolist() and not found.warming_up
    assert found.baseline_minutes == 120  # the two whole hours between the first and the current


def test_a_store_that_started_empty_still_finds_a_burst_against_what_it_counted(store):
    feed(store, T0, 180, {1: 120.0}, seed=8)
    feed(store, T0 + 180, 15, {1: 400.0}, seed=9, prefix="surge")
    assert "1" in hot(store)


def test_until_it_has_counted_a_whole_hour_a_store_calls_nothing_hot_and_says_it_is_warming_up(store):
    burst_at(store, product=0, anchor=1, at=T0, orders=30, over_minutes=10, prefix="early")
    found = detect(store, CFG)
    assert found.keys.tolist() == [] and found.warming_up and found.baseline_minutes == 0
    feed(store, T0 + 10, 150, {2: 600.0}, seed=10)  # two and a half hours on
    assert not detect(store, CFG).warming_up


def test_the_hours_between_a_loaded_week_and_the_live_stream_are_not_taken_for_quiet_ones(store):
    """A model's week that ends three days before the service started (an old model, a late start): those days
    were not counted, so an hour and a half of the good's usual 240 an hour is not a burst."""
    rng = np.random.default_rng(11)
    t = np.sort(rng.integers(T0 - 6 * DAY, T0 - 3 * DAY, rng.poisson(240 * 3 * 24)))
    store.load(Orders.of([f"h{i}" for i in range(len(t))], np.ones(len(t)), np.ones(len(t), int), t))
    feed(store, T0, 90, {1: 240.0}, seed=12)
    found = detect(store, CFG)
    assert "1" not in found.keys.tolist() and not found.warming_up


def test_after_a_stop_the_hours_counted_before_it_still_count_and_a_surge_is_found(store):
    """Two days at 60 an hour, two hours when the service was stopped, two more hours at 60, then ten times
    the pace: the stopped hours are left out of the baseline, the counted ones before them are not."""
    feed(store, T0, 2 * DAY, {1: 60.0}, seed=15)
    back = T0 + 2 * DAY + 120
    feed(store, back, 120, {1: 60.0}, seed=16, prefix="back")
    found = detect(store, CFG)
    assert "1" not in found.keys.tolist()
    feed(store, back + 120, 15, {1: 600.0}, seed=17, prefix="surge")
    found = detect(store, CFG)
    assert "1" in found.keys.tolist() and 10 <= found.expected[0] <= 20  # about its usual 15 in 15 minutes


def test_orders_that_arrive_first_after_a_stop_do_not_hide_it(store):
    """Two hours counted, twenty hours stopped, then orders before any list is read: the twenty hours are not
    read as twenty quiet hours, so the good's usual 60 an hour is not a burst."""
    feed(store, T0, 120, {1: 60.0}, seed=18)
    feed(store, T0 + 22 * 60, 30, {1: 60.0}, seed=19, prefix="after")
    assert "1" not in hot(store)


def test_one_late_order_in_the_first_batch_does_not_count_its_day_as_quiet(store):
    late = Orders.of(["late"], [1], [1], [T0 - 5 * DAY])
    store.add(late)
    feed(store, T0, 30, {1: 60.0}, seed=20)
    found = detect(store, CFG)
    assert "1" not in found.keys.tolist() and found.warming_up


def test_a_stop_shorter_than_a_clock_hour_is_not_taken_for_quiet_minutes(store):
    """Counting from half past, two hours and a half, a stop of an hour and fifty minutes that empties no whole
    clock hour, then counting again: the two hours the stop cuts hold a fraction of their neighbours' orders and
    are left out, so twenty goods at their usual 300 an hour are not bursts."""
    start = (T0 // 60 + 1) * 60 - 30  # half past an hour
    rates = {g: 300.0 for g in range(20)}
    feed(store, start, 155, rates, seed=21)
    feed(store, start + 265, 35, rates, seed=22, prefix="back")
    assert hot(store) == []


def test_a_straggler_from_the_hour_before_the_start_does_not_make_the_start_hour_whole(store):
    start = (T0 // 60 + 1) * 60 + 50  # ten minutes before an hour's end
    store.add(Orders.of(["straggler"], [1], [0], [start - 52]))
    feed(store, start, 160, {g: 300.0 for g in range(20)}, seed=23)
    assert hot(store) == []
