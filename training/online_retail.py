"""Turn the UCI "Online Retail" invoice log into a marketplace snapshot, so offline evaluation runs on real purchases.

Every other snapshot the project sees is synthetic (``fixtures/marketplace.py``) and so rewards whatever the
generator assumed. This module converts a real purchase log, the UCI Machine Learning Repository dataset
"Online Retail" (Daqing Chen, Sai Liang Sain, Kun Guo (2012), *Data mining for the online retail industry: A
case study of RFM model-based customer segmentation using data mining*, Journal of Database Marketing and
Customer Strategy Management 19(3):197-208, doi:10.1057/dbm.2012.17; listed by UCI under CC BY 4.0), into the
tables of ``recommender/contract.py``. The copy lives outside the project, in ``../shared/data/online_retail``
(its PROVENANCE.md says where it came from); it is read from there and never copied in.

Cleaning, in this order, each step counted as its own reason in :class:`CleaningReport` (``dropped``):

1. ``missing_customer``: no CustomerID (anonymous sale).
2. ``cancellation_or_adjustment``: InvoiceNo starting with ``C`` (cancellation) or ``A`` (bad-debt adjustment).
   A cancellation is not a sale, but it says one was undone: the latest earlier kept line of the same customer,
   good and quantity is marked ``refunded`` (``CleaningReport.cancellations_matched``; a partial cancellation or
   one whose sale is before the data has no such line and marks nothing).
3. ``non_positive_quantity``: Quantity <= 0 (or missing / fractional).
4. ``non_positive_price``: UnitPrice <= 0 (or missing).
5. ``non_product_code``: StockCode not starting with five digits (POST, DOT, M, C2, D, BANK CHARGES, ...).
6. ``exact_duplicate``: a line identical in all eight columns to an earlier one (entered twice); first kept.

On the full file this keeps 391,150 of 541,909 lines: 4,334 customers x 3,659 products.

Mapping. The shop has no live rooms, so every customer (many are resellers choosing goods to stock) plays both
roles: a fan, and an anchor with the same integer id whose "room" is its own buying, which the fan follows.

* fans: ``fan_id`` = CustomerID as int64 (``"17850.0"`` -> 17850), ``created_at`` = first invoice time,
  ``region`` = the customer's most frequent Country.
* anchors: ``anchor_id`` = the same int64, ``name`` = ``"customer <id>"``, ``created_at`` = first invoice time.
* follows: each customer follows its own anchor at its first invoice time.
* products: ``product_id`` = StockCode (text, upper-cased), ``title`` = its most frequent Description,
  ``category`` = a coarse category from the title (:func:`title_category`; the 40 most common, else
  ``OTHER``), ``merchant_id`` = ``online_retail`` (one seller), ``price`` = median UnitPrice in yuan,
  ``commission_rate`` = 0, ``created_at`` = first sale.
* orders: one per kept line, ``order_id`` = ``"<InvoiceNo>-<line number in the file>"`` (the header is line 1),
  bought by the customer through its own anchor; ``amount`` = Quantity x UnitPrice in yuan, rounded to the fen;
  ``ordered_at`` = InvoiceDate (UK local time, no zone, so taken as UTC); ``refunded``: cancelled (above).
* no shelf table.

Money. UnitPrice is in pounds; every amount the project shows is in yuan (¥), so prices and amounts are converted
at ``YUAN_PER_POUND`` = 10.36, the 2011 average rate (GBP/USD about 1.60 times USD/CNY about 6.46; the data's
year; not checked against an official table here), recorded in the cleaning report.

``prepared`` converts once per source file and adapter version into a cache directory (``XUANPIN_CACHE_DIR``,
else ``$XDG_CACHE_HOME/xuanpin`` or ``~/.cache/xuanpin``) and reuses it, so runs neither repeat the conversion
nor leave copies behind; ``XUANPIN_ONLINE_RETAIL`` names the source file where it is not beside the project.

Everything is vectorised pandas; converting the full file takes a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.errors import ContractError

#: The shared copy of the dataset, next to the project: ../shared/data/online_retail/online_retail.csv.gz.
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail" / "online_retail.csv.gz"

#: Pounds to yuan at the data's year's average rate (see the module docstring).
YUAN_PER_POUND = 10.36
#: Bump when the conversion's output changes: cached snapshots of an older version are not reused.
ADAPTER_VERSION = 3

COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")
#: How many title-derived categories are kept; the rest become OTHER.
TOP_CATEGORIES = 40
OTHER = "OTHER"
MERCHANT_ID = "online_retail"
_CATEGORY_WORD = r"[^\W\d_]{3,}"  # a run of at least three letters: skips digits, "OF", "T" of "T-LIGHT", ...


@dataclass
class CleaningReport:
    """What the conversion read, dropped (reason -> rows, in the order the rules apply) and kept."""

    rows_read: int
    dropped: dict[str, int] = field(default_factory=dict)
    rows_kept: int = 0
    customers: int = 0
    products: int = 0
    cancellations: int = 0  # cancellation lines of a known customer and a product code
    cancellations_matched: int = 0  # ... that marked a kept sale refunded
    yuan_per_pound: float = YUAN_PER_POUND

    def to_dict(self) -> dict:
        return asdict(self)


def title_category(titles: pd.Series) -> pd.Series:
    """The last word of each title, upper-cased, skipping numbers and words shorter than three letters.

    ``"WHITE HANGING HEART T-LIGHT HOLDER"`` -> ``HOLDER``; ``"SET OF 3"`` -> ``SET``. A title with no such word
    gets ``OTHER``.
    """
    words = titles.astype(str).str.upper().str.findall(_CATEGORY_WORD)
    return words.str[-1].fillna(OTHER).astype(str)


def coarse_categories(titles: pd.Series, keep: int = TOP_CATEGORIES) -> pd.Series:
    """:func:`title_category`, keeping the ``keep`` categories with most titles (ties by name); others -> OTHER."""
    words = title_category(titles)
    counts = words.value_counts().rename_axis("word").reset_index(name="n")
    counts = counts.sort_values(["n", "word"], ascending=[False, True], kind="stable")
    top = counts["word"].head(keep)
    return words.where(words.isin(top), OTHER)


def _most_frequent(df: pd.DataFrame, key: str, value: str) -> pd.Series:
    """Per ``key``, the most frequent non-missing ``value`` (ties: the alphabetically first)."""
    counts = df.groupby([key, value], observed=True, sort=False).size().reset_index(name="n")
    counts = counts.sort_values([key, "n", value], ascending=[True, False, True], kind="stable")
    return counts.drop_duplicates(key).set_index(key)[value]


def _read(source: Path) -> pd.DataFrame:
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(
            f"Online Retail source {source} does not exist: the data folder ../shared/data/online_retail "
            "(next to the project) is absent or incomplete"
        )
    # Everything as text: ids like C536379 / 85123A / "17850.0" stay exact; only an empty cell is missing.
    try:
        raw = pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
    except (EOFError, OSError, zlib.error, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        # a truncated .gz ended in "Aborted!" (an EOFError click took for Ctrl-C), another encoding in a traceback
        what = ("not UTF-8 (the published file is; re-download it)" if isinstance(exc, UnicodeDecodeError) else
                "cut off or damaged (re-download it)" if isinstance(exc, EOFError | OSError | zlib.error) else
                "not a CSV this reader can parse")
        raise ContractError([f"{source}: cannot read the Online Retail export: {what}: "
                             f"{type(exc).__name__}: {exc}"]) from exc
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ContractError([f"{source}: not an Online Retail export, missing column(s) {missing}"])
    return raw[list(COLUMNS)].reset_index(drop=True)


def _clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame]:
    """Apply the six rules in order; return the kept lines (typed), the rows each rule dropped, and the
    cancellations of known customers' goods (customer, product, quantity cancelled, at)."""
    keep = np.ones(len(raw), bool)
    dropped: dict[str, int] = {}

    def rule(reason: str, bad: pd.Series | np.ndarray) -> None:
        bad = np.asarray(bad, dtype=bool)
        dropped[reason] = int((bad & keep).sum())
        keep[bad] = False

    customer = pd.to_numeric(raw["CustomerID"].str.strip(), errors="coerce")
    known_customer = customer.notna() & (customer == customer.round())
    rule("missing_customer", ~known_customer)
    invoice = raw["InvoiceNo"].str.strip()
    kind = invoice.str.upper().str[:1]  # C cancellation, A adjustment, else a sale
    rule("cancellation_or_adjustment", kind.isin(["C", "A"]).fillna(False))
    quantity = pd.to_numeric(raw["Quantity"], errors="coerce")
    whole = quantity == quantity.round()
    rule("non_positive_quantity", ~((quantity > 0) & whole))
    price = pd.to_numeric(raw["UnitPrice"], errors="coerce")
    rule("non_positive_price", ~(price > 0))
    code = raw["StockCode"].str.strip().str.upper()
    product_code = code.str.match(r"\d{5}").fillna(False).astype(bool)
    rule("non_product_code", ~product_code)
    duplicate = np.zeros(len(raw), bool)
    duplicate[np.flatnonzero(keep)] = raw[keep].duplicated(keep="first").to_numpy()
    rule("exact_duplicate", duplicate)
    # what the rules set aside that undoes a kept line: a known customer's C invoice of a whole number of a good
    cancel = (known_customer & (kind == "C").fillna(False) & (quantity < 0) & whole
              & product_code).to_numpy()
    cancels = pd.DataFrame({
        "customer": customer[cancel].astype(np.int64).to_numpy(), "product": code[cancel].to_numpy(),
        "quantity": (-quantity[cancel]).astype(np.int64).to_numpy(),
        "at": pd.to_datetime(raw["InvoiceDate"][cancel].str.strip(), format="ISO8601").to_numpy()})

    idx = np.flatnonzero(keep)
    description = raw["Description"].iloc[idx].str.strip()
    lines = pd.DataFrame(
        {
            "line": idx + 2,  # line number in the file: the header is line 1
            "invoice": invoice.iloc[idx],
            "customer": customer.iloc[idx].astype(np.int64),
            "product": code.iloc[idx],
            "description": description.where(description != ""),
            "quantity": quantity.iloc[idx].astype(np.int64),
            "price": price.iloc[idx].astype(float),
            "at": pd.to_datetime(raw["InvoiceDate"].iloc[idx].str.strip(), format="ISO8601"),
            "country": raw["Country"].iloc[idx].str.strip(),
        }
    ).reset_index(drop=True)
    return lines, dropped, cancels


