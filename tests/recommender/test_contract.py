"""The data contract: a valid snapshot loads and is coded; every kind of bad input is named precisely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recommender.contract import INVALID_GATES, MAX_BAD_FRACTION, ContractError, gate_columns, load_snapshot


def read(snapshot: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(snapshot / f"{table}.csv", dtype=str, keep_default_na=False)


def write(snapshot: Path, table: str, df: pd.DataFrame) -> None:
    df.to_csv(snapshot / f"{table}.csv", index=False)


def set_cell(snapshot: Path, table: str, row: int, column: str, value: str) -> None:
    df = read(snapshot, table)
    df.loc[row, column] = value
    write(snapshot, table, df)


def warnings_text(m) -> str:
    return "\n".join(str(p) for p in m.report.warnings)


# -- a valid snapshot ----------------------------------------------------------------------------------


def test_valid_csv_snapshot_loads_without_problems_and_keeps_chinese_text(tiny_csv):
    m = load_snapshot(tiny_csv)
    assert m.report.problems == []
    assert m.counts()["anchors"] == len(read(tiny_csv, "anchors"))
    assert m.products["title"].str.contains("[\u4e00-\u9fff]", regex=True).all()
    assert set(m.products["category"]) <= {"美妆", "服装", "3C数码", "珠宝", "食品/农产品", "家电", "母婴", "家居",
                                           "个护", "鞋靴箱包", "运动户外", "酒水茶饮"}


def test_relation_tables_carry_codes_that_point_at_their_ids(tiny_csv):
    m = load_snapshot(tiny_csv)
    raw = read(tiny_csv, "orders")
    first = m.orders.iloc[0]
    assert m.fan_ids.ids[first["fan"]] == raw.loc[0, "fan_id"]
    assert m.product_ids.ids[first["product"]] == raw.loc[0, "product_id"]
    assert m.anchor_ids.ids[m.follows["anchor"].to_numpy()].tolist() == m.follows["anchor_id"].tolist()


def test_parquet_and_csv_snapshots_of_the_same_data_agree(tmp_path):
    from fixtures.marketplace import generate, write_marketplace

    g = generate("tiny", seed=3)
    a = load_snapshot(write_marketplace(g, tmp_path / "p", "parquet"))
    b = load_snapshot(write_marketplace(g, tmp_path / "c", "csv"))
    assert a.counts() == b.counts()
    np.testing.assert_allclose(a.orders["amount"], b.orders["amount"])
    assert (a.orders["ordered_at"] == b.orders["ordered_at"]).all()


def test_timestamps_with_offsets_are_converted_to_utc(tiny_csv):
    set_cell(tiny_csv, "orders", 0, "ordered_at", "2026-10-01T08:00:00+08:00")
    m = load_snapshot(tiny_csv)
    row = m.orders[m.orders["order_id"] == read(tiny_csv, "orders").loc[0, "order_id"]]
    assert row["ordered_at"].iloc[0] == pd.Timestamp("2026-10-01 00:00:00")


def test_unix_times_are_read_in_the_unit_their_size_says_and_24_00_is_the_next_midnight(tiny_csv):
    when = pd.Timestamp("2026-10-01 12:30:00")
    seconds = int(when.timestamp())  # naive: read as UTC, as Unix times are
    for row, value in enumerate((str(seconds), str(seconds * 1000), f"{seconds}.5", "2026-10-01 24:00:00",
                                 "2026-10-01T24:00+08:00", f"{seconds}.123", f"{seconds * 10**9 + 123_456_789}",
                                 "2026-10-01 24:00 +08")):
        set_cell(tiny_csv, "orders", row, "ordered_at", value)
    ids = read(tiny_csv, "orders")["order_id"]
    m = load_snapshot(tiny_csv)
    got = m.orders.set_index("order_id").loc[ids[:8].tolist(), "ordered_at"].tolist()
    assert got == [when, when, when + pd.Timedelta(milliseconds=500), pd.Timestamp("2026-10-02"),
                   pd.Timestamp("2026-10-01 16:00"), when + pd.Timedelta(milliseconds=123),
                   when + pd.Timedelta(microseconds=123_457), pd.Timestamp("2026-10-01 16:00")]
    assert not m.report.warnings


@pytest.mark.parametrize("value", ["202610011230", "１７２７７８５８００", "99999999999999999999"])
def test_a_number_of_no_unix_time_s_size_is_an_invalid_time_not_a_date_in_1976(tiny_csv, value):
    """Compact YYYYMMDDHHMM text would read as milliseconds of 1976 if each unit began where the last ended;
    full-width digits are no Unix time; 20 digits of nanoseconds lie past 2262, where pandas' own conversion
    crashed the load. Each is the row's invalid value, named."""
    set_cell(tiny_csv, "orders", 0, "ordered_at", value)
    m = load_snapshot(tiny_csv)
    assert len(m.orders) == len(read(tiny_csv, "orders")) - 1
    assert any("ordered_at" in str(w) for w in m.report.warnings)


