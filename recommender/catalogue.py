"""Product search over the catalogue (the selection center's 商品搜索): keyword, filters, sort and paging as
column operations, built once per loaded model so a request only masks, gathers and slices.

Matching is what the content model does without a tokenizer: Chinese titles are read as characters, so a
keyword matches where it occurs as a substring of the title or the brand. Both sides are folded first
(NFKC, so full-width ＬＯＲＥＡＬ or ２０ml typed through an IME matches, then lower case), the title's spaces
are dropped (the catalogue writes 「保湿 面霜」, a person types 「保湿面霜」), and a query of several words
must match every one of them. A word's candidates come from a character n-gram index (the goods holding each
of its characters' pairs), checked with Arrow's ``match_substring`` on those goods only: a request never scans
every title (which cost 20-50 ms at 100k goods).

Every ordering is total: ties are broken by product id (ascending, whatever the order of the key), so the
pages of one query are slices of one list (two pages of 10 are one page of 20). Each (sort, order)
permutation of all goods is computed once (on first use) and a request keeps the matches in it with one
gather, no sort. Without a sort a keyword query ranks by relevance: goods whose title starts with the keyword
or whose brand is the keyword first, then the rest, each by 7-day sales.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recommender.columns import Columns, TextColumn, days_before
from recommender.contract import INVALID_GATES, gate_bit

#: sort keys and their default order: dearest last for price (people browse from the cheap end), the most first
#: for everything else. "relevance" is the keyword ranking (without a keyword: 7-day sales).
SORTS: dict[str, str] = {"relevance": "desc", "sales_7d": "desc", "gmv_7d": "desc", "commission_rate": "desc",
                         "commission_per_unit": "desc", "commission_per_order": "desc", "price": "asc",
                         "growth_7d": "desc"}

#: pseudo-orders added to both weeks of growth_7d: a good going from 0 to 1 order reads +33%, not +infinity, and
#: one going from 0 to 30 reads +1,000%; at 100 orders a week the smoothing moves the ratio by about 3%
GROWTH_PRIOR_ORDERS = 3.0
#: days of the 30-day window before the last week: the baseline of growth_7d
BASELINE_DAYS = 23.0


def commission_per_unit(price: np.ndarray | float, rate: np.ndarray | float) -> np.ndarray:
    """Yuan of commission per unit sold, to the cent, half up as a shop rounds (47.9 x 25% is ¥11.98): the card
    shows it and the search sorts by it, so both take this one rounding (numpy's and Python's round differed on
    such halves, and a card showing 11.97 sorted above one showing 11.98)."""
    exact = np.asarray(price, np.float64) * np.asarray(rate, np.float64) * 100
    return np.floor(exact + 0.5 + 1e-6) / 100  # the binary value of 1197.5 may sit just below it


def fold(values: pa.Array) -> pa.Array:
    """Text as search compares it: NFKC (full-width letters and digits become ASCII), then lower case."""
    return pc.utf8_lower(pc.utf8_normalize(values, "NFKC"))


def fold_text(text: str) -> str:
    """One string folded exactly as the catalogue's columns are (the same Arrow kernels)."""
    return fold(pa.array([text], pa.large_string()))[0].as_py()


