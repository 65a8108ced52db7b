"""A loaded model artifact: its arrays memory-mapped, checked against the layout table, and the API to score."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import ValidationError

from recommender.arrays import ranges
from recommender.artifact.checksums import BLOCK_BYTES, FULL_BYTES, SAMPLE_BLOCKS
from recommender.artifact.checksums import verify as verify_checksum
from recommender.artifact.files import describe_file, open_file
from recommender.artifact.layout import RETIRED_FILES, File, Found, files_of, found, verify
from recommender.artifact.manifest import read_manifest
from recommender.audience_fit import AudienceRates
from recommender.columns import Columns, TextColumn
from recommender.errors import ArtifactError
from recommender.evidence import Evidence, load_evidence
from recommender.index import NormOrderedIndex
from recommender.profiles import AudienceProfile
from recommender.shelf_rate import ShelfRates
from recommender.trend import TrendConfig, blend
from recommender.vocabulary import Vocabulary


class Model:
    """A loaded artifact. Arrays are memory-mapped; every array is indexed by the vocabularies' row numbers."""

    def __init__(self, path: str | Path, mmap: bool = True) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        layout = files_of(self.manifest)
        self._check_files(layout)
        f = {rel: open_file(self.path / rel, file, mmap) for rel, file in layout.items()
             if file.loaded and file.kind != "json"}

        def held(rel: str) -> Found | None:  # a component's files are not kept: read just their headers
            return found(f[rel]) if rel in f else describe_file(self.path / rel, layout[rel])

        verify(self.path, self.manifest, held)
        self._check_finite(layout, f)
        self.anchor_ids = Vocabulary(f["ids/anchors.npy"], "anchors")
        self.fan_ids = Vocabulary(f["ids/fans.npy"], "fans")
        self.product_ids = Vocabulary(f["ids/products.npy"], "products")
        self.vectors = _by_name(f, "vectors/")
        # the catalogue and its statistics by model row: memory-mapped columns (format 9), or read from the
        # Parquet tables of earlier formats into memory
        self.columns = Catalog.of(f, self.manifest)
        labels = self.manifest["profiles"]["labels"]
        self.audience = AudienceProfile(
            fans=f["profiles/audience_fans.npy"],
            buyers_30d=f["profiles/audience_buyers_30d.npy"],
            shares={dim: f[f"profiles/audience_{dim}.npy"] for dim in labels},
            labels=labels,
        )
        self.anchor_category_gmv = f["profiles/anchor_category_gmv_30d.npy"]
        # the anchor boards: (anchors, windows 1/7/30, categories) GMV and orders; None before format 8
        self.anchor_window_gmv: np.ndarray | None = f.get("boards/anchor_gmv.npy")
        self.anchor_window_orders: np.ndarray | None = f.get("boards/anchor_orders.npy")
        self.audience_order_value: np.ndarray | None = f.get("profiles/followers_order_value_30d.npy")
        self.shelf_indptr = f["shelf/indptr.npy"]
        self.shelf_products = f["shelf/products.npy"]
        self.product_scan = NormOrderedIndex(f["index/products_order.npy"], f["index/products_by_norm.npy"],
                                             f["index/products_norms.npy"])
        self.anchor_candidates = f["candidates/anchor_products.npy"]  # (anchors, n) best first
        self.anchor_candidate_scores = f["candidates/anchor_scores.npy"]
        self.follow_indptr = f["follows/indptr.npy"]
        self.follow_anchors = f["follows/anchors.npy"]
        self.recent_orders = _by_name(f, "recent_orders/")
        # expected orders if shelved; None for snapshots without a shelf table
        self.shelf_rate: ShelfRates | None = None
        if "shelf_rate/quality.npy" in f:
            categories = open_file(self.path / "shelf_rate/categories.json", layout["shelf_rate/categories.json"])
            self.shelf_rate = ShelfRates(f["shelf_rate/quality.npy"], f["shelf_rate/room.npy"],
                                         f["shelf_rate/category.npy"], categories,
                                         f.get("shelf_rate/quality_shape.npy"))
        # the room x good term on top of it; None for artifacts before format 7 or trained without it
        self.personal: AudienceRates | None = None
        if self.shelf_rate is not None and "audience/band.npy" in f:
            views = open_file(self.path / "audience/views.json", layout["audience/views.json"])
            try:
                self.personal = AudienceRates.from_arrays(self.shelf_rate, f["audience/band.npy"],
                                                          f["audience/band_factor.npy"], f["audience/audience.npy"],
                                                          f["audience/response.npy"], views,
                                                          f["audience/group.npy"], f["audience/bound.npy"],
                                                          f.get("audience/by_category.npy"))
            except (ValueError, KeyError, TypeError) as exc:
                raise ArtifactError(f"{self.path / 'audience'}: {exc}") from exc
        # a good's daily trend and biggest sellers; None for artifacts before format 8
        self.evidence: Evidence | None = load_evidence(f, self.manifest)
        # the market's trend and the fans' categories; None for artifacts before it (fans scored by taste alone)
        self.trend: TrendConfig | None = None
        if self.manifest.get("trend"):
            try:
                self.trend = TrendConfig.model_validate(self.manifest["trend"])
            except ValidationError as exc:
                raise ArtifactError(f"{self.path / 'manifest.json'}: trend: {exc.errors()[0]['msg']}") from exc
            self.product_trend, self.product_category = f["trend/products.npy"], f["trend/category.npy"]
            self.fan_category = f["trend/fan_category.npy"]
        # each fan's own decayed orders of each good (CSR over fans); None where the artifact keeps none
        self.rebuys: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if self.manifest.get("rebuy"):
            self.rebuys = (f["trend/rebuy_indptr.npy"], f["trend/rebuy_products.npy"], f["trend/rebuy_orders.npy"])
        self._product_norms: np.ndarray | None = None

    def fan_scores(self, fans: np.ndarray, rebuys: bool = True) -> np.ndarray:
        """(len(fans), products): how much each fan would like each good now: the vectors' taste blended with the
        market's trend where the fan shops and the fan's own rebuys (recommender/trend.py; `rebuys=False` leaves
        those out); the vectors' inner products without a trend."""
        fans = np.asarray(fans)
        taste = np.asarray(self.vectors["fan"][fans], np.float32) @ np.asarray(self.vectors["product"], np.float32).T
        if self.trend is None:
            return taste
        return blend(taste, np.asarray(self.product_trend), np.asarray(self.fan_category[fans]),
                     np.asarray(self.product_category), self.trend, self.fan_rebuys(fans) if rebuys else None)

    def fan_rebuys(self, fans: np.ndarray) -> sp.coo_matrix | None:
        """(len(fans), products): the fans' own decayed orders of each good (None: the artifact keeps none)."""
        if self.rebuys is None:
            return None
        indptr, products, orders = self.rebuys
        fans = np.asarray(fans, np.int64)
        lo, hi = indptr[fans], indptr[fans + 1]
        at = ranges(lo, hi)
        rows = np.repeat(np.arange(len(fans)), hi - lo)
        return sp.coo_matrix((np.asarray(orders[at]), (rows, np.asarray(products[at]))),
                             shape=(len(fans), len(self.product_ids)))

    @property
    def if_shelved(self) -> AudienceRates | ShelfRates | None:
        """Expected orders if shelved as the picks rank them: with the room x good term where the artifact has
        it, the category x quality model otherwise (None: no shelf table, the vectors rank)."""
        if self.shelf_rate is None:
            return None
        return self.personal if self.personal is not None else self.shelf_rate

    def _check_files(self, layout: dict[str, File]) -> None:
        """Every file the manifest lists is there at its size, and it lists every file of the table."""
        listed = self.manifest.get("files", {})
        version = self.manifest["format_version"]
        for rel, size in listed.items():
            path = self.path / rel
            if rel not in layout and rel not in RETIRED_FILES.get(version, ()):
                raise ArtifactError(f"{path}: listed in the manifest but not part of format {version}")
            if not path.exists():
                raise ArtifactError(f"{path}: listed in the manifest but missing")
            if path.stat().st_size != size:
                raise ArtifactError(f"{path}: {path.stat().st_size} bytes, the manifest says {size} (truncated?)")
        for rel in layout:
            if rel not in listed:
                raise ArtifactError(f"{self.path / rel}: part of format {version} but not listed in the manifest")
        sums = self.manifest.get("checksums")
        if sums is None and version >= 7:
            raise ArtifactError(f"{self.path / 'manifest.json'}: format {version} records a checksum of every file; "
                                "this manifest has none")
        for rel in listed if sums is not None else ():
            if rel not in sums:
                raise ArtifactError(f"{self.path / rel}: the manifest records no checksum for it")
            verify_checksum(self.path / rel, sums[rel])

    def _check_finite(self, layout: dict[str, File], opened: dict[str, Any], rows: int = 1 << 16) -> None:
        """Float arrays that cannot hold NaN or infinity do not (a model trained on bad numbers is refused).
        Arrays over the checksums' FULL_BYTES are checked in SAMPLE_BLOCKS blocks of rows spread over them, as
        their checksum is: reading a whole large array would page it into every worker at boot."""
        for rel, file in layout.items():
            if not file.finite or rel not in opened:
                continue
            arr = opened[rel]
            span, starts = rows, range(0, max(len(arr), 1), rows)
            if arr.nbytes > FULL_BYTES:
                span = max(1, min(rows, BLOCK_BYTES // max(arr[:1].nbytes, 1)))
                starts = range(0, len(arr), max(1, len(arr) // SAMPLE_BLOCKS))
            for lo in starts:
                block = np.asarray(arr[lo:lo + span])
                ok = np.isfinite(block)
                if not ok.all():
                    bad = lo + int(np.flatnonzero(~ok.reshape(len(block), -1).all(axis=1))[0])
                    raise ArtifactError(f"{self.path / rel}: row {bad} holds NaN or infinite values")

    @property
    def products(self) -> pd.DataFrame:
        """The catalogue of goods as a DataFrame, built on each access (offline code and tests; the service
        reads ``columns``)."""
        return self.columns.products.frame({"product_id": self.product_ids.ids})

    @property
    def anchors(self) -> pd.DataFrame:
        """The anchors' catalogue fields as a DataFrame, built on each access."""
        return self.columns.anchors.frame({"anchor_id": self.anchor_ids.ids})

    @property
    def product_stats(self) -> pd.DataFrame:
        """The goods' 1/7/30-day statistics as a DataFrame, built on each access."""
        return self.columns.product_stats.frame({"product_id": self.product_ids.ids})

    @property
    def anchor_stats(self) -> pd.DataFrame:
        """The anchors' statistics as a DataFrame, built on each access."""
        return self.columns.anchor_stats.frame({"anchor_id": self.anchor_ids.ids})

    @property
    def snapshot_time(self) -> pd.Timestamp:
        """The data's "now": statistics windows and the age of goods count back from it."""
        return pd.Timestamp(self.manifest["data"]["snapshot_time"])

    def follows_of(self, fan_row: int) -> np.ndarray:
        """Anchor rows the fan follows."""
        return self.follow_anchors[self.follow_indptr[fan_row]:self.follow_indptr[fan_row + 1]]

    def shelf_of(self, anchor_row: int) -> np.ndarray:
        """Product rows on one anchor's shelf."""
        return np.asarray(self.shelf_products[self.shelf_indptr[anchor_row]:self.shelf_indptr[anchor_row + 1]])

    # -- scoring --------------------------------------------------------------------------------------
    @functools.cached_property
    def product_index(self) -> Any:
        """The faiss index over vectors/product, read on first use (offline: evaluation, benchmarks)."""
        return open_file(self.path / "index/products.faiss", files_of(self.manifest)["index/products.faiss"])

    @functools.cached_property
    def anchor_index(self) -> Any:
        """The faiss index over vectors/anchor, read on first use."""
        return open_file(self.path / "index/anchors.faiss", files_of(self.manifest)["index/anchors.faiss"])

    def products_for_anchors(self, anchor_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k goods per anchor by inner product: (rows, scores), each (len(anchor_rows), k); -1 pads."""
        q = np.ascontiguousarray(self.vectors["anchor"][np.asarray(anchor_rows)], dtype=np.float32)
        scores, rows = self.product_index.search(q, min(k, self.product_index.ntotal))
        return rows, scores

    def anchors_for_products(self, product_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k anchors whose (audience + sales) vector fits each good."""
        q = np.ascontiguousarray(self.vectors["product"][np.asarray(product_rows)], dtype=np.float32)
        scores, rows = self.anchor_index.search(q, min(k, self.anchor_index.ntotal))
        return rows, scores

    def similar_products(self, product_row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Goods closest in direction (cosine) to one good, itself excluded."""
        v = np.asarray(self.vectors["product"])
        if self._product_norms is None:
            self._product_norms = np.linalg.norm(v, axis=1)
        q = v[product_row]
        norms = self._product_norms * (np.linalg.norm(q) or 1.0)
        cos = np.divide(v @ q, norms, out=np.zeros(len(v), np.float32), where=norms > 0)
        cos[product_row] = -np.inf
        k = min(k, len(v) - 1)
        top = np.argpartition(-cos, k - 1)[:k] if k < len(v) else np.arange(len(v))
        top = top[np.argsort(-cos[top])]
        return top, cos[top]


@dataclasses.dataclass(frozen=True)
class Catalog:
    """The catalogue's tables as columns by model row (recommender/columns.py): goods, anchors and their
    statistics (the id columns are the vocabularies)."""

    products: Columns
    anchors: Columns
    product_stats: Columns
    anchor_stats: Columns

    @classmethod
    def of(cls, opened: dict[str, Any], manifest: dict[str, Any]) -> Catalog:
        rows = {"products": int(manifest["counts"]["products"]), "anchors": int(manifest["counts"]["anchors"])}
        if "catalog/products.parquet" in opened:  # formats before 9
            return cls(Columns.from_frame(opened["catalog/products.parquet"], ("product_id",)),
                       Columns.from_frame(opened["catalog/anchors.parquet"], ("anchor_id",)),
                       Columns.from_frame(opened["stats/products.parquet"], ("product_id",)),
                       Columns.from_frame(opened["stats/anchors.parquet"], ("anchor_id",)))
        return cls(_columns(opened, "products", rows["products"]), _columns(opened, "anchors", rows["anchors"]),
                   _columns(opened, "product_stats", rows["products"]),
                   _columns(opened, "anchor_stats", rows["anchors"]))


def _columns(opened: dict[str, Any], table: str, rows: int) -> Columns:
    """One table's mapped column files (columns/<table>/): ``name.npy`` arrays, ``name.utf8.npy`` and
    ``name.offsets.npy`` text."""
    out: dict[str, np.ndarray | TextColumn] = {}
    prefix = f"columns/{table}/"
    for rel, arr in opened.items():
        if not rel.startswith(prefix):
            continue
        name, _, kind = rel.removeprefix(prefix).partition(".")
        if kind == "npy":
            out[name] = arr
        elif kind == "utf8.npy":
            out[name] = TextColumn(arr, opened[f"{prefix}{name}.offsets.npy"])
    return Columns(out, rows)


def _by_name(opened: dict[str, Any], directory: str) -> dict[str, Any]:
    """The arrays of one directory of the table by file stem: ``vectors/fan.npy`` is ``vectors["fan"]``."""
    return {Path(rel).stem: arr for rel, arr in opened.items() if rel.startswith(directory)}


def load_model(path: str | Path, mmap: bool = True) -> Model:
    return Model(path, mmap=mmap)
