"""The model registry on its own: complete versions, an atomic CURRENT, rollback, retention, history, lock."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import pytest

from recommender.artifact import FORMAT_VERSION
from recommender.errors import ArtifactError, LockHeld, RegistryError
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


def test_a_current_that_is_no_text_is_named_and_a_rollback_to_a_version_mends_it(reg):
    """An operator's probe: bytes written to CURRENT raised a UnicodeDecodeError in every tool, rollback too,
    though the message tells the operator to mend it by `rollback --to`."""
    reg.set_current("20260101T000000Z")
    reg.record("promoted", version="20260101T000000Z")
    (reg.root / "CURRENT").write_bytes(b"\xff\xfe2026\n")
    with pytest.raises(RegistryError, match="CURRENT cannot be read as a version's name"):
        reg.current()
    assert reg.served() == ["20260101T000000Z"] and reg.ever_served() == {"20260101T000000Z"}
    assert reg.rollback(to="20260102T000000Z") == "20260102T000000Z" == reg.current()
    assert reg.history()[-1]["previous"] is None
    (reg.root / "CURRENT").unlink()
    (reg.root / "CURRENT").mkdir()  # a folder: an empty one is replaced, one with files in it is named
    assert reg.rollback(to="20260101T000000Z") == "20260101T000000Z" == reg.current()
    (reg.root / "CURRENT").unlink()
    (reg.root / "CURRENT").mkdir()
    (reg.root / "CURRENT" / "notes.txt").write_text("x")
    with pytest.raises(RegistryError, match=r"CURRENT is a folder .*move it away"):
        reg.rollback(to="20260102T000000Z")


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


def test_the_fallback_order_is_the_versions_served_before_then_those_rolled_back_from(reg):
    """What a worker tries when CURRENT cannot be served, and what the nightly job judges against: the same list."""
    add_version(reg, "20260104T000000Z")
    for version in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        reg.set_current(version)
        reg.record("promoted", version=version)
    reg.rollback()  # 03 turned away: CURRENT 02
    reg.set_current("20260104T000000Z")
    reg.record("promoted", version="20260104T000000Z")
    assert reg.fallback_order(exclude="20260104T000000Z") == [
        "20260102T000000Z", "20260101T000000Z", "20260103T000000Z"]
    assert reg.fallback_order(exclude="20260102T000000Z")[0] == "20260104T000000Z"


def test_a_roll_forward_does_not_turn_away_the_version_it_leaves(reg):
    """An SRE's probe: after rollback then `rollback --to` the newer version again, the one in between was
    recorded as rolled back from, and a worker falling back from a damaged CURRENT served the oldest."""
    for version in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        reg.set_current(version)
        reg.record("promoted", version=version)
    assert reg.rollback() == "20260102T000000Z"  # 03 turned away
    assert reg.rollback("20260103T000000Z") == "20260103T000000Z"  # forward again: 02 superseded, not bad
    assert reg.fallback_order(exclude="20260103T000000Z")[0] == "20260102T000000Z"
    assert reg.rolled_back_from() == []


def test_a_plain_rollback_turns_its_version_away_whichever_is_newer(reg):
    """The review: judged by ids, `rollback --to` the oldest then a plain rollback (to a newer one) left the
    oldest as a version to go back to; a roll-forward is recorded as such instead."""
    for version in ("20260101T000000Z", "20260102T000000Z", "20260103T000000Z"):
        reg.set_current(version)
        reg.record("promoted", version=version)
    assert reg.rollback("20260101T000000Z") == "20260101T000000Z"
    assert reg.rollback() == "20260102T000000Z"
    assert reg.served() == ["20260102T000000Z"] and "20260101T000000Z" in reg.rolled_back_from()
    assert "forward" not in reg.history()[-1]


def test_an_unreadable_version_is_listed_and_hides_no_other(reg, monkeypatch):
    """A folder whose permissions forbid reading its manifest raised out of versions(): every worker's fallback
    and `registry list` failed on one old version."""
    real_exists = Path.exists

    def exists(path: Path) -> bool:
        if path.parent.name == "20260101T000000Z":
            raise PermissionError(13, "Permission denied", str(path))
        return real_exists(path)

    monkeypatch.setattr(Path, "exists", exists)
    assert reg.versions() == ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"]
    for version in ("20260102T000000Z", "20260103T000000Z"):
        reg.set_current(version)
        reg.record("promoted", version=version)
    assert reg.fallback_order(exclude="20260103T000000Z") == ["20260102T000000Z"]


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
    with pytest.raises(RegistryError, match="no version '20990101T000000Z'; the versions here: 20260101T000000Z, "):
        reg.rollback("20990101T000000Z")  # a typo: named as no such version, not as a damaged one
    add_version(reg, "20260104T000000Z", complete=False)
    with pytest.raises(RegistryError, match="no manifest"):  # there, but incomplete: that is what is wrong
        reg.rollback("20260104T000000Z")
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
    with reg.lock(), pytest.raises(LockHeld, match=r"held by pid .*a nightly run or another registry job"), \
            reg.lock():
        pass
    assert not (reg.root / "nightly.lock").exists()
    (reg.root / "nightly.lock").write_text(json.dumps({"pid": 2**22 + 12345, "host": os.uname().nodename,
                                                       "started": time.time()}))
    with reg.lock():
        pass
    assert reg.history()[-1]["event"] == "stale_lock_cleared"


def test_prune_after_a_rollback_keeps_current_even_when_it_is_the_oldest(reg):
    """Rolled back to the oldest version, retention of one keeps CURRENT and deletes the newer ones it left."""
    for version in reg.versions():
        reg.set_current(version)
        reg.record("promoted", version=version)
    reg.rollback()
    assert reg.rollback() == "20260101T000000Z"
    assert reg.prune(keep=0) == ["20260102T000000Z", "20260103T000000Z"]
    assert reg.versions() == ["20260101T000000Z"] == [reg.current()]
    assert (reg.current_path() / "manifest.json").exists()


def test_set_current_refuses_a_version_without_a_manifest_or_without_a_directory(reg):
    reg.set_current("20260103T000000Z")
    add_version(reg, "20260104T000000Z", complete=False)
    for version in ("20260104T000000Z", "20260105T000000Z"):
        with pytest.raises(RegistryError, match=f"refusing to point CURRENT at .*{version}"):
            reg.set_current(version)
    assert reg.current() == "20260103T000000Z"


def test_current_is_replaced_in_one_rename_a_failure_before_it_leaves_the_old_pointer(reg, monkeypatch):
    """CURRENT is never truncated or written in place: a failure while writing the new pointer (a full disk,
    here at fsync) leaves the old one whole, and no temporary file behind."""
    reg.set_current("20260101T000000Z")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        reg.set_current("20260102T000000Z")
    monkeypatch.undo()
    assert (reg.root / "CURRENT").read_text(encoding="utf-8") == "20260101T000000Z\n"
    assert sorted(p.name for p in reg.root.iterdir()) == ["CURRENT", "versions"]


def test_a_pointer_a_killed_run_never_renamed_is_cleared_by_prune(reg):
    reg.set_current("20260101T000000Z")
    (reg.root / ".CURRENT.4242.tmp").write_text("20260102T000000Z\n")
    reg.prune(keep=5)
    assert reg.current() == "20260101T000000Z" and not list(reg.root.glob(".CURRENT.*"))


def lock_held_by(reg: Registry, pid: int, host: str, age_s: float) -> None:
    (reg.root / "nightly.lock").write_text(json.dumps({"pid": pid, "host": host, "started": time.time() - age_s}))


def test_a_lock_older_than_its_limit_is_stale_even_while_its_process_lives(reg):
    """A job hung for longer than `stale_after_s` (here: this very process, alive) no longer blocks the registry."""
    lock_held_by(reg, os.getpid(), os.uname().nodename, age_s=120)
    with reg.lock(stale_after_s=60):
        pass
    assert reg.history()[-1]["event"] == "stale_lock_cleared"
    assert reg.history()[-1]["holder"]["pid"] == os.getpid()


def test_a_young_lock_of_a_live_process_or_of_another_host_is_respected(reg):
    for pid, host in ((os.getpid(), os.uname().nodename), (2**22 + 12345, "another-host")):
        lock_held_by(reg, pid, host, age_s=30)
        with pytest.raises(LockHeld, match=f"held by pid {pid} on {host}"), reg.lock(stale_after_s=60):
            pass
        assert (reg.root / "nightly.lock").exists()  # still the holder's
    lock_held_by(reg, 2**22 + 12345, "another-host", age_s=90)  # another host's: only its age can tell
    with reg.lock(stale_after_s=60):
        pass
    assert reg.history()[-1]["event"] == "stale_lock_cleared"


MALFORMED_LOCKS = ['{"pid": 1, "host": "h", "started": "yesterday"}', "[1, 2]", '{"pid": 1',
                   f'{{"pid": null, "host": "{os.uname().nodename}", "started": {time.time():.0f}}}',
                   '{"pid": 1, "host": "h", "started": NaN}', '{"pid": 1, "host": "h", "started": 1e300}']


@pytest.mark.parametrize("text", MALFORMED_LOCKS)
def test_a_malformed_lock_file_is_cleared_not_a_registry_wedged_for_good(reg, text):
    (reg.root / "nightly.lock").write_text(text)
    with reg.lock():
        pass
    assert reg.history()[-1]["event"] == "stale_lock_cleared" and not (reg.root / "nightly.lock").exists()


def test_prune_deletes_every_version_older_than_the_newest_kept_when_current_is_the_newest(reg):
    add_version(reg, "20260104T000000Z")
    reg.set_current("20260104T000000Z")
    assert reg.prune(keep=2) == ["20260101T000000Z", "20260102T000000Z"]
    assert reg.versions() == ["20260103T000000Z", "20260104T000000Z"]
    assert reg.prune(keep=2) == [] and reg.prune(keep=1) == ["20260103T000000Z"]


def test_a_new_registry_is_made_only_where_one_is_plainly_meant(tmp_path):
    """nightly creates its registry on the first run; a mistyped path must not quietly become one that takes
    every night's models while the service follows the real one."""
    assert Registry.open(tmp_path / "new").versions() == []  # a fresh path: the first run
    data = tmp_path / "export"
    data.mkdir()
    (data / "orders.parquet").write_bytes(b"")
    with pytest.raises(RegistryError, match=r"holds snapshot tables .*orders\.parquet.*a data directory"):
        Registry.open(data)
    real = Registry.open(tmp_path / "models")
    (real.root / "history.jsonl").write_text("")  # a registry that has run: its history marks it
    with pytest.raises(RegistryError, match="the versions/ folder of the registry"):
        Registry.open(real.versions_dir)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RegistryError, match="not a directory"):
        Registry.open(tmp_path / "afile")
    assert not (data / "versions").exists() and not (real.versions_dir / "versions").exists()