def test_unix_times_in_a_parquet_column_of_integers_are_times_and_a_small_number_is_no_time(tmp_path):
    from fixtures.marketplace import generate, write_marketplace

    snapshot = write_marketplace(generate("tiny", 0), tmp_path / "p", "parquet")
    orders = pd.read_parquet(snapshot / "orders.parquet")
    before = load_snapshot(snapshot).orders.set_index("order_id")["ordered_at"]
    millis = orders["ordered_at"].astype("datetime64[ms]").astype("int64").to_numpy().copy()
    millis[0] = 20261001  # a date written as a number, not a Unix time: invalid, named, the row dropped
    orders.assign(ordered_at=millis).to_parquet(snapshot / "orders.parquet")
    m = load_snapshot(snapshot)
    after = m.orders.set_index("order_id")["ordered_at"]
    assert len(after) == len(before) - 1 and (after == before.loc[after.index]).all()
    assert any("ordered_at" in str(w) and "Unix time" in str(w) for w in m.report.warnings)
    # nanoseconds with a part below the microsecond, and float seconds: read to the microsecond, not a crash
    nanos = orders["ordered_at"].astype("datetime64[ns]").astype("int64").to_numpy() + 123_456_789
    for column, shift in ((nanos, pd.Timedelta(microseconds=123_457)),
                          (nanos / 1e9, pd.Timedelta(microseconds=123_457))):
        orders.assign(ordered_at=column).to_parquet(snapshot / "orders.parquet")
        got = load_snapshot(snapshot).orders.set_index("order_id")["ordered_at"]
        assert (abs(got - (before.loc[got.index] + shift)) <= pd.Timedelta(microseconds=1)).all()


# -- fatal problems ------------------------------------------------------------------------------------


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(ContractError, match="does not exist"):
        load_snapshot(tmp_path / "nowhere")


def test_missing_required_table_is_fatal_and_named(tiny_csv):
    (tiny_csv / "orders.csv").unlink()
    with pytest.raises(ContractError, match=r"orders\.parquet\|csv: required table is missing"):
        load_snapshot(tiny_csv)


def test_missing_optional_shelf_table_is_fine(tiny_csv):
    (tiny_csv / "shelf.csv").unlink()
    m = load_snapshot(tiny_csv)
    assert len(m.shelf) == 0


def test_missing_required_column_is_fatal_and_names_file_and_column(tiny_csv):
    write(tiny_csv, "products", read(tiny_csv, "products").drop(columns=["commission_rate"]))
    with pytest.raises(ContractError) as err:
        load_snapshot(tiny_csv)
    assert "products.csv, column 'commission_rate': required column is missing" in str(err.value)


def test_a_missing_column_s_refusal_says_what_the_header_holds_instead(tiny_csv):
    """"required column is missing" sent the engineer looking for a column that was there as 'price ' or PRICE,
    or inside a header split on ';'."""
    products = read(tiny_csv, "products")
    write(tiny_csv, "products", products.rename(columns={"price": "Price "}))
    with pytest.raises(ContractError, match=r"the header has 'Price '; rename it 'price'"):
        load_snapshot(tiny_csv)
    products.to_csv(tiny_csv / "products.csv", index=False, sep=";")
    with pytest.raises(ContractError, match=r"the header reads as one column 'product_id;title;.*comma-separated"):
        load_snapshot(tiny_csv)
    write(tiny_csv, "products", products.rename(columns={"price": "售价"}))
    with pytest.raises(ContractError, match=r"price': required column is missing \(the header has 'product_id', "
                                            r"'title'.*'售价'"):
        load_snapshot(tiny_csv)


def test_every_fatal_problem_is_listed_at_once(tiny_csv):
    write(tiny_csv, "products", read(tiny_csv, "products").drop(columns=["price"]))
    write(tiny_csv, "fans", read(tiny_csv, "fans").drop(columns=["created_at"]))
    with pytest.raises(ContractError) as err:
        load_snapshot(tiny_csv)
    assert len(err.value.problems) == 2
    assert "'price'" in str(err.value) and "'created_at'" in str(err.value)


def test_table_in_both_formats_is_ambiguous(tiny_csv):
    read(tiny_csv, "fans").to_parquet(tiny_csv / "fans.parquet")
    with pytest.raises(ContractError, match=r"both fans\.parquet and fans\.csv exist"):
        load_snapshot(tiny_csv)


def test_a_utf16_file_is_named_as_such_not_as_a_bad_byte_of_some_line(tiny_csv):
    """A data engineer's probe: a spreadsheet's "Unicode text" read as lines 1 and 3 "e.g. from GBK"."""
    anchors = read(tiny_csv, "anchors")
    (tiny_csv / "anchors.csv").write_bytes(anchors.to_csv(index=False).encode("utf-16"))
    with pytest.raises(ContractError, match=r"anchors\.csv: cannot read file: .*\(UTF-16, as a spreadsheet saves "
                                            r"\"Unicode text\": re-save the file as CSV UTF-8\)"):
        load_snapshot(tiny_csv)


def test_file_that_is_not_utf8_is_fatal_and_says_where(tiny_csv):
    anchors = read(tiny_csv, "anchors")
    (tiny_csv / "anchors.csv").write_bytes(anchors.to_csv(index=False).encode("gbk"))
    first = next(i for i, row in anchors.iterrows() if not row.to_csv(header=False).isascii())
    column = next(c for c in anchors.columns if not str(anchors.loc[first, c]).isascii())
    with pytest.raises(ContractError, match=r"anchors\.csv: cannot read file") as failure:
        load_snapshot(tiny_csv)
    assert f"not UTF-8: line {first + 2} (row {first + 1}), column {column!r}" in str(failure.value)  # 1: header


def test_csv_cut_off_mid_row_is_fatal_and_names_the_last_line(tiny_csv):
    path = tiny_csv / "orders.csv"
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    path.write_bytes(b"\n".join(lines)[:-25])  # an export interrupted in its last row
    with pytest.raises(ContractError, match=r"orders\.csv: cannot read file") as failure:
        load_snapshot(tiny_csv)
    assert f"(line {len(lines)}, row {len(lines) - 1}; it is the file's last line: was the export cut off?)" in \
        str(failure.value)


