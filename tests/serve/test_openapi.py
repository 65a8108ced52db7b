"""/openapi.json is a valid OpenAPI document that describes exactly the routes the app serves."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_document_validates(client):
    validate(client.get("/openapi.json").get_json())


def test_document_matches_the_url_map(app, client):
    doc = client.get("/openapi.json").get_json()
    served = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert served == documented


def test_query_parameters_match_the_schemas(client):
    doc = client.get("/openapi.json").get_json()
    params = {p["name"] for p in doc["paths"]["/v1/anchors/{anchor_id}/picks"]["get"]["parameters"]}
    assert params == {"anchor_id", "k", "offset", "category", "price_min", "price_max", "commission_min",
                      "exclude_shelf"}
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
            "/v1/model": "ModelInfo", "/v1/anchors/nope/picks": "Error"}
    for url, name in urls.items():
        schema = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        jsonschema.validate(client.get(url).get_json(), schema, cls=jsonschema.Draft202012Validator)
