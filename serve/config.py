"""Service configuration: one validated object, from a file and environment variables.

    XUANPIN_MODEL           path of the model artifact to serve, or
    XUANPIN_REGISTRY        a model registry: serve its CURRENT and follow it (hot reload)
    XUANPIN_POLL_SECONDS    how often to check the registry (default 30; 0: only on POST /v1/admin/reload)
    XUANPIN_ADMIN_TOKEN     bearer token for POST /v1/admin/reload (the route is off without one)
    XUANPIN_CONFIG          optional JSON or TOML file with any field below (ranking weights and gates too)
    XUANPIN_MAX_BODY_BYTES  largest request body accepted (413 above)

Environment variables override the file.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recommender.ranking import RankingConfig


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: Path | None = Field(None, description="a fixed model artifact directory (or use `registry`)")
    registry: Path | None = Field(None, description="a model registry: serve its CURRENT, follow changes")
    poll_seconds: float = Field(30.0, ge=0, description="how often to check the registry (0: only on request)")
    admin_token: str | None = Field(None, min_length=16, description="bearer token for /v1/admin/* (off if unset)")
    ranking: RankingConfig = Field(default_factory=RankingConfig)
    max_body_bytes: int = Field(1 << 20, ge=1024, description="larger request bodies get 413")
    faiss_threads: int = Field(1, ge=1, description="OpenMP threads faiss may use per worker")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServiceConfig:
        env = os.environ if environ is None else environ
        data: dict = {}
        if env.get("XUANPIN_CONFIG"):
            path = Path(env["XUANPIN_CONFIG"])
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
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
        return cls.model_validate(data)

    @model_validator(mode="after")
    def _one_source(self) -> ServiceConfig:
        if (self.model is None) == (self.registry is None):
            raise ValueError("configure exactly one of a model (XUANPIN_MODEL) or a registry (XUANPIN_REGISTRY)")
        return self
