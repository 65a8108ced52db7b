"""The service's subcommands: a bad service configuration or an unreachable service is a clean error."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from recommender.cli import main


def test_serve_with_a_bad_config_file_is_a_clean_error_naming_the_field(tmp_path, small_artifact):
    config = tmp_path / "service.json"
    config.write_text('{"max_body_bytes": 1}')
    r = CliRunner().invoke(main, ["serve", "--model", str(small_artifact), "--config", str(config)])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert "Error: " in r.output and "service.json: max_body_bytes: " in r.output


@pytest.mark.parametrize("var, value", [("XUANPIN_MAX_BODY_BYTES", "1MB"), ("XUANPIN_POLL_SECONDS", "abc")])
def test_serve_with_a_non_numeric_environment_variable_is_a_clean_error_naming_it(small_artifact, var, value):
    r = CliRunner().invoke(main, ["serve", "--model", str(small_artifact)], env={var: value})
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert f"Error: {var}='{value}': must be" in r.output


def test_a_redis_url_without_its_scheme_is_refused_with_the_settings_naming_it(small_artifact):
    """An SRE's probe: localhost:6390 crashed every worker at boot with redis-py's traceback, naming no variable."""
    from serve.config import ServiceConfig

    with pytest.raises(Exception, match=r"redis_url[\s\S]*redis\|rediss\|unix"):
        ServiceConfig.from_env({"XUANPIN_MODEL": str(small_artifact), "XUANPIN_REDIS_URL": "localhost:6390"})
    ok = ServiceConfig.from_env({"XUANPIN_MODEL": str(small_artifact), "XUANPIN_REDIS_URL": "redis://h:6390/0"})
    assert ok.hot.redis_url == "redis://h:6390/0"


def test_stream_orders_to_no_service_is_a_clean_error(small_artifact):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and nothing listens once the socket is closed
    r = CliRunner().invoke(main, ["stream-orders", "--model", str(small_artifact), "--url",
                                  f"http://127.0.0.1:{port}", "--token", "t" * 16, "--orders", "10"])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert f"Error: http://127.0.0.1:{port}: " in r.output


def test_stream_orders_says_why_nothing_was_counted_or_what_to_do_next():
    from serve.cli import _stream_hints

    url = "http://127.0.0.1:8000"
    counted = _stream_hints({"accepted": 210, "duplicates": 0, "ignored": 0}, url, seed=0)
    assert "every few seconds" in counted[0] and "/v1/rankings/hot" in counted[1]
    again = _stream_hints({"accepted": 0, "duplicates": 210, "ignored": 0}, url, seed=4)
    assert len(again) == 1 and "--seed 5" in again[0]
    past = _stream_hints({"accepted": 0, "duplicates": 0, "ignored": 210}, url, seed=0)
    assert len(past) == 1 and "XUANPIN_HOT_CLOCK=events" in past[0]
    error = {"index": 0, "field": "product_id", "message": "unknown product_id '42'"}
    refused = _stream_hints({"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 210}, url, 0, error)
    assert len(refused) == 1 and "rejected 210" in refused[0] and "unknown product_id '42'" in refused[0]


def test_the_development_server_reads_a_url_of_raw_utf8_as_utf8(app):
    # curl sends a typed 美妆 as raw UTF-8; werkzeug's server once read it as ç¾\x8eå¦\x86 and found nothing
    import threading

    from werkzeug.serving import make_server

    from serve.cli import raw_utf8_urls

    server = make_server("127.0.0.1", 0, raw_utf8_urls(app.wsgi_app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        def get(target: bytes) -> bytes:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                return b"".join(iter(lambda: s.recv(65536), b""))

        raw = get("/v1/search/anchors?q=美妆&k=50".encode())
        encoded = get(b"/v1/search/anchors?q=%E7%BE%8E%E5%A6%86&k=50")
        not_utf8 = get(b"/v1/products?q=\xff\xfe")  # was a 500, and the error log's own line raised again
        after = get(b"/v1/search/anchors?q=%E7%BE%8E%E5%A6%86&k=50")
    finally:
        server.shutdown()
    assert not_utf8.startswith(b"HTTP/1.1 400") and b'"field":"q"' in not_utf8
    assert after.partition(b"\r\n\r\n")[2] == encoded.partition(b"\r\n\r\n")[2]
    body = raw.partition(b"\r\n\r\n")[2]
    assert raw.startswith(b"HTTP/1.1 200") and '"query":"美妆"'.encode() in body
    assert body == encoded.partition(b"\r\n\r\n")[2] and b'"total":0' not in body


def test_a_poll_interval_of_infinity_is_refused_not_a_poller_that_dies(tmp_path):
    r = CliRunner().invoke(main, ["serve", "--model", str(tmp_path)], env={"XUANPIN_POLL_SECONDS": "inf"})
    assert r.exit_code == 1 and "poll_seconds" in r.output and "finite" in r.output, r.output


def test_the_environment_overrides_the_file_s_choice_of_model_or_registry(tmp_path):
    from serve.config import ServiceConfig

    registry_file, model_file = tmp_path / "registry.toml", tmp_path / "model.toml"
    registry_file.write_text('registry = "/srv/registry"\npoll_seconds = 5\n')
    model_file.write_text('model = "/srv/model"\n')
    chosen = ServiceConfig.from_env({"XUANPIN_CONFIG": str(registry_file), "XUANPIN_MODEL": "/srv/other"})
    assert (str(chosen.model), chosen.registry, chosen.poll_seconds) == ("/srv/other", None, 5)
    chosen = ServiceConfig.from_env({"XUANPIN_CONFIG": str(model_file), "XUANPIN_REGISTRY": "/srv/r"})
    assert (chosen.model, str(chosen.registry)) == (None, "/srv/r")
    with pytest.raises(Exception, match="exactly one of a model"):
        ServiceConfig.from_env({"XUANPIN_MODEL": "/a", "XUANPIN_REGISTRY": "/b"})


def test_serve_follows_a_registry_or_serves_a_model_but_not_both(tmp_path, small_artifact, monkeypatch):
    """The operator's probe: `xuanpin serve` could not follow a registry (and XUANPIN_REGISTRY beside --model
    was refused). Exactly one of --model and --registry, whatever the environment holds."""
    import shutil

    from recommender.registry import Registry

    reg = Registry.open(tmp_path / "registry")
    version = reg.new_version_id()
    shutil.copytree(small_artifact, reg.path(version))
    reg.set_current(version)
    started = []
    monkeypatch.setattr("flask.Flask.run", lambda self, **kw: started.append(self))
    r = CliRunner().invoke(main, ["serve", "--registry", str(reg.root)], env={"XUANPIN_MODEL": str(small_artifact)})
    assert r.exit_code == 0 and "its CURRENT, followed" in r.output, r.output
    reload = started[0].test_client().get("/v1/model").json["reload"]
    assert (reload["registry"], reload["current"], reload["serving"]) == (str(reg.root), version, version)
    for args in (["serve"], ["serve", "--model", str(small_artifact), "--registry", str(reg.root)]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 2 and "one of --model" in r.output


def test_serving_an_artifact_as_a_registry_or_a_registry_as_a_model_names_the_right_flag(tmp_path, small_artifact):
    """`serve --registry ARTIFACT` started and answered 503 "not a model registry" on every route (probe)."""
    r = CliRunner().invoke(main, ["serve", "--registry", str(small_artifact)])
    assert r.exit_code == 2 and "is a model artifact, not a registry; serve it with --model" in r.output
    registry = tmp_path / "registry"
    (registry / "versions").mkdir(parents=True)
    r = CliRunner().invoke(main, ["serve", "--model", str(registry)])
    assert r.exit_code == 2 and "is a model registry, not an artifact; serve it with --registry" in r.output


def test_the_loaders_say_which_flag_a_mistaken_path_wants(tmp_path, small_artifact):
    from recommender.artifact import read_manifest
    from recommender.errors import ArtifactError, RegistryError
    from recommender.registry import Registry

    with pytest.raises(RegistryError, match=r"it is a model artifact .* serve it with --model"):
        Registry.existing(small_artifact)
    (tmp_path / "versions").mkdir()
    with pytest.raises(ArtifactError, match=r"it is a model registry \(it has versions/\): serve it with --registry"):
        read_manifest(tmp_path)


def test_stream_orders_from_something_that_is_no_artifact_says_so(tmp_path):
    """An analyst's probe: a snapshot as --model was a FileNotFoundError traceback on ids/anchors.npy."""
    from click.testing import CliRunner

    from recommender.cli import main

    r = CliRunner().invoke(main, ["stream-orders", "--model", str(tmp_path), "--token", "x"])
    assert r.exit_code == 1 and "no manifest; not a model artifact" in r.output and "Traceback" not in r.output
