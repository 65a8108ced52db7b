"""Evaluation reports: JSON with every figure and the configuration, a Markdown summary, and comparisons."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.contract import table_files
from recommender.errors import ConfigError
from training.metrics import MIN_INTERVAL_USERS, bootstrap_ci

SUMMARY = ("recall@20", "ndcg@20", "ndcg@50", "map@20", "hitrate@20", "gmv_recall@20", "ndcg_earnings@20",
           "ndcg_earnings@50")
EXTRA = ("coverage@100", "exposure_small_merchant@20", "exposure_new_goods@20", "exposure_supported@20",
         "category_diversity@20")


def _known(metric: dict | float | None) -> bool:
    """A figure with a value: reports keep NaN as null (a task or model with nothing to average)."""
    if isinstance(metric, dict):
        return _number(metric.get("mean"))
    return _number(metric)


def _number(x) -> bool:
    return x is not None and math.isfinite(x)


def _interval(metric: dict) -> tuple[float, float] | None:
    """A figure's 95% interval; None where it has none (fewer users than metrics.MIN_INTERVAL_USERS)."""
    lo, hi = metric.get("ci95") or (None, None)
    return (lo, hi) if _number(lo) and _number(hi) else None


#: how a figure without an interval shows one
NO_INTERVAL = "[too few users]"


def _cell(metric: dict | float | None) -> str:
    if metric is None:
        return ""
    if not _known(metric):
        return "n/a"
    if isinstance(metric, dict):
        ci = _interval(metric)
        return f"{metric['mean']:.4f} " + (f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else NO_INTERVAL)
    return f"{metric:.4f}"


def _difference(d: dict) -> tuple[str, bool]:
    """A paired difference as text, and whether its interval excludes 0 (never where it has none)."""
    ci = _interval(d)
    if ci is None:
        return f"{d['mean']:+.4f} {NO_INTERVAL}", False
    return f"{d['mean']:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]", ci[0] > 0 or ci[1] < 0


def _users(task: dict) -> str:
    """How many users a task scored, and of how many when they were a sample (its intervals are over the sample)."""
    scored, population = task["users"], task.get("population")
    few = (f"; too few for intervals (fewer than {MIN_INTERVAL_USERS}): figures without one are not tested"
           if 0 < scored < MIN_INTERVAL_USERS else "")
    if population is None or population == scored:
        return f"{scored:,} users{few}"
    return f"{scored:,} of {population:,} users, a random sample (max_users){few}"


