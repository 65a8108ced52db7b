"""How much rooms of one category differ in the generator's truth, at each setting of the fit knob.

    python -m bench.world --scale medium --seeds 0 --fits flat default strong

For rooms that share a main category (new rooms left out), over the goods of that category:

* **between-room Spearman**: the mean rank correlation of two rooms' expected sales of the category's goods
  (1.0: every room orders the goods alike, as a category x quality model must assume);
* **identical top 5**: the share of pairs of such rooms whose 5 best goods by expected commission (expected
  orders x price x commission rate, over the whole catalogue) are the same set;
* **top-10 price**: the median price of a room's 10 best goods by expected commission, its spread between
  price-sensitive and big-spending audiences (the share of fans of price level 0 above/below the median).

A benchmark, not a test: it prints figures for the issue notes and the README.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fixtures.marketplace import generate
from fixtures.oracle import between_room_spearman
from recommender.arrays import top_k


def pair_mean(matrix: np.ndarray) -> float:
    """Mean of the off-diagonal entries of a square matrix."""
    n = len(matrix)
    return float((matrix.sum() - np.trace(matrix)) / (n * (n - 1))) if n > 1 else float("nan")


def measure(scale: str, seed: int, fit: str) -> dict:
    started = time.perf_counter()
    g = generate(scale, seed, fit=fit)
    seconds = time.perf_counter() - started
    t = g.truth
    if t.expected_sales is None:
        raise SystemExit(f"{scale}: the truth holds only each room's top goods; use small or medium")
    e = np.asarray(t.expected_sales, np.float64)
    products, anchors, fans = g.products, g.anchors, g.fans
    category = products["category"].to_numpy()
    main = anchors["main_category"].to_numpy()
    old = np.ones(len(anchors), bool)
    old[t.new_anchors] = False
    value = e * (products["price"].to_numpy() * products["commission_rate"].to_numpy())[None, :]
    top5 = np.sort(top_k(value, 5), axis=1)
    top10 = top_k(value, 10)
    price = products["price"].to_numpy()

    rooms = np.flatnonzero(old)
    category_code = np.unique(category, return_inverse=True)[1]
    main_code = np.searchsorted(np.unique(category), main)
    spearman = between_room_spearman(e, category_code, main_code, rooms)
    identical, weights = [], []
    for c in np.unique(main[rooms]):
        members = rooms[main[rooms] == c]
        if len(members) < 2:
            continue
        same = (top5[members][:, None, :] == top5[members][None, :, :]).all(axis=2)
        identical.append(pair_mean(same.astype(float)))
        weights.append(len(members) * (len(members) - 1))

    # price of the top 10 against the audience's price level: rooms with the most and the fewest level-0 fans
    level = t.fan_level
    fan_row = {f: i for i, f in enumerate(fans["fan_id"].to_numpy())}
    follow_fan = np.array([fan_row[f] for f in g.follows["fan_id"].to_numpy()])
    follow_anchor = g.follows["anchor_id"].to_numpy() - anchors["anchor_id"].min()
    cheap = np.bincount(follow_anchor, level[follow_fan] == 0, len(anchors)) / np.maximum(
        np.bincount(follow_anchor, minlength=len(anchors)), 1)
    median_top_price = np.median(price[top10], axis=1)
    sensitive = old & (cheap >= np.quantile(cheap[old], 0.75))
    spenders = old & (cheap <= np.quantile(cheap[old], 0.25))
    return {"scale": scale, "seed": seed, "fit": fit, "strength": g.fit, "seconds": round(seconds, 1),
            "orders": len(g.orders), "spearman": spearman,
            "identical_top5": float(np.average(identical, weights=weights)),
            "top10_price_sensitive": float(np.median(median_top_price[sensitive])),
            "top10_price_spenders": float(np.median(median_top_price[spenders]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="medium", choices=["tiny", "small", "medium"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--fits", nargs="+", default=["flat", "default", "strong"])
    args = ap.parse_args()
    print(f"{'fit':>8} {'seed':>4} {'orders':>9} {'spearman':>9} {'same top5':>9} "
          f"{'top-10 price: sensitive / spenders':>36} {'gen s':>6}")
    for seed in args.seeds:
        for fit in args.fits:
            r = measure(args.scale, seed, fit)
            print(f"{fit:>8} {seed:>4} {r['orders']:>9,} {r['spearman']:>9.3f} {r['identical_top5']:>9.3f} "
                  f"{r['top10_price_sensitive']:>17.1f} / {r['top10_price_spenders']:<16.1f} {r['seconds']:>6.1f}")


if __name__ == "__main__":
    main()
