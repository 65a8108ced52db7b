"""The nightly retraining job: validate -> train on all but the last days -> score that holdout -> compare with
the served model on the same holdout -> train on everything and publish only if not worse -> prune -> report.

Exit codes, for schedulers to alert on:

    0   a new version was promoted
    10  the gate refused the candidate (the served model stays)
    20  the snapshot is invalid (nothing trained)
    30  another run holds the registry lock
    1   any other error (the served model stays)

The served model is never touched until the final CURRENT rename, so a run killed at any moment leaves it in
place; its leftovers are cleared by the next run.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from recommender.artifact import ArtifactError, Model, load_model, read_manifest
from recommender.contract import ContractError, Marketplace, load_snapshot, orders_lag_days
from recommender.errors import ConfigError, FormatError, LockHeld, RegistryError
from recommender.registry import Registry
from recommender.settings import Settings
from recommender.shelf_rate import has_exposure
from recommender.trend import blend
from training.config import TrainConfig
from training.drift import snapshot_problems
from training.metrics import ranking_metrics
from training.tasks import Task, TaskSample, build_tasks, dot_scores, rank_task
from training.trainer import no_shelf_rate, train
from training.tune import TuneConfig, tune
from training.tune_report import write_config, write_report

_log = logging.getLogger(__name__)

EXIT_PROMOTED, EXIT_REFUSED, EXIT_INVALID_DATA, EXIT_LOCKED, EXIT_ERROR = 0, 10, 20, 30, 1


class NightlyConfig(Settings):
    """The nightly job: the holdout the gate scores on, the gate, retention, and the training configuration."""

    holdout_days: float = Field(7.0, gt=0, description="the holdout when nothing is served: the snapshot's last "
                                "days")
    keep: int = Field(5, ge=0, description="newest versions retained; CURRENT always is (0: CURRENT only)")
    tolerance: float = Field(0.02, ge=-1, le=1, description="relative drop of the gate metric accepted against "
                             "the served model (0.02: 2%; below 0 the candidate must be better by that much)")
    metric: str = Field("ndcg@20", pattern=r"^(recall|ndcg|map|hitrate|gmv_recall)@[1-9][0-9]*$",
                        description="the gate metric, per user on the holdout")
    tasks: tuple[Literal["anchor_goods", "fan_goods"], ...] = Field(
        ("anchor_goods", "fan_goods"), min_length=1, description="holdout tasks the gate scores")
    max_users: int = Field(2000, ge=1, description="users sampled per gate task")
    max_orders_lag_days: float = Field(2.0, ge=0, description="refuse a snapshot whose orders end more than this many "
                                       "days before its other tables' latest record (a late or partial order "
                                       "export: its 1/7/30-day sales would read near 0)")
    check_snapshot: bool = Field(True, description="refuse a snapshot wrong throughout though every row passed "
                                 "(training/drift.py): orders paid far off their goods' prices, the served goods "
                                 "repriced by a unit's factor, the served follows gone")
    min_users: int = Field(30, ge=1, description="holdout users a gate task needs to compare the models; a task with "
                           "fewer is not compared, and when no task can be, the served model stays")
    train: TrainConfig = Field(default_factory=TrainConfig, description="the candidate's training configuration")
    tune_every_days: float | None = Field(None, gt=0, description="re-tune the training configuration when the "
                                          "last tuning is this many days older than the data (None: never; the "
                                          "configuration above is used as it is)")
    tune: TuneConfig = Field(default_factory=lambda: TuneConfig(trials=20, test_days=0),
                             description="the re-tuning's budget and split, on the data before the gate's holdout")


def _aligned(model: Model, m: Marketplace) -> dict[str, np.ndarray]:
    """A model's vectors re-indexed to the snapshot's vocabularies (zero for ids the model never saw), so
    models trained on different snapshots are scored on the same holdout."""
    def align(vectors: np.ndarray, vocab_model, vocab_snapshot) -> np.ndarray:
        rows = vocab_model.index(vocab_snapshot.ids)
        out = np.zeros((len(vocab_snapshot), vectors.shape[1]), np.float32)
        out[rows >= 0] = np.asarray(vectors)[rows[rows >= 0]]
        return out

    v = model.vectors
    return {"anchor": align(v["anchor"], model.anchor_ids, m.anchor_ids),
            "fan": align(v["fan"], model.fan_ids, m.fan_ids),
            "product": align(v["product"], model.product_ids, m.product_ids)}


def gate_scores(model: Model, m: Marketplace, tasks: dict[str, Task], metric: str) -> dict[str, np.ndarray]:
    """Per-user `metric` of a model on each holdout task (users in the tasks' order), each ranked by what the
    service ranks by: expected orders if shelved for anchors when the model has them, else the vectors."""
    vecs = _aligned(model, m)
    users_of = {"anchor_goods": "anchor", "fan_goods": "fan"}
    k = int(metric.split("@")[1])
    out = {}
    for name, task in tasks.items():
        scorer = dot_scores(vecs[users_of[name]], vecs["product"])
        if name == "fan_goods" and model.trend is not None:
            scorer = _fan_scores(model, m, vecs)  # taste blended with the trend, as Model.fan_scores
        if name == "anchor_goods" and model.if_shelved is not None:
            scorer = _expected_orders(model, m)  # what the picks rank by
        ranked = rank_task(task, scorer, k)
        out[name] = ranking_metrics(ranked, task.truth, (k,))[metric]
    return out


def _fan_scores(model: Model, m: Marketplace, vecs: dict[str, np.ndarray]):
    """Model.fan_scores re-indexed to the snapshot's fans and goods (no trend, and a neutral category share, for ids
    the model never saw), as a scorer of fan rows. Rebuys are left out: the gate's fan_goods ranks goods new to each
    fan, which they do not change."""
    rows = model.product_ids.index(m.product_ids.ids)
    known = rows >= 0
    trend = np.zeros(len(rows), np.float32)
    trend[known] = np.asarray(model.product_trend)[rows[known]]
    category = np.zeros(len(rows), np.int32)
    category[known] = np.asarray(model.product_category)[rows[known]]
    fan_rows = model.fan_ids.index(m.fan_ids.ids)

    def scores(users: np.ndarray) -> np.ndarray:
        share = np.zeros((len(users), model.fan_category.shape[1]), np.float32)
        r = fan_rows[users]
        share[r >= 0] = np.asarray(model.fan_category[r[r >= 0]])
        return blend(vecs["fan"][users] @ vecs["product"].T, trend, share, category, model.trend)

    return scores


def _expected_orders(model: Model, m: Marketplace):
    """The expected orders the picks rank by, re-indexed to the snapshot's anchors and goods (0 for ids the model
    never saw), as a scorer of anchor rows."""
    anchor_rows = model.anchor_ids.index(m.anchor_ids.ids)
    product_rows = model.product_ids.index(m.product_ids.ids)
    known = product_rows >= 0

    def scores(users: np.ndarray) -> np.ndarray:
        out = np.zeros((len(users), len(product_rows)), np.float32)
        rows = anchor_rows[users]
        seen = rows >= 0
        if seen.any():
            out[np.ix_(np.flatnonzero(seen), np.flatnonzero(known))] = model.if_shelved.expected(
                rows[seen], product_rows[known])
        return out

    return scores


def decide(candidate: dict[str, np.ndarray], current: dict[str, np.ndarray] | None, tolerance: float,
           n_boot: int = 2000, seed: int = 0, min_users: int = 30) -> tuple[bool, str, dict]:
    """Refuse only if the candidate is confidently worse: the upper end of the 95% paired-bootstrap interval
    of (candidate - served), per user on the same holdout, lies below -tolerance x the served mean. A plain
    comparison of means would refuse equal models for sampling noise on small holdouts.

    A task with fewer than `min_users` holdout users (or any non-finite score) is not compared: its interval
    would be a point or NaN, and NaN is not "not worse". When no task can be compared the served model stays:
    the rule is to keep what is known to work until there is evidence, never to decide by NaN. With nothing
    served there is nothing to compare and the candidate is promoted."""
    summary = {t: {"candidate": round(float(np.mean(v)), 6) if len(v) else None, "users": len(v)}
               for t, v in candidate.items()}
    if current is None:
        return True, "no model is being served", summary
    rng = np.random.default_rng(seed)
    worse, compared, skipped = [], [], []
    for t, cand in candidate.items():
        diff = np.asarray(cand, np.float64) - np.asarray(current[t], np.float64)
        if len(diff) < min_users or not np.isfinite(diff).all():
            skipped.append(f"{t} ({len(diff)} users)" if len(diff) < min_users else f"{t} (non-finite scores)")
            continue
        compared.append(t)
        boots = diff[rng.integers(0, len(diff), (n_boot, len(diff)))].mean(axis=1)
        lo, hi = np.quantile(boots, [0.025, 0.975])
        base = float(np.mean(current[t]))
        summary[t].update(current=round(base, 6), diff=round(float(diff.mean()), 6),
                          diff_ci95=[round(float(lo), 6), round(float(hi), 6)])
        if hi < -tolerance * base:
            worse.append(f"{t} ({summary[t]['candidate']:.4f} vs {base:.4f}, difference CI "
                         f"[{lo:+.4f}, {hi:+.4f}])")
    if not compared:
        return False, (f"the holdout is too small to compare the models (fewer than {min_users} users: "
                       f"{', '.join(skipped)}); the served model stays"), summary
    note = f" (not compared: {', '.join(skipped)})" if skipped else ""
    if tolerance < 0:  # a margin to win by, not a drop to forgive: "worse" would misname a candidate that scored higher
        margin = f"a gain of {-tolerance:.1%} of the served figure (tolerance {tolerance:g})"
        if worse:
            return False, (f"short of the margin the tolerance asks, {margin}: the difference's interval lies "
                           "below it on " + ", ".join(worse) + note), summary
        return True, f"may beat the served model by the margin the tolerance asks, {margin}" + note, summary
    if worse:
        return False, ("confidently worse than the served model beyond the tolerance on " + ", ".join(worse)
                       + note), summary
    return True, "not confidently worse than the served model (within the tolerance)" + note, summary


def run_nightly(data: str | Path, registry_dir: str | Path, cfg: NightlyConfig | None = None,
                report: Path | None = None) -> tuple[int, dict]:
    """Run the whole job; returns (exit code, run report)."""
    cfg = cfg or NightlyConfig()
    if report is not None:  # before anything is trained or promoted: a run must not succeed and then fail here
        try:
            Path(report).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"report directory {report}: {exc.strerror or exc}") from exc
    registry = Registry.open(registry_dir)
    started = time.perf_counter()
    # absolute paths: a report or history line read later (from cron) must not depend on where the job ran
    result: dict = {"data": str(Path(data).resolve()), "registry": str(registry.root.resolve()),
                    "started_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"), "config": {
        "holdout_days": cfg.holdout_days, "keep": cfg.keep, "tolerance": cfg.tolerance, "metric": cfg.metric,
        "tasks": list(cfg.tasks), "tune_every_days": cfg.tune_every_days}}
    result["current_version"] = _current(registry, result)  # every report says what was served, even a locked run's
    if report is not None:  # a run killed before its end leaves "running", not yesterday's outcome
        _write_report_quietly({**result, "outcome": "running", "exit_code": None,
                               "reason": "started, not finished: still running, or killed (see started_at)"}, report)
    try:
        with registry.lock():
            verify = VerifiedOnce()  # both prunes of the run: a version whose files are unchanged loads once
            result["pruned"] = registry.prune(cfg.keep, verify=verify)  # also clears a killed run's leftovers
            code = _run_locked(data, registry, cfg, result, verify)
    except LockHeld as exc:
        code, result["outcome"], result["reason"] = EXIT_LOCKED, "locked", str(exc)
    except Exception as exc:  # the served model is untouched; say what happened and fail loudly
        _log.exception("nightly run failed")
        code, result["outcome"], result["reason"] = EXIT_ERROR, "error", f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError):  # numpy's short write names no file and no cause: say where, and the space
            free = shutil.disk_usage(registry.root).free if registry.root.exists() else None
            where = exc.filename or f"a file under {registry.root}"
            result["reason"] = (f"{where}: {exc.strerror or exc}"
                                + ("" if free is None else f" ({_space(free)} free on its disk)"))
        registry.record("error", reason=result["reason"], data=result["data"])
    result["exit_code"] = code
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["finished_at"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    if report is not None:
        _write_report_quietly(result, report)
    return code, result


def _space(free: int) -> str:
    """Bytes as an operator reads them: "168 KB", not a full disk's "0 MB"."""
    return f"{free / 2**20:,.0f} MB" if free >= 2**20 else f"{free / 2**10:,.0f} KB"


