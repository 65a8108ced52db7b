"""What burst detection and the hot lists need from a store of order counts, whichever store it is.

Two stores implement it: `memory.MemoryStore` (one process) and `redis_store.RedisStore` (every worker and
replica). Besides counting, a store coordinates the workers that share it: which one loads the model's
history (`claim`), which one computes the platform list this period (`lease`), and the list it publishes
(`mark`, `fetch`). A store private to one process has no one to coordinate with: it always grants the claim and
the lease, and fetches what this process marked, so the same code serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from recommender.hot.orders import Orders

#: the wall clock moved a store's clock forward this far at once, with no order and no tick in between: the
#: service was not counting (stopped, or a new process on an old store), so the live coverage starts again there
COVERAGE_GAP_MINUTES = 60


@dataclass(frozen=True)
class Coverage:
    """The minutes a store's counts are complete for: the live stream since `live_since` (up to the store's
    clock) and the history a start-up load counted (`history`: its first and last order's minute). Hours before
    either hold no orders because nothing was counted then, not because nothing sold: a baseline over them would
    read every steady seller as bursting. Both None: no record (a store written by an older version), taken as
    complete."""

    live_since: int | None = None
    history: tuple[int, int] | None = None

    def held(self, start: int, end: int) -> int | None:
        """Minutes of [start, end] (both included) the counts cover; None when the store keeps no record."""
        if self.live_since is None and self.history is None:
            return None
        spans = [(max(start, a), min(end, b)) for a, b in
                 ([(self.live_since, end)] if self.live_since is not None else [])
                 + ([self.history] if self.history is not None else [])]
        spans = sorted((a, b) for a, b in spans if a <= b)
        if len(spans) == 2 and spans[1][0] <= spans[0][1] + 1:  # overlapping or adjacent: one span
            spans = [(spans[0][0], max(spans[0][1], spans[1][1]))]
        return sum(b - a + 1 for a, b in spans)


def merged_history(old: tuple[int, int] | None, first: int, last: int) -> tuple[int, int]:
    """A loaded history's span joined to the one already held when they overlap or touch; otherwise the later
    (a model's week far from the last one: only the newer can fall in the windows)."""
    if old is None:
        return first, last
    if first <= old[1] + COVERAGE_GAP_MINUTES and old[0] <= last + COVERAGE_GAP_MINUTES:
        return min(first, old[0]), max(last, old[1])
    return (first, last) if last > old[1] else old


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

    def load(self, orders: Orders) -> int:
        """Count a large history at once (a service's start); nothing counted already is counted again."""

    def now(self) -> int | None:
        """The store's clock: the latest minute it has seen or been advanced to."""

    def advance(self, minute: int) -> None:
        """Move the clock forward (wall time), so a burst decays when orders stop."""

    def coverage(self) -> Coverage:
        """The minutes the counts are complete for (what a baseline may be computed over)."""

    def recent(self, span: int, min_orders: int, anchor: str | None = None,
               now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Goods with at least `min_orders` in the last `span` minutes (platform-wide or in one room). `now`:
        the clock as the caller read it (saves a round trip to a remote store)."""

    def history(self, products: np.ndarray, anchor: str | None = None,
                now: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Orders of `products` in the last 24 hours and the last 7 days (current hour included)."""

    # -- coordination between the workers sharing the store ---------------------------------------------------
    def claim(self, name: str, value: str = "1", seconds: int = ...) -> bool:
        """True for the first caller of `name` within `seconds` (e.g. the one worker that bootstraps)."""

    def mark(self, name: str, value: str | bytes, seconds: float = ...) -> None:
        """Publish `value` under `name` for `seconds`, to every worker sharing the store."""

    def lease(self, name: str, seconds: float) -> bool:
        """True for one caller per `seconds` (e.g. the worker that computes the platform list this round)."""

    def fetch(self, name: str) -> bytes | None:
        """What was last marked under `name`, while it lasts."""
