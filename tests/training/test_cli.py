"""The xuanpin command: generate -> train -> inspect, and clear failures."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from recommender.artifact import load_model
from recommender.cli import main
from recommender.ranking import Ranker
from training.cli import _page_yuan


def test_generate_train_inspect(tmp_path):
    runner = CliRunner()
    snap, art = tmp_path / "snap", tmp_path / "art"
    r = runner.invoke(main, ["generate", "--scale", "tiny", "--seed", "1", "--out", str(snap)])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and (snap / "orders.parquet").exists() and (snap / "truth/truth.json").exists()
    # two lines say what the marketplace is (make run prints them before training), counted from what was written
    import pandas as pd

    orders, products = pd.read_parquet(snap / "orders.parquet"), pd.read_parquet(snap / "products.parquet")
    what, truth = r.output.splitlines()[-2:]
    assert what.startswith("A synthetic live-commerce marketplace (tiny, seed 1), "
                           f"{orders['ordered_at'].min():%Y-%m-%d} to {orders['ordered_at'].max():%Y-%m-%d}: ")
    fans, anchors = (len(pd.read_parquet(snap / f"{name}.parquet")) for name in ("fans", "anchors"))
    for figure in (f"{fans:,} fans", f"{anchors:,} anchors", f"{len(orders):,} orders",
                   f"{len(products):,} goods of {products['merchant_id'].nunique():,} merchants"):
        assert figure in what, (figure, what)
    assert truth.startswith("Generated with its ground truth") and "truth/" in truth
    r = runner.invoke(main, ["train", "--data", str(snap), "--out", str(art)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["inspect", str(art), "--anchors", "2", "-k", "3"])
    assert r.exit_code == 0, r.output
    assert "model " in r.output and r.output.count("\nanchor ") == 2 and "佣金" in r.output
    # the picks as the service ranks them: their expected commission in yuan and their first reason
    first = Ranker(load_model(art)).picks(int(np.argmax(load_model(art).anchor_stats["orders_all"])), 3).items[0]
    assert f"预期佣金 {_page_yuan(first.breakdown['expected_commission_30d'])}/30天" in r.output
    assert first.reasons[0]["text"] in r.output


def test_inspect_writes_yuan_as_the_page_does():
    assert [_page_yuan(x) for x in (0.14, 4.594, 9.995, 69.67, 98.5, 99.5, 100, 7677.2, 12_345)] == \
        ["¥0.14", "¥4.59", "¥9.99", "¥70", "¥99", "¥100", "¥100", "¥7,677", "¥1.2万"]


def test_train_on_a_broken_snapshot_names_the_problem_and_fails(tmp_path):
    runner = CliRunner()
    snap = tmp_path / "snap"
    runner.invoke(main, ["generate", "--scale", "tiny", "--out", str(snap), "--format", "csv"])
    (snap / "fans.csv").unlink()
    r = runner.invoke(main, ["train", "--data", str(snap), "--out", str(tmp_path / "art")])
    assert r.exit_code == 1
    assert "fans.parquet|csv: required table is missing" in r.output
    assert not (tmp_path / "art").exists()


def test_inspect_refuses_something_that_is_not_an_artifact(tmp_path):
    r = CliRunner().invoke(main, ["inspect", str(tmp_path)])
    assert r.exit_code == 1 and "no manifest" in r.output


@pytest.mark.parametrize("args, named", [(["-k", "0"], "'-k'"), (["-k", "-2"], "'-k'"),
                                          (["--anchors", "-1"], "'--anchors'")])
def test_inspect_refuses_counts_out_of_range_naming_the_option(small_artifact, args, named):
    r = CliRunner().invoke(main, ["inspect", str(small_artifact), *args])
    assert r.exit_code == 2 and "Invalid value for" in r.output and named in r.output, r.output


def test_train_options_override_the_configuration_and_land_in_the_manifest(tmp_path):
    import json

    runner = CliRunner()
    snap, art = tmp_path / "snap", tmp_path / "art"
    runner.invoke(main, ["generate", "--scale", "tiny", "--out", str(snap)])
    r = runner.invoke(main, ["train", "--data", str(snap), "--out", str(art), "--algorithm", "bpr", "--threads", "1"])
    assert r.exit_code == 0, r.output
    config = json.loads((art / "manifest.json").read_text(encoding="utf-8"))["parameters"]
    assert config["factors"]["algorithm"] == "bpr" and config["threads"] == 1


def test_a_bad_option_value_is_a_clean_error(tmp_path):
    runner = CliRunner()
    snap = tmp_path / "snap"
    runner.invoke(main, ["generate", "--scale", "tiny", "--out", str(snap)])
    r = runner.invoke(main, ["train", "--data", str(snap), "--out", str(tmp_path / "art"), "--threads", "0"])
    assert r.exit_code == 1 and "threads" in r.output and "Traceback" not in r.output


def test_an_orders_table_without_valid_rows_is_a_contract_error_not_a_traceback(tmp_path):
    import pandas as pd

    runner = CliRunner()
    snap = tmp_path / "snap"
    runner.invoke(main, ["generate", "--scale", "tiny", "--out", str(snap), "--format", "csv"])
    orders = pd.read_csv(snap / "orders.csv", dtype=str)
    orders.iloc[:0].to_csv(snap / "orders.csv", index=False)  # the header alone
    r = runner.invoke(main, ["train", "--data", str(snap), "--out", str(tmp_path / "art")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "orders" in r.output and "no valid rows" in r.output


def test_train_tune_tunes_on_the_last_days_then_trains_with_what_it_chose(tmp_path, small_snapshot):
    from training.config import TrainConfig

    art = tmp_path / "art"
    r = CliRunner().invoke(main, ["train", "--data", str(small_snapshot), "--out", str(art), "--tune",
                                  "--tune-trials", "4", "--threads", "1"])
    assert r.exit_code == 0, r.output
    tuned = tmp_path / "art.tuning" / "tuned.toml"
    assert "[vectors 1/" in r.output and f"tuned configuration: {tuned}" in r.output
    man = load_model(art).manifest
    assert man["parameters"] == TrainConfig.from_file(tuned).model_dump(mode="json")
    assert man["tuning"]["config_file"] == str(tuned)
    assert man["tuning"]["split"]["test_days_held_out"] == 0  # the served model's tuning holds nothing back
    assert set(man["tuning"]["stages"]) == {"vectors", "content", "trend", "rebuy", "anchors", "shelf_rate"}
    again = CliRunner().invoke(main, ["train", "--data", str(small_snapshot), "--out", str(art), "--tune"])
    assert again.exit_code != 0 and "--overwrite" in again.output and "[vectors" not in again.output


def test_generate_refuses_a_click_volume_that_is_not_a_finite_number(tmp_path):
    runner = CliRunner()
    for bad in ("nan", "inf", "-1"):
        r = runner.invoke(main, ["generate", "--scale", "tiny", "--out", str(tmp_path / "s"), "--clicks", bad])
        assert r.exit_code == 2 and "--clicks" in r.output and "Traceback" not in r.output, (bad, r.output)
    r = runner.invoke(main, ["generate", "--scale", "tiny", "--out", str(tmp_path / "s"), "--traffic", "nan"])
    assert r.exit_code == 2 and "--traffic" in r.output


def test_inspect_prints_a_pick_without_reasons_as_a_dash(small_artifact, monkeypatch):
    """A catalogue without commissions (Online Retail's) can leave a pick with no reason at all: inspect says
    '—' where it raised an IndexError."""
    picks = Ranker.picks

    def without_reasons(self, *args, **kwargs):
        page = picks(self, *args, **kwargs)
        for item in page.items:
            item.audience_reason, item.good_reasons, item.fit_reasons, item.own_sales = None, (), (), None
            item.outside = False
        return page

    monkeypatch.setattr(Ranker, "picks", without_reasons)
    r = CliRunner().invoke(main, ["inspect", str(small_artifact), "--anchors", "2", "-k", "3"])
    assert r.exit_code == 0, r.output
    lines = [x for x in r.output.splitlines() if x.startswith("  预期佣金") or x.startswith("  匹配度")]
    assert lines and all(x.endswith("| —") for x in lines), r.output


def test_the_old_module_entry_point_fails_loudly_instead_of_doing_nothing():
    """`python -m training.cli nightly ...` ran nothing and exited 0 once the jobs moved under `xuanpin`: a cron
    line nobody changed would have skipped every night in silence (README audit)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "training.cli", "nightly", "--data", "x", "--registry", "y"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "python -m recommender.cli" in r.stderr, (r.returncode, r.stderr)


def test_inspect_says_a_room_s_fans_bought_nothing_rather_than_listing_zeros():
    """A room whose fans bought nothing printed "3C数码 0%, 个护 0%, 家居 0%" (probe)."""
    from training.cli import _bought

    labels = ["美妆", "食品", "3C数码", "家居"]
    assert _bought(labels, np.zeros(4)) == "nothing yet"
    assert _bought(labels, np.array([0.25, 0.0, 0.75, 0.0])) == "3C数码 75%, 美妆 25%"


@pytest.mark.parametrize(("args", "said"), [
    (["train", "--tune-trials", "5"], "--tune-trials applies with --tune only"),
    (["train", "--valid-days", "3"], "--valid-days applies with --tune only"),
    (["evaluate", "--split", "random", "--test-days", "3"], "--test-days applies with --split temporal only"),
    (["tune", "--valid-share", "0.5"], "--valid-share applies with --split random only"),
    (["tune", "--split", "random", "--valid-days", "3"], "--valid-days applies with --split temporal only"),
    (["nightly", "--tune-trials", "3"], "--tune-trials applies with --tune-every only"),
], ids=["train trials", "train valid days", "evaluate random test days", "tune temporal share",
        "tune random valid days", "nightly trials"])
def test_an_option_that_would_be_ignored_in_this_combination_is_a_usage_error(tmp_path, small_snapshot, args, said):
    """An analyst's probe: each of these ran to the end with the option silently ignored."""
    where = {"train": ["--out", str(tmp_path / "art")], "evaluate": ["--out", str(tmp_path / "report")],
             "tune": ["--out", str(tmp_path / "tuned.toml")], "nightly": ["--registry", str(tmp_path / "reg")]}
    r = CliRunner().invoke(main, [args[0], "--data", str(small_snapshot), *where[args[0]], *args[1:]])
    assert r.exit_code == 2 and said in r.output, r.output
    assert not (tmp_path / "art").exists() and not (tmp_path / "reg").exists()


def test_reports_are_not_written_into_a_snapshot_an_artifact_or_a_folder_tuning_cannot_name(tmp_path,
                                                                                           small_snapshot,
                                                                                           small_artifact):
    """An analyst's probe: evaluate --out wrote report files into a snapshot (which generate then refused) and
    an artifact; tune --out naming a folder failed with a traceback after all its trials."""
    for folder, held in ((small_snapshot, "a snapshot's tables"), (small_artifact, "a model artifact")):
        r = CliRunner().invoke(main, ["evaluate", "--data", str(small_snapshot), "--out", str(folder)])
        assert r.exit_code == 1 and f"holds {held}" in r.output and not (folder / "report.md").exists(), r.output
    r = CliRunner().invoke(main, ["tune", "--data", str(small_snapshot), "--out", str(tmp_path)])
    assert r.exit_code == 2 and "is a folder: give the TOML file to write" in r.output
    r = CliRunner().invoke(main, ["train", "--data", str(small_artifact), "--out", str(tmp_path / "art")])
    assert r.exit_code == 1 and "a model artifact (manifest.json), not a snapshot" in r.output
