"""/openapi.json is a valid OpenAPI document that describes exactly the routes the app serves."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from serve.app import create_app


def test_document_validates(client):
    validate(client.get("/openapi.json").get_json())


def openapi_path(rule) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)


def test_document_matches_the_url_map(app, client):
    """Every route and method, OPTIONS included (HEAD goes with GET, as HTTP says)."""
    doc = client.get("/openapi.json").get_json()
    served = {(openapi_path(rule), method.lower()) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD"}}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented


def test_query_parameters_match_the_schemas(client):
    doc = client.get("/openapi.json").get_json()
    params = {p["name"] for p in doc["paths"]["/v1/anchors/{anchor_id}/picks"]["get"]["parameters"]}
    assert params == {"anchor_id", "k", "offset", "category", "price_min", "price_max", "commission_min",
                      "exclude_shelf", "new_goods", "format"}
    picks_200 = doc["paths"]["/v1/anchors/{anchor_id}/picks"]["get"]["responses"]["200"]
    assert picks_200["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/PicksResponse"


def test_responses_conform_to_their_documented_schemas(client, ids):
    """Validate real responses against the document's own schemas (jsonschema, draft 2020-12)."""
    import jsonschema

    doc = client.get("/openapi.json").get_json()
    urls = {f"/v1/anchors/{ids['anchor']}/picks": "PicksResponse", f"/v1/anchors/{ids['anchor']}": "AnchorProfile",
            f"/v1/products/{ids['product']}": "ProductDetail",
            f"/v1/products/{ids['product']}/anchors": "ProductAnchorsResponse",
            f"/v1/products/{ids['product']}/similar": "SimilarResponse", "/v1/rankings/top-sales": "TopSalesResponse",
            f"/v1/products/{ids['product']}/trend": "TrendResponse",
            f"/v1/products/{ids['product']}/sellers": "SellersResponse",
            "/v1/model": "ModelInfo", "/v1/anchors/nope/picks": "Error",
            "/v1/products?q=新鲜&sort=growth_7d": "ProductSearchResponse", "/v1/products?category=nope": "Error",
            "/v1/rankings/anchors?window=30d": "AnchorBoardResponse",
            f"/v1/products/{ids['product']}/anchors?gender=女&audience_price_max=300": "ProductAnchorsResponse"}
    for url, name in urls.items():
        schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        jsonschema.validate(client.get(url).get_json(), schema, cls=jsonschema.Draft202012Validator)


ADMIN, EVENTS = "admin-token-for-tests", "events-token-for-tests"
#: statuses only gunicorn answers (tests/serve/test_gunicorn_errors.py sends them), and the routes that read no
#: query (the page, its assets, the metrics, the document): their 400 is gunicorn's answer to a malformed request
SERVER_ONLY = {414, 431}
NO_QUERY = {"/", "/assets/{filename}", "/metrics", "/openapi.json"}


def observed_statuses(small_artifact, tmp_path, ids) -> dict[tuple[str, str], set[int]]:
    """Every status each route and method answers, provoked: valid requests, an unknown parameter, an unknown
    id, a body over the limit or compressed, another method, no or a wrong token, the route switched off, no model
    loaded."""
    with_tokens = {"admin_token": ADMIN, "hot": {"events_token": EVENTS, "clock": "events"}}
    apps = {"ready": create_app({"model": str(small_artifact), **with_tokens}),
            "no tokens": create_app({"model": str(small_artifact), "hot": {"clock": "events"}}),
            "no model": create_app({"registry": str(tmp_path / "empty-registry"), "poll_seconds": 0,
                                    **with_tokens})}
    known = {"anchor_id": ids["anchor"], "product_id": ids["product"], "filename": "app.js"}
    required = {"/v1/search/anchors": "q=1", "/v1/feed/hot": "fan_id=1"}
    order = {"order_id": "contract-1", "fan_id": 1, "anchor_id": ids["anchor"], "product_id": ids["product"],
             "quantity": 1, "amount": 9.9, "ordered_at": "2024-01-01T00:00:00"}
    seen: dict[tuple[str, str], set[int]] = {}
    for rule in apps["ready"].url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = openapi_path(rule)
        for method in sorted(rule.methods - {"HEAD"}):
            token = EVENTS if path.startswith("/v1/events") else ADMIN
            good = {"Authorization": f"Bearer {token}"}
            body = {"events": [order]} if path == "/v1/events/orders" else None
            url = rule.build({name: known[name] for name in rule.arguments}, append_unknown=False)[1]
            url += f"?{required[path]}" if path in required else ""
            sep = "&" if "?" in url else "?"
            attempts = [("ready", url, good, body), ("ready", f"{url}{sep}no_such_parameter=1", good, body),
                        ("ready", url, {}, body), ("ready", url, {"Authorization": "Bearer wrong"}, body),
                        ("no tokens", url, good, body), ("no model", url, good, body)]
            if body is not None:  # a compressed body, which is not read
                attempts.append(("ready", url, {**good, "Content-Encoding": "gzip"}, body))
            if rule.arguments:  # an unknown id, and one no route takes
                query = url[len(url.split("?")[0]):]
                for bad in ("no-such-id", "x/\n"):
                    unknown = rule.build({name: bad for name in rule.arguments}, append_unknown=False)[1]
                    attempts.append(("ready", unknown + query, good, body))
            got = {apps[name].test_client().open(u, method=method, headers=h, json=b).status_code
                   for name, u, h, b in attempts}
            got.add(apps["ready"].test_client().open(url, method=method, headers=good,
                                                     data=b"x" * ((1 << 20) + 1)).status_code)
            # a method the path does not allow: the 405 is documented on the path's operations
            got.add(apps["ready"].test_client().open(url, method="PUT" if "PUT" not in rule.methods else
                                                     "PATCH").status_code)
            seen[path, method.lower()] = got
    return seen