def _share(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


#: how to read the tables, for whoever decides whether the model ships
LEGEND = [
    "How to read it: **ours** is what the service shows (quality gates, expected commission, exposure support, "
    "category cap, exploration, pages of 20): the model that ships. **ours_no_rerank** is the same model's raw "
    "ranking (expected orders if shelved, no rules): the model's own quality; ours scores lower by what the rules "
    "give up on purpose (gated goods, 扶持 slots, the category cap, near-ties rotated). **ablation_*** rows are "
    "the model with the named part removed (category_x_quality: every room of a category alike), or, for the "
    "*_only ones, the named part alone. The rest are "
    "baselines. On synthetic data the **oracle** rows rank by the generator's truth: a ceiling for the "
    "*_if_shelved tasks, whose gain is that truth (**oracle** by expected sales for the ndcg columns, "
    "**oracle_earnings** by expected commission for the ndcg_earnings ones, where the sales oracle can be "
    "beaten). For the realised-sales tasks (anchor_goods, goods_anchors) it "
    "answers another question (what would sell if shelved, not what a room chose to list and then sold), so a "
    "baseline can score above it there (category_popularity favours what rooms of a vertical list); a share of "
    "it above 100% says that, not that the baseline knows more. Blank cells: a figure that does not apply "
    "(Spearman needs scores over every good; served pages and the truth's lists are lists). On the fan tasks "
    "(fan_goods, fan_goods_all) **ours** is the model's fan-to-goods scores (the fan feed's ranking): the "
    "selection center's rules are not part of them, so those tasks have no ours_no_rerank row.",
    "",
    "The columns, each a mean over the task's users (with its 95% interval where it has one): **recall@K** the "
    "share of a user's new pairs in its top K; **ndcg@K** the same discounted by rank (graded by the truth's "
    "expected sales on the *_if_shelved tasks); **ndcg_earnings@K** graded by expected commission instead; "
    "**map@K** mean average precision; **hitrate@K** the share of users with at least one hit; "
    "**gmv_recall@K** the share of the new pairs' GMV in the top K; **coverage@100** the share of the catalogue "
    "in at least one user's top 100; **exposure_small_merchant@20** and **exposure_new_goods@20** the share of "
    "all top-20 slots held by goods of small merchants (30-day GMV below ranking.small_merchant_gmv_30d) and by "
    "new goods (created within ranking.new_goods_days), and **exposure_supported@20** by every supported (扶持) "
    "good: new, of a small merchant or of a new shop (what ranking.support_share reserves slots for), all at the "
    "service's default thresholds whatever the ranking evaluated (one yardstick for every report): 0 where the "
    "data has none, e.g. one merchant; "
    "**category_diversity@20** distinct categories in a top 20 over its length.",
    "",
]


#: what ours and ours_no_rerank are on a snapshot without a shelf table (Online Retail): the legend's first
#: paragraph describes the shelf-rate model, which such a snapshot cannot have
WITHOUT_SHELF = [
    "**This snapshot has no shelf table**, so there is no expected-orders model: **ours_no_rerank** ranks by the "
    "vectors' affinity (the same lists as ablation_vector_affinity), and **ours** by that affinity with the "
    "goods' trend and the served rules (gates, support, category cap; no exploration, and no commission where "
    "the data has none). So ours can score above or below ours_no_rerank: the trend and the rules move it either "
    "way, and the difference is not what the rules give up.",
    "",
]


#: what a snapshot without the generator's truth (real data) does not get
WITHOUT_TRUTH = [
    "**This snapshot has no ground truth** (only generated marketplaces have one): no oracle rows and no "
    "*_if_shelved tasks (expected sales and commission had a room shelved a good), so nothing here says how "
    "well the model knows what would sell if shelved; every figure is about the realised new pairs of the test "
    "period.",
    "",
]


def markdown(result: dict) -> str:
    no_shelf = WITHOUT_SHELF if result["data"].get("shelf_model") is False else []
    no_truth = WITHOUT_TRUTH if result["data"].get("ground_truth") is False else []
    warned = result["data"].get("warnings") or []
    data_lines = ["**The data contract warned about this snapshot** (rows it dropped or repaired, columns it "
                  "ignored; the figures are of what it kept):", "", *(f"- {w}" for w in warned), ""] if warned else []
    world = result["data"].get("generator")
    drawn = [f"Generated marketplace: {world_name(world)}.", ""] if world else []
    lines = [f"# Offline evaluation ({result['data']['source']})", "", *drawn, *settings_lines(result["config"]),
             *split_lines(result), *data_lines, *LEGEND, *no_shelf, *no_truth]
    if result.get("tuning"):
        lines += tuned_side_by_side(result)
    for task, tr in result["tasks"].items():
        lines += [f"## {task} ({_users(tr)}, {tr['relevant_pairs']:,} relevant pairs)", ""]
        if tr.get("skipped"):
            lines += [f"Not scored: {tr['skipped']}.", ""]
            continue
        if "graded" in tr:
            question = "the merchant's" if task.startswith("goods_") else "the selection center's"
            lines += [f"Graded NDCG against {tr['graded']}: {question} own question.", ""]
        models = tr["models"]
        ceilings = [(name, models[name]) for name in ("oracle", "oracle_shelf") if name in models]
        cols = [c for c in (*SUMMARY, *EXTRA) if any(c in m for m in models.values())]
        header = ["model", *cols, *(f"ndcg@50 / {name}" for name, _ in ceilings)]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name, m in sorted(models.items(), key=lambda kv: -kv[1]["ndcg@50"]["mean"]):
            row = [name, *(_cell(m.get(c)) for c in cols)]
            row += [f"{m['ndcg@50']['mean'] / c['ndcg@50']['mean']:.0%}" for _, c in ceilings]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
        ours_vs = [d for d in tr.get("paired") or [] if d["b"] == "ours"]
        if ours_vs:
            lines += [f"ours against the best baseline ({ours_vs[0]['a']}), paired over the same users (95% paired "
                      "bootstrap of the per-user difference): " + "; ".join(
                          f"{d['metric']} {_difference(d)[0]}" for d in ours_vs) + ".", ""]
        if "personal" in tr:
            lines += ["Within a category (rooms sharing a main category): Spearman of the model's scores against the "
                      "truth over the room's main-category goods; the share of room pairs whose top 5 are the same "
                      "set; in the most price-sensitive quarter of rooms, the share of the top 10 priced above the "
                      "90th percentile of what their fans bought.", "",
                      "| ranking | spearman_main_category | identical_top5 | dear_top10_price_sensitive |",
                      "|---|---|---|---|"]
            for name, p in tr["personal"].items():
                lines.append(f"| {name} | {_cell(p.get('spearman_main_category'))} | {_cell(p['identical_top5'])} | "
                             f"{_cell(p['dear_top10_price_sensitive'])} |")
            lines.append("")
            coverage = tr["personal"].get("ours", {}).get("range_coverage")
            if coverage is not None:
                lines += [f"The served picks' 5%–95% range of expected commission holds the truth's for {coverage:.1%} "
                          "of them (ranking.range_log_sd sets how far the range reaches beyond the good's own "
                          "evidence).", ""]
        if "served_gap" in tr:
            g = tr["served_gap"]
            rules = ("the truth's expected sales through the same anchor gates and 新人主播 slots"
                     if task.startswith("goods_") else "the truth's expected commission through the same gates, "
                     "support boost and share, category cap and pages")
            lines += [f"Served rules against the model ({g['metric']}): the served oracle ({rules}) reaches "
                      f"{g['oracle_served']:.4f} of the unconstrained truth; ours {g['ours']:.4f}, "
                      f"{_share(g['ours_of_oracle_served'])} of the served oracle.", ""]
        if "oracle_shelf" in models:
            lines += ["oracle: the generator's expected sales if shelved; oracle_shelf: the same among goods the "
                      "anchor had listed by the end, the ceiling for realised new sales (nothing sells unless "
                      "shelved).", ""]
    return "\n".join(lines)


def world_name(world: dict) -> str:
    """A generated world in the words of `xuanpin generate`'s options: scale, seed, fit (and traffic and clicks
    where not the defaults)."""
    from fixtures.browsing import CLICKS_PER_FAN as DEFAULT_CLICKS  # the generator's own default, read when named

    traffic, clicks = world.get("traffic"), world.get("clicks")
    return (f"{world.get('scale')} scale, seed {world.get('seed')}, fit {world.get('fit')}"
            + (f", traffic {traffic:g}" if traffic not in (None, 1, 1.0) else "")
            + (", clicks per fan not recorded (a world generated before 2026-12-05)" if clicks is None
               else f", clicks {clicks:g} per fan" if clicks != DEFAULT_CLICKS else ""))


def _both_zones(when: str) -> str:
    """A report's UTC time with the Beijing time the service and the page show (2026-10-16 15:59:30 UTC is
    23:59:30 there)."""
    t = pd.Timestamp(when)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return f"{t:%Y-%m-%d %H:%M:%S} UTC ({t.tz_convert('Asia/Shanghai'):%Y-%m-%d %H:%M:%S} Beijing time)"


def split_lines(result: dict) -> list[str]:
    """What was trained on and what was scored: the cut-off of a temporal split, or each task's random split."""
    d, c = result["data"], result["config"]
    tail = (f"95% bootstrap intervals over users ({c['n_boot']} resamples). Took {result['seconds']:.0f} s.")
    if d.get("split", {}).get("kind") != "random":
        return [f"Cut-off {_both_zones(d['cutoff'])}: {d['train_orders']:,} training orders (refunded ones included), "
                f"{d['test_orders']:,} test purchases (orders not refunded) over {c['test_days']:g} days. Full-ranking "
                "metrics over new pairs, " + tail, ""]
    sp = d["split"]
    lines = [f"Random per-user split: {sp['test_share']:.0%} of each user's distinct items held out (seed "
             f"{sp['seed']}; users with fewer than {sp['min_items']} items stay all in training), one model trained "
             f"per task on the rest, time features counted back from {sp['reference_time']}. Full-ranking metrics "
             "over the held-out items, each user's training items left out of its ranking; " + tail, "",
             "| task | user | users | split | kept whole | pairs held out / all | training orders | test purchases |",
             "|---|---|---|---|---|---|---|---|"]
    for task, t in sp["tasks"].items():
        lines.append(f"| {task} | {t['user']} | {t['users']:,} | {t['users_split']:,} | "
                     f"{t['users_all_in_training']:,} | {t['test_pairs']:,} / {t['pairs']:,} | "
                     f"{t['train_orders']:,} | {t['test_purchases']:,} |")
    lines += [""] + [f"Skipped {task}: {why}." for task, why in sp["skipped"].items()]
    return [*lines, ""] if sp["skipped"] else lines


def intervals_apart(x: dict, y: dict) -> bool:
    """Do two metrics' 95% intervals not overlap? (Not where either has none.)"""
    a, b = _interval(x), _interval(y)
    return a is not None and b is not None and (a[1] < b[0] or b[1] < a[0])


#: what the side-by-side of tuned and untuned shows: realised sales' figures, or the graded tasks' own
TUNED_METRICS = ("ndcg@20", "recall@20")
TUNED_GRADED_METRICS = ("ndcg@50", "ndcg_earnings@50")


def tuned_side_by_side(result: dict) -> list[str]:
    """Each of our models untuned and tuned (tuned on the training period's last days only), with the
    difference and its paired 95% interval (both scored on the same users), or, in reports written before
    those were kept, whether the two separate intervals are apart (far more conservative)."""
    tunings = result["tuning"] if "stages" not in result["tuning"] else {"": result["tuning"]}  # random: per task
    lines = ["## Tuned and untuned", ""]
    for task, t in tunings.items():
        lines += [(f"{task}: t" if task else "T") +
                  f"uned with `xuanpin tune` on the training period ({t['split']['fit_orders']:,} orders fitted, "
                  + (f"a random {t['split']['valid_share']:g} of each fan's goods validating"
                     if t["split"].get("kind") == "random"
                     else f"the next {t['split']['valid_days']:g} days validating")
                  + f"; {t['seconds']:.0f} s), never on the test "
                  "pairs: " + ", ".join(f"{name} {st['start']:.4f} -> {st['best']:.4f} on validation"
                                        for name, st in t["stages"].items()) + ".", ""]
    kept = [task for task, t in tunings.items() if t.get("config") is not None
            and t["config"] == result["config"].get("train")]
    if kept:
        lines += [("The tuning" if list(kept) == [""] else f"The tuning for {', '.join(kept)}")
                  + " kept every starting setting: the tuned model is the untuned one, so those rows read 0.", ""]
    lines += ["| task | model | metric | untuned | tuned | tuned - untuned (paired 95% interval) | surely apart |",
              "|---|---|---|---|---|---|---|"]
    for task, tr in result["tasks"].items():
        models = tr["models"]
        paired = {(d["b"], d["metric"]): d for d in tr.get("paired") or []}
        metrics = TUNED_GRADED_METRICS if task.endswith("_if_shelved") else TUNED_METRICS
        for name in models:
            if not name.endswith("_tuned") or name[: -len("_tuned")] not in models:
                continue
            base, tuned = models[name[: -len("_tuned")]], models[name]
            for metric in metrics:
                if metric in base and metric in tuned:
                    x, y = base[metric], tuned[metric]
                    d = paired.get((name, metric))
                    if d is not None:
                        diff, apart = _difference(d)
                    else:
                        diff, apart = f"{y['mean'] - x['mean']:+.4f} (separate intervals)", intervals_apart(x, y)
                    lines.append(f"| {task} | {name[: -len('_tuned')]} | {metric} | {_cell(x)} | {_cell(y)} | "
                                 f"{diff} | {'yes' if apart else 'no'} |")
    return [*lines, ""]


def check_report_dir(out: Path, own: bool = True) -> None:
    """Refuse an --out that cannot hold a report before the evaluation's minutes are spent: a file, a path under
    a file, a directory that cannot be made or written, and (`own`: a folder of the report's own) one holding a
    snapshot, an artifact or a registry."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    if own and out.is_dir() and (held := _holds(out)):  # a report beside them made `generate` refuse its own world
        raise ConfigError(f"--out {out}: holds {held}; write the report to a folder of its own")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write a report there ({exc.strerror or exc})") from exc


def _holds(folder: Path) -> str | None:
    """What a folder holds that is no report's place: a snapshot's tables, a model artifact, a registry."""
    if (folder / "manifest.json").is_file():
        return "a model artifact (manifest.json)"
    if (folder / "versions").is_dir():
        return "a model registry (versions/)"
    tables = table_files(folder)
    return f"a snapshot's tables ({', '.join(tables[:3])}{', …' if len(tables) > 3 else ''})" if tables else None


def finite(obj):
    """`obj` with NaN and infinities as None: report.json is standard JSON (JavaScript's JSON.parse refuses NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


#: the plots this module draws, by name: only those are removed when a new report no longer draws them
_OWN_PLOT = re.compile(r"(recall_at_k|coverage_vs_ndcg|tail_exposure)_[A-Za-z0-9_]+\.png")


#: the per-user values of a report (evaluate's `per_user` collector), beside report.json
PER_USER_FILE = "per_user.npz"


def write_report(result: dict, out: Path, per_user: dict | None = None) -> Path:
    """report.json, the plots and report.md, written aside and then moved in, report.md last: a run that fails or
    is stopped while writing (the plots take the longest) leaves the previous report as it was. The moves are
    renames within the folder; after them, plots this module drew for an earlier report and no longer draws are
    removed (other files in the folder are not touched). `per_user` (evaluate's collector) goes to per_user.npz,
    which `xuanpin evaluate --compare` pairs user by user; without it an older per_user.npz, another report's, is
    removed."""
    check_report_dir(out)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".report-"))
    try:
        (staging / "report.json").write_text(json.dumps(finite(result), indent=2, ensure_ascii=False,
                                                        allow_nan=False), encoding="utf-8")
        if per_user is not None:
            np.savez_compressed(staging / PER_USER_FILE, **_flat(per_user))
        images = plots(result, staging)
        text = markdown(finite(result)) + "\n## Plots\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in images) + "\n"
        (staging / "report.md").write_text(text, encoding="utf-8")
        for image in images:
            os.replace(image, out / image.name)
        if per_user is not None:
            os.replace(staging / PER_USER_FILE, out / PER_USER_FILE)
        else:  # the values there are of an earlier report: paired with this one they would mislead
            (out / PER_USER_FILE).unlink(missing_ok=True)
        os.replace(staging / "report.json", out / "report.json")
        os.replace(staging / "report.md", out / "report.md")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    drawn = {image.name for image in images}
    for old in out.iterdir():
        if _OWN_PLOT.fullmatch(old.name) and old.name not in drawn:
            old.unlink(missing_ok=True)
    return out


