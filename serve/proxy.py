"""The nginx that fronts gunicorn in production: finding the binary and filling in its configuration
(``nginx.conf.template``; why nginx at all is said there). ``serve/prod.py`` runs it."""

from __future__ import annotations

import grp
import os
import pwd
import re
import resource
import shutil
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
INSTALL_HINT = "apt-get install nginx-light"
SBIN = "/usr/sbin:/usr/local/sbin"  # where Debian's nginx is, often off a user's PATH


class NginxMissing(RuntimeError):
    """No nginx to run: the message names the package to install."""


def find_nginx(environ: dict[str, str] | None = None) -> str:
    """$XUANPIN_NGINX, else nginx on PATH, else in /usr/sbin or /usr/local/sbin."""
    env = os.environ if environ is None else environ
    if env.get("XUANPIN_NGINX"):
        path = env["XUANPIN_NGINX"]
        if not os.access(path, os.X_OK):
            raise NginxMissing(f"XUANPIN_NGINX={path} is not an executable ({INSTALL_HINT})")
        return path
    found = shutil.which("nginx", path=env.get("PATH")) or shutil.which("nginx", path=SBIN)
    if found is None:
        raise NginxMissing(f"nginx is not installed: {INSTALL_HINT} (or set XUANPIN_NGINX to its path)")
    return found


def _plain(value: str, what: str) -> str:
    """A value pasted into the configuration: nothing that could end a directive or start a variable."""
    if not value or re.search(r"[\s;{}'\"$#]", value):
        raise ValueError(f"{what} {value!r} cannot go into nginx's configuration (spaces, quotes, ;{{}}$#)")
    return value


#: connections nginx's one worker holds at most (slow clients wait in it, not in gunicorn's workers)
MAX_CONNECTIONS = 16_384


def connection_limits() -> dict[str, str]:
    """worker_connections and the open-file limit nginx asks for: as many connections as the system's hard limit
    on open files allows, up to MAX_CONNECTIONS (nginx counts a proxied request's socket to gunicorn among its
    connections, so they need no second halving), a few files kept for logs and the listening socket. With the
    former fixed 1,024, 1,100 slow clients left later requests reset, not queued (an SRE's probe)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    files = MAX_CONNECTIONS + 32 if hard == resource.RLIM_INFINITY else min(int(hard), MAX_CONNECTIONS + 32)
    return {"worker_connections": str(max(files - 32, 256)), "worker_rlimit_nofile": str(files)}


def render_nginx_conf(*, listen: str, socket: Path, run_dir: Path, max_body_bytes: int,
                      access_log: str | None = None) -> str:
    """The configuration for one deployment. `access_log` "-" writes nginx's access log to stdout, a path to
    that file, None turns it off. As root, nginx's workers run as the launching user (gunicorn's user too), so
    they can reach the private runtime dir; otherwise nginx cannot switch users and keeps its own."""
    if access_log is None:
        log = "off"
    else:
        log = ("/dev/stdout" if access_log == "-" else _plain(access_log, "access log")) + " xuanpin"
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    # gunicorn's bind syntax is nginx's listen syntax: HOST:PORT, [V6]:PORT, PORT, unix:PATH
    fields = {"listen": _plain(listen, "address"), "socket": _plain(str(socket), "socket"),
              "run_dir": _plain(str(run_dir), "runtime dir"),
              "max_body_bytes": str(int(max_body_bytes)), "access_log": log, "user": user,
              **connection_limits()}
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in fields.items():
        text = text.replace("{{" + name + "}}", value)
    unfilled = re.search(r"{{\w+}}", text)
    if unfilled:
        raise ValueError(f"unfilled field in {TEMPLATE.name}: {unfilled.group(0)}")
    return text
