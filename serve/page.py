"""The selection-center page (选品中心): plain HTML, CSS and JavaScript from serve/static, no build step.

The page calls the same /v1 routes as any client, so every figure it shows comes from the API.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

from serve import schemas
from serve.api import ROUTES, Route

STATIC = Path(__file__).parent / "static"

bp = Blueprint("page", __name__, static_folder=STATIC, static_url_path="/assets")

# Not JSON routes, but served: listed so /openapi.json describes every route the app answers.
ROUTES.append(Route("get", "/", "The selection-center page (HTML)", schemas.NoQuery, None, "page", (),
                    media=("text/html",)))
ROUTES.append(Route("get", "/assets/<path:filename>", "The page's scripts and styles", schemas.NoQuery, None,
                    "page", (404,), media=("text/javascript", "text/css", "text/html")))


@bp.get("/")
def index() -> Response:
    """The page itself; its scripts and styles are under /assets/."""
    return send_from_directory(STATIC, "index.html", mimetype="text/html", max_age=0)
