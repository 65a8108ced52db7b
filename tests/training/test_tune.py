"""`xuanpin tune` on the small fixture: it never sees the test window, starts every stage from the configuration
it was given, writes a TOML that training reads back, prunes trailing factor models, and reports what it did."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import optuna
import pandas as pd
import pytest
from click.testing import CliRunner

from recommender.cli import main
from recommender.contract import load_snapshot
from recommender.errors import ConfigError, ContractError
from training.config import TrainConfig
from training.tune import (
    MIN_TRIALS,
    MerchantFigures,
    Objectives,
    TuneConfig,
    Validation,
    _budgets,
    _start_params,
    budget_note,
    paired_gain,
    prepare,
    run_stage,
    tune,
    with_params,
)
from training.tune_report import write_config, write_report

# one thread and ALS only: BPR's parallel SGD is not repeatable, and two runs are compared below
FAST = dict(trials=8, max_users=300, threads=1, algorithms=("als",))


@pytest.fixture(scope="module")
def market(small_snapshot):
    return load_snapshot(small_snapshot)


@pytest.fixture(scope="module")
def tuned(market):
    lines: list[str] = []
    return tune(market, TuneConfig(**FAST), progress=lines.append), lines


def test_every_stage_starts_from_the_given_configuration_and_never_ends_below_it(tuned):
    result, _ = tuned
    assert [s.name for s in result.stages] == ["vectors", "content", "trend", "rebuy", "anchors", "shelf_rate"]
    config = TrainConfig()
    for stage in result.stages:
        assert stage.trials[0]["params"] == _start_params(stage.name, config, ("als",))
        assert stage.trials[0]["value"] == pytest.approx(stage.start_value)
        assert stage.best_value >= stage.start_value
        config = with_params(config, stage.best_params)
    assert config == result.config


def test_the_test_window_is_never_seen(market, tuned):
    """Scramble every order of the last 14 days (same times, other fans and goods): if tuning never looks at
    them, every trial scores exactly as before."""
    result, _ = tuned
    orders = market.orders.copy()
    late = (orders["ordered_at"] >= market.snapshot_time - pd.Timedelta(days=14)).to_numpy()
    assert late.sum() > 100
    rng = np.random.default_rng(7)
    for col in ("fan", "product"):
        orders.loc[late, col] = rng.permutation(orders.loc[late, col].to_numpy())
    scrambled = dataclasses.replace(market, orders=orders)
    again = tune(scrambled, TuneConfig(**FAST), progress=lambda line: None)
    assert [t["value"] for s in again.stages for t in s.trials] == [t["value"] for s in result.stages
                                                                     for t in s.trials]
    assert result.split["valid_until"] == str(market.snapshot_time - pd.Timedelta(days=14))


def test_the_split_and_progress_are_reported(tuned, market):
    result, lines = tuned
    assert pd.Timestamp(result.split["fit_until"]) == market.snapshot_time - pd.Timedelta(days=28)
    assert result.split["valid_orders"] > 0 and result.split["users"]["fan_goods"] > 0
    assert lines[0].startswith("tuning vectors, content, trend, rebuy, anchors, shelf_rate")
    assert lines[1].startswith("budget of 8 trials raised to 18")  # FAST's 8 cannot give six stages 3 each
    assert sum(len(s.trials) for s in result.stages) == 18
    assert sum(line.startswith("[vectors ") for line in lines) == len(result.stages[0].trials)
    for name, stage in result.summary()["stages"].items():  # what the manifest records: the gate's verdict too
        assert stage["kept_start"] in (True, False) and stage["best"] >= stage["start"], name
        # what a reader of the manifest needs: did the stage change the configuration, and why not
        assert stage["chosen"] == ("start (within noise)" if stage["kept_start"] else
                                   "start (no trial beat it)" if stage["best"] == stage["start"] else "best"), name


def test_the_toml_is_what_training_reads(tuned, tmp_path):
    result, _ = tuned
    path = write_config(result, tmp_path / "tuned.toml")
    assert path.read_text(encoding="utf-8").startswith("# xuanpin tune:")
    assert TrainConfig.from_file(path) == result.config


def test_the_report_holds_every_trial_and_a_chart(tuned, tmp_path):
    result, _ = tuned
    out = write_report(result, tmp_path / "report")
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [s["stage"] for s in data["stages"]] == [s.name for s in result.stages]
    rows = (out / "trials.csv").read_text(encoding="utf-8").strip().splitlines()
    assert len(rows) - 1 == sum(len(s.trials) for s in result.stages)
    assert (out / "tuning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| vectors |" in md and "Note: budget of 8 trials raised to 18" in md
    for s in result.stages:  # the chosen value says where it came from, its figures at one precision
        row = next(line for line in md.splitlines() if line.startswith(f"| {s.name} |"))
        said = ("start (within noise)" if s.kept_start
                else "start (no trial beat it)" if s.best_value == s.start_value else "best")
        trial_best = "—" if s.trial_best_value != s.trial_best_value else f"{s.trial_best_value:.4f}"  # NaN: none
        assert f"| {said} {s.best_value:.4f} |" in row and f"| {trial_best} |" in row


def test_tune_s_default_stages_are_every_stage():
    from training.tune import STAGES

    option = next(p for p in main.get_command(main.make_context("xuanpin", ["tune", "--help"],
                                                                resilient_parsing=True), "tune").params
                  if p.name == "stages")
    assert tuple(option.default.split(",")) == STAGES == TuneConfig().stages


def test_without_a_shelf_table_the_shelf_stage_is_skipped(market):
    no_shelf = dataclasses.replace(market, shelf=market.shelf.iloc[:0])
    result = tune(no_shelf, TuneConfig(**{**FAST, "trials": 4, "stages": ("anchors", "shelf_rate")}),
                  progress=lambda line: None)
    assert [s.name for s in result.stages] == ["anchors"]


def test_without_a_shelf_table_the_vectors_answer_to_the_merchants_view_too(market):
    """There the vectors rank rooms for a good as well (达人广场): the vectors stage scores the geometric mean of
    fan->goods and goods->anchors; with a shelf table (the shelf-rate model ranks rooms) fan->goods alone."""
    with_shelf, _ = prepare(market, TuneConfig(**FAST), threads=1)
    no_shelf, _ = prepare(dataclasses.replace(market, shelf=market.shelf.iloc[:0]), TuneConfig(**FAST), threads=1)
    assert "goods_anchors" not in with_shelf.tasks and with_shelf.merchant is None
    assert len(no_shelf.tasks["goods_anchors"].users) > 0 and no_shelf.merchant is not None
    fan_goods = Objectives(with_shelf).vectors(TrainConfig(), None)
    both = Objectives(no_shelf)
    value = both.vectors(TrainConfig(), None)
    assert both.metric("vectors").startswith("sqrt(fan->goods x goods->anchors)")
    goods_anchors = value ** 2 / fan_goods  # the same fans, goods and vectors: one thread, one seed
    assert 0 < goods_anchors < 1 and goods_anchors != pytest.approx(fan_goods)


def test_the_merchants_view_is_scored_with_the_rooms_figures_the_service_has(market, small_artifact):
    """Followers, each category's share of 30-day GMV and 30-day orders, as the served model's rooms hold them."""
    from recommender.artifact import load_model
    from recommender.ranking.catalog import Rooms

    model = load_model(small_artifact)
    categories = sorted(market.products["category"].astype(str).unique())
    rooms = Rooms.from_model(model, categories)
    figures = MerchantFigures.of(market)
    anchors = np.arange(len(rooms))
    np.testing.assert_array_equal(figures.fans, rooms.fans)
    for c in range(len(categories)):
        np.testing.assert_allclose(figures.category_share[:, c], rooms.category_sales(anchors, c)[1], atol=1e-9)
        np.testing.assert_array_equal(figures.category_orders[:, c], rooms.category_orders_30d(anchors, c))


class _Trial:
    """What the vectors objective asks of an optuna trial: report(), should_prune()."""

    def __init__(self, prune: bool) -> None:
        self.prune, self.reports = prune, []

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return self.prune


def test_a_trailing_factor_model_is_pruned_after_its_first_report(market):
    v, _ = prepare(market, TuneConfig(**FAST), threads=1)
    config = with_params(TrainConfig(), {"factors.iterations": 12})
    keep = _Trial(prune=False)
    value = Objectives(v).vectors(config, keep)
    assert [s for s, _ in keep.reports] == [5, 10]  # every PRUNE_EVERY iterations, not after the last
    assert 0 < value <= 1 and all(0 < r <= 1 for _, r in keep.reports)
    stop = _Trial(prune=True)
    with pytest.raises(optuna.TrialPruned, match="after 5 iterations"):
        Objectives(v).vectors(config, stop)
    assert len(stop.reports) == 1


def test_the_budget_is_shared_by_the_stages_that_run():
    cfg = TuneConfig(trials=30, minutes=10)
    budgets = _budgets(["vectors", "content", "trend", "rebuy", "anchors", "shelf_rate"], cfg)
    assert budgets["vectors"][0] == 12 and sum(t for t, _ in budgets.values()) == 30  # exactly the trials asked
    assert all(t >= MIN_TRIALS for t, _ in budgets.values())
    assert sum(s for _, s in budgets.values()) == pytest.approx(600)
    assert budget_note(cfg, budgets) is None
    assert sum(t for t, _ in _budgets(["vectors", "content", "trend"], TuneConfig(trials=10)).values()) == 10
    small = TuneConfig(trials=6)
    raised = _budgets(["vectors", "content", "trend", "rebuy", "anchors"], small)
    assert all(t == MIN_TRIALS for t, _ in raised.values())
    assert budget_note(small, raised).startswith("budget of 6 trials raised to 15")


def test_a_random_validation_holds_out_a_share_of_each_fans_goods_and_never_the_test_window(market):
    """For a model judged on a random split: the trials fit on the rest of each fan's goods and are scored on a
    random quarter of them; the test window is still cut off first; no rebuy is possible, so no rebuy stage."""
    cfg = TuneConfig(**{**FAST, "split": "random", "valid_share": 0.25})
    v, info = prepare(market, cfg, threads=1)
    assert info["kind"] == "random" and "valid_days" not in info
    assert "fan_goods_all" not in v.tasks and len(v.tasks["fan_goods"].users) > 0
    period = market.purchases[market.purchases["ordered_at"] < market.snapshot_time - pd.Timedelta(days=14)]
    fit = v.fit.purchases
    pairs = lambda t: set(zip(t["fan"].to_numpy(), t["product"].to_numpy(), strict=True))  # noqa: E731
    kept, every = pairs(fit), pairs(period)
    assert kept < every  # pairs went to validation, whole
    held = every - kept
    goods = pd.Series([f for f, _ in every]).value_counts()
    out = pd.Series([f for f, _ in held]).value_counts().reindex(goods.index, fill_value=0)
    split = goods >= 5  # fans with fewer goods stay whole in the fit
    assert (out[~split] == 0).all()
    assert (out[split] == np.floor(0.25 * goods[split] + 0.5)).all()
    truth = v.tasks["fan_goods"]
    rows, cols = truth.truth.nonzero()
    assert {(int(truth.users[r]), int(c)) for r, c in zip(rows, cols, strict=True)} <= held
    assert fit["ordered_at"].max() < market.snapshot_time - pd.Timedelta(days=14)  # the test window unseen
    lines: list[str] = []
    result = tune(market, TuneConfig(**{**FAST, "trials": 6, "split": "random", "stages": ("trend", "rebuy")}),
                  progress=lines.append)
    assert [s.name for s in result.stages] == ["trend"]
    assert "a random 0.25 of each fan's goods" in lines[0]


def test_a_run_needs_a_budget_and_data_in_both_periods(market):
    with pytest.raises(ValueError, match="needs a budget"):
        TuneConfig(trials=None, minutes=None)
    with pytest.raises(ConfigError, match="validation"):
        prepare(market, TuneConfig(test_days=200), threads=1)


def test_the_command_writes_the_toml_and_the_report(small_snapshot, tmp_path):
    out = tmp_path / "tuned.toml"
    res = CliRunner().invoke(main, ["tune", "--data", str(small_snapshot), "--out", str(out), "--budget-trials", "3",
                                    "--stages", "anchors", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "[anchors 1/3]" in res.output and "xuanpin train --config" in res.output
    loaded = TrainConfig.from_file(out)  # only the anchors stage ran (the anchor vectors and the trend's weight in
    # a room's score): the rest is the defaults it started from
    rest = {"anchors": True, "trend": {"room_weight"}}
    assert loaded.model_dump(exclude=rest) == TrainConfig().model_dump(exclude=rest)
    assert (tmp_path / "tuned-report" / "report.md").exists()
    bad = CliRunner().invoke(main, ["tune", "--data", str(small_snapshot), "--out", str(out), "--stages", "nope"])
    assert bad.exit_code != 0 and "stages" in bad.output


class _NoisyTrend:
    """A trend objective whose trials differ from the start by noise alone, or (`real_gain`) where a weight above
    2 lifts every validation user by that much."""

    def __init__(self, real_gain: float = 0.0) -> None:
        self.v = Validation(None, {}, 20, 1)  # only `scored` is used
        self.real_gain, self.rng = real_gain, np.random.default_rng(3)
        self.base = self.rng.uniform(0.0, 0.4, 500)

    def metric(self, stage: str) -> str:
        return "fan->goods NDCG@20"

    def trend(self, config: TrainConfig, trial) -> float:
        per_user = self.base.copy()
        if config.trend != TrainConfig().trend:  # any trial but the start: the same users, shuffled luck
            per_user = np.clip(per_user + self.rng.normal(0.0, 0.05, len(per_user)), 0, 1)
            if config.trend.weight > 2:
                per_user += self.real_gain
        self.v.scored["fan_goods"] = per_user
        return float(per_user.mean())


def test_a_stage_keeps_its_start_unless_its_best_trial_beats_it_beyond_noise():
    """The best of 12 noisy trials beats the start on the validation users by chance (Online Retail's trend
    stage chose a 1-day half-life that way, and lost the test window): the paired bootstrap's interval of the
    gain reaches 0, so the stage keeps its start; a real gain for every user is kept."""
    cfg = TuneConfig(trials=12, seed=0)
    lines: list[str] = []
    noise = run_stage("trend", _NoisyTrend(), TrainConfig(), cfg, 12, None, lines.append)
    assert noise.trial_best_value > noise.start_value  # the best trial won the validation days by luck
    assert noise.kept_start and noise.gain_interval[0] <= 0 < noise.gain_interval[1]
    assert noise.best_value == noise.start_value
    assert with_params(TrainConfig(), noise.best_params) == TrainConfig()
    assert "within noise, the start is kept" in lines[-1]
    real = run_stage("trend", _NoisyTrend(real_gain=0.05), TrainConfig(), cfg, 12, None, lines.append)
    assert not real.kept_start and real.gain_interval[0] > 0
    assert real.best_params["trend.weight"] > 2 and real.best_value == real.trial_best_value
    ungated = run_stage("trend", _NoisyTrend(), TrainConfig(), cfg.model_copy(update={"confidence": 0.0}), 12, None,
                        lines.append)
    assert not ungated.kept_start and ungated.gain_interval is None
    assert ungated.best_value == ungated.trial_best_value > ungated.start_value


def test_the_gain_interval_is_paired_and_geometric_over_tasks():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 400)
    lo, hi = paired_gain({"t": a}, {"t": a + 0.01}, 0.95, 500, 0)
    assert lo == pytest.approx(0.01) and hi == pytest.approx(0.01)  # paired: the users' own spread cancels
    both = paired_gain({"f": a, "g": a}, {"f": a * 1.21, "g": a}, 0.95, 500, 0)
    assert both[0] == pytest.approx(0.1 * a.mean(), rel=0.2)  # sqrt(1.21 x 1) - 1 = 10% of the value


def test_a_fit_window_too_small_for_a_stage_is_a_clean_error_that_says_why(tiny_csv, tmp_path):
    r = CliRunner().invoke(main, ["tune", "--data", str(tiny_csv), "--out", str(tmp_path / "t.toml"),
                                  "--budget-trials", "3", "--stages", "content", "--valid-days", "44"])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output and "Trial 0 failed" not in r.output
    assert "tuning fits on the 17 orders until" in r.output and "too few for the content stage" in r.output
    assert "cut off fewer (--test-days, --valid-days)" in r.output and not (tmp_path / "t.toml").exists()
    # the caller names its own options: evaluate has no --valid-days (an analyst's probe), its --test-days sets both
    with pytest.raises(ContractError, match=r"give the snapshot more days, or a shorter --test-days$"):
        tune(tiny_csv, TuneConfig(trials=3, stages=("content",), valid_days=44),
             fewer_days="a shorter --test-days")