def _flat(per_user: dict) -> dict[str, np.ndarray]:
    """evaluate's collector as npz arrays: "{task}/users" (unicode ids) and "{task}/{model}/{metric}" (float32)."""
    out = {}
    for task, t in per_user.items():
        out[f"{task}/users"] = np.asarray(t["users"]).astype(str)
        for model, metrics in t["models"].items():
            out |= {f"{task}/{model}/{metric}": np.asarray(v, np.float32) for metric, v in metrics.items()}
    return out


def read_per_user(path: Path) -> dict:
    """A per_user.npz as evaluate's collector ({task: {"users", "models": {model: {metric: values}}}}); never
    through pickle. A file that is not one (corrupt, truncated, arrays of the wrong kind or length) is a
    ValueError."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("one array, not an npz archive")
        with loaded as z:
            arrays = {key: z[key] for key in z.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, NotImplementedError, RuntimeError) as exc:
        # flipped bits in a zip header also read as an unknown zip version or an encrypted member
        raise ValueError(f"not a readable npz ({type(exc).__name__}: {exc})") from None
    out: dict = {}
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{key}: not a numpy array")
        task, _, rest = key.partition("/")
        if rest == "users":
            if value.ndim != 1 or value.dtype.kind != "U":
                raise ValueError(f"{key}: not a list of ids (dtype {value.dtype}, shape {value.shape})")
            out.setdefault(task, {"models": {}})["users"] = value
            continue
        model, _, metric = rest.partition("/")
        if not model or not metric or value.ndim != 1 or value.dtype.kind != "f":
            raise ValueError(f"{key}: not a task/model/metric array of per-user values (dtype {value.dtype})")
        out.setdefault(task, {"models": {}})["models"].setdefault(model, {})[metric] = value
    for task, t in out.items():
        if "users" not in t:
            raise ValueError(f"{task}: per-user values without {task}/users")
        wrong = [f"{model}/{metric}" for model, ms in t["models"].items() for metric, v in ms.items()
                 if len(v) != len(t["users"])]
        if wrong:
            raise ValueError(f"{task}: {', '.join(wrong)} not one value per user ({len(t['users'])} users)")
    return out


def task_split(data: dict, task: str) -> dict | None:
    """One task's split as a report records it: a random split is per task, so two runs with other task lists
    (whose records differ in their other tasks) split a task they share alike when this agrees."""
    split = data.get("split")
    if not isinstance(split, dict) or split.get("kind") != "random":
        return split
    return {**{k: v for k, v in split.items() if k not in ("tasks", "skipped")},
            "task": (split.get("tasks") or {}).get(task), "skipped": (split.get("skipped") or {}).get(task)}


def _splits_differ(a: dict, b: dict) -> list[str]:
    """The tasks both reports hold whose splits differ (all of them for other temporal splits)."""
    da, db = a.get("data", {}), b.get("data", {})
    return [t for t in sorted(set(a.get("tasks", {})) & set(b.get("tasks", {})))
            if task_split(da, t) != task_split(db, t)]


def differences(a: dict, b: dict) -> list[str]:
    """What besides the model differs between two reports (data, split, users sampled, bootstrap): a B - A table
    of such reports mixes those differences into the model's."""
    out = []
    da, db = a.get("data", {}), b.get("data", {})
    if da.get("fingerprint") != db.get("fingerprint"):
        named = [f"{d.get('source')} {str(d.get('fingerprint'))[:12]}"
                 + (f", {world_name(d['generator'])}" if d.get("generator") else "") for d in (da, db)]
        out.append(f"the data differ (A: {named[0]}; B: {named[1]})")
    if differ := _splits_differ(a, b):  # named by task, not two whole records on one line
        out.append(f"the splits differ for {', '.join(differ)} (see each report's split)")
    for key in ("max_users", "n_boot", "seed"):
        x, y = a.get("config", {}).get(key), b.get("config", {}).get(key)
        if x != y:
            out.append(f"{key} differs (A: {x}, B: {y})")
    return out


