"""Hot reload: follow a registry's CURRENT, load and check a new version off the request path, then swap.

Requests read the serving object once (serve.state.serving), so a swap is one reference assignment: requests
in flight finish on the model they started with. A version that fails to load (missing or truncated file,
wrong shapes, an unreadable index, or anything else) is refused, logged and reported on /v1/model, and the old
model keeps serving.
Each gunicorn worker runs its own poller and reloads on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from recommender.errors import XuanpinError
from recommender.registry import ARTIFACT_HINT, Registry
from serve.state import Serving

_log = logging.getLogger(__name__)


class Reloader:
    def __init__(self, state: dict, registry: Path, load: Callable[[Path], Serving],
                 observe: Callable[[bool], None] | None = None) -> None:
        """`observe(fallback)` is told after every check whether the worker serves a fallback (the metric)."""
        # followed, never created: a mistyped XUANPIN_REGISTRY must not become an empty registry (it says so below)
        self.state, self.registry, self.load = state, Registry(Path(registry)), load
        self._lock = threading.Lock()  # one load at a time per worker
        self.last_check: str | None = None
        self.last_error: dict | None = None
        self.failed_version: str | None = None
        self.fallback: str | None = None  # serving an earlier version because CURRENT could not be loaded
        self._empty_warned = False  # said once that CURRENT is missing or empty (until it names a version)
        self._fallback_tried: str | None = None  # the CURRENT whose fallback was last tried
        self._failed_files: tuple | None = None  # the failed version's files as they were when it failed
        self.observe = observe

    def serving_version(self) -> str | None:
        current = self.state.get("serving")
        return current.model.path.name if current is not None else None

    def check(self, force: bool = False, retry: bool = False) -> dict:
        """`_check`, then the metric told whether this worker now serves a fallback."""
        try:
            return self._check(force, retry)
        finally:
            if self.observe is not None:
                self.observe(self.fallback is not None)

    def _check(self, force: bool = False, retry: bool = False) -> dict:
        """Load CURRENT if it is not what is served. Returns what happened, for the admin route. A version that
        failed to load is not tried again by polling while a model is served (each try would log the same error),
        only when `retry` (an operator asking: the files may have been repaired in place) or `force`; a worker
        serving nothing tries it on every poll, so it recovers by itself once the files are repaired."""
        with self._lock:
            self.last_check = datetime.now(UTC).isoformat(timespec="seconds")
            target, unreadable = self._current()
            served = self.serving_version()
            if unreadable is not None:
                return self._unreadable_current(unreadable, served)
            if target is None and served is None and not self._empty_warned:  # a botched write of CURRENT
                self._empty_warned = True
                what = ("CURRENT is missing or empty" if self.registry.versions_dir.is_dir() else
                        "not a model registry (no versions/ folder: a mistyped path, or before the first nightly run)"
                        + ARTIFACT_HINT * (self.registry.root / "manifest.json").is_file())
                self.last_error = {"version": None, "error": what, "at": self.last_check}
                _log.warning("registry %s: %s; nothing to serve unless a version was served before",
                             self.registry.root, what)
                fallback = self._fallback(None)
                if fallback is not None:
                    return {"reloaded": True, "serving": fallback, "current": None, "fallback": True,
                            "error": self.last_error}
            if target is not None:
                self._empty_warned = False
            if target is None or (target == served and not force):
                if target is not None and target == served and (self.fallback is not None
                                                                or self.last_error is not None):
                    # CURRENT names what is served again (a rollback past a broken version): nothing is wrong now
                    self.fallback, self.failed_version, self.last_error = None, None, None
                return {"reloaded": False, "serving": served, "current": target}
            if (target == self.failed_version and not (force or retry) and served is not None
                    and self._files(target) == self._failed_files):
                # unchanged since it failed; once its files are repaired in place (restored, their permissions
                # fixed) the poll tries it again, so a worker that fell back returns to CURRENT by itself
                return {"reloaded": False, "serving": served, "current": target, "error": self.last_error}
            started = time.perf_counter()
            fresh = self._load(target, served)
            if fresh is None:
                # nothing to keep serving: fall back to the newest version served before, once per CURRENT (a
                # worker serving nothing retries CURRENT on every poll; the whole history each time would be N
                # loads and N errors per poll while nothing loads)
                if served is None and self._fallback_tried != target:
                    self._fallback_tried = target
                    fallback = self._fallback(target)
                    if fallback is not None:
                        return {"reloaded": True, "serving": fallback, "current": target, "fallback": True,
                                "error": self.last_error}
                if served is not None and served != target:  # it keeps the version it serves: a fallback too
                    self.fallback = served
                return {"reloaded": False, "serving": served, "current": target, "error": self.last_error}
            self.state["serving"] = fresh  # the swap: one reference assignment
            self.failed_version, self.last_error, self.fallback = None, None, None
            _log.info("now serving model version %s (was %s), loaded in %.1fs", target, served,
                      time.perf_counter() - started)
            return {"reloaded": True, "serving": target, "previous": served,
                    "seconds": round(time.perf_counter() - started, 2)}

    def _current(self) -> tuple[str | None, str | None]:
        """(CURRENT's version, None), or (None, why it is no version id): CURRENT written by hand can hold anything
        (a path, bytes that are not text, a folder), and a worker that raised on it did not boot, which with
        gunicorn stopped the whole service."""
        try:
            return self.registry.current_version(), None
        except XuanpinError as exc:
            return None, f"CURRENT holds no version id ({type(exc).__name__}: {exc}): write the name of a folder " \
                         "under versions/, e.g. with `xuanpin rollback --to VERSION`"

    def _unreadable_current(self, why: str, served: str | None) -> dict:
        """Like a CURRENT that cannot be loaded: the served version keeps serving (a fallback), and a worker
        serving nothing falls back to the newest version served before, once per such CURRENT."""
        if self.last_error is None or self.last_error.get("error") != why:
            _log.error("registry %s: %s; still serving %s", self.registry.root, why, served)
        self.last_error = {"version": None, "error": why, "at": self.last_check}
        self.failed_version, self._failed_files = None, None
        if served is not None:
            self.fallback = self.fallback or served
            return {"reloaded": False, "serving": served, "current": None, "error": self.last_error}
        if self._fallback_tried != why:
            self._fallback_tried = why
            fallback = self._fallback(None, why)
            if fallback is not None:
                return {"reloaded": True, "serving": fallback, "current": None, "fallback": True,
                        "error": self.last_error}
        return {"reloaded": False, "serving": None, "current": None, "error": self.last_error}

    def _files(self, version: str) -> tuple:
        try:
            return _files_of(self.registry.path(version))
        except XuanpinError:
            return (("invalid id", version),)

    def _load(self, version: str, served: str | None) -> Serving | None:
        """The version loaded and checked, or None (refused: the reason is kept for /v1/model)."""
        try:
            return self.load(self.registry.path(version))
        except Exception as exc:  # a version that cannot load is refused, whatever broke
            self.failed_version, self._failed_files = version, self._files(version)
            self.last_error = {"version": version, "error": f"{type(exc).__name__}: {exc}", "at": self.last_check}
            if isinstance(exc, XuanpinError | OSError):  # named problems: the message says what is wrong
                _log.error("refused model version %s, still serving %s: %s", version, served, exc)
            else:
                _log.exception("refused model version %s, still serving %s", version, served)
            return None

    def _fallback(self, refused: str | None, why: str | None = None) -> str | None:
        """A worker that starts on a CURRENT it cannot load serves the newest version served before that loads
        (CURRENT is left alone: the registry's owner decides), and keeps polling CURRENT."""
        error, files = self.last_error, self._failed_files
        try:
            # last in the order: a version the owner rolled back from still answers requests; nothing would not
            order, turned_away = self.registry.fallback_order(exclude=refused), self.registry.rolled_back_from(refused)
        except Exception:  # an unreadable history must not stop the worker: stay not ready instead
            _log.exception("cannot read the registry's history to fall back from %s", refused)
            order, turned_away = [], []
        for version in order:
            fresh = self._load(version, None)
            if fresh is not None:
                self.state["serving"] = fresh
                self.last_error, self.failed_version, self.fallback = error, refused, version
                self._failed_files = files  # CURRENT's, not those of a version passed over on the way
                _log.warning("CURRENT %s; serving %s, %s", why or (
                             "is missing or empty" if refused is None else f"{refused} cannot be loaded"), version,
                             "a version rolled back from, since no other version loads: roll forward or repair"
                             if version in turned_away else "the newest version served before")
                return version
        self.last_error, self.failed_version, self._failed_files = error, refused, files
        return None

    def start(self, every_s: float) -> threading.Thread:
        def loop() -> None:
            while True:
                time.sleep(every_s)
                try:
                    self.check()
                except Exception:  # never let the poller die
                    _log.exception("model poll failed")

        thread = threading.Thread(target=loop, name="xuanpin-model-poller", daemon=True)
        thread.start()
        return thread

    def status(self) -> dict:
        return {"registry": str(self.registry.root), "current": self._current()[0],
                "serving": self.serving_version(), "fallback": self.fallback is not None,
                "last_check": self.last_check, "last_error": self.last_error}


def _files_of(version: Path) -> tuple:
    """What a version's folder holds, by name, size and change time (a chmod or a restore changes the latter), to
    tell a failed version repaired in place from one still broken, without loading it on every poll; a folder
    that cannot be walked says so (and changes once it can)."""
    out = []
    try:
        for path in sorted(version.rglob("*")):
            st = path.stat()
            out.append((path.relative_to(version).as_posix(), st.st_size, st.st_ctime_ns))
        out.append(("", 0, version.stat().st_ctime_ns))
    except OSError as exc:
        return (("unreadable", exc.errno),)
    return tuple(out)
