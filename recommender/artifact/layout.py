"""What a model artifact holds: one table, read by the writer (which refuses files outside it) and by the
loader (whose shape and dtype check is one loop over it).

A file's expected shape is its rows (an entity counted in the manifest) followed by its columns. Symbols resolve
against the manifest: ``anchors``, ``fans``, ``products``, ``follows``, ``shelf``, ``recent_orders``,
``daily_cells``, ``seller_rows`` and ``rebuy_pairs`` are ``counts[...]``, ``anchors+1`` and ``fans+1`` the length of
an indptr over them, ``categories`` the catalogue's categories (``profiles.labels.category``), ``d`` the
``dimensions``, ``labels`` the labels of the file's audience dimension, and ``free`` any length. ``{label}`` in a path
stands for each audience dimension of ``profiles.labels``. An optional file exists exactly when the manifest
key it names is set (the shelf-rate model needs a shelf table).

Format history: 5 held ``vectors/anchor_sales_weight.npy`` and ``shelf_rate/candidate{s,_orders}.npy`` (read by
nothing); 6 drops them; 7 adds ``audience/`` (the room x good term of expected orders) and
``shelf_rate/quality_shape.npy`` (how sure the model is of each good's quality); 8 adds ``evidence/`` (each good's
daily orders and GMV over the last 30 Beijing days and its biggest sellers, ``recommender/evidence.py``), ``trend/``
(the market's trend and each fan's categories, ``recommender/trend.py``), and ``boards/`` (each room's GMV and
orders per 1/7/30-day window and category, the anchor boards) with the audience's average order
(``profiles/followers_order_value_30d.npy``), under the manifest key ``anchor_boards``; 9 replaces the Parquet
tables ``catalog/`` and ``stats/`` with ``columns/``: one file per column (``recommender/columns.py``), numbers as
arrays, text as a UTF-8 blob and offsets, memory-mapped so the service's workers share them instead of each reading
the tables into its own memory; the manifest's ``columns`` lists each table's columns (a contract column a snapshot
may lack is there when listed). Formats 8 and 9 may also hold ``trend/rebuy_*`` (each fan's own decayed orders of
each good), under the manifest key ``rebuy``. Format 9 may also hold ``audience/by_category.npy`` (the gender x age
view's audience per category), under the manifest key ``category_audience``; without it every view scores with the
room's whole audience. Formats 5 to 8 still load (their tables read into each worker's memory
as columns; 5's extra files ignored; without ``audience/`` the picks use the category x quality model; without
``evidence/`` a good's trend and sellers are unavailable; without ``trend/`` a fan's scores are the vectors' alone;
without the boards the service has no anchor board or audience price filter); 3 and 4 are refused.

The table (``python -m recommender.artifact`` prints it)::

"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recommender.contract import INVALID_GATES, TABLE_BY_NAME, gate_columns
from recommender.errors import ArtifactError

FORMAT_VERSION = 9
READABLE_VERSIONS = (5, 6, 7, 8, 9)
RETIRED_VERSIONS = (3, 4)  # refused with a message that says to retrain
MANIFEST = "manifest.json"

Dim = str | int
_WINDOWS = ("1d", "7d", "30d")


@dataclass(frozen=True)
class File:
    """One file of the artifact. ``columns`` are an array's dimensions after the rows, or a table's column
    names (None: not fixed); ``dtype`` the accepted dtypes ("str": unicode ids)."""

    path: str
    rows: str
    about: str
    dtype: tuple[str, ...] = ()
    columns: tuple[Dim, ...] | None = ()
    optional: str | None = None  # manifest key that says whether the file exists ("a/b/c": manifest[a][b] holds c)
    since: int = 0  # the first format that holds the file
    until: int = FORMAT_VERSION  # the last one
    loaded: bool = True  # opened by Model (False: read by its own component, e.g. the content model)
    mmap: bool = True  # memory-mapped when Model maps; False: small, read into memory
    finite: bool = False  # a float array that can hold no NaN or infinity (checked at load)

    @property
    def kind(self) -> str:
        return Path(self.path).suffix.lstrip(".")


def _vectors(name: str, rows: str, about: str) -> File:
    return File(f"vectors/{name}.npy", rows, about, ("float32",), ("d",), finite=True)


def _windowed(prefix: str, per_window: tuple[str, ...], windows: tuple[str, ...], rest: tuple[str, ...]
              ) -> tuple[str, ...]:
    return (prefix, *(f"{c}_{w}" for w in windows for c in per_window), *rest)


PRODUCT_STATS = _windowed("", ("sales", "gmv", "orders", "anchors"), _WINDOWS,
                          ("buyers_30d", "refund_share_30d", "buyers_all", "shelf_anchors", "anchor_conversion_30d",
                           "rank_1d", "rank_7d", "rank_30d"))[1:]
ANCHOR_STATS = _windowed("", ("orders", "gmv", "goods_sold"), _WINDOWS[1:], ("orders_all", "shelf_size"))[1:]
#: how a catalogue column of each contract kind is stored: ids as the ids/ files are, the contract's int columns
#: as floats (NaN: missing, as in the tables they come from), timestamps to the microsecond
_STORED = {"id": ("int64", "str"), "float": ("float64",), "int": ("float64",), "timestamp": ("datetime64[us]",)}


def _catalog_columns(table: str) -> tuple[File, ...]:
    """The files of one catalogue table's columns (the contract's, its key left to ids/). Text is a UTF-8 blob
    and offsets (recommender.columns.TextColumn); an optional column is there when the manifest's
    ``columns`` lists it (the snapshot had it)."""
    out = []
    for col in TABLE_BY_NAME[table].columns[1:]:
        at = f"columns/{table}/{col.name}"
        optional = None if col.required else at
        if col.kind == "text":
            out += [File(f"{at}.utf8.npy", "free", f"{col.name}: UTF-8 text, rows one after another",
                         ("uint8",), optional=optional, since=9),
                    File(f"{at}.offsets.npy", f"{table}+1", f"{col.name}: where each row starts in it (+ the end)",
                         ("int64",), optional=optional, since=9)]
        else:
            out.append(File(f"{at}.npy", table, f"{col.name} ({col.kind})", _STORED[col.kind], optional=optional,
                            since=9, finite=col.required and col.kind == "float"))
    if gates := gate_columns(table):
        at = f"columns/{table}/{INVALID_GATES}"
        out.append(File(f"{at}.npy", table, f"bit i: the export's {', '.join(gates)} (i = 0, 1, ...) was invalid and "
                        "blanked, so the row fails that quality gate", ("uint8",), optional=at, since=9))
    return tuple(out)


def _stats_columns(name: str, rows: str, columns: tuple[str, ...], about: str) -> tuple[File, ...]:
    """A statistics table's columns: counts as int64, money and rates as float64 (GMV always finite)."""
    floats = ("gmv_", "refund_share", "anchor_conversion")
    return tuple(File(f"columns/{name}/{c}.npy", rows, f"{about}: {c}",
                      ("float64",) if c.startswith(floats) else ("int64",), since=9, finite=c.startswith(floats[:2]))
                 for c in columns)