def _defaults() -> dict[str, dict]:
    """The built-in settings a report's are compared with (as report.json records them)."""
    from recommender.ranking import RankingConfig
    from training.config import TrainConfig

    return {"train": TrainConfig().model_dump(mode="json"), "ranking": RankingConfig().model_dump(mode="json")}


#: what _walk puts where one side of two settings lacks a field (one added since the report was written)
ABSENT = object()


def _walk(x, y, path: str, found: list[tuple[str, object, object]]) -> None:
    """Every dotted path where two nested settings differ, with both values (ABSENT where one lacks it)."""
    if isinstance(x, dict) and isinstance(y, dict):
        for key in dict.fromkeys([*x, *y]):
            _walk(x.get(key, ABSENT), y.get(key, ABSENT), f"{path}.{key}", found)
    elif x != y:
        found.append((path, x, y))


def _shown(value) -> str:
    return "absent (a setting added since)" if value is ABSENT else json.dumps(value, ensure_ascii=False)


def settings_lines(config: dict) -> list[str]:
    """report.md's line of the settings the evaluated model and ranking were built with, where they differ from
    the built-in defaults: 'ours' is what ships only with these."""
    found: list[tuple[str, object, object]] = []
    recorded = [section for section in ("train", "ranking") if section in config]
    for section in recorded:
        _walk(_defaults()[section], config[section], section, found)
    text = ("Settings: the built-in defaults" if not found else "Settings that differ from the built-in defaults: "
            + "; ".join(f"{path} {_shown(y)} (default {_shown(x)})" for path, x, y in found))
    missing = [f"the {section} settings" for section in ("train", "ranking") if section not in recorded]
    if missing:
        text += f" ({' and '.join(missing)} were not recorded: an older report)"
    return [text + ".", ""]