def _cancelled(lines: pd.DataFrame, cancels: pd.DataFrame) -> np.ndarray:
    """(lines,) whether a cancellation undid the line: each cancellation marks the latest line at or before it of
    the same customer, good and quantity not marked by an earlier cancellation (an exact match)."""
    out = np.zeros(len(lines), bool)
    if not len(cancels) or not len(lines):
        return out
    sales = lines[["customer", "product", "quantity", "at"]].assign(row=np.arange(len(lines)))
    sales = sales.sort_values("at", kind="stable")
    pending = cancels.sort_values("at", kind="stable")
    while len(pending):  # a sale undone twice over is one sale: the later cancellation takes the sale before it
        matched = pd.merge_asof(pending, sales[~out[sales["row"].to_numpy()]], on="at",
                                by=["customer", "product", "quantity"], direction="backward")
        row = matched["row"]
        again = (row.notna() & row.duplicated(keep="first")).to_numpy()
        out[row[row.notna().to_numpy() & ~again].astype(np.int64).to_numpy()] = True
        pending = pending[again]
    return out


def _tables(lines: pd.DataFrame, refunded: np.ndarray, yuan_per_pound: float) -> dict[str, pd.DataFrame]:
    """The contract tables built from the cleaned lines, money in yuan."""
    by_customer = lines.groupby("customer", sort=True)
    first_seen = by_customer["at"].min()
    customers = first_seen.index.to_numpy(dtype=np.int64)
    since = first_seen.to_numpy()
    region = _most_frequent(lines, "customer", "country").reindex(first_seen.index)

    fans = pd.DataFrame({"fan_id": customers, "created_at": since, "region": region.to_numpy()})
    anchors = pd.DataFrame(
        {"anchor_id": customers, "name": "customer " + first_seen.index.astype(str), "created_at": since}
    )
    follows = pd.DataFrame({"fan_id": customers, "anchor_id": customers, "followed_at": since})

    by_product = lines.groupby("product", sort=True)
    product_ids = by_product.size().index
    title = _most_frequent(lines, "product", "description").reindex(product_ids)
    title = title.fillna(pd.Series(product_ids, index=product_ids))  # a code never described: its own code
    products = pd.DataFrame(
        {
            "product_id": product_ids.astype(str),
            "title": title.to_numpy(),
            "category": coarse_categories(title).to_numpy(),
            "merchant_id": MERCHANT_ID,
            "price": (by_product["price"].median() * yuan_per_pound).round(2).to_numpy(),
            "commission_rate": 0.0,
            "created_at": by_product["at"].min().to_numpy(),
        }
    )

    orders = pd.DataFrame(
        {
            "order_id": lines["invoice"] + "-" + lines["line"].astype(str),
            "fan_id": lines["customer"],
            "anchor_id": lines["customer"],
            "product_id": lines["product"],
            "quantity": lines["quantity"],
            "amount": (lines["quantity"] * lines["price"] * yuan_per_pound).round(2),
            "ordered_at": lines["at"],
            "refunded": refunded,
        }
    )
    return {"anchors": anchors, "fans": fans, "products": products, "follows": follows, "orders": orders}


