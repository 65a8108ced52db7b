"""Every hot-items setting, declared once: where orders are counted, what makes a burst, how long a list is
served, and how the fan feed is scored. The service reads it as the `hot` section of its configuration."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from recommender.settings import Settings

#: the settings that change what the burst test finds. Workers sharing a store publish the platform list
#: under a key named by their values, so replicas configured differently never serve each other's lists.
BURST_TEST = ("recent_minutes", "min_orders", "alpha", "floor_per_hour", "max_candidates")
#: burst-test settings added since: named in the key only when not at their default, so replicas on the defaults
#: keep the key earlier versions used (an upgrade one replica at a time still shares one list)
BURST_TEST_LATER = ("min_baseline_minutes",)


class HotConfig(Settings):
    """Hot items (爆款): where orders are counted and what makes a burst."""

    # the store
    redis_url: str | None = Field(None, pattern=r"^(redis|rediss|unix)://", description="redis://host:port/db "
                                  "(rediss:// with TLS, unix:///path.sock); unset: in-process (one worker only)")
    redis_prefix: str = Field("xp:hot:", min_length=1, description="key prefix, to share one Redis")
    redis_timeout: float = Field(2.0, gt=0, description="seconds before a Redis call counts as failed")
    room_capacity: int = Field(100_000, ge=100, description="(room, good) keys the in-process store keeps")
    bootstrap: bool = Field(True, description="count the model's recent orders at start (baselines, what's hot)")

    # ingestion
    events_token: str | None = Field(None, min_length=16, description="bearer token for POST /v1/events/orders")
    clock: Literal["wall", "events"] = Field("wall", description="wall: real time; events: the latest order's")
    max_events: int = Field(5000, ge=1, le=100_000, description="largest batch POST /v1/events/orders accepts")
    max_future_minutes: int = Field(5, ge=0, description="orders further ahead of real time are rejected "
                                    "(under either clock)")
    max_events_ahead_minutes: int = Field(24 * 60, ge=0, description="events clock: orders further ahead of the "
                                          "latest order counted are rejected, so one mistyped date cannot move the "
                                          "clock past every later order, unless they are a jump in a replay: at "
                                          "least min_jump_orders of one batch that far ahead, together")
    min_jump_orders: int = Field(5, ge=2, description="events clock: orders of one batch, more than "
                                 "max_events_ahead_minutes after the latest order counted and within that of their "
                                 "own median, that make a jump ahead (fewer: refused as mistyped dates)")

    # the burst test (BURST_TEST)
    recent_minutes: int = Field(15, ge=1, le=60, description="the window tested for a burst (the minute ring "
                                "holds the last hour)")
    min_orders: int = Field(5, ge=1, description="fewer orders in the window are never a burst")
    alpha: float = Field(1e-4, gt=0, lt=1, description="Poisson tail probability that makes a burst")
    floor_per_hour: float = Field(0.2, gt=0, description="baseline rate of goods with no history: a handful of "
                                  "first orders is no burst")
    min_baseline_minutes: int = Field(60, ge=1, le=24 * 60, description="a baseline needs this many minutes of "
                                      "whole hours the store counted before the tested window (hours with any "
                                      "order, not the first or last of a stretch of counting): until it has them "
                                      "nothing is called hot")
    max_candidates: int = Field(500, ge=10, le=5000, description="goods tested per list (the busiest); bounds "
                                "the cost under a flood of orders")

    # serving the lists
    refresh_seconds: float = Field(2.0, ge=0, description="how long a computed hot list is served before redoing")
    retry_seconds: float = Field(5.0, ge=0, description="after the store fails, serve the last list this long")

    # the fan feed
    affinity_weight: float = Field(1.0, ge=0, description="fan feed: weight of the fan's affinity (z-score)")
    follow_bonus: float = Field(1.0, ge=0, description="fan feed: bonus for goods a followed anchor sells")