def settings_differences(a: dict, b: dict, limit: int = 12) -> str | None:
    """The training and ranking settings two reports' models were built with, where they differ, as dotted
    paths ('train.shelf_rate.iterations A 15, B 20'): the change a B - A table measures, or, where nobody meant
    one, the surprise that explains it. A report from before the ranking settings were recorded is said to
    lack them, beside what the other's differ in from the defaults. None where they agree."""
    ca, cb = a.get("config", {}), b.get("config", {})
    found: list[str] = []
    for section in ("train", "ranking"):
        pairs: list[tuple[str, object, object]] = []
        if section in ca and section in cb:
            _walk(ca[section], cb[section], section, pairs)
            found += [f"{path} A {_shown(x)}, B {_shown(y)}" for path, x, y in pairs]
        elif section in ca or section in cb:
            lacking, holding = ("A", cb) if section in cb else ("B", ca)
            _walk(_defaults()[section], holding[section], section, pairs)
            other = "B" if lacking == "A" else "A"
            found.append(f"{section} not recorded in {lacking} (an older report), {other}'s "
                         + (", ".join(f"{path} {_shown(y)} (default {_shown(x)})" for path, x, y in pairs)
                            if pairs else "the defaults"))
    if not found:
        return None
    more = f"; and {len(found) - limit} more (each report.json's config)" if len(found) > limit else ""
    return "SETTINGS: " + "; ".join(found[:limit]) + more