def growth_7d(orders_7d: np.ndarray, orders_30d: np.ndarray, age_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The last week's orders against the weekly rate of the 23 days before it, smoothed:

        baseline = (orders_30d - orders_7d) x 7 / days on sale in those 23 days (at least 1)
        growth_7d = (orders_7d + 3) / (baseline + 3) - 1

    A rate over 23 days is steadier than one other week, and dividing by the days the good was on sale keeps a
    good listed 10 days ago from reading as growing because it had only 3 days before the week. Returns the
    baseline (orders a week) and the growth, both rounded as the API shows them (4 decimals; sorted as shown).
    """
    days_before = np.clip(np.asarray(age_days, float) - 7.0, 0.0, BASELINE_DAYS)
    before = np.maximum(np.asarray(orders_30d, float) - np.asarray(orders_7d, float), 0.0)
    baseline = before * 7.0 / np.maximum(days_before, 1.0)
    growth = (np.asarray(orders_7d, float) + GROWTH_PRIOR_ORDERS) / (baseline + GROWTH_PRIOR_ORDERS) - 1.0
    return np.round(baseline, 2), np.round(growth, 4)


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), np.uint32)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values: np.sort and a mask (np.unique took 100 times as long on 3M uint64 here)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


class NgramIndex:
    """Which texts hold each character and each pair of adjacent characters (the content model's character
    n-grams, as postings): a word's candidates are the texts holding all its pairs, so a scan touches the goods
    that may match instead of every title. Built with numpy from the texts' code points: each n-gram and its
    text as one integer, sorted once (100k goods: ~3M entries, 0.3 s).

    A word of one or two characters is answered exactly by its postings; a longer one is checked on the
    candidates (its pairs may occur apart)."""

    def __init__(self, texts: list[str]) -> None:
        n = max(len(texts), 1)
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        self.start = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        self.length = lengths
        self.points = _code_points("".join(texts))
        self.alphabet = _distinct(self.points)  # a character's number is its place here
        code = np.searchsorted(self.alphabet, self.points).astype(np.uint64)
        rows = np.repeat(np.arange(len(texts), dtype=np.uint64), lengths)
        same = rows[1:] == rows[:-1]
        width = np.uint64(len(self.alphabet))
        pairs = (width + code[:-1] * width + code[1:])[same]  # a pair's number comes after every character's
        entries = _distinct(np.concatenate((code, pairs)) * np.uint64(n) + np.concatenate((rows, rows[1:][same])))
        grams = entries // np.uint64(n)
        self.postings = (entries % np.uint64(n)).astype(np.int32)
        first = np.flatnonzero(np.concatenate(([True], grams[1:] != grams[:-1])))
        self.keys = grams[first]
        self.indptr = np.append(first, len(grams)).astype(np.int64)

    def _rows(self, key: int) -> np.ndarray:
        i = int(np.searchsorted(self.keys, np.uint64(key)))
        if i == len(self.keys) or self.keys[i] != key:
            return self.postings[:0]
        return self.postings[self.indptr[i]:self.indptr[i + 1]]

    def candidates(self, word: str) -> tuple[np.ndarray, bool]:
        """Sorted rows of the texts holding every n-gram of `word`, and whether that already means they hold it."""
        p = _code_points(word)
        at = np.minimum(np.searchsorted(self.alphabet, p), max(len(self.alphabet) - 1, 0))
        if not len(self.alphabet) or (self.alphabet[at] != p).any():  # a character no text has
            return self.postings[:0], True
        width = len(self.alphabet)
        code = at.tolist()
        keys = code if len(code) == 1 else sorted({width + a * width + b for a, b in itertools.pairwise(code)})
        lists = sorted((self._rows(k) for k in keys), key=len)
        rows = lists[0]
        for other in lists[1:]:
            if not len(rows):
                break
            found = np.minimum(np.searchsorted(other, rows), len(other) - 1)
            rows = rows[other[found] == rows]
        return rows, len(p) <= 2

    def starts_with(self, rows: np.ndarray, word: str) -> np.ndarray:
        """For each of `rows`, whether its text starts with `word` (compared as code points)."""
        p = _code_points(word)
        ok = self.length[rows] >= len(p)
        last = len(self.points) - 1
        for j, point in enumerate(p.tolist()):
            ok &= self.points[np.minimum(self.start[rows] + j, last)] == point
        return ok


@dataclass(frozen=True)
class ProductQuery:
    """What a search asks for; None is "no such filter". Money is yuan, rates are 0-1."""

    q: str | None = None
    category: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    commission_min: float | None = None
    min_sales_7d: int | None = None
    max_refund_rate: float | None = None
    brand: str | None = None
    merchant: str | None = None
    sort: str | None = None  # SORTS; None: relevance with a keyword, else sales_7d
    order: str | None = None  # "asc" | "desc"; None: the sort's default
    #: (goods,) a mask the goods must be in (e.g. the quality gates', or its negation); None: every good
    within: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SearchPage:
    rows: np.ndarray  # model rows of this page, in order
    total: int  # goods matching the query
    sort: str
    order: str
    next_offset: int | None


def _codes(values: pa.Array) -> tuple[np.ndarray, dict[str, int]]:
    """Dictionary codes of a text column without nulls (-1 where empty) and the code of each distinct value."""
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    names = encoded.dictionary.to_pylist()
    if "" in names:
        codes[codes == names.index("")] = -1
    return codes, {name: i for i, name in enumerate(names) if name}


def _text(table: Columns, name: str) -> pa.Array:
    """A text column as an Arrow array over the column's memory ("" where missing or absent)."""
    if name not in table:
        return pa.array([""] * table.rows, pa.large_string())
    return table[name].arrow()


def _id_text(ids: np.ndarray | TextColumn) -> pa.Array:
    """Ids as text: integers in decimal, as a request writes them."""
    if isinstance(ids, TextColumn):
        return ids.arrow()
    return pc.cast(pa.array(np.asarray(ids)), pa.large_string())


class Catalogue:
    """The columns a search reads, by model row.

    products: the catalogue's columns (title, category, merchant_id, price, commission_rate, created_at; brand,
    refund_rate and merchant_name where present); stats: the goods' sales statistics (profiles.product_stats:
    sales_7d, gmv_7d, orders_7d, orders_30d), both in model-row order (Columns, or DataFrames for offline use);
    ids: the product ids, for the tie-break. Text is read through Arrow over the mapped columns.
    """

    def __init__(self, ids: np.ndarray, products: Columns | pd.DataFrame, stats: Columns | pd.DataFrame,
                 snapshot_time: pd.Timestamp) -> None:
        products = products if isinstance(products, Columns) else Columns.from_frame(products)
        stats = stats if isinstance(stats, Columns) else Columns.from_frame(stats)
        n = products.rows
        title = pc.replace_substring_regex(fold(_text(products, "title")), r"\s+", "")
        brand = fold(_text(products, "brand"))
        # one haystack per good: the title (so a title prefix is a haystack prefix), then its brand; a keyword is
        # split on spaces, so none holds the "\n" between them and none matches across the two
        self.haystack = pc.binary_join_element_wise(title, brand, pa.scalar("\n", pa.large_string()))
        self.ngrams = NgramIndex(self.haystack.to_pylist())
        self.brand, self.brands = _codes(brand)
        self.merchant, self.merchants = _codes(fold(_id_text(products["merchant_id"])))
        self.merchant_name, self.merchant_names = _codes(fold(_text(products, "merchant_name")))
        self.category, self.categories = products["category"].factorize()
        self._folded_categories = [fold_text(str(name)) for name in self.categories]
        self.price = products.numbers("price", np.nan)
        self.commission = products.numbers("commission_rate", np.nan)
        self.commission_per_unit = commission_per_unit(self.price, self.commission)
        # a refund rate the export held invalid (blanked, its gate failed) passes no max_refund_rate either
        invalid = products.numbers(INVALID_GATES, 0).astype(np.int64) & gate_bit("products", "refund_rate")
        self.refund = np.where(invalid != 0, np.inf, products.numbers("refund_rate", 0.0))
        self.sales_7d = np.asarray(stats["sales_7d"], np.int64)
        self.gmv_7d = stats.numbers("gmv_7d", 0.0)
        self.orders_7d = np.asarray(stats["orders_7d"], np.int64)
        age = days_before(snapshot_time, products["created_at"])
        self.baseline_7d, self.growth_7d = growth_7d(self.orders_7d, np.asarray(stats["orders_30d"]), age)
        self.keys = {"sales_7d": self.sales_7d, "gmv_7d": self.gmv_7d, "commission_rate": self.commission,
                     "commission_per_unit": self.commission_per_unit,
                     "commission_per_order": self.commission_per_unit,  # its first name, kept for old clients
                     "price": self.price,
                     "growth_7d": self.growth_7d}
        order = np.argsort(np.asarray(ids), kind="stable")
        self.id_rank = np.empty(n, np.int64)
        self.id_rank[order] = np.arange(n)
        self._by_id, self._sorted_ids = order, np.asarray(ids)[order]
        self._orders: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model) -> Catalogue:  # a recommender.artifact.Model (not imported: it loads faiss)
        return cls(np.asarray(model.product_ids.ids), model.columns.products, model.columns.product_stats,
                   model.snapshot_time)

    def __len__(self) -> int:
        return len(self.price)

    def ordering(self, sort: str, order: str) -> np.ndarray:
        """Every good by one key, ties by product id ascending: the one list all pages of a sort are cut from."""
        key = ("sales_7d" if sort == "relevance" else sort, order)  # relevance reorders sales' list
        perm = self._orders.get(key)
        if perm is None:
            with self._lock:
                perm = self._orders.get(key)
                if perm is None:
                    values = self.keys[key[0]]
                    perm = np.lexsort((self.id_rank, values if order == "asc" else -values)).astype(np.int32)
                    self._orders[key] = perm
        return perm

    def matches(self, q: str) -> tuple[np.ndarray, np.ndarray]:
        """Goods matching every word of `q` (title, brand or category name, folded: 美妆 finds the 美妆 goods, 食品 the
        食品/农产品 ones), and of those the ones whose title starts with the first word or whose brand is the whole
        query (the relevance ranking's first class)."""
        words = fold_text(q).split()
        rows = None
        for word in words:
            found, exact = self.ngrams.candidates(word)
            if not exact and len(found):  # the word's pairs are all there; are they adjacent, in order?
                found = found[pc.match_substring(self.haystack.take(pa.array(found)), word)
                              .to_numpy(zero_copy_only=False)]
            named = [c for c, name in enumerate(self._folded_categories) if word in name]
            if named:
                found = np.union1d(found, np.flatnonzero(np.isin(self.category, named)))
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
        keep = np.ones(len(self), bool)
        first = keep.copy()
        if rows is not None:
            keep[:] = False
            keep[rows] = True
            first[:] = False
            first[rows] = self.ngrams.starts_with(rows, words[0])
            first |= keep & (self.brand == self.brands.get(" ".join(words), -2))
        row = self.row_of(q.strip())
        if row >= 0:  # a good's id finds the good (a team pastes ids from a merchant's sheet); `search` puts it first
            keep[row] = first[row] = True
        return keep, first

    def row_of(self, text: str) -> int:
        """The row of the good whose id is `text` exactly, -1 for none."""
        ids = self._sorted_ids
        if ids.dtype.kind in "iu":  # the id as written: digits, no sign or leading zero, within the id type
            if not (text.isascii() and text.isdigit()) or (text[0] == "0" and text != "0") or \
                    int(text) > np.iinfo(ids.dtype).max:
                return -1
            key = int(text)
        else:
            key = text
        pos = int(np.searchsorted(ids, key))
        return int(self._by_id[pos]) if pos < len(ids) and ids[pos] == key else -1

    def mask(self, query: ProductQuery) -> tuple[np.ndarray, np.ndarray | None]:
        """Goods passing every filter (and the keyword), and the relevance class of each (None without one)."""
        keep = np.ones(len(self), bool)
        first = None
        if query.q is not None and query.q.strip():
            keep, first = self.matches(query.q)
        if query.category is not None:
            code = self.categories.index(query.category) if query.category in self.categories else -2
            keep &= self.category == code
        if query.price_min is not None:
            keep &= self.price >= query.price_min
        if query.price_max is not None:
            keep &= self.price <= query.price_max
        if query.commission_min is not None:
            keep &= self.commission >= query.commission_min
        if query.min_sales_7d is not None:
            keep &= self.sales_7d >= query.min_sales_7d
        if query.max_refund_rate is not None:  # a missing refund rate passes, as it does the quality gate; an
            # invalid one (inf here) passes neither
            keep &= self.refund <= query.max_refund_rate
        if query.within is not None:
            keep &= np.asarray(query.within, bool)
        if query.brand is not None:
            keep &= self.brand == self.brands.get(fold_text(query.brand.strip()), -2)
        if query.merchant is not None:
            name = fold_text(query.merchant.strip())
            keep &= (self.merchant == self.merchants.get(name, -2)) | \
                (self.merchant_name == self.merchant_names.get(name, -2))
        return keep, first

    def search(self, query: ProductQuery, k: int = 20, offset: int = 0) -> SearchPage:
        """One page of the goods matching `query`, in its order, with the number of matches."""
        keyword = query.q is not None and bool(query.q.strip())
        sort = query.sort or ("relevance" if keyword else "sales_7d")
        order = query.order or SORTS[sort]
        keep, first = self.mask(query)
        perm = self.ordering(sort, order)
        hits = perm[keep[perm]]
        if sort == "relevance" and first is not None:
            # the good whose id is the query is a class of its own, above all (-1: none, which no row is); ascending
            # is the exact reverse of the classes, and of sales within them
            named = hits == self.row_of(query.q.strip())
            rest = hits[~named]
            top = first[rest]
            classes = (hits[named], rest[top], rest[~top])
            hits = np.concatenate(classes if order == "desc" else classes[::-1])
        total = len(hits)
        end = offset + k
        return SearchPage(hits[offset:end], total, sort, order, end if end < total else None)
