"""What `xuanpin tune` leaves behind: the chosen configuration as TOML that `xuanpin train --config` reads, and a
report (report.json, report.md, trials.csv, tuning.png) a person reads to trust it."""

from __future__ import annotations

import csv
import json
import math
import os
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on a training machine
import matplotlib.pyplot as plt
import tomli_w

from training.tune import TuneResult


def _atomic_write(path: Path, text: str) -> None:
    """Write next to `path` and rename: a reader (or a nightly job) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _validation(split: dict) -> str:
    """How the trials were validated, in words."""
    if split.get("kind") == "random":
        return (f"validated on a random {split['valid_share']:g} of each fan's distinct goods held out "
                f"(draw {split['split_seed']})")
    return f"fitted until {split['fit_until']}, validated on the next {split['valid_days']:g} days"


def config_toml(result: TuneResult) -> str:
    """The chosen TrainConfig, every field written (a later change of a default does not move a tuned model),
    headed by comments saying where it comes from."""
    lines = [f"# xuanpin tune: {result.data['source']} (sha256 {result.data['fingerprint'][:16]}...)",
             f"# {_validation(result.split)}; {result.split['test_days_held_out']:g} test days held out",
             *(f"# {s.name}: {s.metric} {s.start_value:.4f} -> {s.best_value:.4f} ({len(s.trials)} trials"
               + (f"; the best trial's {s.trial_best_value:.4f} was within noise, the start kept" if s.kept_start
                  else "") + ")"
               for s in result.stages), ""]
    return "\n".join(lines) + tomli_w.dumps(result.config.model_dump(mode="json", exclude_none=True))


def write_config(result: TuneResult, path: str | Path) -> Path:
    path = Path(path)
    _atomic_write(path, config_toml(result))
    return path


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def report_markdown(result: TuneResult) -> str:
    sp = result.split
    out = ["# Tuning report", "",
           f"Data: `{result.data['source']}` (snapshot time {result.data['snapshot_time']}). Trials fit on "
           f"{sp['fit_orders']:,} orders and are scored on {sp['valid_orders']:,}: {_validation(sp)} (pairs new in "
           f"them; {sp['users']['fan_goods']:,} fans and "
           f"{sp['users']['anchor_goods']:,} anchors sampled). The last {sp['test_days_held_out']:g} days of the "
           f"snapshot were cut off first and never seen. {result.seconds / 60:.1f} minutes in all."
           + (f" Note: {result.budget['note']}." if result.budget.get("note") else ""), "",
           "| stage | metric | start | best trial | its gain over the start | chosen | trials (pruned) | seconds |",
           "|---|---|---|---|---|---|---|---|"]
    for s in result.stages:
        pruned = sum(t["state"] == "pruned" for t in s.trials)
        gain = "—" if s.gain_interval is None else f"[{s.gain_interval[0]:+.4f}, {s.gain_interval[1]:+.4f}]"
        trial_best = "—" if math.isnan(s.trial_best_value) else f"{s.trial_best_value:.4f}"  # as the start is
        chosen = s.chosen
        out.append(f"| {s.name} | {s.metric} | {s.start_value:.4f} | {trial_best} | {gain} | "
                   f"{chosen} {s.best_value:.4f} | {len(s.trials)} ({pruned}) | {s.seconds:.0f} |")
    out += ["", "The start of each stage is the configuration it began from (with the earlier stages' best "
            "settings): its first trial. The best trial replaces it only if the 95% interval of its gain (a paired "
            "bootstrap over the validation users) is above 0: the best of many trials on one sample of users beats "
            "the start by chance too. Importance: optuna's default evaluator (PED-ANOVA) over the "
            "stage's completed trials (indicative with few trials).", ""]
    for s in result.stages:
        out += [f"## {s.name}", "", "| parameter | best | importance |", "|---|---|---|"]
        for k, v in s.best_params.items():
            out.append(f"| `{k}` | {_fmt(v)} | {_fmt(s.importances.get(k, float('nan')))} |")
        out.append("")
    out += ["![trials](tuning.png)", ""]
    return "\n".join(out)


def plot(result: TuneResult, path: Path) -> None:
    """Per stage: each trial's value (pruned trials at their last report), the best so far, the start; and
    the importance of each parameter."""
    n = len(result.stages)
    fig, axes = plt.subplots(n, 2, figsize=(11, 3.0 * n), squeeze=False, gridspec_kw={"width_ratios": [3, 2]})
    for row, s in zip(axes, result.stages, strict=True):
        ax, imp = row
        xs = [t["number"] for t in s.trials]
        done = [(t["number"], t["value"]) for t in s.trials if t["state"] == "complete"]
        pruned = [(t["number"], t["last_reported"]) for t in s.trials
                  if t["state"] == "pruned" and t["last_reported"] is not None]
        if done:
            ax.scatter(*zip(*done, strict=True), s=18, color="#1f77b4", label="trial")
            best, curve = -math.inf, []
            for x, y in done:
                best = max(best, y)
                curve.append((x, best))
            ax.step(*zip(*curve, strict=True), where="post", color="#d62728", label="best so far")
        if pruned:
            ax.scatter(*zip(*pruned, strict=True), s=18, marker="x", color="#7f7f7f", label="pruned (last report)")
        if not math.isnan(s.start_value):
            ax.axhline(s.start_value, ls="--", lw=1, color="#2ca02c", label="start")
        ax.set_title("\n".join(textwrap.wrap(f"{s.name}: {s.metric}", 70)), fontsize=9)
        ax.set_xlabel("trial")
        ax.set_xlim(-0.5, max(xs, default=0) + 0.5)
        ax.legend(fontsize=7, loc="lower right")
        names = list(s.importances)[::-1]
        imp.barh([k.rsplit(".", 1)[-1] for k in names], [s.importances[k] for k in names], color="#9467bd")
        imp.set_title("importance (PED-ANOVA)", fontsize=10)
        imp.set_xlim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(result: TuneResult, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _atomic_write(directory / "report.json", json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str))
    _atomic_write(directory / "report.md", report_markdown(result))
    with open(directory / "trials.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["stage", "trial", "state", "value", "last_reported", "seconds", "params"])
        for s in result.stages:
            for t in s.trials:
                writer.writerow([s.name, t["number"], t["state"], t["value"], t["last_reported"], t["seconds"],
                                 json.dumps(t["params"], sort_keys=True)])
    plot(result, directory / "tuning.png")
    return directory
