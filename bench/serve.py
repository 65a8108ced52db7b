"""Serving benchmark: gunicorn on 127.0.0.1 with a model artifact, loaded by wrk for a bounded time.

    python -m bench.serve --model /tmp/xuanpin-bench/large-0-model [--duration 15] [--connections 8]

Prints requests/s and p50/p90/p99 latency for /v1/anchors/{id}/picks (rotating over a random sample of anchors,
--anchors 0 for all of them) and, in the same run, for /healthz, a trivial JSON route of the same app; then the
ratio of their throughputs. wrk shares the two cores with the server, so the figures are lower bounds; compare
the ratio. The routes take turns in --rounds short runs (picks, healthz, picks, ...) so that a burst of noise
from the shared machine lands on both rather than on whichever route was being measured; requests/s are pooled
over the rounds, latency percentiles are the median round's (and the worst round's p99), and the ratio of each
round pair is printed too. Needs wrk (apt-get install wrk). Results also go to bench/results/serve-<model name>.json.

On a busy machine requests/s measure the neighbours as much as the service, so each route's CPU time per request
is measured as well: the gunicorn processes' user + system time (/proc, Linux) over its rounds, divided by the
requests answered. Its "CPU ratio" (/healthz's CPU per request over /picks's) is what the throughput ratio would be
if the server's own work were all that limited it (wrk's share of the cores left out); it varies far less.

The service keeps no pages, but it keeps the product cards and the anchor-independent reasons of goods it has
shown, and for each of the last 4,096 rooms asked its candidates for its first 60 picks, the arrangement of
those it proved for each page length asked unfiltered, and the fit reasons of goods it showed the room (per
worker, per model). The first row, "first Ns", is /picks measured straight after start, before any
warm-up, while those are being filled; the other rows are measured after warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"service not ready at {url} after {timeout:.0f}s")


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(url: str, duration: float, connections: int, threads: int, script: Path | None) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True, timeout=duration + 30).stdout
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    if len(lat) < 4:
        raise RuntimeError(f"wrk printed no latency distribution for {url}:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50_ms": _ms(lat["50"]), "p90_ms": _ms(lat["90"]), "p99_ms": _ms(lat["99"]),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def cpu_seconds(root: int) -> float:
    """User + system CPU time of process `root` and its children (gunicorn's master and workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == root or ppid == root:
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def alternate(picks_url: str, trivial_url: str, script: Path, duration: float, rounds: int, connections: int,
              server: int | None = None) -> dict:
    """Both routes, taking turns for `rounds` rounds of duration / rounds seconds each (with `server`, the
    gunicorn master's pid, each round's CPU time of the server's processes too)."""
    runs: dict[str, list[dict]] = {"picks": [], "trivial": []}
    for _ in range(rounds):
        for name, url, lua in (("picks", picks_url, script), ("trivial", trivial_url, None)):
            before = cpu_seconds(server) if server is not None else 0.0
            run = run_wrk(url, duration / rounds, connections, 2, lua)
            run["cpu_s"] = cpu_seconds(server) - before if server is not None else None
            runs[name].append(run)
    level = {name: pooled(r) for name, r in runs.items()}
    level["round_ratios"] = [round(a["requests_per_s"] / b["requests_per_s"], 3)
                             for a, b in zip(runs["picks"], runs["trivial"], strict=True)]
    level["throughput_ratio"] = level["picks"]["requests_per_s"] / level["trivial"]["requests_per_s"]
    if server is not None:
        level["cpu_ratio"] = level["trivial"]["cpu_us_per_request"] / level["picks"]["cpu_us_per_request"]
    return level


def pooled(runs: list[dict]) -> dict:
    """Requests/s over all rounds; each percentile the median round's; the worst round's p99 as well."""
    seconds = sum(r["requests"] / r["requests_per_s"] for r in runs)
    out = {"requests": sum(r["requests"] for r in runs), "requests_per_s": sum(r["requests"] for r in runs) / seconds}
    for q in ("p50_ms", "p90_ms", "p99_ms"):
        out[q] = float(np.median([r[q] for r in runs]))
    out["worst_p99_ms"] = max(r["p99_ms"] for r in runs)
    if all(r.get("cpu_s") is not None for r in runs):
        out["cpu_us_per_request"] = 1e6 * sum(r["cpu_s"] for r in runs) / out["requests"]
    out["non_2xx"] = sum(r["non_2xx"] for r in runs)
    out["socket_errors"] = sum(r["socket_errors"] for r in runs)
    return out


@contextmanager
def gunicorn(env: dict[str, str], log: Path | None = None) -> Iterator[subprocess.Popen]:
    """gunicorn with serve/gunicorn.conf.py in its own process group, stopped (then killed) on exit; its output
    goes to `log` if given."""
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "serve/gunicorn.conf.py", "serve.wsgi:app"],
                              cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out, start_new_session=True)
    try:
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        if log is not None:
            out.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="model artifact directory")
    ap.add_argument("--duration", type=int, default=15, help="seconds per measured route (over all rounds)")
    ap.add_argument("--rounds", type=int, default=5, help="turns each route takes (a noise burst hits both)")
    ap.add_argument("--connections", type=int, nargs="+", default=[2, 8],
                    help="wrk connection counts; 2 = one per worker (service time), 8 = queueing under load")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    ap.add_argument("--k", type=int, default=20, help="picks per request")
    ap.add_argument("--anchors", type=int, default=1000, help="anchors sampled for /picks (0: every anchor)")
    ap.add_argument("--first-seconds", type=int, default=3, help="/picks measured right after start (0: skip)")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    manifest = json.loads((args.model / "manifest.json").read_text())
    anchor_ids = np.load(args.model / "ids/anchors.npy", allow_pickle=False)
    rng = np.random.default_rng(0)
    size = len(anchor_ids) if args.anchors <= 0 else min(args.anchors, len(anchor_ids))
    sample = rng.choice(anchor_ids, size=size, replace=False)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        paths = ",\n".join(f'"/v1/anchors/{a}/picks?k={args.k}"' for a in sample)
        fh.write(f"local paths = {{\n{paths}\n}}\nlocal i = math.random(#paths)\n"
                 "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n")
        script = Path(fh.name)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"XUANPIN_MODEL": str(args.model), "XUANPIN_BIND": f"127.0.0.1:{port}", "XUANPIN_WORKERS": str(args.workers)}
    try:
        with gunicorn(env) as server:
            start = time.perf_counter()
            wait_ready(base + "/readyz")
            ready_s = time.perf_counter() - start
            first = run_wrk(base + "/", args.first_seconds, 2, 2, script) if args.first_seconds > 0 else None
            run_wrk(base + "/healthz", 3, 8, 2, None)  # warm up both routes and the page cache
            run_wrk(base + "/", 3, 8, 2, script)
            levels = {c: alternate(base + "/", base + "/healthz", script, args.duration, args.rounds, c, server.pid)
                      for c in args.connections}
    finally:
        script.unlink(missing_ok=True)

    c = manifest["counts"]
    result = {"model": str(args.model), "counts": c, "workers": args.workers, "duration_s": args.duration,
              "rounds": args.rounds, "k": args.k, "anchors_sampled": len(sample), "ready_seconds": round(ready_s, 1),
              "first_seconds": first, "by_connections": levels}
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"serve-{args.model.name}.json").write_text(json.dumps(result, indent=2))

    print(f"\n== gunicorn {args.workers} sync workers on 127.0.0.1, wrk 2 threads, {args.duration}s per route "
          f"in {args.rounds} alternating rounds")
    print(f"   model {manifest['model_version']}: {c['products']:,} goods, {c['anchors']:,} anchors "
          f"(ready in {ready_s:.1f}s)")
    print(f"   /picks over {len(sample):,} anchors; percentiles: the median round's, and the worst round's p99")
    print(f"   {'conns':>5} {'route':<30} {'req/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'worst':>7} "
          f"{'non-2xx':>8} {'errors':>6} {'CPU us/req':>10}")
    if first is not None:
        name = f"first {args.first_seconds}s: /picks"
        print(f"   {2:>5} {name:<30} {first['requests_per_s']:>8.0f} {first['p50_ms']:>7.2f} {first['p90_ms']:>7.2f} "
              f"{first['p99_ms']:>7.2f} {'':>7} {first['non_2xx']:>8} {first['socket_errors']:>6}")
    for conns, level in levels.items():
        for name, r in ((f"/v1/anchors/{{id}}/picks?k={args.k}", level["picks"]), ("/healthz", level["trivial"])):
            print(f"   {conns:>5} {name:<30} {r['requests_per_s']:>8.0f} {r['p50_ms']:>7.2f} {r['p90_ms']:>7.2f} "
                  f"{r['p99_ms']:>7.2f} {r['worst_p99_ms']:>7.2f} {r['non_2xx']:>8} {r['socket_errors']:>6} "
                  f"{r.get('cpu_us_per_request', float('nan')):>10.0f}")
        rounds = ", ".join(f"{x:.2f}" for x in level["round_ratios"])
        print(f"   {conns:>5} throughput /picks : /healthz = {level['throughput_ratio']:.2f} (rounds: {rounds}); "
              f"CPU ratio {level.get('cpu_ratio', float('nan')):.2f}")

if __name__ == "__main__":
    main()
