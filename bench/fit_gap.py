"""Is the ranking personal? The served picks against the generator's truth, room by room within a category.

    python -m bench.fit_gap --data data/medium [--model artifacts/medium]

Trains on the whole snapshot unless --model is given, then prints, for rooms that are not new:

* **Spearman in the main category**: the mean rank correlation between the model's expected orders if shelved
  and the truth's expected sales, over the goods of the room's main category (1.0: the same order);
* **identical top 5**: among pairs of rooms with the same main category, the share whose first 5 served picks
  are the same set, beside the same share for the truth's 5 best goods by expected commission;
* **dear picks in price-sensitive rooms**: in the quarter of rooms with the most price-level-0 fans, the share of
  the first 10 served picks priced above the 90th percentile of what the room's fans bought, beside that share
  in the truth's 10 best goods by expected commission.

A benchmark, not a test: it prints figures for the issue notes and the README.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from fixtures.marketplace import load_truth
from recommender.arrays import top_k
from recommender.artifact import load_model
from recommender.ranking import Ranker
from training.trainer import train


def pair_share(sets: np.ndarray, groups: np.ndarray) -> float:
    """Among pairs of rows in the same group, the share whose (sorted) sets are equal."""
    same = total = 0
    for g in np.unique(groups):
        rows = sets[groups == g]
        if len(rows) < 2:
            continue
        eq = (rows[:, None, :] == rows[None, :, :]).all(axis=2)
        same += eq.sum() - len(rows)
        total += len(rows) * (len(rows) - 1)
    return same / total if total else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or train(args.data, Path(tmp) / "model")
        report(args.data, load_model(path, mmap=False))


def report(data: Path, model) -> None:
    truth = load_truth(data)
    if truth.expected_sales is None:
        raise SystemExit("the truth holds only each room's top goods; use small or medium")
    e = np.asarray(truth.expected_sales, np.float64)
    ranker = Ranker(model)
    goods, anchors = ranker.goods, model.anchors
    old = np.ones(len(anchors), bool)
    old[truth.new_anchors] = False
    rooms = np.flatnonzero(old)
    main = anchors["main_category"].astype(str).to_numpy()
    expected = np.asarray(model.shelf_rate.expected(np.arange(len(anchors))), np.float64)

    rho = []
    for a in rooms:
        in_main = np.flatnonzero(goods.category == goods.categories.index(main[a])) if main[a] in goods.categories \
            else np.zeros(0, int)
        if len(in_main) > 2:
            rho.append(np.corrcoef(rankdata(expected[a, in_main]), rankdata(e[a, in_main]))[0, 1])

    served = np.array([[p.product for p in ranker.picks(int(a), 20).items] for a in rooms])
    value = e * (goods.price * goods.commission)[None, :]
    value[:, ~ranker.gate] = -1  # the truth's picks obey the quality gates too
    truth_top = top_k(value[rooms], 10)
    same_model = pair_share(np.sort(served[:, :5], axis=1), main[rooms])
    same_truth = pair_share(np.sort(truth_top[:, :5], axis=1), main[rooms])

    # what each room's fans bought: the 90th percentile of the prices they paid, and the rooms' level-0 share
    orders = pd.read_parquet(data / "orders.parquet", columns=["fan_id", "anchor_id", "product_id"])
    fans = pd.read_parquet(data / "fans.parquet", columns=["fan_id"])
    level = pd.Series(truth.fan_level, index=fans["fan_id"].to_numpy())
    follows = pd.read_parquet(data / "follows.parquet", columns=["fan_id", "anchor_id"])
    follows["cheap"] = level.reindex(follows["fan_id"].to_numpy()).to_numpy() == 0
    cheap = follows.groupby("anchor_id")["cheap"].mean().reindex(model.anchor_ids.ids).fillna(0).to_numpy()
    price_of = pd.Series(goods.price, index=model.product_ids.ids)
    orders["price"] = price_of.reindex(orders["product_id"].to_numpy()).to_numpy()
    follows_of = follows.merge(orders[["fan_id", "price"]], on="fan_id")
    p90 = follows_of.groupby("anchor_id")["price"].quantile(0.9).reindex(model.anchor_ids.ids).to_numpy()
    sensitive = rooms[(cheap[rooms] >= np.quantile(cheap[rooms], 0.75)) & np.isfinite(p90[rooms])]
    at = {a: i for i, a in enumerate(rooms.tolist())}
    dear_model = np.mean([np.mean(goods.price[served[at[a], :10]] > p90[a]) for a in sensitive])
    dear_truth = np.mean([np.mean(goods.price[truth_top[at[a], :10]] > p90[a]) for a in sensitive])

    print(f"{data}: {len(rooms)} rooms")
    print(f"  Spearman in the main category (model vs truth)   {np.nanmean(rho):.3f}")
    print(f"  identical top 5, same-category room pairs         served {same_model:.3f}   truth {same_truth:.3f}")
    print(f"  top-10 share above the fans' p90 price, {len(sensitive)} price-sensitive rooms   "
          f"served {dear_model:.3f}   truth {dear_truth:.3f}")


if __name__ == "__main__":
    main()
