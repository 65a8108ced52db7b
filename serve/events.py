"""POST /v1/events/orders: the order stream that feeds hot items.

Each event is validated on its own: a bad event is reported by its position, order id and field, and the good
ones in the same batch are still counted (partial acceptance). Counting is idempotent on order_id, so a client
that timed out can resend the whole batch.
"""

from __future__ import annotations

import hmac
from datetime import UTC

import numpy as np
from flask import Blueprint, current_app, request
from pydantic import ValidationError

from recommender.hot import HOURS, MINUTES, Orders, order_keys, to_minutes
from recommender.hot_redis import StoreUnavailable
from serve import schemas
from serve.api import ApiError, endpoint
from serve.hot import hot_lists
from serve.hotlists import HotLists
from serve.state import Serving, serving

bp = Blueprint("events", __name__, url_prefix="/v1/events")

MAX_ERRORS = 100


def _authorise(token: str | None) -> None:
    if not token:
        raise ApiError(403, "forbidden", "event ingestion is off: no XUANPIN_EVENTS_TOKEN configured")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token", "Authorization")


def _batch(limit: int) -> list:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise ApiError(400, "invalid_body", 'the body must be JSON: {"events": [order, ...]}', "events")
    events = body["events"]
    if not events:
        raise ApiError(400, "invalid_body", "events is empty", "events")
    if len(events) > limit:
        raise ApiError(400, "invalid_body", f"{len(events)} events in one batch; at most {limit}", "events")
    return events


@endpoint(bp, "/orders", method="POST", response=schemas.IngestResult, errors=(400, 401, 403, 503))
def orders(q: schemas.NoQuery):
    """Count a batch of orders for hot items (bearer token; idempotent on order_id; partial acceptance)."""
    hot = hot_lists()
    _authorise(hot.cfg.events_token)
    s = serving()
    events = _batch(hot.cfg.max_events)
    valid, errors = _validate(events)
    keep, ignored = _check(s, hot, valid, errors)
    accepted = 0
    if keep:
        batch = Orders(order_keys([e.order_id for e, _ in keep]), np.array([str(e.anchor_id) for e, _ in keep]),
                       np.array([str(e.product_id) for e, _ in keep]), np.array([m for _, m in keep], np.int64))
        try:
            accepted = hot.ingest(batch)
        except StoreUnavailable as exc:
            raise ApiError(503, "store_unavailable", f"nothing was counted, retry the batch: {exc}") from None
    errors.sort(key=lambda e: e["index"])
    if errors:
        current_app.extensions["xuanpin"]["metrics"].errors.labels("event_rejected").inc(len(errors))
    return {"received": len(events), "accepted": accepted, "duplicates": len(keep) - accepted,
            "ignored": ignored, "rejected": len(errors), "errors": errors[:MAX_ERRORS], "store": hot.kind}


def _validate(events: list) -> tuple[list[tuple[int, schemas.OrderEvent]], list[dict]]:
    valid, errors = [], []
    for i, raw in enumerate(events):
        try:
            valid.append((i, schemas.OrderEvent.model_validate(raw)))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or None
            message = f"unknown field {field!r}" if first["type"] == "extra_forbidden" else \
                f"{field}: {first['msg']}" if field else first["msg"]
            order_id = raw.get("order_id") if isinstance(raw, dict) else None
            errors.append({"index": i, "order_id": order_id if isinstance(order_id, int | str) else None,
                           "field": field, "message": message})
    return valid, errors


def _check(s: Serving, hot: HotLists, valid: list, errors: list[dict]) -> tuple[list[tuple], int]:
    """(event, minute) pairs to count. Events naming goods or rooms the model does not know are rejected;
    refunded ones and ones older than the counted week are ignored; with the wall clock, ones from the future
    are rejected."""
    if not valid:
        return [], 0
    anchors = s.model.anchor_ids.index(np.array([str(e.anchor_id) for _, e in valid]))
    products = s.model.product_ids.index(np.array([str(e.product_id) for _, e in valid]))
    minutes = to_minutes([e.ordered_at if e.ordered_at.tzinfo else e.ordered_at.replace(tzinfo=UTC)
                          for _, e in valid])
    wall = hot.cfg.clock == "wall"
    newest_allowed = hot.wall_minute() + hot.cfg.max_future_minutes
    oldest_counted = (hot.wall_minute() if wall else int(minutes.max())) - MINUTES * HOURS
    keep, ignored = [], 0
    for (i, e), a, p, m in zip(valid, anchors.tolist(), products.tolist(), minutes.tolist(), strict=True):
        problem = ("product_id", f"unknown product_id {e.product_id!r}") if p < 0 else \
            ("anchor_id", f"unknown anchor_id {e.anchor_id!r}") if a < 0 else \
            ("ordered_at", f"ordered_at {e.ordered_at.isoformat()} is more than {hot.cfg.max_future_minutes} "
                           "minutes in the future") if wall and m > newest_allowed else None
        if problem:
            errors.append({"index": i, "order_id": e.order_id, "field": problem[0], "message": problem[1]})
        elif e.refunded or m <= oldest_counted:
            ignored += 1
        else:
            keep.append((e, m))
    return keep, ignored
