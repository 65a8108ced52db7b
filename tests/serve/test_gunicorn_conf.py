"""The production settings: several workers never split the hot-items counts without being told to."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "serve" / "gunicorn.conf.py"


def settings(monkeypatch, **env) -> dict:
    for name in ("XUANPIN_REDIS_URL", "XUANPIN_EVENTS_TOKEN", "XUANPIN_WORKERS", "XUANPIN_ALLOW_SPLIT_COUNTS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_ingestion_without_redis_defaults_to_one_worker(monkeypatch):
    assert settings(monkeypatch, XUANPIN_EVENTS_TOKEN="t" * 16)["workers"] == 1


def test_with_redis_or_without_ingestion_every_core_gets_a_worker(monkeypatch):
    import multiprocessing

    cores = multiprocessing.cpu_count()
    assert settings(monkeypatch)["workers"] == cores
    assert settings(monkeypatch, XUANPIN_EVENTS_TOKEN="t" * 16, XUANPIN_REDIS_URL="redis://x")["workers"] == cores


def test_asking_for_split_counts_is_refused_unless_allowed(monkeypatch):
    conf = settings(monkeypatch, XUANPIN_EVENTS_TOKEN="t" * 16, XUANPIN_WORKERS="2")
    with pytest.raises(SystemExit, match="XUANPIN_REDIS_URL"):
        conf["on_starting"](None)
    allowed = settings(monkeypatch, XUANPIN_EVENTS_TOKEN="t" * 16, XUANPIN_WORKERS="2", XUANPIN_ALLOW_SPLIT_COUNTS="1")
    allowed["on_starting"](None)
    assert allowed["workers"] == 2
