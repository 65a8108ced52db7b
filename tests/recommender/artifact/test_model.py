"""A loaded artifact: memory-mapped, checked file by file against the layout table, and scored exactly."""

from __future__ import annotations

import re

import numpy as np
import pytest

from recommender.artifact import ArtifactError, load_model
from recommender.artifact.checksums import digest
from recommender.artifact.layout import RETIRED_FILES
from recommender.contract import load_snapshot
from recommender.ranking import Ranker


@pytest.fixture(scope="module")
def model(small_artifact):
    return load_model(small_artifact)


def test_round_trip_keeps_ids_and_vectors(model, small_snapshot):
    snapshot = load_snapshot(small_snapshot)
    assert (model.product_ids.ids == snapshot.product_ids.ids).all()
    assert (model.anchor_ids.ids == snapshot.anchor_ids.ids).all()
    assert isinstance(model.vectors["product"], np.memmap)
    assert np.isfinite(model.vectors["anchor"]).all() and np.isfinite(model.vectors["product"]).all()


def test_arrays_are_memory_mapped_unless_asked_not_to(small_artifact):
    mapped, loaded = load_model(small_artifact), load_model(small_artifact, mmap=False)
    for m in (mapped, loaded):
        assert not isinstance(m.shelf_rate.category, np.memmap)  # small, indexed on every request
    assert isinstance(mapped.shelf_rate.room, np.memmap) and isinstance(mapped.product_scan.vectors, np.memmap)
    assert not isinstance(loaded.vectors["fan"], np.memmap)
    np.testing.assert_array_equal(mapped.product_scan.order, loaded.product_scan.order)


def test_index_search_equals_brute_force_inner_product(model):
    anchors = np.arange(10)
    rows, scores = model.products_for_anchors(anchors, 20)
    brute = np.asarray(model.vectors["anchor"])[anchors] @ np.asarray(model.vectors["product"]).T
    np.testing.assert_allclose(scores, np.take_along_axis(brute, rows, 1), rtol=1e-4, atol=1e-5)
    assert (scores[:, :1] >= brute.max(axis=1, keepdims=True) - 1e-5).all()


def test_similar_goods_share_the_category_more_often_than_chance(model):
    cats = model.products["category"].to_numpy()
    same = [np.mean(cats[model.similar_products(p, 10)[0]] == cats[p]) for p in range(0, 500, 25)]
    chance = max(np.mean(cats == c) for c in set(cats))
    assert np.mean(same) > 2 * chance


def test_a_format_5_artifact_still_loads_its_extra_files_ignored(artifact, model):
    rates = model.shelf_rate
    rows, orders = rates.top_goods(np.arange(50), 500)
    artifact.without_audience(5)
    artifact.save("vectors/anchor_sales_weight.npy", np.full(50, 0.5, np.float32))
    artifact.save("shelf_rate/candidates.npy", rows)
    artifact.save("shelf_rate/candidate_orders.npy", orders)
    man = artifact.manifest
    assert set(RETIRED_FILES[5]) <= set(man["files"])
    old = load_model(artifact.path)
    assert old.manifest["format_version"] == 5
    np.testing.assert_array_equal(old.shelf_rate.expected(3), rates.expected(3))
    anchors = np.arange(5)
    assert old.products_for_anchors(anchors, 10)[0].tolist() == model.products_for_anchors(anchors, 10)[0].tolist()
    assert not hasattr(old, "shelf_rate_candidates")


def test_a_format_6_artifact_loads_and_ranks_by_the_category_x_quality_model(artifact, model):
    artifact.without_audience(6)
    old = load_model(artifact.path)
    assert old.personal is None and model.personal is not None
    np.testing.assert_array_equal(old.shelf_rate.expected(3), model.shelf_rate.expected(3))
    picks = Ranker(old).picks(3, 20).items
    assert len(picks) == 20
    assert all(p.breakdown["affinity"] == pytest.approx(float(old.shelf_rate.expected(3, np.array([p.product]))[0]),
                                                        rel=1e-3) for p in picks)


def test_a_format_9_artifact_holds_no_retired_file(artifact):
    artifact.save("shelf_rate/candidates.npy", np.zeros((50, 10), np.int32))
    refused = r"shelf_rate/candidates\.npy: listed in the manifest but not part of format 9"
    with pytest.raises(ArtifactError, match=refused):
        load_model(artifact.path)


def test_a_format_7_artifact_loads_without_evidence_and_ranks_as_before(artifact, model):
    artifact.as_format_7(7)
    old = load_model(artifact.path)
    assert old.evidence is None and model.evidence is not None
    assert [p.product for p in Ranker(old).picks(3, 20).items] == [p.product for p in Ranker(model).picks(3, 20).items]


