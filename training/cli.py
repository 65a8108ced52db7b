"""The job subcommands of ``xuanpin``: generate a marketplace, train, inspect an artifact, evaluate, and run
the nightly job and the registry. ``recommender/cli.py`` assembles them with the service's subcommands into one
command, and turns every ``XuanpinError`` (a broken snapshot or artifact, a bad configuration file, a refused
registry operation) into a clean ``Error: ...`` with exit code 1."""

from __future__ import annotations

import json
import math
import sys
import unicodedata
from pathlib import Path

import click
import numpy as np

from recommender.settings import validated


def _train_config(config_file: Path | None):
    """The training configuration of a ``--config`` file, or the defaults (a bad file raises ConfigError)."""
    from training.config import TrainConfig

    return TrainConfig.from_file(config_file) if config_file else TrainConfig()


@click.command()
@click.option("--scale", type=click.Choice(["tiny", "small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Snapshot directory to write: a new or empty one, or a generated world to replace.")
@click.option("--overwrite", is_flag=True, help="Write into a directory that holds other files (a real export, "
              "notes): its contract tables and truth/ are replaced, the rest is kept.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--fit", default="default", show_default=True,
              help="How much rooms of one category differ: flat (the world before the knob), default, strong, or a "
                   "strength >= 0 (fixtures/fit.py).")
@click.option("--traffic", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Multiplier of every purchase rate: K times the orders about the same world and the same truth "
                   "(bench/ceiling.py).")
@click.option("--clicks", type=click.FloatRange(min=0), default=20.0, show_default=True,
              help="Mean clicks per fan in the click log (fans' clicks outside live rooms, the clicks table); 0: "
                   "no click log.")
def generate(scale: str, seed: int, out: Path, overwrite: bool, fmt: str, fit: str, traffic: float,
             clicks: float) -> None:
    """Write a synthetic marketplace snapshot (data contract) plus its ground truth in OUT/truth."""
    from fixtures.fit import fit_of
    from fixtures.marketplace import check_out, write_marketplace
    from fixtures.marketplace import generate as gen

    try:
        fit_of(fit)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fit") from exc
    for value, hint in ((traffic, "--traffic"), (clicks, "--clicks")):
        if not math.isfinite(value):
            raise click.BadParameter(f"{value} is not a finite number", param_hint=hint)
    try:  # before the generating, not after it
        check_out(out, overwrite)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from exc
    g = gen(scale, seed, fit=fit, traffic=traffic, clicks=clicks)
    write_marketplace(g, out, fmt, overwrite=overwrite)
    click.echo(f"wrote {out}: {len(g.anchors)} anchors, {len(g.fans)} fans, {len(g.products)} goods, "
               f"{len(g.follows)} follows, {len(g.orders)} orders, {len(g.shelf)} shelf listings"
               + (f", {len(g.clicks)} clicks" if g.clicks is not None else ""))
    for line in g.summary():
        click.echo(line)


@click.command()
@click.option("--data", type=str, required=True, help="Snapshot directory, or 'online-retail' (the UCI Online Retail "
              "log beside the project, or at XUANPIN_ONLINE_RETAIL, converted once and cached).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Artifact directory to write.")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="JSON or TOML training configuration (unknown keys are errors).")
@click.option("--algorithm", type=click.Choice(["als", "bpr"]), help="Override the factorisation algorithm.")
@click.option("--threads", type=int, help="Compute threads (default: all cores).")
@click.option("--overwrite", is_flag=True, help="Replace an existing artifact (atomically, when complete); a directory "
              "that is not an artifact, or holds the snapshot, is never replaced.")
@click.option("--tune", "tune_first", is_flag=True,
              help="Tune first on the snapshot's last --valid-days (xuanpin tune --test-days 0), then train on all of "
                   "it with the chosen settings; the TOML and the report go to OUT.tuning/.")
@click.option("--tune-trials", type=int, default=30, show_default=True, help="With --tune: trials in all.")
@click.option("--valid-days", type=float, default=14.0, show_default=True, help="With --tune: the validation days.")
def train(data: str, out: Path, config_file: Path | None, algorithm: str | None, threads: int | None,
          overwrite: bool, tune_first: bool, tune_trials: int, valid_days: float) -> None:
    """Train embeddings, statistics and indexes on a snapshot and write a model artifact."""
    from training.trainer import train as run

    _only_with("--tune", tune_first, "tune_trials", "valid_days")
    data = _snapshot(data)
    config = _train_config(config_file)
    if algorithm is not None or threads is not None:  # the options override the file, validated like it
        fields = config.model_dump()
        if algorithm is not None:
            fields["factors"]["algorithm"] = algorithm
        if threads is not None:
            fields["threads"] = threads
        config = validated(type(config), fields, "command-line options")
    tuning = None
    if tune_first:
        from recommender.artifact.writer import check_target

        try:  # say so before the tuning, not after it
            check_target(out, overwrite)
        except FileExistsError as exc:
            raise click.ClickException(str(exc)) from exc
        from recommender.contract import load_snapshot
        from training.tune import TuneConfig
        from training.tune import tune as run_tune
        from training.tune_report import write_config, write_report

        cfg = validated(TuneConfig, {"trials": tune_trials, "test_days": 0, "valid_days": valid_days,
                                     "threads": threads}, "command-line options")
        data = load_snapshot(data)  # read once for both
        result = run_tune(data, cfg, config, progress=click.echo)
        where = out.with_name(out.name + ".tuning")
        write_config(result, where / "tuned.toml")
        write_report(result, where)
        config, tuning = result.config, result.summary(str(where / "tuned.toml"))
        click.echo(f"tuned configuration: {where / 'tuned.toml'}")
    try:
        path = run(data, out, config, overwrite=overwrite, show_progress=sys.stderr.isatty(), tuning=tuning)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"artifact written: {path}")


