"""Schemathesis against the app's own /openapi.json: every operation, with generated requests (valid ones and
ones the document says are invalid) and every check schemathesis has. The document is the contract, so a
failure is a bug in the service or in the document, fixed there, never by loosening a check."""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable

import pytest
import schemathesis
from flask import Flask
from hypothesis import settings

from fixtures.vocabulary import CATEGORY_NAMES
from serve.app import create_app

ADMIN, EVENTS = "admin-token-for-schemathesis", "events-token-for-schemathesis"
#: generated requests per operation in the fuzzing phase, on top of the coverage phase's boundary cases (about 30
#: per operation here); derandomized, so CI sends the same requests every run. 25-60 s on a shared 2-core machine.
EXAMPLES = 200

#: the bearer tokens, given the way the document declares them (components.securitySchemes)
CONFIG = schemathesis.Config.from_dict({"auth": {"openapi": {"eventsToken": {"bearer": EVENTS},
                                                             "adminToken": {"bearer": ADMIN}}}})


_EMPTY_REGISTRY = tempfile.TemporaryDirectory(prefix="xuanpin-empty-registry-")  # removed at exit


def _document_app():
    """The document does not depend on the model: a service waiting on an empty registry answers it."""
    return create_app({"registry": _EMPTY_REGISTRY.name, "poll_seconds": 0})


class Service:
    """The WSGI app every request goes to, the checks' own included (ignored_auth resends without the token): the
    service the fixture makes. The operations take their app when made, at collection, before any fixture runs."""

    app: Flask | None = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return self.app(environ, start_response)


SERVICE = Service()
# fetched through the WSGI app and given as a dict: schemathesis.openapi.from_wsgi would leave out the
# document's own operation (GET /openapi.json), and every operation is under test
schema = schemathesis.openapi.from_dict(_document_app().test_client().get("/openapi.json").get_json(), config=CONFIG)
schema.app = SERVICE
calls: Counter[str] = Counter()


@pytest.fixture(scope="module")
def service(small_artifact):
    app = SERVICE.app = create_app({"model": str(small_artifact), "admin_token": ADMIN,
                                    "hot": {"events_token": EVENTS, "clock": "events"}})
    started = time.perf_counter()
    yield app
    if calls:  # shown with -s: the figures the README quotes
        print(f"\nschemathesis: {sum(calls.values())} requests to {len(calls)} operations ({min(calls.values())}-"
              f"{max(calls.values())} each, undocumented methods included) in {time.perf_counter() - started:.0f} s")


def _number(value: object) -> float | None:
    try:
        return float(value)  # the coverage phase gives query values as text
    except (TypeError, ValueError):
        return None


#: (lower, upper) query parameters whose empty range is a 400 the document describes in words
RANGES = (("price_min", "price_max"), ("min_fans", "max_fans"), ("audience_price_min", "audience_price_max"))
#: (threshold, label) query parameters where the threshold alone is a 400 the document describes in words
QUALIFIED = (("gender_share_min", "gender"), ("age_share_min", "age_band"), ("region_share_min", "region"))


@schema.hook
def filter_case(ctx, case: schemathesis.Case) -> bool:
    """An upper bound below its lower bound (price_max below price_min, ...), and a share threshold without its
    label (gender_share_min without gender), are 400s the document describes in words: JSON Schema cannot relate
    two query parameters, so the generator is told here (in every phase) instead of a check being loosened."""
    query = case.query or {}
    for lower, upper in RANGES:
        low, high = _number(query.get(lower)), _number(query.get(upper))
        if low is not None and high is not None and high < low:
            return False
    if any(query.get(share) is not None and query.get(label) is None for share, label in QUALIFIED):
        return False
    return _known_values(query)


#: a category or tier the served model does not have is a 400 (listing the valid ones); the document names them
#: (an enum) only while a model is loaded, and this one is fetched from a service without a model, so the
#: generator keeps to the values the synthetic marketplace has
KNOWN = {"category": set(CATEGORY_NAMES), "tier": {"头部", "腰部", "尾部"}}


def _known_values(query: dict) -> bool:
    return all(query.get(name) is None or query[name] in values for name, values in KNOWN.items())


#: the categories of the session's catalogue (fixtures.vocabulary names every one the generator makes)
CATEGORIES = list(CATEGORY_NAMES)


@schema.hook
def map_case(ctx, case: schemathesis.Case) -> schemathesis.Case:
    """A category the catalogue lacks is a 400 the document describes in words (its valid values depend on the
    model served, the document does not): a valid request's category is mapped onto one the catalogue has,
    so the search behind it runs. Invalid requests keep theirs."""
    query = case.query or {}
    if (case.operation.path == "/v1/products" and isinstance(query.get("category"), str) and case.meta is not None
            and case.meta.generation.mode.is_positive):
        query["category"] = CATEGORIES[sum(map(ord, query["category"])) % len(CATEGORIES)]
    return case


#: the routes whose labels must be ones the loaded model knows (an unknown one is a 400 listing the valid ones,
#: described in words: the document does not depend on the model, so it cannot enumerate them)
KNOWN_LABELS = {"/v1/rankings/anchors": ("category", "tier"),
                "/v1/products/{product_id}/anchors": ("tier", "gender", "age_band", "region")}


def with_known_labels(case: schemathesis.Case, app: Flask) -> None:
    """A label the schema accepts (1-20 characters, a category 1-50) but the model does not know becomes one it
    knows, so the request is as valid as the document says; labels the schema refuses are left for the negative
    cases. Done when the case is sent: the coverage phase makes its cases before the service (and its model)
    exists."""
    params = KNOWN_LABELS.get(case.operation.path)
    ranker = app.extensions["xuanpin"]["serving"].ranker
    for name in params or () if case.query else ():
        value = case.query.get(name)
        known = ranker.goods.categories if name == "category" else ranker.rooms.tiers if name == "tier" \
            else ranker.rooms.audience_labels[name]
        if isinstance(value, str) and 1 <= len(value) <= (50 if name == "category" else 20) and value not in known:
            case.query[name] = known[len(value) % len(known)]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
def test_every_operation_keeps_the_document(case, service):
    calls[f"{case.operation.method.upper()} {case.operation.path}"] += 1
    with_known_labels(case, service)
    case.call_and_validate()
