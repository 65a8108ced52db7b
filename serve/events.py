"""POST /v1/events/orders: the order stream that feeds hot items.

Each event is validated on its own: a bad event is reported by its position, order id and field, and the good
ones in the same batch are still counted (partial acceptance). Counting is idempotent on order_id, so a client
that timed out can resend the whole batch.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC
from typing import NoReturn

import numpy as np
import orjson
from flask import Blueprint, current_app, request
from pydantic import TypeAdapter, ValidationError

from recommender.errors import StoreUnavailable
from recommender.hashing import order_keys
from recommender.hot.counts import HOURS, MINUTES
from recommender.hot.lists import HotLists
from recommender.hot.orders import Orders
from serve import schemas
from serve.api import ApiError, bearer_matches, describe, endpoint
from serve.hot import hot_lists
from serve.state import Serving, serving

bp = Blueprint("events", __name__, url_prefix="/v1/events")

MAX_ERRORS = 100


def _authorise(token: str | None) -> None:
    if not token:
        raise ApiError(403, "forbidden", "event ingestion is off: no XUANPIN_EVENTS_TOKEN configured")
    given = request.headers.get("Authorization", "")
    if not bearer_matches(given, token):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token", "Authorization")


#: how orjson refuses a number no double holds, the one refusal the standard library reads instead
_NO_DOUBLE = "number is infinity when parsed as double"


def _json_refuses(word: str) -> NoReturn:
    raise ValueError(f"{word} is not JSON")


def _whole_number(text: str) -> int | float:
    """An integer as JSON writes it; one of more digits than Python converts (a guard against quadratic time)
    reads as the float it is, infinity beyond 308 digits, which its event's validation refuses like 1e400."""
    limit = sys.get_int_max_str_digits()  # 0: no limit (PYTHONINTMAXSTRDIGITS=0)
    return int(text) if not limit or len(text) <= limit else float(text)


def _json_beyond_doubles(data: bytes) -> object | None:
    """The body read by the standard library where orjson refused only a number no double holds (1e400 and an
    integer of thousands of digits are JSON): it reads as infinity, which only its own event's validation
    refuses, so the batch's other events still count. UTF-8 only, as JSON is; None where the body is not JSON
    after all (NaN and Infinity, which the standard library would take, are not)."""
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_json_refuses, parse_int=_whole_number)
        orjson.dumps(body)  # a lone surrogate later in the body, which orjson's reading never reached
    except (ValueError, RecursionError, orjson.JSONEncodeError):  # the decode errors are ValueErrors
        return None
    return body


def _batch(limit: int) -> list:
    if not request.is_json:  # the header, not the body, is what is wrong: say so
        given = request.headers.get("Content-Type") or "none"
        raise ApiError(400, "invalid_body", f"Content-Type must be application/json (given: {given}); the body: "
                       '{"events": [order, ...]}', "Content-Type")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):  # a gzip body read "str is not valid UTF-8"
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding {encoding} is not read: send the body "
                       "uncompressed (batches are at most 1 MiB)", "Content-Encoding")
    data = request.get_data(cache=True)
    try:  # the decoder's own words: where the body stops being JSON
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # valid JSON with a number no double holds (1e400): read again so that only its event is refused
        body = _json_beyond_doubles(data) if str(exc).startswith(_NO_DOUBLE) else None
        if body is None:
            raise ApiError(400, "invalid_body", f"the body could not be read as JSON: {exc}", "events") from None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise ApiError(400, "invalid_body", 'the body must be JSON: {"events": [order, ...]}', "events")
    events = body["events"]
    if not events:
        raise ApiError(400, "invalid_body", "events is empty", "events")
    if len(events) > limit:
        raise ApiError(400, "invalid_body", f"{len(events)} events in one batch; at most {limit}", "events")
    return events


@endpoint(bp, "/orders", method="POST", response=schemas.IngestResult, errors=(401, 403, 415, 503),
          body=schemas.OrderBatch, auth="eventsToken")
