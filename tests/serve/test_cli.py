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