def convert_online_retail(out: Path, source: Path = DEFAULT_SOURCE, fmt: str = "parquet",
                          yuan_per_pound: float = YUAN_PER_POUND) -> CleaningReport:
    """Clean the Online Retail log at ``source`` and write it as a snapshot into ``out``.

    Writes ``anchors``, ``fans``, ``products``, ``follows`` and ``orders`` (``.parquet``, or ``.csv`` when
    ``fmt == "csv"``) plus ``cleaning_report.json``; returns the report. Raises ``FileNotFoundError`` when the
    source is absent.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown format {fmt!r}; use parquet or csv")
    raw = _read(Path(source))
    lines, dropped, cancels = _clean(raw)
    refunded = _cancelled(lines, cancels)
    tables = _tables(lines, refunded, yuan_per_pound)
    report = CleaningReport(
        rows_read=len(raw),
        dropped=dropped,
        rows_kept=len(lines),
        customers=len(tables["fans"]),
        products=len(tables["products"]),
        cancellations=len(cancels),
        cancellations_matched=int(refunded.sum()),
        yuan_per_pound=yuan_per_pound,
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "parquet":
            df.to_parquet(out / f"{name}.parquet", index=False)
        else:
            df.to_csv(out / f"{name}.csv", index=False)
    (out / "cleaning_report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    return report


def source_path() -> Path:
    """The Online Retail file: ``XUANPIN_ONLINE_RETAIL`` if set (the file, or the folder holding it), else the
    shared copy beside the project."""
    named = os.environ.get("XUANPIN_ONLINE_RETAIL")
    if not named:
        return DEFAULT_SOURCE
    path = Path(named).expanduser()
    return path / DEFAULT_SOURCE.name if path.is_dir() else path


def cache_dir() -> Path:
    """Where converted snapshots are kept: ``XUANPIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/xuanpin`` or
    ``~/.cache/xuanpin``."""
    if os.environ.get("XUANPIN_CACHE_DIR"):
        return Path(os.environ["XUANPIN_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "xuanpin"


def prepared(source: Path | None = None, cache: Path | None = None) -> tuple[Path, CleaningReport, bool]:
    """The snapshot of `source` (default :func:`source_path`) in the cache, converted on first use: (directory,
    cleaning report, whether it was converted now). One directory per source file and adapter version, written
    beside its final name and renamed into place, so a run that stops midway or runs alongside another leaves
    no half-written snapshot."""
    source = Path(source) if source is not None else source_path()
    if not source.exists():
        raise FileNotFoundError(f"Online Retail source {source} does not exist: put the data folder "
                                "../shared/data/online_retail beside the project, or set XUANPIN_ONLINE_RETAIL")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = Path(cache) if cache is not None else cache_dir()
    final = cache / f"online-retail-{digest}-v{ADAPTER_VERSION}"
    report_file = final / "cleaning_report.json"
    if report_file.exists():
        return final, CleaningReport(**json.loads(report_file.read_text())), False
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        report = convert_online_retail(tmp, source)
        try:
            tmp.rename(final)
        except OSError:  # another run put it in place first: the same bytes, keep theirs
            if not report_file.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final, report, True
