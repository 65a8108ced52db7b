"""The ``xuanpin`` command: generate a marketplace, train, inspect an artifact, serve it."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click
import numpy as np

from recommender.contract import ContractError


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """xuanpin (选品): anchor-product matchmaking for live-stream e-commerce."""
    _setup_logging(verbose)


@main.command()
@click.option("--scale", type=click.Choice(["tiny", "small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Snapshot directory to write.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
def generate(scale: str, seed: int, out: Path, fmt: str) -> None:
    """Write a synthetic marketplace snapshot (data contract) plus its ground truth in OUT/truth."""
    from fixtures.marketplace import generate as gen
    from fixtures.marketplace import write_marketplace

    g = gen(scale, seed)
    write_marketplace(g, out, fmt)
    click.echo(f"wrote {out}: {len(g.anchors)} anchors, {len(g.fans)} fans, {len(g.products)} goods, "
               f"{len(g.follows)} follows, {len(g.orders)} orders, {len(g.shelf)} shelf listings")


@main.command()
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Snapshot directory.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Artifact directory to write.")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="JSON or TOML training configuration (unknown keys are errors).")
@click.option("--algorithm", type=click.Choice(["als", "bpr"]), help="Override the factorisation algorithm.")
@click.option("--threads", type=int, help="Compute threads (default: all cores).")
@click.option("--overwrite", is_flag=True, help="Replace an existing artifact (atomically, when complete).")
def train(data: Path, out: Path, config_file: Path | None, algorithm: str | None, threads: int | None,
          overwrite: bool) -> None:
    """Train embeddings, statistics and indexes on a snapshot and write a model artifact."""
    from training.config import TrainConfig
    from training.trainer import train as run

    config = TrainConfig.from_file(config_file) if config_file else TrainConfig()
    if algorithm:
        config.factors.algorithm = algorithm
    if threads:
        config.threads = threads
    try:
        path = run(data, out, config, overwrite=overwrite, show_progress=sys.stderr.isatty())
    except ContractError as exc:
        raise click.ClickException(str(exc)) from exc
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"artifact written: {path}")


@main.command()
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
@click.option("--anchors", "n_anchors", type=int, default=3, show_default=True, help="Sample anchors to show.")
@click.option("-k", type=int, default=8, show_default=True, help="Picks per sample anchor.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def inspect(artifact: Path, n_anchors: int, k: int, as_json: bool) -> None:
    """Print an artifact's manifest and a few anchors' top picks, to eyeball quality."""
    from recommender.artifact import ArtifactError, load_model

    try:
        model = load_model(artifact)
    except ArtifactError as exc:
        raise click.ClickException(str(exc)) from exc
    man = model.manifest
    if as_json:
        click.echo(json.dumps(man, ensure_ascii=False, indent=2))
        return
    click.echo(f"model {man['model_version']}  created {man['created_at']}  format {man['format_version']}")
    click.echo(f"data  {man['data']['source']}  sha256 {man['data']['fingerprint'][:16]}…  "
               f"snapshot time {man['data']['snapshot_time']}")
    click.echo("counts " + ", ".join(f"{k_}={v}" for k_, v in man["counts"].items()))
    click.echo("stages " + ", ".join(f"{k_} {v:.1f}s" for k_, v in man["timings_seconds"].items())
               + f"; peak RSS {man['peak_rss_mb']:.0f} MB")
    click.echo(f"index  goods: {man['indexes']['products']['kind']}, anchors: {man['indexes']['anchors']['kind']}")
    for line in man["data"]["warnings"][:5]:
        click.echo(f"warning {line}")

    stats = model.anchor_stats
    anchors = model.anchors
    sample = []
    by_orders = np.argsort(-stats["orders_all"].to_numpy())
    sample.append(int(by_orders[0]))  # the biggest seller
    no_sales = np.flatnonzero((stats["orders_all"].to_numpy() == 0) & (model.audience.fans > 0))
    if len(no_sales):
        sample.append(int(no_sales[0]))  # a cold-start anchor: fans, no sales
    rest = [int(a) for a in by_orders[len(by_orders) // 2:] if a not in sample]
    sample += rest[: max(0, n_anchors - len(sample))]
    rows, scores = model.products_for_anchors(np.array(sample[:n_anchors]), k)
    labels = model.audience.labels["category"]
    for a, picks, sc in zip(sample[:n_anchors], rows, scores, strict=True):
        info = anchors.iloc[a]
        shares = model.audience.shares["category"][a]
        top_cats = ", ".join(f"{labels[c]} {shares[c]:.0%}" for c in np.argsort(-shares)[:3])
        click.echo(f"\nanchor {info['anchor_id']} {info['name']} ({info.get('tier', '')}, "
                   f"{info.get('main_category', '')}): {int(model.audience.fans[a])} fans, "
                   f"{int(stats['orders_all'].iloc[a])} orders; fans bought (30d): {top_cats}")
        for p, s in zip(picks, sc, strict=True):
            if p < 0:
                continue
            prod, pst = model.products.iloc[p], model.product_stats.iloc[p]
            click.echo(f"  {s:6.3f}  {prod['category']:<6} ¥{prod['price']:>8.1f}  佣金{prod['commission_rate']:.0%}  "
                       f"7d销量{int(pst['sales_7d']):>5}  {prod['title']}")


@main.command()
@click.option("--data", type=str, help="Snapshot directory, or 'online-retail' for ../shared/data/online_retail.")
@click.option("--out", type=click.Path(path_type=Path), help="Report directory (report.json, report.md).")
@click.option("--test-days", type=float, default=14.0, show_default=True, help="Days after the cut-off.")
@click.option("--max-users", type=int, default=3000, show_default=True, help="Users sampled per task.")
@click.option("--tasks", default=",".join(("anchor_goods", "fan_goods", "goods_anchors")), show_default=True)
@click.option("--compare", "reports", nargs=2, type=click.Path(exists=True, path_type=Path),
              help="Compare two report directories (B - A) instead of evaluating.")
def evaluate(data: str | None, out: Path | None, test_days: float, max_users: int, tasks: str,
             reports: tuple[Path, Path] | None) -> None:
    """Offline evaluation on a temporal split: our model, ablations and baselines (and the oracle on
    synthetic data), with bootstrap confidence intervals."""
    from training.report import compare, write_report

    if reports:
        a, b = (json.loads((p / "report.json").read_text(encoding="utf-8")) for p in reports)
        click.echo(compare(a, b))
        return
    if not data or not out:
        raise click.UsageError("--data and --out are required (or --compare A B)")
    from training.evaluate import TASKS, EvalConfig
    from training.evaluate import evaluate as run

    chosen = tuple(t.strip() for t in tasks.split(",") if t.strip())
    unknown = set(chosen) - set(TASKS)
    if unknown:
        raise click.UsageError(f"unknown task(s) {sorted(unknown)}; choose from {', '.join(TASKS)}")
    cfg = EvalConfig(test_days=test_days, max_users=max_users, tasks=chosen)
    truth = None
    if data == "online-retail":
        import tempfile

        from training.online_retail import DEFAULT_SOURCE, convert_online_retail

        if not DEFAULT_SOURCE.exists():
            raise click.ClickException(f"{DEFAULT_SOURCE} is absent: the Online Retail data set lives in "
                                       "../shared/data/online_retail beside the project")
        snapshot = Path(tempfile.mkdtemp(prefix="online-retail-"))
        cleaning = convert_online_retail(snapshot)
        click.echo(f"Online Retail: kept {cleaning.rows_kept:,} of {cleaning.rows_read:,} lines; dropped "
                   + ", ".join(f"{k} {v:,}" for k, v in cleaning.dropped.items()))
        data = str(snapshot)
    elif (Path(data) / "truth" / "truth.json").exists():
        from fixtures.marketplace import load_truth

        truth = load_truth(data)
    try:
        result = run(data, cfg, truth=truth)
    except ContractError as exc:
        raise click.ClickException(str(exc)) from exc
    write_report(result, out)
    click.echo(f"report written to {out}/report.md and report.json ({result['seconds']:.0f} s)")


@main.command()
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Today's snapshot directory.")
@click.option("--registry", "registry_dir", type=click.Path(path_type=Path), required=True)
@click.option("--report", type=click.Path(path_type=Path), help="Directory for nightly.json and nightly.md.")
@click.option("--holdout-days", type=float, default=7.0, show_default=True)
@click.option("--keep", type=int, default=5, show_default=True, help="Versions to retain.")
@click.option("--tolerance", type=float, default=0.02, show_default=True,
              help="Relative drop of the gate metric accepted against the served model.")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="JSON or TOML training configuration.")
def nightly(data: Path, registry_dir: Path, report: Path | None, holdout_days: float, keep: int, tolerance: float,
            config_file: Path | None) -> None:
    """Validate, train, gate against the served model on a holdout, publish, prune. Exit codes: 0 promoted,
    10 refused by the gate, 20 invalid data, 30 locked by another run, 1 error."""
    from training.config import TrainConfig
    from training.nightly import NightlyConfig, run_nightly

    cfg = NightlyConfig(holdout_days=holdout_days, keep=keep, tolerance=tolerance,
                        train=TrainConfig.from_file(config_file) if config_file else TrainConfig())
    code, result = run_nightly(data, registry_dir, cfg, report)
    click.echo(f"{result.get('outcome')}: {result.get('reason')}" + (
        f" (version {result['version']})" if result.get("version") else ""))
    sys.exit(code)


@main.command()
@click.option("--registry", "registry_dir", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--to", "version", help="Version to serve (default: the one before CURRENT).")
def rollback(registry_dir: Path, version: str | None) -> None:
    """Point the registry's CURRENT at an earlier version (services follow it)."""
    from training.nightly import rollback as run
    from training.registry import RegistryError

    try:
        click.echo(f"CURRENT -> {run(registry_dir, version)}")
    except (ValueError, RegistryError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def registry() -> None:
    """Inspect a model registry."""


@registry.command("list")
@click.option("--registry", "registry_dir", type=click.Path(exists=True, path_type=Path), required=True)
def registry_list(registry_dir: Path) -> None:
    """Versions (oldest first; * = CURRENT) and the recent history."""
    from training.nightly import registry_table
    from training.registry import Registry

    table = registry_table(registry_dir)
    click.echo(table.to_string(index=False) if len(table) else "no versions")
    for entry in Registry.open(registry_dir).history()[-10:]:
        click.echo(f"{entry['at']} {entry['event']}: " + ", ".join(
            f"{k}={v}" for k, v in entry.items() if k in ("version", "previous", "reason")))


@main.command()
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path), required=True,
              help="Model artifact to serve.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="JSON or TOML service configuration (ranking weights, gates).")