def test_csv_cut_off_inside_its_last_row_s_first_field_still_names_the_last_line(tiny_csv):
    """A data engineer's probe: the fragment left (an order id's first digits) starts every line, and the first
    of them, line 2, was named."""
    path = tiny_csv / "orders.csv"
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    fragment = lines[-1][:4]
    assert sum(line.startswith(fragment) for line in lines) > 1
    path.write_bytes(b"\n".join([*lines[:-1], fragment]))
    with pytest.raises(ContractError) as failure:
        load_snapshot(tiny_csv)
    assert f"(line {len(lines)}, row {len(lines) - 1}; it is the file's last line: was the export cut off?)" in \
        str(failure.value)


def test_an_optional_table_meant_but_not_read_is_said(tiny_csv):
    (tiny_csv / "clicks.csv").rename(tiny_csv / "clicks.csv.gz")
    m = load_snapshot(tiny_csv)
    assert len(m.clicks) == 0 and "clicks.parquet|csv: optional table not read: found clicks.csv.gz" in (
        warnings_text(m))


@pytest.mark.parametrize(("make", "said"), [
    (lambda d: (d / "orders.csv").rename(d / "Orders.csv"), r"orders\.parquet\|csv: required table is missing: found "
                                                            r"Orders\.csv, but a table is read from orders\.csv"),
    (lambda d: (d / "orders.csv").rename(d / "orders.csv.gz"), r"required table is missing: found orders\.csv\.gz"),
    (lambda d: (d / "orders.csv").write_bytes(b""), r"orders\.csv: cannot read file: the file is empty \(0 bytes\)"),
    (lambda d: ((d / "orders.csv").unlink(), (d / "orders.csv").mkdir()),
     r"orders\.csv: cannot read file: a folder: .* partitioned Parquet folder \(orders\.parquet/\)"),
    (lambda d: ((d / "orders.csv").unlink(), (d / "orders.parquet" / "dt=2026-10-01").mkdir(parents=True)),
     r"orders\.parquet: no columns at all: a folder with no data files in it"),
], ids=["another case", "compressed", "empty file", "a csv folder", "an empty partitioned folder"])
def test_a_table_that_is_almost_there_is_named_with_what_the_contract_reads(tiny_csv, make, said):
    """A data engineer's probe: each of these read "required table is missing", "No columns to parse", "[Errno
    21]" or seven "required column is missing"."""
    make(tiny_csv)
    with pytest.raises(ContractError, match=said) as failure:
        load_snapshot(tiny_csv)
    assert str(failure.value).count("orders") < 6  # one problem, not one per column


def test_a_note_below_the_table_is_named_as_one_not_as_a_cut_off_export(tiny_csv):
    path = tiny_csv / "orders.csv"
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    path.write_bytes(b"\n".join([*lines, "导出人: 张三".encode()]) + b"\n")
    with pytest.raises(ContractError) as failure:
        load_snapshot(tiny_csv)
    assert f"(line {len(lines) + 1}, row {len(lines)}; it is the file's last line: a note below the table? Delete it)" \
        in str(failure.value)


def test_csv_row_with_a_stray_field_names_its_line(tiny_csv):
    path = tiny_csv / "fans.csv"
    lines = path.read_text().splitlines()
    lines[7] += ",extra"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ContractError, match=r"fans\.csv: cannot read file") as failure:
        load_snapshot(tiny_csv)
    assert "(line 8, row 7)" in str(failure.value) and "cut off" not in str(failure.value)


def test_a_column_named_twice_in_the_header_is_fatal(tiny_csv):
    path = tiny_csv / "products.csv"
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("brand", "title")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ContractError, match=r"products\.csv: cannot read file: the header names 'title' more"):
        load_snapshot(tiny_csv)


def test_duplicate_id_with_different_contents_is_fatal_and_names_rows(tiny_csv):
    df = read(tiny_csv, "products")
    clash = df.iloc[[0]].assign(price="999.9")
    write(tiny_csv, "products", pd.concat([df, clash], ignore_index=True))
    with pytest.raises(ContractError) as err:
        load_snapshot(tiny_csv)
    text = str(err.value)
    assert "products.csv, column 'product_id', rows 1, " in text
    assert f"duplicate product_id with different contents (values: '{df.loc[0, 'product_id']}'" in text


def test_too_many_bad_rows_refuse_the_snapshot(tiny_csv):
    df = read(tiny_csv, "orders")
    n_bad = int(len(df) * (MAX_BAD_FRACTION + 0.02))
    df.loc[: n_bad - 1, "quantity"] = "-1"
    write(tiny_csv, "orders", df)
    with pytest.raises(ContractError, match=r"orders\.csv: \d+ of \d+ rows \(\d+\.\d%\) are bad"):
        load_snapshot(tiny_csv)


def test_a_refused_table_names_its_most_common_problems_by_column_with_examples(tiny_csv):
    df = read(tiny_csv, "products")
    df["price"] = df["price"].astype(str) + "元"  # every price written with its unit
    write(tiny_csv, "products", df)
    with pytest.raises(ContractError) as info:
        load_snapshot(tiny_csv)
    text = str(info.value)
    assert "products.csv" in text and "are bad" in text and "most common problem follows" in text
    line = next(x for x in text.splitlines() if "column 'price'" in x)
    assert f"{len(df)} rows" in line and "元'" in line  # the count and an example value


