"""The one configuration style: pydantic models with bounds and a description per field, read from JSON or
TOML by one reader. Unknown keys are errors (a typo must not silently fall back to a default), and a bad file
raises `ConfigError` naming the file and the field."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from recommender.errors import ConfigError

S = TypeVar("S", bound="Settings")


class Settings(BaseModel):
    """Base of every configuration: strict keys, validated on assignment too (``cfg.factors = -3`` fails), and
    finite numbers (NaN passes no bound's test, so a bound's message would blame the wrong thing, or none)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping a JSON or TOML file holds (by suffix: ``.toml`` is TOML, anything else JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError and TOMLDecodeError included
        raise ConfigError(f"{path}: unreadable configuration ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a configuration is a mapping of fields, got {type(data).__name__}")
    return data


def validated(cls: type[S], data: dict[str, Any], source: str = "configuration") -> S:
    """`cls` built from `data`; every invalid field named (``factors.factors: Input should be ...``)."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(f"{source}: {problems}") from exc


def load_settings(cls: type[S], path: str | Path) -> S:
    """Read and validate one configuration file."""
    return validated(cls, read_config_file(path), str(path))
