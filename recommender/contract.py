"""The marketplace data contract: the tables a snapshot holds, and how loading validates and codes them.

A snapshot is a directory with one file per table, ``NAME.parquet`` or ``NAME.csv`` (UTF-8). Loading checks
every column with vectorised pandas/Arrow operations and sorts each problem into one of two kinds
(docs/data-contract.md is the reference):

* fatal: the snapshot cannot be trusted (a table or required column is missing, a file cannot be read, an id
  names two different rows, or too many rows of a table are bad). Loading raises :class:`ContractError`
  listing every problem found, so one run shows them all.
* dropped: a row with a missing, unparsable or out-of-range required value, or a reference to an unknown id,
  is dropped and counted; an out-of-range optional value is blanked. Each kind of problem is reported once
  with its count and the first few rows and values, so a run never trains on garbage without saying so.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from recommender.arrays import unique_sorted
from recommender.clock import days_between
from recommender.errors import ContractError
from recommender.vocabulary import Vocabulary

_log = logging.getLogger(__name__)

Kind = Literal["id", "text", "float", "int", "timestamp", "bool"]

#: Share of a table's rows that may be dropped before the whole snapshot is refused.
MAX_BAD_FRACTION = 0.05
#: an optional column with more unreadable values than this and than MAX_BAD_FRACTION of its values is refused
MIN_BAD_VALUES = 10
#: clicks of visitors who are no fans are dropped without counting as bad rows, up to this share of the log
MAX_ANONYMOUS_CLICKS = 0.5
#: an optional column with more out-of-range values than this share of its values is refused: a few are the data's
#: own (an oversold stock of -3), most of them a unit (a refund rate of 15.5 meaning 15.5%, a 0-100 shop score,
#: -1 for unlimited stock), which blanked would fail nearly every good's quality gate and empty the picks
MAX_OUT_OF_RANGE_FRACTION = 0.25
#: Problems listed when a table is refused for too many bad rows, the most frequent first.
MAX_CAUSES = 5
#: How many example rows each problem quotes.
EXAMPLES = 5
#: a commission rate this high is kept but warned about: a platform's rates rarely pass half the price
IMPLAUSIBLE_COMMISSION = 0.9


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    lo: float | None = None
    hi: float | None = None
    positive: bool = False
    ref: str | None = None  # the table whose key this column references
    gate: bool = False  # a quality gate reads it: an invalid value fails the gate (a blank one, unknown, passes)
    #: a row naming no entity here (blank, or no id of `ref`) is what the table holds, not a bad row: a click of a
    #: visitor who is no fan (not logged in); dropped without counting against MAX_BAD_FRACTION
    anonymous: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = True
    entity: bool = False  # anchors, fans, products: rows become vocabulary entries

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


TABLES: tuple[Table, ...] = (
    Table(
        "anchors",
        ("anchor_id",),
        (
            Column("anchor_id", "id"),
            Column("name", "text"),
            Column("created_at", "timestamp"),
            Column("tier", "text", required=False),
            Column("main_category", "text", required=False),
            Column("shop_rating", "float", required=False, lo=0, hi=5, gate=True),
            Column("violations", "int", required=False, lo=0, gate=True),
        ),
        entity=True,
    ),
    Table(
        "fans",
        ("fan_id",),
        (
            Column("fan_id", "id"),
            Column("created_at", "timestamp"),
            Column("gender", "text", required=False),
            Column("age_band", "text", required=False),
            Column("region", "text", required=False),
            Column("spending_level", "int", required=False, lo=1, hi=10),  # 消费水平, the platform's estimate
        ),
        entity=True,
    ),
    Table(
        "products",
        ("product_id",),
        (
            Column("product_id", "id"),
            Column("title", "text"),
            Column("category", "text"),
            Column("merchant_id", "id"),
            Column("price", "float", positive=True),
            Column("commission_rate", "float", lo=0, hi=1),
            Column("created_at", "timestamp"),
            Column("brand", "text", required=False),
            Column("stock", "int", required=False, lo=0, gate=True),
            Column("refund_rate", "float", required=False, lo=0, hi=1, gate=True),
            Column("merchant_gmv_30d", "float", required=False, lo=0),
            Column("shop_rating", "float", required=False, lo=0, hi=5, gate=True),  # the merchant shop's 小店星级
            Column("merchant_violations", "int", required=False, lo=0, gate=True),
            Column("merchant_name", "text", required=False),  # the shop's name: shown on a good's page, searched
        ),
        entity=True,
    ),
    Table(
        "follows",
        ("fan_id", "anchor_id"),
        (
            Column("fan_id", "id", ref="fans"),
            Column("anchor_id", "id", ref="anchors"),
            Column("followed_at", "timestamp"),
        ),
    ),
    Table(
        "orders",
        ("order_id",),
        (
            Column("order_id", "id"),
            Column("fan_id", "id", ref="fans"),
            Column("anchor_id", "id", ref="anchors"),
            Column("product_id", "id", ref="products"),
            Column("quantity", "int", lo=1),
            Column("amount", "float", lo=0),
            Column("ordered_at", "timestamp"),
            Column("refunded", "bool", required=False),
        ),
    ),
    Table(
        "shelf",
        ("anchor_id", "product_id"),
        (
            Column("anchor_id", "id", ref="anchors"),
            Column("product_id", "id", ref="products"),
            Column("listed_at", "timestamp"),
        ),
        required=False,
    ),
    Table(
        "clicks",
        (),  # no key: a fan may click a good twice in one second, and a repeated row is another click
        (
            Column("fan_id", "id", ref="fans", anonymous=True),
            Column("product_id", "id", ref="products"),
            Column("clicked_at", "timestamp"),
        ),
        required=False,
    ),
)
TABLE_BY_NAME = {t.name: t for t in TABLES}
#: the column the contract adds to a table with gate columns: bit i set where the export's value of its i-th gate
#: column (`gate_columns`) was invalid and blanked. A quality gate fails closed on it: a refund rate written as a
#: percentage (20.3) or an oversold stock (-3) must not read as unknown, which passes.
INVALID_GATES = "invalid_gates"


def gate_columns(table: str) -> tuple[str, ...]:
    """The columns of `table` a quality gate reads, in the order of INVALID_GATES' bits."""
    return tuple(c.name for c in TABLE_BY_NAME[table].columns if c.gate)


def gate_bit(table: str, column: str) -> int:
    """The bit of INVALID_GATES that says `column` of `table` was invalid in the export."""
    return 1 << gate_columns(table).index(column)


_ENTITY_KEY = {"anchors": "anchor_id", "fans": "fan_id", "products": "product_id"}
_CODE_COLUMN = {"fan_id": "fan", "anchor_id": "anchor", "product_id": "product"}


