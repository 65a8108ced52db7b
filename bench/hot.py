"""Hot-items benchmark: ingest throughput and hot-route latency, for the in-process and the Redis store.

    python -m bench.hot --model /tmp/xuanpin-bench/large-0-model5 [--events 200000] [--duration 10]

For each store it prints
- ingest straight into the store (batches of --batch events): the counting cost alone;
- ingest over HTTP: POST /v1/events/orders from two client threads against gunicorn (1 worker for the
  in-process store, which is only correct in one process; 2 workers sharing Redis), JSON and validation
  included;
- wrk on /v1/rankings/hot, /v1/live/{id}/hot (rotating rooms), /v1/feed/hot?fan_id= (rotating fans) and, in the
  same run, /healthz: requests/s and p50/p99, with one connection per worker by default (a sync worker serves one
  request at a time, so a second connection on it measures queueing, not the route; --connections to change);
  first after a stream at the artifact's own rate with 20 bursts ("normal"), then after the timed flood of
  --events orders in 30 minutes ("flood": thousands of goods over the threshold, the worst case for the lists).
Starts its own redis-server on a free loopback port. Needs wrk and redis-server (apt-get install wrk redis-server).
Results also go to bench/results/hot-<model name>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import numpy as np
import redis

from bench.serve import free_port, gunicorn, run_wrk, wait_ready
from fixtures.orders import order_stream
from recommender.hot.memory import MemoryStore
from recommender.hot.orders import Orders
from recommender.hot.redis_store import RedisStore

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-events-token-0123"


def store_ingest(store, events: list[dict], batch: int) -> float:
    orders = Orders.of([e["order_id"] for e in events], [e["anchor_id"] for e in events],
                       [e["product_id"] for e in events],
                       [int(datetime.fromisoformat(e["ordered_at"]).timestamp() // 60) for e in events])
    started = time.perf_counter()
    for i in range(0, len(orders), batch):
        store.add(orders.take(np.arange(i, min(i + batch, len(orders)))))
    return len(orders) / (time.perf_counter() - started)


def http_ingest(base: str, events: list[dict], batch: int, clients: int = 2) -> dict:
    bodies = [json.dumps({"events": events[i:i + batch]}).encode() for i in range(0, len(events), batch)]
    accepted: list[int] = []  # list.append is atomic; `total += n` from two threads loses updates
    failures: list[str] = []

    def post(part: list[bytes]) -> None:
        for body in part:
            req = urllib.request.Request(base + "/v1/events/orders", body, method="POST", headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    accepted.append(json.load(r)["accepted"])
            except OSError as exc:
                failures.append(str(exc))

    threads = [threading.Thread(target=post, args=(bodies[c::clients],)) for c in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"events_per_s": len(events) / seconds, "accepted": sum(accepted), "failed_batches": len(failures)}


def wrk_script(paths: list[str]) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write("local paths = {\n" + ",\n".join(f'"{p}"' for p in paths) + "\n}\nlocal i = math.random(#paths)\n"
                 "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")
        return Path(fh.name)


def routes(model: Path, seed: int = 0) -> dict[str, tuple[str, Path | None]]:
    """Route name -> (path, wrk script rotating over ids or None)."""
    rng = np.random.default_rng(seed)
    anchors = np.load(model / "ids/anchors.npy", allow_pickle=False)
    fans = np.load(model / "ids/fans.npy", allow_pickle=False)
    return {"/v1/rankings/hot": ("/v1/rankings/hot", None),
            "/v1/live/{id}/hot": ("/", wrk_script([f"/v1/live/{a}/hot" for a in rng.choice(anchors, 500)])),
            "/v1/feed/hot?fan_id=": ("/", wrk_script([f"/v1/feed/hot?fan_id={f}" for f in rng.choice(fans, 500)])),
            "/healthz": ("/healthz", None)}


def measure_routes(args, base: str, kind: str, connections: int) -> dict:
    out = {}
    for name, (path, script) in routes(args.model).items():
        run_wrk(base + path, 2, connections, 1, script)  # warm up
        try:
            out[name] = run_wrk(base + path, args.duration, connections, 1, script)
        except (KeyError, AttributeError):  # wrk printed no latency distribution: show why
            cmd = ["wrk", "-t1", "-c2", "-d2s", "--latency", *(["-s", str(script)] if script else [])]
            sys.exit(f"{kind} {name}: wrk output unreadable:\n" + subprocess.run(
                [*cmd, base + path], capture_output=True, text=True).stdout)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="model artifact directory (one `xuanpin train` wrote)")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=10, help="seconds of wrk per route")
    ap.add_argument("--connections", type=int, default=0,
                    help="wrk connections (0: one per worker, the routes' own latency without queueing on a busy "
                         "worker; the in-process store runs 1 worker, Redis 2)")
    ap.add_argument("--stores", nargs="+", choices=("memory", "redis"), default=["memory", "redis"])
    args = ap.parse_args()
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed: apt-get install {tool}")
    if not (args.model / "recent_orders").exists():
        sys.exit(f"{args.model}: no recent_orders/ (a format 3 artifact); retrain it with this version")

    from tests.conftest import redis_server  # the same real server the tests use

    events = order_stream(args.model, args.events, bursts=20, burst_orders=100, prefix="bench")
    results: dict = {"model": str(args.model), "events": args.events, "batch": args.batch, "stores": {}}
    with redis_server() as (_, redis_url):
        for kind in args.stores:
            store = MemoryStore() if kind == "memory" else RedisStore(redis_url, prefix="bench-direct:")
            workers = 1 if kind == "memory" else 2
            connections = args.connections or workers
            r: dict = {"store_events_per_s": store_ingest(store, events, args.batch), "workers": workers,
                       "connections": connections}
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = {"XUANPIN_MODEL": str(args.model), "XUANPIN_BIND": f"127.0.0.1:{port}",
                   "XUANPIN_WORKERS": str(workers), "XUANPIN_HOT_CLOCK": "events",
                   "XUANPIN_EVENTS_TOKEN": TOKEN}
            if kind == "redis":
                env["XUANPIN_REDIS_URL"] = redis_url
            with gunicorn(env):
                started = time.perf_counter()
                wait_ready(base + "/readyz", timeout=600)
                r["ready_seconds"] = time.perf_counter() - started
                if kind == "redis":  # one worker loads the model's week in the background: let it finish
                    with urllib.request.urlopen(base + "/v1/model") as resp:
                        marker = f"xp:hot:bootstrapped:{json.load(resp)['model_version']}"
                    client = redis.Redis.from_url(redis_url)
                    while client.get(marker) != b"done":
                        time.sleep(1)
                r["bootstrap_seconds"] = time.perf_counter() - started
                # normal traffic: last week's rate with 20 bursts; then the flood, whose ingest is timed
                http_ingest(base, order_stream(args.model, bursts=20, burst_orders=60, prefix="normal"), args.batch)
                r["routes"] = {"normal": measure_routes(args, base, kind, connections)}
                with urllib.request.urlopen(base + "/v1/rankings/hot?k=100") as resp:
                    r["hot_items"] = {"normal": len(json.load(resp)["items"])}
                r["http"] = http_ingest(base, events, args.batch)
                r["routes"]["flood"] = measure_routes(args, base, kind, connections)
                with urllib.request.urlopen(base + "/v1/rankings/hot?k=100") as resp:
                    r["hot_items"]["flood"] = len(json.load(resp)["items"])
            results["stores"][kind] = r

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"hot-{args.model.name}.json").write_text(json.dumps(results, indent=2))
    print(f"\n== hot items: {args.events:,} synthetic orders in batches of {args.batch}; {args.duration}s of wrk "
          "per route")
    for kind, r in results["stores"].items():
        h = r["http"]
        print(f"   {kind:<6} store.add {r['store_events_per_s']:>9,.0f} events/s   over HTTP {h['events_per_s']:>8,.0f}"
              f" events/s (accepted {h['accepted']:,}, failed batches {h['failed_batches']}); {r['workers']} "
              f"worker(s), wrk {r['connections']} connection(s); ready in {r['ready_seconds']:.1f}s, "
              f"bootstrapped in {r['bootstrap_seconds']:.1f}s")
        for phase, measured in r["routes"].items():
            print(f"          {phase}: {r['hot_items'][phase]} hot goods (first 100)")
            for name, w in measured.items():
                print(f"          {name:<24} {w['requests_per_s']:>8.0f} req/s  p50 {w['p50_ms']:>6.2f} ms  "
                      f"p99 {w['p99_ms']:>6.2f} ms  non-2xx {w['non_2xx']}")


if __name__ == "__main__":
    main()
