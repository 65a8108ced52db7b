"""Format 9 keeps the catalogue as memory-mapped columns instead of Parquet tables read into each worker: the
service must answer exactly as it did from format 8's tables (the same model, both formats)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from recommender.columns import TextColumn
from serve.app import create_app


@pytest.fixture(scope="module")
def format_8(small_artifact, small_snapshot, tmp_path_factory):
    from tests.recommender.artifact.conftest import Editable

    copy = Editable(shutil.copytree(small_artifact, tmp_path_factory.mktemp("format8") / "artifact"))
    copy.as_format_8(snapshot=small_snapshot)  # the tables format 8's trainer wrote, from the same snapshot
    return create_app({"model": str(copy.path)}).test_client()


@pytest.fixture(scope="module")
def format_9_without_clicks(small_artifact, tmp_path_factory):
    """The same model in format 9 as a snapshot without a click log trains it (format 8 kept no click figures)."""
    from tests.recommender.artifact.conftest import Editable

    copy = Editable(shutil.copytree(small_artifact, tmp_path_factory.mktemp("noclicks") / "artifact"))
    copy.without_clicks()
    return create_app({"model": str(copy.path)}).test_client()


def _paths(serving) -> list[str]:
    m = serving.model
    anchors = m.anchor_ids.ids[::7].tolist()
    goods = m.product_ids.ids[::37].tolist()
    category = serving.ranker.categories[0]
    paths = ["/v1/search/categories", "/v1/search/anchors?q=1&k=50", "/v1/products?k=100",
             f"/v1/products?category={category}&sort=growth_7d&k=50", "/v1/products?q=面&sort=price&k=100",
             "/v1/products?merchant=1&max_refund_rate=0.05", "/v1/products?format=csv&k=100"]
    for w in ("1d", "7d", "30d"):
        paths += [f"/v1/rankings/top-sales?window={w}&k=100", f"/v1/rankings/anchors?window={w}&k=100"]
    for a in anchors:
        paths += [f"/v1/anchors/{a}", f"/v1/anchors/{a}/picks?k=50", f"/v1/anchors/{a}/picks?format=csv"]
    for p in goods:
        paths += [f"/v1/products/{p}", f"/v1/products/{p}/sellers", f"/v1/products/{p}/anchors?k=50",
                  f"/v1/products/{p}/similar", f"/v1/products/{p}/trend"]
    return paths


def test_every_route_answers_from_format_9_columns_as_from_format_8_tables(format_9_without_clicks, serving,
                                                                          format_8):
    paths = _paths(serving)
    assert len(paths) > 100
    for path in paths:
        new, old = format_9_without_clicks.get(path), format_8.get(path)
        assert new.status_code == old.status_code == 200, path
        assert new.get_data() == old.get_data(), path  # byte for byte: 0 stays 0, not 0.0


def test_a_model_without_a_click_log_says_nothing_of_clicks(format_9_without_clicks, client, serving):
    goods = serving.model.product_ids.ids[::37].tolist()
    assert all(format_9_without_clicks.get(f"/v1/products/{p}").get_json()["promotion"]["clicks_30d"] is None
               for p in goods)
    assert any(client.get(f"/v1/products/{p}").get_json()["promotion"]["clicks_30d"] for p in goods)
    anchors = serving.model.anchor_ids.ids[:40].tolist()
    told = [r["code"] for a in anchors for item in format_9_without_clicks.get(f"/v1/anchors/{a}/picks?k=50")
            .get_json()["items"] for r in item["reasons"]]
    assert told and "fans_clicks" not in told


def test_the_service_reads_the_catalogue_from_the_artifact_s_mapped_files(serving):
    cols = serving.model.columns
    assert isinstance(cols.products["title"], TextColumn) and isinstance(cols.products["title"].blob, np.memmap)
    assert isinstance(cols.products["price"], np.memmap) and isinstance(cols.product_stats["sales_7d"], np.memmap)
    # what the ranking and the search keep are the mapped arrays themselves where nothing is missing
    assert serving.ranker.goods.price is cols.products["price"]
    assert serving.ranker.goods.sales[7] is cols.product_stats["sales_7d"]