@dataclass(frozen=True)
class Problem:
    """One kind of problem in one column of one file, with its count and the first rows it occurs in."""

    file: str
    message: str
    column: str | None = None
    count: int = 1
    rows: tuple[int, ...] = ()  # 1-based data rows (line numbers of a CSV minus its header line)
    values: tuple = ()
    fatal: bool = False

    def __str__(self) -> str:
        where = self.file + (f", column {self.column!r}" if self.column else "")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows)
            more = f" (+{self.count - len(self.rows)} more)" if self.count > len(self.rows) else ""
            where += f", row{'s' if self.count > 1 else ''} {shown}{more}"
        text = f"{where}: {self.message}"
        if self.values:
            text += " (values: " + ", ".join(_shown(v) for v in self.values) + ")"
        if not self.fatal:
            text += f"; {self.count} row{'s' if self.count != 1 else ''} affected"
        return text


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _shown(v) -> str:
    """A cell as a problem quotes it: a missing one as "blank", not nan."""
    v = _plain(v)
    return "blank" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else repr(v)


@dataclass
class ValidationReport:
    problems: list[Problem] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.fatal]

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def to_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "problems": [str(p) for p in self.problems],
        }


@dataclass
class Marketplace:
    """A validated snapshot. Entity tables are in vocabulary order; relation tables carry dense codes.

    ``follows``, ``orders``, ``shelf`` and ``clicks`` have int32 columns ``fan`` / ``anchor`` / ``product`` holding the
    row numbers of the ids they reference, so downstream code never looks ids up again.
    """

    anchors: pd.DataFrame
    fans: pd.DataFrame
    products: pd.DataFrame
    follows: pd.DataFrame
    orders: pd.DataFrame
    shelf: pd.DataFrame
    anchor_ids: Vocabulary
    fan_ids: Vocabulary
    product_ids: Vocabulary
    report: ValidationReport
    source: Path | None = None
    fingerprint: str = ""
    as_of: pd.Timestamp | None = None  # set when the snapshot is cut at a moment (a training split)
    clicks: pd.DataFrame = field(default_factory=lambda: _empty_table(TABLE_BY_NAME["clicks"]))  # optional log

    @property
    def snapshot_time(self) -> pd.Timestamp:
        """The latest moment the snapshot knows about: the reference point for recency and 1/7/30-day windows."""
        if self.as_of is not None:
            return self.as_of
        stamps = [
            self.orders["ordered_at"].max(),
            self.follows["followed_at"].max(),
            self.anchors["created_at"].max(),
            self.fans["created_at"].max(),
            self.products["created_at"].max(),
        ]
        if len(self.shelf):
            stamps.append(self.shelf["listed_at"].max())
        # not the click log's: a log exported after the orders (or one stray future click) would move every
        # 1/7/30-day window and recency weight of the marketplace
        return max(s for s in stamps if pd.notna(s))

    @cached_property
    def purchases(self) -> pd.DataFrame:
        """Orders that express a preference: the ones not refunded. Computed once, used by every stage."""
        if "refunded" not in self.orders:
            return self.orders
        refunded = self.orders["refunded"].fillna(False).to_numpy(dtype=bool)
        return self.orders[~refunded] if refunded.any() else self.orders

    @cached_property
    def purchase_age_days(self) -> np.ndarray:
        """Each of `purchases`' age in days at `snapshot_time` (float64, read-only): the recency weights, windows
        and trends of several stages start from it, and on 9M orders each computation took a quarter second."""
        age = days_between(self.purchases["ordered_at"], self.snapshot_time)
        age.flags.writeable = False
        return age

    def until(self, cutoff: pd.Timestamp) -> Marketplace:
        """The snapshot as it stood at `cutoff`: follows, orders and listings before it (entities all kept,
        so goods first sold later are known but cold, as new goods are)."""
        return dataclasses.replace(
            self,
            follows=self.follows[self.follows["followed_at"] < cutoff].reset_index(drop=True),
            orders=self.orders[self.orders["ordered_at"] < cutoff].reset_index(drop=True),
            shelf=self.shelf[self.shelf["listed_at"] < cutoff].reset_index(drop=True) if len(self.shelf)
            else self.shelf,
            clicks=self.clicks[self.clicks["clicked_at"] < cutoff].reset_index(drop=True) if len(self.clicks)
            else self.clicks,
            as_of=cutoff,
            fingerprint=f"{self.fingerprint}@{cutoff.isoformat()}",
        )

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in TABLE_BY_NAME}

    def optional_present(self) -> dict[str, list[str]]:
        """What of the contract's optional part the export gave: each table's optional columns with a value in
        some row, and the optional tables with rows (under their own name). The nightly job compares it with the
        served snapshot's, since an export that lost one still passes every row's check (drift)."""
        out: dict[str, list[str]] = {}
        for table in TABLES:
            df = getattr(self, table.name)
            if not table.required:
                if len(df):
                    out.setdefault(table.name, []).append(table.name)
                continue
            given = [c.name for c in table.columns if not c.required and c.name in df and df[c.name].notna().any()]
            if given:
                out[table.name] = given
        return out


# ----------------------------------------------------------------------------------------------------------
# reading


def find_table_file(directory: Path, name: str) -> list[Path]:
    return [p for p in (directory / f"{name}.parquet", directory / f"{name}.csv") if p.exists()]


def table_files(directory: Path) -> list[str]:
    """The names of the contract's table files a folder holds, in the contract's order: a snapshot's folder, which
    no registry or report may be written into."""
    return [p.name for t in TABLES for p in find_table_file(directory, t.name)]


def _read(path: Path, table: Table) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # Everything as text: each column is then parsed by its declared kind, so a bad cell is reported, not
    # silently inferred. Only the empty string means missing ("NA" may be a region or a brand).
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], engine="pyarrow")
    with open(path, encoding="utf-8-sig", newline="") as fh:  # the reader renames a repeated name to title.1
        header = next(csv.reader(fh), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"the header names {', '.join(map(repr, repeated))} more than once (line 1); which column "
                         "is meant is unknowable: rename or remove the copy")
    return df


#: what a row dropped for an `anonymous` column says, beside the usual problem
_ANONYMOUS = " (a visitor who is no fan; not counted as a bad row)"


def _header_hint(name: str, found: list) -> str:
    """What the header holds instead, so the refusal says what to fix: a near miss (another case, spaces), a header
    read as one column (another delimiter), or the columns read."""
    names = [str(c) for c in found]
    near = [c for c in names if c.strip().lower() == name]
    if near:
        return f": the header has {near[0]!r}; rename it {name!r} (names are exact, lower case, no spaces)"
    if len(names) == 1 and any(sep in names[0] for sep in (";", "\t", "|")):
        return f": the header reads as one column {names[0][:60]!r}: the file must be comma-separated"
    shown = ", ".join(repr(c) for c in names[:12]) + (", ..." if len(names) > 12 else "")
    return f" (the header has {shown or 'no columns'})"


