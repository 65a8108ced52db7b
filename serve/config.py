"""Service configuration: one validated object, from a file and environment variables.

    XUANPIN_MODEL           path of the model artifact to serve
    XUANPIN_CONFIG          optional JSON or TOML file with any field below (ranking weights and gates too)
    XUANPIN_MAX_BODY_BYTES  largest request body accepted (413 above)

Environment variables override the file.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from recommender.ranking import RankingConfig


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: Path = Field(description="model artifact directory")
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
        if env.get("XUANPIN_MAX_BODY_BYTES"):
            data["max_body_bytes"] = int(env["XUANPIN_MAX_BODY_BYTES"])
        if "model" not in data:
            raise ValueError("no model configured: set XUANPIN_MODEL to an artifact directory "
                             "(or 'model' in the XUANPIN_CONFIG file)")
        return cls.model_validate(data)
