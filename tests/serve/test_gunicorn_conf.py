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
                 "XUANPIN_CONFIG", "XUANPIN_REGISTRY", "XUANPIN_POLL_SECONDS", "PROMETHEUS_MULTIPROC_DIR",
                 "XUANPIN_MODEL"):
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


@pytest.mark.parametrize("asked", ["0", "-1", "two"])
def test_a_worker_count_that_runs_nothing_is_refused_at_start(monkeypatch, asked):
    with pytest.raises(SystemExit, match=f"XUANPIN_WORKERS='{asked}'"):
        settings(monkeypatch, XUANPIN_WORKERS=asked)
    with pytest.raises(SystemExit, match="at least one"):
        settings(monkeypatch)["on_starting"](Server(0))  # gunicorn -w 0


def test_config_file_values_of_the_wrong_type_are_left_for_the_app_to_name(monkeypatch, tmp_path):
    config = tmp_path / "service.toml"
    config.write_text('registry = "/srv/registry"\npoll_seconds = [1]\nhot = "redis"\n')
    settings(monkeypatch, XUANPIN_CONFIG=str(config))["on_starting"](Server(2))  # no TypeError, no AttributeError


def test_the_metrics_directory_is_made_emptied_of_a_dead_run_and_forgets_exited_workers(monkeypatch, tmp_path):
    metrics = tmp_path / "prom"
    conf = settings(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics))
    conf["on_starting"](Server(1))
    assert metrics.is_dir()
    (metrics / "gauge_liveall_999999.db").write_bytes(b"old run")
    (metrics / "notes.txt").write_text("kept")
    conf["on_starting"](Server(1))
    assert sorted(p.name for p in metrics.iterdir()) == ["notes.txt"]
    (metrics / "gauge_liveall_4242.db").write_bytes(b"a worker's live gauge: the model version it serves")
    (metrics / "counter_4242.db").write_bytes(b"its requests: still counted once it is gone")
    conf["child_exit"](None, type("Worker", (), {"pid": 4242})())
    assert sorted(p.name for p in metrics.iterdir()) == ["counter_4242.db", "notes.txt"]
    (tmp_path / "afile").write_text("")
    with pytest.raises(SystemExit, match="PROMETHEUS_MULTIPROC_DIR"):
        settings(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "afile"))["on_starting"](Server(1))


def test_a_model_in_the_environment_overrides_the_file_s_registry_for_the_reload_check(monkeypatch, tmp_path):
    config = tmp_path / "service.toml"
    config.write_text('registry = "/srv/registry"\npoll_seconds = 0\n')
    settings(monkeypatch, XUANPIN_CONFIG=str(config), XUANPIN_MODEL="/srv/model")["on_starting"](Server(2))
