"""Hot-reload load test: wrk on /picks before, during and after model swaps, on 127.0.0.1 only.

    python -m bench.reload --model /tmp/xuanpin-bench/medium-0-model [--seconds 10]

A registry is made in a temporary directory with the given artifact as its first version; gunicorn serves
it (2 sync workers, polling CURRENT every second). Three wrk runs of --seconds each: before; during, while
two new versions are published, three corrupt ones are pointed at in between (4 bytes of the faiss index
overwritten, reached by a rollback; an array's data filled with 0xFF; a truncated vector file) and CURRENT is
rolled back to the last good one; after. Prints requests, non-2xx responses, socket errors and latency
percentiles per phase, and which version each worker ended on. Needs wrk (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from bench.serve import free_port, gunicorn, run_wrk, wait_ready
from recommender.registry import Registry

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--seconds", type=int, default=10, help="length of each phase")
    ap.add_argument("--connections", type=int, default=8)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="xuanpin-reload-"))
    reg = Registry.open(work / "registry")
    shutil.copytree(args.model, reg.path("v1"))
    reg.set_current("v1")
    anchors = np.load(args.model / "ids/anchors.npy", allow_pickle=False)
    sample = np.random.default_rng(0).choice(anchors, size=min(500, len(anchors)), replace=False)
    script = work / "picks.lua"
    paths = ",\n".join(f'"/v1/anchors/{a}/picks?k=20"' for a in sample)
    script.write_text(f"local paths = {{\n{paths}\n}}\nlocal i = math.random(#paths)\n"
                      "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "gunicorn.log"
    env = {"XUANPIN_REGISTRY": str(reg.root), "XUANPIN_POLL_SECONDS": "1", "XUANPIN_BIND": f"127.0.0.1:{port}",
           "XUANPIN_WORKERS": "2"}
    events: list[str] = []

    def corrupt(target: Path, how: str) -> None:
        """The defects the hardening issue found served or fatal: each keeps the file's size but the last."""
        if how == "index bytes":  # 4 bytes of the faiss index overwritten (read_index raised, the worker died)
            with open(target / "index/products.faiss", "r+b") as fh:
                fh.seek(64)
                fh.write(b"\xff\xff\xff\xff")
        elif how == "0xFF rates":  # an array's data filled with 0xFF (NaN scores were served)
            path = target / "shelf_rate/quality.npy"
            data = path.read_bytes()
            header = len(data) - np.load(path, mmap_mode="r").nbytes
            path.write_bytes(data[:header] + b"\xff" * (len(data) - header))
        else:  # a truncated vector file
            vec = target / "vectors/product.npy"
            vec.write_bytes(vec.read_bytes()[:-4096])

    def publish() -> None:
        """A good version, three corrupt ones pointed at (a rollback to a bad version, then CURRENT written by
        hand, bypassing the registry's check), a rollback to the good one, and one more good version."""
        step = args.seconds / 7
        for name, how in (("v2", None), ("v3-corrupt-index", "index bytes"), ("v4-corrupt-rates", "0xFF rates"),
                          ("v5-truncated", "truncated vectors"), ("v2", "rollback"), ("v6", None)):
            time.sleep(step)
            if how == "rollback":
                reg.rollback(to=name)
                events.append(f"{time.strftime('%H:%M:%S')} rollback -> {name}")
                continue
            target = reg.path(name)
            shutil.copytree(args.model, target)
            if how is None:
                reg.set_current(name)
                reg.record("promoted", version=name)
            elif how == "index bytes":
                corrupt(target, how)
                reg.rollback(to=name)  # the registry checks the manifest only: the service must refuse it
            else:
                corrupt(target, how)
                (reg.root / "CURRENT").write_text(name + "\n")
            events.append(f"{time.strftime('%H:%M:%S')} CURRENT -> {name}{f' ({how})' if how else ''}")

    try:
        with gunicorn(env, log):
            wait_ready(base + "/readyz")
            run_wrk(base + "/", 3, args.connections, 2, script)  # warm up
            phases = {"before": run_wrk(base + "/", args.seconds, args.connections, 2, script)}
            publisher = threading.Thread(target=publish)
            publisher.start()
            phases["during"] = run_wrk(base + "/", args.seconds, args.connections, 2, script)
            publisher.join()
            time.sleep(2)  # let both workers' pollers see the last CURRENT
            phases["after"] = run_wrk(base + "/", args.seconds, args.connections, 2, script)
            seen = set()
            for _ in range(20):  # which version do the workers report?
                with urllib.request.urlopen(base + "/v1/model", timeout=5) as r:
                    seen.add(json.loads(r.read())["reload"]["serving"])
    finally:
        if log.exists():  # what the workers refused, and any fallback, in their own words
            print("".join(line for line in log.read_text(errors="replace").splitlines(True)
                          if "refused" in line or "cannot be loaded" in line))
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n== hot reload under load: gunicorn 2 sync workers, wrk {args.connections} connections, "
          f"{args.seconds}s per phase")
    for line in events:
        print(f"   {line}")
    print(f"   {'phase':<8} {'requests':>9} {'non-2xx':>8} {'sock err':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
    for name, r in phases.items():
        print(f"   {name:<8} {r['requests']:>9} {r['non_2xx']:>8} {r['socket_errors']:>8} {r['requests_per_s']:>7.0f} "
              f"{r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f}")
    print(f"   versions served at the end: {sorted(seen)}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "reload.json").write_text(json.dumps({"phases": phases, "events": events, "served": sorted(seen)},
                                                indent=2))


if __name__ == "__main__":
    main()