# -- rows dropped with a counted warning ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("products", "price", "-5", "out of range: must be > 0"),
        ("products", "price", "0", "out of range: must be > 0"),  # a good for nothing is a broken row
        ("products", "commission_rate", "1.5", "out of range: must be between 0 and 1"),
        ("products", "price", "abc", "cannot parse as float"),
        ("products", "created_at", "yesterday", "cannot parse as timestamp"),
        ("orders", "quantity", "-2", "out of range: must be >= 1"),
        ("orders", "quantity", "1.5", "cannot parse as int"),
        ("orders", "quantity", "99999999999999999999", "cannot parse as int"),  # past int64: it wrapped negative
        ("orders", "fan_id", "", "required value is missing"),
        ("orders", "ordered_at", "2026-13-45 25:00", "cannot parse as timestamp"),
        ("orders", "ordered_at", "2062-01-01 08:00:00", "out of range: after the wall clock (a date in the future)"),
    ],
)
def test_bad_required_value_drops_the_row_and_names_file_column_row_value(tiny_csv, table, column, value, message):
    set_cell(tiny_csv, table, 4, column, value)
    n = len(read(tiny_csv, table))
    m = load_snapshot(tiny_csv)
    text = warnings_text(m)
    assert f"{table}.csv, column '{column}', row 5: {message}" in text
    if value:
        assert repr(value) in text
    assert m.report.rows_kept[table] <= n - 1


def test_a_commission_rate_of_90_percent_or_more_is_kept_and_named(tiny_csv):
    """Allowed by the contract, but far more likely "1" meant as 1% than an offer: one such best seller took the
    first pick of 15 of 50 rooms, with no word at training (probe)."""
    set_cell(tiny_csv, "products", 2, "commission_rate", "1")
    set_cell(tiny_csv, "products", 3, "commission_rate", "0.45")
    m = load_snapshot(tiny_csv)
    text = warnings_text(m)
    assert "products.csv, column 'commission_rate', row 3: commission rate of 90% or more" in text
    assert "row 4" not in text.split("commission rate of 90%")[0].splitlines()[-1]
    assert m.report.rows_kept["products"] == m.report.rows_read["products"]
    assert m.products["commission_rate"].max() == 1.0


def test_a_commission_rate_given_as_a_percentage_is_refused_and_not_also_kept(tiny_csv):
    """29.0 for 29%: out of range (the row goes); the operator's probe saw the same row also said "kept as given"."""
    set_cell(tiny_csv, "products", 2, "commission_rate", "29.0")
    text = warnings_text(load_snapshot(tiny_csv))
    row = [line for line in text.splitlines() if "column 'commission_rate', row 3" in line]
    assert row and all("kept as given" not in line for line in row) and any("out of range" in line for line in row)


def test_a_mistyped_future_year_does_not_become_the_snapshot_s_time(tiny_csv):
    """One order or follow dated 2062 would be the snapshot's latest moment: every 1/7/30-day window would be
    empty, and the registry would refuse every later snapshot as older. Such rows are dropped and named; an
    optional date is blanked."""
    before = load_snapshot(tiny_csv).snapshot_time
    set_cell(tiny_csv, "orders", 3, "ordered_at", "2062-01-01T08:00:00+08:00")
    set_cell(tiny_csv, "products", 2, "created_at", "2062-05-05")
    m = load_snapshot(tiny_csv)
    assert m.snapshot_time <= before
    text = warnings_text(m)
    assert "orders.csv, column 'ordered_at', row 4: out of range: after the wall clock" in text
    assert "products.csv, column 'created_at', row 3: out of range: after the wall clock" in text
    assert m.report.rows_kept["orders"] == m.report.rows_read["orders"] - 1


def test_unknown_reference_drops_the_row_and_says_which_table(tiny_csv):
    set_cell(tiny_csv, "orders", 2, "product_id", "123")
    m = load_snapshot(tiny_csv)
    assert "orders.csv, column 'product_id', row 3: unknown product_id: not in products (values: '123')" in (
        warnings_text(m))
    assert m.report.rows_kept["orders"] == m.report.rows_read["orders"] - 1


def test_unknown_integer_reference_in_parquet_drops_the_row_and_says_which(tmp_path):
    """Parquet keeps ids as int64, which are looked up without a null mask: an unknown one is still reported and
    its row dropped, and every other row keeps its code."""
    from fixtures.marketplace import generate, write_marketplace

    snapshot = write_marketplace(generate("tiny", 0), tmp_path / "p", "parquet")
    orders = pd.read_parquet(snapshot / "orders.parquet")
    orders.loc[2, "product_id"] = 123
    orders.to_parquet(snapshot / "orders.parquet")
    m = load_snapshot(snapshot)
    assert "orders.parquet, column 'product_id', row 3: unknown product_id: not in products" in warnings_text(m)
    assert m.report.rows_kept["orders"] == len(orders) - 1
    kept = orders.drop(index=2).reset_index(drop=True)
    assert (m.product_ids.ids[m.orders["product"].to_numpy()] == kept["product_id"].to_numpy()).all()


