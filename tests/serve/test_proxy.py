"""nginx's configuration for the deployment (serve/proxy.py): filled in completely, the service's body limit,
nothing pasted in that could change its meaning, and accepted by nginx itself."""

from __future__ import annotations

import re
import subprocess

import pytest

from serve.proxy import NginxMissing, find_nginx, render_nginx_conf


def _conf(tmp_path, **kw) -> str:
    args = {"listen": "127.0.0.1:8000", "socket": tmp_path / "gunicorn.sock", "run_dir": tmp_path,
            "max_body_bytes": 1 << 20, **kw}
    return render_nginx_conf(**args)


def test_every_field_is_filled_and_the_body_limit_is_the_services(tmp_path):
    conf = _conf(tmp_path, max_body_bytes=4096)
    assert not re.search(r"{{\w+}}", conf)
    assert "client_max_body_size 4096;" in conf
    assert f"server unix:{tmp_path}/gunicorn.sock" in conf
    assert "listen 127.0.0.1:8000;" in conf
    for directive in ("proxy_request_buffering on;", "proxy_buffering on;", "daemon off;", "access_log off;"):
        assert directive in conf
    assert "access_log /dev/stdout xuanpin;" in _conf(tmp_path, access_log="-")


@pytest.mark.parametrize(("hard", "connections", "files"), [(1024, 992, 1024), (20_000, 16_384, 16_416),
                                                              (1 << 20, 16_384, 16_416)])
def test_nginx_holds_as_many_slow_clients_as_the_open_file_limit_allows(tmp_path, monkeypatch, hard, connections,
                                                                         files):
    """A fixed 1,024 connections let 1,100 slow clients reset later requests (an SRE's probe); nginx may not ask
    past the hard limit on open files, and keeps a few for its logs and listening socket."""
    from serve import proxy

    monkeypatch.setattr(proxy.resource, "getrlimit", lambda which: (1024, hard))
    conf = _conf(tmp_path)
    assert f"worker_connections {connections};" in conf and f"worker_rlimit_nofile {files};" in conf


@pytest.mark.parametrize("listen", ["127.0.0.1:80; include /etc/passwd", "", "0.0.0.0:80 ssl", "$host:80"])
def test_an_address_that_would_change_the_configuration_is_refused(tmp_path, listen):
    with pytest.raises(ValueError, match="nginx's configuration"):
        _conf(tmp_path, listen=listen)


def test_nginx_accepts_the_configuration(tmp_path):
    try:
        nginx = find_nginx()
    except NginxMissing:
        pytest.skip("nginx is not installed (apt-get install nginx-light; .ci/run installs it)")
    (tmp_path / "nginx.conf").write_text(_conf(tmp_path), encoding="utf-8")
    check = subprocess.run([nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_a_missing_nginx_names_the_package_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr("serve.proxy.SBIN", str(tmp_path))
    with pytest.raises(NginxMissing, match="apt-get install nginx-light"):
        find_nginx({"PATH": str(tmp_path)})
    with pytest.raises(NginxMissing, match="apt-get install nginx-light"):
        find_nginx({"XUANPIN_NGINX": str(tmp_path / "nginx")})
    fake = tmp_path / "nginx"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o755)
    assert find_nginx({"XUANPIN_NGINX": str(fake)}) == str(fake)


def test_no_worker_behind_nginx_is_a_json_503_with_retry_after(tmp_path):
    """gunicorn down (nothing on its socket: nginx's 502) is answered 503 with Retry-After, as documented, not
    the 502 or 504 that led to the error page."""
    import http.client
    import socket as sockets
    import time

    try:
        nginx = find_nginx()
    except NginxMissing:
        pytest.skip("nginx is not installed (apt-get install nginx-light; .ci/run installs it)")
    with sockets.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "nginx.conf").write_text(_conf(tmp_path, listen=f"127.0.0.1:{port}"), encoding="utf-8")
    proc = subprocess.Popen([nginx, "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "nginx did not start"
                time.sleep(0.1)
        body = r.read()
        assert r.status == 503 and r.getheader("Retry-After") == "5"
        assert b'"code": "unavailable"' in body
    finally:
        proc.terminate()
        proc.wait(10)