def _evaluation_report(directory: Path) -> dict:
    """An `evaluate` report's report.json, or a clean error naming what the directory is instead."""
    path = directory / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no report.json; --compare takes two `xuanpin evaluate --out` "
                                   "directories") from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: unreadable ({exc})") from None
    if not isinstance(report, dict) or "tasks" not in report:
        raise click.ClickException(f"{path}: not an evaluate report (no tasks; a tune report?)")
    return report


def _names(kind: str, given: tuple[str, ...], found: set[str]) -> tuple[str, ...] | None:
    """--compare's choice of tasks, models or metrics (repeated or comma-separated), each one the reports hold;
    None when none was given (all, or the default metrics)."""
    names = tuple(dict.fromkeys(n.strip() for g in given for n in g.split(",") if n.strip()))
    if not given:
        return None
    unknown = [n for n in names if n not in found]
    if unknown or not names:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing'}: not in either report; they hold "
                                 f"{', '.join(sorted(found))}", param_hint=f"--{kind}")
    return names


def _per_user(directory: Path) -> dict | None:
    """A report's per_user.npz (None where it has none, or where it cannot be read: a warning, and --compare then
    falls back to the overlap of separate intervals)."""
    from training.report import PER_USER_FILE, read_per_user

    path = directory / PER_USER_FILE
    if not path.exists():
        return None
    try:
        return read_per_user(path)
    except (OSError, ValueError) as exc:  # read_per_user turns what a damaged archive raises into ValueError
        click.echo(f"WARNING: {path}: unreadable ({exc}); its report is compared by the overlap of separate "
                   "intervals")
        return None


def _snapshot(data: str) -> Path:
    """A snapshot directory, or Online Retail converted to one ('online-retail', converted once and cached)."""
    if data != "online-retail":
        return Path(data)
    from training.online_retail import prepared

    try:
        snapshot, cleaning, fresh = prepared()
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    if fresh:
        click.echo(f"Online Retail: kept {cleaning.rows_kept:,} of {cleaning.rows_read:,} lines; dropped "
                   + ", ".join(f"{k} {v:,}" for k, v in cleaning.dropped.items())
                   + f"; {cleaning.cancellations_matched:,} sales marked refunded by their cancellations; pounds "
                   f"at ¥{cleaning.yuan_per_pound}")
    click.echo(f"Online Retail snapshot: {snapshot}")
    return snapshot