def fingerprint_files(paths: Iterable[Path]) -> str:
    """sha256 over the names and bytes of the snapshot's files: identifies the data a model was trained on. A table
    written as a partitioned Parquet directory (orders.parquet/dt=.../part-0.parquet) counts every file in it."""
    h = hashlib.sha256()
    for path in sorted(paths):
        files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
        for file in files:
            h.update(file.relative_to(path.parent).as_posix().encode())
            with open(file, "rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------------
# column parsing: each returns the parsed column and a mask of cells that were present but invalid


#: what databases and exports write for "no value" in a column of numbers, booleans or times (MySQL and Hive \N,
#: NULL, None, NaN, -): missing, not an invalid value (which would fail a quality gate). Text columns keep them
#: as written, except \N and NULL in optional ones ("NA" may be a region, "-" a brand's own name).
NULL_WORDS = frozenset({"-", "--", "null", "none", "nan", "\\n", "n/a", "na", "nil"})
TEXT_NULL_WORDS = frozenset({"\\n", "null"})


def _missing(s: pd.Series, words: frozenset[str] = NULL_WORDS) -> np.ndarray:
    m = s.isna().to_numpy()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        text = s.astype("str").str.strip()
        m = m | (text == "").to_numpy() | text.str.lower().isin(words).to_numpy()
    return m


def _parse_id(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_unsigned_integer_dtype(s) and len(s) and int(s.max()) > np.iinfo(np.int64).max:
        return s.astype(str), np.zeros(len(s), bool)  # uint64 ids past int64 as their digits, not wrapped negative
    if pd.api.types.is_integer_dtype(s) and not s.isna().any():
        return s.astype(np.int64), np.zeros(len(s), bool)
    if pd.api.types.is_float_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        # a float holds every integer only up to 2**53: a larger id stored as a float has lost its last digits
        integral = np.isfinite(v) & (v == np.round(v)) & (np.abs(v) <= 2.0**53)
        out = s.where(integral).astype("Int64")
        return out, ~integral & s.notna().to_numpy()
    if pd.api.types.is_integer_dtype(s):  # nullable integers with a missing cell
        return s.astype("Int64"), np.zeros(len(s), bool)
    text = s.astype("str").str.strip()
    return text.where(s.notna()), np.zeros(len(s), bool)


#: 1,299.00: a number with thousands separators, as spreadsheets export prices of ¥1,000 and more
_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?"


def _parse_float(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(float)
    out = pd.to_numeric(s, errors="coerce").astype(float)
    bad = out.isna().to_numpy() & ~_missing(s)
    if bad.any() and (s.dtype == object or pd.api.types.is_string_dtype(s)):  # only the cells that failed
        text = s[bad].astype("str").str.strip()
        grouped = text.str.fullmatch(_THOUSANDS).fillna(False).to_numpy(bool)
        if grouped.any():
            at = np.flatnonzero(bad)[grouped]
            out.iloc[at] = pd.to_numeric(text[grouped].str.replace(",", "", regex=False)).to_numpy(float)
            bad[at] = False
    bad |= np.isinf(out.to_numpy())
    return out.where(~bad), bad


def _parse_int(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    out, bad = _parse_float(s)
    values = out.to_numpy()
    # a fraction, or a value past int64 (99999999999999999999 wrapped to a negative count, and a NaN in training)
    frac = np.isfinite(values) & ((values != np.round(values)) | (np.abs(values) >= 2.0**63))
    bad |= frac
    return out.where(~frac), bad


# 是/否 and 1.0/0.0 as exports write them (the latter: pandas' float column for booleans with a missing cell)
_TRUE = {"true", "1", "1.0", "yes", "y", "t", "是", "真"}
_FALSE = {"false", "0", "0.0", "no", "n", "f", "否", "假"}


def _parse_bool(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean"), np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s):  # 1/0 (1.0/0.0): any other number is no boolean
        s = s.astype("Float64").astype(str).where(s.notna())
    text = s.astype("str").str.strip().str.lower()
    is_true, is_false = text.isin(_TRUE).to_numpy(), text.isin(_FALSE).to_numpy()
    out = pd.Series(pd.array(np.where(is_true, True, False), dtype="boolean"), index=s.index)
    out[~(is_true | is_false)] = pd.NA
    bad = ~(is_true | is_false) & ~_missing(s)
    return out, bad


#: Unix times by their size, each unit from 2001-09-09 to 2286 (lower bound, upper bound, microseconds a unit):
#: seconds of 10-11 digits, milliseconds of 13-14, microseconds of 16-17, nanoseconds of 19-20. A number outside
#: them is no credible Unix time (20261001 is a date, 0 a placeholder, 202610011230 a compact time): invalid.
_EPOCH_UNITS = ((1e9, 1e11, 1e6), (1e12, 1e14, 1e3), (1e15, 1e17, 1.0), (1e18, 1e20, 1e-3))
_EPOCH_TEXT = r"[0-9]{10,20}(?:\.[0-9]+)?"
#: the end of a day written as 24:00 (ISO 8601 allows it; some databases export midnight so)
_END_OF_DAY = r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]24:00(?::00(?:\.0+)?)?\s?([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"


def _from_epoch(values: np.ndarray) -> np.ndarray:
    """Unix times (UTC by definition) as naive UTC datetime64[us], each in the unit its size says; NaT where
    none fits. Converted to whole microseconds here: pandas' own conversion goes through nanoseconds, which
    overflow past 2262 and which a microsecond column cannot hold exactly (a crash, not an invalid value)."""
    values = np.asarray(values, np.float64)
    micros = np.full(len(values), np.nan)
    with np.errstate(invalid="ignore"):
        for lower, upper, scale in _EPOCH_UNITS:
            take = (values >= lower) & (values < upper)
            micros[take] = np.round(values[take] * scale)
    out = np.full(len(values), np.datetime64("NaT"), "datetime64[us]")
    known = np.isfinite(micros)
    out[known] = micros[known].astype(np.int64).astype("datetime64[us]")
    return out


def _parse_timestamp(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s if s.dt.tz is None else s.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.astype("datetime64[us]"), np.zeros(len(s), bool)
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):  # Unix times, as numbers
        out = pd.Series(_from_epoch(s.to_numpy(dtype=float, na_value=np.nan)), index=s.index).dt.tz_localize("UTC")
    else:
        out = pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")
        failed = out.isna().to_numpy() & ~_missing(s)
        if failed.any():  # the rarer forms, read only where ISO 8601 failed: the common path pays nothing
            text = s[failed].astype("str").str.strip()
            epoch = text.str.fullmatch(_EPOCH_TEXT).to_numpy()
            if epoch.any():
                times = pd.DatetimeIndex(_from_epoch(text[epoch].astype(float).to_numpy())).tz_localize("UTC")
                out.iloc[np.flatnonzero(failed)[epoch]] = times
            end = text.str.extract(f"^{_END_OF_DAY}$")
            day = end[0].notna().to_numpy()
            if day.any():
                midnight = pd.to_datetime(end[0][day] + "T00:00:00" + end[1][day].fillna(""), utc=True,
                                          errors="coerce", format="ISO8601")
                out.iloc[np.flatnonzero(failed)[day]] = (midnight + pd.Timedelta(days=1)).to_numpy()
    bad = out.isna().to_numpy() & ~_missing(s)
    return out.dt.tz_localize(None).astype("datetime64[us]"), bad


def _parse_text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    return s.astype("str").where(s.notna()), np.zeros(len(s), bool)


def _parse_optional_text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """An optional text column: \\N and NULL are a database's missing value, not a brand or a shop's name."""
    null = s.notna().to_numpy() & s.astype("str").str.strip().str.lower().isin(TEXT_NULL_WORDS).to_numpy()
    return s.astype("str").where(s.notna().to_numpy() & ~null), np.zeros(len(s), bool)


_PARSERS = {
    "id": _parse_id,
    "float": _parse_float,
    "int": _parse_int,
    "bool": _parse_bool,
    "timestamp": _parse_timestamp,
    "text": _parse_text,
}


def _out_of_range(values: pd.Series, col: Column) -> np.ndarray:
    v = values.to_numpy(dtype=float, na_value=np.nan)
    bad = np.zeros(len(v), bool)
    with np.errstate(invalid="ignore"):
        if col.lo is not None:
            bad |= v < col.lo
        if col.hi is not None:
            bad |= v > col.hi
        if col.positive:
            bad |= v <= 0
    return bad


FUTURE_SLACK = pd.Timedelta(days=1)


def latest_credible() -> pd.Timestamp:
    """The latest timestamp a snapshot may hold (naive UTC): the wall clock plus a day of clock skew. A later
    one is a typo (a mistyped year), not an event."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None) + FUTURE_SLACK


def _parsed_as(col: Column) -> str:
    """A column's kind as a parse failure names it: a time says which forms are read."""
    return "timestamp (ISO 8601, or a Unix time from 2001 in s, ms, us or ns)" if col.kind == "timestamp" \
        else col.kind


def _kind_text(col: Column) -> str:
    """What a column's values must be, as its refusal says it."""
    if col.kind == "bool":
        return "true or false (true/false, 1/0, yes/no, 是/否)"
    if col.kind in ("float", "int"):
        return f"a number ({_range_text(col)})" if col.lo is not None or col.positive else "a number"
    return {"timestamp": "an ISO 8601 time or a Unix time of this century", "id": "an id",
            "text": "text"}[col.kind]


def _unit_hint(col: Column, values: pd.Series) -> str:
    """What a column mostly out of its range was most likely written in: a percentage, a 0-100 score, -1 for
    "unlimited" (empty when no reading fits them all)."""
    v = values.to_numpy(dtype=float, na_value=np.nan)
    v = v[np.isfinite(v)]
    if not len(v):
        return ""
    if col.lo == 0 and col.hi == 1 and (v > 1).all() and (v <= 100).all():
        return f" as percentages (e.g. {v[0]:g} for {v[0]:g}%)? Write {v[0] / 100:g}"
    if col.lo == 0 and col.hi == 5 and (v > 5).all() and (v <= 100).all():
        return f" on a 0-100 scale (e.g. {v[0]:g})? Write stars out of 5: {v[0] / 20:g}"
    if col.lo == 0 and (v == -1).all():
        return " as -1, a common mark for \"unlimited\"? Leave such cells empty (unknown passes the gate)" \
            if col.gate else " as -1, a common mark for \"none\"? Leave such cells empty"
    return ""


def _range_text(col: Column) -> str:
    if col.kind == "timestamp":
        return "after the wall clock (a date in the future)"
    if col.positive:
        return "must be > 0"
    if col.lo is not None and col.hi is not None:
        return f"must be between {col.lo:g} and {col.hi:g}"
    return f"must be >= {col.lo:g}"


# ----------------------------------------------------------------------------------------------------------
# validation


def _any_duplicated(df: pd.DataFrame, cols: list[str]) -> bool:
    """Whether any key repeats. Integer keys are packed into one int64 and sorted (10x faster than pandas'
    duplicated on 13M rows, which dominated load time); other keys use pandas."""
    arrays = [df[c].to_numpy() for c in cols]
    if all(a.dtype.kind == "i" for a in arrays) and len(df):
        lows = [int(a.min()) for a in arrays]
        spans = [int(a.max()) - lo + 1 for a, lo in zip(arrays, lows, strict=True)]
        if np.prod([float(x) for x in spans]) < 2**62:
            packed = np.zeros(len(df), np.int64)
            for a, lo, span in zip(arrays, lows, spans, strict=True):
                packed = packed * span + (a - lo)
            return len(unique_sorted(packed)) != len(packed)
    return bool(df.duplicated(cols).any())


class _TableCheck:
    """Collects the problems of one table and the mask of rows to drop."""

    def __init__(self, table: Table, file: str, df: pd.DataFrame, report: ValidationReport) -> None:
        self.table, self.file, self.df, self.report = table, file, df, report
        self.drop = np.zeros(len(df), bool)
        # dropped as the contract expects of such a table, not bad rows: a follow listed again (a follows table
        # exported as an event log), a click of a visitor who is no fan (not logged in); not counted against
        # MAX_BAD_FRACTION
        self.expected = np.zeros(len(df), bool)
        self.drop_causes: dict[str, int] = {}  # why rows were dropped ("price: out of range ..."), numbered
        self.row_cause = np.full(len(df), -1, np.int32)  # each dropped row's first cause (-1: none named)

    def problem(self, mask: np.ndarray, message: str, column: str | None, *, drop: bool = True,
                expected: bool = False) -> None:
        count = int(mask.sum())
        if not count:
            return
        where = np.flatnonzero(mask)[:EXAMPLES]
        values = tuple(self.df[column].iloc[where]) if column in self.df else ()
        self.report.add(
            Problem(self.file, message, column, count, tuple(int(self.df.index[i]) + 1 for i in where), values)
        )
        if drop:
            self.drop |= mask
            if not expected:
                cause = self.drop_causes.setdefault(f"{column}: {message}" if column else message,
                                                    len(self.drop_causes))
                self.row_cause[mask & (self.row_cause < 0)] = cause
        if expected:
            self.expected |= mask

    def fatal(self, message: str, column: str | None = None, mask: np.ndarray | None = None) -> None:
        rows, values, count = (), (), 1
        if mask is not None:
            count = int(mask.sum())
            where = np.flatnonzero(mask)[:EXAMPLES]
            rows = tuple(int(self.df.index[i]) + 1 for i in where)
            if column in self.df:
                values = tuple(self.df[column].iloc[where])
        self.report.add(Problem(self.file, message, column, count, rows, values, fatal=True))

    def parse_columns(self) -> None:
        gates = gate_columns(self.table.name)
        invalid = np.zeros(len(self.df), np.uint8)
        for col in self.table.columns:
            if col.name not in self.df:
                continue  # optional and absent: required ones were checked before
            raw = self.df[col.name]
            parse = _parse_optional_text if col.kind == "text" and not col.required else _PARSERS[col.kind]
            parsed, bad = parse(raw)
            absent = parsed.isna().to_numpy() & ~bad
            bad_range = _out_of_range(parsed, col) & ~bad if col.kind in ("float", "int") else None
            if col.kind == "timestamp":  # one stray 2062 would become the snapshot's time, emptying every window
                bad_range = (parsed > latest_credible()).to_numpy(dtype=bool, na_value=False) & ~bad
            if col.required:
                self.problem(absent, "required value is missing" + _ANONYMOUS * col.anonymous, col.name,
                             expected=col.anonymous)
                self.problem(bad, f"cannot parse as {_parsed_as(col)}", col.name)
                if bad_range is not None:
                    self.problem(bad_range, f"out of range: {_range_text(col)}", col.name)
            else:
                unreadable = bad  # parse failures: the format; out-of-range values are the data's
                held = "; value blanked" + (", and the row fails its quality gate" if col.gate else "")
                self.problem(bad, f"cannot parse as {_parsed_as(col)}{held}", col.name, drop=False)
                if bad_range is not None:
                    self.problem(bad_range, f"out of range: {_range_text(col)}{held}", col.name, drop=False)
                    bad = bad | bad_range
                    hint = _unit_hint(col, parsed[bad_range]) if bad_range.any() else ""
                parsed = parsed.where(~bad)
                given = len(raw) - int(absent.sum())  # the values the export gave (a parser's NaN is a blank)
                # a format the contract does not read (退款/未退款, ¥ signs), not a few typos: refused, not blanked
                # (out-of-range values, an oversold stock of -3, are the data's own: blanked and warned)
                if unreadable.sum() > max(MAX_BAD_FRACTION * given, MIN_BAD_VALUES):
                    self.fatal(f"{int(unreadable.sum())} of its {given} values ({unreadable.sum() / given:.0%}) "
                               f"cannot be read as {_kind_text(col)}: the export writes this column another way; "
                               "fix its format, or leave the column out (it is optional)", col.name, unreadable)
                elif col.gate and bad_range is not None and bad_range.sum() > max(
                        MAX_OUT_OF_RANGE_FRACTION * given, MIN_BAD_VALUES):
                    # a gate column only: elsewhere a blank is what a sentinel means (a spending level of 0, "not
                    # estimated"), and the warning above carries the rows
                    self.fatal(f"{int(bad_range.sum())} of its {given} values ({bad_range.sum() / given:.0%}) are "
                               f"out of range ({_range_text(col)}){hint}: blanked, every such row would fail its "
                               "quality gate; fix the export, or leave the column out (it is optional)", col.name,
                               bad_range)
                if col.gate:
                    invalid |= (bad.astype(np.uint8) << gates.index(col.name)).astype(np.uint8)
            if col.kind == "int" and not col.required:
                parsed = parsed.astype("Float64").astype("Int64")
            if not col.required and len(parsed) and parsed.isna().all():  # a broken export, most likely
                self.report.add(Problem(self.file, "every value is blank: the column is not used", col.name,
                                        count=len(parsed)))
            self.df[col.name] = parsed
        if gates:
            self.df[INVALID_GATES] = invalid

    def check_plausible(self) -> None:
        """Values the contract allows but a platform almost never has: kept as given, and said (a warning names
        the rows), since each would steer the ranking on its own."""
        if self.table.name == "products" and "commission_rate" in self.df:
            rate = pd.to_numeric(self.df["commission_rate"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            # rows already refused (a rate above 1, a percentage: 29.0) are not also "kept as given"
            self.problem((rate >= IMPLAUSIBLE_COMMISSION) & ~self.drop,
                         f"commission rate of {IMPLAUSIBLE_COMMISSION:.0%} or more: "
                         "most likely a data error (a rate of 1 meant as 1%?); kept as given, and a pick's expected "
                         "commission follows it", "commission_rate", drop=False)

    def check_duplicates(self) -> None:
        key = list(self.table.key)
        if not key:  # an event log without identity (clicks): nothing can repeat
            return
        kept = self.df[~self.drop] if self.drop.any() else self.df
        if not _any_duplicated(kept, key):
            return
        if self.table.entity or self.table.name == "orders":
            exact = kept.duplicated(keep="first").to_numpy()
            full = np.zeros(len(self.df), bool)
            full[np.flatnonzero(~self.drop)[exact]] = True
            self.problem(full, f"exact duplicate row of another {'/'.join(key)}; dropped", key[0])
            rest = kept[~exact]
            conflict = rest.duplicated(key, keep=False).to_numpy()
            if conflict.any():
                mask = np.zeros(len(self.df), bool)
                mask[np.flatnonzero(~self.drop)[np.flatnonzero(~exact)[conflict]]] = True
                self.fatal(f"duplicate {key[0]} with different contents", key[0], mask)
                self.drop |= mask  # the load fails; dropping lets the other checks still report
        else:  # a pair listed twice (a fan re-following): keep the earliest
            time_col = next(c.name for c in self.table.columns if c.kind == "timestamp")
            order = kept.sort_values(time_col, kind="stable").duplicated(key, keep="first")
            later = order.reindex(kept.index).to_numpy()
            mask = np.zeros(len(self.df), bool)
            mask[np.flatnonzero(~self.drop)[later]] = True
            self.problem(mask, f"({', '.join(key)}) listed more than once; kept the earliest", key[0], expected=True)

    def check_references(self, vocabularies: dict[str, Vocabulary],
                         dropped: dict[str, _Dropped] | None = None) -> dict[str, np.ndarray]:
        """Each reference's row numbers in its table (-1: none). A reference to a row that table dropped (a
        negative price) says so: "not in products" sent people looking for ids that are there."""
        codes = {}
        for col in self.table.columns:
            if col.ref is None or col.ref not in vocabularies:
                continue
            vocab = vocabularies[col.ref]
            values = self.df[col.name]
            if vocab.is_integer and values.dtype == np.int64:  # the usual export: no mask, no copy (20M rows)
                idx = vocab.index(values.to_numpy())
                unknown = idx < 0
            else:  # text ids, or nullable integers: the vocabulary casts them exactly (never through a float, which
                # rounds ids above 2**53), and a value that is no id of it ("-", "null") is unknown, not missing
                present = values.notna().to_numpy()
                idx = np.full(len(values), -1, dtype=np.int64)
                kept = values[present]
                arr = kept.to_numpy(np.int64) if pd.api.types.is_integer_dtype(kept) else kept.to_numpy(object)
                idx[present] = vocab.index(arr)
                unknown = present & (idx < 0)
            gone = (dropped or {}).get(col.ref)
            if gone is not None and len(gone.ids) and unknown.any():
                rows = np.flatnonzero(unknown)
                at = gone.ids.index(_id_array(values.iloc[rows]))
                cause = np.full(len(values), -2)
                cause[rows] = np.where(at >= 0, gone.cause[np.maximum(at, 0)], -2)
                for c in np.unique(cause[cause > -2]).tolist():  # one problem per cause of the dropped rows
                    why = gone.texts[c] if c >= 0 else "a conflicting duplicate"
                    self.problem(cause == c, f"{col.name} of a row dropped from {col.ref} ({why}); dropped with it",
                                 col.name, expected=col.anonymous)  # a click of a dropped fan: as of none, tolerated
                unknown &= cause == -2
            self.problem(unknown, f"unknown {col.name}: not in {col.ref}" + _ANONYMOUS * col.anonymous, col.name,
                         expected=col.anonymous)
            codes[_CODE_COLUMN[col.name]] = idx
        return codes

    def finish(self) -> pd.DataFrame:
        n, dropped = len(self.df), int(self.drop.sum())
        self.report.rows_read[self.table.name] = n
        self.report.rows_kept[self.table.name] = n - dropped
        bad = int((self.drop & ~self.expected).sum())
        anonymous = [c.name for c in self.table.columns if c.anonymous]
        nobody = int((self.drop & self.expected).sum()) if anonymous else 0
        if nobody > MAX_ANONYMOUS_CLICKS * n:
            self.fatal(f"{nobody} of {n} clicks name no fan of the fans table: fan ids remapped, or a log of "
                       "visitors rather than fans; fix the export or leave the log out", anonymous[0])
        if n and bad / n > MAX_BAD_FRACTION:
            causes = sorted((p for p in self.report.problems if p.file == self.file and not p.fatal),
                            key=lambda p: -p.count)
            self.fatal(
                f"{bad} of {n} rows ({bad / n:.1%}) are bad, more than the "
                f"{MAX_BAD_FRACTION:.0%} a run may drop; fix the export"
                + ("" if not causes else " (its most common problem follows)" if len(causes) == 1
                   else f" (its {min(len(causes), MAX_CAUSES)} most common problems follow)")
            )
            for cause in causes[:MAX_CAUSES]:  # what to fix: by column, with example rows and values
                self.report.add(dataclasses.replace(cause, message=f"{cause.message}: {cause.count} rows",
                                                    fatal=True))
        return self.df[~self.drop] if dropped else self.df


@dataclass(frozen=True)
class _Dropped:
    """An entity table's dropped ids that no kept row has (a duplicate dropped beside its kept twin is no loss),
    each with why it was dropped: a refusal of a table referring to them must say so, since the entity table's
    own warnings are not part of it."""

    ids: Vocabulary
    cause: np.ndarray  # per id, an index into texts (-1: dropped without a named cause)
    texts: list[str]


def _dropped_ids(ids: pd.Series, cause: np.ndarray, texts: list[str], kept: Vocabulary) -> _Dropped:
    given = ids.notna().to_numpy()
    arr, cause = _id_array(ids[given]), np.asarray(cause)[given]
    lost = kept.index(arr) < 0
    unique, first = np.unique(arr[lost], return_index=True)
    return _Dropped(Vocabulary(unique, "dropped"), cause[lost][first], texts)


def _id_array(ids: pd.Series) -> np.ndarray:
    """Parsed ids without blanks as an array a Vocabulary looks up: integers exactly, the rest as text."""
    return ids.to_numpy(np.int64) if pd.api.types.is_integer_dtype(ids) else ids.astype(str).to_numpy(object)


def _empty_table(table: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=object) for c in table.columns})


def _where_not_utf8(path: Path) -> str:
    """For a CSV that is not UTF-8 (often saved as GBK by a spreadsheet): the line and the column where its first
    invalid byte is, which the CSV reader's own message leaves out ("" when it is valid UTF-8)."""
    if path.suffix != ".csv":
        return ""
    try:
        data = path.read_bytes()
        data.decode("utf-8")
        return ""
    except UnicodeDecodeError as exc:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # a spreadsheet's "Unicode text": every byte pair, line aside
            return " (UTF-16, as a spreadsheet saves \"Unicode text\": re-save the file as CSV UTF-8)"
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        header = data[:data.find(b"\n")].decode("utf-8", errors="replace").strip().split(",")
        column = data.count(b",", line_start, exc.start)  # quoted commas aside: a hint, not a parse
        named = f", column {header[column]!r}" if column < len(header) else ""
        line = data.count(b"\n", 0, exc.start) + 1
        row = f" (row {line - 1})" if line > 1 else " (the header)"
        return f" (not UTF-8: line {line}{row}{named}, byte {exc.start}; re-save the file as UTF-8, e.g. from GBK)"
    except OSError:
        return ""


_BAD_ROW = re.compile(r"Expected (\d+) columns, got (\d+): (.*)$")


def _bad_row_line(path: Path, message: str) -> str:
    """For a CSV row with the wrong number of fields: its line number, which the CSV reader's message leaves out
    (it quotes the row's text), and whether it is the file's last line, cut off by an interrupted export."""
    found = _BAD_ROW.search(message)
    if path.suffix != ".csv" or not found:
        return ""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    text = found.group(3).encode("utf-8", errors="replace")
    starts = [i for i in _occurrences(data, text) if i == 0 or data[i - 1:i] == b"\n"]
    # the row is a whole line: a cut-off fragment (9000000) also starts every order id's line
    whole = [i for i in starts if data[i + len(text):i + len(text) + 1] in (b"", b"\n", b"\r")]
    at = (whole or starts or [-1])[0]
    if at < 0:
        return ""
    line = data.count(b"\n", 0, at) + 1
    last = not data[at + len(text):].strip()
    short = int(found.group(2)) < int(found.group(1))
    # 导出人: 张三, not a cut-off id (digits, or letters and digits): a colon, a space or a non-ASCII character
    words = text.decode("utf-8", errors="replace").strip()
    footer = int(found.group(2)) == 1 and (not words.isascii() or ":" in words or " " in words)
    cut = ("; it is the file's last line: a note below the table? Delete it" if footer else
           "; it is the file's last line: was the export cut off?") if last and short else ""
    return f" (line {line}, row {line - 1}{cut})"


def _occurrences(data: bytes, text: bytes) -> Iterator[int]:
    at = data.find(text)
    while at >= 0:
        yield at
        at = data.find(text, at + 1)


def _near_miss(directory: Path, table: str) -> str:
    """A file that looks meant as the missing table (Products.csv, products.xlsx, orders.csv.gz), named with what
    the contract reads, which "required table is missing" alone left to guess."""
    try:
        near = sorted(p.name for p in directory.iterdir() if p.name.lower().split(".")[0] == table)
    except OSError:
        return ""
    if not near:
        return ""
    return (f": found {', '.join(near[:3])}, but a table is read from {table}.csv (UTF-8 text) or {table}.parquet, "
            "exactly so named, lower case and uncompressed")


def load_snapshot(directory: str | Path, *, fingerprint: bool = True) -> Marketplace:
    """Read and validate a snapshot directory; raise :class:`ContractError` listing every fatal problem."""
    directory = Path(directory)
    report = ValidationReport()
    if not directory.is_dir():
        raise ContractError([Problem(str(directory), "a file, not a snapshot directory" if directory.exists() else
                                     "snapshot directory does not exist", fatal=True)])

    if (directory / "manifest.json").is_file() and not find_table_file(directory, "orders"):
        raise ContractError([Problem(str(directory), "a model artifact (manifest.json), not a snapshot: give the "
                                     "folder of the export's tables (anchors, fans, products, follows, orders ...)",
                                     fatal=True)])
    frames: dict[str, pd.DataFrame] = {}
    files: dict[str, Path] = {}
    for table in TABLES:
        found = find_table_file(directory, table.name)
        if not found:
            if table.required:
                report.add(Problem(str(directory / f"{table.name}.parquet|csv"),
                                   "required table is missing" + _near_miss(directory, table.name), fatal=True))
            elif near := _near_miss(directory, table.name):  # an optional table meant but not read: say so
                report.add(Problem(str(directory / f"{table.name}.parquet|csv"), f"optional table not read{near}"))
            continue
        if len(found) > 1:
            report.add(Problem(str(found[0]), f"both {found[0].name} and {found[1].name} exist; keep one",
                               fatal=True))
            continue
        path = files[table.name] = found[0]
        try:
            df = _read(path, table)
        except (UnicodeDecodeError, ValueError, OSError) as exc:  # pyarrow errors subclass ValueError
            first = str(exc).splitlines()[0]
            if path.is_file() and path.stat().st_size == 0:
                first = "the file is empty (0 bytes): not even a header line"
            elif path.is_dir() and path.suffix == ".csv":
                first = "a folder: a table split into files is read as a partitioned Parquet folder " \
                        f"({table.name}.parquet/), not as CSV"
            where = _where_not_utf8(path) + _bad_row_line(path, first)
            report.add(Problem(str(path), f"cannot read file: {first}{where}", fatal=True))
            continue
        missing = [c.name for c in table.columns if c.required and c.name not in df.columns]
        if not len(df.columns):  # one problem, not one per column: the whole table is absent in it
            report.add(Problem(str(path), "no columns at all: " + (
                "a folder with no data files in it" if path.is_dir() else "a file without a header line"),
                fatal=True))
            continue
        for name in missing:
            report.add(Problem(str(path), "required column is missing" + _header_hint(name, list(df.columns)), name,
                               fatal=True))
        if not missing:
            frames[table.name] = df.reset_index(drop=True)

    if report.fatal:
        raise ContractError(report.fatal)

    vocabularies: dict[str, Vocabulary] = {}
    dropped: dict[str, _Dropped] = {}  # each entity table's ids of the rows it dropped
    out: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        if table.name not in frames:
            out[table.name] = _empty_table(table)
            continue
        check = _TableCheck(table, str(files[table.name]), frames[table.name], report)
        check.parse_columns()
        check.check_plausible()
        check.check_duplicates()
        codes = check.check_references(vocabularies, dropped)
        for name, idx in codes.items():
            check.df[name] = idx.astype(np.int32)
        gone = check.df.loc[check.drop, _ENTITY_KEY[table.name]] if table.entity and check.drop.any() else None
        df = check.finish().reset_index(drop=True)
        for col in table.columns:
            if col.kind == "int" and col.required:
                df[col.name] = df[col.name].astype(np.int64)
        if table.entity or table.name == "follows":  # follows: every audience figure and the room x good term
            if df.empty:
                check.fatal("table has no valid rows")
            elif table.entity:
                vocabularies[table.name] = Vocabulary(df[_ENTITY_KEY[table.name]].to_numpy(), table.name)
                if gone is not None:
                    dropped[table.name] = _dropped_ids(gone, check.row_cause[check.drop], list(check.drop_causes),
                                                       vocabularies[table.name])
        out[table.name] = df

    if report.fatal:
        raise ContractError(report.fatal)
    m = Marketplace(
        anchors=out["anchors"],
        fans=out["fans"],
        products=out["products"],
        follows=out["follows"],
        orders=out["orders"],
        shelf=out["shelf"],
        clicks=out["clicks"],
        anchor_ids=vocabularies["anchors"],
        fan_ids=vocabularies["fans"],
        product_ids=vocabularies["products"],
        report=report,
        source=directory,
        fingerprint=fingerprint_files(files.values()) if fingerprint else "",
    )
    lag = orders_lag_days(m)
    if lag > MAX_ORDERS_LAG_DAYS:
        last = m.orders["ordered_at"].max()
        report.add(Problem(str(files["orders"]), f"the last order ({last}) is {lag:.1f} days before the snapshot's "
                           f"latest record ({m.snapshot_time}): a late or partial order export? Every 1/7/30-day "
                           "sales figure ends at the latter and reads low"))
    mispriced = placeholder_prices(m)
    if len(mispriced):
        shown = m.products.iloc[mispriced[:EXAMPLES]]  # by id and price: the table's rows are renumbered by now
        report.add(Problem(str(files["products"]), f"price over {PRICE_TO_PAID:g}x the most its buyers paid per "
                           f"unit in the last 30 days, or under 1/{PRICE_TO_PAID:g} of the least (a placeholder "
                           "price?): kept as given, and at the ranking's default (max_price_to_paid 10) the good is "
                           "gated out of every list until it is fixed", "price", len(mispriced), (),
                           tuple(f"{i} at {p:g}" for i, p in zip(shown["product_id"], shown["price"], strict=True))))
    timeless = dates_only(m)
    if timeless is not None:
        report.add(Problem(str(files["orders"]), f"every order is at {timeless} UTC: dates without a time of day? "
                           "The hot items' hours and the day's curve need the time of the order; export it",
                           "ordered_at", count=len(m.orders)))
    night = None if timeless is not None else night_peak(m)
    if night is not None:
        report.add(Problem(str(files["orders"]), f"orders peak at {night:02d}:00-{(night + 3) % 24:02d}:00 Beijing "
                           "time, the middle of the night: were the times exported in Beijing time without a zone? "
                           "A time without an offset is read as UTC; write +08:00 (every Beijing day, trend and "
                           "created_at shown would be 8 hours off)", "ordered_at", count=len(m.orders)))
    for problem in report.warnings:
        _log.warning("%s", problem)
    return m


#: a good whose price is further than this factor (either way) from what its buyers paid per unit is said to be
#: a placeholder (the ranking's gate of the same name, ranking.config max_price_to_paid, gates it out)
PRICE_TO_PAID = 10.0


def placeholder_prices(m: Marketplace, days: int = 30) -> np.ndarray:
    """Rows of goods listed at more than PRICE_TO_PAID times the most their buyers paid per unit in the last
    `days`, or under its inverse times the least (at least MIN_UNITS_PAID units sold): ¥999,999 on goods sold at
    ¥50 set every figure of the good. The ranking's gate of the same rule (ranking.gates.mispriced) reads the
    artifact's statistics."""
    o = m.orders
    if not len(o):
        return np.zeros(0, np.int64)
    recent = (o["ordered_at"] > m.snapshot_time - pd.Timedelta(days=days)).to_numpy()  # age < days, as the stats
    if "refunded" in o:
        recent = recent & ~o["refunded"].fillna(False).to_numpy(dtype=bool)
    most, least = paid_per_unit_range(o["product"].to_numpy()[recent], o["amount"].to_numpy()[recent],
                                      o["quantity"].to_numpy()[recent], len(m.products))
    over, under = off_paid(m.products["price"].to_numpy(np.float64), most, least, PRICE_TO_PAID)
    return np.flatnonzero(over | under)


def off_paid(price: np.ndarray | float, most: np.ndarray | float, least: np.ndarray | float,
             factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The placeholder-price rule, for the load's warning and the ranking's gate alike: (listed over `factor`
    times the most paid per unit, under 1/`factor` of the least). NaN (not judged) compares false."""
    with np.errstate(invalid="ignore"):
        return np.asarray(price > factor * most), np.asarray(price * factor < least)


#: units a good must have sold in 30 days before what its buyers paid says its listed price is wrong
MIN_UNITS_PAID = 3


def paid_per_unit_range(product: np.ndarray, amount: np.ndarray, quantity: np.ndarray,
                        n_products: int) -> tuple[np.ndarray, np.ndarray]:
    """Per good, the most and the least its buyers paid per unit (amount / quantity) in the orders given; NaN for
    goods with fewer than MIN_UNITS_PAID units. The placeholder-price gate compares the listed price with them:
    the most, since a flash sale (一元秒杀) beside full-price orders is no wrong price; the least, for a price far
    below anything paid. Free orders (a gift, amount 0) say nothing of the price and are left out."""
    amount, quantity = np.asarray(amount, np.float64), np.asarray(quantity, np.float64)
    paid = amount > 0
    product, amount, quantity = np.asarray(product)[paid], amount[paid], quantity[paid]
    units = np.bincount(product, quantity, n_products)
    unit = amount / np.maximum(quantity, 1.0)
    most, least = np.full(n_products, -np.inf), np.full(n_products, np.inf)
    np.maximum.at(most, product, unit)
    np.minimum.at(least, product, unit)
    judged = units >= MIN_UNITS_PAID
    return np.where(judged, most, np.nan), np.where(judged, least, np.nan)


def dates_only(m: Marketplace, share: float = 0.99) -> str | None:
    """The time of day ("00:00:00") nearly every order is at, when they are dates without times (an export that
    wrote the day only); None otherwise, or with too few orders to tell."""
    at = m.orders["ordered_at"]
    if len(at) < NIGHT_MIN_ORDERS:
        return None
    # seconds of the UTC day as integers: pandas' floor and np.unique took 2-4 s on 10M orders
    s = one_time_of_day(at.to_numpy("datetime64[s]").astype(np.int64) % 86_400, 86_400, share)
    return None if s is None else f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def one_time_of_day(of_day: np.ndarray, per_day: int, share: float = 0.99) -> int | None:
    """The time of day (an index into the day's `per_day` parts) at least `share` of `of_day` fall on, or None:
    times that are dates alone (this export's, or the served snapshot's for the nightly job)."""
    counts = np.bincount(of_day, minlength=per_day)
    at = int(np.argmax(counts))
    return at if counts[at] >= share * len(of_day) else None


#: Beijing hours a platform's busiest three hours of orders never start in (01:00-07:59: the night), and the
#: orders needed before the hour of day says anything
NIGHT_HOURS, NIGHT_MIN_ORDERS = range(1, 8), 1000


def night_peak(m: Marketplace) -> int | None:
    """The Beijing hour the busiest three hours of orders start at, when that is the middle of the night: the sign
    of Beijing times exported without a zone (read as UTC, every order lands 8 hours late; live rooms peak at
    20:00-22:00). None otherwise, or with too few orders to tell."""
    if len(m.orders) < NIGHT_MIN_ORDERS:
        return None
    hours = ((m.orders["ordered_at"] + pd.Timedelta(hours=8)).dt.hour).to_numpy()
    counts = np.bincount(hours, minlength=24).astype(float)
    three = counts + np.roll(counts, -1) + np.roll(counts, -2)  # hours h, h+1, h+2
    peak = int(np.argmax(three))
    return peak if peak in NIGHT_HOURS else None


#: orders ending more than this many days before the other tables' latest record are a warning (nightly refuses)
MAX_ORDERS_LAG_DAYS = 1.0


def orders_lag_days(m: Marketplace) -> float:
    """How many days the orders end before the snapshot's latest record (0 without orders): a lagging order export
    leaves every sales window short while the snapshot looks current."""
    if not len(m.orders):
        return 0.0
    return max((m.snapshot_time - m.orders["ordered_at"].max()) / pd.Timedelta(days=1), 0.0)