def _verify_refusing(damaged: set[str], unreadable: frozenset[str] = frozenset()):
    """A stand-in for loading a model: refuses the versions in `damaged`, cannot read those in `unreadable`."""
    def verify(path):
        if path.name in unreadable:
            raise PermissionError(f"{path}: permission denied")
        if path.name in damaged:
            raise ArtifactError(f"{path}/vectors/product.npy: 10 bytes, the manifest says 512 (truncated?)")
    return verify


def test_prune_with_verification_keeps_n_versions_a_rollback_can_go_to(reg):
    """A damaged version does not count toward `keep`: retention of two keeps two that load, and the damaged one
    goes wherever it stands, its reason in the history (without verification it would have kept 04 and 03)."""
    add_version(reg, "20260104T000000Z")
    reg.set_current("20260104T000000Z")
    verify = _verify_refusing({"20260103T000000Z"})
    assert reg.prune(keep=2, verify=verify) == ["20260101T000000Z", "20260103T000000Z"]
    assert reg.versions() == ["20260102T000000Z", "20260104T000000Z"]
    event = reg.history()[-1]
    assert event["event"] == "pruned" and "truncated" in event["damaged"]["20260103T000000Z"]


def test_prune_never_deletes_current_even_damaged_nor_what_it_could_not_read(reg):
    """CURRENT stays though it does not load (the service keeps what it holds; the owner rolls back); a version
    that could not be read (a disk or permission error, not its content) is neither deleted nor counted."""
    reg.set_current("20260103T000000Z")
    verify = _verify_refusing({"20260103T000000Z"}, unreadable=frozenset({"20260102T000000Z"}))
    assert reg.prune(keep=1, verify=verify) == []
    assert reg.versions() == ["20260101T000000Z", "20260102T000000Z", "20260103T000000Z"]
    assert reg.history() == []  # nothing removed: no event every night while a version cannot be read
    assert reg.prune(keep=0, verify=verify) == ["20260101T000000Z"]
    assert "permission denied" in reg.history()[-1]["unreadable"]["20260102T000000Z"]


