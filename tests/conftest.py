"""Shared fixtures: generated marketplaces and a trained artifact, built once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
