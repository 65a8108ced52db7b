"""Product search benchmark: latency of GET /v1/products' search (recommender.catalogue) in process, 100k goods.

    python -m bench.search [--model ARTIFACT] [--goods 100000] [--queries 3000] [--seed 0]

The catalogue: a model's goods (--model), or by default the medium synthetic marketplace's 20k goods
(generated here with seed 0, statistics from recommender.profiles), replicated with new product ids until there
are --goods (100k: five copies of each title, so a keyword matches five times as many goods as on medium:
the scan's work is per good, the slice's per match). Prints the catalogue's build time, the first use of each
sort's ordering, and p50/p99/max of --queries searches a person might send (keywords drawn from real titles,
alone and with filters; filters alone; every sort and order; pages 1, 2 and 6), by kind and overall. The
target (issue 15) is a p99 under 20 ms. The product cards are not built here (20 a page, ~0.1 ms).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.catalogue import SORTS, Catalogue, ProductQuery


def medium_tables(seed: int) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    from fixtures.marketplace import generate, write_marketplace
    from recommender.contract import load_snapshot
    from recommender.profiles import product_stats

    with tempfile.TemporaryDirectory(prefix="xuanpin-bench-search-") as tmp:
        m = load_snapshot(write_marketplace(generate("medium", seed=seed), Path(tmp) / "snapshot"),
                          fingerprint=False)
    products = m.products.drop(columns=[c for c in ("product",) if c in m.products]).reset_index(drop=True)
    return np.asarray(m.product_ids.ids), products, product_stats(m), m.snapshot_time


def model_tables(path: str) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    from recommender.artifact import load_model

    model = load_model(path)
    return np.asarray(model.product_ids.ids), model.products, model.product_stats, model.snapshot_time


def replicate(ids: np.ndarray, products: pd.DataFrame, stats: pd.DataFrame, goods: int
              ) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Copies of the catalogue, each with its own product ids, until there are `goods`."""
    copies = -(-goods // len(ids))
    rows = np.tile(np.arange(len(ids)), copies)[:goods]
    copy = np.repeat(np.arange(copies), len(ids))[:goods]
    new_ids = np.array([f"{i}-{c}" for i, c in zip(ids[rows].tolist(), copy.tolist(), strict=True)]) \
        if copies > 1 else ids[rows]
    return new_ids, products.iloc[rows].reset_index(drop=True), stats.iloc[rows].reset_index(drop=True)


def queries(products: pd.DataFrame, n: int, rng: np.random.Generator) -> list[tuple[str, ProductQuery, int]]:
    """(kind, query, offset) as people search: a word or two of a real title, filters, sorts, a few pages."""
    titles = products["title"].astype(str).to_numpy()
    categories = sorted(products["category"].astype(str).unique())
    brands = products["brand"].dropna().astype(str).unique() if "brand" in products else np.array([])
    merchants = products["merchant_id"].astype(str).unique()
    prices = products["price"].to_numpy(float)
    sorts = [None, *SORTS]
    out = []
    for _ in range(n):
        kind = rng.choice(["keyword", "keyword+filters", "filters"], p=[0.4, 0.3, 0.3])
        spec: dict = {}
        if kind != "filters":
            words = rng.choice(titles).split()
            take = rng.integers(1, 3)
            start = rng.integers(0, max(1, len(words) - take + 1))
            spec["q"] = " ".join(words[start:start + take])
        if kind != "keyword":
            if rng.random() < 0.6:
                spec["category"] = rng.choice(categories)
            if rng.random() < 0.4:
                low, high = sorted(np.quantile(prices, rng.uniform(0, 1, 2)).round(1).tolist())
                spec |= {"price_min": low, "price_max": high}
            if rng.random() < 0.3:
                spec["commission_min"] = float(rng.choice([0.1, 0.2, 0.3]))
            if rng.random() < 0.2:
                spec["min_sales_7d"] = int(rng.choice([1, 10, 50]))
            if rng.random() < 0.2:
                spec["max_refund_rate"] = float(rng.choice([0.05, 0.1]))
            if len(brands) and rng.random() < 0.1:
                spec["brand"] = str(rng.choice(brands))
            if rng.random() < 0.05:
                spec["merchant"] = str(rng.choice(merchants))
        spec["sort"] = sorts[rng.integers(0, len(sorts))]
        spec["order"] = rng.choice([None, "asc", "desc"], p=[0.6, 0.2, 0.2])
        out.append((str(kind), ProductQuery(**spec), int(rng.choice([0, 20, 100], p=[0.7, 0.2, 0.1]))))
    return out


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):5.2f}  p99 {np.percentile(a, 99):5.2f}  max {a.max():6.2f} ms"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="an artifact whose goods to search (default: the medium marketplace)")
    ap.add_argument("--goods", type=int, default=100_000, help="replicate the goods up to this many")
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    started = time.perf_counter()
    ids, products, stats, now = model_tables(args.model) if args.model else medium_tables(args.seed)
    print(f"source: {len(ids):,} goods ({args.model or f'medium marketplace, seed {args.seed}'}), "
          f"{time.perf_counter() - started:.1f} s")
    ids, products, stats = replicate(ids, products, stats, args.goods)

    started = time.perf_counter()
    cat = Catalogue(ids, products, stats, now)
    print(f"catalogue of {len(cat):,} goods built in {(time.perf_counter() - started) * 1e3:.0f} ms")
    first = []
    for sort in [s for s in SORTS if s != "relevance"]:  # relevance reorders sales_7d's
        for order in ("asc", "desc"):
            t = time.perf_counter()
            cat.ordering(sort, order)
            first.append((time.perf_counter() - t) * 1e3)
    print(f"first use of each of the {len(first)} orderings: {min(first):.1f}-{max(first):.1f} ms "
          f"(once per loaded model)")

    rng = np.random.default_rng(args.seed)
    plan = queries(products, args.queries, rng)
    for _, q, offset in plan[:50]:  # warm the interpreter's caches
        cat.search(q, 20, offset)
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    matches = []
    for kind, q, offset in plan:
        t, c = time.perf_counter(), time.thread_time()
        page = cat.search(q, 20, offset)
        cpu.setdefault(kind, []).append((time.thread_time() - c) * 1e3)
        wall.setdefault(kind, []).append((time.perf_counter() - t) * 1e3)
        matches.append(page.total)
    print(f"{len(plan):,} searches, 20 a page; matches per search: median {np.median(matches):,.0f}, "
          f"max {max(matches):,}. Wall time, then this thread's CPU time (what the search costs when the "
          f"machine's other jobs do not take the core away):")
    for kind in sorted(wall):
        print(f"  {kind:<16} {len(wall[kind]):5d}   wall {percentiles(wall[kind])}   cpu {percentiles(cpu[kind])}")
    every = [t for ms in wall.values() for t in ms], [t for ms in cpu.values() for t in ms]
    print(f"  {'all':<16} {len(plan):5d}   wall {percentiles(every[0])}   cpu {percentiles(every[1])}")

    common = products["title"].astype(str).str[0].value_counts().index[0]  # most goods' first character
    for word in (common, "新鲜", "保湿面霜"):
        ms, cs = [], []
        for _ in range(200):
            t, c = time.perf_counter(), time.thread_time()
            page = cat.search(ProductQuery(q=word), 20, 0)
            cs.append((time.thread_time() - c) * 1e3)
            ms.append((time.perf_counter() - t) * 1e3)
        print(f"  keyword {word!r} ({page.total:,} matches): wall {percentiles(ms)}   cpu {percentiles(cs)}")


if __name__ == "__main__":
    main()
