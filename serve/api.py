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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from flask import Blueprint, Response, after_this_request, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from serve import schemas
from serve.export import STATUS, item_model, to_csv

#: the error code of a status answered without a more specific one (Flask's and gunicorn's own errors)
ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 414: "uri_too_long",
               415: "unsupported_encoding",
               417: "expectation_failed", 431: "request_header_fields_too_large", 500: "internal_error",
               501: "not_implemented"}


def paging(offset: int, k: int, next_offset: int | None, **more: Any) -> dict:
    """A page's paging block: next_offset is null on the last page and where the next page would be deeper than a
    list serves (schemas.MAX_OFFSET), so a pager never offers a page the API refuses."""
    reachable = next_offset if next_offset is not None and next_offset <= schemas.MAX_OFFSET else None
    return {"offset": offset, "k": k, "next_offset": reachable, **more}


def raw_bytes_hint(target: str) -> str | None:
    """What to tell a client whose request target has raw non-ASCII bytes (`target` as gunicorn holds it, each
    byte a latin-1 character), else None. URLs are ASCII, but curl sends a typed 美妆 as raw UTF-8, and gunicorn
    refuses the request line."""
    if target.isascii():
        return None
    encoded = quote(target.encode("latin-1", errors="replace"), safe="/?=&+%:;,@!$'()*~")
    return (f"the URL has raw non-ASCII bytes; percent-encode them as UTF-8: {encoded} "
            "(curl: -G --data-urlencode 'q=美妆')")


class ApiError(Exception):
    """An error the client can act on; rendered as ``{"error": {...}}`` with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


#: statuses any route may answer: a request the server cannot parse or an invalid or unknown parameter (400), a
#: method the path does not allow (405), a body over the limit (413), and gunicorn's limits on the request line
#: (414) and headers (431)
ANY_ROUTE = (400, 405, 413, 414, 431)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Flask syntax: /v1/anchors/<anchor_id>/picks
    summary: str
    query: type[BaseModel]
    response: type[BaseModel] | None
    tag: str
    errors: tuple[int, ...] = (404, 503)  # what this route answers besides 200 and ANY_ROUTE
    body: type[BaseModel] | None = None  # the JSON body a POST route reads (None: it reads none)
    auth: str | None = None  # the bearer scheme (components.securitySchemes) the route requires
    media: tuple[str, ...] = ("application/json",)  # what a 200 is
    csv: str | None = None  # the list field `format=csv` downloads (None: JSON only)


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


def known(value: str | None, valid: Sequence[str], field: str) -> str | None:
    """A filter value that must be one the served model has (a category, a tier). An unknown one is a 400 that
    lists the valid ones: an empty 200 would read as "nothing sells", when the name was mistyped."""
    if value is None or value in valid:
        return value
    shown = "、".join(valid[:50]) + ("…" if len(valid) > 50 else "")
    raise ApiError(400, "invalid_parameter", f"{field}: unknown {value!r}; valid: {shown}", field)


def validation_error(exc: ValidationError) -> ApiError:
    field, message = describe(exc.errors()[0])
    return ApiError(400, "invalid_parameter", message, field)


def check_query_utf8(query_string: str) -> None:
    """Refuse a query string (WSGI's latin-1 text of the request's bytes) whose names or values are not UTF-8
    once their %-escapes are undone: %FF was searched as the text "%FF", and a raw 0xFF byte was a 500."""
    if query_string.isascii() and "%" not in query_string:  # most requests: nothing to decode
        return
    for pair in query_string.split("&"):
        name, _, value = pair.partition("=")
        for part in (name, value):
            try:
                unquote_to_bytes(part.replace("+", " ").encode("latin-1")).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                shown = quote(name.encode("latin-1", "replace"), safe="%")
                raise ApiError(400, "invalid_parameter", f"{shown}: not UTF-8 (send text as UTF-8, percent-encoded: "
                               f"美妆 is %E7%BE%8E%E5%A6%86)", shown) from None


def endpoint(bp: Blueprint, path: str, *, query: type[BaseModel] = schemas.NoQuery,
             response: type[BaseModel] | None = None, summary: str = "", errors: tuple[int, ...] = (404, 503),
             method: str = "GET", body: type[BaseModel] | None = None, auth: str | None = None,
             csv: str | None = None) -> Callable:
    """Register a route whose handler receives the validated query as ``q``. `errors`: the statuses the route
    answers besides 200 and ANY_ROUTE; `body` and `auth` are what the document says a POST route reads and
    requires (the handler checks them). `csv` names the list field of the answer that ``format=csv`` (or
    ``Accept: text/csv``) downloads as a CSV file, one row per item (serve/export.py)."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(**path_args):
            args = request.args.to_dict(flat=False)
            repeated = next((name for name, values in args.items() if len(values) > 1), None)
            if repeated:
                raise ApiError(400, "invalid_parameter", f"{repeated}: given more than once", repeated)
            as_csv = csv is not None and _wants_csv(args.pop("format", [None])[0])
            if csv is not None:  # the body follows Accept: a shared cache must not hand one client's CSV to another
                after_this_request(_vary_on_accept)
            try:
                q = query.model_validate({name: values[0] for name, values in args.items()})
            except ValidationError as exc:
                raise validation_error(exc) from None
            answer = handler(q=q, **path_args)
            if not as_csv:
                return answer
            # the path after /v1/, so downloads for two anchors or goods do not collide: anchors-10000010-picks.csv;
            # a board's window and metric too, since its columns (销量, GMV) do not say over which days
            parts = request.path.strip("/").split("/")[1:] or ["list"]
            parts += [answer[key] for key in ("window", "metric") if isinstance(answer.get(key), str)]
            flags = [key for key in STATUS if answer.get(key) is True]  # the hot lists' stale, warming_up
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts + flags))
            return Response(to_csv(answer[csv], item_model(response, csv), flags), mimetype="text/csv", headers={
                "Content-Disposition": f"attachment; filename={name}.csv"})

        prefix = bp.url_prefix or ""
        ROUTES.append(Route(method.lower(), prefix + path,
                            summary or (handler.__doc__ or "").strip().split("\n")[0], query, response, bp.name,
                            errors, body, auth, csv=csv))
        bp.add_url_rule(path, handler.__name__, run, methods=[method])
        return run

    return wrap


