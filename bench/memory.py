"""Memory of the service's workers: what each gunicorn worker holds of its own, and what the workers share.

    python -m bench.memory --model /tmp/xuanpin-bench/large-0-model [--workers 2] [--stores memory redis]

For each hot-items store (in process; Redis, started here on a free loopback port) it starts gunicorn with
--workers sync workers, waits until the week of orders is counted, sends a warm-up of every read route (picks
of --anchors anchors, product pages, the merchant's view, boards, hot lists, search), then reads each process's
/proc/<pid>/smaps_rollup: RSS, PSS (shared pages divided among the processes that map them), and private
memory (pages only this process holds; what one more worker costs). Results also go to
bench/results/memory-<model name>.json. Linux only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from bench.serve import ROOT, free_port, gunicorn, wait_ready

FIELDS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")


def smaps(pid: int) -> dict[str, float]:
    """The memory of one process in MB, from the kernel's rollup of its mappings."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in FIELDS:
            out[name] = int(rest.split()[0]) / 1024
    out["Private"] = out["Private_Clean"] + out["Private_Dirty"]
    return out


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def get(url: str) -> None:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            r.read()
    except OSError as exc:  # a 404 for an id the sample picked is fine; a dead service is not
        if not hasattr(exc, "code"):
            raise


def warm_up(base: str, model: Path, anchors: int, rounds: int) -> int:
    """Every read route, over a sample of ids; repeated `rounds` times so each worker sees most of them."""
    rng = np.random.default_rng(0)
    a_ids = np.load(model / "ids/anchors.npy", allow_pickle=False)
    p_ids = np.load(model / "ids/products.npy", allow_pickle=False)
    a_sample = rng.choice(a_ids, size=min(anchors, len(a_ids)), replace=False)
    p_sample = rng.choice(p_ids, size=min(anchors, len(p_ids)), replace=False)
    f_ids = np.load(model / "ids/fans.npy", allow_pickle=False) if (model / "ids/fans.npy").exists() else []
    paths = ["/v1/rankings/hot?k=20", "/v1/rankings/top-sales?k=50", "/v1/search/categories", "/v1/model", "/"]
    paths += [f"/v1/search/anchors?q={str(a)[:5]}&k=20" for a in a_sample[:20]]
    paths += [f"/v1/feed/hot?fan_id={f}&k=20" for f in rng.choice(f_ids, size=min(anchors // 4, len(f_ids)))]
    paths += [f"/v1/anchors/{a}/picks?k=20" for a in a_sample]
    paths += [f"/v1/anchors/{a}/picks?k=20&offset=20" for a in a_sample[: anchors // 4]]
    paths += [f"/v1/anchors/{a}" for a in a_sample[: anchors // 4]]
    paths += [f"/v1/live/{a}/hot?k=10" for a in a_sample[: anchors // 4]]
    paths += [f"/v1/products/{p}" for p in p_sample]
    paths += [f"/v1/products/{p}/anchors?k=20" for p in p_sample[: anchors // 4]]
    paths += [f"/v1/products/{p}/similar?k=20" for p in p_sample[: anchors // 4]]
    for _ in range(rounds):
        for path in paths:
            get(base + path)
    return rounds * len(paths)


def redis_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc, f"redis://127.0.0.1:{port}/0"


def measure(model: Path, store: str, workers: int, anchors: int, rounds: int) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"XUANPIN_MODEL": str(model), "XUANPIN_BIND": f"127.0.0.1:{port}", "XUANPIN_WORKERS": str(workers),
           "XUANPIN_HOT_CLOCK": "events"}
    redis = None
    if store == "redis":
        redis, env["XUANPIN_REDIS_URL"] = redis_server()
    try:
        with gunicorn(env) as server:
            started = time.perf_counter()
            wait_ready(base + "/readyz", timeout=300)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:  # the week of orders: counted before the lists are complete
                with urllib.request.urlopen(base + "/v1/rankings/hot?k=1", timeout=30) as r:
                    if json.load(r).get("as_of"):
                        break
                time.sleep(1)
            ready_s = time.perf_counter() - started
            requests = warm_up(base, model, anchors, rounds)
            time.sleep(1)
            master = smaps(server.pid)
            per_worker = [smaps(pid) for pid in children(server.pid)]
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait()
    return {"store": store, "workers": len(per_worker), "ready_s": round(ready_s, 1), "warm_up_requests": requests,
            "master": master, "per_worker": per_worker}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="model artifact directory")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    ap.add_argument("--stores", nargs="+", default=["memory", "redis"], choices=["memory", "redis"])
    ap.add_argument("--anchors", type=int, default=400, help="anchors (and goods) sampled for the warm-up")
    ap.add_argument("--rounds", type=int, default=2, help="times the warm-up is sent")
    args = ap.parse_args()
    if "redis" in args.stores and shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed: apt-get install redis-server (or --stores memory)")

    results = []
    for store in args.stores:
        r = measure(args.model, store, args.workers, args.anchors, args.rounds)
        results.append(r)
        print(f"\n== {store} store, {r['workers']} sync workers, ready and counted in {r['ready_s']} s, "
              f"{r['warm_up_requests']} warm-up requests; MB")
        print(f"{'process':<10}" + "".join(f"{f:>15}" for f in (*FIELDS, "Private")))
        for name, m in [("master", r["master"]), *((f"worker {i}", w) for i, w in enumerate(r["per_worker"]))]:
            print(f"{name:<10}" + "".join(f"{m[f]:>15.0f}" for f in (*FIELDS, "Private")))
    out = ROOT / "bench/results" / f"memory-{args.model.name}.json"
    out.parent.mkdir(exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, delete=False) as fh:
        json.dump({"model": str(args.model), "results": results}, fh, indent=1)
    Path(fh.name).replace(out)
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
