"""The production settings: several workers never split the hot-items counts without being told to."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "serve" / "gunicorn.conf.py"


class Server:
    """What on_starting reads of gunicorn's arbiter: the worker count it will run (-w included)."""

    def __init__(self, workers: int) -> None:
        self.cfg = type("Cfg", (), {"workers": workers})()


def settings(monkeypatch, **env) -> dict:
    for name in ("XUANPIN_REDIS_URL", "XUANPIN_EVENTS_TOKEN", "XUANPIN_WORKERS", "XUANPIN_ALLOW_SPLIT_COUNTS",
                 "XUANPIN_CONFIG", "XUANPIN_REGISTRY", "XUANPIN_POLL_SECONDS"):
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
    conf = settings(monkeypatch, XUANPIN_EVENTS_TOKEN="t" * 16)
    with pytest.raises(SystemExit, match="XUANPIN_REDIS_URL"):
        conf["on_starting"](Server(2))  # e.g. gunicorn -w 2
    conf["on_starting"](Server(1))
    for allow in ("0", ""):
        with pytest.raises(SystemExit):
            settings(monkeypatch, XUANPIN_EVENTS_TOKEN="t" * 16, XUANPIN_ALLOW_SPLIT_COUNTS=allow)["on_starting"](
                Server(2))
    settings(monkeypatch, XUANPIN_EVENTS_TOKEN="t" * 16, XUANPIN_ALLOW_SPLIT_COUNTS="1")["on_starting"](Server(2))


def test_ingestion_and_redis_set_in_the_config_file_count_too(monkeypatch, tmp_path):
    token_only = tmp_path / "token.toml"
    token_only.write_text('model = "m"\n[hot]\nevents_token = "tttttttttttttttt"\n', encoding="utf-8")
    conf = settings(monkeypatch, XUANPIN_CONFIG=str(token_only))
    assert conf["workers"] == 1
    with pytest.raises(SystemExit):
        conf["on_starting"](Server(2))
    shared = tmp_path / "shared.toml"
    shared.write_text('[hot]\nevents_token = "tttttttttttttttt"\nredis_url = "redis://x"\n', encoding="utf-8")
    settings(monkeypatch, XUANPIN_CONFIG=str(shared))["on_starting"](Server(2))


def test_serving_a_registry_with_polling_off_is_refused_with_several_workers(monkeypatch, tmp_path):
    """POST /v1/admin/reload reaches one worker: with polling off the others would never follow CURRENT."""
    conf = settings(monkeypatch, XUANPIN_REGISTRY="/srv/registry", XUANPIN_POLL_SECONDS="0")
    with pytest.raises(SystemExit, match="XUANPIN_POLL_SECONDS=0"):
        conf["on_starting"](Server(2))
    conf["on_starting"](Server(1))
    settings(monkeypatch, XUANPIN_REGISTRY="/srv/registry", XUANPIN_POLL_SECONDS="5")["on_starting"](Server(2))
    settings(monkeypatch, XUANPIN_REGISTRY="/srv/registry")["on_starting"](Server(2))  # the default polls
    settings(monkeypatch, XUANPIN_MODEL="/srv/model", XUANPIN_POLL_SECONDS="0")["on_starting"](Server(2))
    config = tmp_path / "service.toml"
    config.write_text('registry = "/srv/registry"\npoll_seconds = 0\n')
    with pytest.raises(SystemExit, match="XUANPIN_POLL_SECONDS=0"):
        settings(monkeypatch, XUANPIN_CONFIG=str(config))["on_starting"](Server(2))