LAYOUT: tuple[File, ...] = (
    File("ids/anchors.npy", "anchors", "external ids; their order is the row order of every other file",
         ("int64", "str"), mmap=False),
    File("ids/fans.npy", "fans", "external ids", ("int64", "str"), mmap=False),
    File("ids/products.npy", "products", "external ids", ("int64", "str"), mmap=False),
    _vectors("anchor", "anchors", "anchor vectors, in one inner-product space with goods"),
    _vectors("fan", "fans", "fan factors"),
    _vectors("product", "products", "product vectors (factors blended with content)"),
    _vectors("anchor_audience", "anchors", "the audience part of an anchor vector, for explaining"),
    _vectors("anchor_sales", "anchors", "the sales part of an anchor vector, for explaining"),
    _vectors("product_cf", "products", "a good's collaborative factors, for explaining"),
    _vectors("product_content", "products", "a good's vector from its content, for explaining"),
    # read (and checked) at load, kept only once offline code searches them: the service never does (27 MB a
    # worker on the large model: faiss reads a flat index into memory, it maps only inverted lists)
    File("index/products.faiss", "products", "search structure over vectors/product", columns=("d",),
         loaded=False),
    File("index/anchors.faiss", "anchors", "search structure over vectors/anchor", columns=("d",), loaded=False),
    File("index/products_order.npy", "products", "goods in descending norm order (exact pruned search)",
         ("int64",)),
    File("index/products_by_norm.npy", "products", "vectors/product in that order", ("float32",), ("d",)),
    File("index/products_norms.npy", "products", "their norms, descending", ("float32",)),
    File("candidates/anchor_products.npy", "anchors", "each anchor's exact top goods by affinity, best first",
         ("int32",), ("free",)),
    File("candidates/anchor_scores.npy", "anchors", "their affinities", ("float32",), ("free",)),
    # formats up to 8: the catalogue and its statistics as Parquet tables, read into every worker's memory
    File("catalog/products.parquet", "products", "the catalogue fields filters and cards need", columns=None,
         until=8),
    File("catalog/anchors.parquet", "anchors", "the anchors' catalogue fields", columns=None, until=8),
    File("stats/products.parquet", "products", "1/7/30-day sales statistics and TOP board ranks",
         columns=("product_id", *PRODUCT_STATS), until=8),
    File("stats/anchors.parquet", "anchors", "7/30-day orders, GMV and goods sold, shelf size",
         columns=("anchor_id", *ANCHOR_STATS), until=8),
    # format 9: the same as one memory-mapped file per column (recommender/columns.py), shared by the workers
    *_catalog_columns("products"),
    *_catalog_columns("anchors"),
    *_stats_columns("product_stats", "products", PRODUCT_STATS, "a good's 1/7/30-day statistics"),
    File("columns/product_stats/clicks_30d.npy", "products", "a good's clicks in the last 30 days of the click log "
         "(a snapshot with one)", ("int64",), optional="columns/product_stats/clicks_30d", since=9),
    *(File(f"columns/product_stats/paid_unit_{end}_30d.npy", "products", f"the {word} a good's buyers paid per "
           "unit in the last 30 days (NaN: under 3 units), which the placeholder-price gate reads (models before "
           "it lack it)", ("float64",), optional=f"columns/product_stats/paid_unit_{end}_30d", since=9)
      for end, word in (("max", "most"), ("min", "least"))),
    *_stats_columns("anchor_stats", "anchors", ANCHOR_STATS, "a room's 7/30-day statistics"),
    File("profiles/audience_fans.npy", "anchors", "followers", ("int64",)),
    File("profiles/audience_buyers_30d.npy", "anchors", "followers who bought in the last 30 days", ("int64",)),
    File("profiles/audience_{label}.npy", "anchors", "audience shares per label (labels in the manifest)",
         ("float32",), ("labels",)),
    File("profiles/anchor_category_gmv_30d.npy", "anchors", "GMV per category, last 30 days", ("float64",),
         ("categories",)),
    File("profiles/followers_order_value_30d.npy", "anchors", "the followers' average order in the last 30 days, "
         "any room, yuan (NaN: none bought)", ("float64",), optional="anchor_boards"),
    File("boards/anchor_gmv.npy", "anchors", "GMV per window (1, 7, 30 days) and category, yuan", ("float64",),
         (3, "categories"), optional="anchor_boards", finite=True),
    File("boards/anchor_orders.npy", "anchors", "orders per window (1, 7, 30 days) and category", ("int64",),
         (3, "categories"), optional="anchor_boards"),
    File("shelf/indptr.npy", "anchors+1", "each anchor's shelf (CSR over anchors)", ("int64",)),
    File("shelf/products.npy", "shelf", "product rows of the shelves", ("int32",)),
    File("follows/indptr.npy", "fans+1", "each fan's followed anchors (CSR over fans)", ("int64",)),
    File("follows/anchors.npy", "follows", "anchor rows followed", ("int32",)),
    File("recent_orders/key.npy", "recent_orders", "last week's orders (hot items): order key", ("uint64",)),
    File("recent_orders/anchor.npy", "recent_orders", "anchor row", ("int32",)),
    File("recent_orders/product.npy", "recent_orders", "product row", ("int32",)),
    File("recent_orders/minute.npy", "recent_orders", "minute since the epoch", ("int64",)),
    File("content/content.json", "free", "the content model for goods added later: config and vocabulary",
         loaded=False),
    File("content/idf.npy", "free", "its title n-grams' idf", ("float32",), loaded=False),
    File("content/band_edges.npy", "free", "its price-band edges", ("float64",), loaded=False),
    File("content/coef.npy", "free", "its ridge coefficients, features x d", ("float32",), ("d",), loaded=False),
    File("content/intercept.npy", "d", "its ridge intercept", ("float32",), loaded=False),
    File("shelf_rate/quality.npy", "products", "expected orders if shelved = room[anchor, category] x quality",
         ("float32",), optional="shelf_rate", finite=True),
    File("shelf_rate/room.npy", "anchors", "a room's strength per category", ("float32",), ("categories",),
         optional="shelf_rate", finite=True),
    File("shelf_rate/category.npy", "products", "a good's column of room", ("int32",), optional="shelf_rate",
         mmap=False),
    File("shelf_rate/categories.json", "free", "the category names of room's columns", optional="shelf_rate"),
    File("shelf_rate/quality_shape.npy", "products", "quality's posterior gamma shape (orders + prior pseudo-orders)",
         ("float32",), optional="quality_shape", finite=True),
    File("audience/band.npy", "products", "a good's price band within its category (0 cheapest)", ("int8",),
         optional="audience", mmap=False),
    File("audience/band_factor.npy", "anchors", "how a room sells each price band (x expected orders)",
         ("float32",), (5,), optional="audience", finite=True),
    File("audience/audience.npy", "anchors", "a room's audience over the cells of each view, views side by side",
         ("float32",), ("free",), optional="audience", finite=True),
    File("audience/response.npy", "products", "how fans of each cell buy the good, relative to its average",
         ("float32",), ("free",), optional="audience", finite=True),
    File("audience/views.json", "free", "the views' names and cell labels, in the columns' order",
         optional="audience"),
    File("audience/by_category.npy", "anchors", "a room's audience per category (categories x cells) of the views "
         "that have one, views side by side", ("float32",), ("free",), optional="category_audience", finite=True),
    File("audience/group.npy", "anchors", "a room's group of similar audiences", ("int32",), optional="audience",
         mmap=False),
    File("audience/bound.npy", "products", "the most a good's audience term reaches in each group's rooms",
         ("float32",), ("free",), optional="audience", finite=True),
    # a good's evidence (recommender/evidence.py): (good, Beijing day) cells with sales, CSR over goods
    File("evidence/daily_indptr.npy", "products+1", "each good's days with sales (CSR over goods)", ("int64",),
         optional="evidence"),
    File("evidence/daily_day.npy", "daily_cells", "the day: offset from the manifest's evidence.first_day",
         ("int16",), optional="evidence"),
    File("evidence/daily_orders.npy", "daily_cells", "orders that day (refunds left out)", ("int32",),
         optional="evidence"),
    File("evidence/daily_units.npy", "daily_cells", "units sold that day", ("int32",), optional="evidence"),
    File("evidence/daily_gmv.npy", "daily_cells", "GMV that day, yuan", ("float64",), optional="evidence",
         finite=True),
    # and its biggest rooms by GMV in the window (top evidence.top_sellers), CSR over goods, best first
    File("evidence/sellers_indptr.npy", "products+1", "each good's kept sellers (CSR over goods)", ("int64",),
         optional="evidence"),
    File("evidence/sellers_anchor.npy", "seller_rows", "the room's anchor row", ("int32",), optional="evidence"),
    File("evidence/sellers_orders.npy", "seller_rows", "its orders of the good in the window", ("int32",),
         optional="evidence"),
    File("evidence/sellers_units.npy", "seller_rows", "units", ("int32",), optional="evidence"),
    File("evidence/sellers_gmv.npy", "seller_rows", "GMV, yuan", ("float64",), optional="evidence", finite=True),
    File("evidence/sellers_buyers.npy", "seller_rows", "distinct buyers", ("int32",), optional="evidence"),
    File("evidence/sellers_fan_buyers.npy", "seller_rows", "distinct buyers who follow the room", ("int32",),
         optional="evidence"),
    File("evidence/sellers_total.npy", "products", "rooms that sold the good in the window (kept or not)",
         ("int32",), optional="evidence"),
    # what the market buys now and where each fan shops (recommender/trend.py), blended with the vectors' taste
    File("trend/products.npy", "products", "log1p of the good's recency-decayed orders over the largest (0-1)",
         ("float32",), optional="trend", finite=True),
    File("trend/category.npy", "products", "the good's category: a column of trend/fan_category.npy", ("int32",),
         optional="trend", mmap=False),
    File("trend/fan_category.npy", "fans", "log of the fan's share of purchases per category (smoothed)",
         ("float32",), ("free",), optional="trend", finite=True),
    # each fan's own recency-decayed orders of each good, as CSR over fans (recommender/trend.py: rebuys)
    File("trend/rebuy_indptr.npy", "fans+1", "offsets of each fan's goods in the two arrays below", ("int64",),
         optional="rebuy", mmap=False),
    File("trend/rebuy_products.npy", "rebuy_pairs", "the good's row", ("int32",), optional="rebuy"),
    File("trend/rebuy_orders.npy", "rebuy_pairs", "the fan's orders of it, each decayed by its age", ("float32",),
         optional="rebuy", finite=True),
)