def test_dropping_an_entity_drops_the_rows_that_reference_it(tiny_csv):
    products = read(tiny_csv, "products")
    orders = read(tiny_csv, "orders")
    victim = orders["product_id"].value_counts().index[-1]  # the good with the fewest orders
    row = int(np.flatnonzero(products["product_id"] == victim)[0])
    set_cell(tiny_csv, "products", row, "price", "-1")
    m = load_snapshot(tiny_csv)
    assert victim not in set(m.products["product_id"].astype(str))
    assert (m.orders["product_id"].astype(str) != victim).all()
    # a data engineer's probe: "unknown product_id: not in products" sent them looking for an id that is there
    said = warnings_text(m)
    assert ("product_id of a row dropped from products (price: out of range: must be > 0); dropped with it"
            in said)
    assert "unknown product_id" not in said


def test_a_reference_to_no_row_at_all_is_still_unknown_beside_one_to_a_dropped_row(tiny_csv):
    orders = read(tiny_csv, "orders")
    orders.loc[0, "product_id"] = "6999999999"
    write(tiny_csv, "orders", orders)
    products = read(tiny_csv, "products")
    counts = orders["product_id"].value_counts().drop("6999999999")
    victim, other = counts.index[-2:]  # goods of few orders: under 5% of them
    set_cell(tiny_csv, "products", int(np.flatnonzero(products["product_id"] == victim)[0]), "price", "-1")
    set_cell(tiny_csv, "products", int(np.flatnonzero(products["product_id"] == other)[0]), "title", "")
    said = warnings_text(load_snapshot(tiny_csv))
    assert "orders.csv, column 'product_id', row 1: unknown product_id: not in products" in said
    # each reference names its own row's cause (a review: the table's first two causes were quoted for every one)
    assert "a row dropped from products (price: out of range: must be > 0); dropped with it" in said
    assert "a row dropped from products (title: required value is missing); dropped with it" in said
    assert "(title: required value is missing; price" not in said


@pytest.mark.parametrize(("table", "row", "column", "value", "bounds"), [
    ("anchors", 1, "shop_rating", "7", "between 0 and 5"),
    ("fans", 4, "spending_level", "0", "between 1 and 10"),  # the platform's 消费水平
])
def test_bad_optional_value_is_blanked_not_dropped(tiny_csv, table, row, column, value, bounds):
    set_cell(tiny_csv, table, row, column, value)
    m = load_snapshot(tiny_csv)
    assert f"{table}.csv, column '{column}', row {row + 1}: out of range: must be {bounds}; value blanked" in (
        warnings_text(m))
    assert m.report.rows_kept[table] == m.report.rows_read[table]
    assert pd.isna(getattr(m, table).loc[row, column])


def test_an_invalid_gate_value_is_blanked_and_flagged_so_its_gate_fails_closed(tiny_csv):
    """A refund rate written as a percentage (20.3) or an oversold stock (-3) read as unknown, and unknown passes
    the quality gates: the probe found such goods in picks and on boards. The contract flags them; a blank value
    stays unknown and unflagged."""
    set_cell(tiny_csv, "products", 0, "refund_rate", "20.3")
    set_cell(tiny_csv, "products", 1, "stock", "-3")
    set_cell(tiny_csv, "products", 2, "refund_rate", "")
    set_cell(tiny_csv, "anchors", 0, "violations", "many")
    m = load_snapshot(tiny_csv)
    bits, gates = m.products[INVALID_GATES].to_numpy(), gate_columns("products")
    assert bits[0] == 1 << gates.index("refund_rate") and bits[1] == 1 << gates.index("stock")
    assert (bits[2:] == 0).all()
    assert pd.isna(m.products.loc[0, "refund_rate"]) and pd.isna(m.products.loc[1, "stock"])
    assert ("products.csv, column 'refund_rate', row 1: out of range: must be between 0 and 1; value blanked, and "
            "the row fails its quality gate") in warnings_text(m)
    assert m.anchors[INVALID_GATES].tolist()[:2] == [1 << gate_columns("anchors").index("violations"), 0]
    assert INVALID_GATES not in m.fans  # no gate reads the fans table


def test_an_optional_column_with_no_value_at_all_is_named_not_dropped_silently(tiny_csv):
    fans = read(tiny_csv, "fans")
    fans["spending_level"] = ""
    write(tiny_csv, "fans", fans)
    m = load_snapshot(tiny_csv)
    assert (f"fans.csv, column 'spending_level': every value is blank: the column is not used; {len(fans)} rows "
            "affected") in warnings_text(m)
    assert m.report.rows_kept["fans"] == len(fans) and m.fans["spending_level"].isna().all()


def test_exact_duplicate_order_is_dropped_once(tiny_csv):
    df = read(tiny_csv, "orders")
    write(tiny_csv, "orders", pd.concat([df, df.iloc[[3]]], ignore_index=True))
    m = load_snapshot(tiny_csv)
    assert len(m.orders) == len(df)
    assert f"orders.csv, column 'order_id', row {len(df) + 1}: exact duplicate row" in warnings_text(m)


def test_repeated_follow_keeps_the_earliest(tiny_csv):
    df = read(tiny_csv, "follows")
    again = df.iloc[[0]].assign(followed_at="2026-10-30 12:00:00")
    write(tiny_csv, "follows", pd.concat([df, again], ignore_index=True))
    m = load_snapshot(tiny_csv)
    assert len(m.follows) == len(df)
    kept = m.follows[(m.follows["fan_id"] == df.loc[0, "fan_id"]) & (m.follows["anchor_id"] == df.loc[0, "anchor_id"])]
    assert kept["followed_at"].iloc[0] == pd.Timestamp(df.loc[0, "followed_at"])
    assert "listed more than once; kept the earliest" in warnings_text(m)