def test_rollback_skips_a_version_that_cannot_be_read(reg):
    for version in reg.versions():
        reg.set_current(version)
        reg.record("promoted", version=version)
    verify = _verify_refusing(set(), unreadable=frozenset({"20260102T000000Z"}))
    assert reg.rollback(verify=verify) == "20260101T000000Z"
    # the history says which version was passed over, and why (the probe: it was skipped silently)
    last = reg.history()[-1]
    assert last["event"] == "rolled_back" and [x.split(" ")[0] for x in last["skipped"]] == ["20260102T000000Z"]


def test_a_version_in_another_format_is_not_damaged_and_is_pruned_by_age_only(reg):
    """Older code running nightly (a code rollback) must not delete what newer code wrote, nor call it damaged."""
    from recommender.errors import FormatError

    add_version(reg, "20260104T000000Z")
    reg.set_current("20260104T000000Z")

    def verify(path):
        if path.name != "20260101T000000Z":
            raise FormatError(f"{path}/manifest.json: format_version 10, this code reads (5, 6, 7, 8, 9)")

    assert reg.prune(keep=3, verify=verify) == ["20260101T000000Z"]  # the oldest, by age, as without loading
    assert reg.versions() == ["20260102T000000Z", "20260103T000000Z", "20260104T000000Z"]
    with pytest.raises(RegistryError, match="format_version 10"):
        reg.rollback("20260102T000000Z", verify=verify)