RETIRED_FILES = {5: ("vectors/anchor_sales_weight.npy", "shelf_rate/candidates.npy",
                     "shelf_rate/candidate_orders.npy")}  # held by that format, read by nothing, ignored

_BY_PATTERN = [(re.compile(re.escape(f.path).replace(r"\{label\}", r"(?P<label>[a-z_0-9]+)") + "$"), f)
               for f in LAYOUT]


def spec(rel: str) -> File:
    """The table's entry for a relative path; ArtifactError when the artifact has no such file."""
    for pattern, file in _BY_PATTERN:
        if pattern.match(rel):
            return file
    raise ArtifactError(f"{rel}: not a file of the artifact layout (recommender/artifact/layout.py)")


def _holds(manifest: Mapping[str, Any], key: str) -> bool:
    """Whether the manifest says an optional file is there: its key is set, or for "a/b/c", manifest[a][b]
    lists c."""
    head, *path = key.split("/")
    value = manifest.get(head)
    if not path:
        return bool(value)
    return isinstance(value, Mapping) and path[-1] in value.get(path[0], ())


def files_of(manifest: Mapping[str, Any]) -> dict[str, File]:
    """Every file an artifact with this manifest holds, by relative path (templates expanded)."""
    out = {}
    version = int(manifest.get("format_version", FORMAT_VERSION))
    for file in LAYOUT:
        if not file.since <= version <= file.until or (file.optional and not _holds(manifest, file.optional)):
            continue
        if "{label}" in file.path:
            for label in manifest["profiles"]["labels"]:
                out[file.path.format(label=label)] = file
        else:
            out[file.path] = file
    return out


