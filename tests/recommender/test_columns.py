"""Catalogue columns as the artifact maps them: text as a UTF-8 blob with offsets, numbers as arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recommender.columns import Columns, TextColumn, days_before


def test_text_round_trips_with_missing_values_as_none():
    values = ["保湿 面霜", None, "", "ＸＬ T恤", float("nan"), "a"]
    col = TextColumn.encode(values)
    assert len(col) == 6 and col.blob.dtype == np.uint8 and col.offsets.dtype == np.int64
    assert [col[i] for i in range(6)] == ["保湿 面霜", None, None, "ＸＬ T恤", None, "a"]
    assert col.tolist() == [col[i] for i in range(6)]
    assert col.arrow().to_pylist() == ["保湿 面霜", "", "", "ＸＬ T恤", "", "a"]


def test_factorize_is_pandas_sorted_factorize_with_missing_as_minus_one():
    values = ["美妆", "服装", None, "美妆", "3C数码", "服装"]
    codes, labels = TextColumn.encode(values).factorize()
    want_codes, want_labels = pd.factorize(pd.Series(values), sort=True)
    assert codes.tolist() == want_codes.tolist() and labels == list(want_labels)


def test_numbers_are_the_array_itself_when_nothing_is_missing_else_filled():
    price = np.array([1.5, 2.0, 3.25])
    table = Columns({"price": price, "stock": np.array([1.0, np.nan, 3.0])}, 3)
    assert table.numbers("price", 0.0) is price
    assert table.numbers("stock", np.inf).tolist() == [1.0, np.inf, 3.0]
    assert table.numbers("refund_rate", 0.0).tolist() == [0.0, 0.0, 0.0]  # no such column: the default
    assert table.value("stock", 1) is None and table.value("stock", 2) == 3.0 and table.value("brand", 0) is None


def test_a_column_of_another_length_is_refused():
    with pytest.raises(ValueError, match="column b: 2 rows, the table has 3"):
        Columns({"a": np.zeros(3), "b": np.zeros(2)}, 3)


def test_a_frame_round_trips_through_columns():
    df = pd.DataFrame({"title": ["甲", None], "price": [1.0, 2.5], "stock": pd.array([3, None], "Int64"),
                       "created_at": pd.to_datetime(["2026-01-01 08:00", "2026-01-02 00:00"]).astype("datetime64[us]")})
    table = Columns.from_frame(df)
    assert isinstance(table["title"], TextColumn) and table["stock"].dtype == np.float64
    assert table.row(1) == {"title": None, "price": 2.5, "stock": None, "created_at": pd.Timestamp("2026-01-02")}
    back = table.frame()
    assert back["title"].iloc[0] == "甲" and back["title"].isna().tolist() == [False, True]
    assert back["stock"].isna().tolist() == [False, True]
    now = pd.Timestamp("2026-01-03")
    np.testing.assert_allclose(days_before(now, table["created_at"]), [1 + 16 / 24, 1.0])
