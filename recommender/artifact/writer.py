"""Writing an artifact: files named by the layout table, checked against it, committed by one rename (an atomic
exchange with the artifact it replaces, so a kill at any moment leaves one whole artifact in place)."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from recommender.artifact.checksums import digest
from recommender.artifact.files import describe_file
from recommender.artifact.layout import FORMAT_VERSION, LAYOUT, MANIFEST, Found, files_of, found, spec, verify
from recommender.columns import TextColumn
from recommender.errors import ArtifactError


def _cast(rel: str, arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``arr`` as the table's dtype: within its kind (a float is never a row index), and integers narrowed only
    when every value fits (a row number above 2**31 must not wrap in an int32 file)."""
    if arr.dtype == dtype:
        return arr
    if not np.can_cast(arr.dtype, dtype, casting="same_kind"):
        raise ArtifactError(f"{rel}: {arr.dtype} values, the layout says {dtype}")
    if dtype.kind in "iu" and arr.size:
        info = np.iinfo(dtype)
        if arr.min() < info.min or arr.max() > info.max:
            raise ArtifactError(f"{rel}: values from {arr.min()} to {arr.max()} do not fit the layout's {dtype}")
    return arr.astype(dtype, copy=False)


def _stored(s: pd.Series, dtypes: tuple[str, ...]) -> np.ndarray:
    """A column as the array the layout stores: floats with NaN for missing (pandas' nullable types included),
    integer ids as int64 and others as text, timestamps and counts as they are."""
    if dtypes == ("float64",):
        return s.astype("Float64").to_numpy(float, na_value=np.nan)
    if "str" in dtypes:
        return s.to_numpy(np.int64) if pd.api.types.is_integer_dtype(s) else s.astype(str).to_numpy(str)
    return s.to_numpy()


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """A failed write names its file: numpy's short write on a full disk says only "4763 requested and 2016
    written", and the operator must know which disk and which file."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one step (Linux renameat2 RENAME_EXCHANGE); False where the system or the file
    system cannot, so the caller falls back to two renames."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def restore_interrupted(out: Path) -> Path | None:
    """Where two renames replaced an artifact (no atomic exchange) and a crash fell between them, `out` is missing
    and the old artifact waits at ``.NAME.old-*``: put it back (the newest). Returns what was restored."""
    if out.exists():
        return None
    left = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not left or not (left[-1] / MANIFEST).exists():
        return None
    os.rename(left[-1], out)
    return out


def clear_dead_runs(out: Path) -> list[Path]:
    """Remove the ``.NAME.tmp-PID-*`` directories of runs that died writing `out` (killed outright, no cleanup
    ran): their process is gone. A live run's (another process writing the same target) is left alone."""
    removed = []
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        pid = tmp.name.rsplit(".tmp-", 1)[1].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # alive
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, another user's
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    return removed


def check_target(out: Path, overwrite: bool) -> None:
    """Raise FileExistsError unless an artifact may be written to `out`: it does not exist, or `overwrite` is set
    and it is one that may be replaced (refuse_to_replace). What the writer checks first, and what `train --tune`
    checks before a tuning whose result it would otherwise refuse to write."""
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; replace it with --overwrite (overwrite=True in Python)")
    if out.exists():
        refuse_to_replace(out)


def holds_working_directory(path: Path) -> bool:
    """Whether `path` is the current directory or one of its parents: what no job may replace or rename away."""
    here = Path.cwd().resolve()
    return path.resolve() in (here, *here.parents)


def refuse_to_replace(out: Path) -> None:
    """Raise FileExistsError unless `out` is a model artifact (its manifest and nothing but the layout's files) or
    an empty directory: --overwrite replaces an artifact, never a snapshot or anything else a user keeps there."""
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory; refusing to replace it with an artifact")
    if holds_working_directory(out):
        raise FileExistsError(f"{out} is the current directory or holds it; refusing to replace it: write the "
                              "artifact to a directory of its own (e.g. artifacts/mine)")
    entries = sorted(p.name for p in out.iterdir())  # hidden ones too: a .git/ is something a user keeps
    if not entries:
        return
    known = {MANIFEST} | {f.path.split("/")[0] for f in LAYOUT}
    foreign = [name for name in entries if name not in known]
    if MANIFEST not in entries or foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        why = f"holds {shown}, which no artifact has" if foreign else f"has no {MANIFEST}"
        raise FileExistsError(f"{out} is not a model artifact ({why}); refusing to replace it: choose another "
                              "output directory, or empty this one yourself")