def serve(model_path: Path, host: str, port: int, config_file: Path | None) -> None:
    """Run the HTTP service with Flask's development server (production: gunicorn, see README)."""
    from serve.app import create_app
    from serve.config import ServiceConfig

    env = {**os.environ, "XUANPIN_MODEL": str(model_path)}  # XUANPIN_* settings apply here too
    if config_file:
        env["XUANPIN_CONFIG"] = str(config_file)
    app = create_app(ServiceConfig.from_env(env))
    click.echo(f"serving {model_path} on http://{host}:{port}  (try /v1/model, /openapi.json)")
    app.run(host=host, port=port, threaded=True)


@main.command("stream-orders")
@click.option("--model", "model_path", type=click.Path(exists=True, path_type=Path), required=True,
              help="The artifact the service serves (ids and last week's orders to imitate).")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The service.")
@click.option("--token", envvar="XUANPIN_EVENTS_TOKEN", required=True, help="Its events token.")
@click.option("--orders", type=int, default=None, help="Background orders (default: the last week's rate).")
@click.option("--bursts", type=int, default=5, show_default=True, help="(Room, good) pairs that burst.")
@click.option("--batch", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def stream_orders(model_path: Path, url: str, token: str, orders: int | None, bursts: int, batch: int,
                  seed: int) -> None:
    """Post a synthetic order stream with a few bursts to a running service (demo of hot items, 爆款).

    The stream starts after the artifact's last order, so run the service with XUANPIN_HOT_CLOCK=events."""
    import urllib.error
    import urllib.request

    from fixtures.orders import order_stream

    events = order_stream(model_path, orders, bursts, seed=seed)
    totals: dict[str, int] = {}
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
        for key in ("received", "accepted", "duplicates", "ignored", "rejected"):
            totals[key] = totals.get(key, 0) + result[key]
    click.echo(", ".join(f"{k} {v}" for k, v in totals.items()))
    click.echo(f"now try: curl -s '{url}/v1/rankings/hot?k=5' | python3 -m json.tool --no-ensure-ascii")


if __name__ == "__main__":
    main()
