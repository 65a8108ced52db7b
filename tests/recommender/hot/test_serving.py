"""How the hot lists are served over time, on a clock the test moves: a list is reused for `refresh_seconds`; a
shared store's room list is answered from memory and recomputed behind it until it is ROOM_MAX_AGE periods old;
after the store fails the last list is served stale and the store left alone for `retry_seconds`; a bootstrap
that finds the store down retries after 1, 2, 4 ... 60 seconds and gives up after six hours."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

import recommender.hot.lists as lists
from recommender.errors import StoreUnavailable
from recommender.hot.config import HotConfig
from recommender.hot.lists import BOOTSTRAP_GIVE_UP, ROOM_MAX_AGE, HotLists
from recommender.hot.memory import MemoryStore
from recommender.hot.orders import Orders
from recommender.vocabulary import Vocabulary
from tests.recommender.hot.conftest import T0


class FakeTime:
    """The `time` module as recommender.hot.lists sees it: a clock that moves only when told (or slept on)."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.t

    perf_counter = monotonic

    def time(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        """The bootstrap's waits pass at once; any other thread (a list refresher) waits for good, so none spins
        on this clock (a refresher left by an earlier test included)."""
        if threading.current_thread().name != "hot-bootstrap":
            threading.Event().wait()
        with self._lock:
            self.slept.append(seconds)
            self.t += seconds


class FlakyStore(MemoryStore):
    """The in-process store, failing while `failing` is set, counting its window reads (one per list computed);
    `concurrent` as a shared store says (so rooms are revalidated behind the requests, as with Redis)."""

    def __init__(self, concurrent: bool = False, fail_calls: int = 0) -> None:
        super().__init__()
        self.concurrent = concurrent
        self.failing = False
        self.fail_calls = fail_calls  # the next this many calls of claim/load fail, then the store is up
        self.reads = 0

    def hour_totals(self, now=None):
        hours = np.arange(T0 // 60 - 24, T0 // 60 + 1)  # counting since a day before the tests' orders
        return hours, np.full(len(hours), 100.0)

    def _check(self) -> None:
        if self.failing:
            raise StoreUnavailable("store down")
        if self.fail_calls > 0:
            self.fail_calls -= 1
            raise StoreUnavailable("store down")

    def recent(self, *args, **kwargs):
        if self.failing:
            raise StoreUnavailable("store down")
        self.reads += 1
        return super().recent(*args, **kwargs)

    def add(self, orders):
        if self.failing:
            raise StoreUnavailable("store down")
        return super().add(orders)

    def claim(self, name, value="1", seconds=3600):
        self._check()
        return super().claim(name, value, seconds)

    def load(self, orders):
        self._check()
        return super().load(orders)


@pytest.fixture
def clock(monkeypatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(lists, "time", fake)
    return fake


def burst(room: str = "room", good: str = "good-1", n: int = 40, prefix: str = "o") -> Orders:
    return Orders.of([f"{prefix}{i}" for i in range(n)], [room] * n, [good] * n, [T0 - i % 5 for i in range(n)])


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background refresh did not happen"
        time.sleep(0.005)


# -- a list is reused for refresh_seconds ---------------------------------------------------------------------
def test_a_computed_list_is_reused_until_refresh_seconds_have_passed(clock):
    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=10), store)
    hot.ingest(burst())
    first = hot.room("room")
    assert first.bursts.keys.tolist() == ["good-1"] and store.reads == 1
    clock.t += 9.9
    assert hot.room("room") is first and store.reads == 1
    clock.t += 0.1  # ten seconds: recomputed
    again = hot.room("room")
    assert again is not first and again.computed_at == clock.t and store.reads == 2


def test_with_refresh_seconds_the_platform_list_is_refreshed_by_a_thread_not_by_requests(clock):
    """Under a second too: a request reads the last list; only the first request computes it."""
    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=0.5), store)
    hot.ingest(burst())
    first = hot.platform()
    assert first.bursts.keys.tolist() == ["good-1"] and store.reads == 1
    assert any(t.name == "hot-refresh" and t.is_alive() for t in threading.enumerate())
    clock.t += 0.6  # older than a period: the thread's to redo, not this request's
    assert hot.platform() is first and store.reads == 1
    fresh = hot.refresh()  # the thread's step
    assert fresh is not first and store.reads == 2 and hot.platform() is fresh


