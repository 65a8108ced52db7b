"""The selection-center page is served by the app itself: / is the HTML, /assets/ its scripts and styles."""

from __future__ import annotations

import re

from serve.page import STATIC


def test_root_serves_the_page(client):
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "<title>选品中心" in html and 'lang="zh-CN"' in html


def test_every_asset_the_page_references_loads_from_the_app(client):
    html = client.get("/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)
    assert {"/assets/app.js", "/assets/app.css"} <= set(assets)
    types = {".js": {"text/javascript", "application/javascript"}, ".css": {"text/css"}}
    for url in assets:
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.mimetype in types[url[url.rindex("."):]], (url, r.mimetype)
        assert r.get_data() == (STATIC / url.removeprefix("/assets/")).read_bytes()


def test_the_page_is_self_contained(client):
    """No CDN or other outside address: the service may run where nothing but itself is reachable."""
    for name in ("index.html", "app.js", "app.css"):
        text = (STATIC / name).read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name


def test_a_missing_asset_is_a_json_404(client):
    r = client.get("/assets/nope.js")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert client.get("/assets/../app.py").status_code == 404


def test_the_vendored_echarts_is_the_readmes_version_with_its_licence(client):
    """Apache ECharts is served from the app (vendored from its npm package), with its licence and notice."""
    vendor = STATIC / "vendor" / "echarts"
    readme = (STATIC.parents[1] / "README.md").read_text(encoding="utf-8")
    version = re.search(r"Apache ECharts\S* (\d+\.\d+\.\d+)", readme).group(1)
    assert f'version:"{version}"' in (vendor / "echarts.min.js").read_text(encoding="utf-8")
    assert (vendor / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
    assert "The Apache Software Foundation" in (vendor / "NOTICE").read_text(encoding="utf-8")
    assert "LICENSE-d3" in (vendor / "LICENSE").read_text(encoding="utf-8") and (vendor / "LICENSE-d3").exists()
    r = client.get("/assets/vendor/echarts/echarts.min.js")
    assert r.status_code == 200 and r.mimetype in {"text/javascript", "application/javascript"}
