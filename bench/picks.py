"""In-process cost of a page of picks, step by step: where a /picks request's time goes without HTTP.

    python -m bench.picks --model /tmp/xuanpin-bench/medium-0-model [--anchors 1000] [--k 20] [--repeat 3]
    python -m bench.picks --model /tmp/xuanpin-bench/large-0-model --deep 0 1000 5000 9980 --anchors 20

Loads the model as the service does (Ranker, Cards), then for a sample of rooms times each step of a page:
the search and arrangement (`scorer.goods_for` + `arranged`), the breakdown, the fit reasons, the picks'
construction (`Explainer.picks` with on_shelf and 拓品类), the API items (`pick_items`) and the JSON encoding
(orjson, as serve/app.py). "first" is each room's first request (its candidates searched and kept), "repeat"
the same rooms again (served from the kept candidates), and "page" the whole `Ranker.picks` + items + JSON as a
request does it, measured separately so the per-step timers add nothing to it. A page through Flask's test
client is timed too (routing, query validation, the response object; no sockets). ``--deep`` instead times
`Ranker.picks` at each given offset (each room's first request at that offset, then the same again), the
mean and the slowest room: what paging deep into a room's picks costs.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import orjson
from threadpoolctl import threadpool_limits

from recommender.artifact import load_model
from recommender.ranking import PickFilters, Ranker
from recommender.ranking.picks import arranged
from serve.present import Cards, anchor_encoded, pick_items


def _page(ranker: Ranker, cards: Cards, anchor: int, k: int) -> bytes:
    page = ranker.picks(anchor, k)
    body = {"anchor": anchor_encoded(cards, anchor), "items": pick_items(cards, page.items, 1),
            "paging": {"offset": 0, "k": k, "next_offset": page.next_offset, "candidates": page.candidates},
            "model_version": "bench"}
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def steps(ranker: Ranker, cards: Cards, anchor: int, k: int) -> dict[str, float]:
    """One page, each step timed (seconds); the steps are GoodsForAnchor.page's, in its order."""
    g, t = ranker.goods_for_anchor, {}
    clock = time.thread_time  # CPU time of this thread: the shared machine's other load does not count
    t0 = clock()
    eligible = g.eligible(PickFilters(), anchor)
    n, block = k, g.config.page_block
    outside = None if g.rooms is None else g.rooms.outside(anchor, g.config.home_share)
    capped = outside if g.config.max_outside_share < 1 else None
    scored = g.scorer.goods_for(anchor, eligible, n, block, capped)
    shown = arranged(scored, n, block, g.config, capped)[:n]
    rows = scored.rows[shown]
    t1 = clock()
    breakdown = scored.explain(shown)
    t2 = clock()
    fit = g.scorer.fit_reasons(anchor, rows)
    t3 = clock()
    shelf = np.sort(g.shelf_of(anchor))
    listed = shelf[np.minimum(np.searchsorted(shelf, rows), len(shelf) - 1)] == rows if len(shelf) else None
    items = g.explainer.picks(anchor, rows, scored.score[shown], breakdown, g.scorer.boost[rows], fit,
                              orders=g.scorer.orders, on_shelf=listed,
                              outside=None if outside is None else outside[g.goods.category[rows]])
    t4 = clock()
    out = pick_items(cards, items, 1)
    t5 = clock()
    orjson.dumps({"anchor": anchor_encoded(cards, anchor), "items": out}, option=orjson.OPT_SERIALIZE_NUMPY)
    t6 = clock()
    t.update(search_arrange=t1 - t0, breakdown=t2 - t1, fit_reasons=t3 - t2, picks=t4 - t3, items=t5 - t4,
             json=t6 - t5)
    return t