# -- stale-while-revalidate of a shared store's rooms ---------------------------------------------------------
def test_a_shared_store_s_room_list_is_answered_from_memory_and_recomputed_behind_it(clock):
    store = FlakyStore(concurrent=True)
    period = 10.0
    hot = HotLists(HotConfig(clock="events", refresh_seconds=period), store)
    hot.ingest(burst())
    first = hot.room("room")  # nothing held yet: computed on the spot
    assert store.reads == 1 and first.computed_at == clock.t
    clock.t += period - 0.5  # fresh: no recompute at all
    assert hot.room("room") is first
    time.sleep(0.05)
    assert store.reads == 1
    clock.t += 0.5  # one period old: still answered with it, and recomputed in the background
    assert hot.room("room") is first
    wait_until(lambda: store.reads == 2)
    wait_until(lambda: hot.room("room") is not first)
    assert hot.room("room").computed_at == clock.t


def test_a_room_list_at_most_room_max_age_periods_old_is_served_while_recomputed(clock):
    store = FlakyStore(concurrent=True)
    period = 10.0
    hot = HotLists(HotConfig(clock="events", refresh_seconds=period), store)
    hot.ingest(burst())
    first = hot.room("room")
    store.failing = True  # the background recompute fails: what was held stays held
    clock.t += ROOM_MAX_AGE * period  # exactly the oldest a list may be served
    assert hot.room("room") is first


def test_a_room_list_older_than_room_max_age_periods_is_computed_on_the_spot(clock):
    store = FlakyStore(concurrent=True)
    period = 10.0
    hot = HotLists(HotConfig(clock="events", refresh_seconds=period), store)
    hot.ingest(burst())
    first = hot.room("room")
    clock.t += ROOM_MAX_AGE * period + 0.5  # nobody asked for it in five periods
    fresh = hot.room("room")
    assert fresh is not first and fresh.computed_at == clock.t and store.reads == 2
    assert ROOM_MAX_AGE == 5  # the docstring's and the README's figure


def test_a_room_of_the_in_process_store_is_computed_on_the_spot_once_a_period_old(clock):
    store = FlakyStore(concurrent=False)
    hot = HotLists(HotConfig(clock="events", refresh_seconds=10), store)
    hot.ingest(burst())
    first = hot.room("room")
    clock.t += 10
    fresh = hot.room("room")
    assert fresh is not first and fresh.computed_at == clock.t and store.reads == 2


# -- after a failure, the store is left alone for retry_seconds -----------------------------------------------
def test_after_a_store_failure_the_last_list_is_served_stale_and_the_store_left_alone(clock):
    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=0, retry_seconds=5), store)
    hot.ingest(burst())
    assert hot.platform().bursts.keys.tolist() == ["good-1"] and not hot.platform().stale
    reads = store.reads
    store.failing = True
    clock.t += 1
    failed = hot.platform()
    assert failed.stale and failed.error == "store down" and failed.bursts.keys.tolist() == ["good-1"]
    assert hot.status()["last_error"] == "store down"
    store.failing = False  # back, but not asked until retry_seconds have passed
    clock.t += 4.9
    meanwhile = hot.platform()
    assert meanwhile.stale and meanwhile.bursts.keys.tolist() == ["good-1"] and store.reads == reads
    clock.t += 0.1  # five seconds after the failure: asked again
    back = hot.platform()
    assert not back.stale and back.error is None and store.reads == reads + 1
    assert hot.status()["last_error"] is None


def test_a_worker_that_served_no_hot_route_reports_the_store_back_once_asked_for_its_status():
    """An SRE's probe: a worker started while Redis was down kept reporting that error on /v1/model long after
    Redis was back, until a hot route reached it (only those started the background refresh)."""
    import time

    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=0.05, retry_seconds=0.0), store)
    hot.ingest(burst())
    store.failing = True
    hot.refresh()  # what the start-up's first computation met
    assert hot.status()["last_error"] == "store down"
    store.failing = False
    deadline = time.monotonic() + 5
    while hot.status()["last_error"] is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hot.status()["last_error"] is None


def test_a_status_asked_first_does_not_make_the_first_hot_answer_empty_and_stale():
    """The review: the refresher /v1/model started had computed nothing yet, so the next hot route answered an
    empty list marked stale, which the stale-answers metric counts."""
    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=60), store)
    hot.ingest(burst())
    hot.status()
    first = hot.platform()
    assert not first.stale and first.bursts.keys.tolist() == ["good-1"]


def test_a_failed_ingest_raises_and_leaves_the_store_alone_for_retry_seconds(clock):
    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=0, retry_seconds=5), store)
    store.failing = True
    with pytest.raises(StoreUnavailable):
        hot.ingest(burst())
    store.failing = False
    assert hot.room("room").stale and store.reads == 0  # nothing known yet: an empty list, marked stale
    assert hot.room("room").bursts.keys.tolist() == []
    clock.t += 5
    assert not hot.room("room").stale and store.reads == 1


