"""A catalogue table as columns indexed by model row: numbers as numpy arrays, text as one UTF-8 blob with offsets.

The artifact stores each column of the catalogue and its statistics as its own ``.npy`` file (format 9), so the
service memory-maps them and every worker reads the same pages from the page cache; nothing of the catalogue is
copied into a worker's own memory (per-worker Python lists of 100k titles cost ~55 MB a worker, the Parquet
tables ~100 MB). Missing values: NaN in float columns (the contract's int columns are held as floats, like the
tables they come from), the empty string in text columns (the contract reads a blank cell as missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class TextColumn:
    """Strings as one UTF-8 blob (uint8) and ``len + 1`` int64 offsets: row i is ``blob[offsets[i]:offsets[i+1]]``.
    Both may be memory-mapped; a row is decoded when read, and :meth:`arrow` views the whole column without a
    copy, for vectorised work (search, factorising)."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def encode(cls, values: Iterable[Any]) -> TextColumn:
        """From Python values: None, NaN and pandas' missing values are the empty string."""
        arr = pa.array([_text(v) for v in values], pa.large_string())
        offsets = np.frombuffer(arr.buffers()[1], np.int64, len(arr) + 1, arr.offset * 8).copy()
        data = arr.buffers()[2]
        blob = np.frombuffer(data, np.uint8, int(offsets[-1])).copy() if data is not None else np.zeros(0, np.uint8)
        return cls(blob, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row: int) -> str | None:
        """One row's text; None where it is missing (empty)."""
        lo, hi = int(self.offsets[row]), int(self.offsets[row + 1])
        return bytes(self.blob[lo:hi]).decode("utf-8") if hi > lo else None

    def arrow(self) -> pa.LargeStringArray:
        """The column as an Arrow array over the same memory ("" where missing)."""
        return pa.LargeStringArray.from_buffers(len(self), pa.py_buffer(np.ascontiguousarray(self.offsets)),
                                                pa.py_buffer(np.ascontiguousarray(self.blob)))

    def tolist(self) -> list[str | None]:
        """Every row as Python text (None where missing): for offline code and small tables only."""
        return [v or None for v in self.arrow().to_pylist()]

    def factorize(self) -> tuple[np.ndarray, list[str]]:
        """Codes into the sorted distinct texts (as ``pd.factorize(sort=True)``: -1 where missing), and the texts."""
        encoded = pc.dictionary_encode(self.arrow())
        names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        order = np.argsort(names.astype(str), kind="stable")
        rank = np.empty(len(names), np.int64)
        rank[order] = np.arange(len(names))
        codes = rank[encoded.indices.to_numpy(zero_copy_only=False)] if len(names) else np.zeros(len(self), np.int64)
        labels = [str(n) for n in names[order]]
        if "" in labels:  # missing: no category
            empty = labels.index("")
            codes = np.where(codes == empty, -1, codes - (codes > empty))
            labels.remove("")
        return codes.astype(np.int64), labels


Column = np.ndarray | TextColumn


def _text(value: Any) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def plain_value(column: Column, row: int) -> Any:
    """One cell as a JSON-able Python value: None for NaN, NaT or missing text; numpy scalars as Python ones."""
    if isinstance(column, TextColumn):
        return column[row]
    value = column[row]
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value)
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and math.isnan(value) else value


def days_before(now: pd.Timestamp, times: np.ndarray) -> np.ndarray:
    """Days from each time (datetime64, naive UTC) to ``now``, as floats."""
    return (now.to_datetime64().astype("datetime64[us]") - np.asarray(times, "datetime64[us]")) \
        / np.timedelta64(1, "s") / 86400


class Columns(Mapping[str, Column]):
    """One table's columns by name, every one ``rows`` long and indexed by model row."""

    def __init__(self, columns: Mapping[str, Column], rows: int) -> None:
        for name, col in columns.items():
            if len(col) != rows:
                raise ValueError(f"column {name}: {len(col)} rows, the table has {rows}")
        self._columns = dict(columns)
        self.rows = rows

    @classmethod
    def from_frame(cls, df: pd.DataFrame, skip: tuple[str, ...] = ()) -> Columns:
        """A DataFrame's columns (an artifact before format 9, read from Parquet): text as TextColumns, numbers
        and timestamps as arrays (nullable numbers as float with NaN)."""
        out: dict[str, Column] = {}
        for name in df.columns:
            if name in skip:
                continue
            s = df[name]
            if pd.api.types.is_datetime64_any_dtype(s):
                out[name] = s.to_numpy()
            elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                out[name] = s.to_numpy() if s.notna().all() and s.dtype.kind in "iufb" \
                    else s.astype("Float64").to_numpy(float, na_value=np.nan)
            else:
                out[name] = TextColumn.encode(s.tolist())
        return cls(out, len(df))

    def __getitem__(self, name: str) -> Column:
        return self._columns[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:  # the number of columns, as a Mapping; `rows` is the table's length
        return len(self._columns)

    def numbers(self, name: str, default: float) -> np.ndarray:
        """A numeric column as floats, ``default`` where missing (or where the table has no such column). The
        mapped array itself when nothing is missing and it is already float64: no copy per worker."""
        if name not in self._columns:
            return np.full(self.rows, default, dtype=float)
        col = self._columns[name]
        if col.dtype == np.float64:
            missing = np.isnan(col)
            return col if not missing.any() else np.where(missing, default, col)
        return np.asarray(col, dtype=float)

    def value(self, name: str, row: int) -> Any:
        """One cell as a plain Python value (None where missing or where the table has no such column)."""
        col = self._columns.get(name)
        return None if col is None else plain_value(col, row)

    def row(self, row: int) -> dict[str, Any]:
        """One row as plain Python values, by column name."""
        return {name: plain_value(col, row) for name, col in self._columns.items()}

    def frame(self, first: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
        """The table as a DataFrame (``first``: columns to put before the others, e.g. the ids), built on each
        call: for offline code and tests, never kept by the service."""
        data: dict[str, Any] = dict(first or {})
        for name, col in self._columns.items():
            data[name] = col.tolist() if isinstance(col, TextColumn) else np.asarray(col)
        return pd.DataFrame(data)
