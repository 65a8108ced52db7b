"""A private copy of the session's small artifact that a test may change, and a way to change it honestly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from recommender.artifact import load_model
from recommender.artifact.checksums import digest
from recommender.contract import load_snapshot
from recommender.profiles import anchor_stats, product_stats
from training.trainer import _catalog


class Editable:
    """An artifact copy whose manifest is kept in step with the edits (so only the edited fact is wrong)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def manifest(self) -> dict:
        return json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))

    def set_manifest(self, manifest: dict) -> None:
        (self.path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")

    def as_format_8(self, version: int = 8, snapshot: Path | None = None) -> None:
        """Make the copy what format 8 wrote: the catalogue and its statistics as Parquet tables (with their id
        columns) instead of format 9's memory-mapped columns/. With the ``snapshot`` the artifact was trained on,
        the tables are the ones format 8's trainer wrote from it (its dtypes too); else read back from the
        columns."""
        if snapshot is not None:
            m = load_snapshot(snapshot)
            tables = {"catalog/products.parquet": _catalog(m, "products"),
                      "catalog/anchors.parquet": _catalog(m, "anchors"),
                      "stats/products.parquet": product_stats(m), "stats/anchors.parquet": anchor_stats(m)}
        else:
            model = load_model(self.path)
            tables = {"catalog/products.parquet": model.products, "catalog/anchors.parquet": model.anchors,
                      "stats/products.parquet": model.product_stats, "stats/anchors.parquet": model.anchor_stats}
            del model
        # format 8 kept no click statistics (they came with the click log, in format 9's columns/), nor the prices
        # paid per unit
        stats = tables["stats/products.parquet"]
        tables["stats/products.parquet"] = stats.drop(columns=["clicks_30d", "paid_unit_max_30d", "paid_unit_min_30d"],
                                                      errors="ignore")
        man = self.manifest
        for rel in [r for r in man["files"] if r.startswith("columns/")]:
            (self.path / rel).unlink()
            del man["files"][rel]
            man["checksums"].pop(rel)
        shutil.rmtree(self.path / "columns")
        for rel, df in tables.items():
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
            df.to_parquet(self.path / rel, index=False)
            man["files"][rel] = (self.path / rel).stat().st_size
            man["checksums"][rel] = digest(self.path / rel)
        man.pop("columns")
        man["format_version"] = version
        self.set_manifest(man)

    def as_format_7(self, version: int = 7) -> None:
        """Make the copy what format 7 wrote: none of what format 8 adds (evidence/: daily trend and sellers;
        trend/: the market's trend; boards/: the anchor boards, and the audience's average order)."""
        self.as_format_8(version)
        man = self.manifest
        added = ("evidence/", "trend/", "boards/")
        for rel in [r for r in man["files"] if r.startswith(added) or "order_value" in r]:
            (self.path / rel).unlink()
            del man["files"][rel]
            man.get("checksums", {}).pop(rel, None)
        for key in ("evidence", "trend", "rebuy", "anchor_boards"):
            man.pop(key, None)
        man["format_version"] = version
        self.set_manifest(man)

    def without_audience(self, version: int) -> None:
        """Make the copy what an older format (5 or 6) wrote: no room x good term (audience/), no quality
        shape, nothing of format 8."""
        self.as_format_7(version)
        man = self.manifest
        for rel in [r for r in man["files"] if r.startswith("audience/") or r == "shelf_rate/quality_shape.npy"]:
            (self.path / rel).unlink()
            del man["files"][rel]
        for key in ("audience", "category_audience", "quality_shape"):
            man.pop(key, None)
        man["format_version"] = version
        self.set_manifest(man)

    def without_clicks(self) -> None:
        """Make the copy what a snapshot without a click log trains to: no clicks_30d statistics column."""
        rel = "columns/product_stats/clicks_30d.npy"
        man = self.manifest
        (self.path / rel).unlink()
        del man["files"][rel]
        man["checksums"].pop(rel)
        man["columns"]["product_stats"].remove("clicks_30d")
        self.set_manifest(man)

    def save(self, rel: str, arr: np.ndarray) -> None:
        """Write an array and list it in the manifest with its size."""
        (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
        np.save(self.path / rel, arr, allow_pickle=False)
        man = self.manifest
        man["files"][rel] = (self.path / rel).stat().st_size
        if "checksums" in man:
            man["checksums"][rel] = digest(self.path / rel)
        self.set_manifest(man)


@pytest.fixture
def artifact(small_artifact, tmp_path) -> Editable:
    return Editable(Path(shutil.copytree(small_artifact, tmp_path / "artifact")))
