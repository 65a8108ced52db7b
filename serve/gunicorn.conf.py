"""gunicorn settings for the service.

Sync workers, one per core: a request is CPU-bound for a few milliseconds, so threads would only contend for
the GIL. With wrk on 2 cores, 2 sync workers served a minimal route at about 4,400 req/s (p99 2.9 ms); gthread
workers were bimodal, some runs at about 1,200 req/s. Each worker loads the model itself; its arrays
are memory-mapped, so the workers share the pages. Override any of these with GUNICORN_* flags or -c.

A sync worker reads its request itself, so clients that send slowly hold it: in production these workers sit
behind nginx on a unix socket (``python -m serve.prod``, ``make serve-prod``), which hands them whole requests.
"""

import multiprocessing
import os

bind = os.environ.get("XUANPIN_BIND", "127.0.0.1:8000")


def _config_file() -> dict:
    """The XUANPIN_CONFIG file as the service reads it, without loading the service here ({} if unreadable: the
    app reports it)."""
    if not os.environ.get("XUANPIN_CONFIG"):
        return {}
    try:
        from recommender.settings import read_config_file

        return read_config_file(os.environ["XUANPIN_CONFIG"])
    except Exception:
        return {}


def reload_reaches_every_worker() -> bool:
    """Serving a registry with polling off, POST /v1/admin/reload reloads only the worker that answers it: the
    others would serve the old model for good."""
    config = _config_file()
    from_file = config.get("registry") and not os.environ.get("XUANPIN_MODEL")  # the environment's model wins
    if not (os.environ.get("XUANPIN_REGISTRY") or from_file):
        return True
    poll = os.environ.get("XUANPIN_POLL_SECONDS") or config.get("poll_seconds", 30)
    try:
        return float(poll) > 0
    except (TypeError, ValueError):  # the app names the bad value
        return True


def counts_are_shared() -> bool:
    """Hot items count posted orders in the worker that receives them unless Redis is shared: with ingestion on
    and no Redis (in the environment or the XUANPIN_CONFIG file), several workers would each count a part."""
    hot = _config_file().get("hot") or {}
    if not isinstance(hot, dict):  # `hot = "redis"`: the app names the bad value
        hot = {}
    redis_url = os.environ.get("XUANPIN_REDIS_URL") or hot.get("redis_url")
    token = os.environ.get("XUANPIN_EVENTS_TOKEN") or hot.get("events_token")
    return bool(redis_url) or not token


# one worker where counts would split, one per core otherwise; asking for more is refused at start
# (XUANPIN_ALLOW_SPLIT_COUNTS=1 accepts split counts, e.g. for a demo)
def _workers() -> int:
    asked = os.environ.get("XUANPIN_WORKERS")
    if not asked:
        return multiprocessing.cpu_count() if counts_are_shared() else 1
    try:
        n = int(asked)
    except ValueError:
        raise SystemExit(f"XUANPIN_WORKERS={asked!r}: must be a whole number of workers (1 or more)") from None
    if n < 1:  # gunicorn would run none, and every request would wait for nginx's timeout
        raise SystemExit(f"XUANPIN_WORKERS={asked!r}: at least one worker is needed")
    return n


workers = _workers()
worker_class = "serve.worker.JsonErrorWorker"  # the sync worker, its own error answers (414, 431, 400) in JSON
threads = 1
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 0
# X-Forwarded-* headers are trusted from nginx only: the unix socket's peer (gunicorn always trusts it) or loopback
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = os.environ.get("XUANPIN_ACCESS_LOG")  # e.g. "-" for stdout; off by default for throughput
errorlog = "-"
loglevel = "info"


def on_starting(server) -> None:
    n = server.cfg.workers  # what gunicorn will run, -w on the command line included
    if n < 1:
        raise SystemExit(f"refusing {n} workers: at least one is needed")
    _metrics_dir()
    if n > 1 and os.environ.get("XUANPIN_ALLOW_SPLIT_COUNTS") != "1" and not counts_are_shared():
        raise SystemExit(f"refusing {n} workers: with XUANPIN_EVENTS_TOKEN set and no XUANPIN_REDIS_URL each "
                         "worker would count only the orders posted to it; set XUANPIN_REDIS_URL, or run one worker "
                         "(XUANPIN_WORKERS=1), or set XUANPIN_ALLOW_SPLIT_COUNTS=1 to accept split counts")
    if n > 1 and not reload_reaches_every_worker():
        raise SystemExit(f"refusing {n} workers with XUANPIN_POLL_SECONDS=0: POST /v1/admin/reload reloads only the "
                         "worker that answers it, and the others would serve the old model for good; set a poll "
                         "interval (e.g. XUANPIN_POLL_SECONDS=30, the default), or run one worker (XUANPIN_WORKERS=1)")


def _metrics_dir() -> None:
    """PROMETHEUS_MULTIPROC_DIR, where each worker writes its metrics for /metrics to add up: made if missing,
    and emptied of the last run's files (prometheus_client's rule: a dead run's counters would be counted)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return
    try:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
    except OSError as exc:
        raise SystemExit(f"PROMETHEUS_MULTIPROC_DIR={path!r}: {exc.strerror or exc}") from None


def child_exit(server, worker) -> None:
    """A worker that exits (killed, restarted, timed out) stops counting in /metrics: its live gauges (the model
    version it served) would otherwise be reported for good."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