@dataclass(frozen=True)
class Found:
    """What a file holds, as far as the table can check it."""

    shape: tuple[int, ...]
    dtype: np.dtype | None = None
    columns: tuple[str, ...] | None = None


def found(obj: Any) -> Found:
    """The shape (and dtype or column names) of an opened array, faiss index or table."""
    if isinstance(obj, np.ndarray):
        return Found(obj.shape, obj.dtype)
    if hasattr(obj, "ntotal"):  # a faiss index
        return Found((int(obj.ntotal), int(obj.d)))
    return Found((len(obj),), columns=tuple(str(c) for c in obj.columns))  # a DataFrame: its rows


def _size(symbol: Dim, manifest: Mapping[str, Any], rel: str) -> int | None:
    if isinstance(symbol, int):
        return symbol
    if symbol == "free":
        return None
    if symbol == "d":
        return int(manifest["dimensions"])
    if symbol == "categories":
        return len(manifest["profiles"]["labels"]["category"])
    if symbol == "labels":
        label = Path(rel).stem.removeprefix("audience_")
        return len(manifest["profiles"]["labels"][label])
    base, _, plus = symbol.partition("+")
    return int(manifest["counts"][base]) + int(plus or 0)


def expected_shape(rel: str, file: File, manifest: Mapping[str, Any]) -> tuple[int | None, ...]:
    """The shape the table promises for ``rel``; None where any length is fine."""
    dims = (file.rows, *file.columns) if file.kind in ("npy", "faiss") else (file.rows,)
    return tuple(_size(s, manifest, rel) for s in dims)