def test_a_malformed_manifest_is_damage_and_a_file_that_could_not_be_opened_is_not(reg):
    """Loading may fail with any error on a manifest that parses but lacks a field (KeyError: it stopped every
    nightly run), and a file the process could not open (too many open files) is the process's trouble."""
    def verify(path):
        if path.name == "20260101T000000Z":
            raise KeyError("profiles")
        if path.name == "20260102T000000Z":
            try:
                raise OSError(24, "Too many open files")
            except OSError as exc:
                raise ArtifactError(f"{path}/vectors/product.npy: unreadable array ({exc})") from exc

    reg.set_current("20260103T000000Z")
    assert reg.check("20260101T000000Z", verify) == "KeyError: 'profiles'"
    with pytest.raises(OSError, match="Too many open files"):
        reg.check("20260102T000000Z", verify)
    assert reg.prune(keep=5, verify=verify) == ["20260101T000000Z"]
    assert reg.versions() == ["20260102T000000Z", "20260103T000000Z"]


def _hold_the_lock(root: str, barrier, spans) -> None:
    reg = Registry.open(root)
    barrier.wait()
    try:
        with reg.lock():
            start = time.monotonic()
            time.sleep(0.05)
            spans.append((start, time.monotonic()))
    except LockHeld:
        pass


@pytest.mark.parametrize("stale", [False, True])
def test_jobs_racing_for_the_lock_never_hold_it_together(reg, stale):
    """A probe saw two of three jobs started at once hold the lock together (one read the other's lock while it
    was still empty, or two cleared one stale lock): 8 times in 30. Whatever the timing, holders never overlap."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for _ in range(12):
        if stale:
            lock_held_by(reg, 2**22 + 12345, os.uname().nodename, age_s=1)  # a dead job's
        with ctx.Manager() as manager:
            barrier, spans = ctx.Barrier(3), manager.list()
            jobs = [ctx.Process(target=_hold_the_lock, args=(str(reg.root), barrier, spans)) for _ in range(3)]
            for job in jobs:
                job.start()
            for job in jobs:
                job.join(10)
            held = sorted(spans)
        assert held, "some job got the lock"
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(held)), held
        assert not (reg.root / "nightly.lock").exists()