@click.command()
@click.option("--data", type=str, required=True, help="Snapshot directory, or 'online-retail' (see train --help).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="TOML file of the chosen configuration (what `xuanpin train --config` reads).")
@click.option("--report", "report_dir", type=click.Path(path_type=Path),
              help="Report directory (report.md, report.json, trials.csv, tuning.png); default: OUT without its "
                   "suffix + '-report'.")
@click.option("--budget-trials", type=int, help="Trials in all, shared by the stages, at least 3 a stage (a smaller "
              "budget is raised, and the report says so) [default: 30 unless --budget-minutes is given].")
@click.option("--budget-minutes", type=float, help="Wall-clock budget in all (a running trial finishes).")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="The configuration to start from (default: the built-in defaults).")
@click.option("--test-days", type=float, default=14.0, show_default=True,
              help="Days at the end cut off first and never seen (the evaluation's test window; 0 to tune the "
                   "model to be served).")
@click.option("--valid-days", type=float, default=14.0, show_default=True,
              help="Days before the test window that score the trials.")
@click.option("--split", "split_kind", type=click.Choice(["temporal", "random"]), default="temporal", show_default=True,
              help="temporal: the last --valid-days score the trials; random: --valid-share of each fan's distinct "
                   "goods, held out at random, score them (for a model judged on a random split).")
@click.option("--valid-share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.25,
              show_default=True, help="With --split random: the share of each fan's distinct goods held out.")
@click.option("--stages", default=",".join(("vectors", "content", "trend", "rebuy", "anchors", "shelf_rate")),
              show_default=True, help="What to tune, in order (every stage, as evaluate --tune and nightly do).")
@click.option("--threads", type=int, help="Compute threads (default: all cores).")
@click.option("--seed", type=int, default=0, show_default=True)
def tune(data: str, out: Path, report_dir: Path | None, budget_trials: int | None, budget_minutes: float | None,
         config_file: Path | None, test_days: float, valid_days: float, split_kind: str, valid_share: float,
         stages: str, threads: int | None, seed: int) -> None:
    """Choose hyper-parameters on the last days of the training period (optuna), write them as TOML."""
    from training.report import check_report_dir
    from training.tune import TuneConfig
    from training.tune import tune as run
    from training.tune_report import write_config, write_report

    _only_with("--split random", split_kind == "random", "valid_share")
    _only_with("--split temporal", split_kind == "temporal", "valid_days")
    if out.is_dir():  # found after the minutes of tuning, as a traceback
        raise click.UsageError(f"--out {out} is a folder: give the TOML file to write (e.g. {out / 'tuned.toml'})")
    report_dir = report_dir or out.with_name(out.stem + "-report")
    check_report_dir(out.parent, own=False)  # writable, before the minutes of work, not after them
    check_report_dir(report_dir)
    cfg = validated(TuneConfig, {
        "trials": 30 if budget_trials is None and budget_minutes is None else budget_trials,
        "minutes": budget_minutes, "test_days": test_days, "valid_days": valid_days, "split": split_kind,
        "valid_share": valid_share, "threads": threads,
        "seed": seed, "stages": tuple(s.strip() for s in stages.split(",") if s.strip())}, "command-line options")
    result = run(_snapshot(data), cfg, _train_config(config_file), progress=click.echo)
    write_config(result, out)
    write_report(result, report_dir)
    click.echo(f"configuration written to {out} (xuanpin train --config {out}); report in {report_dir}/report.md")


