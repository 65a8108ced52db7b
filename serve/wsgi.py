"""WSGI entry point for gunicorn: ``gunicorn -c serve/gunicorn.conf.py serve.wsgi:app`` (XUANPIN_MODEL set)."""

import logging
import os
import sys

from serve.app import create_app


def application_logging() -> None:
    """The application's log lines (models swapped, hot items counted, a store failing) on stderr beside
    gunicorn's, with time, worker pid, level and logger. gunicorn configures only its own loggers, so without
    this INFO lines were dropped and warnings printed bare by Python's last-resort handler. Nothing is done where
    the root logger already has a handler (an embedding application configured logging); XUANPIN_LOG_LEVEL
    (default INFO) sets the level."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                                           "%Y-%m-%d %H:%M:%S %z"))
    root.addHandler(handler)
    root.setLevel(os.environ.get("XUANPIN_LOG_LEVEL", "INFO").upper())


application_logging()
app = create_app()
