"""The model registry: one directory per model version, a CURRENT pointer, retention, a history, and a lock.

    REGISTRY/
      versions/20261123T190000Z/     artifacts (written atomically by the trainer)
      CURRENT                        the served version's id, replaced only by an atomic rename
      history.jsonl                  one JSON line per event: promoted, refused, rolled back, pruned
      nightly.lock                   held by a running job: {"pid", "host", "started"}

The serving side only ever reads CURRENT and the version it names, so a job that dies at any point leaves
the served model untouched: a version directory is complete before it is named, and CURRENT changes in one
rename. The nightly job (``training/nightly.py``) publishes into it; the service's reloader (``serve/reload.py``)
follows CURRENT.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from recommender.artifact import read_manifest
from recommender.contract import table_files
from recommender.errors import ArtifactError, FormatError, LockHeld, RegistryError

SERVED_EVENTS = ("promoted", "rolled_back")  # history events that made a version CURRENT
LOCK_GUARD = ".lock-guard"  # flock'd while a job takes nightly.lock (an empty file, kept)
#: what a registry path that is a model artifact is told
ARTIFACT_HINT = ": it is a model artifact (it has a manifest.json); serve it with --model (XUANPIN_MODEL)"


def _turned_away(entry: dict) -> bool:
    """A rollback that turned its version away. `rollback --to` a newer version is a roll-forward (recorded
    `forward`): the version it leaves was superseded, not turned away, and stays one a worker falls back to. A
    plain rollback always turns its version away, whichever is newer."""
    return (entry.get("event") == "rolled_back" and isinstance(entry.get("previous"), str)
            and not entry.get("forward"))


def _maybe_complete(version: Path) -> bool:
    """A version folder with a manifest, or one that cannot be read to tell (listed, not hidden)."""
    try:
        return version.is_dir() and (version / "manifest.json").exists()
    except OSError:  # PermissionError and the like: exists() raises all but "no such file"
        return True


@dataclass(frozen=True)
class Registry:
    root: Path

    @classmethod
    def open(cls, root: str | Path) -> Registry:
        """The registry at `root`, created if new (the nightly job's first run), unless `root` is plainly not
        meant for one: a file, a folder of snapshot tables (the data directory named by mistake), or a
        registry's own versions/ folder. Each of those would otherwise take every night's models while the
        service follows the real registry and cron sees success."""
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise RegistryError(f"{root}: not a directory, so not a model registry")
        if not (root / "versions").is_dir():
            tables = table_files(root)  # a snapshot's folder
            if tables:
                raise RegistryError(f"{root}: holds snapshot tables ({', '.join(tables[:3])}), not models: a data "
                                    "directory named as the registry?")
            if root.name == "versions" and ((root.parent / "CURRENT").exists()
                                            or (root.parent / "history.jsonl").exists()):
                raise RegistryError(f"{root}: the versions/ folder of the registry {root.parent}; name the "
                                    "registry itself")
        (root / "versions").mkdir(parents=True, exist_ok=True)
        return cls(root)

    @classmethod
    def existing(cls, root: str | Path) -> Registry:
        """The registry at `root` for reading or a rollback: an error, not a new empty registry, when there is
        none (a data directory named by mistake must not gain a versions/ folder)."""
        root = Path(root)
        if not (root / "versions").is_dir():
            raise RegistryError(f"{root}: not a model registry (no versions/ folder; xuanpin nightly creates one)"
                                + ARTIFACT_HINT * (root / "manifest.json").is_file())
        return cls(root)

    # -- versions -------------------------------------------------------------------------------------------
    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    def new_version_id(self) -> str:
        base = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        vid, n = base, 1
        while (self.versions_dir / vid).exists():
            n += 1
            vid = f"{base}-{n}"
        return vid

    def path(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise RegistryError(f"invalid version id {version!r}")
        return self.versions_dir / version

    def versions(self) -> list[str]:
        """Complete versions (those with a manifest), oldest first (none where there is no versions/ folder). A
        version whose folder cannot be read (its permissions) is listed: whoever loads it is told why it cannot, and
        one unreadable old version must not hide the others (it stopped every worker's fallback)."""
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir()
                      if not p.name.startswith(".") and _maybe_complete(p))

    # -- CURRENT ----------------------------------------------------------------------------------------------
    def current(self) -> str | None:
        """CURRENT's text (None: missing or empty); a CURRENT that is no text (bytes, a folder) raises
        RegistryError. Whether the text is a version id is `path`'s to say."""
        path = self.root / "CURRENT"
        try:
            value = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeError) as exc:
            raise RegistryError(f"{path} cannot be read as a version's name: {exc}") from exc
        return value or None

    def current_version(self) -> str | None:
        """CURRENT's version id (None: missing or empty); RegistryError where it holds no text or a text that is
        no version id (written by hand as versions/NAME, bytes, a folder). What a service, the nightly job and
        the history's readers each go on from."""
        version = self.current()
        return version if version is None else self.path(version).name

    def _current_version(self) -> str | None:
        """`current_version`, None where CURRENT holds no version id: what the history's readers count as served,
        which must not fail on a CURRENT a worker falls back from."""
        try:
            return self.current_version()
        except RegistryError:
            return None

    def current_path(self) -> Path | None:
        version = self.current()
        return self.path(version) if version else None

    def set_current(self, version: str) -> None:
        """Point CURRENT at a complete version, atomically (write a temporary file, fsync, rename)."""
        target = self.path(version)
        try:
            read_manifest(target)
        except ArtifactError as exc:
            raise RegistryError(f"refusing to point CURRENT at {target}: {exc}") from exc
        pointer = self.root / "CURRENT"
        if pointer.is_dir() and not pointer.is_symlink():  # made by hand: a rename cannot replace a folder
            try:
                pointer.rmdir()
            except OSError as exc:
                raise RegistryError(f"{pointer} is a folder ({exc.strerror}): move it away, CURRENT is a file "
                                    "naming a version") from exc
        tmp = self.root / f".CURRENT.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(version + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / "CURRENT")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- history ----------------------------------------------------------------------------------------------
    def record(self, event: str, **fields) -> dict:
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "event": event, **fields}
        with open(self.root / "history.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        return entry

    def history(self) -> list[dict]:
        try:
            lines = (self.root / "history.jsonl").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:  # a line torn by a crash mid-append is skipped, not fatal
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def served(self) -> list[str]:
        """Versions served (promoted, or rolled back to) and not since rolled back from, the most recently served
        last, so rolling back twice goes two steps back; CURRENT itself is last even when something other than
        this class pointed it there."""
        order: list[str] = []
        for entry in self.history():
            version = entry.get("version")
            if entry.get("event") not in SERVED_EVENTS or not isinstance(version, str):
                continue
            if _turned_away(entry) and entry["previous"] in order:
                order.remove(entry["previous"])  # a version rolled back from is not one to go back to
            if version in order:
                order.remove(version)
            order.append(version)
        current = self._current_version()
        if current is not None:
            if current in order:
                order.remove(current)
            order.append(current)
        return order

    def ever_served(self) -> set[str]:
        """Every version that was CURRENT at some time (promoted, rolled back to, or CURRENT now), whether or not
        it was rolled back from since: what `registry list` marks as served."""
        ever = {e["version"] for e in self.history()
                if e.get("event") in SERVED_EVENTS and isinstance(e.get("version"), str)}
        current = self._current_version()
        return ever | ({current} if current is not None else set())

    def previously_served(self, exclude: str | None = None) -> list[str]:
        """Complete versions that were served before, the most recent first (`exclude`, e.g. CURRENT, left out):
        where to go back to, never to a version that was trained but not promoted."""
        complete = set(self.versions())
        return [v for v in reversed(self.served()) if v != exclude and v in complete]

    def rolled_back_from(self, exclude: str | None = None) -> list[str]:
        """Complete versions that were served and then rolled back from, the most recent first: not where a
        rollback goes, but what a worker can still serve when no other version loads (a bad model the owner
        turned away beats no model at all, and says so)."""
        complete, kept = set(self.versions()), set(self.served())
        out: list[str] = []
        for entry in reversed(self.history()):
            version = entry.get("previous") if _turned_away(entry) else None
            if isinstance(version, str) and version != exclude and version in complete and version not in kept \
                    and version not in out:
                out.append(version)
        return out

    def fallback_order(self, exclude: str | None = None) -> list[str]:
        """Where a service goes, in order, when CURRENT (`exclude`) cannot be served: the versions served before,
        most recent first, then those rolled back from (the last resort). The nightly job judges a candidate
        against the first of them that loads, as the services would serve it."""
        return [*self.previously_served(exclude), *self.rolled_back_from(exclude)]

    def rollback(self, to: str | None = None, verify: Callable[[Path], object] | None = None) -> str:
        """Point CURRENT at `to`, or at the version served before CURRENT (history.jsonl), under the lock;
        returns it. `verify(path)` (e.g. loading the model) raises for a version that cannot be served: `to` is
        then refused, and going back skips it for the one served before it."""
        def problem(version: str) -> str | None:  # why `version` cannot be served (None: it can)
            try:
                return self.check(version, verify)
            except (OSError, FormatError) as exc:
                return str(exc)

        asked = to is not None
        with self.lock():
            try:
                current = self.current()
            except RegistryError:  # no text (bytes, a folder): what the messages tell the operator to mend by this
                current = None
            broken: list[str] = []  # versions served before that cannot be served now, each with why
            if to is None:
                for version in self.previously_served(exclude=current):
                    why = problem(version)
                    if why is None:
                        to = version
                        break
                    broken.append(f"{version} ({why})")
                if to is None:
                    unusable = f"; unusable: {'; '.join(broken)}" if broken else ""
                    raise RegistryError(f"{self.root}: no version served before {current} to roll back to{unusable}")
            elif not self.path(to).is_dir():  # a typo: "no manifest" read as a damaged version
                known = self.versions()
                raise RegistryError(f"{self.root}: no version {to!r}; the versions here: "
                                    f"{', '.join(known[-5:]) or 'none'}{' (the newest 5)' if len(known) > 5 else ''}")
            elif (why := problem(to)) is not None:
                raise RegistryError(f"refusing to point CURRENT at {self.path(to)}: {why}")
            forward = asked and current is not None and to > current  # a newer version named: a roll-forward
            self.set_current(to)
            skipped = {"skipped": broken} if broken else {}
            self.record("rolled_back", version=to, previous=current, **skipped, **({"forward": True} if forward
                                                                                   else {}))
        return to

    # -- retention --------------------------------------------------------------------------------------------
    def check(self, version: str, verify: Callable[[Path], object] | None) -> str | None:
        """Why `version` is damaged (`verify(path)`, e.g. loading the model, refused its content), or None when
        it loads or nothing verifies. Two outcomes are not damage and propagate, so that no caller deletes or
        condemns the version for them: OSError (the disk, permissions, a process's file limit, not the version's
        content) and FormatError (a format another version of the code reads)."""
        if verify is None:
            return None
        try:
            verify(self.path(version))
        except (OSError, FormatError):
            raise
        except ArtifactError as exc:
            cause = exc.__cause__  # a file that could not be opened for a reason not its own (EMFILE, ENOMEM, EIO)
            if isinstance(cause, OSError) and cause.errno not in (None, errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                raise cause from exc
            return str(exc)
        except Exception as exc:  # a manifest that parses but is malformed: KeyError, TypeError, ...
            return f"{type(exc).__name__}: {exc}"
        return None

    def prune(self, keep: int, verify: Callable[[Path], object] | None = None) -> list[str]:
        """Delete the oldest complete versions beyond `keep`, never CURRENT; also leftovers of dead runs. Call it
        under the lock: to it a running job's temporary files are a dead run's.

        With `verify` (e.g. loading the model), `keep` counts the versions that pass it, so a damaged version
        does not take the place of one that loads: a damaged version (not CURRENT) is deleted wherever it
        stands, its reason kept in the history. A version that could not be read at all (OSError) is left alone
        and not counted; one in a format this code does not read (another version of the code may) is kept or
        pruned by age as before verification existed."""
        current = self._current_version()  # CURRENT holding no version id: the newest `keep` stay all the same
        removed: list[str] = []
        damaged: dict[str, str] = {}
        unreadable: dict[str, str] = {}
        kept = 0
        for version in reversed(self.versions()):  # newest first
            try:
                why = self.check(version, verify)
            except OSError as exc:
                unreadable[version] = str(exc)
                continue
            except FormatError:
                why = None
            if why is None and kept < keep:
                kept += 1
                continue
            if version == current:
                continue
            if why is not None:
                damaged[version] = why
            shutil.rmtree(self.path(version), ignore_errors=True)
            removed.append(version)
        removed.reverse()
        for leftover in self.versions_dir.iterdir():  # temporary dirs of killed trainings
            if leftover.name.startswith(".") and leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.root.glob(".CURRENT.*.tmp"):  # a pointer a killed run wrote but never renamed
            leftover.unlink(missing_ok=True)
        if removed:  # what could not be read is told by `registry list`, not by an event every night
            extra = {"damaged": damaged} if damaged else {}
            extra |= {"unreadable": unreadable} if unreadable else {}
            self.record("pruned", versions=removed, keep=keep, **extra)
        return removed

    # -- lock ---------------------------------------------------------------------------------------------------
    @contextmanager
    def lock(self, stale_after_s: float = 6 * 3600) -> Iterator[None]:
        """Exclusive lock for jobs that change the registry. A lock whose process is gone (same host), or
        older than `stale_after_s`, is stale: it is cleared and recorded."""
        path = self.root / "nightly.lock"
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        # taking the lock (create and write it, or judge and clear a stale one) is one step for every job on this
        # host: without the guard a job read a lock still empty as "malformed" and cleared it, or two jobs cleared
        # one stale lock and the second unlinked the first's new one, and both ran (a probe: 8 times in 30)
        with open(self.root / LOCK_GUARD, "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            for _ in range(2):
                try:
                    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    holder = self._read_lock(path)
                    if holder is not None and not self._stale(holder, stale_after_s):
                        since = datetime.fromtimestamp(holder.get("started", 0), UTC).isoformat()
                        raise LockHeld(f"{path} is held by pid {holder.get('pid')} on {holder.get('host')} since "
                                       f"{since}: a nightly run or another registry job (rollback, prune). Wait for "
                                       "it to end, or stop that process (a lock of a dead process is cleared), "
                                       "then try again") from None
                    self.record("stale_lock_cleared", holder=holder)
                    path.unlink(missing_ok=True)
                    continue
                with os.fdopen(fd, "w") as fh:
                    json.dump(me, fh)
                break
            else:  # pragma: no cover - another host's job took the lock between the clearing and the creation
                raise LockHeld(f"{path} was taken by another job")
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    @staticmethod
    def _read_lock(path: Path) -> dict | None:
        """The lock's holder, or None where the file cannot be a live job's (unreadable or malformed: a job that
        died while writing it, or a hand edit), so it is cleared rather than blocking every job for good."""
        try:
            holder = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if not isinstance(holder, dict):
            return None
        started, pid = holder.get("started", 0), holder.get("pid", 0)
        if (not isinstance(started, int | float) or not math.isfinite(started) or not 0 <= started < 1e11
                or not isinstance(pid, int)):  # NaN, 1e300, a null pid: nothing a live job writes
            return None
        return holder

    @staticmethod
    def _stale(holder: dict, stale_after_s: float) -> bool:
        if time.time() - holder.get("started", 0) > stale_after_s:
            return True
        if holder.get("host") == socket.gethostname():
            try:
                os.kill(int(holder["pid"]), 0)
            except ProcessLookupError:
                return True
            except (PermissionError, KeyError, ValueError):
                return False
        return False