def _show(shape: tuple[int | None, ...]) -> str:
    parts = ["any" if s is None else str(s) for s in shape]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def check(path: Path, rel: str, what: Found, manifest: Mapping[str, Any]) -> None:
    """Raise ArtifactError naming the file when what it holds disagrees with the table."""
    file = spec(rel)
    want = expected_shape(rel, file, manifest)
    got = what.shape
    if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got, strict=True)):
        raise ArtifactError(f"{path}: shape {what.shape}, expected {_show(want)}")
    if what.dtype is not None and file.dtype and not any(
            what.dtype.kind == "U" if d == "str" else what.dtype == np.dtype(d) for d in file.dtype):
        raise ArtifactError(f"{path}: dtype {what.dtype}, expected {' or '.join(file.dtype)}")
    if what.columns is not None and file.columns is not None and what.columns != file.columns:
        raise ArtifactError(f"{path}: columns {list(what.columns)}, expected {list(file.columns)}")


def verify(root: Path, manifest: Mapping[str, Any], what: Callable[[str], Found | None]) -> None:
    """Check every file of the table that ``what`` can describe (None: nothing to check, e.g. JSON)."""
    for rel in files_of(manifest):
        description = what(rel)
        if description is not None:
            check(root / rel, rel, description, manifest)


def describe() -> str:
    """The table as text: path, shape, dtype, what it is."""
    lines = []
    for f in LAYOUT:
        dims = (f.rows, *f.columns) if f.kind in ("npy", "faiss") else (f.rows,)
        if f.kind == "parquet" and f.columns is not None:
            dims = (f.rows, f"{len(f.columns)} columns")
        shape = " x ".join(str(d) for d in dims)
        note = f"{f.about}{' (optional: ' + f.optional + ')' if f.optional else ''}"
        lines.append(f"    {f.path:<48} {shape:<18} {'|'.join(f.dtype):<14} {note}")
    return "\n".join(lines)


__doc__ = (__doc__ or "") + describe() + "\n"