def test_refunded_accepts_common_spellings_and_rejects_others(tiny_csv):
    df = read(tiny_csv, "orders")
    df.loc[0, "refunded"], df.loc[1, "refunded"], df.loc[2, "refunded"] = "yes", "0", "maybe"
    write(tiny_csv, "orders", df)
    m = load_snapshot(tiny_csv)
    by_id = m.orders.set_index(m.orders["order_id"].astype(str))["refunded"]
    assert by_id[df.loc[0, "order_id"]] is True or by_id[df.loc[0, "order_id"]] == True  # noqa: E712
    assert not by_id[df.loc[1, "order_id"]]
    assert pd.isna(by_id[df.loc[2, "order_id"]])
    assert "orders.csv, column 'refunded', row 3: cannot parse as bool; value blanked" in warnings_text(m)


# -- the click log (optional) ---------------------------------------------------------------------------


def test_the_click_log_is_optional_and_coded_like_the_other_relation_tables(tiny_csv):
    m = load_snapshot(tiny_csv)
    clicks = read(tiny_csv, "clicks")
    assert len(m.clicks) == len(clicks) > 0 and m.counts()["clicks"] == len(clicks)
    assert (m.fan_ids.index(m.clicks["fan_id"].to_numpy()) == m.clicks["fan"]).all()
    assert (m.product_ids.index(m.clicks["product_id"].to_numpy()) == m.clicks["product"]).all()
    (tiny_csv / "clicks.csv").unlink()
    without = load_snapshot(tiny_csv)
    assert len(without.clicks) == 0 and without.report.problems == []


def test_a_click_on_an_unknown_good_is_dropped_and_a_repeated_click_is_another_click(tiny_csv):
    """A click log has no key: a fan may click a good twice in one second (or the export keeps the second only),
    so a repeated row is kept, not refused as a replay, whatever extra columns the export carries."""
    df = read(tiny_csv, "clicks").assign(source="商城")
    df.loc[2, "product_id"] = "123"
    again = df.iloc[[5, 5, 6]].assign(source=["商城", "搜索", "商城"])
    write(tiny_csv, "clicks", pd.concat([df, again], ignore_index=True))
    m = load_snapshot(tiny_csv)
    assert len(m.report.problems) == 1
    assert "clicks.csv, column 'product_id', row 3: unknown product_id: not in products (values: '123')" in (
        str(m.report.problems[0]))
    assert len(m.clicks) == len(df) - 1 + 3


def test_the_click_log_does_not_move_the_snapshot_time(tiny_csv):
    before = load_snapshot(tiny_csv).snapshot_time
    df = read(tiny_csv, "clicks")
    late = df.iloc[[0]].assign(clicked_at=str(before + pd.Timedelta(days=3)))
    write(tiny_csv, "clicks", pd.concat([df, late], ignore_index=True))
    m = load_snapshot(tiny_csv)
    assert m.snapshot_time == before and m.clicks["clicked_at"].max() > before


def test_a_split_cuts_the_click_log_at_its_moment(tiny_csv):
    m = load_snapshot(tiny_csv)
    cutoff = m.clicks["clicked_at"].quantile(0.5)
    cut = m.until(cutoff)
    assert len(cut.clicks) == (m.clicks["clicked_at"] < cutoff).sum() > 0
    assert cut.snapshot_time == cutoff


# -- what real exports write (a data engineer's probe, stop 40) -------------------------------------------

def _products_as_parquet(snapshot: Path, ids: np.ndarray | None = None, dtype: str = "int64") -> pd.DataFrame:
    """products.csv replaced by a Parquet table with integer ids (`ids` in place of the original ones)."""
    products = pd.read_csv(snapshot / "products.csv")
    if ids is not None:
        old = products["product_id"].astype(str).tolist()
        mapping = dict(zip(old, ids.tolist(), strict=True))
        for table in ("orders", "shelf", "clicks"):
            if (snapshot / f"{table}.csv").exists():
                df = read(snapshot, table)
                df["product_id"] = df["product_id"].map(mapping).astype(str)
                write(snapshot, table, df)
        products["product_id"] = np.asarray(ids).astype(dtype)
    products.to_parquet(snapshot / "products.parquet", index=False)
    (snapshot / "products.csv").unlink()
    return products


def test_a_text_marker_in_an_id_column_is_an_unknown_id_not_the_last_good(tiny_csv):
    """Integer ids in products.parquet, "-" in orders.csv: the marker became a missing value with code -1, which
    credited the orders to the last good (or crashed training)."""
    _products_as_parquet(tiny_csv)
    orders = read(tiny_csv, "orders")
    orders.loc[:9, "product_id"] = "-"
    write(tiny_csv, "orders", orders)
    m = load_snapshot(tiny_csv)
    assert (m.orders["product"] >= 0).all() and len(m.orders) == len(orders) - 10
    assert "orders.csv, column 'product_id', rows 1, 2, 3, 4, 5" in warnings_text(m) and "unknown product_id" in (
        warnings_text(m))


def test_ids_above_2_to_the_53_keep_every_digit_through_a_blank_cell(tiny_csv):
    """Text ids with one blank cell went through a float and were rounded onto their neighbours' ids."""
    n = len(read(tiny_csv, "products"))
    big = 2**53 + np.arange(n, dtype=np.int64)
    _products_as_parquet(tiny_csv, big)
    orders = read(tiny_csv, "orders")
    orders.loc[0, "product_id"] = ""  # the blank that turned the column into floats
    write(tiny_csv, "orders", orders)
    m = load_snapshot(tiny_csv)
    kept = orders.drop(index=0).reset_index(drop=True)
    assert (m.product_ids.ids[m.orders["product"].to_numpy()] == kept["product_id"].astype(np.int64)).all()


