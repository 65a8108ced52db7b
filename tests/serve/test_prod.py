"""The production deployment (serve/prod.py): with nginx in front, clients that send slowly leave gunicorn's
sync workers free; the same clients against bare sync workers starve them (shown here, so the protection is
measured rather than assumed). Runs the real nginx and gunicorn with 2 workers on the small trained model."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from serve.proxy import NginxMissing, find_nginx

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "slow-clients-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def nginx() -> str:
    try:
        return find_nginx()
    except NginxMissing:
        pytest.skip("nginx is not installed (apt-get install nginx-light; .ci/run installs it)")


@pytest.fixture(scope="module")
def env(small_artifact) -> dict[str, str]:
    """Two sync workers serving the small model, order ingestion on (its route reads a request body)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XUANPIN_", "GUNICORN_")) and k != "FORWARDED_ALLOW_IPS"}
    env.update(XUANPIN_MODEL=str(small_artifact), XUANPIN_WORKERS="2", XUANPIN_EVENTS_TOKEN=TOKEN,
               XUANPIN_ALLOW_SPLIT_COUNTS="1", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _connect(address: tuple[str, int] | str, timeout: float, rcvbuf: int | None = None) -> socket.socket:
    """A TCP connection, or one to a unix socket's path."""
    s = socket.socket(socket.AF_UNIX if isinstance(address, str) else socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(address)
    return s


def _get(address, path: str, timeout: float) -> tuple[int | None, float]:
    """(status, or None without an answer within `timeout` seconds; seconds taken)."""
    start = time.perf_counter()
    try:
        with _connect(address, timeout) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
                if time.perf_counter() - start > timeout:
                    raise TimeoutError
        return int(data.split(b" ", 2)[1]), time.perf_counter() - start
    except (OSError, IndexError, ValueError):
        return None, time.perf_counter() - start


def _running(env: dict[str, str], port: int) -> subprocess.Popen:
    """`python -m serve.prod` (what `make serve-prod` runs) on 127.0.0.1:`port`, once /healthz answers."""
    proc = subprocess.Popen([sys.executable, "-m", "serve.prod"], env={**env, "XUANPIN_BIND": f"127.0.0.1:{port}"},
                            cwd=ROOT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _get(("127.0.0.1", port), "/healthz", 1.0)[0] != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the deployment did not answer /healthz (exit code {proc.wait()})")
        time.sleep(0.1)
    return proc


@pytest.fixture(scope="module")
def deployment(nginx, env, tmp_path_factory):
    """The deployment, with its public address, gunicorn's own socket behind nginx (the run dir is under
    XDG_RUNTIME_DIR) and the launcher's process."""
    runtime = tmp_path_factory.mktemp("run")
    port = _free_port()
    proc = _running({**env, "XDG_RUNTIME_DIR": str(runtime)}, port)
    try:
        (sock,) = runtime.glob("xuanpin-serve-*/gunicorn.sock")
        yield ("127.0.0.1", port), str(sock), proc
    finally:
        if proc.poll() is None:  # the last test stops it; else as it would be (a kill could leave the workers)
            proc.terminate()
            proc.wait(60)


class SlowClients:
    """`n` connections that each send or read one byte every `pace` seconds and never finish: the header of a
    request (kind "headers"), a body shorter than its Content-Length (kind "body", to the order route, which
    reads its body), or a whole request for a 236 kB page of picks whose answer they read (kind "reader",
    with a 4 kB receive buffer: a sync worker is held while it writes and then while it waits, up to 2 s, for
    the client to close; nginx reads the answer at once and closes)."""

    STARTS: ClassVar[dict[str, bytes]] = {
        "headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        "body": (b"POST /v1/events/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                 + b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"events\": ["),
        "reader": b"GET /v1/anchors/10000010/picks?k=200 HTTP/1.0\r\nHost: x\r\n\r\n",
    }

    def __init__(self, address, n: int, kind: str, pace: float = 0.1) -> None:
        self.address, self.n, self.kind, self.pace = address, n, kind, pace
        self.sockets: list[socket.socket] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)

    def __enter__(self) -> SlowClients:
        for _ in range(self.n):
            s = _connect(self.address, 5.0, rcvbuf=4096 if self.kind == "reader" else None)
            s.sendall(self.STARTS[self.kind])
            s.setblocking(False)  # a byte the server does not take (or send) is skipped, never waited for
            self.sockets.append(s)
        self.thread.start()
        time.sleep(0.3)  # the server has read what they sent and waits for the rest (or for the reader)
        return self

    def _trickle(self) -> None:
        while not self.done.wait(self.pace):
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    if self.kind == "reader":
                        s.recv(1)
                    else:
                        s.send(b"a" if self.kind == "headers" else b" ")

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        for s in self.sockets:
            s.close()


def _probe(address, paths: list[str], timeout: float) -> list[tuple[str, int | None, float]]:
    return [(path, *_get(address, path, timeout)) for path in paths]


PROBES = ["/healthz", "/v1/anchors/10000010/picks?k=5", "/healthz", "/v1/anchors/10000020/picks?k=5",
          "/healthz", "/healthz"]


@pytest.mark.parametrize("kind", ["headers", "body", "reader"])
def test_two_slow_clients_starve_the_sync_workers_reached_directly(deployment, kind):
    """The failure nginx is there for, on the deployment's own workers: two slow clients on gunicorn's socket
    hold both workers and /healthz goes unanswered there."""
    _, sock, _ = deployment
    with SlowClients(sock, 2, kind):
        probes = _probe(sock, ["/healthz", "/healthz"], 0.75)
    assert [status for _, status, _ in probes] == [None, None], probes
    assert _get(sock, "/healthz", 5.0)[0] == 200  # held, not broken: free again once the clients leave


@pytest.mark.parametrize("kind", ["headers", "body", "reader"])
@pytest.mark.parametrize("n", [2, 50])
def test_slow_clients_do_not_hold_a_worker_behind_nginx(deployment, kind, n):
    public, _, proc = deployment
    with SlowClients(public, n, kind):
        probes = _probe(public, PROBES, 2.0)
    assert [status for _, status, _ in probes] == [200] * len(PROBES), probes
    assert max(seconds for *_, seconds in probes) < 1.0, probes
    assert proc.poll() is None


def test_a_body_over_the_service_limit_gets_its_json_413_from_nginx(deployment):
    (host, port), _, _ = deployment
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("POST", "/v1/events/orders", body=b" " * ((1 << 20) + 1),
                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(response.read())["error"]["code"] == "payload_too_large"
    conn.close()


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _gone(pids: list[int]) -> bool:
    return not any(Path(f"/proc/{p}").exists() for p in pids)


# An nginx that listens on the configured address for `seconds` and exits with code 3: the launcher's
# supervision without another real deployment.
FAKE_NGINX = """#!{python}
import re, socket, sys, time
conf = open(sys.argv[sys.argv.index("-c") + 1]).read()
host, port = re.search(r"listen ([0-9.]+):([0-9]+);", conf).groups()
server = socket.create_server((host, int(port)))
time.sleep({seconds})
sys.exit(3)
"""


def _with_fake_nginx(env: dict[str, str], tmp_path: Path, seconds: float) -> tuple[subprocess.Popen, list[int]]:
    """The launcher (one worker) with the fake nginx, once that listens: the launcher and its children."""
    fake = tmp_path / "nginx"
    fake.write_text(FAKE_NGINX.format(python=sys.executable, seconds=seconds), encoding="utf-8")
    fake.chmod(0o755)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "serve.prod"], cwd=ROOT, stdin=subprocess.DEVNULL,
                            env={**env, "XUANPIN_NGINX": str(fake), "XUANPIN_BIND": f"127.0.0.1:{port}",
                                 "XUANPIN_WORKERS": "1"})
    deadline = time.monotonic() + 30
    while _refused(port) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc, _children(proc.pid)


