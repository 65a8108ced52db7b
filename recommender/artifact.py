"""The model artifact: a self-describing directory of open formats, and the API to load and score it.

Layout (``manifest.json`` lists every file with its size; it is written last)::

    manifest.json                 format version, data fingerprint, parameters, counts, versions, timings
    ids/{anchors,fans,products}.npy             external ids, row order of every other array
    vectors/{anchor,fan,product}.npy            float32 vectors in one inner-product space
    vectors/{anchor_audience,anchor_sales,product_cf,product_content}.npy   their parts, for explaining
    index/{products,anchors}.faiss              search structures over vectors/product and vectors/anchor
    index/products_{order,by_norm,norms}.npy    the goods in descending norm order, for exact pruned search
    candidates/anchor_{products,scores}.npy     each anchor's exact top goods by affinity (batch-computed)
    catalog/{products,anchors}.parquet          the catalogue fields filters and cards need
    stats/{products,anchors}.parquet            1/7/30-day sales statistics, TOP board ranks
    profiles/audience_*.npy                     audience shares per anchor (labels in the manifest)
    content/                                    the content model (JSON + .npy) for goods added later
    shelf_rate/{quality,room,category}.npy      expected orders if shelved: room[anchor, category] x quality
    shelf_rate/candidate{s,_orders}.npy         each anchor's top goods by expected orders (batch-computed; the
                                                picks rank every good and no longer read them; bench/train.py does)

No pickle anywhere: arrays load with ``allow_pickle=False`` and memory-map, so several service workers share
pages. A directory is written under a temporary name and renamed into place only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd

from recommender.errors import ArtifactError
from recommender.index import NormOrderedIndex, read_index
from recommender.profiles import AudienceProfile
from recommender.shelf_rate import ShelfRates
from recommender.vocabulary import Vocabulary

FORMAT_VERSION = 5  # 2: shelves, per-category anchor GMV; 3: norm-ordered index, anchor candidates;
# 4: follow lists and recent orders (hot items); 5: the shelf-rate model (optional: absent without a shelf
# table). Versions 3 and 4 still load, without what came later.
READABLE_VERSIONS = (3, 4, 5)
MANIFEST = "manifest.json"


class ArtifactWriter:
    """Write into ``.NAME.tmp-*`` beside the target, rename into place on :meth:`commit`.

    A run that fails midway leaves the previous artifact untouched and removes its temporary directory.
    """

    def __init__(self, out: str | Path, overwrite: bool = False) -> None:
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise FileExistsError(f"{self.out} exists; pass overwrite=True (--overwrite) to replace it")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.out.parent / f".{self.out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.tmp.mkdir()
        self.files: dict[str, int] = {}

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()

    def _path(self, rel: str) -> Path:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _written(self, rel: str) -> None:
        self.files[rel] = (self.tmp / rel).stat().st_size

    def array(self, rel: str, arr: np.ndarray) -> None:
        np.save(self._path(rel), np.ascontiguousarray(arr), allow_pickle=False)
        self._written(rel)

    def table(self, rel: str, df: pd.DataFrame) -> None:
        df.to_parquet(self._path(rel), index=False)
        self._written(rel)

    def index(self, rel: str, index: faiss.Index) -> None:
        faiss.write_index(index, str(self._path(rel)))
        self._written(rel)

    def directory(self, rel: str) -> Path:
        """A sub-directory for a component that writes its own files (registered on commit)."""
        path = self.tmp / rel
        path.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self, manifest: dict[str, Any]) -> Path:
        for path in self.tmp.rglob("*"):
            rel = path.relative_to(self.tmp).as_posix()
            if path.is_file() and rel not in self.files:
                self._written(rel)
        manifest = {**manifest, "format_version": FORMAT_VERSION, "files": dict(sorted(self.files.items()))}
        with open(self.tmp / MANIFEST, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=2, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        old = None
        if self.out.exists():
            old = self.out.parent / f".{self.out.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(self.out, old)
        os.rename(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    file = path / MANIFEST
    if not file.exists():
        raise ArtifactError(f"{file}: no manifest; not a model artifact, or an incomplete one")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{file}: unreadable manifest ({exc})") from exc
    if manifest.get("format_version") not in READABLE_VERSIONS:
        raise ArtifactError(f"{file}: format_version {manifest.get('format_version')!r}, "
                            f"this code reads {READABLE_VERSIONS}")
    return manifest


class Model:
    """A loaded artifact. Arrays are memory-mapped; every array is indexed by the vocabularies' row numbers."""

    def __init__(self, path: str | Path, mmap: bool = True) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        self._check_files()
        mode = "r" if mmap else None
        self.anchor_ids = Vocabulary.load(self.path / "ids/anchors.npy", "anchors")
        self.fan_ids = Vocabulary.load(self.path / "ids/fans.npy", "fans")
        self.product_ids = Vocabulary.load(self.path / "ids/products.npy", "products")
        self.vectors = {name: self._array(f"vectors/{name}.npy", mode) for name in
                        ("anchor", "fan", "product", "anchor_audience", "anchor_sales", "product_cf",
                         "product_content")}
        self.products = pd.read_parquet(self.path / "catalog/products.parquet")
        self.anchors = pd.read_parquet(self.path / "catalog/anchors.parquet")
        self.product_stats = pd.read_parquet(self.path / "stats/products.parquet")
        self.anchor_stats = pd.read_parquet(self.path / "stats/anchors.parquet")
        prof = self.manifest["profiles"]
        self.audience = AudienceProfile(
            fans=self._array("profiles/audience_fans.npy", mode),
            buyers_30d=self._array("profiles/audience_buyers_30d.npy", mode),
            shares={dim: self._array(f"profiles/audience_{dim}.npy", mode) for dim in prof["labels"]},
            labels=prof["labels"],
        )
        self.anchor_category_gmv = self._array("profiles/anchor_category_gmv_30d.npy", mode)
        self.shelf_indptr = self._array("shelf/indptr.npy", mode)
        self.shelf_products = self._array("shelf/products.npy", mode)
        self.product_index = read_index(self.path / "index/products.faiss", mmap=mmap)
        self.product_scan = NormOrderedIndex.load(self.path / "index", "products", mmap=mmap)
        self.anchor_candidates = self._array("candidates/anchor_products.npy", mode)  # (anchors, n) best first
        self.anchor_candidate_scores = self._array("candidates/anchor_scores.npy", mode)
        self.anchor_index = read_index(self.path / "index/anchors.faiss", mmap=mmap)
        hot = self.manifest["format_version"] >= 4  # version 3 artifacts have no follows or recent orders
        n_f = len(self.fan_ids)
        self.follow_indptr = self._array("follows/indptr.npy", mode) if hot else np.zeros(n_f + 1, np.int64)
        self.follow_anchors = self._array("follows/anchors.npy", mode) if hot else np.zeros(0, np.int32)
        self.recent_orders = {name: self._array(f"recent_orders/{name}.npy", mode) if hot else np.zeros(0)
                              for name in ("key", "anchor", "product", "minute")}
        # expected orders if shelved; None for older artifacts and snapshots without a shelf table
        self.shelf_rate: ShelfRates | None = None
        self.shelf_rate_candidates = self.shelf_rate_candidate_orders = None
        if self.manifest["format_version"] >= 5 and self.manifest.get("shelf_rate"):
            try:
                self.shelf_rate = ShelfRates.load(self.path / "shelf_rate", mmap=mmap)
            except (ValueError, OSError, EOFError) as exc:
                raise ArtifactError(f"{self.path / 'shelf_rate'}: unreadable ({exc})") from exc
            self.shelf_rate_candidates = self._array("shelf_rate/candidates.npy", mode)
            self.shelf_rate_candidate_orders = self._array("shelf_rate/candidate_orders.npy", mode)
        self._product_norms: np.ndarray | None = None
        self._check_shapes()

    def _array(self, rel: str, mode: str | None) -> np.ndarray:
        try:
            return np.load(self.path / rel, mmap_mode=mode, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ArtifactError(f"{self.path / rel}: unreadable array ({exc})") from exc

    def _check_files(self) -> None:
        for rel, size in self.manifest.get("files", {}).items():
            path = self.path / rel
            if not path.exists():
                raise ArtifactError(f"{path}: listed in the manifest but missing")
            if path.stat().st_size != size:
                raise ArtifactError(f"{path}: {path.stat().st_size} bytes, the manifest says {size} (truncated?)")

    def _check_shapes(self) -> None:
        counts = self.manifest["counts"]
        d = self.manifest["dimensions"]
        expect = {"anchor": counts["anchors"], "anchor_audience": counts["anchors"],
                  "anchor_sales": counts["anchors"], "fan": counts["fans"], "product": counts["products"],
                  "product_cf": counts["products"], "product_content": counts["products"]}
        for name, rows in expect.items():
            if self.vectors[name].shape != (rows, d):
                raise ArtifactError(f"{self.path}/vectors/{name}.npy: shape {self.vectors[name].shape}, "
                                    f"expected ({rows}, {d})")
        for vocab, key in ((self.anchor_ids, "anchors"), (self.fan_ids, "fans"), (self.product_ids, "products")):
            if len(vocab) != counts[key]:
                raise ArtifactError(f"{self.path}/ids/{key}.npy: {len(vocab)} ids, manifest says {counts[key]}")
        n_a = counts["anchors"]
        cand = self.anchor_candidates
        if cand.shape[0] != n_a or cand.shape != self.anchor_candidate_scores.shape:
            raise ArtifactError(f"{self.path}/candidates: arrays do not match {n_a} anchors")
        if len(self.product_scan) != counts["products"] or self.product_scan.vectors.shape[1:] != (d,):
            raise ArtifactError(f"{self.path}/index/products_by_norm.npy: does not match {counts['products']} x {d}")
        for index, key in ((self.product_index, "products"), (self.anchor_index, "anchors")):
            if index.ntotal != counts[key] or index.d != d:
                raise ArtifactError(f"{self.path}/index/{key}.faiss: {index.ntotal} x {index.d}, "
                                    f"expected {counts[key]} x {d}")
        if self.follow_indptr.shape != (counts["fans"] + 1,):
            raise ArtifactError(f"{self.path}/follows/indptr.npy: does not match {counts['fans']} fans")
        if len({len(v) for v in self.recent_orders.values()}) != 1:
            raise ArtifactError(f"{self.path}/recent_orders: arrays of different lengths")
        if self.shelf_indptr.shape != (n_a + 1,) or self.anchor_category_gmv.shape[0] != n_a:
            raise ArtifactError(f"{self.path}: shelf or category GMV arrays do not match {counts['anchors']} anchors")
        r = self.shelf_rate
        if r is not None and (r.quality.shape != (counts["products"],) or r.category.shape != r.quality.shape
                              or r.room.shape != (n_a, len(r.categories))
                              or self.shelf_rate_candidates.shape[0] != n_a
                              or self.shelf_rate_candidates.shape != self.shelf_rate_candidate_orders.shape):
            raise ArtifactError(f"{self.path}/shelf_rate: arrays do not match {n_a} anchors x "
                                f"{counts['products']} goods")
        for table, key in ((self.products, "products"), (self.product_stats, "products"),
                           (self.anchors, "anchors"), (self.anchor_stats, "anchors")):
            if len(table) != counts[key]:
                raise ArtifactError(f"{self.path}: a {key} table has {len(table)} rows, expected {counts[key]}")

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


def load_model(path: str | Path, mmap: bool = True) -> Model:
    return Model(path, mmap=mmap)
