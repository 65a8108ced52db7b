"""The lists that give new anchors and new goods their chance, graded against the generator's truth.

    python -m bench.cold_start_lists --data DIR [--every 0 10 5] [--rooms 400]

1. 达人广场 (the merchant's list of anchors for a good) with one room in every N kept for a 新人主播
   (`new_anchor_every`; 0: none): graded NDCG@20/50 against each good's expected sales in every room if shelved
   (`goods_anchors_if_shelved`, as `xuanpin evaluate` grades it), and the share of the first 20 rooms that are
   new anchors, beside that share in the truth's own best 20 gated rooms.
2. The 新品 tab (`new_goods=true`): each room's first 20 new goods (its shelf left out), graded NDCG@20 against
   the truth's expected commission among the same new goods, beside a random 20 and the dearest by price x
   commission.

The model is trained on the evaluation's 14-day split (its own split and tasks); a benchmark, not a test.
Needs a generated snapshot with its truth/ (`xuanpin generate --scale medium --seed S --out DIR`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.tune_ranking import never_sold
from fixtures.marketplace import load_truth
from recommender.artifact import load_model
from recommender.contract import load_snapshot
from recommender.ranking import Ranker, RankingConfig
from recommender.ranking.picks import PickFilters
from training.config import TrainConfig
from training.evaluate import EvalConfig, build_tasks, counterfactual_goods, ours_anchors_served, split
from training.metrics import bootstrap_ci, ndcg_at_k
from training.trainer import train

ROOT = Path(__file__).resolve().parents[1]


def _ci(values: np.ndarray, n_boot: int) -> dict:
    mean, lo, hi = bootstrap_ci(values, n_boot, seed=0)
    return {"mean": round(mean, 4), "ci95": [round(lo, 4), round(hi, 4)]}


def merchant_view(model, task, truth, every: list[int], cfg: EvalConfig) -> dict:
    expected = np.asarray(truth.expected_sales, np.float64)
    out: dict = {}
    for n in every:
        ranker = Ranker(model, RankingConfig(new_anchor_every=n))
        served = ours_anchors_served(ranker, task, 50)
        graded = counterfactual_goods(task, {}, ranker, truth, 50, cfg, served)["models"]["ours"]
        new = np.asarray(ranker.rooms.new)
        first = served[:, :20]
        out[f"every_{n}"] = {"ndcg@20": graded["ndcg@20"], "ndcg@50": graded["ndcg@50"],
                             "new_anchor_share@20": round(float(new[first[first >= 0]].mean()), 4)}
        if "truth_new_anchor_share@20" not in out:  # the truth's best 20 gated rooms per good, training sellers out
            gain = expected[:, task.users].T.copy()
            gain[:, ~ranker.anchor_gate] = -1
            seen = task.seen.tocoo()
            gain[seen.row, seen.col] = -1
            out["truth_new_anchor_share@20"] = round(float(new[np.argsort(-gain, axis=1)[:, :20]].mean()), 4)
        print(f"  达人广场 new_anchor_every={n}: {out[f'every_{n}']}", flush=True)
    return out


def new_goods_tab(model, task, truth, train_m, rooms: int, n_boot: int) -> dict:
    ranker = Ranker(model)
    goods = ranker.goods
    new = goods.new & ranker.gate
    if task.unborn is not None:
        new &= ~np.asarray(task.unborn, bool)
    unsold = never_sold(train_m, len(goods.price))
    users = task.users[:rooms]
    value = goods.order_value * goods.commission
    gain = np.asarray(truth.expected_sales, np.float64)[users] * value[None, :]
    gain[:, ~new] = 0.0
    served = np.full((len(users), 20), -1)
    for j, anchor in enumerate(users.tolist()):
        items = ranker.picks(anchor, 20, 0, PickFilters(new_goods=True, exclude_shelf=True)).items
        served[j, :len(items)] = [p.product for p in items]
    rows = np.flatnonzero(new)
    rng = np.random.default_rng(0)
    lists = {"served": served,
             "random": np.array([rng.permutation(rows)[:20] for _ in users]),
             "price_x_commission": np.tile(rows[np.argsort(-value[rows], kind="stable")][:20], (len(users), 1))}
    out = {"rooms": len(users), "new_goods_gated": int(new.sum()), "never_sold": int((new & unsold).sum())}
    for name, ranked in lists.items():
        out[name] = _ci(ndcg_at_k(ranked, gain, 20), n_boot)
    print(f"  新品 tab: {out}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="generated snapshot with truth/")
    ap.add_argument("--every", type=int, nargs="+", default=[0, 10, 5], help="new_anchor_every settings")
    ap.add_argument("--rooms", type=int, default=400, help="rooms whose 新品 tab is graded")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "cold-start-lists.json")
    args = ap.parse_args()
    started = time.perf_counter()
    m, truth = load_snapshot(args.data), load_truth(args.data)
    cfg = EvalConfig(tasks=("anchor_goods", "goods_anchors"), train=TrainConfig(threads=args.threads))
    train_m, test, cutoff = split(m, cfg.test_days)
    tasks = build_tasks(train_m, test, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(train(train_m, Path(tmp) / "model", cfg.train), mmap=False)
    print(f"{args.data}: cut-off {cutoff}, {len(tasks['goods_anchors'].users)} goods, "
          f"{len(tasks['anchor_goods'].users)} rooms", flush=True)
    result = {"data": {"snapshot": str(args.data), "fingerprint": m.fingerprint, "cutoff": str(cutoff)},
              "merchant_view": merchant_view(model, tasks["goods_anchors"], truth, args.every, cfg),
              "new_goods_tab": new_goods_tab(model, tasks["anchor_goods"], truth, train_m, args.rooms, cfg.n_boot)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"written to {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
