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

from fixtures.marketplace import load_truth
from recommender.arrays import top_k
from recommender.artifact import load_model
from recommender.contract import load_snapshot
from recommender.ranking import Ranker
from training.fit_metrics import (
    dear_share,
    fans_price_p90,
    identical_top_share,
    main_category_spearman,
    price_sensitive_rooms,
)
from training.trainer import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--model", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or train(args.data, Path(tmp) / "model")
        report(args.data, load_model(path, mmap=False))


def measure(data: Path, model) -> dict:
    """The three measures for the served picks, beside the truth's own (and the model's expected orders for the
    Spearman); needs the full truth (small or medium)."""
    truth = load_truth(data)
    if truth.expected_sales is None:
        raise SystemExit("the truth holds only each room's top goods; use small or medium")
    e = np.asarray(truth.expected_sales, np.float64)
    m = load_snapshot(data)
    ranker = Ranker(model)
    goods = ranker.goods
    rooms = np.setdiff1d(np.arange(len(model.anchor_ids)), truth.new_anchors)
    names = model.anchors["main_category"].astype(str).to_numpy()[rooms]
    main = np.array([goods.categories.index(c) if c in goods.categories else -1 for c in names])
    expected = np.asarray(model.if_shelved.expected(rooms), np.float64)
    served = np.array([[p.product for p in ranker.picks(int(a), 20).items] for a in rooms])
    value = e[rooms] * (goods.price * goods.commission)[None, :]
    value[:, ~ranker.gate] = -1  # the truth's picks obey the quality gates too
    truth_top = top_k(value, 10)
    sensitive = np.isin(rooms, price_sensitive_rooms(m, truth.fan_level, rooms))
    limit = np.where(sensitive, fans_price_p90(m, goods.price)[rooms], np.nan)
    return {"rooms": len(rooms), "price_sensitive_rooms": int(sensitive.sum()),
            "spearman_main_category": round(main_category_spearman(expected, e[rooms], goods.category, main), 4),
            "identical_top5_served": round(identical_top_share(served, main), 4),
            "identical_top5_truth": round(identical_top_share(truth_top, main), 4),
            "dear_top10_served": round(dear_share(served, goods.price, limit), 4),
            "dear_top10_truth": round(dear_share(truth_top, goods.price, limit), 4)}


def report(data: Path, model) -> None:
    f = measure(data, model)
    print(f"{data}: {f['rooms']} rooms")
    print(f"  Spearman in the main category (model vs truth)   {f['spearman_main_category']:.3f}")
    print(f"  identical top 5, same-category room pairs         served {f['identical_top5_served']:.3f}   "
          f"truth {f['identical_top5_truth']:.3f}")
    print(f"  top-10 share above the fans' p90 price, {f['price_sensitive_rooms']} price-sensitive rooms   "
          f"served {f['dear_top10_served']:.3f}   truth {f['dear_top10_truth']:.3f}")


if __name__ == "__main__":
    main()