FORMATS = ("json", "csv")


def _vary_on_accept(response: Response) -> Response:
    response.vary.add("Accept")
    return response


def _wants_csv(given: str | None) -> bool:
    """`format` when given (json or csv, else a 400 naming it), else the Accept header: CSV only when the client
    prefers text/csv to JSON (a browser's */* gets JSON)."""
    if given is not None:
        if given not in FORMATS:
            raise ApiError(400, "invalid_parameter", f"format: {given!r} is not one of json, csv", "format")
        return given == "csv"
    header = request.headers.get("Accept", "")
    if "csv" not in header.lower():  # the common request: no Accept header to parse
        return False
    ranges = _media_ranges()
    return "text/csv" in ranges and _quality(ranges, "text/csv") > _quality(ranges, "application/json")


def _media_ranges() -> dict[str, float]:
    """The request's Accept media ranges (werkzeug parses them and their q), lower-cased and without their other
    parameters, with the largest q where one is named twice: werkzeug's own matching wants the parameters equal,
    so `text/csv; charset=utf-8` (the type this service answers CSV with) asked for nothing."""
    out: dict[str, float] = {}
    for value, q in request.accept_mimetypes:
        media = value.split(";")[0].strip().lower()
        out[media] = max(q, out.get(media, 0.0))
    return out


def _quality(ranges: dict[str, float], media: str) -> float:
    """The q the most specific matching range gives `media` (type/subtype, then type/*, then */*; 0: none)."""
    kind = media.split("/")[0]
    for key in (media, f"{kind}/*", "*/*"):
        if key in ranges:
            return ranges[key]
    return 0.0


FORMAT_PARAMETER = {"name": "format", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(FORMATS), "default": "json"},
                    "description": "csv: the list as a CSV file (UTF-8 with BOM, Chinese headers, one row per item, "
                                   "money in yuan, rates as percentages) instead of JSON; Accept: text/csv does the "
                                   "same"}


SECURITY_SCHEMES = {
    "eventsToken": {"type": "http", "scheme": "bearer", "description": "XUANPIN_EVENTS_TOKEN; without one configured "
                    "the route is off (403). The scheme is case-insensitive, the token is not."},
    "adminToken": {"type": "http", "scheme": "bearer", "description": "XUANPIN_ADMIN_TOKEN; without one configured "
                   "the route is off (403). The scheme is case-insensitive, the token is not."},
}


