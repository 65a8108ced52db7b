"""End-to-end fixtures: the real service on a loopback port and Debian's headless Chromium driven by Playwright.

The server is werkzeug's, in a thread of the test process, serving the session's small artifact. Playwright
drives the system Chromium ($XUANPIN_CHROMIUM, else `chromium` on PATH, as .ci/run checks); it never downloads
a browser. Without that binary the tests are skipped with a message; CI installs it (.ci/run). Chinese text
needs a CJK font (Debian: fonts-wqy-microhei), or the screenshots show boxes.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from serve.app import create_app

# the browser .ci/run makes sure of: $XUANPIN_CHROMIUM, else the `chromium` on PATH (Debian's package puts it in
# /usr/bin), so the two look in the same place
CHROMIUM = Path(os.environ.get("XUANPIN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class QuietHandler(WSGIRequestHandler):
    """No access log: the test output shows failures, not every request."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@dataclass
class LiveServer:
    """A running service: its base URL, and a stop() that refuses further connections."""

    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def get(self, path: str, **params) -> dict:
        """The API's own answer, to compare the page against."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=10) as response:
            return json.load(response)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_server(app, threaded: bool = True) -> LiveServer:
    """Serve `app` on a free loopback port. Not threaded means HTTP/1.0, one connection per request, so after
    stop() nothing can reach the service through a kept-alive connection."""
    server = make_server("127.0.0.1", 0, app, threaded=threaded, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"live-{server.server_port}", daemon=True)
    thread.start()
    return LiveServer(server, thread)


@pytest.fixture(scope="session")
def live_app(small_artifact):
    return create_app({"model": str(small_artifact)})


@pytest.fixture(scope="session")
def serve_app():
    """start_server, for a test that needs a server of its own (one it stops)."""
    return start_server


@pytest.fixture(scope="session")
def live(live_app) -> Iterator[LiveServer]:
    server = start_server(live_app)
    yield server
    server.stop()


@pytest.fixture
def hot_live(small_artifact) -> Iterator[LiveServer]:
    """A service with a hot store of its own, fed the artifact's order stream with three bursts posted to its
    events route: goods are hot on it."""
    from fixtures.orders import order_stream

    token = "e2e-events-token-000"
    app = create_app({"model": str(small_artifact),
                      "hot": {"clock": "events", "events_token": token, "refresh_seconds": 0}})
    server = start_server(app)
    try:
        events = order_stream(small_artifact, bursts=3, burst_orders=40)  # background at last week's rate
        r = app.test_client().post("/v1/events/orders", json={"events": events},
                                   headers={"Authorization": f"Bearer {token}"})
        assert r.json["accepted"] == len(events)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium) to run the "
                    "browser tests; they never download a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One context for the session: the page keeps no state outside its URL, and a new page is cheaper."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    """A fresh page; a JavaScript error on it fails the test."""
    pg = browser_context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    pg.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
