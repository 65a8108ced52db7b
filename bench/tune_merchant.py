"""The merchant's ranking without a shelf table (达人广场 on Online Retail): goods→anchors NDCG@20 of the served
ranking over a grid of `RankingConfig.room_activity_weight`, on validation days of the training period.

    python -m bench.tune_merchant [--data online-retail|DIR] [--test-days 30] [--valid-days 30]
                                  [--weights 0 0.5 1 1.5 2 3] [--activity category all]

The snapshot's last `--test-days` (the evaluation's test window) are cut off first and never read; the
`--valid-days` before them are the target, and a model trained on the days before those ranks, for each good
bought by someone new in the validation days, the rooms (training/tasks.py's goods_anchors task, served through
`Ranker.anchors_for` as `xuanpin evaluate` scores "ours"). Each grid setting only builds a new Ranker. Activity
"category" is what the service reads, the room's 30-day orders in the good's category; "all" puts the room's
30-day orders in every category in its place (the artifact's anchor stats), at each weight. A snapshot DIR
without a shelf table (a generated one without shelf.parquet) scores the synthetic marketplace the same way.
The reference rows are evaluate's baselines on the same task (popularity, recent popularity, ItemKNN, ALS).
Results are printed and written as JSON to bench/results/. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from recommender.artifact import load_model
from recommender.contract import load_snapshot
from recommender.ranking import Ranker, RankingConfig
from recommender.threads import compute_threads
from training.config import TrainConfig
from training.evaluate import EvalConfig, baselines, ours_anchors_served
from training.metrics import bootstrap_ci, ranking_metrics
from training.tasks import TaskSample, build_tasks, rank_task, split
from training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
K = 20


def _snapshot(data: str, tmp: Path) -> Path:
    if data != "online-retail":
        return Path(data)
    from training.online_retail import convert_online_retail

    convert_online_retail(tmp / "snapshot")
    return tmp / "snapshot"


def _ndcg(ranked: np.ndarray, truth) -> dict:
    values = ranking_metrics(ranked, truth, (K,))[f"ndcg@{K}"]
    mean, lo, hi = bootstrap_ci(values, 500, seed=0)
    return {"mean": round(mean, 5), "ci95": [round(lo, 5), round(hi, 5)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="online-retail")
    ap.add_argument("--test-days", type=float, default=30.0)
    ap.add_argument("--valid-days", type=float, default=30.0)
    ap.add_argument("--weights", type=float, nargs="+", default=[0, 0.5, 1, 1.5, 2, 3])
    ap.add_argument("--activity", nargs="+", choices=["category", "all"], default=["category", "all"])
    ap.add_argument("--max-users", type=int, default=3000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tune-merchant.json")
    args = ap.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        m = load_snapshot(_snapshot(args.data, Path(tmp)))
        train_m, _, _ = split(m, args.test_days)  # the test window is never read again
        fit_m, valid, cutoff = split(train_m, args.valid_days)
        task = build_tasks(fit_m, valid, TaskSample(tasks=("goods_anchors",), max_users=args.max_users))[
            "goods_anchors"]
        model = load_model(train(fit_m, Path(tmp) / "model", TrainConfig()), mmap=False)
        rows: dict[str, dict] = {}
        with compute_threads(1) as threads:
            for name, scorer in baselines(fit_m, "goods_anchors", EvalConfig(), threads).items():
                if name in ("popularity", "recent_popularity", "itemknn", "als"):
                    rows[name] = _ndcg(rank_task(task, scorer, K), task.truth)
                    print(f"{name:40s} {rows[name]}", flush=True)
        orders_30d = model.anchor_stats["orders_30d"].to_numpy(float)
        for activity in args.activity:
            for w in args.weights:
                if w == 0 and activity != args.activity[0]:
                    continue  # the same ranking whatever the activity
                ranker = Ranker(model, RankingConfig(room_activity_weight=w))
                if ranker.rooms.category_orders is None:
                    raise SystemExit("the artifact has no anchor boards (formats before 8)")
                if activity == "all":  # every category's column holds the room's total
                    ranker.rooms.category_orders = np.repeat(orders_30d[:, None],
                                                             ranker.rooms.category_orders.shape[1], axis=1)
                name = f"ours {activity}^{w:g}"
                rows[name] = _ndcg(ours_anchors_served(ranker, task, K), task.truth)
                print(f"{name:40s} {rows[name]}", flush=True)
    out = {"data": args.data, "validation_cutoff": str(cutoff), "valid_days": args.valid_days,
           "test_days_held_out": args.test_days, "users": len(task.users), f"ndcg@{K}": rows,
           "seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
