"""New rooms against warm ones: the shelf-rate model with the room x good term, fitted with and without the
room prior's lean (``shelf_rate.room_lean``), graded against the generator's truth.

    python -m bench.new_rooms --data /tmp/xuanpin-bench/medium-21 [--mode full|split]

full: fitted on the whole snapshot, NDCG@50 of each room's top 50 against its expected sales if shelved, for
warm rooms and new ones (fans, no sales), as ``bench.train --quality`` scores "ours" (without training the
vectors). split: fitted before a 14-day cut-off, graded on the rooms that sold something new after it, goods
they sold before excluded (``xuanpin evaluate``'s ``anchor_goods_if_shelved`` without its sampling and
re-ranking). A benchmark, not a test: it prints figures for the README.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fixtures.marketplace import load_truth
from recommender.audience_fit import fit_audience_rates
from recommender.contract import load_snapshot
from recommender.interactions import anchor_fan_engagement
from recommender.shelf_rate import ShelfRateConfig, fit_shelf
from training.metrics import ndcg_at_k
from training.tasks import split


def _ndcg(rates, rows: np.ndarray, gains: np.ndarray) -> float:
    out = [ndcg_at_k(rates.top_goods(rows[lo:lo + 256], 50)[0].astype(np.int64), gains[lo:lo + 256], 50)
           for lo in range(0, len(rows), 256)]
    return float(np.nanmean(np.concatenate(out))) if out else float("nan")


def measure(data: Path, mode: str, lean: bool) -> dict:
    """NDCG@50 of warm and new rooms (split: of the tested rooms) with the lean on or off."""
    m, truth = load_snapshot(data), load_truth(data)
    expected = np.asarray(truth.expected_sales, np.float64)
    n_a = len(m.anchor_ids)
    if mode == "split":
        m, test, _ = split(m, 14.0)
        sold = m.purchases
        expected = expected.copy()
        expected[sold["anchor"].to_numpy(), sold["product"].to_numpy()] = 0.0
        tested = np.zeros(n_a, bool)
        tested[test["anchor"].to_numpy()] = True
        groups = {"tested rooms": np.flatnonzero(tested)}
    else:
        new = np.zeros(n_a, bool)
        new[truth.new_anchors] = True
        groups = {"warm": np.flatnonzero(~new), "new": np.flatnonzero(new)}
    start = time.perf_counter()
    engagement = anchor_fan_engagement(m)
    rates = fit_audience_rates(m, fit_shelf(m, ShelfRateConfig(room_lean=lean), engagement), engagement)
    out = {"seconds": round(time.perf_counter() - start, 1)}
    for name, rows in groups.items():
        out[name] = round(_ndcg(rates, rows, expected[rows]), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--mode", choices=("full", "split"), default="full")
    args = ap.parse_args()
    for lean in (False, True):
        print(f"{args.data.name} {args.mode} room_lean={lean}: {measure(args.data, args.mode, lean)}", flush=True)


if __name__ == "__main__":
    main()
