"""Hot reload from a registry: a new CURRENT is loaded and swapped in; a corrupt one is refused while the old
model keeps serving; rollback reaches a running service; the admin route is token-protected."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from recommender.registry import Registry
from serve.app import create_app

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, small_artifact):
    """Two complete versions and one whose product vectors are truncated, ready to copy into registries."""
    base = tmp_path_factory.mktemp("versions")
    for name in ("v1", "v2"):
        shutil.copytree(small_artifact, base / name)
    broken = shutil.copytree(small_artifact, base / "v3-broken")
    vec = broken / "vectors/product.npy"
    vec.write_bytes(vec.read_bytes()[:-512])
    return base


@pytest.fixture
def registry(tmp_path, artifacts):
    reg = Registry.open(tmp_path / "registry")
    for name in ("v1", "v2", "v3-broken"):
        shutil.copytree(artifacts / name, reg.path(name))
    reg.set_current("v1")
    return reg


@pytest.fixture
def app(registry):
    return create_app({"registry": str(registry.root), "poll_seconds": 0, "admin_token": TOKEN})


def served(app) -> str:
    return app.extensions["xuanpin"]["serving"].model.path.name


def reload(client, token=TOKEN):
    return client.post("/v1/admin/reload", headers={"Authorization": f"Bearer {token}"} if token else {})


def test_the_service_starts_on_current(app):
    assert served(app) == "v1"
    body = app.test_client().get("/v1/model").get_json()
    assert body["reload"]["current"] == "v1" and body["reload"]["serving"] == "v1"


def test_reload_needs_the_token(app):
    client = app.test_client()
    assert reload(client, token=None).status_code == 401
    assert reload(client, token="wrong-token-wrong-token").status_code == 401
    assert reload(client).status_code == 200


def test_admin_is_off_without_a_configured_token(registry):
    app = create_app({"registry": str(registry.root), "poll_seconds": 0})
    r = reload(app.test_client())
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_a_new_current_is_loaded_and_swapped_in(app, registry):
    client = app.test_client()
    registry.set_current("v2")
    body = reload(client).get_json()
    assert body["reloaded"] and body["serving"] == "v2" and body["previous"] == "v1"
    assert served(app) == "v2"
    assert client.get("/v1/anchors/10000001/picks?k=3").status_code in (200, 404)


def test_a_corrupt_version_is_refused_and_the_old_model_keeps_serving(app, registry):
    client = app.test_client()
    anchor = app.extensions["xuanpin"]["serving"].model.anchor_ids.ids[0]
    before = client.get(f"/v1/anchors/{anchor}/picks?k=5").get_json()
    (registry.root / "CURRENT").write_text("v3-broken\n")  # bypassing set_current, as a bad deploy might
    body = reload(client).get_json()
    assert body["reloaded"] is False and "truncated" in body["error"]["error"]
    assert served(app) == "v1"
    assert client.get(f"/v1/anchors/{anchor}/picks?k=5").get_json() == before
    status = client.get("/v1/model").get_json()["reload"]
    assert status["current"] == "v3-broken" and status["serving"] == "v1"
    assert status["last_error"]["version"] == "v3-broken"
    # an operator's probe: only a worker that restarted in this state said fallback, so the alert missed it
    assert status["fallback"] is True
    assert "xuanpin_model_fallback 1.0" in client.get("/metrics").get_data(as_text=True)


def test_a_version_repaired_in_place_is_loaded_at_the_next_poll_and_an_unchanged_one_is_not_retried(
        app, registry, artifacts):
    """Polling does not load again a failed version whose files are as they were (each try would log the same
    error); once they are repaired in place (restored, their permissions fixed) it does, so a worker returns to
    CURRENT by itself (an SRE's probe found workers left on the older version until reloaded one by one). The
    operator's POST reload tries again whatever changed."""
    client = app.test_client()
    (registry.root / "CURRENT").write_text("v3-broken\n")
    assert reload(client).get_json()["reloaded"] is False
    reloader = app.extensions["xuanpin"]["reloader"]
    loads = []
    real_load = reloader.load
    reloader.load = lambda path: loads.append(path) or real_load(path)
    assert reloader.check()["reloaded"] is False and loads == []  # unchanged: not tried
    assert reload(client).get_json()["reloaded"] is False and len(loads) == 1  # the operator's retry tries
    shutil.copy(artifacts / "v1/vectors/product.npy", registry.path("v3-broken") / "vectors/product.npy")
    body = reloader.check()  # the poller's call, after the repair
    assert body["reloaded"] is True and body["serving"] == "v3-broken" and served(app) == "v3-broken"
    assert client.get("/v1/model").get_json()["reload"]["last_error"] is None


def test_a_worker_that_fell_back_past_a_broken_version_does_not_retry_an_unchanged_current(registry):
    """The review: the broken version passed over while falling back left its files' signature in place of
    CURRENT's, so the next poll loaded CURRENT again (and logged its error again) though nothing had changed."""
    shutil.copytree(registry.path("v3-broken"), registry.path("v4-broken"))
    for version in ("v1", "v3-broken", "v4-broken"):
        registry.record("promoted", version=version)
    (registry.root / "CURRENT").write_text("v4-broken\n")
    app = create_app({"registry": str(registry.root), "poll_seconds": 0, "admin_token": TOKEN})
    assert served(app) == "v1"  # v4 and v3 refused, v1 served
    reloader = app.extensions["xuanpin"]["reloader"]
    loads = []
    real_load = reloader.load
    reloader.load = lambda path: loads.append(path.name) or real_load(path)
    assert reloader.check()["reloaded"] is False and loads == []


def test_a_version_with_an_unreadable_index_is_refused_like_any_other(app, registry):
    """Four bytes overwritten in a faiss file keep its size; faiss refuses it with a RuntimeError, which once
    escaped the reloader as a 500 and left the poller retrying forever."""
    bad = registry.path("v4-bad-index")
    shutil.copytree(registry.path("v1"), bad)
    index = bad / "index/products.faiss"
    raw = bytearray(index.read_bytes())
    raw[0:4] = b"XXXX"
    index.write_bytes(bytes(raw))
    client = app.test_client()
    (registry.root / "CURRENT").write_text("v4-bad-index\n")
    r = reload(client)
    assert r.status_code == 200 and r.get_json()["reloaded"] is False
    assert "products.faiss" in r.get_json()["error"]["error"] and served(app) == "v1"
    assert client.get("/v1/model").get_json()["reload"]["last_error"]["version"] == "v4-bad-index"


def test_any_failure_while_loading_refuses_the_version(app, registry, monkeypatch):
    reloader = app.extensions["xuanpin"]["reloader"]

    def broken(path):
        raise RuntimeError("a bug in loading")

    monkeypatch.setattr(reloader, "load", broken)
    registry.set_current("v2")
    body = reload(app.test_client()).get_json()
    assert body["reloaded"] is False and body["error"]["error"] == "RuntimeError: a bug in loading"
    assert served(app) == "v1" and app.test_client().get("/healthz").status_code == 200
    # a forced reload of what is served that fails is no fallback: CURRENT names what the worker serves
    registry.set_current("v1")
    reload(app.test_client())
    assert reloader.check(force=True)["reloaded"] is False and served(app) == "v1"
    assert app.test_client().get("/v1/model").get_json()["reload"]["fallback"] is False


def test_rollback_reaches_a_running_service(app, registry):
    client = app.test_client()
    registry.set_current("v2")
    reload(client)
    assert served(app) == "v2"
    registry.rollback("v1")
    assert reload(client).get_json()["serving"] == "v1"
    assert served(app) == "v1"


def test_the_poller_follows_current_without_any_request(registry):
    app = create_app({"registry": str(registry.root), "poll_seconds": 0.1})
    registry.set_current("v2")
    deadline = time.time() + 10
    while time.time() < deadline and served(app) != "v2":
        time.sleep(0.05)
    assert served(app) == "v2"


def test_a_registry_without_current_is_not_ready(tmp_path):
    app = create_app({"registry": str(Registry.open(tmp_path / "empty").root), "poll_seconds": 0})
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "not_ready"
    said = app.test_client().get("/v1/anchors/1/picks").get_json()["error"]["message"]
    assert said == "no model is loaded (the registry's CURRENT is missing or empty)"  # no load failed


def test_a_worker_starting_on_a_current_it_cannot_load_serves_the_version_served_before(registry):
    """CURRENT names a version whose index is unreadable: the worker does not exit or stay unready, it serves the
    newest version that was served before, says so, and still follows CURRENT."""
    index = registry.path("v2") / "index/products.faiss"
    raw = bytearray(index.read_bytes())
    raw[0:4] = b"XXXX"
    index.write_bytes(bytes(raw))
    registry.record("promoted", version="v1")
    registry.record("promoted", version="v2")
    (registry.root / "CURRENT").write_text("v2\n")
    app = create_app({"registry": str(registry.root), "poll_seconds": 0, "admin_token": TOKEN})
    assert served(app) == "v1"
    status = app.test_client().get("/v1/model").get_json()["reload"]
    assert status["fallback"] is True and status["current"] == "v2" and status["last_error"]["version"] == "v2"
    assert app.test_client().get("/readyz").status_code == 200
    # the metric an alert can watch (an SRE's probe: only the per-worker version told of a fallback)
    assert "xuanpin_model_fallback 1.0" in app.test_client().get("/metrics").get_data(as_text=True)
    registry.rollback()  # the operator points CURRENT back at what the worker serves: no fallback any more
    assert registry.current() == "v1" and reload(app.test_client()).get_json()["serving"] == "v1"
    status = app.test_client().get("/v1/model").get_json()["reload"]
    assert status["fallback"] is False and status["last_error"] is None
    assert "xuanpin_model_fallback 0.0" in app.test_client().get("/metrics").get_data(as_text=True)
    shutil.copytree(registry.path("v1"), registry.path("v5-fixed"))  # a good version is published
    registry.set_current("v5-fixed")
    body = reload(app.test_client()).get_json()
    assert body["reloaded"] is True and served(app) == "v5-fixed"
    assert app.test_client().get("/v1/model").get_json()["reload"]["fallback"] is False


def test_not_ready_after_a_failed_load_says_so_without_file_paths(tmp_path, artifacts):
    """Only a broken version was ever published: the service is not ready, and its 503 names no path of the
    machine (the log and the operator's registry tools do)."""
    reg = Registry.open(tmp_path / "registry")
    shutil.copytree(artifacts / "v3-broken", reg.path("v3-broken"))
    reg.set_current("v3-broken")
    app = create_app({"registry": str(reg.root), "poll_seconds": 0})
    body = app.test_client().get("/v1/anchors/1/picks").get_json()
    assert body["error"]["code"] == "not_ready" and "the last load failed" in body["error"]["message"]
    assert str(tmp_path) not in json.dumps(body) and "/" not in body["error"]["message"]


def test_a_worker_serving_nothing_loads_a_version_repaired_in_place_at_its_next_poll(tmp_path, artifacts):
    reg = Registry.open(tmp_path / "registry")
    shutil.copytree(artifacts / "v3-broken", reg.path("v3-broken"))
    reg.set_current("v3-broken")
    app = create_app({"registry": str(reg.root), "poll_seconds": 0})
    assert app.test_client().get("/readyz").status_code == 503
    shutil.copy(artifacts / "v1/vectors/product.npy", reg.path("v3-broken") / "vectors/product.npy")
    assert app.extensions["xuanpin"]["reloader"].check()["reloaded"] is True  # the poller's call, no operator
    assert app.test_client().get("/readyz").status_code == 200 and served(app) == "v3-broken"


def test_an_empty_current_serves_the_version_served_before_and_says_why(registry, caplog):
    registry.record("promoted", version="v1")
    (registry.root / "CURRENT").write_text("")  # a write that went wrong
    with caplog.at_level("WARNING", logger="serve.reload"):
        app = create_app({"registry": str(registry.root), "poll_seconds": 0, "admin_token": TOKEN})
    assert served(app) == "v1" and app.test_client().get("/readyz").status_code == 200
    assert any("CURRENT is missing or empty" in r.getMessage() for r in caplog.records)
    status = app.test_client().get("/v1/model").get_json()["reload"]
    assert status["fallback"] is True and status["last_error"]["error"] == "CURRENT is missing or empty"
    registry.set_current("v2")  # the operator sets it again: followed as usual
    assert reload(app.test_client()).get_json()["serving"] == "v2" and served(app) == "v2"


def test_a_rollback_past_a_broken_version_clears_the_reported_error(app, registry):
    """CURRENT named a broken version (refused; the old model kept serving), then the operator rolled back to
    what is served: /v1/model stops reporting the error, so monitoring that alerts on it turns green."""
    client = app.test_client()
    (registry.root / "CURRENT").write_text("v3-broken\n")
    assert reload(client).get_json()["reloaded"] is False
    assert client.get("/v1/model").get_json()["reload"]["last_error"]["version"] == "v3-broken"
    (registry.root / "CURRENT").write_text("v1\n")
    reload(client)
    status = client.get("/v1/model").get_json()["reload"]
    assert status["current"] == status["serving"] == "v1" and status["last_error"] is None


def test_a_service_pointed_at_no_registry_creates_none_and_says_so(tmp_path):
    app = create_app({"registry": str(tmp_path / "typo"), "poll_seconds": 0})
    assert not (tmp_path / "typo").exists()
    r = app.test_client().get("/v1/anchors/1/picks")
    assert r.status_code == 503 and app.test_client().get("/readyz").status_code == 503
    assert r.get_json()["error"]["message"] == ("no model is loaded (the configured registry is not a model "
                                                "registry: no versions/ folder)")


def test_when_nothing_else_loads_a_worker_serves_the_version_rolled_back_from_rather_than_nothing(registry):
    """v3 was served, the owner rolled back to v2, then v2's files were damaged and the worker restarted: v1 is
    gone (pruned), so the only version that loads is v3. A model the owner turned away answers requests, says so
    on /v1/model, and is left as soon as CURRENT names one that loads."""
    shutil.rmtree(registry.path("v3-broken"))
    shutil.copytree(registry.path("v1"), registry.path("v3"))
    for version in ("v2", "v3"):
        registry.record("promoted", version=version)
    registry.set_current("v3")
    registry.rollback("v2")
    shutil.rmtree(registry.path("v1"))
    vectors = registry.path("v2") / "vectors/product.npy"
    vectors.write_bytes(vectors.read_bytes()[:-512])
    app = create_app({"registry": str(registry.root), "poll_seconds": 0, "admin_token": TOKEN})
    assert served(app) == "v3" and app.test_client().get("/readyz").status_code == 200
    status = app.test_client().get("/v1/model").get_json()["reload"]
    assert status["fallback"] is True and status["current"] == "v2" and status["last_error"]["version"] == "v2"


@pytest.mark.parametrize("write", [
    lambda current: current.write_text("versions/v2\n"),  # a path where a version's name belongs
    lambda current: current.write_text(".v2\n"),
    lambda current: current.write_bytes(b"\xff\xfe2026\n"),  # not text
    lambda current: (current.unlink(), current.mkdir()),  # a folder
], ids=["a path", "a hidden name", "not text", "a folder"])
def test_a_current_holding_no_version_id_never_stops_a_worker(registry, write):
    """An operator's probe: CURRENT written as versions/NAME stopped every worker at its next restart (gunicorn
    then stopped the service), and a running one answered 500 on /v1/admin/reload and /v1/model."""
    registry.record("promoted", version="v1")
    app = create_app({"registry": str(registry.root), "poll_seconds": 0, "admin_token": TOKEN})
    write(registry.root / "CURRENT")
    client = app.test_client()
    body = reload(client)
    assert body.status_code == 200 and body.get_json()["serving"] == "v1"
    assert "CURRENT holds no version id" in body.get_json()["error"]["error"]
    status = client.get("/v1/model")
    assert status.status_code == 200 and status.get_json()["reload"]["fallback"] is True
    assert "xuanpin_model_fallback 1.0" in client.get("/metrics").get_data(as_text=True)
    starting = create_app({"registry": str(registry.root), "poll_seconds": 0, "admin_token": TOKEN})  # a restart
    assert served(starting) == "v1" and starting.test_client().get("/readyz").status_code == 200
    status = starting.test_client().get("/v1/model").get_json()["reload"]
    assert status["fallback"] is True and status["current"] is None
    assert "CURRENT holds no version id" in status["last_error"]["error"]