def openapi_document(version: str, choices: dict[str, list[str]] | None = None) -> dict:
    """The OpenAPI 3.1 document of every declared route: each operation lists every status it can answer.
    `choices`: the values the loaded model has for filters such as category and tier (an enum in the document,
    since any other value is a 400)."""
    bodies = {r.body for r in ROUTES if r.body}  # what clients send: their validation schema
    answers = {r.response for r in ROUTES if r.response} | {schemas.Error}
    _, defs = models_json_schema([(m, "validation" if m in bodies else "serialization")
                                  for m in sorted(bodies | answers, key=lambda m: m.__name__)],
                                 ref_template="#/components/schemas/{model}")
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    paths: dict = {}
    for r in sorted(ROUTES, key=lambda r: r.path):
        oa_path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.path)
        path_params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
                        "description": f"{name.replace('_', ' ')} (the id used in the snapshot)"}
                       for name in re.findall(r"{(\w+)}", oa_path)]
        ok: dict = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{r.response.__name__}"}}}
            if r.csv:
                ok["content"]["text/csv"] = {"schema": {"type": "string"},
                                             "example": "\ufeff名次,商品ID,商品标题\r\n1,6000000136,…\r\n"}
                ok["description"] = f"OK; with format=csv the {r.csv} as a CSV file (UTF-8 with BOM)"
        else:
            ok["content"] = {media: {"schema": {"type": "object"} if media == "application/json" else {}}
                             for media in r.media}
        responses = {"200": ok} | {str(status): {"description": _STATUS[status], "content": error}
                                   for status in sorted({*r.errors, *ANY_ROUTE})}
        operation = {"summary": r.summary, "operationId": f"{r.tag}_{r.path.rsplit('/', 1)[-1].strip('<>')}"
                     f"_{len(paths)}", "tags": [r.tag], "parameters": path_params + _query_parameters(r.query, choices)
                     + ([FORMAT_PARAMETER] if r.csv else []),
                     "responses": responses}
        if r.method == "post":
            operation["requestBody"] = _request_body(r.body)
        if r.auth:
            operation["security"] = [{r.auth: []}]
        ops = paths.setdefault(oa_path, {})
        ops[r.method] = operation
        ops["options"] = {
            "summary": "The methods this path allows (no body)", "operationId": f"options_{len(paths)}",
            "tags": [r.tag], "parameters": path_params,
            "responses": {"204": {"description": "No content; Allow lists the methods (HEAD and OPTIONS included)",
                                  "headers": {"Allow": {"required": True, "schema": {"type": "string"},
                                                        "description": "e.g. GET, HEAD, OPTIONS"}}}}
            | {str(status): {"description": _STATUS[status], "content": error}
               for status in (400, 404, 413, 414, 431) if status != 404 or path_params}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "xuanpin (选品) matchmaking API", "version": version,
                 "description": "Product picks for anchors, anchors for products, product statistics and "
                                "TOP sales boards for the selection center. Every error is JSON: "
                                '{"error": {"code", "message", "field"}}, including those the server itself '
                                "answers before the app (414, 431, a malformed request's 400). OPTIONS answers "
                                "204 with Allow and no body; HEAD is answered for every GET."},
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {}), "securitySchemes": SECURITY_SCHEMES},
    }


def _query_parameters(query: type[BaseModel], choices: dict[str, list[str]] | None = None) -> list[dict]:
    qschema = query.model_json_schema()
    params = []
    for name, prop in qschema.get("properties", {}).items():
        description = prop.pop("description", None)
        prop.pop("title", None)
        # pydantic says an optional field is "X or null"; a query string has no null, only an absent parameter
        # (required: false), and a client told null is valid would send "null" or an empty value, both 400s
        branches = [b for b in prop.pop("anyOf", []) if b != {"type": "null"}]
        if len(branches) == 1:
            prop = branches[0] | prop
        elif branches:
            prop["anyOf"] = branches
        if prop.get("default", 0) is None:
            del prop["default"]
        if choices and choices.get(name) and prop.get("type") == "string":
            prop = {**prop, "enum": list(choices[name])}
            prop.pop("minLength", None), prop.pop("maxLength", None)
        param = {"name": name, "in": "query", "required": name in qschema.get("required", []), "schema": prop}
        if description:
            param["description"] = description
        params.append(param)
    return params


def _request_body(body: type[BaseModel] | None) -> dict:
    if body is None:
        return {"required": False, "description": "none: the route reads no body, and ignores one sent",
                "content": {"application/json": {"schema": {}}}}
    return {"required": True, "description": (body.__doc__ or "").strip().split("\n\n")[0],
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body.__name__}"}}}}


_STATUS = {400: "an invalid or unknown parameter or body (named in `field`), or a request the server cannot parse",
           401: "missing or wrong bearer token", 403: "the route is off (no token configured)",
           404: "unknown id (an id with spaces or a line break around it is none; with a slash, no such path)",
           405: "method not allowed (Allow lists the allowed ones)",
           409: "nothing to reload (serving a fixed model)",
           413: "request body over the limit (XUANPIN_MAX_BODY_BYTES, 1 MiB by default)",
           415: "a compressed body (Content-Encoding): send it uncompressed",
           414: "request line over 4,094 bytes (answered by gunicorn)",
           431: "request headers over gunicorn's limits (answered by gunicorn)",
           503: "no model loaded (events: also the hot-items store is unreachable; resend the batch)"}


def bearer_matches(header: str, token: str) -> bool:
    """An Authorization header carrying `token` as a bearer credential; the scheme is case-insensitive (RFC 7235),
    the token compared in constant time."""
    scheme, _, given = header.strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
