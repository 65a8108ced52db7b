"""What burst detection and the hot lists need from a store of order counts, whichever store it is.

Two stores implement it: `memory.MemoryStore` (one process) and `redis_store.RedisStore` (every worker and
replica). Besides counting, a store coordinates the workers that share it: which one loads the model's
history (`claim`), which one computes the platform list this period (`lease`), and the list it publishes
(`mark`, `fetch`). A store private to one process has no one to coordinate with: it always grants the claim and
the lease, and fetches what this process marked, so the same code serves both.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from recommender.hot.orders import Orders


class HotStore(Protocol):
    """A store of order counts in the windows of `recommender.hot.counts` (the last hour by minute, the last
    week by hour), per good and per (room, good). Keys are ids as strings."""

    #: reported by /v1/model and the hot routes: "memory" or "redis"
    kind: str
    #: True when calls are atomic on a server shared by every worker: threads may call at once, a long load may
    #: run while lists are read, and a call may wait behind other clients. False: callers hold one lock around
    #: each sequence of calls, and a call costs microseconds.
    concurrent: bool

    def add(self, orders: Orders) -> int:
        """Count orders not seen before; returns how many were new."""

    def refund(self, orders: Orders) -> int:
        """Take refunded orders (their ids) back off the counts they were in; returns how many were. An order
        not seen yet is remembered, so the order arriving after its refund is not counted."""

    def load(self, orders: Orders) -> int:
        """Count a large history at once (a service's start); nothing counted already is counted again."""

    def now(self) -> int | None:
        """The store's clock: the latest minute it has seen or been advanced to."""

    def advance(self, minute: int) -> None:
        """Move the clock forward (wall time), so a burst decays when orders stop."""

    def recent(self, span: int, min_orders: int, anchor: str | None = None,
               now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Goods with at least `min_orders` in the last `span` minutes (platform-wide or in one room). `now`:
        the clock as the caller read it (saves a round trip to a remote store)."""

    def history(self, products: np.ndarray, anchor: str | None = None,
                now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Orders of `products` in the last 24 hours and the last 7 days (current hour included)."""

    def history_and_baseline(self, products: np.ndarray, hours: np.ndarray, anchor: str | None = None,
                             now: int | None = None) -> tuple[np.ndarray, ...]:
        """history()'s two sums, then the same two over only `hours` (minute // 60): in one pass over the
        buckets, as the burst test needs them."""

    def hour_totals(self, now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The hours (minute // 60) of the last week in which the store counted any order, ascending, and the
        platform's orders in each (NaN where a store counted by an earlier version kept none). An hour with no
        order was not counted at all (before the store started, while its service was stopped, before Redis lost
        its data), and one holding far fewer orders than the hours beside it was counted only in part: a
        baseline over either reads every steady seller as a burst."""

    # -- coordination between the workers sharing the store ---------------------------------------------------
    def claim(self, name: str, value: str = "1", seconds: int = ...) -> bool:
        """True for the first caller of `name` within `seconds` (e.g. the one worker that bootstraps)."""

    def mark(self, name: str, value: str | bytes, seconds: float = ...) -> None:
        """Publish `value` under `name` for `seconds`, to every worker sharing the store."""

    def lease(self, name: str, seconds: float) -> bool:
        """True for one caller per `seconds` (e.g. the worker that computes the platform list this round)."""

    def fetch(self, name: str) -> bytes | None:
        """What was last marked under `name`, while it lasts."""