def test_unsigned_ids_past_int64_are_kept_as_their_digits_not_wrapped_negative(tiny_csv):
    n = len(read(tiny_csv, "products"))
    huge = np.uint64(2**63) + np.arange(n, dtype=np.uint64)
    _products_as_parquet(tiny_csv, huge, dtype="uint64")
    m = load_snapshot(tiny_csv)
    assert set(m.product_ids.ids.tolist()) == {str(int(x)) for x in huge}
    assert len(m.orders) == len(read(tiny_csv, "orders"))  # the text ids of orders.csv find them


@pytest.mark.parametrize(("true", "false"), [("是", "否"), ("1.0", "0.0"), ("Y", "N")])
def test_booleans_as_exports_write_them(tiny_csv, true, false):
    orders = read(tiny_csv, "orders")
    truth = orders["refunded"].str.lower() == "true"
    orders["refunded"] = np.where(truth, true, false)
    write(tiny_csv, "orders", orders)
    m = load_snapshot(tiny_csv)
    assert m.orders["refunded"].astype(bool).tolist() == truth.tolist() and not m.report.warnings


def test_an_optional_column_the_contract_cannot_read_at_all_is_refused_not_dropped(tiny_csv):
    """Refunds written 退款/未退款 were blanked with a warning, and every refund counted as a sale; refund rates as
    percentages blanked, and with them every good's gate."""
    orders = read(tiny_csv, "orders")
    orders["refunded"] = np.where(orders["refunded"].str.lower() == "true", "退款", "未退款")
    write(tiny_csv, "orders", orders)
    with pytest.raises(ContractError, match=r"orders\.csv, column 'refunded'.*cannot be read as true or false"):
        load_snapshot(tiny_csv)


def test_a_database_s_null_words_are_missing_values_not_invalid_ones(tiny_csv):
    products = read(tiny_csv, "products")
    products.loc[0, "refund_rate"], products.loc[1, "stock"] = "\\N", "NULL"
    products.loc[2, "brand"], products.loc[3, "brand"] = "\\N", "NA"
    write(tiny_csv, "products", products)
    m = load_snapshot(tiny_csv)
    assert pd.isna(m.products.loc[0, "refund_rate"]) and pd.isna(m.products.loc[1, "stock"])
    assert (m.products[INVALID_GATES] == 0).all()  # unknown, which passes the gates, not invalid
    assert pd.isna(m.products.loc[2, "brand"]) and m.products.loc[3, "brand"] == "NA"  # NA may be a brand's name
    assert "refund_rate" not in warnings_text(m)


def test_a_table_written_as_a_partitioned_parquet_directory_loads_and_is_fingerprinted(tiny_csv):
    orders = pd.read_csv(tiny_csv / "orders.csv")
    orders["dt"] = orders["ordered_at"].str[:10]
    orders.to_parquet(tiny_csv / "orders.parquet", partition_cols=["dt"], index=False)
    (tiny_csv / "orders.csv").unlink()
    m = load_snapshot(tiny_csv)
    assert len(m.orders) == len(orders) and len(m.fingerprint) == 64


def test_out_of_range_values_are_the_data_s_own_and_blanked_up_to_a_quarter_of_the_column(tiny_csv):
    """The review: 14 of 120 goods oversold (stock -3) refused the snapshot as a column "written another way";
    they are blanked and fail their gate, as one is."""
    products = read(tiny_csv, "products")
    products.loc[:13, "stock"] = "-3"
    write(tiny_csv, "products", products)
    m = load_snapshot(tiny_csv)
    assert (m.products[INVALID_GATES].to_numpy()[:14] == 1 << gate_columns("products").index("stock")).all()


def test_a_column_no_gate_reads_is_blanked_however_much_of_it_is_out_of_range(tiny_csv):
    """A review: a spending level of 0 ("not estimated") on 40% of fans refused the snapshot; a blank is what such
    a sentinel means."""
    fans = read(tiny_csv, "fans")
    fans.loc[: int(0.4 * len(fans)), "spending_level"] = "0"
    write(tiny_csv, "fans", fans)
    m = load_snapshot(tiny_csv)
    assert m.fans["spending_level"].isna().mean() >= 0.4 and "spending_level" in warnings_text(m)


@pytest.mark.parametrize(("column", "written", "hint"), [
    ("refund_rate", lambda v: (v.astype(float) * 100).round(1).astype(str), r"as percentages \(e\.g\. .*%\)\? Write"),
    ("shop_rating", lambda v: (v.astype(float) * 20).round(0).astype(str), r"on a 0-100 scale .* stars out of 5"),
    ("stock", lambda v: pd.Series("-1", index=v.index), r"-1, a common mark for \"unlimited\"\? Leave"),
])
def test_a_column_mostly_out_of_range_is_a_unit_and_refused_naming_it(tiny_csv, column, written, hint):
    """An export's refund rates as percentages (15.5), shop scores out of 100 or -1 for unlimited stock were
    blanked with a warning: every good failed its gate, and the model was trained and published with empty picks."""
    products = read(tiny_csv, "products")
    given = products[column].notna() & (products[column].astype(float) > 0)
    products.loc[given, column] = written(products.loc[given, column])
    write(tiny_csv, "products", products)
    with pytest.raises(ContractError, match=rf"products\.csv, column '{column}'.*out of range .*{hint}"):
        load_snapshot(tiny_csv)