def _unpaired(task: str, per_a: dict | None, per_b: dict | None, apart: list[str]) -> str | None:
    """Why a task's rows cannot be compared user by user (None: they can): a report without per-user values,
    other data or another split (`apart`: the same users then have other targets), or other users."""
    missing = [side for side, per in (("A", per_a), ("B", per_b)) if per is None or task not in per]
    if missing:
        return f"no per-user values in {' or '.join(missing)} ({PER_USER_FILE})"
    if apart:
        return f"{' and '.join(apart)}, so the same users have other targets"
    ua, ub = per_a[task]["users"], per_b[task]["users"]
    if not np.array_equal(ua, ub):
        if len(ua) == len(ub) and np.array_equal(np.sort(ua), np.sort(ub)):
            return "the same users in another order"
        return f"other users were sampled (A {len(ua):,}, B {len(ub):,}, {len(np.intersect1d(ua, ub)):,} in both)"
    return None


def _why_not_paired(va: np.ndarray | None, vb: np.ndarray | None, x: dict, y: dict) -> str | None:
    """Why one row of a task that pairs cannot be paired (None: it can), in the one cause that applies."""
    missing = [side for side, v in (("A", va), ("B", vb)) if v is None]
    if missing:
        return f"{' and '.join(missing)} kept no per-user values of it"
    foreign = [side for side, v, m in (("A", va, x), ("B", vb, y)) if not _matches(v, m)]
    if foreign:
        return (f"{' and '.join(foreign)}'s per-user values do not average to its report's figure (a per_user.npz "
                "of another run?)")
    if not np.array_equal(np.isnan(va), np.isnan(vb)):
        return "other users have nothing to find in A than in B"
    return None


def _matches(values: np.ndarray | None, metric: dict) -> bool:
    """Do the per-user values average to the report's mean (to its rounding)? Not: they are not this report's."""
    if values is None:
        return False
    known = values[~np.isnan(values)]
    return len(known) > 0 and abs(float(known.mean(dtype=np.float64)) - metric["mean"]) <= 1e-4


#: the realised-sales metrics whose per-user values `evaluate(per_user=...)` keeps, and the graded ones of the
#: *_if_shelved tasks (all they have): what --compare shows unless told, so its rows can be paired
PER_USER_METRICS = ("recall@20", "ndcg@20", "gmv_recall@20")
GRADED_METRICS = ("ndcg@20", "ndcg@50", "ndcg_earnings@20", "ndcg_earnings@50")


def _default_metrics(task: str) -> tuple[str, ...]:
    return GRADED_METRICS if task.endswith("_if_shelved") else PER_USER_METRICS


def comparable(a: dict, b: dict) -> dict[str, set[str]]:
    """What two reports hold to compare: the tasks, models and metrics found in either (for --compare's
    choices, and for naming them when a choice is not there)."""
    found: dict[str, set[str]] = {"task": set(), "model": set(), "metric": set()}
    for report in (a, b):
        for task, tr in report["tasks"].items():
            found["task"].add(task)
            for model, figures in tr["models"].items():
                found["model"].add(model)
                found["metric"] |= {m for m, v in figures.items() if _figure(m, v)}
    return found


def _figure(name: str, value) -> bool:
    """A figure of a model that --compare can show: a metric with its interval, or one number per run
    (coverage@100, the exposure shares, category diversity; not the seconds a ranking took)."""
    if isinstance(value, dict):
        return "mean" in value
    return name != "seconds" and (value is None or isinstance(value, (int, float)))