def _bought(labels: list[str], shares: np.ndarray, top: int = 3) -> str:
    """The categories a room's fans bought most, with shares; a room whose fans bought nothing is not shown a
    list of 0%s."""
    shown = [f"{labels[c]} {shares[c]:.0%}" for c in np.argsort(-shares, kind="stable")[:top] if shares[c] > 0]
    return ", ".join(shown) or "nothing yet"


@click.command()
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
@click.option("--anchors", "n_anchors", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Sample anchors to show (0: the manifest only).")
@click.option("-k", type=click.IntRange(1, 200), default=8, show_default=True, help="Picks per sample anchor.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def inspect(artifact: Path, n_anchors: int, k: int, as_json: bool) -> None:
    """Print an artifact's manifest and a few anchors' top picks, to eyeball quality."""
    from recommender.artifact import load_model
    from recommender.ranking import Ranker

    model = load_model(artifact)
    man = model.manifest
    if as_json:
        click.echo(json.dumps(man, ensure_ascii=False, indent=2))
        return
    click.echo(f"model {man['model_version']}  created {man['created_at']}  format {man['format_version']}")
    click.echo(f"data  {man['data']['source']}  sha256 {man['data']['fingerprint'][:16]}…  "
               f"snapshot time {man['data']['snapshot_time']}")
    click.echo("counts " + ", ".join(f"{k_}={v}" for k_, v in man["counts"].items()))
    click.echo("stages " + ", ".join(f"{k_} {v:.1f}s" for k_, v in man["timings_seconds"].items())
               + f"; peak RSS {man['peak_rss_mb']:.0f} MB")
    click.echo(f"index  goods: {man['indexes']['products']['kind']}, anchors: {man['indexes']['anchors']['kind']}")
    for line in man["data"]["warnings"][:5]:
        click.echo(f"warning {line}")

    stats = model.anchor_stats
    anchors = model.anchors
    sample = []
    by_orders = np.argsort(-stats["orders_all"].to_numpy())
    sample.append(int(by_orders[0]))  # the biggest seller
    no_sales = np.flatnonzero((stats["orders_all"].to_numpy() == 0) & (model.audience.fans > 0))
    if len(no_sales):
        sample.append(int(no_sales[0]))  # a cold-start anchor: fans, no sales
    rest = [int(a) for a in by_orders[len(by_orders) // 2:] if a not in sample]
    sample += rest[: max(0, n_anchors - len(sample))]
    ranker = Ranker(model)  # the picks as the service ranks them (gates, scorer, arrangement)
    labels = model.audience.labels["category"]
    for a in sample[:n_anchors]:
        info = anchors.iloc[a]
        top_cats = _bought(labels, model.audience.shares["category"][a])
        click.echo(f"\nanchor {info['anchor_id']} {info['name']} ({info.get('tier', '')}, "
                   f"{info.get('main_category', '')}): {int(model.audience.fans[a])} fans, "
                   f"{int(stats['orders_all'].iloc[a])} orders; fans bought (30d): {top_cats}")
        for pick in ranker.picks(a, k).items:
            prod, b = model.columns.products.row(pick.product), pick.breakdown
            earned = b.get("expected_commission_30d")
            money = (f"匹配度 {b['relative_affinity']:.0%}" if earned is None
                     else f"预期佣金 {_page_yuan(earned)}/30天")
            price, rate = f"¥{prod['price']:,.2f}", f"佣金{prod['commission_rate']:.0%}"
            click.echo(f"  {_cell(money, 22)}  {_cell(prod['category'], 11)} {_cell(price, 10)}  {_cell(rate, 7)}  "
                       f"{prod['title']}  | {pick.reasons[0]['text'] if pick.reasons else '—'}")


def _page_yuan(amount: float) -> str:
    """Yuan as the selection-center page writes an expected commission (app.js `estimate`): whole yuan from ¥10,
    rounded half up (¥7,677, ¥98), cents below (¥4.59), ¥1.2万 from ten thousand."""
    if amount >= 1e4:
        return f"¥{amount / 1e4:,.1f}万"
    return f"¥{amount:,.2f}" if amount < 10 else f"¥{math.floor(amount + 0.5):,}"


def _cell(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Chinese character takes two), so the columns line up."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)


@click.command()
@click.option("--data", type=str, help="Snapshot directory, or 'online-retail' (see train --help).")
@click.option("--out", type=click.Path(path_type=Path), help="Report directory (report.json, report.md).")
@click.option("--test-days", type=float, default=14.0, show_default=True,
              help="Days after the cut-off (temporal split; with --split random not used: --tune then validates "
                   "on another random draw of --test-share of each fan's goods in the training part).")
@click.option("--max-users", type=int, default=3000, show_default=True, help="Users sampled per task.")
@click.option("--tasks", default=",".join(("anchor_goods", "fan_goods", "goods_anchors", "fan_goods_all")),
              show_default=True)
@click.option("--compare", "reports", nargs=2, type=click.Path(exists=True, path_type=Path),
              help="Compare two report directories (B - A) instead of evaluating: user by user where both "
                   "hold per_user.npz of the same users, else by the overlap of the 95% intervals.")
@click.option("--metric", "compare_metrics", multiple=True,
              help="With --compare: the metrics to show (repeat or comma-separate; default: those kept per user, "
                   "recall@20, ndcg@20, gmv_recall@20, and on the *_if_shelved tasks ndcg@20/50 and "
                   "ndcg_earnings@20/50).")
@click.option("--task", "compare_tasks", multiple=True, help="With --compare: only these tasks (repeat or "
              "comma-separate).")
@click.option("--model", "compare_models", multiple=True, help="With --compare: only these models, e.g. ours, "
              "ours_no_rerank (repeat or comma-separate).")
@click.option("--all-rows", is_flag=True, help="With --compare: also the rows whose figures are the same in A and "
              "B (the baselines two runs of one split share), which are left out otherwise.")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="The model's training configuration (JSON or TOML; default: the built-in defaults), and "
                   "optionally a [ranking] table of the service's ranking settings, which make the served lists.")
@click.option("--tune", "tune_trials", type=int, default=0, show_default=True,
              help="Also tune (this many trials) on the training period's last days and report the tuned model "
                   "beside the untuned one (ours_tuned, ...): the test window is never seen by the tuning.")
@click.option("--split", "split_kind", type=click.Choice(["temporal", "random"]), default="temporal",
              show_default=True,
              help="temporal: train before the last --test-days, score the pairs new after. random: hold out "
                   "--test-share of each user's distinct items at random and train one model per task on the rest "
                   "(shared by tasks holding out the same orders); "
                   "the user is the fan (fan_goods: goods it bought), the anchor (anchor_goods: goods sold in its "
                   "room) or the good (goods_anchors: rooms that sold it); fan_goods_all is skipped (no test "
                   "purchase is a rebuy); each user's training items are left out of its ranking.")
@click.option("--test-share", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.25,
              show_default=True, help="With --split random: the share of each user's distinct items held out.")
@click.option("--split-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --split random: the random state of the held-out draw.")
@click.option("--split-min-items", type=click.IntRange(min=2), default=5, show_default=True,
              help="With --split random: users with fewer distinct items stay all in training (counted).")
def evaluate(data: str | None, out: Path | None, test_days: float, max_users: int, tasks: str,
             reports: tuple[Path, Path] | None, compare_metrics: tuple[str, ...], compare_tasks: tuple[str, ...],
             compare_models: tuple[str, ...], all_rows: bool, config_file: Path | None, tune_trials: int,
             split_kind: str, test_share: float, split_seed: int, split_min_items: int) -> None:
    """Offline evaluation on a temporal or random split: our model, ablations and baselines (and the oracle on
    synthetic data), with bootstrap confidence intervals."""
    from training.report import NothingToCompare, comparable, compare, write_report

    if reports:
        _only_with("an evaluation (no --compare)", False, "data", "out", "test_days", "tasks", "config_file")
        a, b = (_evaluation_report(p) for p in reports)
        found = comparable(a, b)
        chosen = {kind: _names(kind, given, found[kind]) for kind, given in
                  (("metric", compare_metrics), ("task", compare_tasks), ("model", compare_models))}
        try:
            click.echo(compare(a, b, *(_per_user(p) for p in reports), metrics=chosen["metric"],
                               tasks=chosen["task"], models=chosen["model"], hide_same=not all_rows))
        except NothingToCompare as exc:  # an empty table would read as "no difference"
            raise click.ClickException(f"{reports[0]} and {reports[1]}: {exc}") from None
        return
    if compare_metrics or compare_tasks or compare_models or all_rows:
        raise click.UsageError("--metric, --task, --model and --all-rows choose the rows of --compare A B")
    if not data or not out:
        raise click.UsageError("--data and --out are required (or --compare A B)")
    _only_with("--split random", split_kind == "random", "test_share", "split_seed", "split_min_items")
    _only_with("--split temporal", split_kind == "temporal", "test_days")
    from training.report import check_report_dir

    check_report_dir(out)  # before the minutes of work, not after them
    from training.evaluate import EvalConfig
    from training.evaluate import evaluate as run
    from training.tasks import TASKS

    chosen = tuple(t.strip() for t in tasks.split(",") if t.strip())
    unknown = set(chosen) - set(TASKS)
    if unknown:
        raise click.UsageError(f"unknown task(s) {sorted(unknown)}; choose from {', '.join(TASKS)}")
    from recommender.ranking import RankingConfig
    from training.config import TrainConfig, evaluated_settings

    train_cfg, ranking = evaluated_settings(config_file) if config_file else (TrainConfig(), RankingConfig())
    cfg = validated(EvalConfig, {"test_days": test_days, "max_users": max_users, "tasks": chosen,
                                 "train": train_cfg, "ranking": ranking, "tune_trials": tune_trials,
                                 "split": split_kind, "test_share": test_share, "split_seed": split_seed,
                                 "split_min_items": split_min_items}, "command-line options")
    truth, snapshot = None, data
    if data == "online-retail":
        snapshot = str(_snapshot(data))
    elif (Path(data) / "truth" / "truth.json").exists():
        from fixtures.marketplace import check_truth, load_truth
        from recommender.contract import load_snapshot

        truth = load_truth(data)
        snapshot = load_snapshot(data)
        check_truth(data, snapshot)  # its rows must be this snapshot's, as validated
    per_user: dict = {}  # each user's figures, for a paired --compare with another report of the same users
    result = run(snapshot, cfg, truth=truth, progress=click.echo, per_user=per_user)
    write_report(result, out, per_user)
    click.echo(f"report written to {out}/report.md, report.json and per_user.npz ({result['seconds']:.0f} s)")


def _only_with(what: str, holds: bool, *names: str) -> None:
    """A usage error when options given on the command line apply only with `what`, which does not hold: such an
    option was ignored without a word (--test-days with a random split, --valid-days without --tune)."""
    given = click.get_current_context().get_parameter_source
    named = [f"--{name.replace('_', '-').replace('-file', '')}" for name in names
             if given(name) == click.core.ParameterSource.COMMANDLINE]
    if named and not holds:
        raise click.UsageError(f"{', '.join(named)} {'applies' if len(named) == 1 else 'apply'} with {what} only")


@click.command()
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Today's snapshot directory.")
@click.option("--registry", "registry_dir", type=click.Path(path_type=Path), required=True)
@click.option("--report", type=click.Path(path_type=Path), help="Directory for nightly.json and nightly.md.")
@click.option("--holdout-days", type=float, default=7.0, show_default=True)
@click.option("--keep", type=click.IntRange(min=0), default=5, show_default=True,
              help="Newest versions to retain; CURRENT always is. Under 2 leaves `rollback` nothing to go back to.")
@click.option("--tolerance", type=float, default=0.02, show_default=True,
              help="Relative drop of the gate metric accepted against the served model.")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="JSON or TOML training configuration (with --tune-every: where each re-tuning starts).")
@click.option("--tune-every", "tune_every", type=float,
              help="Re-tune the configuration (xuanpin tune) when the last tuning is this many days older than the "
                   "data; between re-tunings the last tuned configuration is used.")
@click.option("--tune-trials", type=int, default=20, show_default=True, help="Trials of each re-tuning.")
def nightly(data: Path, registry_dir: Path, report: Path | None, holdout_days: float, keep: int, tolerance: float,
            config_file: Path | None, tune_every: float | None, tune_trials: int) -> None:
    """Validate, train, gate against the served model on a holdout, publish, prune. Exit codes: 0 promoted,
    10 refused by the gate, 20 invalid data, 30 locked by another run, 1 error."""
    from training.nightly import NightlyConfig, run_nightly

    _only_with("--tune-every", tune_every is not None, "tune_trials")
    cfg = validated(NightlyConfig, {"holdout_days": holdout_days, "keep": keep, "tolerance": tolerance,
                                    "train": _train_config(config_file), "tune_every_days": tune_every,
                                    "tune": {"trials": tune_trials, "test_days": 0}}, "command-line options")
    code, result = run_nightly(data, registry_dir, cfg, report)
    click.echo(f"{result.get('outcome')}: {result.get('reason')}" + (
        f" (version {result['version']})" if result.get("version") else ""))
    warnings = result.get("data_warnings") or []
    if warnings:
        click.echo(f"{len(warnings)} data warning(s) (rows dropped or values blanked); the first: {warnings[0]}")
    sys.exit(code)


@click.command()
@click.option("--registry", "registry_dir", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--to", "version", help="Version to serve (default: the one before CURRENT).")
def rollback(registry_dir: Path, version: str | None) -> None:
    """Point the registry's CURRENT at an earlier version (services follow it).

    A version that cannot be loaded (checksums, sizes, shapes, as the service loads it) is refused, or skipped
    when going back."""
    from recommender.artifact import load_model
    from recommender.registry import Registry

    registry = Registry.existing(registry_dir)
    to = registry.rollback(version, verify=load_model)
    for skipped in registry.history()[-1].get("skipped", []):  # served before, but it cannot be served now
        click.echo(f"skipped {skipped}")
    click.echo(f"CURRENT -> {to}")


#: the history fields `registry list` shows (scores and fingerprints stay in history.jsonl)
_HISTORY_FIELDS = ("version", "previous", "reason", "versions", "keep", "damaged", "unreadable", "holder",
                   "config_file")


@click.group()
def registry() -> None:
    """Inspect a model registry."""


@registry.command("list")
@click.option("--registry", "registry_dir", type=click.Path(exists=True, path_type=Path), required=True)
def registry_list(registry_dir: Path) -> None:
    """Versions (oldest first; * = CURRENT) and the recent history."""
    from recommender.registry import Registry
    from training.nightly import current_note, registry_table

    table = registry_table(registry_dir)
    click.echo(table.drop(columns="problem").to_string(index=False) if len(table) else "no versions")
    for row in table[table["state"] != "ok"].itertuples() if len(table) else ():
        click.echo(f"{row.state.lower()}: {row.version}: {row.problem}")
    note = current_note(registry_dir, table)  # CURRENT's state from the table: loaded once
    if note:
        click.echo(f"warning: {note}")
    for entry in Registry.existing(registry_dir).history()[-10:]:
        click.echo(f"{entry['at']} {entry['event']}: " + ", ".join(
            f"{k}={v}" for k, v in entry.items() if k in _HISTORY_FIELDS))


if __name__ == "__main__":  # the jobs moved under one command: a cron line still running this module must fail loudly
    sys.exit("python -m training.cli no longer runs anything: use `xuanpin SUBCOMMAND ...` or "
             "`python -m recommender.cli SUBCOMMAND ...` (the same subcommands)")
