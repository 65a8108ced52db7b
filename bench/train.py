"""Training benchmark: per-stage times, peak memory and the overhead ratio (total - ALS) / ALS.

    python -m bench.train --scales medium large [--work /tmp/xuanpin-bench] [--quality]

Each scale is generated once (kept in --work) and trained in a fresh subprocess, so the peak RSS printed is
the trainer's own. With --quality, each anchor's top 50 goods are also scored against the generator's ground
truth (NDCG@50 of each anchor's expected sales): by expected orders if shelved (what the picks rank by), by
the category x quality model alone (its ablation), by the anchor vectors, and a global popularity ranking;
on small and medium also the within-category measures of bench/fit_gap.py (Spearman in the main category,
identical top 5 between rooms of one vertical, dear picks in price-sensitive rooms). Results are printed and written
as JSON to bench/results/. A benchmark, not a test: the machines are shared, compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fixtures.fit import fit_of

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.perf_counter() - start


def quality(artifact: Path, snapshot: Path) -> dict:
    from fixtures.marketplace import load_truth
    from recommender.artifact import load_model
    from training.metrics import ndcg_at_k, top_k

    model, truth = load_model(artifact), load_truth(snapshot)
    n = len(model.anchor_ids)
    new = np.zeros(n, bool)
    new[truth.new_anchors] = True
    sales = model.product_stats["sales_30d"].to_numpy().astype(float)
    popular = top_k(sales[None, :], 50)[0]
    out = {}
    for name, rows in (("warm_anchors", np.flatnonzero(~new)), ("new_anchors", np.flatnonzero(new))):
        ours, flat, vec, pop = [], [], [], []
        for lo in range(0, len(rows), 256):
            chunk = rows[lo:lo + 256]
            if truth.expected_sales is not None:
                gains = np.asarray(truth.expected_sales[chunk], dtype=np.float64)
            else:  # large scale: only each anchor's top goods are stored; gains elsewhere count as 0
                idx, val = truth.best_products(chunk, 1000)
                gains = np.zeros((len(chunk), len(model.product_ids)))
                np.put_along_axis(gains, idx.astype(np.int64), val, axis=1)
            by_vectors = model.products_for_anchors(chunk, 50)[0]
            vec.append(ndcg_at_k(by_vectors, gains, 50))
            # each room's goods by expected orders if shelved (the vectors without the shelf-rate model), and by
            # the category x quality model alone (the room x good term's ablation)
            rates = model.if_shelved
            best = by_vectors if rates is None else rates.top_goods(chunk, 50)[0].astype(np.int64)
            ours.append(ndcg_at_k(best, gains, 50))
            alike = by_vectors if rates is None else model.shelf_rate.top_goods(chunk, 50)[0].astype(np.int64)
            flat.append(ndcg_at_k(alike, gains, 50))
            pop.append(ndcg_at_k(np.tile(popular, (len(chunk), 1)), gains, 50))
        o, v, p = np.concatenate(ours), np.concatenate(vec), np.concatenate(pop)
        out[name] = {"anchors": len(rows), "ndcg50_ours": round(float(np.nanmean(o)), 4),
                     "ndcg50_category_x_quality": round(float(np.nanmean(np.concatenate(flat))), 4),
                     "ndcg50_vectors": round(float(np.nanmean(v)), 4),
                     "ndcg50_popularity": round(float(np.nanmean(p)), 4),
                     "ratio": round(float(np.nanmean(o) / np.nanmean(p)), 2)}
    if truth.expected_sales is not None:  # small and medium: the within-category measures of the served picks
        from bench.fit_gap import measure

        out["within_category"] = measure(snapshot, model)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", nargs="+", default=["medium", "large"], choices=["small", "medium", "large"])
    ap.add_argument("--work", type=Path, default=Path("/tmp/xuanpin-bench"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fit", default="default", help="the marketplace's fit setting (xuanpin generate --fit)")
    ap.add_argument("--quality", action="store_true", help="also score the top goods against the ground truth")
    args = ap.parse_args()
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    xuanpin = [sys.executable, "-m", "recommender.cli"]

    for scale in args.scales:
        name = f"{scale}-{args.seed}" + ("" if args.fit == "default" else f"-{args.fit}")
        snapshot, artifact = args.work / name, args.work / f"{name}-model"
        gen_seconds = None
        truth_json = snapshot / "truth" / "truth.json"
        made_for = json.loads(truth_json.read_text(encoding="utf-8")).get("fit") if truth_json.exists() else None
        if truth_json.exists() and made_for != fit_of(args.fit).strength:
            print(f"{snapshot} was generated for another fit setting: generating it again")
            shutil.rmtree(snapshot)
        if not (snapshot / "orders.parquet").exists():
            gen_seconds = run([*xuanpin, "generate", "--scale", scale, "--seed", str(args.seed), "--fit", args.fit,
                               "--out", str(snapshot)])
        wall = run([*xuanpin, "train", "--data", str(snapshot), "--out", str(artifact), "--overwrite"])
        man = json.loads((artifact / "manifest.json").read_text())
        t = man["timings_seconds"]
        total, als = sum(t.values()), t["factors"]
        result = {
            "scale": scale, "counts": man["counts"], "generate_seconds": gen_seconds, "train_wall_seconds": wall,
            "stages_seconds": t, "stages_cpu_seconds": man.get("cpu_seconds"), "load_average": os.getloadavg(),
            "beside_seconds": man.get("beside_seconds"), "beside_cpu_seconds": man.get("beside_cpu_seconds"),
            "total_seconds": total, "als_seconds": als,
            "overhead_ratio": (total - als) / als, "peak_rss_mb": man["peak_rss_mb"],
            "threads": man["threads"], "libraries": man["libraries"],
        }
        if args.quality:
            result["quality"] = quality(artifact, snapshot)
        (results_dir / f"train-{scale}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))

        c = man["counts"]
        print(f"\n== {scale}: {c['fans']:,} fans x {c['products']:,} goods, {c['anchors']:,} anchors, "
              f"{c['orders']:,} orders, {c['follows']:,} follows ({c['fan_product_nonzeros']:,} fan-good pairs)")
        if gen_seconds is not None:
            print(f"   generate        {gen_seconds:8.1f} s")
        cpu = man.get("cpu_seconds", {})
        for stage, sec in t.items():
            print(f"   {stage:<15} {sec:8.1f} s" + (f"   (CPU {cpu[stage]:6.1f} s)" if stage in cpu else ""))
        beside, beside_cpu = man.get("beside_seconds", {}), man.get("beside_cpu_seconds", {})
        if beside:  # the jobs on threads beside the main one: their time is inside the stages above
            print("   beside the main thread: " + ", ".join(
                f"{job} {sec:.1f} s (CPU {beside_cpu.get(job, 0):.1f} s)" for job, sec in beside.items()))
        print(f"   total           {total:8.1f} s   (process wall {wall:.1f} s)")
        print(f"   overhead ratio  {(total - als) / als:8.2f}    (total - ALS) / ALS; load average after: "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"   peak RSS        {man['peak_rss_mb'] / 1024:8.2f} GB")
        quality_ = dict(result.get("quality", {}))
        within = quality_.pop("within_category", None)
        for name, q in quality_.items():
            print(f"   NDCG@50 {name:<13} ours {q['ndcg50_ours']:.3f}  category x quality "
                  f"{q['ndcg50_category_x_quality']:.3f}  vectors {q['ndcg50_vectors']:.3f}  "
                  f"popularity {q['ndcg50_popularity']:.3f}  ({q['ratio']}x, {q['anchors']} anchors)")
        if within:
            print(f"   within the main category: Spearman {within['spearman_main_category']:.3f}; identical top 5 "
                  f"served {within['identical_top5_served']:.3f} truth {within['identical_top5_truth']:.3f}; "
                  f"dear top 10 in price-sensitive rooms served {within['dear_top10_served']:.3f} truth "
                  f"{within['dear_top10_truth']:.3f}")


if __name__ == "__main__":
    main()
