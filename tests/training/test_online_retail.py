"""The Online Retail conversion drops exactly the lines its rules name and writes a snapshot the contract accepts."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from recommender.contract import load_snapshot
from training.online_retail import (
    DEFAULT_SOURCE,
    YUAN_PER_POUND,
    coarse_categories,
    convert_online_retail,
    prepared,
    title_category,
)

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
# One line per case; the comment is the rule that drops it (nothing: kept). File line = index + 2.
LINES = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",
    "536366,85123A,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-02 09:00:00,2.55,13047.0,United Kingdom",
    "536367,85123A,CREAM HANGING HEART T-LIGHT HOLDER,1,2010-12-03 10:00:00,2.95,13047.0,France",
    '536368,22720,"SET OF 3 CAKE TINS, PANTRY DESIGN",3,2010-12-03 11:00:00,4.95,13047.0,United Kingdom',
    "536369,21730,GLASS STAR FROSTED T-LIGHT HOLDER,4,2010-12-03 12:00:00,4.25,,United Kingdom",  # missing_customer
    "C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-1,2010-12-04 09:00:00,2.55,17850.0,United Kingdom",  # C
    "A563186,B,Adjust bad debt,1,2010-12-04 10:00:00,11062.06,17850.0,United Kingdom",  # A adjustment
    "536370,22086,PAPER CHAIN KIT 50'S CHRISTMAS,-2,2010-12-01 07:00:00,2.95,13047.0,United Kingdom",  # quantity
    "536372,21777,RECIPE BOX WITH METAL HEART,1,2010-12-04 11:00:00,0.0,17850.0,United Kingdom",  # price
    "536373,POST,POSTAGE,1,2010-12-04 12:00:00,18.0,12583.0,France",  # non_product_code
    "536374,BANK CHARGES,Bank Charges,1,2010-12-04 13:00:00,15.0,17850.0,United Kingdom",  # non_product_code
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom",  # exact_duplicate
    "536375,85123a,WHITE HANGING HEART T-LIGHT HOLDER,3,2010-12-05 09:00:00,2.55,12583.0,France",
]
KEPT_LINES = [2, 3, 4, 5, 6, 15]


def write_raw(path: Path) -> Path:
    text = "\n".join([HEADER, *LINES]) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def converted(tmp_path):
    source = write_raw(tmp_path / "raw.csv.gz")
    out = tmp_path / "snapshot"
    return convert_online_retail(out, source=source), out


def test_each_rule_drops_exactly_its_lines_in_order(converted):
    report, out = converted
    assert report.dropped == {
        "missing_customer": 1,
        "cancellation_or_adjustment": 2,  # the C line's negative quantity is not counted again
        "non_positive_quantity": 1,
        "non_positive_price": 1,
        "non_product_code": 2,
        "exact_duplicate": 1,
    }
    assert list(report.dropped) == ["missing_customer", "cancellation_or_adjustment", "non_positive_quantity",
                                    "non_positive_price", "non_product_code", "exact_duplicate"]
    assert (report.rows_read, report.rows_kept, report.customers, report.products) == (14, 6, 3, 3)
    assert json.loads((out / "cleaning_report.json").read_text()) == report.to_dict()


def test_snapshot_loads_without_any_problem(converted):
    _, out = converted
    m = load_snapshot(out)
    assert m.report.problems == []
    assert m.counts() == {"anchors": 3, "fans": 3, "products": 3, "follows": 3, "orders": 6, "shelf": 0, "clicks": 0}
    assert m.fan_ids.is_integer and m.anchor_ids.is_integer and not m.product_ids.is_integer


def test_customer_id_written_as_float_becomes_the_integer_everywhere(converted):
    _, out = converted
    fans = pd.read_parquet(out / "fans.parquet")
    anchors = pd.read_parquet(out / "anchors.parquet")
    orders = pd.read_parquet(out / "orders.parquet")
    for ids in (fans["fan_id"], anchors["anchor_id"], orders["fan_id"], orders["anchor_id"]):
        assert ids.dtype == "int64"
    assert sorted(fans["fan_id"]) == sorted(anchors["anchor_id"]) == [12583, 13047, 17850]
    assert set(orders["fan_id"]) == {12583, 13047, 17850}
    assert (orders["fan_id"] == orders["anchor_id"]).all()
    assert anchors.set_index("anchor_id").loc[17850, "name"] == "customer 17850"


def test_each_customer_follows_itself_from_its_first_kept_invoice(converted):
    _, out = converted
    fans = pd.read_parquet(out / "fans.parquet").set_index("fan_id")
    follows = pd.read_parquet(out / "follows.parquet")
    assert (follows["fan_id"] == follows["anchor_id"]).all() and len(follows) == 3
    # 13047's dropped negative-quantity line at 07:00 on Dec 1 is earlier but does not count
    assert fans.loc[13047, "created_at"] == pd.Timestamp("2010-12-02 09:00:00")
    assert fans.loc[13047, "region"] == "United Kingdom"  # 2 UK lines kept vs 1 France
    assert fans.loc[12583, "region"] == "France"
    first = follows.set_index("fan_id")["followed_at"]
    assert (first.sort_index() == fans["created_at"].sort_index()).all()


def test_product_takes_its_most_frequent_description_and_median_price(converted):
    _, out = converted
    products = pd.read_parquet(out / "products.parquet").set_index("product_id")
    assert sorted(products.index) == ["22720", "71053", "85123A"]  # 85123a folded into 85123A
    heart = products.loc["85123A"]
    assert heart["title"] == "WHITE HANGING HEART T-LIGHT HOLDER"  # 3 lines, against 1 CREAM (alphabetically first)
    assert heart["price"] == pytest.approx(round(2.55 * YUAN_PER_POUND, 2))  # median of £2.55, 2.55, 2.95, 2.55
    assert heart["category"] == "HOLDER"
    assert heart["created_at"] == pd.Timestamp("2010-12-01 08:26:00")
    assert products.loc["22720", "title"] == "SET OF 3 CAKE TINS, PANTRY DESIGN"
    assert set(products["merchant_id"]) == {"online_retail"}
    assert (products["commission_rate"] == 0.0).all()


def test_one_order_per_kept_line_with_unique_ids_and_amount_quantity_times_price(converted):
    _, out = converted
    orders = pd.read_parquet(out / "orders.parquet")
    assert orders["order_id"].is_unique
    assert list(orders["order_id"]) == [f"{LINES[n - 2].split(',')[0]}-{n}" for n in KEPT_LINES]
    raw = pd.read_csv(io.StringIO("\n".join([HEADER, *LINES])), dtype={"InvoiceNo": str})
    line_price = raw["UnitPrice"].to_numpy()[[n - 2 for n in KEPT_LINES]]
    assert orders["amount"].to_numpy() == pytest.approx(orders["quantity"].to_numpy() * line_price * YUAN_PER_POUND,
                                                         abs=0.005)  # pounds to yuan, to the fen
    assert orders["quantity"].dtype == "int64" and (orders["quantity"] >= 1).all()
    assert not orders["refunded"].any()
    assert orders.loc[orders["order_id"] == "536375-15", "product_id"].item() == "85123A"


def test_a_cancellation_marks_the_sale_it_undid_refunded(tmp_path):
    lines = [
        "581483,23843,PAPER CRAFT LITTLE BIRDIE,80995,2011-12-09 09:15:00,2.08,16446.0,United Kingdom",
        "581484,23843,PAPER CRAFT LITTLE BIRDIE,12,2011-12-09 09:20:00,2.08,16446.0,United Kingdom",
        "C581485,23843,PAPER CRAFT LITTLE BIRDIE,-80995,2011-12-09 09:27:00,2.08,16446.0,United Kingdom",
        "C581486,23843,PAPER CRAFT LITTLE BIRDIE,-5,2011-12-09 09:30:00,2.08,16446.0,United Kingdom",  # partial
        "C581487,23843,PAPER CRAFT LITTLE BIRDIE,-12,2011-12-09 09:00:00,2.08,16446.0,United Kingdom",  # before it
        "C581488,23843,PAPER CRAFT LITTLE BIRDIE,-12,2011-12-09 09:40:00,2.08,12583.0,France",  # someone else's
    ]
    source = tmp_path / "raw.csv"
    source.write_text("\n".join([HEADER, *lines]) + "\n")
    report = convert_online_retail(tmp_path / "snapshot", source=source)
    orders = pd.read_parquet(tmp_path / "snapshot" / "orders.parquet").set_index("order_id")
    assert orders["refunded"].to_dict() == {"581483-2": True, "581484-3": False}
    assert (report.cancellations, report.cancellations_matched, report.rows_kept) == (4, 1, 2)


def test_two_cancellations_of_two_like_sales_refund_both(tmp_path):
    lines = [
        "581483,23843,PAPER CRAFT LITTLE BIRDIE,12,2011-12-09 09:15:00,2.08,16446.0,United Kingdom",
        "581484,23843,PAPER CRAFT LITTLE BIRDIE,12,2011-12-09 09:20:00,2.08,16446.0,United Kingdom",
        "C581485,23843,PAPER CRAFT LITTLE BIRDIE,-12,2011-12-09 09:27:00,2.08,16446.0,United Kingdom",
        "C581486,23843,PAPER CRAFT LITTLE BIRDIE,-12,2011-12-09 09:30:00,2.08,16446.0,United Kingdom",
        "C581487,23843,PAPER CRAFT LITTLE BIRDIE,-12,2011-12-09 09:40:00,2.08,16446.0,United Kingdom",  # a third
    ]
    source = tmp_path / "raw.csv"
    source.write_text("\n".join([HEADER, *lines]) + "\n")
    report = convert_online_retail(tmp_path / "snapshot", source=source)
    orders = pd.read_parquet(tmp_path / "snapshot" / "orders.parquet")
    assert orders["refunded"].all() and report.cancellations_matched == 2


def test_online_retail_is_converted_once_and_reused_from_the_cache(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    source = write_raw(tmp_path / "data" / "online_retail.csv.gz")
    monkeypatch.setenv("XUANPIN_ONLINE_RETAIL", str(tmp_path / "data"))  # the folder holding the file
    monkeypatch.setenv("XUANPIN_CACHE_DIR", str(tmp_path / "cache"))
    first, report, fresh = prepared()
    assert fresh and report.rows_kept == len(KEPT_LINES) and load_snapshot(first).report.problems == []
    again, report_again, fresh_again = prepared()
    assert again == first and not fresh_again and report_again == report
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.name]  # no temporary copy left behind
    source.write_bytes(gzip.compress(("\n".join([HEADER, *LINES[:3]]) + "\n").encode()))  # another file
    other, _, fresh_other = prepared()
    assert other != first and fresh_other


def test_csv_output_from_an_uncompressed_source_also_loads_cleanly(tmp_path):
    source = write_raw(tmp_path / "raw.csv")
    out = tmp_path / "snapshot"
    report = convert_online_retail(out, source=source, fmt="csv")
    assert report.rows_kept == 6
    assert sorted(p.name for p in out.iterdir()) == [
        "anchors.csv", "cleaning_report.json", "fans.csv", "follows.csv", "orders.csv", "products.csv",
    ]
    m = load_snapshot(out)
    assert m.report.problems == []
    assert len(m.orders) == 6


def test_category_is_the_last_real_word_of_the_title():
    titles = pd.Series([
        "WHITE HANGING HEART T-LIGHT HOLDER",
        "SET OF 3",  # a number, then a two-letter word, are skipped
        "JUMBO BAG 50",
        "paper chain kit 50's christmas",  # upper-cased; "S" is too short
        "HEART OF WICKER SMALL",
        "3D",  # no word of three letters: OTHER
    ])
    assert title_category(titles).tolist() == ["HOLDER", "SET", "BAG", "CHRISTMAS", "SMALL", "OTHER"]


def test_only_the_most_common_categories_survive():
    titles = pd.Series(["A BOX", "B BOX", "C BOX", "A MUG", "B MUG", "A CUP", "B CUP", "A TIN"])
    # BOX has 3 titles; MUG and CUP tie with 2 and CUP wins alphabetically; TIN and MUG become OTHER
    assert coarse_categories(titles, keep=2).tolist() == ["BOX", "BOX", "BOX", "OTHER", "OTHER", "CUP", "CUP",
                                                          "OTHER"]


def test_missing_source_names_the_path(tmp_path):
    source = tmp_path / "nowhere" / "online_retail.csv.gz"
    with pytest.raises(FileNotFoundError, match="shared/data/online_retail") as info:
        convert_online_retail(tmp_path / "out", source=source)
    assert str(source) in str(info.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not DEFAULT_SOURCE.exists(), reason="../shared/data/online_retail is absent")
def test_real_file_matches_the_published_cleaning_counts(tmp_path):
    report = convert_online_retail(tmp_path / "snapshot")
    assert (report.rows_read, report.rows_kept, report.customers, report.products) == (541909, 391150, 4334, 3659)
    # PROVENANCE.md: 396,337 lines pass the filters, 391,150 once exact duplicates go
    assert report.rows_kept + report.dropped["exact_duplicate"] == 396337
    # Every non-cancellation line with a negative quantity is anonymous, so that rule finds nothing left to drop.
    assert report.dropped["non_positive_quantity"] == 0
    assert all(n > 0 for reason, n in report.dropped.items() if reason != "non_positive_quantity")
    assert report.dropped["missing_customer"] == 135080
    m = load_snapshot(tmp_path / "snapshot")
    assert m.report.problems == []
    assert m.counts()["orders"] == 391150
    # PROVENANCE.md: the largest order (invoice 581483, 80,995 units) was cancelled in full the same day
    biggest = m.orders.loc[m.orders["quantity"].idxmax()]
    assert biggest["quantity"] == 80995 and biggest["refunded"]
    assert 0 < report.cancellations_matched < report.cancellations


@pytest.mark.skipif(not DEFAULT_SOURCE.exists(), reason="../shared/data/online_retail is absent")
def test_train_accepts_online_retail_and_converts_it_once(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from recommender.artifact import load_model
    from recommender.cli import main

    monkeypatch.setenv("XUANPIN_CACHE_DIR", str(tmp_path / "cache"))
    first = CliRunner().invoke(main, ["train", "--data", "online-retail", "--out", str(tmp_path / "model")])
    assert first.exit_code == 0, first.output
    assert "Online Retail: kept 391,150 of 541,909 lines" in first.output
    again = CliRunner().invoke(main, ["evaluate", "--data", "online-retail", "--out", str(tmp_path / "report"),
                                      "--tasks", "anchor_goods", "--max-users", "50"])
    assert again.exit_code == 0, again.output
    assert "kept 391,150" not in again.output  # the cached snapshot, not a second conversion
    assert len(list((tmp_path / "cache").iterdir())) == 1
    model = load_model(tmp_path / "model")
    heart = model.columns.products.row(model.product_ids.index(["85123A"])[0])
    assert heart["price"] == pytest.approx(2.95 * YUAN_PER_POUND, abs=0.01)  # its median £2.95, in yuan


@pytest.mark.parametrize(("damage", "said"), [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), r"cut off or damaged \(re-download it\)"),
    (lambda p: p.write_bytes(gzip.compress("\n".join([HEADER, *LINES, "536376,1,CAFÉ,1,2010-12-06 09:00:00,1.0,"
                                                      "12583.0,France"]).encode("latin-1"))), "not UTF-8"),
    (lambda p: p.write_bytes(p.read_bytes()[:20] + b"\x00garbage" * 50), r"cut off or damaged \(re-download it\)"),
], ids=["a truncated download", "a Latin-1 copy", "a damaged deflate stream"])
def test_a_damaged_source_file_is_named_with_what_to_do(tmp_path, damage, said):
    """A data engineer's probe: a truncated .csv.gz printed only "Aborted!", a Latin-1 copy a traceback."""
    from recommender.errors import ContractError

    source = write_raw(tmp_path / "raw.csv.gz")
    damage(source)
    with pytest.raises(ContractError, match=rf"raw\.csv\.gz: cannot read the Online Retail export: {said}"):
        convert_online_retail(tmp_path / "snapshot", source=source)