def _same(x: dict | float | None, y: dict | float | None, va: np.ndarray | None, vb: np.ndarray | None) -> bool:
    """The same figure in A and B: the same mean and interval, and the same value for every user where both
    reports hold them (an unchanged baseline, not a change that happens to average out)."""
    if not isinstance(x, dict) or not isinstance(y, dict):
        return x == y
    if x.get("mean") != y.get("mean") or x.get("ci95") != y.get("ci95"):
        return False
    return va is None or vb is None or np.array_equal(va, vb, equal_nan=True)


class NothingToCompare(ValueError):
    """Two reports (or the rows asked of them) share no row: an empty table is not an answer."""


def _mean(figure: dict | float) -> float:
    return figure["mean"] if isinstance(figure, dict) else float(figure)


def _nothing_in_common(a: dict, b: dict, metrics: tuple[str, ...] | None, tasks: tuple[str, ...] | None,
                       models: tuple[str, ...] | None) -> str:
    """What --compare would have compared and why no row is in both reports."""
    ta, tb = set(a["tasks"]), set(b["tasks"])
    if not ta & tb:
        return (f"no task is in both reports: A holds {', '.join(sorted(ta)) or 'none'}; B holds "
                f"{', '.join(sorted(tb)) or 'none'}")
    asked = [f"{kind} {', '.join(names)}" for kind, names in (("tasks", tasks), ("models", models),
                                                              ("metrics", metrics)) if names]
    head = f"no row is in both reports{' among ' + '; '.join(asked) if asked else ''}"
    scope = sorted((ta & tb) & set(tasks or ta))
    if not scope:
        return (f"{head}: the tasks asked are not in both (A holds {', '.join(sorted(ta))}; B holds "
                f"{', '.join(sorted(tb))})")

    def listed(names: set[str], most: int = 10) -> str:
        names = sorted(names)
        return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")

    held = []
    for task in scope:
        ma, mb = a["tasks"][task]["models"], b["tasks"][task]["models"]
        both = set(ma) & set(mb)
        figures = {m for n in both for m, v in ma[n].items() if _figure(m, v) and m in mb[n]}
        held.append(f"{task} holds models {listed(both) or 'none'} in both, with "
                    f"{listed(figures) or 'no figure'}")
    return f"{head}; " + "; ".join(held)


def compare(a: dict, b: dict, per_a: dict | None = None, per_b: dict | None = None,
            metrics: tuple[str, ...] | None = None, tasks: tuple[str, ...] | None = None,
            models: tuple[str, ...] | None = None, hide_same: bool = False) -> str:
    """B minus A for every (task, model, metric) both reports have. Where both have the per-user values
    (`per_a`, `per_b`: read_per_user's, or evaluate's collectors) of the same users, the test is paired: the
    per-user differences' 95% bootstrap interval, '*' where it excludes 0 (the users' own noise cancels: the same
    run's models differ far more surely than two separate intervals say). Elsewhere '*' marks separate 95%
    intervals that do not overlap, and a NOTE says why. Reports of different data or splits are compared with a
    warning above the table, which says what differs.

    `metrics` (None: the figures kept per user, PER_USER_METRICS, and GRADED_METRICS on the *_if_shelved tasks), `tasks`
    and `models` (None: all) choose the rows; `hide_same` leaves out rows whose figures are the same in A and B
    (the baselines two runs of one split share) and says how many."""
    lines = [f"WARNING: not a comparison of models alone: {d}" for d in differences(a, b)]
    if settings := settings_differences(a, b):
        lines.append(settings)
    for task in sorted(set(a["tasks"]) ^ set(b["tasks"])):
        lines.append(f"NOTE: task {task} is only in {'A' if task in a['tasks'] else 'B'}: not compared")
    for task in sorted(set(a["tasks"]) & set(b["tasks"])):
        ma, mb = a["tasks"][task]["models"], b["tasks"][task]["models"]
        for side, only in (("A", sorted(set(ma) - set(mb))), ("B", sorted(set(mb) - set(ma)))):
            if only:
                lines.append(f"NOTE: {task}: {', '.join(only)} only in {side}: not compared")
    da, db = a.get("data", {}), b.get("data", {})
    apart_data = ["the data differ"] if da.get("fingerprint") != db.get("fingerprint") else []
    split_apart = set(_splits_differ(a, b))
    cfg = b.get("config", {})  # the bootstrap of B where the two differ (differences() warns)
    n_boot, seed = int(cfg.get("n_boot") or 500), int(cfg.get("seed") or 0)
    rows, notes, hidden = [], [], 0
    for task in a["tasks"]:
        if task not in b["tasks"] or (tasks is not None and task not in tasks):
            continue
        why = _unpaired(task, per_a, per_b, apart_data + (["the splits differ"] if task in split_apart else []))
        pa = {} if why else per_a[task]["models"]
        pb = {} if why else per_b[task]["models"]
        compared, unmatched = False, {}
        for model, ma in a["tasks"][task]["models"].items():
            mb = b["tasks"][task]["models"].get(model)
            if mb is None or (models is not None and model not in models):
                continue
            for metric in metrics or _default_metrics(task):
                if metric not in ma or metric not in mb:
                    continue
                x, y = ma[metric], mb[metric]
                va, vb = pa.get(model, {}).get(metric), pb.get(model, {}).get(metric)
                if hide_same and _same(x, y, va, vb):
                    hidden += 1
                    continue
                head = f"| {task} | {model} | {metric} | {_cell(x)} | {_cell(y)} |"
                if not (_known(x) and _known(y)):
                    rows.append(f"{head} n/a | | |")
                    continue
                if not isinstance(x, dict) or not isinstance(y, dict):  # one number per run: nothing to test
                    rows.append(f"{head} {_mean(y) - _mean(x):+.4f} | one figure | |")
                    continue
                compared = True
                unpaired = why or _why_not_paired(va, vb, x, y)
                if not unpaired:
                    mean, lo, hi = bootstrap_ci(np.asarray(vb, np.float64) - np.asarray(va, np.float64), n_boot,
                                                seed=seed)
                    diff, apart = _difference({"mean": mean, "ci95": [lo, hi]})
                    rows.append(f"{head} {diff} | paired | {'*' if apart else ''} |")
                    continue
                if not why:
                    unmatched.setdefault(unpaired, []).append(f"{model} {metric}")
                rows.append(f"{head} {y['mean'] - x['mean']:+.4f} | overlap | {'*' if intervals_apart(x, y) else ''} |")
        if why and compared:
            notes.append(f"NOTE: {task}: compared by the overlap of separate intervals: {why}")
        for cause, which in unmatched.items():
            notes.append(f"NOTE: {task}: {', '.join(which)} compared by the overlap of separate intervals: {cause}")
    if hidden:
        notes.append(f"NOTE: {hidden:,} rows with the same figures in A and B are not shown (--all-rows shows them)")
        if not rows:
            return "\n".join([*lines, *notes, "A and B give the same figures in every row compared."])
    if not rows:
        raise NothingToCompare(_nothing_in_common(a, b, metrics, tasks, models))
    lines += [*notes, "| task | model | metric | A | B | B - A | test | |", "|---|---|---|---|---|---|---|---|", *rows,
              "", f"test: paired: B - A over the same users with its 95% paired bootstrap interval ({n_boot} "
              "resamples), '*' where it excludes 0; overlap: '*' where the two separate 95% intervals do not overlap "
              "(far more conservative); one figure: a number per run (coverage, exposure shares, diversity), "
              "which has no interval to test."]
    return "\n".join(lines)