def _write_report_quietly(result: dict, report: Path) -> None:
    try:
        write_run_report(result, report)
    except OSError as exc:  # the run's outcome stands (a promoted model is live); say the report is missing
        _log.error("nightly: the run report could not be written to %s (%s); the run itself: %s", report, exc,
                   result.get("outcome"))


class VerifiedOnce:
    """`load_model` as a prune's check, done once per version and run: a nightly run prunes before and after
    publishing, and loading every kept version twice cost about 1.5 s a version on the large model. A version
    is loaded again only if a file of it changed (its name, inode, size or times) since it loaded."""

    def __init__(self) -> None:
        self._loaded: dict[Path, tuple] = {}

    def __call__(self, path: Path) -> None:
        files = _signature(path)
        if self._loaded.get(path) == files:
            return
        load_model(path)  # raises for a damaged version, which is then not remembered
        self._loaded[path] = files


def _signature(path: Path) -> tuple:
    """Every file of a version with its inode, size and modification and change times: a file replaced, even
    by one of the same size and time (cp -p), or whose permissions changed, is loaded again."""
    files = []
    for f in path.rglob("*"):
        if f.is_file():
            st = f.stat()
            files.append((str(f.relative_to(path)), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(sorted(files))


def _run_locked(data, registry: Registry, cfg: NightlyConfig, result: dict, verify: VerifiedOnce) -> int:
    result["current_version"] = _current(registry, result)  # under the lock: what this run compares against
    try:
        return _judge(data, registry, cfg, result, verify)
    except ContractError as exc:  # refused at load, or by training (no valid orders, no goods to learn from)
        result["outcome"], result["reason"] = "invalid_data", str(exc)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        # the headline and the first problems: `registry list` shows what was wrong, not only that something was
        registry.record("invalid_data", data=result["data"],
                        reason="; ".join(lines[:4]) + ("; …" if len(lines) > 4 else ""))
        return EXIT_INVALID_DATA


def _judge(data, registry: Registry, cfg: NightlyConfig, result: dict, verify: VerifiedOnce) -> int:
    """Load, gate and promote (under the registry's lock); a snapshot the contract or training refuses raises
    ContractError."""
    m = load_snapshot(data)
    result["fingerprint"] = m.fingerprint
    # what the contract dropped or blanked, and a model that will rank without the shelf-rate model: promoted
    # silently, either would surprise the people who read the report
    result["data_warnings"] = [str(p) for p in m.report.warnings]
    if not has_exposure(m):
        result["data_warnings"].append(no_shelf_rate(m))
    lag = orders_lag_days(m)
    if lag > cfg.max_orders_lag_days:
        result["outcome"], result["reason"] = "invalid_data", (
            f"the orders end {lag:.1f} days before the snapshot's latest record ({m.snapshot_time}): a late or "
            f"partial order export (more than max_orders_lag_days = {cfg.max_orders_lag_days:g})")
        registry.record("invalid_data", data=result["data"], reason=result["reason"])
        return EXIT_INVALID_DATA

    # The gate compares the two models on purchases neither has seen: after the served model's own snapshot
    # time (its training data ends there), or the last `holdout_days` when nothing is served. The candidate
    # is scored after training on the data before that same moment, so only the recipe and the data's
    # quality differ, not how much future each model saw.
    current_version = _current(registry, result)
    current_model, reference = None, current_version
    if current_version is None and "current_error" in result:  # CURRENT holds no version id: judged, as a worker
        current_model, reference = _fallback_model(registry, None)  # serves, against the version it falls back to
        result["judged_against"] = reference
    elif current_version:
        try:
            current_model = load_model(registry.path(current_version), mmap=False)
        except ArtifactError as exc:  # a broken served version must not block a good replacement
            result["current_error"] = str(exc)
            # ... nor let any export through: the data are checked against, and the candidate judged against,
            # the version the services fall back to (the newest served before that loads), as they serve it
            current_model, reference = _fallback_model(registry, current_version)
            result["judged_against"] = reference
    cutoff = m.snapshot_time - pd.Timedelta(days=cfg.holdout_days)
    served = [current_model.manifest] if current_model is not None else []
    for manifest in served + _damaged_manifest(registry, result):
        if (why := _nothing_newer(manifest, m)) is not None:
            result["outcome"], result["reason"] = "refused", f"no data newer than the served model's: {why}"
            registry.record("refused", reason=result["reason"], fingerprint=m.fingerprint, current=current_version)
            return EXIT_REFUSED
    if current_model is not None:
        cutoff = current_model.snapshot_time
    problems = snapshot_problems(m, current_model) if cfg.check_snapshot else []
    if problems:  # wrong throughout, though every row passed: the gate would score both models on it
        result["outcome"], result["reason"] = "invalid_data", "; ".join(problems)
        registry.record("invalid_data", data=result["data"], reason=result["reason"])
        return EXIT_INVALID_DATA
    # strictly after the cut-off: an order at that very moment may be in the served model's training data
    train_m, holdout = m.until(cutoff), m.purchases[m.purchases["ordered_at"] > cutoff]
    tasks = build_tasks(train_m, holdout, TaskSample(tasks=cfg.tasks, max_users=cfg.max_users))
    result["holdout"] = {"cutoff": str(cutoff), "purchases": len(holdout),
                         "users": {t: len(task.users) for t, task in tasks.items()}}
    train_cfg, tuning = training_config(registry, cfg, train_m)
    # the report names the configuration absolutely, as every path it holds; the history and the manifest
    # relative to the registry, where it is looked up (a registry moved or mounted elsewhere still finds it)
    result["tuning"] = tuning and {**tuning, "config_file": str((registry.root / tuning["config_file"]).resolve())}
    scratch = registry.versions_dir / f".eval-{int(time.time())}"
    try:
        candidate_scores = gate_scores(load_model(train(train_m, scratch, train_cfg, tuning=tuning), mmap=False), m,
                                       tasks, cfg.metric)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    current_scores = gate_scores(current_model, m, tasks, cfg.metric) if current_model is not None else None
    promote, reason, scores = decide(candidate_scores, current_scores, cfg.tolerance, min_users=cfg.min_users)
    if "current_error" in result:  # served, but unreadable: say so rather than "no model is being served"
        against = f"against {reference}, the version the services fall back to" if reference != current_version \
            else "on its own (no version served before loads)"
        reason = (f"the served version {current_version} could not be loaded ({result['current_error']}); "
                  f"the candidate was judged {against}: {reason}")
    result["scores"], result["current_version"], result["reason"] = scores, current_version, reason
    if not promote:
        result["outcome"] = "refused"
        registry.record("refused", reason=reason, scores=scores, fingerprint=m.fingerprint,
                        current=current_version)
        return EXIT_REFUSED

    version = registry.new_version_id()
    train(m, registry.path(version), train_cfg, tuning=tuning)  # on everything, written atomically into versions/
    registry.set_current(version)
    registry.record("promoted", version=version, previous=current_version, reason=reason, scores=scores,
                    fingerprint=m.fingerprint, snapshot_time=str(m.snapshot_time),
                    config=tuning["config_file"] if tuning else "the nightly configuration (not tuned)")
    result["outcome"], result["version"] = "promoted", version
    result["pruned"] = result.get("pruned", []) + registry.prune(cfg.keep, verify=verify)
    return EXIT_PROMOTED


TUNING_DIR = "tuning"  # REGISTRY/tuning/<id>.toml and <id>-report/: the configurations tuning chose


def last_tuning(registry: Registry) -> dict | None:
    """The newest "tuned" event of the registry's history whose configuration file is still there."""
    for entry in reversed(registry.history()):
        if entry.get("event") == "tuned" and (registry.root / str(entry.get("config_file", ""))).is_file():
            return entry
    return None


def training_config(registry: Registry, cfg: NightlyConfig, train_m: Marketplace) -> tuple[TrainConfig, dict | None]:
    """The candidate's configuration and where its tuned settings come from.

    Without `tune_every_days`: the nightly configuration, untuned. With it: the last tuned configuration while it is
    younger than `tune_every_days` (by the data's clock, not the wall's: a replayed backfill re-tunes as the live job
    would), else a new tuning run, started from the nightly configuration, on `train_m` only: the gate's holdout
    lies after it, so the gate still compares the candidate with the served model on purchases neither has seen."""
    if cfg.tune_every_days is None:
        return cfg.train, None
    last = last_tuning(registry)
    if last is not None:
        age = train_m.snapshot_time - pd.Timestamp(last["snapshot_time"])
        if age < pd.Timedelta(days=cfg.tune_every_days):
            path = registry.root / last["config_file"]
            _log.info("using the configuration tuned %s (data %.1f days older): %s", last["at"],
                      age / pd.Timedelta(days=1), path)
            return TrainConfig.from_file(path), {k: last[k] for k in ("config_file", "snapshot_time", "at", "stages")
                                                 if k in last}
    _log.info("re-tuning (last tuning: %s)", last["at"] if last else "never")
    result = tune(train_m, cfg.tune, cfg.train, progress=_log.info,
                  fewer_days="a shorter --holdout-days")
    name = registry.new_version_id()
    config_file = f"{TUNING_DIR}/{name}.toml"
    write_report(result, registry.root / TUNING_DIR / f"{name}-report")
    write_config(result, registry.root / config_file)
    summary = result.summary(config_file)
    entry = registry.record("tuned", config_file=config_file, snapshot_time=str(train_m.snapshot_time),
                            fingerprint=train_m.fingerprint, seconds=summary["seconds"], stages=summary["stages"])
    return result.config, {"config_file": config_file, "snapshot_time": entry["snapshot_time"], "at": entry["at"],
                           "stages": summary["stages"]}


def write_run_report(result: dict, path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "nightly.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    ended = result.get("exit_code")
    title = ("started, not finished (still running, or killed)" if ended is None else
             f"{result.get('outcome')} (exit {ended})")
    lines = [f"# Nightly run: {title}", "",
             f"- data: {result['data']}" + (f" (sha256 {str(result['fingerprint'])[:16]})"
                                             if result.get("fingerprint") else ""),
             f"- registry: {result['registry']}; served before: {result.get('current_version') or 'nothing'}",
             f"- reason: {result.get('reason')}",
             f"- started {result.get('started_at')}" + (f", finished {result['finished_at']}, took "
                                                       f"{result.get('seconds')} s" if result.get("finished_at")
                                                       else ", not finished")]
    warnings = result.get("data_warnings") or []
    if warnings:
        lines.append(f"- data warnings ({len(warnings)}; rows dropped or values blanked, in nightly.json):")
        lines += [f"  - {w}" for w in warnings[:10]]
    tuning = result.get("tuning")
    if tuning:
        gains = ", ".join(f"{name} {st['start']:.4f} -> {st['best']:.4f}"
                          for name, st in tuning.get("stages", {}).items())
        lines.append(f"- configuration: {tuning['config_file']} (tuned {tuning.get('at')} on data until "
                     f"{tuning.get('snapshot_time')}: {gains})")
    lines.append("")
    scores = result.get("scores", {})
    if scores:
        metric = result["config"]["metric"]
        lines += [f"| task | candidate {metric} | served {metric} | difference, 95% CI | users |",
                  "|---|---|---|---|---|"]
        for task, s in scores.items():
            ci = s.get("diff_ci95")
            diff = f"{s['diff']:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else ""
            def cell(x: float | None) -> str:
                return "—" if x is None else f"{x:.4f}"

            lines.append(f"| {task} | {cell(s.get('candidate'))} | {cell(s.get('current'))} | "
                         f"{diff or 'not compared'} | {s.get('users', '')} |")
    (path / "nightly.md").write_text("\n".join(lines) + "\n")


def _current(registry: Registry, result: dict) -> str | None:
    """CURRENT's version, or None with `current_error` set where it holds no version id (bytes, a path, a
    folder): the run goes on as over a damaged CURRENT, and its report says what CURRENT holds."""
    try:
        return registry.current_version()
    except RegistryError as exc:
        result["current_error"] = f"CURRENT holds no version id: {exc}"
        return None


def _fallback_model(registry: Registry, damaged: str | None) -> tuple[Model | None, str | None]:
    """The version a worker falls back to from `damaged` (the first in the registry's fallback order that loads),
    and its id; (None, `damaged`) when none does."""
    for version in registry.fallback_order(exclude=damaged):
        try:
            return load_model(registry.path(version), mmap=False), version
        except (ArtifactError, OSError):  # damaged, or a folder it may not read: the next, as a worker does
            continue
    return None, damaged


def _damaged_manifest(registry: Registry, result: dict) -> list[dict]:
    """The damaged CURRENT's manifest, when it reads: the export must still be newer than what it was trained on
    (the probe saw an older export promoted over a damaged CURRENT)."""
    if "current_error" not in result or not (current := _current(registry, result)):
        return []
    try:
        manifest = read_manifest(registry.path(current))
        pd.Timestamp(manifest["data"]["snapshot_time"])
        if not isinstance(manifest["data"]["fingerprint"], str):
            return []
    except (ArtifactError, FormatError, KeyError, TypeError, ValueError):  # nothing to say: nothing checked
        return []
    return [manifest]


def _nothing_newer(served: dict, m: Marketplace) -> str | None:
    """Why the export holds nothing the served model (its manifest) did not see (None: it does). A re-export of
    the served snapshot's own moment is the case an operator meets after a bad export: it says what to do."""
    if served["data"]["fingerprint"] == m.fingerprint:
        return "the same export (the same data fingerprint)"
    served_time = pd.Timestamp(served["data"]["snapshot_time"])
    if served_time > m.snapshot_time:
        return f"the export ends at {m.snapshot_time}, before the served model's snapshot ({served_time})"
    if served_time == m.snapshot_time:
        return (f"a re-export of its snapshot time ({m.snapshot_time}) whose files differ (other data, or the same "
                "rows written in another order), and no purchases after it to "
                "judge a candidate on. To replace a model trained on a bad export, roll back (xuanpin rollback) and "
                "run again: the corrected export is then judged against the version served before")
    return None


def registry_table(registry_dir: str | Path, verify: bool = True) -> pd.DataFrame:
    """One row per complete version. `state` is what loading it says (`verify`): "ok", "DAMAGED" (its reason
    in `problem`: a truncated or altered file, a manifest that does not parse), "UNREADABLE" (the disk or
    permissions, not the version) or "OTHER FORMAT" (a format this code does not read); only "ok" can be served
    or rolled back to by this code."""
    registry = Registry.existing(registry_dir)
    try:
        current = registry.current()
    except RegistryError:  # a CURRENT that is no text: the listing is what finds out which version to point it at
        current = None
    served = registry.ever_served()
    rows = []
    for version in registry.versions():
        row = {"version": version, "current": "*" if version == current else "",
               "served": "yes" if version in served else "never"}
        try:  # a listing is what an operator needs when a version is broken: say which, list the rest
            man = read_manifest(registry.path(version))
            row |= {"created_at": man["created_at"], "fingerprint": man["data"]["fingerprint"][:16],
                    "orders": man["counts"]["orders"]}
        except (ArtifactError, OSError, KeyError, TypeError) as exc:  # OSError: a folder it may not read
            problem = (str(exc).split(": ", 1)[-1] if isinstance(exc, ArtifactError | OSError)
                       else f"manifest lacks {exc}")
            row |= {"created_at": f"UNREADABLE: {problem}"[:80], "fingerprint": "", "orders": ""}
        if verify:
            try:
                why = registry.check(version, load_model)
                row |= {"state": "ok", "problem": ""} if why is None else {
                    "state": "DAMAGED", "problem": why.replace(f"{registry.path(version)}/", "")}
            except OSError as exc:
                row |= {"state": "UNREADABLE", "problem": str(exc)}
            except FormatError as exc:  # another version of the code may read it: not damaged
                row |= {"state": "OTHER FORMAT", "problem": str(exc).replace(f"{registry.path(version)}/", "")}
        rows.append(row)
    return pd.DataFrame(rows)


def current_note(registry_dir: str | Path, table: pd.DataFrame | None = None) -> str | None:
    """What is wrong with CURRENT, for `registry list` (None when it names a complete version that loads). With
    `registry_table`'s `table`, CURRENT's state is read from it instead of loading the version a second time."""
    registry = Registry.existing(registry_dir)
    try:
        current = registry.current()
    except RegistryError as exc:
        return f"{exc}: a service on this registry keeps serving what it holds or the newest version served before; " \
               "point it at a version with `xuanpin rollback --to VERSION`"
    if current is None:
        return "CURRENT is missing or empty: a service on this registry falls back to the newest version served before"
    if current not in registry.versions():
        return f"CURRENT names {current!r}, which is not a complete version here"
    listed = table[table["version"] == current] if table is not None and "state" in table else None
    if listed is not None and len(listed):
        why = None if listed["state"].iloc[0] == "ok" else str(listed["problem"].iloc[0])
    else:
        try:
            why = registry.check(current, load_model)
        except (OSError, FormatError) as exc:
            why = str(exc)
    if why is not None:
        return (f"CURRENT names {current}, which does not load ({why}): a service on this registry keeps the model "
                "it holds, or falls back to the newest version served before; roll back")
    return None
