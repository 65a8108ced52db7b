"""Reasons: formatted once per good and shared, never changed by what a caller does with a page."""

from __future__ import annotations


def test_remembered_reasons_give_the_same_pages_and_do_not_leak_edits(ranker):
    def pages():
        return [(p.product, p.score, p.breakdown, p.reasons, p.supported)
                for anchor in range(0, 50, 3) for p in ranker.picks(anchor, 20, 0).items]

    explainer = ranker.explainer
    explainer.memo_size = 0
    explainer.forget()
    plain = pages()
    explainer.memo_size = 5  # a small memo starts over often
    assert pages() == plain
    explainer.memo_size = 10_000
    first = ranker.picks(0, 20).items
    first[0].reasons[-1]["text"] = "edited"
    first[0].supported.append("edited")
    assert pages() == plain


def test_a_pick_cites_its_room_s_audience_and_the_good_s_own_figures(ranker):
    anchor = 3
    for pick in ranker.picks(anchor, 20).items:
        codes = [r["code"] for r in pick.reasons]
        category = ranker.goods.category[pick.product]
        col = ranker.rooms.audience_column[category]
        assert codes[0] == "audience_match"
        assert pick.reasons[0]["value"] == round(float(ranker.rooms.category_shares[anchor, col]), 4)
        assert "commission" in codes
        assert ("new_goods" in codes) == bool(ranker.goods.new[pick.product])
        assert ("small_merchant" in codes) == bool(ranker.goods.small[pick.product])