def _wait_gone(pids: list[int], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _gone(pids)


def test_nginx_dying_stops_gunicorn_and_exits_nonzero(env, tmp_path, capfd):
    proc, children = _with_fake_nginx(env, tmp_path, 1)
    assert len(children) == 2
    assert proc.wait(30) != 0
    assert "nginx exited with code 3" in capfd.readouterr().err
    assert _gone(children)


def test_a_killed_launcher_takes_nginx_and_gunicorn_with_it(env, tmp_path):
    """SIGKILL leaves no handler to run: the kernel stops the children (their own process groups otherwise
    keep them, and an orphaned deployment would hold the port)."""
    proc, children = _with_fake_nginx(env, tmp_path, 60)
    assert len(children) == 2
    proc.kill()
    proc.wait()
    assert _wait_gone(children)


def test_a_refused_worker_count_stops_before_nginx_starts(nginx, env, capfd):
    """gunicorn.conf.py's check still runs: split hot-item counts are refused and nothing is left serving."""
    port = _free_port()
    env = {k: v for k, v in env.items() if k != "XUANPIN_ALLOW_SPLIT_COUNTS"}
    proc = subprocess.run([sys.executable, "-m", "serve.prod"], env={**env, "XUANPIN_BIND": f"127.0.0.1:{port}"},
                          cwd=ROOT, timeout=60)
    assert proc.returncode != 0
    assert "XUANPIN_REDIS_URL" in capfd.readouterr().err
    assert _refused(port)


def test_an_address_nginx_cannot_listen_on_is_refused_before_anything_starts(env, capfd):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for bind, said in ((f"127.0.0.1:{port}", "something already listens there"),
                           ("127.0.0.1:notaport", "not an address nginx can listen on")):
            proc = subprocess.run([sys.executable, "-m", "serve.prod"], env={**env, "XUANPIN_BIND": bind},
                                  cwd=ROOT, timeout=60)
            err = capfd.readouterr().err
            assert proc.returncode == 2 and said in err and "Traceback" not in err, err


def test_a_missing_nginx_is_named_with_its_package(env, tmp_path, capfd):
    proc = subprocess.run([sys.executable, "-m", "serve.prod"], env={**env, "XUANPIN_NGINX": str(tmp_path / "no")},
                          cwd=ROOT, timeout=60)
    assert proc.returncode != 0
    assert "apt-get install nginx-light" in capfd.readouterr().err


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /healthz?q=" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_too_long"),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431,
     "request_header_fields_too_large"),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9_000 + b"\r\n\r\n", 431,
     "request_header_fields_too_large"),
    (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    (b"TRACE /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 405, "method_not_allowed"),
    (b"TRACE /v1/events/orders HTTP/1.1\r\nHost: t\r\n\r\n", 405, "method_not_allowed"),
    (b"POST /v1/events/orders HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented"),
    (b"GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 505, "http_version_not_supported"),
], ids=["request-line-too-long", "header-too-large", "header-over-8k", "no-request-line", "trace", "trace-a-post",
        "transfer-coding", "http-2.0"])
def test_nginx_s_own_errors_are_json_too(deployment, request_bytes, status, code):
    """What nginx refuses before gunicorn sees it is answered in the API's error shape, not an HTML page."""
    (host, port), _, _ = deployment
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(request_bytes)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert int(head.split()[1]) == status
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == code
    if status == 405:  # an operator's probe (schemathesis): nginx's own 405 had no Allow
        allowed = b"post, options" if b"/v1/events/" in request_bytes else b"get, head, options"
        assert b"\r\nallow: " + allowed + b"\r\n" in head.lower() + b"\r\n"


def test_answers_are_gzipped_for_clients_that_ask_and_carry_a_request_id(deployment):
    """The integrator's probe: 71 KB of picks went out uncompressed, and no request could be followed between a
    client's log and ours. A client's own X-Request-Id is answered back; without one nginx makes one."""
    import gzip

    (host, port), _, _ = deployment
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/openapi.json", headers={"Accept-Encoding": "gzip", "X-Request-Id": "client-42"})
    r = conn.getresponse()
    raw = r.read()
    assert r.status == 200 and r.getheader("Content-Encoding") == "gzip" and "Accept-Encoding" in r.getheader("Vary")
    assert json.loads(gzip.decompress(raw))["openapi"].startswith("3.")
    assert r.getheader("X-Request-Id") == "client-42"
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    r.read()
    assert r.getheader("Content-Encoding") is None and re.fullmatch(r"[0-9a-f]{32}", r.getheader("X-Request-Id"))
    conn.close()


def test_sighup_stops_the_deployment_gracefully_and_removes_its_runtime_dir(env, tmp_path, nginx):
    port = _free_port()
    proc = _running({**env, "XDG_RUNTIME_DIR": str(tmp_path)}, port)
    assert list(tmp_path.glob("xuanpin-serve-*"))
    proc.send_signal(signal.SIGHUP)  # the terminal it ran in closed
    assert proc.wait(60) == 0
    assert _refused(port) and not list(tmp_path.glob("xuanpin-serve-*"))


def test_sigterm_stops_nginx_and_gunicorn(deployment):
    """Last in this file: it stops the module's deployment. Both stop, the command exits 0, the port is free."""
    (_, port), _, proc = deployment
    children = _children(proc.pid)
    assert len(children) == 2  # gunicorn's master and nginx's
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert _gone(children)
    assert _refused(port)