class ArtifactWriter:
    """Write into ``.NAME.tmp-*`` beside the target, rename into place on :meth:`commit`.

    Only files of the layout table can be written, arrays are cast to its dtype, and :meth:`commit` refuses an
    artifact that misses a file of the table or disagrees with it. A run that fails midway leaves the previous
    artifact untouched and removes its temporary directory.
    """

    def __init__(self, out: str | Path, overwrite: bool = False) -> None:
        self.out = Path(out)
        if self.out.name in ("", ".", ".."):  # "." has no name to put a sibling beside
            self.out = self.out.resolve()
        restore_interrupted(self.out)
        clear_dead_runs(self.out)
        check_target(self.out, overwrite)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir()
        self.files: dict[str, int] = {}
        self._found: dict[str, Found] = {}

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()

    def _path(self, rel: str) -> Path:
        spec(rel)
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _written(self, rel: str, obj: Any = None) -> None:
        self.files[rel] = (self.tmp / rel).stat().st_size
        if obj is not None:
            self._found[rel] = found(obj)

    def array(self, rel: str, arr: np.ndarray) -> None:
        """Save ``arr`` as the table's file ``rel``, cast (within its kind) to the table's dtype."""
        path = self._path(rel)
        arr = np.ascontiguousarray(arr)
        dtypes = spec(rel).dtype
        if len(dtypes) == 1:
            arr = _cast(rel, arr, np.dtype(dtypes[0]))
        with _naming(path):
            np.save(path, arr, allow_pickle=False)
        self._written(rel, arr)

    def table(self, rel: str, df: pd.DataFrame) -> None:
        path = self._path(rel)
        with _naming(path):
            df.to_parquet(path, index=False)
        self._written(rel, df)

    def columns(self, table: str, df: pd.DataFrame) -> None:
        """Save a table as one file per column under ``columns/<table>/`` (the columns the layout table names;
        others are not part of the model): numbers as arrays, text as a UTF-8 blob and offsets. A column the
        layout holds optional is written when ``df`` has it; the manifest lists the ones written."""
        for name in df.columns:
            at = f"columns/{table}/{name}"
            known = {f.path for f in LAYOUT if f.path.startswith(at + ".")}
            if f"{at}.npy" in known:
                self.array(f"{at}.npy", _stored(df[name], spec(f"{at}.npy").dtype))
            elif f"{at}.utf8.npy" in known:
                text = TextColumn.encode(df[name].tolist())
                self.array(f"{at}.utf8.npy", text.blob)
                self.array(f"{at}.offsets.npy", text.offsets)

    def index(self, rel: str, index: faiss.Index) -> None:
        faiss.write_index(index, str(self._path(rel)))
        self._written(rel, index)

    def directory(self, rel: str) -> Path:
        """A sub-directory for a component that writes its own files (checked against the table on commit)."""
        path = self.tmp / rel
        path.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Check the files against the table, write the manifest (last), and rename into place."""
        for path in self.tmp.rglob("*"):
            rel = path.relative_to(self.tmp).as_posix()
            if path.is_file() and rel not in self.files:
                self._written(rel)
        manifest = {**manifest, "format_version": FORMAT_VERSION, "columns": self._columns_written(),
                    "files": dict(sorted(self.files.items())),
                    "checksums": {rel: digest(self.tmp / rel) for rel in sorted(self.files)}}
        self._check(manifest)
        with _naming(self.tmp / MANIFEST), open(self.tmp / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=2, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        if self.out.exists() and exchange(self.tmp, self.out):  # one step: `out` is the old or the new, whole
            shutil.rmtree(self.tmp, ignore_errors=True)  # now the old artifact
            return self.out
        old = None
        if self.out.exists():  # two steps; a crash between them is undone by restore_interrupted
            old = self.out.parent / f".{self.out.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(self.out, old)
        os.rename(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def _columns_written(self) -> dict[str, list[str]]:
        """The manifest's ``columns``: each table's columns, as written under columns/<table>/."""
        out: dict[str, list[str]] = {}
        for rel in self.files:
            if rel.startswith("columns/") and not rel.endswith(".offsets.npy"):
                _, table, name = rel.split("/")
                out.setdefault(table, []).append(name.split(".")[0])
        return out

    def _check(self, manifest: dict[str, Any]) -> None:
        expected = files_of(manifest)
        missing = sorted(set(expected) - set(self.files))
        extra = sorted(set(self.files) - set(expected))
        if missing or extra:
            raise ArtifactError(f"{self.out}: the files written disagree with the layout table "
                                f"(missing {missing}, not in the table {extra})")
        verify(self.out, manifest, self._describe)

    def _describe(self, rel: str) -> Found | None:
        if rel in self._found:
            return self._found[rel]
        return describe_file(self.tmp / rel, spec(rel))  # written by a component

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