def plots(result: dict, out: Path) -> list[Path]:
    """Recall@K curves per task, coverage vs accuracy, and exposure of small merchants and new goods."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    written = []
    ks = result["config"]["ks"]
    for task, tr in result["tasks"].items():
        if not tr["models"] or not all(f"recall@{k}" in m for m in tr["models"].values() for k in ks):
            continue  # graded-only tasks have no recall curve; a task with no users, nothing
        fig, ax = plt.subplots(figsize=(8.5, 4.5))
        colours = plt.cm.tab20.colors
        ordered = sorted(tr["models"].items(), key=lambda kv: -kv[1][f"recall@{ks[-1]}"]["mean"])
        for i, (name, m) in enumerate(ordered):
            ax.plot(ks, [m[f"recall@{k}"]["mean"] for k in ks], marker="o", color=colours[i % len(colours)],
                    linestyle="--" if name.startswith(("ablation", "oracle")) else "-", label=name)
        ax.set(xlabel="K", ylabel="Recall@K", title=f"{task}: Recall@K (new pairs in the test period)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        path = out / f"recall_at_k_{task}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

        fig, ax = plt.subplots(figsize=(6, 4.5))
        for name, m in tr["models"].items():
            ax.scatter(m["coverage@100"], m["ndcg@20"]["mean"])
            ax.annotate(name, (m["coverage@100"], m["ndcg@20"]["mean"]), fontsize=7)
        ax.set(xlabel="catalogue coverage@100", ylabel="NDCG@20", title=f"{task}: coverage vs accuracy")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out / f"coverage_vs_ndcg_{task}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

        exposure = {n: m for n, m in tr["models"].items() if "exposure_new_goods@20" in m}
        if exposure:
            fig, ax = plt.subplots(figsize=(7, 4.5))
            names = list(exposure)
            x = range(len(names))
            ax.bar([i - 0.2 for i in x], [exposure[n]["exposure_small_merchant@20"] for n in names], 0.4,
                   label="small merchants")
            ax.bar([i + 0.2 for i in x], [exposure[n]["exposure_new_goods@20"] for n in names], 0.4,
                   label="new goods")
            ax.set_xticks(list(x), names, rotation=45, ha="right", fontsize=7)
            ax.set(ylabel="share of top-20 slots", title=f"{task}: tail exposure")
            ax.legend()
            fig.tight_layout()
            path = out / f"tail_exposure_{task}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written
