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

from pydantic import Field, model_validator

from recommender.errors import ConfigError
from recommender.hot.config import HotConfig
from recommender.ranking import RankingConfig
from recommender.settings import Settings, read_config_file, validated


class ServiceConfig(Settings):
    """The service: which model to serve, its routes' limits, ranking and hot items."""

    model: Path | None = Field(None, description="a fixed model artifact directory (or use `registry`)")
    registry: Path | None = Field(None, description="a model registry: serve its CURRENT, follow changes")
    poll_seconds: float = Field(30.0, ge=0, allow_inf_nan=False, description="how often to check the registry (0: "
                                "only on POST /v1/admin/reload, which reaches one worker: one worker only)")
    admin_token: str | None = Field(None, min_length=16, description="bearer token for /v1/admin/* (off if unset)")
    ranking: RankingConfig = Field(default_factory=RankingConfig, description="ranking weights and quality gates")
    max_body_bytes: int = Field(1 << 20, ge=1024, description="larger request bodies get 413")
    faiss_threads: int = Field(1, ge=1, description="OpenMP threads faiss may use per worker")
    hot: HotConfig = Field(default_factory=HotConfig, description="hot items: the store, the burst test, the feed")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        data: dict = {}
        if env.get("XUANPIN_CONFIG"):
            data = read_config_file(env["XUANPIN_CONFIG"])
        # the environment overrides the file, the choice of source included: a model in the environment
        # replaces the file's registry, and the other way round (both in the environment stay an error)
        if env.get("XUANPIN_MODEL"):
            data["model"] = env["XUANPIN_MODEL"]
            if not env.get("XUANPIN_REGISTRY"):
                data.pop("registry", None)
        if env.get("XUANPIN_REGISTRY"):
            data["registry"] = env["XUANPIN_REGISTRY"]
            if not env.get("XUANPIN_MODEL"):
                data.pop("model", None)
        if env.get("XUANPIN_ADMIN_TOKEN"):
            data["admin_token"] = env["XUANPIN_ADMIN_TOKEN"]
        if env.get("XUANPIN_POLL_SECONDS"):
            data["poll_seconds"] = _number(env, "XUANPIN_POLL_SECONDS", float)
        if env.get("XUANPIN_MAX_BODY_BYTES"):
            data["max_body_bytes"] = _number(env, "XUANPIN_MAX_BODY_BYTES", int)
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


def _number(env, var: str, kind: type[int] | type[float]) -> int | float:
    """An environment variable's number, or an error that names the variable (not a traceback)."""
    try:
        return kind(env[var])
    except ValueError:
        what = "a whole number of bytes" if kind is int else "a number of seconds"
        raise ConfigError(f"{var}={env[var]!r}: must be {what}") from None
