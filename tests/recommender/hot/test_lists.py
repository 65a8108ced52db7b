"""The hot lists' sharing: per refresh period one worker computes the platform list and the others read what it
published, unless that list is too old or missing; in process the one worker computes it every period."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from recommender.hot.config import HotConfig
from recommender.hot.lists import PLATFORM_LEASE, PLATFORM_LIST, HotLists
from recommender.hot.memory import MemoryStore
from recommender.hot.orders import Orders
from recommender.hot.redis_store import RedisStore
from tests.recommender.hot.conftest import counting_before


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def counting(store) -> list[int]:
    """Count the store's window reads (one per platform list computed), on the real store."""
    calls: list[int] = []
    read = store.recent

    def recent(*args, **kwargs):
        calls.append(1)
        return read(*args, **kwargs)

    store.recent = recent
    return calls


@pytest.fixture
def workers(redis_url):
    """Two workers' hot lists on one Redis, and a burst of one good already counted."""
    prefix = f"share{uuid.uuid4().hex[:6]}:"
    cfg = HotConfig(redis_url=redis_url, redis_prefix=prefix, clock="events", refresh_seconds=60)
    clocks = [Clock(), Clock()]
    lists = [HotLists(cfg, RedisStore(redis_url, prefix), clock=c) for c in clocks]
    minute = 29_000_000
    n = 40
    lists[0].ingest(counting_before(minute))
    lists[0].ingest(burst(n, minute))
    return lists, clocks, [counting(hl.store) for hl in lists]


def burst(n: int, minute: int) -> Orders:
    return Orders.of([f"o{i}" for i in range(n)], ["room"] * n, ["good-1"] * n, [minute - i % 5 for i in range(n)])


def test_one_worker_computes_the_platform_list_and_the_other_reads_it(workers):
    (one, two), _, (calls_one, calls_two) = workers
    first = one.refresh()
    second = two.refresh()
    assert len(calls_one) == 1 and len(calls_two) == 0
    assert list(second.bursts.keys) == list(first.bursts.keys) == ["good-1"]
    np.testing.assert_allclose(second.bursts.lift, first.bursts.lift)
    assert second.bursts.now == first.bursts.now
    assert two.platform().bursts.keys.tolist() == ["good-1"]  # what requests are answered from


def test_a_list_older_than_three_periods_is_recomputed(workers):
    (one, two), (_, clock_two), (_, calls_two) = workers
    one.refresh()
    clock_two.t += 3 * 60 + 1  # the worker that published it has stopped since
    assert two.refresh().bursts.keys.tolist() == ["good-1"]
    assert len(calls_two) == 1


def test_a_missing_list_is_computed_by_whoever_asks(workers):
    (one, two), _, (_, calls_two) = workers
    one.refresh()
    one.store.client.delete(one.store.prefix + one.shared_key(PLATFORM_LIST))  # its maker died before publishing
    assert two.refresh().bursts.keys.tolist() == ["good-1"]
    assert len(calls_two) == 1


def test_an_unreadable_list_is_computed_by_whoever_asks(workers):
    (one, two), _, (_, calls_two) = workers
    one.refresh()
    one.store.client.set(one.store.prefix + one.shared_key(PLATFORM_LIST), b"{not json")
    assert two.refresh().bursts.keys.tolist() == ["good-1"]
    assert len(calls_two) == 1


def test_replicas_with_other_burst_settings_do_not_share_a_list(workers, redis_url):
    (one, _), _, _ = workers
    one.refresh()
    stricter = HotLists(HotConfig(redis_url=redis_url, redis_prefix=one.store.prefix, clock="events",
                                  refresh_seconds=60, min_orders=1000), RedisStore(redis_url, one.store.prefix))
    assert stricter.shared_key(PLATFORM_LIST) != one.shared_key(PLATFORM_LIST)
    assert stricter.refresh().bursts.keys.tolist() == []  # its own threshold, not the other list