# -- the bootstrap's retries --------------------------------------------------------------------------------
def _model(n: int = 30) -> SimpleNamespace:
    """What bootstrap reads of a model: its recent orders (rows into its vocabularies) and its version."""
    return SimpleNamespace(
        recent_orders={"key": np.arange(1, n + 1, dtype=np.uint64), "anchor": np.zeros(n, np.int64),
                       "product": np.arange(n) % 3, "minute": T0 - np.arange(n)},
        anchor_ids=Vocabulary(["room"]), product_ids=Vocabulary(["g0", "g1", "g2"]),
        manifest={"model_version": "v1"})


def test_a_bootstrap_retries_after_one_two_four_seconds_up_to_a_minute_and_then_loads(clock):
    store = FlakyStore(concurrent=True, fail_calls=9)
    hot = HotLists(HotConfig(clock="events"), store)
    assert hot.bootstrap(_model()) == 0  # in the background
    hot.bootstrapping.join(10)
    assert not hot.bootstrapping.is_alive()
    assert clock.slept == [1, 2, 4, 8, 16, 32, 60, 60]  # the first claim failed too: eight waits, nine failures
    assert store.fetch("bootstrapped:v1") == b"done"
    day, week = store.history(np.array(["g0", "g1", "g2"]))
    assert day.tolist() == week.tolist() == [10, 10, 10] and store.now() == T0


def test_a_bootstrap_gives_up_after_six_hours_of_a_store_down(clock):
    store = FlakyStore(concurrent=True)
    store.failing = True
    hot = HotLists(HotConfig(clock="events"), store)
    started = clock.t
    assert hot.bootstrap(_model()) == 0
    hot.bootstrapping.join(10)
    assert not hot.bootstrapping.is_alive() and hot.last_error == "store down"
    waited = clock.t - started
    assert BOOTSTRAP_GIVE_UP - 60 < waited <= BOOTSTRAP_GIVE_UP == 6 * 3600
    assert max(clock.slept) == 60
    assert store.now() is None  # nothing counted


def test_a_bootstrap_claim_this_worker_made_before_the_store_failed_is_its_own_to_finish(clock):
    """The claim succeeded, the load failed: the next try finds the claim taken, by this worker's token."""
    store = FlakyStore(concurrent=True)
    claims: list[str] = []

    def claim_once(name, value="1", seconds=3600):
        claims.append(value)
        if len(claims) == 1:
            store.mark(name, value, seconds)
            return True
        return False  # taken: by this worker

    store.claim = claim_once
    load = store.load
    fails = [1]

    def load_failing_once(orders):
        if fails:
            fails.pop()
            raise StoreUnavailable("store down")
        return load(orders)

    store.load = load_failing_once
    hot = HotLists(HotConfig(clock="events"), store)
    hot.bootstrap(_model())
    hot.bootstrapping.join(10)
    assert store.fetch("bootstrapped:v1") == b"done" and store.now() == T0
    assert len(set(claims)) == 1 and claims[0].startswith("loading:")


def test_a_bootstrap_another_worker_claimed_is_left_to_it(clock):
    store = FlakyStore(concurrent=True)
    store.claim = lambda name, value="1", seconds=3600: False
    store.mark("bootstrapped:v1", "loading:another-worker")
    hot = HotLists(HotConfig(clock="events"), store)
    assert hot.bootstrap(_model()) == 0 and hot.bootstrapping is None
    assert store.now() is None


def test_a_worker_keeps_the_lists_of_the_last_room_cache_rooms_asked_for(clock, monkeypatch):
    monkeypatch.setattr(lists, "ROOM_CACHE", 2)
    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=10), store)
    for room in ("a", "b", "c"):
        hot.room(room)
    assert store.reads == 3
    hot.room("b"), hot.room("c")  # the last two: kept
    assert store.reads == 3
    hot.room("a")  # the oldest: dropped, computed again
    assert store.reads == 4


def test_when_the_background_refresh_fails_requests_get_the_last_platform_list_marked_stale(clock):
    store = FlakyStore()
    hot = HotLists(HotConfig(clock="events", refresh_seconds=0.5, retry_seconds=5), store)
    hot.ingest(burst())
    assert not hot.platform().stale  # the first request computes it, and starts the refresher
    store.failing = True
    clock.t += 0.5
    hot.refresh()  # the thread's step, failing
    answered = hot.platform()
    assert answered.stale and answered.error == "store down" and answered.bursts.keys.tolist() == ["good-1"]
