"""Prometheus metrics: request latency per route, request counts, and what model is loaded."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """One registry per app (tests build many apps). Under gunicorn with PROMETHEUS_MULTIPROC_DIR set,
    /metrics aggregates all workers; without it each worker reports its own requests."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("xuanpin_request_duration_seconds", "Request latency by route",
                                 ["route", "method", "status"], buckets=BUCKETS, registry=self.registry)
        self.model = Gauge("xuanpin_model_info", "Loaded model (value 1; 0: served before), by version", ["version"],
                           registry=self.registry, multiprocess_mode="liveall")
        self.fallback = Gauge("xuanpin_model_fallback", "1 while the worker serves a version other than CURRENT "
                              "because CURRENT cannot be loaded or names no version (reload.fallback on /v1/model)",
                              registry=self.registry, multiprocess_mode="liveall")
        self.items = Gauge("xuanpin_model_items", "Entities in the loaded model", ["kind"],
                           registry=self.registry, multiprocess_mode="liveall")
        self.errors = Counter("xuanpin_errors", "Error responses by code", ["code"], registry=self.registry)
        # hot items: what became of the orders posted (a resend's duplicates are normal, a rise in rejected or
        # ignored is a producer's fault), and hot answers served stale because the store failed, which readers
        # see only in the answers' stale flag: a Redis outage shows here even when no order is being posted
        self.hot_orders = Counter("xuanpin_hot_orders", "Orders posted to /v1/events/orders, by outcome (accepted, "
                                  "duplicate, refunded, ignored, rejected)", ["outcome"], registry=self.registry)
        self.hot_stale = Counter("xuanpin_hot_stale_answers", "Hot-list answers served stale (the store failed), by "
                                 "route", ["route"], registry=self.registry)
        self._version: str | None = None  # the model version this worker serves

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.latency.labels(route, method, str(status)).observe(seconds)

    def model_loaded(self, version: str, counts: dict[str, int]) -> None:
        # the version served before goes to 0 rather than away: under gunicorn (PROMETHEUS_MULTIPROC_DIR) a gauge
        # is a file per worker, which clear() leaves as it is, so a reloaded worker listed both versions at 1
        if self._version is not None and self._version != version:
            self.model.labels(self._version).set(0)
        self._version = version
        self.model.labels(version).set(1)
        for kind in ("anchors", "fans", "products"):
            self.items.labels(kind).set(counts[kind])

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
