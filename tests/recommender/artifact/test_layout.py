"""One table says what an artifact holds: the trained artifact holds exactly its files, each as it says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender.artifact import layout
from recommender.artifact.layout import LAYOUT, RETIRED_FILES, Found, check, files_of, spec
from recommender.errors import ArtifactError

MANIFEST = {"counts": {"anchors": 3, "fans": 5, "products": 7, "follows": 4, "shelf": 2, "recent_orders": 6},
            "dimensions": 4, "profiles": {"labels": {"gender": ["女", "男"], "category": ["a", "b", "c"]}},
            "shelf_rate": {"categories": 3}}


def test_the_written_manifest_lists_exactly_the_tables_files(small_artifact):
    from recommender.artifact import read_manifest

    man = read_manifest(small_artifact)
    assert set(man["files"]) == set(files_of(man))
    assert "vectors/anchor_sales_weight.npy" not in man["files"]
    assert not {"shelf_rate/candidates.npy", "shelf_rate/candidate_orders.npy"} & set(man["files"])
    assert set(RETIRED_FILES[5]).isdisjoint(files_of(man))


def test_the_shelf_rate_model_is_optional_and_audience_files_follow_the_manifests_labels():
    rels = set(files_of(MANIFEST))
    assert {"profiles/audience_gender.npy", "profiles/audience_category.npy"} <= rels
    assert "profiles/audience_{label}.npy" not in rels
    assert "shelf_rate/room.npy" in rels
    assert not any(rel.startswith("shelf_rate/") for rel in files_of({**MANIFEST, "shelf_rate": None}))


def test_every_file_is_an_open_format_and_appears_once():
    paths = [f.path for f in LAYOUT]
    assert len(paths) == len(set(paths))
    assert {f.kind for f in LAYOUT} == {"npy", "parquet", "faiss", "json"}


def test_a_name_outside_the_table_is_not_part_of_the_artifact():
    assert spec("profiles/audience_region.npy").path == "profiles/audience_{label}.npy"
    assert spec("profiles/audience_fans.npy").path == "profiles/audience_fans.npy"
    with pytest.raises(ArtifactError, match=r"vectors/anchor_sales_weight\.npy: not a file of the artifact layout"):
        spec("vectors/anchor_sales_weight.npy")


@pytest.mark.parametrize(("rel", "shape", "expected"), [
    ("vectors/anchor.npy", (3, 4), None),
    ("vectors/anchor.npy", (3, 5), r"shape \(3, 5\), expected \(3, 4\)"),
    ("vectors/fan.npy", (5,), r"shape \(5,\), expected \(5, 4\)"),
    ("shelf/indptr.npy", (4,), None),
    ("shelf/indptr.npy", (3,), r"shape \(3,\), expected \(4,\)"),
    ("follows/indptr.npy", (6,), None),
    ("candidates/anchor_products.npy", (3, 99), None),
    ("candidates/anchor_products.npy", (2, 99), r"shape \(2, 99\), expected \(3, any\)"),
    ("profiles/audience_gender.npy", (3, 2), None),
    ("profiles/audience_gender.npy", (3, 3), r"shape \(3, 3\), expected \(3, 2\)"),
    ("profiles/anchor_category_gmv_30d.npy", (3, 3), None),
    ("shelf_rate/room.npy", (3, 2), r"shape \(3, 2\), expected \(3, 3\)"),
    ("recent_orders/minute.npy", (5,), r"shape \(5,\), expected \(6,\)"),
    ("content/coef.npy", (123, 4), None),
])
def test_shapes_are_checked_against_the_table_and_errors_name_file_and_both_shapes(rel, shape, expected):
    dtype = np.dtype(spec(rel).dtype[0])
    if expected is None:
        check(Path("art") / rel, rel, Found(shape, dtype), MANIFEST)
    else:
        with pytest.raises(ArtifactError, match=rf"art/{rel}: {expected}"):
            check(Path("art") / rel, rel, Found(shape, dtype), MANIFEST)


def test_dtypes_are_checked_and_ids_may_be_integers_or_strings():
    check(Path("ids/fans.npy"), "ids/fans.npy", Found((5,), np.dtype("<U8")), MANIFEST)
    check(Path("ids/fans.npy"), "ids/fans.npy", Found((5,), np.dtype("int64")), MANIFEST)
    with pytest.raises(ArtifactError, match=r"ids/fans\.npy: dtype float64, expected int64 or str"):
        check(Path("ids/fans.npy"), "ids/fans.npy", Found((5,), np.dtype("float64")), MANIFEST)
    with pytest.raises(ArtifactError, match=r"vectors/product\.npy: dtype float64, expected float32"):
        check(Path("vectors/product.npy"), "vectors/product.npy", Found((7, 4), np.dtype("float64")), MANIFEST)


def test_tables_are_checked_by_rows_and_fixed_columns():
    stats = spec("stats/anchors.parquet").columns
    check(Path("s"), "stats/anchors.parquet", layout.found(pd.DataFrame({c: [1, 2, 3] for c in stats})), MANIFEST)
    with pytest.raises(ArtifactError, match=r"stats/anchors\.parquet: columns .*expected"):
        check(Path("stats/anchors.parquet"), "stats/anchors.parquet",
              layout.found(pd.DataFrame({c: [1, 2, 3] for c in stats[:-1]})), MANIFEST)
    with pytest.raises(ArtifactError, match=r"catalog/products\.parquet: shape \(6,\), expected \(7,\)"):
        check(Path("catalog/products.parquet"), "catalog/products.parquet",
              layout.found(pd.DataFrame({"x": range(6)})), MANIFEST)


def test_the_modules_documentation_is_the_table():
    for f in LAYOUT:
        assert f.path in layout.__doc__
    assert layout.describe() in layout.__doc__