def orders(q: schemas.NoQuery):
    """Count a batch of orders for hot items (bearer token; idempotent on order_id; partial acceptance)."""
    hot = hot_lists()
    _authorise(hot.cfg.events_token)
    s = serving()
    events = _batch(hot.cfg.max_events)
    valid, errors = _validate(events)
    keep, refunds, ignored = _check(s, hot, valid, errors)
    accepted = taken_back = 0
    try:
        if len(keep):
            accepted = hot.ingest(keep)
        if len(refunds):  # after the batch's own orders: a batch may hold an order and its refund
            taken_back = hot.refund(refunds)
    except StoreUnavailable as exc:
        raise ApiError(503, "store_unavailable",
                       f"the batch may be partly counted; resend it (order ids make that safe): {exc}") from None
    ignored += len(refunds) - taken_back
    errors.sort(key=lambda e: e["index"])
    metrics = current_app.extensions["xuanpin"]["metrics"]
    # rejected events are counted once, as an outcome: xuanpin_errors counts error responses, and this is a 200
    outcome = {"accepted": accepted, "duplicate": len(keep) - accepted, "refunded": taken_back, "ignored": ignored,
               "rejected": len(errors)}
    for name, count in outcome.items():
        if count:
            metrics.hot_orders.labels(name).inc(count)
    return {"received": len(events), "accepted": accepted, "duplicates": len(keep) - accepted,
            "refunded": taken_back, "ignored": ignored, "rejected": len(errors), "errors": errors[:MAX_ERRORS],
            "store": hot.kind}


_EVENTS = TypeAdapter(list[schemas.OrderEvent])


def _validate(events: list) -> tuple[list[tuple[int, schemas.OrderEvent]], list[dict]]:
    """(position, event) of the valid events, and an error for each invalid one. The batch is validated in one
    call (per-event calls cost 5x more); the failing positions are then left out and the rest validated again."""
    errors: dict[int, dict] = {}
    try:
        return list(enumerate(_EVENTS.validate_python(events))), []
    except ValidationError as exc:
        for err in exc.errors():
            i, *loc = err["loc"]
            if i in errors:
                continue
            field, message = describe({**err, "loc": loc[:1]}, unknown="field")  # a union adds its branch
            raw = events[i]
            errors[i] = {"index": i, "order_id": _echoed(raw.get("order_id") if isinstance(raw, dict) else None),
                         "field": field, "message": message}
    positions = [i for i in range(len(events)) if i not in errors]
    return list(zip(positions, _EVENTS.validate_python([events[i] for i in positions]), strict=True)), \
        list(errors.values())


def _echoed(order_id: object) -> str | None:
    """An order id as the client can match it: text, like the key it is counted under (42 and "42" are one
    order), so a 64-bit id survives a JavaScript client; None for a value that is no id (a boolean, an object)."""
    if isinstance(order_id, bool) or not isinstance(order_id, int | str):
        return None
    return str(order_id)


def _events_now(hot: HotLists) -> int | None:
    try:
        return hot.events_now()
    except StoreUnavailable as exc:
        raise ApiError(503, "store_unavailable", f"nothing was counted; resend the batch: {exc}") from None


def _too_late(when: str, real_future: bool, counted: bool, cfg, naive: bool = False) -> str:
    if real_future:
        # a time without a zone is UTC (the contract's rule): Beijing wall time sent bare lands 8 hours ahead
        hint = (f" (it has no time zone, so it is read as UTC: if it is Beijing time, send {when}+08:00)"
                if naive else "")
        return f"ordered_at {when} is more than {cfg.max_future_minutes} minutes in the future{hint}"
    if not counted:
        return (f"ordered_at {when} is more than {cfg.max_events_ahead_minutes} minutes after its batch's median "
                "order, and nothing is counted yet to go by (hot.max_events_ahead_minutes)")
    return (f"ordered_at {when} is more than {cfg.max_events_ahead_minutes} minutes after the latest order counted "
            f"(hot.max_events_ahead_minutes) and not one of {cfg.min_jump_orders} or more orders of its batch that "
            "jump ahead together (hot.min_jump_orders): a mistyped date, or a replay jump sent too thinly")


