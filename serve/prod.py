"""The production deployment as one foreground command: gunicorn's sync workers on a private unix socket,
nginx in front of them on the public address (``python -m serve.prod``, what ``make serve-prod`` runs).

Sync workers read their own requests, so clients that send slowly would hold every worker (two did, on a
2-worker service); nginx buffers whole requests and responses instead (``serve/nginx.conf.template``).
Both run in the foreground under this process: SIGTERM or Ctrl-C stops both, and if either dies the other
is stopped and the command exits nonzero, so a supervisor sees one unit; if this process is killed outright,
the kernel stops both (Linux).

    XUANPIN_BIND    the public address nginx listens on (default 127.0.0.1:$PORT, PORT default 8000)
    XUANPIN_NGINX   the nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
    XUANPIN_ACCESS_LOG  "-" for nginx's access log on stdout, or a file (default off)

The service's own settings (XUANPIN_MODEL, XUANPIN_WORKERS, ...) are read as with bare gunicorn
(``serve/gunicorn.conf.py``, whose worker-count check still runs).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from recommender.errors import ConfigError
from serve.proxy import NginxMissing, find_nginx, render_nginx_conf

GUNICORN_CONF = Path(__file__).with_name("gunicorn.conf.py")
START_SECONDS = 60.0  # for gunicorn to bind its socket and for nginx to listen


def _log(message: str) -> None:
    print(f"serve.prod: {message}", file=sys.stderr, flush=True)


def _accepts(address: str) -> bool:
    """Whether something listens on a gunicorn/nginx-style address (unix:PATH, HOST:PORT, PORT)."""
    if address.startswith("unix:"):
        family, target = socket.AF_UNIX, address[5:]
    else:
        host, _, port = address.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1"}.get(host, host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        target = (host, int(port))
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(target)
        except OSError:
            return False
    return True


def _bad_bind(bind: str) -> str | None:
    """Why nginx cannot listen on `bind` (None if it can try): not an address, or one something already holds
    (checked first: otherwise the launcher's own probe would reach that other process and report success)."""
    if not bind.startswith("unix:"):
        port = bind.rpartition(":")[2]
        if not port.isdigit() or not 0 < int(port) < 65536:
            return f"XUANPIN_BIND={bind!r}: not an address nginx can listen on (HOST:PORT, PORT or unix:PATH)"
    if _accepts(bind):
        return f"XUANPIN_BIND={bind}: something already listens there; stop it or choose another address"
    return None


def _die_with_this_process(sig: int) -> Callable[[], None] | None:
    """A preexec function asking the kernel to send the child `sig` when this launcher dies, even by SIGKILL
    (Linux's PR_SET_PDEATHSIG): nginx and gunicorn have their own process groups and would outlive it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the signal handlers below still stop both
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, sig)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the launcher died before the line above
            os._exit(1)

    return preexec


def _exited(procs: dict[str, subprocess.Popen]) -> str | None:
    return next((name for name, proc in procs.items() if proc.poll() is not None), None)


def _wait_listening(address: str, procs: dict[str, subprocess.Popen], stop: list[int]) -> str | None:
    """Wait until `address` accepts. None if it does (or a stop was asked), else what went wrong."""
    deadline = time.monotonic() + START_SECONDS
    while not _accepts(address):
        died = _exited(procs)
        if died is not None:
            return f"{died} exited with code {procs[died].returncode}"
        if stop:
            return None
        if time.monotonic() > deadline:
            return f"nothing listens on {address} after {START_SECONDS:.0f} s"
        time.sleep(0.05)
    return None


def _stop(name: str, proc: subprocess.Popen, sig: int, grace: float) -> None:
    """Ask the master to stop, then kill what is left of its process group (an nginx worker outlives a killed
    master and keeps the port)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            _log(f"{name} did not stop within {grace:.0f} s: killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _max_body_bytes(env: dict[str, str]) -> int:
    """The service's own body limit, which nginx enforces too (imported here: it loads the core library)."""
    from serve.config import ServiceConfig

    return ServiceConfig.from_env(env).max_body_bytes


def run(bind: str, environ: dict[str, str] | None = None) -> int:
    """Run nginx on `bind` in front of gunicorn until a signal (exit 0) or until either dies (nonzero)."""
    env = dict(os.environ if environ is None else environ)
    try:
        nginx = find_nginx(env)
    except NginxMissing as exc:
        _log(str(exc))
        return 2
    access_log = env.pop("XUANPIN_ACCESS_LOG", None)  # nginx's: it sees every client; gunicorn logs none

    problem = _bad_bind(bind)
    if problem:
        _log(problem)
        return 2

    stop: list[int] = []  # the signals received (a handler that takes a lock could deadlock the loop)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: a closed terminal, some supervisors
        signal.signal(sig, lambda signum, _frame: stop.append(signum))

    run_dir = Path(tempfile.mkdtemp(prefix="xuanpin-serve-", dir=env.get("XDG_RUNTIME_DIR")))
    sock = run_dir / "gunicorn.sock"
    conf = run_dir / "nginx.conf"
    procs: dict[str, subprocess.Popen] = {}
    failed: str | None = None  # what went wrong, if anything did
    try:
        # each in its own process group: a signal reaches them through here, so the order of stopping holds
        # and if this launcher is killed, both stop at once (nginx: SIGTERM, gunicorn: SIGQUIT)
        child = {"env": env, "stdin": subprocess.DEVNULL, "process_group": 0}
        procs["gunicorn"] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", f"unix:{sock}",
             "--control-socket", str(run_dir / "gunicorn.ctl"), "serve.wsgi:app"],
            preexec_fn=_die_with_this_process(signal.SIGQUIT), **child)
        try:  # while gunicorn boots
            conf.write_text(render_nginx_conf(listen=bind, socket=sock, run_dir=run_dir,
                                              max_body_bytes=_max_body_bytes(env), access_log=access_log),
                            encoding="utf-8")
        except (ConfigError, OSError, ValueError) as exc:
            failed = str(exc)
            _log(failed)
            return 2
        failed = _wait_listening(f"unix:{sock}", procs, stop)
        if failed is None and not stop:
            procs["nginx"] = subprocess.Popen([nginx, "-e", "stderr", "-p", str(run_dir), "-c", str(conf)],
                                              preexec_fn=_die_with_this_process(signal.SIGTERM), **child)
            failed = _wait_listening(bind, procs, stop)
            if failed is None and not stop:
                _log(f"nginx listens on {bind}, in front of gunicorn at unix:{sock}")
        while failed is None and not stop:
            time.sleep(0.2)
            died = _exited(procs)
            if died is not None:
                failed = f"{died} exited with code {procs[died].returncode}"
        if failed is not None:
            _log(f"{failed}; stopping")
            return 1
        return 0
    finally:  # nginx first (it finishes the requests it has, which gunicorn answers), then gunicorn
        if "nginx" in procs:
            _stop("nginx", procs["nginx"], signal.SIGQUIT, 15.0)  # worker_shutdown_timeout 10s
        if "gunicorn" in procs:  # gracefully when asked to; after a failure no request of its has a reader
            _stop("gunicorn", procs["gunicorn"], signal.SIGQUIT if failed else signal.SIGTERM, 30.0)
        shutil.rmtree(run_dir, ignore_errors=True)


def main() -> None:
    bind = os.environ.get("XUANPIN_BIND") or f"127.0.0.1:{os.environ.get('PORT') or 8000}"
    sys.exit(run(bind))


if __name__ == "__main__":
    main()
