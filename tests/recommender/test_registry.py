"""The model registry on its own: complete versions, an atomic CURRENT, rollback, retention, history, lock."""

from __future__ import annotations

import json
import os
import time

import pytest

from recommender.artifact import FORMAT_VERSION
from recommender.errors import LockHeld, RegistryError
from recommender.registry import Registry


def add_version(reg: Registry, version: str, complete: bool = True) -> None:
    path = reg.path(version)
    path.mkdir(parents=True)
    if complete:
        (path / "manifest.json").write_text(json.dumps({"format_version": FORMAT_VERSION}))


@pytest.fixture
def reg(tmp_path) -> Registry:
    reg = Registry.open(tmp_path / "registry")
    for version in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        add_version(reg, version)
    return reg


def test_versions_are_the_complete_ones_oldest_first(reg):
    add_version(reg, "20260104T000000Z", complete=False)  # a training still writing
    (reg.versions_dir / ".tmp-run").mkdir()
    assert reg.versions() == ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"]
    assert reg.current() is None and reg.current_path() is None


def test_set_current_points_at_a_complete_version_only(reg):
    reg.set_current("20260102T000000Z")
    assert reg.current() == "20260102T000000Z" and reg.current_path() == reg.path("20260102T000000Z")
    add_version(reg, "20260104T000000Z", complete=False)
    with pytest.raises(RegistryError, match="no manifest"):
        reg.set_current("20260104T000000Z")
    assert reg.current() == "20260102T000000Z"


@pytest.mark.parametrize("bad", ["", "../elsewhere", ".hidden"])
def test_invalid_version_ids_are_refused(reg, bad):
    with pytest.raises(RegistryError, match="invalid version id"):
        reg.path(bad)


def test_rollback_goes_to_the_version_served_before_never_to_one_only_trained(reg):
    # 01 was promoted, 02 was trained but refused by the gate, 03 was promoted and is CURRENT
    for version in ("20260101T000000Z", "20260103T000000Z"):
        reg.set_current(version)
        reg.record("promoted", version=version)
    assert reg.served() == ["20260101T000000Z", "20260103T000000Z"]
    assert reg.rollback() == "20260101T000000Z" and reg.current() == "20260101T000000Z"
    assert reg.history()[-1] == {**reg.history()[-1], "event": "rolled_back", "version": "20260101T000000Z",
                                 "previous": "20260103T000000Z"}
    with pytest.raises(RegistryError, match="no version served before"):
        reg.rollback()  # 03 was rolled back from: going back never returns to it
    assert reg.rollback("20260102T000000Z") == "20260102T000000Z"  # a named version is taken as asked
    assert reg.served()[-1] == "20260102T000000Z"


def test_rolling_back_twice_goes_two_steps_back(reg):
    add_version(reg, "20260104T000000Z")
    for version in ("20260101T000000Z", "20260102T000000Z", "20260104T000000Z"):
        reg.set_current(version)
        reg.record("promoted", version=version)
    assert reg.rollback() == "20260102T000000Z"
    assert reg.rollback() == "20260101T000000Z"


def test_a_history_line_torn_by_a_crash_is_skipped(reg):
    reg.set_current("20260101T000000Z")
    reg.record("promoted", version="20260101T000000Z")
    with open(reg.root / "history.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"at": "2026-01-02T00:00:00+00:00", "event": "promo')  # the process died mid-write
    assert [e["event"] for e in reg.history()] == ["promoted"]
    assert reg.served() == ["20260101T000000Z"]


def test_rollback_without_an_older_version_or_to_an_unknown_one_is_refused(reg):
    reg.set_current("20260101T000000Z")
    with pytest.raises(RegistryError, match="no version served before"):
        reg.rollback()
    with pytest.raises(RegistryError, match="no manifest"):
        reg.rollback("20990101T000000Z")
    assert reg.current() == "20260101T000000Z"


def test_prune_keeps_the_newest_and_never_current(reg):
    reg.set_current("20260101T000000Z")
    (reg.versions_dir / ".leftover-of-a-killed-run").mkdir()
    assert reg.prune(keep=1) == ["20260102T000000Z"]
    assert reg.versions() == ["20260101T000000Z", "20260103T000000Z"]
    assert not (reg.versions_dir / ".leftover-of-a-killed-run").exists()
    assert reg.history()[-1]["event"] == "pruned"


def test_new_version_ids_do_not_collide(reg):
    first = reg.new_version_id()
    reg.path(first).mkdir()
    assert reg.new_version_id() != first


def test_a_live_lock_is_exclusive_and_a_dead_ones_is_cleared(reg):
    with reg.lock(), pytest.raises(LockHeld, match="held by pid"), reg.lock():
        pass
    assert not (reg.root / "nightly.lock").exists()
    (reg.root / "nightly.lock").write_text(json.dumps({"pid": 2**22 + 12345, "host": os.uname().nodename,
                                                       "started": time.time()}))
    with reg.lock():
        pass
    assert reg.history()[-1]["event"] == "stale_lock_cleared"