def _check(s: Serving, hot: HotLists, valid: list, errors: list[dict]) -> tuple[Orders, Orders, int]:
    """The orders to count, the refunds to take back, and how many are ignored. Events naming goods or rooms the
    model does not know are rejected; ones older than the counted week are ignored; ones from the future are
    rejected (with the events clock, also those more than a day after the latest order counted, unless enough of
    their batch jump ahead together; with nothing counted yet, more than a day after their batch's median)."""
    if not valid:
        return Orders.of([], [], [], []), Orders.of([], [], [], []), 0
    events = [e for _, e in valid]
    anchors = s.model.anchor_ids.index(np.array([e.anchor_id for e in events]))
    products = s.model.product_ids.index(np.array([e.product_id for e in events]))
    minutes = np.array([int(e.ordered_at.replace(tzinfo=e.ordered_at.tzinfo or UTC).timestamp() // 60)
                        for e in events], np.int64)
    refunded = np.array([e.refunded for e in events], bool)
    wall, cfg, now = hot.cfg.clock == "wall", hot.cfg, hot.wall_minute()
    real_limit = now + cfg.max_future_minutes
    known = (products >= 0) & (anchors >= 0)
    future = minutes > real_limit  # an order from the real future is a typo under either clock
    clock = None
    if not wall:  # the clock is the latest order's: one mistyped date must not move it past every later order,
        # and a replay that jumps ahead must not stall either. An order too far after the clock counts only as
        # one of a jump: min_jump_orders or more of its batch that far ahead, within `ahead` of their median (a
        # lone order's median is itself, so the median alone let one mistyped date through)
        clock = _events_now(hot)
        ahead = cfg.max_events_ahead_minutes
        if clock is None:  # nothing counted yet: the batch's median is all there is to go by
            future |= minutes > int(np.median(minutes)) + ahead
        else:
            beyond = (minutes > clock + ahead) & known
            if beyond.any():
                together = beyond & (np.abs(minutes - int(np.median(minutes[beyond]))) <= ahead)
                jumped = together if together.sum() >= cfg.min_jump_orders else np.zeros_like(beyond)
                future |= beyond & ~jumped
    ok = known & ~future
    latest = max(int(minutes[ok].max(initial=np.iinfo(np.int64).min)), clock if clock is not None else -1)
    oldest_counted = (now if wall else latest) - MINUTES * HOURS
    for j in np.flatnonzero(~known | future).tolist():
        i, e = valid[j]
        field, message = ("product_id", f"unknown product_id {e.product_id!r}") if products[j] < 0 else \
            ("anchor_id", f"unknown anchor_id {e.anchor_id!r}") if anchors[j] < 0 else \
            ("ordered_at", _too_late(e.ordered_at.isoformat(), minutes[j] > real_limit, clock is not None, cfg,
                                     naive=e.ordered_at.tzinfo is None))
        errors.append({"index": i, "order_id": _echoed(e.order_id), "field": field, "message": message})
    recent = ok & (minutes > oldest_counted)
    count, refund = recent & ~refunded, recent & refunded
    m = s.model

    def orders(rows: np.ndarray) -> Orders:  # canonical ids from the model, so "42", 42 and " 42" are one good
        return Orders(order_keys([events[j].order_id for j in rows.tolist()]),
                      m.anchor_ids.ids[anchors[rows]].astype(str), m.product_ids.ids[products[rows]].astype(str),
                      minutes[rows])

    return orders(np.flatnonzero(count)), orders(np.flatnonzero(refund)), int((ok & ~recent).sum())