def test_follows_exported_as_an_event_log_and_anonymous_clicks_are_dropped_not_a_refused_snapshot(tiny_csv):
    """Each follow listed again (an event log: 90% of the rows repeats) and clicks of visitors who are no fans
    (fan_id 0: not logged in) are what such tables hold, not a broken export: dropped, the rest kept."""
    follows = read(tiny_csv, "follows")
    write(tiny_csv, "follows", pd.concat([follows] * 10, ignore_index=True))
    clicks = read(tiny_csv, "clicks")
    clicks.loc[: len(clicks) // 10, "fan_id"] = "0"
    clicks.loc[len(clicks) // 10 + 1: len(clicks) // 5, "fan_id"] = ""  # a blank: as anonymous as a 0
    write(tiny_csv, "clicks", clicks)
    m = load_snapshot(tiny_csv)
    assert len(m.follows) == len(follows) and len(m.clicks) == len(clicks) - (len(clicks) // 5 + 1)
    assert "a visitor who is no fan" in warnings_text(m) and "listed more than once; kept the earliest" in (
        warnings_text(m))
    assert "(values: blank, blank" in warnings_text(m) and "nan" not in warnings_text(m)  # blanks said as such
    # a reference that is wrong is still a bad row: 20% of clicks naming unknown goods refuse the snapshot
    clicks = read(tiny_csv, "clicks")
    clicks.loc[len(clicks) * 3 // 4:, "product_id"] = "999999999"  # rows of real fans
    write(tiny_csv, "clicks", clicks)
    with pytest.raises(ContractError, match=r"clicks\.csv.*are bad, more than the 5%"):
        load_snapshot(tiny_csv)


def test_numbers_with_thousands_separators_are_read_as_numbers(tiny_csv):
    """A spreadsheet writes 1,299.00 for prices of ¥1,000 and more: those rows were dropped, with their orders."""
    products = read(tiny_csv, "products")
    products.loc[0, "price"], products.loc[1, "price"] = "1,299.00", "12,345"
    products.loc[2, "price"] = "1,29.0"  # not a grouping: still refused
    write(tiny_csv, "products", products)
    m = load_snapshot(tiny_csv)
    price = dict(zip(m.products["product_id"].astype(str), m.products["price"], strict=True))
    assert price[products.loc[0, "product_id"]] == 1299.0 and price[products.loc[1, "product_id"]] == 12345.0
    assert products.loc[2, "product_id"] not in price


def test_a_click_log_whose_clicks_mostly_name_no_fan_is_refused(tiny_csv):
    """Anonymous clicks are expected, a log of visitors (or fan ids remapped) is not: over half name no fan."""
    clicks = read(tiny_csv, "clicks")
    clicks["fan_id"] = "123456789"
    write(tiny_csv, "clicks", clicks)
    with pytest.raises(ContractError, match=r"clicks name no fan of the fans table"):
        load_snapshot(tiny_csv)


def test_orders_written_as_dates_only_are_said_to_lack_their_time_not_blamed_on_a_time_zone(tiny_csv):
    """A data engineer's probe: ordered_at as 2026-10-27 read "peak at 06:00-09:00 Beijing time ... without a
    zone?"."""
    orders = read(tiny_csv, "orders")
    orders["ordered_at"] = orders["ordered_at"].str[:10]
    write(tiny_csv, "orders", orders)
    said = warnings_text(load_snapshot(tiny_csv))
    assert "orders.csv, column 'ordered_at': every order is at 00:00:00 UTC: dates without a time of day?" in said
    assert "the middle of the night" not in said


def test_a_placeholder_price_far_from_what_buyers_paid_is_said_and_kept(tiny_csv):
    """A data engineer's probe: ¥999,999 on goods whose orders paid about ¥50 passed without a word (the ranking
    gates such goods out: ranking.gates.mispriced)."""
    assert "placeholder price" not in warnings_text(load_snapshot(tiny_csv))
    orders, products = read(tiny_csv, "orders"), read(tiny_csv, "products")
    best = orders["product_id"].value_counts().index[:3]
    products.loc[products["product_id"].isin(best), "price"] = "999999"
    write(tiny_csv, "products", products)
    m = load_snapshot(tiny_csv)
    assert "products.csv, column 'price'" in warnings_text(m) and "(a placeholder price?)" in warnings_text(m)
    assert "; 3 rows affected" in warnings_text(m) and (m.products["price"] == 999999).sum() == 3


def test_orders_peaking_in_the_beijing_night_are_said_to_be_beijing_times_without_a_zone(tiny_csv):
    """Read as UTC, a naive Beijing export lands every order 8 hours late: the evening peak at 04:00-06:00."""
    assert "the middle of the night" not in warnings_text(load_snapshot(tiny_csv))  # the generator writes UTC
    orders = read(tiny_csv, "orders")
    naive = pd.to_datetime(orders["ordered_at"], format="ISO8601") + pd.Timedelta(hours=8)
    orders["ordered_at"] = naive.dt.strftime("%Y-%m-%d %H:%M:%S")
    write(tiny_csv, "orders", orders)
    said = warnings_text(load_snapshot(tiny_csv))
    assert "orders.csv, column 'ordered_at': orders peak at 0" in said and "write +08:00" in said
    assert f"; {len(orders)} rows affected" in said  # every order is shifted, not one

