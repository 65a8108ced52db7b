"""Variants of the room x good term against the generator's truth, without training the rest of the model.

    python -m bench.taste --data /tmp/xuanpin-bench/medium-0 --variants '{}' '{"spending_level": false}'

Each variant is a JSON object of ``[audience_fit]`` settings. The shelf-rate model is fitted once, then each
variant's term is fitted and scored as ``bench.train --quality`` scores "ours": NDCG@50 of each room's top 50 by
expected orders if shelved against the truth's expected sales (warm rooms, new rooms), and the mean Spearman
within the room's main category (warm rooms, averaged over batches of 256), and the seconds the variant's term took
to fit (the shelf-rate model's fit, shared, not included). A benchmark, not a test: it prints
figures for the README. (Commit c9706a7 holds the same bench with the fans' taste experiments in
docs/personal-matching.md, which also fitted the ALS vectors once per world.)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from fixtures.marketplace import load_truth
from recommender.audience_fit import AudienceFitConfig, fit_audience_rates
from recommender.contract import load_snapshot
from recommender.interactions import anchor_fan_engagement
from recommender.shelf_rate import fit_shelf
from training.config import TrainConfig
from training.fit_metrics import main_category_spearman
from training.metrics import ndcg_at_k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--variants", nargs="+", default=["{}"])
    args = ap.parse_args()
    variants = []
    for variant in args.variants:  # every variant checked before the minute of loading and fitting
        try:
            variants.append((variant, AudienceFitConfig(**json.loads(variant))))
        except (ValueError, TypeError) as exc:  # bad JSON, a misspelt key or a bad value (pydantic's error names it)
            ap.error(f"variant {variant}: {exc}")
    config = TrainConfig()
    m, truth = load_snapshot(args.data), load_truth(args.data)
    expected = np.asarray(truth.expected_sales, np.float64)
    n_a = len(m.anchor_ids)
    new = np.zeros(n_a, bool)
    new[truth.new_anchors] = True
    warm, cold = np.flatnonzero(~new), np.flatnonzero(new)
    engagement = anchor_fan_engagement(m, config.anchors.buyer_weight)
    fitted = fit_shelf(m, config.shelf_rate, engagement)
    cats = list(fitted.rates.categories)
    goods_category = np.asarray(fitted.rates.category, np.int64)
    names = m.anchors["main_category"].astype(str).to_numpy()
    main_cat = np.array([cats.index(c) if c in cats else -1 for c in names])
    for variant, cfg in variants:
        start = time.perf_counter()
        rates = fit_audience_rates(m, fitted, engagement, cfg)
        seconds = time.perf_counter() - start
        out = {}
        for name, rows in (("warm", warm), ("new", cold)):
            scores = [ndcg_at_k(rates.top_goods(rows[lo:lo + 256], 50)[0].astype(np.int64),
                                expected[rows[lo:lo + 256]], 50) for lo in range(0, len(rows), 256)]
            out[name] = round(float(np.nanmean(np.concatenate(scores))), 4)
        rho = [main_category_spearman(np.asarray(rates.expected(warm[lo:lo + 256]), np.float64),
                                      expected[warm[lo:lo + 256]], goods_category, main_cat[warm[lo:lo + 256]])
               for lo in range(0, len(warm), 256)]
        weights = [min(256, len(warm) - lo) for lo in range(0, len(warm), 256)]
        out["spearman"] = round(float(np.average(rho, weights=weights)), 4)
        out["seconds"] = round(seconds, 1)
        print(f"{args.data.name} {variant}: {out}", flush=True)


if __name__ == "__main__":
    main()