def test_evidence_files_are_checked_against_the_table(artifact, model):
    """The sellers' GMV must have one row per kept seller and be finite; the daily days must be int16."""
    gmv = np.array(model.evidence.sellers.gmv)
    artifact.save("evidence/sellers_gmv.npy", gmv[:-1])
    with pytest.raises(ArtifactError, match=r"evidence/sellers_gmv\.npy: shape \(\d+,\), expected"):
        load_model(artifact.path)
    gmv[3] = np.nan
    artifact.save("evidence/sellers_gmv.npy", gmv)
    with pytest.raises(ArtifactError, match=r"evidence/sellers_gmv\.npy: row 3 holds NaN"):
        load_model(artifact.path)
    artifact.save("evidence/sellers_gmv.npy", np.array(model.evidence.sellers.gmv))
    artifact.save("evidence/daily_day.npy", np.asarray(model.evidence.daily.day, np.int64))
    with pytest.raises(ArtifactError, match=r"evidence/daily_day\.npy: dtype int64, expected int16"):
        load_model(artifact.path)


def test_a_file_of_the_table_missing_from_the_manifest_is_refused(artifact):
    man = artifact.manifest
    del man["files"]["follows/anchors.npy"]
    artifact.set_manifest(man)
    with pytest.raises(ArtifactError, match=r"follows/anchors\.npy: part of format 9 but not listed in the manifest"):
        load_model(artifact.path)


@pytest.mark.parametrize("damage", ["truncate", "delete", "reshape"])
def test_damaged_artifacts_are_refused_with_the_file_named(artifact, damage):
    target = artifact.path / "vectors/product.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:-100])
        expected = "truncated"
    elif damage == "delete":
        target.unlink()
        expected = "missing"
    else:
        artifact.save("vectors/product.npy", np.zeros((499, 64), np.float32))
        expected = r"shape \(499, 64\), expected \(500, 64\)"
    with pytest.raises(ArtifactError, match=expected) as err:
        load_model(artifact.path)
    assert "product" in str(err.value)


@pytest.mark.parametrize(("rel", "arr", "expected"), [
    ("shelf_rate/room.npy", np.zeros((50, 11), np.float32), r"shape \(50, 11\), expected \(50, 12\)"),
    ("profiles/audience_gender.npy", np.zeros((50, 3), np.float32), r"shape \(50, 3\), expected \(50, 2\)"),
    ("follows/indptr.npy", np.zeros(2000, np.int64), r"shape \(2000,\), expected \(2001,\)"),
    ("recent_orders/minute.npy", np.zeros(3, np.int64), r"shape \(3,\), expected \(\d+,\)"),
    ("ids/products.npy", np.arange(499), r"shape \(499,\), expected \(500,\)"),
    ("vectors/anchor.npy", np.zeros((50, 64)), r"dtype float64, expected float32"),
    ("content/coef.npy", np.zeros((10, 63), np.float32), r"shape \(10, 63\), expected \(any, 64\)"),
])
def test_a_file_that_disagrees_with_the_table_is_refused_naming_it(artifact, rel, arr, expected):
    artifact.save(rel, arr)
    with pytest.raises(ArtifactError, match=rf"{rel}: {expected}"):
        load_model(artifact.path)


@pytest.mark.parametrize(("version", "rel", "kind"), [(9, "columns/product_stats/sales_7d.npy", "array"),
                                                     (8, "stats/products.parquet", "parquet file")])
def test_an_unreadable_file_is_refused_naming_it(artifact, version, rel, kind):
    if version == 8:
        artifact.as_format_8()
    (artifact.path / rel).write_bytes(b"not readable")
    man = artifact.manifest  # its size and checksum as written: only the content is wrong
    man["files"][rel] = len(b"not readable")
    man["checksums"][rel] = digest(artifact.path / rel)
    artifact.set_manifest(man)
    with pytest.raises(ArtifactError, match=rf"{re.escape(rel)}: unreadable {kind}"):
        load_model(artifact.path)


