"""Service configuration: one validated object, from a file and environment variables.

    XUANPIN_MODEL           path of the model artifact to serve, or
    XUANPIN_REGISTRY        a model registry: serve its CURRENT and follow it (hot reload)
    XUANPIN_POLL_SECONDS    how often to check the registry (default 30; 0: only on POST /v1/admin/reload)
    XUANPIN_ADMIN_TOKEN     bearer token for POST /v1/admin/reload (the route is off without one)
    XUANPIN_CONFIG          optional JSON or TOML file with any field below (ranking weights and gates too)
    XUANPIN_MAX_BODY_BYTES  largest request body accepted (413 above)
    XUANPIN_REDIS_URL       hot items: count orders in Redis (shared by workers and replicas); default in-process
    XUANPIN_EVENTS_TOKEN    bearer token for POST /v1/events/orders (the route is off without one)
    XUANPIN_HOT_CLOCK       "wall" (default: bursts decay as real time passes) or "events" (time is the latest
                            order's: for replaying a snapshot, as `make run` does)

Environment variables override the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recommender.ranking import RankingConfig
from recommender.settings import Settings, read_config_file, validated


class HotConfig(BaseModel):
    """Hot items (爆款): where orders are counted and what makes a burst."""

    model_config = ConfigDict(extra="forbid")

    redis_url: str | None = Field(None, description="redis://host:port/db; unset: in-process (one worker only)")
    redis_prefix: str = Field("xp:hot:", min_length=1, description="key prefix, to share one Redis")
    redis_timeout: float = Field(2.0, gt=0, description="seconds before a Redis call counts as failed")
    events_token: str | None = Field(None, min_length=16, description="bearer token for POST /v1/events/orders")
    clock: Literal["wall", "events"] = Field("wall", description="wall: real time; events: the latest order's")
    recent_minutes: int = Field(15, ge=1, le=60, description="the window tested for a burst")
    min_orders: int = Field(5, ge=1, description="fewer orders in the window are never a burst")
    alpha: float = Field(1e-4, gt=0, lt=1, description="Poisson tail probability that makes a burst")
    floor_per_hour: float = Field(0.2, gt=0, description="baseline rate of goods with no history")
    max_candidates: int = Field(500, ge=10, le=5000, description="goods tested per list (the busiest); bounds "
                                "the cost under a flood of orders")
    refresh_seconds: float = Field(2.0, ge=0, description="how long a computed hot list is served before redoing")
    retry_seconds: float = Field(5.0, ge=0, description="after the store fails, serve the last list this long")
    max_events: int = Field(5000, ge=1, le=100_000, description="largest batch POST /v1/events/orders accepts")
    max_future_minutes: int = Field(5, ge=0, description="wall clock: orders further ahead are rejected")
    room_capacity: int = Field(100_000, ge=100, description="(room, good) keys the in-process store keeps")
    bootstrap: bool = Field(True, description="count the model's recent orders at start (baselines, what's hot)")
    affinity_weight: float = Field(1.0, ge=0, description="fan feed: weight of the fan's affinity (z-score)")
    follow_bonus: float = Field(1.0, ge=0, description="fan feed: bonus for goods a followed anchor sells")


class ServiceConfig(Settings):
    """Everything the service reads at start: what to serve, the admin and body limits, ranking, hot items."""

    model: Path | None = Field(None, description="a fixed model artifact directory (or use `registry`)")
    registry: Path | None = Field(None, description="a model registry: serve its CURRENT, follow changes")
    poll_seconds: float = Field(30.0, ge=0, description="how often to check the registry (0: only on request)")
    admin_token: str | None = Field(None, min_length=16, description="bearer token for /v1/admin/* (off if unset)")
    ranking: RankingConfig = Field(default_factory=RankingConfig, description="ranking weights and gates")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="larger request bodies get 413")
    faiss_threads: int = Field(1, ge=1, description="OpenMP threads faiss may use per worker")
    hot: HotConfig = Field(default_factory=HotConfig, description="hot items (爆款)")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        data: dict = {}
        if env.get("XUANPIN_CONFIG"):
            data = read_config_file(env["XUANPIN_CONFIG"])
        if env.get("XUANPIN_MODEL"):
            data["model"] = env["XUANPIN_MODEL"]
        if env.get("XUANPIN_REGISTRY"):
            data["registry"] = env["XUANPIN_REGISTRY"]
        if env.get("XUANPIN_ADMIN_TOKEN"):
            data["admin_token"] = env["XUANPIN_ADMIN_TOKEN"]
        if env.get("XUANPIN_POLL_SECONDS"):
            data["poll_seconds"] = float(env["XUANPIN_POLL_SECONDS"])
        if env.get("XUANPIN_MAX_BODY_BYTES"):
            data["max_body_bytes"] = int(env["XUANPIN_MAX_BODY_BYTES"])
        for var, key in (("XUANPIN_REDIS_URL", "redis_url"), ("XUANPIN_EVENTS_TOKEN", "events_token"),
                         ("XUANPIN_HOT_CLOCK", "clock")):
            if env.get(var):
                data.setdefault("hot", {})[key] = env[var]
        return validated(cls, data, env.get("XUANPIN_CONFIG") or "service configuration")

    @model_validator(mode="after")
    def _one_source(self) -> ServiceConfig:
        if (self.model is None) == (self.registry is None):
            raise ValueError("configure exactly one of a model (XUANPIN_MODEL) or a registry (XUANPIN_REGISTRY)")
        return self