def deep(ranker: Ranker, sample: list[int], k: int, offsets: list[int]) -> None:
    """Ranker.picks at each offset for every sampled room: wall-clock ms, mean and slowest (first, then again)."""
    for offset in offsets:
        for name in ("first", "again"):
            took = []
            for a in sample:
                started = time.perf_counter()
                ranker.picks(a, k, offset)
                took.append(time.perf_counter() - started)
            print(f"  offset {offset:>6,} {name:<5} {1e3 * np.mean(took):8.1f} ms mean, {1e3 * max(took):8.1f} ms "
                  "slowest", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--anchors", type=int, default=1000)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3, help="passes over the rooms after the first")
    ap.add_argument("--audience-fit", choices=("on", "off"), default="on",
                    help="off: rank by category x quality (the room x good term switched off)")
    ap.add_argument("--profile", action="store_true", help="cProfile the repeated pages and print the top 25")
    ap.add_argument("--deep", type=int, nargs="+", metavar="OFFSET",
                    help="only time Ranker.picks at these offsets (first and repeated request per room)")
    args = ap.parse_args()

    from recommender.ranking import RankingConfig
    threadpool_limits(1)  # as a worker runs (serve/app.py)
    model = load_model(args.model)
    ranker = Ranker(model, RankingConfig(audience_fit=args.audience_fit == "on"))
    cards = Cards(model)
    rng = np.random.default_rng(0)
    n_a = len(model.anchor_ids)
    sample = rng.choice(n_a, size=min(args.anchors, n_a), replace=False).tolist()
    print(f"model {args.model.name}: {len(model.product_ids):,} goods, {n_a:,} rooms; "
          f"{type(ranker.scorer).__name__}; {len(sample)} rooms, k={args.k}, pid {os.getpid()}")

    if args.deep:
        deep(ranker, sample, args.k, args.deep)
        return
    first = [steps(ranker, cards, a, args.k) for a in sample]
    repeat = [steps(ranker, cards, a, args.k) for _ in range(args.repeat) for a in sample]

    def show(name: str, runs: list[dict[str, float]]) -> None:
        keys = list(runs[0])
        mean = {key: 1e6 * float(np.mean([r[key] for r in runs])) for key in keys}
        total = sum(mean.values())
        parts = "  ".join(f"{key} {value:.0f}" for key, value in mean.items())
        print(f"  {name:<7} {total:6.0f} us/page = {parts}")

    show("first", first)
    show("repeat", repeat)

    # the whole page as a request computes it, without per-step timers (repeated rooms)
    for _ in range(2):
        started = time.thread_time()
        for _ in range(args.repeat):
            for a in sample:
                _page(ranker, cards, a, args.k)
        whole = (time.thread_time() - started) / (args.repeat * len(sample))
        print(f"  page    {whole * 1e6:6.0f} us/page (Ranker.picks + items + JSON, repeated rooms, CPU)")

    os.environ.setdefault("XUANPIN_MODEL", str(args.model))
    from serve.app import create_app
    from serve.config import ServiceConfig
    app = create_app(ServiceConfig(model=args.model, ranking=RankingConfig(audience_fit=args.audience_fit == "on")))
    client = app.test_client()
    ids = [str(model.anchor_ids.ids[a]) for a in sample]
    for i in ids:
        client.get(f"/v1/anchors/{i}/picks?k={args.k}")
    started = time.thread_time()
    for _ in range(args.repeat):
        for i in ids:
            client.get(f"/v1/anchors/{i}/picks?k={args.k}")
    flask_page = (time.thread_time() - started) / (args.repeat * len(ids))
    started = time.thread_time()
    for _ in range(args.repeat):
        for _ in ids:
            client.get("/healthz")
    flask_health = (time.thread_time() - started) / (args.repeat * len(ids))
    print(f"  flask   {flask_page * 1e6:6.0f} us/page /picks, {flask_health * 1e6:.0f} us /healthz "
          "(test client, repeated rooms, CPU)")

    if args.profile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.repeat):
            for a in sample:
                _page(ranker, cards, a, args.k)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