def _overwrite_in_place(path, data: bytes, at: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(at)
        fh.write(data)


@pytest.mark.parametrize("damage", ["fill quality with 0xFF", "random bytes in product ids"])
def test_damage_that_keeps_the_size_is_refused_by_the_checksum(artifact, damage):
    """The probe's cases: the file keeps its size (and its header), so only its checksum can tell."""
    rel = "shelf_rate/quality.npy" if damage.startswith("fill") else "ids/products.npy"
    path = artifact.path / rel
    header = 128  # .npy headers are a multiple of 64 bytes; these are 128
    size = path.stat().st_size
    fill = b"\xff" * (size - header) if damage.startswith("fill") else np.random.default_rng(0).bytes(64)
    _overwrite_in_place(path, fill, header if damage.startswith("fill") else size // 2)
    assert path.stat().st_size == size
    with pytest.raises(ArtifactError, match=rf"{rel}: its content is not what was written"):
        load_model(artifact.path)


def test_non_finite_numbers_are_refused_even_with_a_matching_checksum(artifact, model):
    """A model trained on bad numbers (NaN vectors) was written consistently; the loader still refuses it."""
    vectors = np.array(model.vectors["product"])
    vectors[7, 3] = np.nan
    artifact.save("vectors/product.npy", vectors)
    with pytest.raises(ArtifactError, match=r"vectors/product\.npy: row 7 holds NaN"):
        load_model(artifact.path)


def test_a_format_7_manifest_without_checksums_is_refused(artifact):
    man = artifact.manifest
    del man["checksums"]
    artifact.set_manifest(man)
    with pytest.raises(ArtifactError, match="records a checksum of every file"):
        load_model(artifact.path)


def test_a_large_array_is_checked_in_sampled_blocks_that_still_find_a_nan_in_one(artifact, model, monkeypatch):
    import recommender.artifact.model as loaded

    monkeypatch.setattr(loaded, "FULL_BYTES", 1000)  # every vector file counts as large here
    vectors = np.array(model.vectors["fan"])
    vectors[0, 0] = np.inf  # the first block is always read
    artifact.save("vectors/fan.npy", vectors)
    with pytest.raises(ArtifactError, match=r"vectors/fan\.npy: row 0 holds NaN or infinite"):
        load_model(artifact.path)


def test_the_faiss_indexes_are_checked_at_load_but_held_only_once_searched(small_artifact):
    """The service never searches them (its picks use the norm-ordered scan), so its workers do not hold them;
    offline code reads them on first use. A damaged one is still refused at load (the reload tests)."""
    model = load_model(small_artifact)
    assert "product_index" not in vars(model) and "anchor_index" not in vars(model)
    rows, _ = model.products_for_anchors(np.arange(3), 5)
    assert rows.shape == (3, 5) and "product_index" in vars(model)


def test_a_format_7_artifact_loads_without_the_anchor_boards(artifact, model):
    artifact.as_format_7()
    old = load_model(artifact.path)
    assert old.anchor_window_gmv is None and old.audience_order_value is None
    assert model.anchor_window_gmv is not None
    assert Ranker(old).anchor_boards is None  # the service answers 503 for its anchor boards
    assert len(Ranker(old).picks(3, 20).items) == 20


def test_the_anchor_boards_add_up_to_the_anchors_totals(model):
    """Per window and category; summed over categories they are the anchors' 7- and 30-day totals."""
    gmv, orders = np.asarray(model.anchor_window_gmv), np.asarray(model.anchor_window_orders)
    assert gmv.shape == orders.shape == (len(model.anchor_ids), 3, len(model.audience.labels["category"]))
    st = model.anchor_stats
    np.testing.assert_allclose(gmv[:, 1].sum(axis=1), st["gmv_7d"], atol=0.05)
    np.testing.assert_allclose(gmv[:, 2].sum(axis=1), st["gmv_30d"], atol=0.05)
    assert orders[:, 1].sum(axis=1).tolist() == st["orders_7d"].tolist()
    assert orders[:, 2].sum(axis=1).tolist() == st["orders_30d"].tolist()
    np.testing.assert_allclose(gmv[:, 2], model.anchor_category_gmv, atol=0.05)
    assert (gmv[:, 0] <= gmv[:, 1] + 1e-9).all() and (gmv[:, 1] <= gmv[:, 2] + 1e-9).all()
    value = np.asarray(model.audience_order_value)
    assert np.nanmin(value) > 0 and np.isfinite(value[np.asarray(model.audience.buyers_30d) > 0]).all()


def test_the_catalogue_s_columns_are_checked_like_every_file(artifact, model):
    """Format 9's columns: shape, dtype, finiteness and checksum from the one layout table; an optional column is
    part of the artifact exactly when the manifest lists it."""
    price = np.array(model.columns.products["price"])
    artifact.save("columns/products/price.npy", price.astype(np.float32))
    with pytest.raises(ArtifactError, match=r"columns/products/price\.npy: dtype float32, expected float64"):
        load_model(artifact.path)
    price[7] = np.inf
    artifact.save("columns/products/price.npy", price)
    with pytest.raises(ArtifactError, match=r"columns/products/price\.npy: row 7 holds NaN or infinite values"):
        load_model(artifact.path)
    artifact.save("columns/products/price.npy", np.array(model.columns.products["price"]))
    offsets = np.array(model.columns.products["title"].offsets)
    artifact.save("columns/products/title.offsets.npy", offsets[:-1])
    with pytest.raises(ArtifactError, match=r"title\.offsets\.npy: shape \(500,\), expected \(501,\)"):
        load_model(artifact.path)
    artifact.save("columns/products/title.offsets.npy", offsets)
    man = artifact.manifest
    man["columns"]["products"].remove("brand")
    artifact.set_manifest(man)
    with pytest.raises(ArtifactError, match=r"brand\.(utf8|offsets)\.npy: listed in the manifest but not part"):
        load_model(artifact.path)


def test_a_damaged_column_is_refused_by_its_checksum(artifact):
    path = artifact.path / "columns/products/title.utf8.npy"
    data = bytearray(path.read_bytes())
    data[-5:] = b"xxxxx"
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"title\.utf8\.npy: its content is not what was written"):
        load_model(artifact.path)
