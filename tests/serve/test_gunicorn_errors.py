"""Through gunicorn itself: the answers gunicorn writes before the app sees a request are JSON like the app's."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import _free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gunicorn") / "stderr.log"


@pytest.fixture(scope="module")
def server(small_artifact, server_log):
    """gunicorn with the production settings (serve/gunicorn.conf.py), one worker, on a free port; its stderr in
    `server_log`."""
    port = _free_port()
    env = {**os.environ, "XUANPIN_MODEL": str(small_artifact), "XUANPIN_BIND": f"127.0.0.1:{port}",
           "XUANPIN_WORKERS": "1", "PYTHONPATH": str(ROOT)}
    for name in ("XUANPIN_EVENTS_TOKEN", "XUANPIN_REDIS_URL", "XUANPIN_CONFIG", "XUANPIN_REGISTRY"):
        env.pop(name, None)
    # no control socket: its default path is one per user, shared with any other gunicorn on the machine
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "serve/gunicorn.conf.py", "--no-control-socket",
                             "serve.wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=server_log.open("wb"))
    try:
        deadline = time.monotonic() + 60
        while not exchange(port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").startswith(
                b"HTTP/1.1 200"):
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


def exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, read the answer until the server closes (b"" when nothing listens yet)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)
    except OSError:
        return b""


def parsed(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /healthz?q=" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, "uri_too_long"),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9_000 + b"\r\n\r\n", 431,
     "request_header_fields_too_large"),
    (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    (b"GET /healthz HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 400, "bad_request"),
], ids=["request-line-too-long", "header-too-large", "no-request-line", "bad-header-name"])
def test_gunicorn_s_own_errors_are_json(server, request_bytes, status, code):
    got, headers, body = parsed(exchange(server, request_bytes))
    assert got == status
    assert headers["content-type"] == "application/json" and headers["x-content-type-options"] == "nosniff"
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"] and error["field"] is None


def test_a_request_line_of_raw_utf8_is_told_how_to_encode_it(server):
    # curl sends a typed 美妆 as raw UTF-8; gunicorn refuses the line, and the answer says what to send instead
    got, _, body = parsed(exchange(server, "GET /v1/search/anchors?q=美妆&k=2 HTTP/1.1\r\nHost: t\r\n\r\n".encode()))
    assert got == 400
    message = json.loads(body)["error"]["message"]
    assert "percent-encode them as UTF-8: /v1/search/anchors?q=%E7%BE%8E%E5%A6%86&k=2" in message


def test_the_application_logs_under_gunicorn_with_time_pid_level_and_logger(server, server_log):
    """gunicorn configures only its own loggers: the application's INFO lines (the model served) must still
    reach its stderr, stamped like gunicorn's own, with the worker's pid."""
    exchange(server, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    text = server_log.read_text(encoding="utf-8", errors="replace")
    line = next((x for x in text.splitlines() if "serve.app: serving model" in x), None)
    assert line is not None, text[-2000:]
    assert re.match(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[INFO\] serve\.app: ", line), line
