"""/v1/admin: operations behind a bearer token (off unless XUANPIN_ADMIN_TOKEN is set)."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from serve import schemas
from serve.api import ApiError, bearer_matches, endpoint

bp = Blueprint("admin", __name__, url_prefix="/v1/admin")


def _authorise() -> None:
    token = current_app.extensions["xuanpin"]["config"].admin_token
    if not token:
        raise ApiError(403, "forbidden", "admin routes are off: no XUANPIN_ADMIN_TOKEN configured")
    given = request.headers.get("Authorization", "")
    if not bearer_matches(given, token):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token", "Authorization")


@endpoint(bp, "/reload", method="POST", response=schemas.ReloadResult, errors=(401, 403, 409), auth="adminToken")
def reload(q: schemas.NoQuery):
    """Check the registry's CURRENT now and load it if it changed, or retry it if it failed to load before (this
    worker; the others follow by polling, which several workers require)."""
    _authorise()
    reloader = current_app.extensions["xuanpin"].get("reloader")
    if reloader is None:
        raise ApiError(409, "no_registry", "this service serves a fixed model (XUANPIN_MODEL), not a registry")
    return reloader.check(retry=True)
