"""Hot lists as the service holds them: the store, the clock, short-lived caches and what to do when the store
fails. No HTTP here: the routes (`serve.hot`) ask for a list and format it.

Lists are not invalidated by ingestion: under a steady order stream that would recompute on every request.

A hot list is recomputed at most every `refresh_seconds`, the platform list by a background thread (over 100k
goods it takes 3 ms in process and up to a few hundred ms from Redis under a flood of orders), so hot routes
answer from memory. With Redis, one worker of all replicas computes the platform list per period and publishes
it (the store's `lease`, `mark` and `fetch`; in process the lease is always this worker's); the others read it,
so Redis does that work once however many workers there are, and a room's list is answered from memory while
another thread recomputes it (stale-while-revalidate). When the store cannot be reached, the last list is
served marked stale, and the store is left alone for `retry_seconds` so requests do not queue behind timeouts;
the rest of the service never touches the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from recommender.artifact import Model
from recommender.errors import StoreUnavailable
from recommender.hot.burst import Bursts, detect
from recommender.hot.config import BURST_TEST, BURST_TEST_LATER, HotConfig
from recommender.hot.memory import MemoryStore
from recommender.hot.orders import Orders
from recommender.hot.redis_store import RedisStore
from recommender.hot.store import HotStore

_log = logging.getLogger(__name__)
PLATFORM_LIST, PLATFORM_LEASE = "platform:list", "platform:lease"  # shared names (Redis keys after the prefix)
BOOTSTRAP_FIRST, BOOTSTRAP_LONGEST = 1.0, 60.0  # seconds between tries of a bootstrap while the store is down
BOOTSTRAP_GIVE_UP = 6 * 3600.0  # ... and how long it keeps trying
CLAIM_SECONDS = 1800  # a bootstrap claim not finished by then may be taken by another worker
ROOM_CACHE = 10_000  # rooms whose lists a worker keeps
ROOM_MAX_AGE = 5  # refresh periods a room's list may be served while it is recomputed


@dataclass(frozen=True)
class HotList:
    """Bursting goods (ids, strongest first) as of a minute; `stale` when the store could not be asked."""

    bursts: Bursts
    computed_at: float  # time.monotonic()
    stale: bool = False
    error: str | None = None
    resolved: dict = field(default_factory=dict, compare=False)  # per model version, made once (hot.feed)


class HotLists:
    def __init__(self, cfg: HotConfig, store: HotStore | None = None, clock=time.time) -> None:
        self.cfg = cfg
        if store is None:
            store = RedisStore(cfg.redis_url, cfg.redis_prefix, cfg.redis_timeout) if cfg.redis_url else \
                MemoryStore(room_capacity=cfg.room_capacity)
        self.store = store
        self.clock = clock
        # the in-process store is not safe for concurrent writes and reads; Redis is, and a lock there would make
        # a room's request wait for the platform list's refresh
        self._lock = contextlib.nullcontext() if self.store.concurrent else threading.Lock()
        self._platform: HotList | None = None
        self._rooms: OrderedDict[str, HotList] = OrderedDict()
        self._rooms_lock = threading.Lock()
        self._down_until = 0.0
        self.last_error: str | None = None
        self.bootstrapping: threading.Thread | None = None
        #: how to build the model's week, and its marker, with a shared store
        self._week: tuple[Callable[[], Orders], str] | None = None
        self._refresher: threading.Thread | None = None
        self._pending: dict[str, None] = {}  # rooms waiting for the room thread, oldest first
        self._pending_ready = threading.Condition()
        self._room_refresher: threading.Thread | None = None

    @property
    def kind(self) -> str:
        return self.store.kind

    def status(self) -> dict:
        """For /v1/model: what an operator needs to see (no store call: this must not hang on Redis). It starts
        the background refresh where no hot route has yet (a worker that had served none kept reporting a Redis
        error from its start long after Redis was back: an SRE's probe); the next status is then current."""
        if self.cfg.refresh_seconds > 0 and (self._refresher is None or not self._refresher.is_alive()):
            self._refresher = threading.Thread(target=self._refresh, name="hot-refresh", daemon=True)
            self._refresher.start()
        held = self._platform
        return {"store": self.kind, "clock": self.cfg.clock, "as_of_minute": held.bursts.now if held else None,
                "hot_goods": len(held.bursts.keys) if held else None, "last_error": self.last_error,
                "bootstrapping": bool(self.bootstrapping and self.bootstrapping.is_alive())}

    def wall_minute(self) -> int:
        return int(self.clock() // 60)

    # -- writing ----------------------------------------------------------------------------------------
    def ingest(self, orders: Orders) -> int:
        """Count orders; raises StoreUnavailable (part may be counted; resending is safe: ids are idempotent)."""
        return self._locked(self.store.add, orders)

    def refund(self, orders: Orders) -> int:
        """Take refunded orders back off the counts; raises StoreUnavailable (resending is safe)."""
        return self._locked(self.store.refund, orders)

    def events_now(self) -> int | None:
        """The events clock's minute (the latest order counted), None before any; raises StoreUnavailable."""
        return self._locked(self.store.now)

    def _locked(self, call, *args):
        """One store call under the lists' lock; a failure is recorded (/v1/model's last_error) and raised."""
        with self._lock:
            try:
                return call(*args)
            except StoreUnavailable as exc:
                self._failed(exc)
                raise

    def bootstrap(self, model: Model) -> int:
        """Count the model's recent orders (the last week before its snapshot): baselines, and what was hot.

        One worker of all sharing the store claims it per model version. In process (always this worker) it is
        synchronous (12 s for 1.7M orders): reads would wait for the lock meanwhile anyway. With Redis the load
        runs in a background thread (about 40 s for 1.7M orders, mostly Redis's own time), so readiness is not
        held up; the lists fill in meanwhile. Returns the orders counted (0 when another replica has it, or in
        the background)."""
        if not self.cfg.bootstrap or not len(model.recent_orders["key"]):
            return 0
        r = model.recent_orders
        behind = self.wall_minute() - int(np.max(r["minute"]))  # minutes from the latest order to now
        if self.cfg.clock == "wall" and behind > 24 * 60 and not self._store_is_current():
            _log.warning("hot items: the model's latest order is %.0f days before now and the clock is the wall's, "
                         "so nothing is hot until new orders arrive (POST /v1/events/orders); to replay a past "
                         "snapshot, set XUANPIN_HOT_CLOCK=events", behind / (24 * 60))
        anchor_ids, product_ids = model.anchor_ids.ids, model.product_ids.ids

        def orders() -> Orders:  # built when loaded: a week of text ids is ~150 MB at 1.7M orders, per worker
            return Orders(np.asarray(r["key"], np.uint64), anchor_ids[r["anchor"]].astype(str),
                          product_ids[r["product"]].astype(str), np.asarray(r["minute"], np.int64))

        marker = f"bootstrapped:{model.manifest['model_version']}"
        if not self.store.concurrent:  # in process: this worker's own store, always up
            return self._load(orders(), marker) if self.store.claim(marker, "loading") else 0
        # shared (Redis): in the background, retried with backoff while the store is down, so a service started
        # before its Redis still gets the week's baselines once Redis is there. What is kept to count it again
        # (recount_if_lost) is the model's compact columns, not the Orders built from them.
        self._week = (orders, marker)
        self._start_bootstrap(orders, marker)
        return 0

    def _store_is_current(self) -> bool:
        """Whether the store already counts orders of the last day (a stream feeding a shared store while a new
        model loads): then the lists are not empty, whatever the model's age."""
        try:
            latest = self.store.now()
        except StoreUnavailable:
            return False
        return latest is not None and self.wall_minute() - latest <= 24 * 60

    def _start_bootstrap(self, orders: Callable[[], Orders], marker: str) -> None:
        token = f"loading:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        try:
            if not self.store.claim(marker, token, CLAIM_SECONDS):
                return  # another worker or replica has it (or has done it)
        except StoreUnavailable as exc:
            self._failed(exc)
        self.bootstrapping = threading.Thread(target=self._bootstrap_until_done, args=(orders, marker, token),
                                              name="hot-bootstrap", daemon=True)
        self.bootstrapping.start()

    def recount_if_lost(self) -> bool:
        """With a shared store, count the model's week again if the store lost it (Redis restarted without its
        data: the bootstrap's marker is gone with the counts), so baselines and bursts do not stay empty until the
        next model; orders it still holds are not counted twice (their ids are kept). True when it started."""
        if self._week is None or (self.bootstrapping is not None and self.bootstrapping.is_alive()):
            return False
        orders, marker = self._week
        try:
            if self.store.fetch(marker) is not None:
                return False
        except StoreUnavailable:
            return False  # down: the lists say so; look again once it is back
        _log.warning("hot items: the store no longer holds the model's week (%s is gone: Redis restarted without "
                     "its data?); counting it again", marker)
        self._start_bootstrap(orders, marker)
        return True

    def _bootstrap_until_done(self, week: Callable[[], Orders], marker: str, token: str) -> int:
        """Claim the model's week and load it; while the store is unavailable, try again after 1, 2, 4 ... up to
        BOOTSTRAP_LONGEST seconds, for BOOTSTRAP_GIVE_UP seconds. A claim lives CLAIM_SECONDS unless it is
        finished, so a worker that died (or lost Redis) loading it does not keep the others from it; a claim
        this worker made before the store failed is its own to finish."""
        wait, deadline = BOOTSTRAP_FIRST, time.monotonic() + BOOTSTRAP_GIVE_UP
        while True:
            try:
                if not self.store.claim(marker, token, CLAIM_SECONDS) and self.store.fetch(marker) != token.encode():
                    return 0  # another worker or replica has it (or has done it)
                started = time.perf_counter()
                orders = week()
                with self._lock:
                    new = self.store.load(orders)
                self.store.mark(marker, "done")  # other replicas (and the benchmark) can see it is done
                _log.info("hot items: %d of %d recent orders counted in %.1fs (%s store)", new, len(orders),
                          time.perf_counter() - started, self.kind)
                return new
            except StoreUnavailable as exc:  # serve without the history meanwhile, and try again
                self._failed(exc)
                if time.monotonic() + wait > deadline:
                    _log.warning("hot items: no bootstrap, store unavailable for %.0fs (%s)", BOOTSTRAP_GIVE_UP, exc)
                    return 0
                _log.warning("hot items: bootstrap waits %.0fs, store unavailable (%s)", wait, exc)
            time.sleep(wait)
            wait = min(2 * wait, BOOTSTRAP_LONGEST)

    def _load(self, orders: Orders, marker: str) -> int:
        started = time.perf_counter()
        with self._lock:
            new = self.store.load(orders)
        self.store.mark(marker, "done")
        _log.info("hot items: %d of %d recent orders counted in %.1fs (%s store)", new, len(orders),
                  time.perf_counter() - started, self.kind)
        return new

    # -- reading ----------------------------------------------------------------------------------------
    def platform(self) -> HotList:
        """The platform list. With refresh_seconds > 0 a thread of this process recomputes it in the background
        (a recompute reads every good's window: 3 ms in process, up to a few hundred ms from Redis under a flood
        of orders), so a request only reads the last list; the first request computes it."""
        if self.cfg.refresh_seconds <= 0:
            return self._cached(None)
        if self._refresher is None or not self._refresher.is_alive():  # started lazily: after gunicorn forks
            first = self._cached(None)
            self._refresher = threading.Thread(target=self._refresh, name="hot-refresh", daemon=True)
            self._refresher.start()
            return first
        held = self._platform
        if held is None and self.last_error is None:  # the refresh (started by /v1/model) has not run yet
            return self._cached(None)
        if held is None or self.last_error is not None:  # the last refresh failed: what we last knew, stale
            return HotList(held.bursts if held else Bursts.empty(), time.monotonic(), stale=True,
                           error=self.last_error)
        return held

    def refresh(self) -> HotList:
        """Recompute the platform list now: the background thread's step, every `refresh_seconds`."""
        return self._cached(None, force=True)

    def _refresh(self) -> None:
        while True:
            time.sleep(self.cfg.refresh_seconds)
            try:
                self.refresh()
                self.recount_if_lost()
            except Exception:  # a bug must not stop the refreshing for the life of the worker
                _log.exception("hot items: refreshing the platform list failed")

    def room(self, anchor_id: str) -> HotList:
        """A live room's list. With Redis, once it is `refresh_seconds` old a thread recomputes it while requests
        are still answered with it (stale-while-revalidate), so they do not wait on Redis behind other clients'
        scripts; a room not asked for in ROOM_MAX_AGE periods, or any room after a failure, is computed on the
        spot. In process a recompute takes ~0.4 ms and is done on the spot: handing it to a thread only added
        GIL hand-offs (room p99 1.1 -> 4.4 ms in process under a flood; with Redis 5.6-6.1 -> 2.1-3.4 ms)."""
        period, held = self.cfg.refresh_seconds, self._rooms.get(anchor_id)
        age = time.monotonic() - held.computed_at if held is not None else None
        if (period <= 0 or not self.store.concurrent or age is None or age > ROOM_MAX_AGE * period
                or self.last_error is not None):
            return self._cached(anchor_id)
        if age >= period:
            self._revalidate(anchor_id)
        return held

    def _revalidate(self, anchor: str) -> None:
        with self._pending_ready:
            if anchor in self._pending or len(self._pending) >= ROOM_CACHE:
                return
            self._pending[anchor] = None
            if self._room_refresher is None or not self._room_refresher.is_alive():
                self._room_refresher = threading.Thread(target=self._refresh_rooms, name="hot-rooms", daemon=True)
                self._room_refresher.start()
            self._pending_ready.notify()

    def _refresh_rooms(self) -> None:
        while True:
            with self._pending_ready:
                while not self._pending:
                    self._pending_ready.wait()
                anchor = next(iter(self._pending))
            try:
                self._cached(anchor, force=True)
            except Exception:  # a bug must not stop the refreshing for the life of the worker
                _log.exception("hot items: refreshing room %s failed", anchor)
            finally:
                with self._pending_ready:  # removed only now: requests meanwhile do not queue it again
                    self._pending.pop(anchor, None)

    def _cached(self, anchor: str | None, force: bool = False) -> HotList:
        now = time.monotonic()
        held = self._platform if anchor is None else self._rooms.get(anchor)
        if now < self._down_until:  # the store failed a moment ago: what we last knew, marked stale
            return HotList(held.bursts if held else Bursts.empty(), now, stale=True, error=self.last_error)
        if not force and held is not None and now - held.computed_at < self.cfg.refresh_seconds:
            return held
        try:
            with self._lock:
                # the background refresh of a shared store: one worker of all replicas computes it per period
                shared = anchor is None and force and self.store.concurrent
                fresh = HotList(self._shared_platform() if shared else self._detect(anchor), now)
        except StoreUnavailable as exc:
            self._failed(exc)
            return HotList(held.bursts if held else Bursts.empty(), now, stale=True, error=self.last_error)
        self.last_error = None
        if anchor is None:
            self._platform = fresh
        else:
            with self._rooms_lock:  # request threads of a threaded server share this cache
                self._rooms[anchor] = fresh
                self._rooms.move_to_end(anchor)
                while len(self._rooms) > ROOM_CACHE:
                    self._rooms.popitem(last=False)
        return fresh

    def _detect(self, anchor: str | None) -> Bursts:
        if self.cfg.clock == "wall":
            self.store.advance(self.wall_minute())
        return detect(self.store, self.cfg, anchor)

    def shared_key(self, name: str) -> str:
        """A shared name (a Redis key after the prefix) named by the burst settings too, so replicas configured
        differently never serve each other's platform lists."""
        later = {k: v for k, v in self.cfg.model_dump(include=set(BURST_TEST_LATER)).items()
                 if v != type(self.cfg).model_fields[k].default}
        settings = json.dumps(self.cfg.model_dump(include=set(BURST_TEST)) | later, sort_keys=True).encode()
        return f"{name}:{hashlib.sha1(settings).hexdigest()[:12]}"

    def _shared_platform(self) -> Bursts:
        """The platform list for the background refresh: per refresh period one worker of all replicas sharing the
        store computes it (with Redis: 16 shard scripts and the history scripts) and publishes it; the others read
        it in one GET. A published list older than three periods (its maker stopped) is recomputed here. In
        process the lease is always granted: this worker computes it every period."""
        period = self.cfg.refresh_seconds
        if not self.store.lease(self.shared_key(PLATFORM_LEASE), period):
            data = self.store.fetch(self.shared_key(PLATFORM_LIST))
            try:
                shared = json.loads(data) if data is not None else None
                if shared is not None and self.clock() - shared["made_at"] < 3 * period:
                    return Bursts.from_dict(shared["bursts"])
            except (ValueError, KeyError, TypeError) as exc:  # unreadable: compute it here, as if missing
                _log.warning("hot items: ignoring an unreadable shared platform list (%s)", exc)
        bursts = self._detect(None)
        self.store.mark(self.shared_key(PLATFORM_LIST),
                        json.dumps({"made_at": self.clock(), "bursts": bursts.to_dict()}), seconds=10 * period)
        return bursts

    def _failed(self, exc: Exception) -> None:
        self.last_error = str(exc)
        self._down_until = time.monotonic() + self.cfg.retry_seconds
        _log.warning("hot items store failed: %s", exc)
