"""The ``xuanpin`` command: one root group whose subcommands live next to what they run.

The jobs (``generate``, ``train``, ``tune``, ``inspect``, ``evaluate``, ``nightly``, ``rollback``, ``registry``) are
defined in ``training/cli.py`` and the service's (``serve``, ``stream-orders``) in ``serve/cli.py``. The root knows them
only as ``module:attribute`` strings and imports a module when one of its commands is asked for (click's
lazy-group pattern), so no static import goes from ``recommender/`` up to ``training/`` or ``serve/``.

Every error raised on purpose is a ``XuanpinError`` (see ``recommender/errors.py``); the root prints its message
as ``Error: ...`` and exits with code 1 instead of showing a traceback. Commands that have their own exit codes
(``nightly``: 0/10/20/30/1) exit with them.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from recommender.errors import XuanpinError

SUBCOMMANDS = {
    "generate": "training.cli:generate",
    "train": "training.cli:train",
    "inspect": "training.cli:inspect",
    "evaluate": "training.cli:evaluate",
    "tune": "training.cli:tune",
    "nightly": "training.cli:nightly",
    "rollback": "training.cli:rollback",
    "registry": "training.cli:registry",
    "serve": "serve.cli:serve",
    "stream-orders": "serve.cli:stream_orders",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported by ``module:attribute`` path when first needed, and which turns a
    ``XuanpinError`` into a clean ``Error: message`` (exit code 1)."""

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy_subcommands:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = self.lazy_subcommands[cmd_name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except XuanpinError as exc:
            raise click.ClickException(str(exc)) from exc


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")


@click.group(cls=LazyGroup, lazy_subcommands=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """xuanpin (选品): anchor-product matchmaking for live-stream e-commerce."""
    _setup_logging(verbose)


if __name__ == "__main__":
    main()
