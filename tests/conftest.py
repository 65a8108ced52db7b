"""Shared fixtures: generated marketplaces and a trained artifact, built once per test session."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from fixtures.marketplace import generate, write_marketplace
from training.trainer import train


@pytest.fixture(scope="session")
def small_generated():
    return generate("small", seed=7)


@pytest.fixture(scope="session")
def small_snapshot(tmp_path_factory, small_generated) -> Path:
    return write_marketplace(small_generated, tmp_path_factory.mktemp("small") / "snapshot")


@pytest.fixture(scope="session")
def small_artifact(tmp_path_factory, small_snapshot) -> Path:
    return train(small_snapshot, tmp_path_factory.mktemp("artifacts") / "small")


@pytest.fixture(scope="session")
def tiny_csv_master(tmp_path_factory) -> Path:
    return write_marketplace(generate("tiny", seed=3), tmp_path_factory.mktemp("tiny") / "snapshot", fmt="csv")


@pytest.fixture
def tiny_csv(tmp_path, tiny_csv_master) -> Path:
    """A private copy of the tiny CSV snapshot that a test may break."""
    return Path(shutil.copytree(tiny_csv_master, tmp_path / "snapshot"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server():
    """A real redis-server on a free loopback port, with no persistence; stopped on exit."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
    port = _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"redis-server did not start on port {port}")
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def redis_url():
    with redis_server() as (_, url):
        yield url
