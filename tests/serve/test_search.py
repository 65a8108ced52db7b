"""/v1/search: anchors by id prefix or name part, and the catalogue's categories."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recommender.columns import Columns
from serve.search import SearchIndex


def search(client, **params) -> dict:
    r = client.get("/v1/search/anchors", query_string=params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_name_part_finds_every_anchor_whose_name_holds_it(client, serving):
    names = serving.model.anchors["name"].astype(str)
    word = names.iloc[0][1:3]  # two characters from inside a real name
    expected = {serving.model.anchor_ids.ids[i].item() for i in np.flatnonzero(names.str.contains(word, regex=False))}
    body = search(client, q=word, k=50)
    assert body["total"] == len(expected) and body["query"] == word
    assert {a["anchor_id"] for a in body["items"]} == expected
    assert all(word in a["name"] for a in body["items"])


def test_an_exact_id_comes_first_and_an_id_prefix_matches_ids(client, ids):
    anchor = str(ids["anchor"])
    body = search(client, q=anchor)
    assert body["items"][0]["anchor_id"] == ids["anchor"] and body["total"] == 1
    prefix = anchor[:-1]
    body = search(client, q=prefix, k=50)
    assert body["total"] >= 2
    assert all(str(a["anchor_id"]).startswith(prefix) for a in body["items"])


def test_k_limits_the_page_total_counts_all_and_fans_order_ties(client, serving):
    prefix = str(serving.model.anchor_ids.ids[0])[:4]  # every small-marketplace anchor id shares it
    body = search(client, q=prefix, k=5)
    assert len(body["items"]) == 5
    assert body["total"] == len(serving.model.anchor_ids.ids)
    fans = [a["fans"] for a in body["items"]]
    assert fans == sorted(fans, reverse=True)
    assert fans[0] == int(np.max(serving.model.audience.fans))


def test_pages_of_matches_are_slices_of_one_order_and_say_where_the_next_starts(client, serving):
    prefix = str(serving.model.anchor_ids.ids[0])[:4]  # all 50 anchors of the small marketplace
    whole = [a["anchor_id"] for a in search(client, q=prefix, k=50)["items"]]
    pages, offset = [], 0
    while offset is not None:
        body = search(client, q=prefix, k=20, offset=offset)
        assert body["paging"]["offset"] == offset and body["paging"]["candidates"] == body["total"] == 50
        pages += [a["anchor_id"] for a in body["items"]]
        offset = body["paging"]["next_offset"]
    assert pages == whole and len(pages) == 50  # 20 + 20 + 10, the last page's next_offset null
    past = search(client, q=prefix, k=20, offset=60)
    assert past["items"] == [] and past["total"] == 50 and past["paging"]["next_offset"] is None


def test_summaries_match_the_profile_route(client, ids):
    found = search(client, q=str(ids["anchor"]))["items"][0]
    assert found == client.get(f"/v1/anchors/{ids['anchor']}").get_json()["anchor"]


def test_no_match_is_an_empty_list(client):
    body = search(client, q="没有这个主播zzz")
    assert body["items"] == [] and body["total"] == 0


def test_surrounding_spaces_are_ignored(client, ids):
    assert search(client, q=f"  {ids['anchor']} ")["items"][0]["anchor_id"] == ids["anchor"]


@pytest.mark.parametrize(("params", "field"), [
    ({"q": "1", "k": 0}, "k"), ({"q": "1", "k": 51}, "k"), ({"q": "1", "k": "many"}, "k"),
    ({}, "q"), ({"q": ""}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 51}, "q"), ({"q": "1", "name": "x"}, "name"),
])
def test_bad_queries_are_400_naming_the_field(client, params, field):
    r = client.get("/v1/search/anchors", query_string=params)
    assert r.status_code == 400
    assert r.get_json()["error"]["field"] == field


def test_matching_is_case_insensitive_and_ranks_id_then_name_prefix_then_part():
    """On a hand-made catalogue, where every match class and upper-case letters are present."""
    model = SimpleNamespace(
        anchor_ids=SimpleNamespace(ids=np.array(["AB1", "ab12", "x9", "y7", "z5"])),
        columns=SimpleNamespace(
            anchors=Columns.from_frame(pd.DataFrame({"name": ["甲", "乙", "Abby美妆", "小ab", None]})),
            products=Columns.from_frame(pd.DataFrame({"category": ["美妆", "服装", "美妆", None]}))),
        audience=SimpleNamespace(fans=np.array([1, 500, 10, 1000, 7])),
    )
    index = SearchIndex.build(model)
    rows, total = index.anchors("Ab1", 10)
    assert total == 2 and rows.tolist() == [0, 1]  # exact id (ab1) before the bigger prefix match (ab12)
    rows, total = index.anchors("AB", 10)
    # id prefixes (more fans first), then the name starting with it, then the name containing it
    assert total == 4 and rows.tolist() == [1, 0, 2, 3]
    rows, total = index.anchors("ab", 2)
    assert total == 4 and rows.tolist() == [1, 0]
    assert index.categories == [{"category": "美妆", "products": 2}, {"category": "服装", "products": 1}]


def test_categories_cover_the_catalogue(client, serving):
    body = client.get("/v1/search/categories").get_json()
    counts = serving.model.products["category"].value_counts()
    assert {c["category"]: c["products"] for c in body["items"]} == counts.to_dict()
    assert [c["products"] for c in body["items"]] == sorted(counts.tolist(), reverse=True)


def test_search_routes_are_in_the_openapi_document(client):
    doc = client.get("/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/v1/search/anchors"]["get"]["parameters"]}
    assert params["q"]["required"] and params["k"]["schema"]["maximum"] == 50
    assert "AnchorSearchResponse" in doc["components"]["schemas"]
    assert "/v1/search/categories" in doc["paths"]
