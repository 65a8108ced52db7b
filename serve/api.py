"""Route declarations: one decorator validates a route's query with its pydantic model and records the route
for the OpenAPI document, so the document and the behaviour cannot drift apart.

pydantic does the schema work (``models_json_schema``); this module only assembles the OpenAPI 3.1 paths.
A library such as spectree would do the same but imposes its own error body; the API promises
``{"error": {"code", "message", "field"}}`` for every failure.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from serve import schemas

#: the error code of a status answered without a more specific one (Flask's and gunicorn's own errors)
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 414: "uri_too_long",
               417: "expectation_failed", 431: "request_header_fields_too_large", 500: "internal_error",
               501: "not_implemented"}


class ApiError(Exception):
    """An error the client can act on; rendered as ``{"error": {...}}`` with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Flask syntax: /v1/anchors/<anchor_id>/picks
    summary: str
    query: type[BaseModel]
    response: type[BaseModel] | None
    tag: str
    errors: tuple[int, ...] = (400, 404)


ROUTES: list[Route] = []


def _field_of(error: dict) -> str | None:
    loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
    return ".".join(loc) or None


def describe(error: dict, unknown: str = "parameter") -> tuple[str | None, str]:
    """The field a pydantic error is about and a message naming it."""
    field = _field_of(error)
    if error["type"] == "extra_forbidden":
        return field, f"unknown {unknown} {field!r}"
    return field, f"{field}: {error['msg']}" if field else error["msg"]


def validation_error(exc: ValidationError) -> ApiError:
    field, message = describe(exc.errors()[0])
    return ApiError(400, "invalid_parameter", message, field)


def endpoint(bp: Blueprint, path: str, *, query: type[BaseModel] = schemas.NoQuery,
             response: type[BaseModel] | None = None, summary: str = "", errors: tuple[int, ...] = (400, 404),
             method: str = "GET") -> Callable:
    """Register a route whose handler receives the validated query as ``q``."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(**path_args):
            args = request.args.to_dict(flat=False)
            repeated = next((name for name, values in args.items() if len(values) > 1), None)
            if repeated:
                raise ApiError(400, "invalid_parameter", f"{repeated}: given more than once", repeated)
            try:
                q = query.model_validate({name: values[0] for name, values in args.items()})
            except ValidationError as exc:
                raise validation_error(exc) from None
            return handler(q=q, **path_args)

        prefix = bp.url_prefix or ""
        ROUTES.append(Route(method.lower(), prefix + path,
                            summary or (handler.__doc__ or "").strip().split("\n")[0], query, response, bp.name,
                            errors))
        bp.add_url_rule(path, handler.__name__, run, methods=[method])
        return run

    return wrap


def openapi_document(version: str) -> dict:
    """The OpenAPI 3.1 document of every declared route."""
    models = {r.response for r in ROUTES if r.response} | {schemas.Error}
    _, defs = models_json_schema([(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
                                 ref_template="#/components/schemas/{model}")
    paths: dict = {}
    for r in sorted(ROUTES, key=lambda r: r.path):
        oa_path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.path)
        params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
                   "description": f"{name.replace('_', ' ')} (the id used in the snapshot)"}
                  for name in re.findall(r"{(\w+)}", oa_path)]
        qschema = r.query.model_json_schema()
        for name, prop in qschema.get("properties", {}).items():
            description = prop.pop("description", None)
            prop.pop("title", None)
            param = {"name": name, "in": "query", "required": name in qschema.get("required", []), "schema": prop}
            if description:
                param["description"] = description
            params.append(param)
        responses = {"200": {"description": "OK"}}
        if r.response is not None:
            responses["200"]["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{r.response.__name__}"}}}
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for status in (*r.errors, 405):
            responses[str(status)] = {"description": _STATUS[status], "content": error_ref}
        paths.setdefault(oa_path, {})[r.method] = {
            "summary": r.summary, "operationId": f"{r.tag}_{r.path.rsplit('/', 1)[-1].strip('<>')}"
            f"_{len(paths)}", "tags": [r.tag], "parameters": params, "responses": responses}
    return {
        "openapi": "3.1.0",
        "info": {"title": "xuanpin (选品) matchmaking API", "version": version,
                 "description": "Product picks for anchors, anchors for products, product statistics and "
                                "TOP sales boards for the selection center."},
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {})},
    }


_STATUS = {400: "invalid parameter (the field is named)", 401: "missing or wrong bearer token",
           403: "admin routes are off (no token configured)", 404: "unknown id", 405: "method not allowed",
           409: "nothing to reload (serving a fixed model)", 413: "request body too large",
           503: "no model loaded (events: the hot-items store is unreachable; resend the batch)"}


def bearer_matches(header: str, token: str) -> bool:
    """An Authorization header carrying `token` as a bearer credential; the scheme is case-insensitive (RFC 7235),
    the token compared in constant time."""
    scheme, _, given = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
