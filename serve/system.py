"""Operational routes: liveness, readiness, the loaded model, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from serve import schemas
from serve.api import ROUTES, Route, endpoint, openapi_document
from serve.state import serving

bp = Blueprint("system", __name__)


@endpoint(bp, "/healthz", response=schemas.Status, errors=())
def healthz(q: schemas.NoQuery):
    """Liveness: the process answers."""
    return {"status": "ok"}


@endpoint(bp, "/readyz", response=schemas.Status, errors=(503,))
def readyz(q: schemas.NoQuery):
    """Readiness: a model is loaded and can answer (503 otherwise)."""
    serving()
    return {"status": "ready"}


@endpoint(bp, "/v1/model", response=schemas.ModelInfo, errors=(503,))
def model(q: schemas.NoQuery):
    """The manifest of the model being served, and the ranking configuration."""
    s = serving()
    man = s.model.manifest
    return {"model_version": man["model_version"], "created_at": man["created_at"], "path": str(s.model.path),
            "data": man["data"], "counts": man["counts"], "parameters": man["parameters"],
            "indexes": man["indexes"], "ranking": s.ranker.config.model_dump(),
            "anchor_labels": {"tier": s.ranker.rooms.tiers, **s.ranker.rooms.audience_labels},
            "reload": reloader.status() if (reloader := current_app.extensions["xuanpin"]["reloader"]) else None,
            "hot": current_app.extensions["xuanpin"]["hot"].status()}


ROUTES.append(Route("get", "/metrics", "Prometheus metrics (text exposition format)", schemas.NoQuery, None,
                    "system", (), media=("text/plain",)))
ROUTES.append(Route("get", "/openapi.json", "This OpenAPI document", schemas.NoQuery, None, "system", ()))


@bp.get("/metrics")
def metrics():
    m = current_app.extensions["xuanpin"]["metrics"]
    return Response(m.render(), content_type=m.content_type)  # as given: mimetype= added a second charset


@bp.get("/openapi.json")
def openapi():
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("xuanpin")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without install
        v = "dev"
    current = current_app.extensions["xuanpin"].get("serving")
    choices = None if current is None else {"category": current.ranker.categories, "tier": current.ranker.tiers}
    return openapi_document(v, choices)
