"""The service's subcommands of ``xuanpin``: ``serve`` (Flask's development server) and ``stream-orders`` (a
synthetic order stream posted to a running service, to watch hot items appear). ``recommender/cli.py`` assembles
them with the jobs into one command."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import click


@click.command()
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path),
              help="Model artifact to serve (or --registry).")
@click.option("--registry", "registry_path", type=click.Path(exists=True, path_type=Path),
              help="Model registry whose CURRENT to serve and follow (xuanpin nightly writes it; or --model).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="JSON or TOML service configuration (ranking weights, gates).")
def serve(model_path: Path | None, registry_path: Path | None, host: str, port: int,
          config_file: Path | None) -> None:
    """Run the HTTP service with Flask's development server (production: gunicorn, see README).

    \b
    Environment (every field of serve/config.py; the common ones):
      XUANPIN_HOT_CLOCK=events  hot items of a past snapshot: time follows its orders (default wall: real time,
                                so a snapshot weeks old has nothing hot until new orders arrive)
      XUANPIN_EVENTS_TOKEN      bearer token that lets POST /v1/events/orders (xuanpin stream-orders) count orders
      XUANPIN_REDIS_URL         hot items in Redis, shared by workers and replicas (default: in process)
      XUANPIN_ADMIN_TOKEN       bearer token for POST /v1/admin/reload (16 characters or more)
      XUANPIN_POLL_SECONDS      with --registry: how often CURRENT is checked (default 30)"""
    from serve.app import create_app
    from serve.config import ServiceConfig

    if (model_path is None) == (registry_path is None):
        raise click.UsageError("give one of --model (an artifact) or --registry (a registry whose CURRENT is "
                               "served and followed)")
    if registry_path and (registry_path / "manifest.json").is_file() and not (registry_path / "versions").is_dir():
        raise click.BadParameter(f"{registry_path} is a model artifact, not a registry; serve it with --model",
                                 param_hint="--registry")
    if model_path and (model_path / "versions").is_dir() and not (model_path / "manifest.json").is_file():
        raise click.BadParameter(f"{model_path} is a model registry, not an artifact; serve it with --registry "
                                 "(its CURRENT, followed)", param_hint="--model")
    env = {k: v for k, v in os.environ.items() if k not in ("XUANPIN_MODEL", "XUANPIN_REGISTRY")}
    env |= {"XUANPIN_MODEL": str(model_path)} if model_path else {"XUANPIN_REGISTRY": str(registry_path)}
    if config_file:  # XUANPIN_* settings apply here too
        env["XUANPIN_CONFIG"] = str(config_file)
    app = create_app(ServiceConfig.from_env(env))
    app.wsgi_app = raw_utf8_urls(app.wsgi_app)
    what = model_path or f"the registry {registry_path} (its CURRENT, followed)"
    click.echo(f"serving {what} on http://{host}:{port}  (try /v1/model, /openapi.json)")
    app.run(host=host, port=port, threaded=True)


def raw_utf8_urls(wsgi_app: Callable) -> Callable:
    """Flask's development server with URLs of raw UTF-8 (curl with 美妆 typed in) read as UTF-8: its http.server
    reads the request line as latin-1 and werkzeug then encodes that string once more, so ?q=美妆 arrived as
    ?q=ç¾\x8eå¦\x86 and found nothing. Undone here, where the strings are exactly that (gunicorn refuses such a
    request line with a hint instead: serve/worker.py)."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        for key in ("QUERY_STRING", "RAW_URI", "REQUEST_URI"):
            value = environ.get(key)
            if value and not value.isascii():
                try:
                    once = value.encode("latin-1").decode("utf-8")
                except (UnicodeEncodeError, UnicodeDecodeError):
                    continue
                if max(map(ord, once)) < 256:  # each character a byte of the request: WSGI's own form
                    environ[key] = once
        return wsgi_app(environ, start_response)

    return app


@click.command("stream-orders")
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path), required=True,
              help="The artifact the service serves (ids and last week's orders to imitate).")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The service.")
@click.option("--token", envvar="XUANPIN_EVENTS_TOKEN", required=True, help="Its events token.")
@click.option("--orders", type=click.IntRange(0, 10_000_000), default=None,
              help="Background orders (default: the last week's rate; 0: the bursts alone).")
@click.option("--bursts", type=click.IntRange(min=0), default=5, show_default=True,
              help="(Room, good) pairs that burst.")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
def stream_orders(model_path: Path, url: str, token: str, orders: int | None, bursts: int, batch: int,
                  seed: int) -> None:
    """Post a synthetic order stream with a few bursts to a running service (demo of hot items, 爆款).

    The stream starts after the artifact's last order, so run the service with XUANPIN_HOT_CLOCK=events."""
    import urllib.error
    import urllib.request

    from fixtures.orders import order_stream
    from recommender.artifact import read_manifest

    read_manifest(Path(model_path))  # a snapshot, a registry or any folder: "no manifest", not a missing .npy
    events = order_stream(model_path, orders, bursts, seed=seed)
    if not events:
        raise click.UsageError("nothing to send: no background orders and no bursts (--orders 0 --bursts 0)")
    totals: dict[str, int] = {}
    first_error = None
    for start in range(0, len(events), batch):
        body = json.dumps({"events": events[start:start + batch]}).encode()
        req = urllib.request.Request(f"{url}/v1/events/orders", body, method="POST", headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                result = json.load(response)
        except urllib.error.HTTPError as exc:
            raise click.ClickException(f"{url}: HTTP {exc.code}: {exc.read().decode(errors='replace')}") from None
        except OSError as exc:
            raise click.ClickException(f"{url}: {exc}") from None
        for key in ("received", "accepted", "duplicates", "refunded", "ignored", "rejected"):
            totals[key] = totals.get(key, 0) + result.get(key, 0)  # refunded: a service from before stop 39 lacks it
        if first_error is None and result.get("errors"):
            first_error = result["errors"][0]
    click.echo(", ".join(f"{k} {v}" for k, v in totals.items()))
    for line in _stream_hints(totals, url, seed, first_error):
        click.echo(line)


def _stream_hints(totals: dict[str, int], url: str, seed: int, first_error: dict | None = None) -> list[str]:
    """What to do next, or why nothing was counted (the demo's ways to see an empty list)."""
    hints = []
    if totals.get("rejected", 0) and first_error is not None:
        hints.append(f"the service rejected {totals['rejected']} orders; the first: {first_error.get('field')}: "
                     f"{first_error.get('message')} (a stream from another artifact names goods this service does "
                     "not know)")
    if totals.get("accepted", 0) > 0:
        return [*hints, "the hot lists are recomputed every few seconds (hot.refresh_seconds); then try:",
                f"  curl -s '{url}/v1/rankings/hot?k=5' | python3 -m json.tool --no-ensure-ascii"]
    if totals.get("duplicates", 0):
        hints.append(f"nothing new was counted: the service has these order ids already (the same --seed sends "
                     f"the same stream); try --seed {seed + 1}")
    if totals.get("ignored", 0):
        hints.append("the service ignored the orders as older than the week it counts: with the wall clock (its "
                     "default) a snapshot's week is long past; serve with XUANPIN_HOT_CLOCK=events (make run does)")
    return hints