def test_the_shared_names_are_those_earlier_versions_used():
    # replicas upgraded one by one keep reading the list the others publish on the same Redis
    lists = HotLists(HotConfig(), MemoryStore())
    assert lists.shared_key(PLATFORM_LIST) == "platform:list:63b78b79e154"
    assert lists.shared_key(PLATFORM_LEASE) == "platform:lease:63b78b79e154"
    assert HotLists(HotConfig(floor_per_hour=1, min_orders=7)).shared_key(PLATFORM_LIST) == "platform:list:f7a03c4b7e3a"


def test_in_process_the_one_worker_computes_the_platform_list_every_period():
    lists = HotLists(HotConfig(clock="events", refresh_seconds=60), MemoryStore())
    calls = counting(lists.store)
    lists.ingest(counting_before(29_000_000))
    assert lists.refresh().bursts.keys.tolist() == []
    lists.ingest(burst(40, 29_000_000))
    assert lists.refresh().bursts.keys.tolist() == ["good-1"]  # not the list it published a moment ago
    assert len(calls) == 2


def test_a_service_started_before_its_redis_loads_the_week_once_redis_is_there(small_artifact, monkeypatch):
    """Redis down at start: the bootstrap keeps trying with backoff, and the model's week of orders is counted
    when Redis comes up on its address."""
    import shutil
    import socket
    import subprocess
    import time

    import recommender.hot.lists as lists
    from recommender.artifact import load_model
    from recommender.hot.config import HotConfig
    from recommender.hot.lists import HotLists
    from recommender.hot.redis_store import RedisStore

    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (.ci/run installs it)")
    monkeypatch.setattr(lists, "BOOTSTRAP_FIRST", 0.2)
    monkeypatch.setattr(lists, "BOOTSTRAP_LONGEST", 0.5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    model = load_model(small_artifact)
    hot = HotLists(HotConfig(redis_url=url, redis_timeout=0.2), RedisStore(url, prefix="late:", timeout=0.2))
    assert hot.bootstrap(model) == 0 and hot.bootstrapping.is_alive()
    time.sleep(0.8)  # a few failed tries
    assert "redis unreachable" in (hot.last_error or "")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        hot.bootstrapping.join(30)
        assert not hot.bootstrapping.is_alive()
        assert hot.store.fetch(f"bootstrapped:{model.manifest['model_version']}") == b"done"
        assert hot.store.now() == int(np.asarray(model.recent_orders["minute"]).max())
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(("clock", "days_later", "warned"), [("wall", 3, True), ("wall", 0.5, False),
                                                                ("events", 3, False)])
def test_serving_a_past_snapshot_on_the_wall_clock_says_why_nothing_is_hot(small_artifact, caplog, clock, days_later,
                                                                            warned):
    from recommender.artifact import load_model

    model = load_model(small_artifact)
    latest = int(np.max(model.recent_orders["minute"]))
    hot = HotLists(HotConfig(clock=clock), clock=lambda: (latest + days_later * 24 * 60) * 60)
    with caplog.at_level("WARNING", logger="recommender.hot.lists"):
        hot.bootstrap(model)
    said = [r.getMessage() for r in caplog.records if "XUANPIN_HOT_CLOCK=events" in r.getMessage()]
    assert bool(said) == warned and (not said or "3 days before now" in said[0])


def test_a_model_loaded_while_orders_stream_in_does_not_say_nothing_is_hot(small_artifact, caplog):
    """A nightly model swapped in while the store counts a live stream: the model is days old, the lists are
    not empty, and the warning would mislead."""
    from recommender.artifact import load_model

    model = load_model(small_artifact)
    now = int(np.max(model.recent_orders["minute"])) + 3 * 24 * 60
    hot = HotLists(HotConfig(clock="wall"), clock=lambda: now * 60)
    hot.store.add(Orders.of(["live"], [str(model.anchor_ids.ids[0])], [str(model.product_ids.ids[0])], [now - 5]))
    with caplog.at_level("WARNING", logger="recommender.hot.lists"):
        hot.bootstrap(model)
    assert not [r for r in caplog.records if "XUANPIN_HOT_CLOCK=events" in r.getMessage()]