def test_each_route_documents_every_status_it_answers_and_no_other(small_artifact, tmp_path, ids, client):
    doc = client.get("/openapi.json").get_json()
    seen = observed_statuses(small_artifact, tmp_path, ids)
    for (path, method), statuses in sorted(seen.items()):
        documented = {int(status) for status in doc["paths"][path][method]["responses"]}
        if method == "options":  # the 405 is the other method's answer, documented on the path's operations
            statuses = statuses - {405}
        assert statuses <= documented, (path, method, statuses - documented)
        unprovoked = SERVER_ONLY | ({400} if path in NO_QUERY or method == "options" else set())
        assert documented - unprovoked <= statuses, (path, method, documented - unprovoked - statuses)


def test_post_routes_declare_their_body_and_bearer_scheme(client):
    doc = client.get("/openapi.json").get_json()
    schemes = doc["components"]["securitySchemes"]
    posts = {path: ops["post"] for path, ops in doc["paths"].items() if "post" in ops}
    assert set(posts) == {"/v1/events/orders", "/v1/admin/reload"}
    for path, op in posts.items():
        assert "application/json" in op["requestBody"]["content"], path
        (scheme,) = [name for requirement in op["security"] for name in requirement]
        assert schemes[scheme] | {"description": ""} == {"type": "http", "scheme": "bearer", "description": ""}
    events = posts["/v1/events/orders"]["requestBody"]
    assert events["required"] and events["content"]["application/json"]["schema"]["$ref"].endswith("/OrderBatch")
    assert not posts["/v1/admin/reload"]["requestBody"]["required"]  # it reads none


def test_options_is_204_with_allow_and_no_body(app, client, ids):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = rule.build({name: ids["anchor"] if name != "filename" else "app.js" for name in rule.arguments},
                         append_unknown=False)[1]
        r = client.options(url)
        assert r.status_code == 204 and r.data == b"" and "Content-Type" not in r.headers, url
        assert set(r.headers["Allow"].split(", ")) == rule.methods, url


def test_the_empty_price_range_and_a_blank_q_are_described_400s(client, ids):
    doc = client.get("/openapi.json").get_json()
    picks = {p["name"]: p for p in doc["paths"]["/v1/anchors/{anchor_id}/picks"]["get"]["parameters"]}
    assert "price_min" in picks["price_max"]["description"] and "400" in picks["price_max"]["description"]
    r = client.get(f"/v1/anchors/{ids['anchor']}/picks?price_min=100&price_max=50")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "price_max"
    assert "price_min" in r.get_json()["error"]["message"]
    q = next(p for p in doc["paths"]["/v1/search/anchors"]["get"]["parameters"] if p["name"] == "q")
    pattern = re.compile(q["schema"]["pattern"])
    for blank in (" ", "\t\n", "\u3000", "\x1c", " \xa0 "):  # the document's pattern and the service agree
        assert not pattern.search(blank)
        assert client.get("/v1/search/anchors", query_string={"q": blank}).status_code == 400, repr(blank)
    for text in ("a", " 1 ", "\ufeff"):
        assert pattern.search(text)
        assert client.get("/v1/search/anchors", query_string={"q": text}).status_code == 200, repr(text)


def test_optional_query_parameters_are_absent_not_null(client):
    """A query string has no null: an optional parameter is left out (required: false), and 'null' or an empty
    value is a 400, so the document must not offer null (pydantic's schema of an optional field does)."""
    doc = client.get("/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                assert "null" not in str(param["schema"]), (path, method, param)
                assert param["schema"].get("default", 0) is not None, (path, method, param)
