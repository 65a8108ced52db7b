"""From a hot list to what the routes show: only known goods that pass the gates, resolved once per list and
model; the followed seller named is the one with most fans; a fan's feed leans to their affinity and to goods
their anchors sell, and a fan the model knows nothing about is not personalised."""

from __future__ import annotations

import numpy as np

from recommender.hot.burst import Bursts
from recommender.hot.config import HotConfig
from recommender.hot.feed import followed_sellers, personalise, sellers_of
from recommender.hot.lists import HotList
from recommender.hot.resolve import rows_of, servable
from recommender.vocabulary import Vocabulary


def listed(*keys: str) -> HotList:
    n = len(keys)
    return HotList(Bursts(np.array(keys, str), np.full(n, 10.0), np.ones(n), np.full(n, 1e-9), 0), 0.0)


def test_only_known_goods_that_pass_the_gates_and_the_category_are_servable():
    rows, gate = np.array([3, -1, 0, 2]), np.array([True, True, False, True])
    kept, positions = servable(rows, gate)
    assert kept.tolist() == [3, 0] and positions.tolist() == [0, 2]
    kept, positions = servable(rows, gate, in_category=np.array([False, True, True, True]))
    assert kept.tolist() == [3] and positions.tolist() == [0]


def test_rows_are_resolved_once_per_list_and_model_version():
    hl = listed("b", "unknown", "a")
    rows = rows_of(hl, "v1", Vocabulary(["a", "b", "c"]))
    assert rows.tolist() == [1, -1, 0]
    assert rows_of(hl, "v1", Vocabulary(["c", "b", "a"])) is rows  # the list's own cache
    assert rows_of(hl, "v2", Vocabulary(["c", "b", "a"])).tolist() == [1, -1, 2]


def test_the_followed_seller_named_is_the_one_with_most_fans():
    # good 0 is sold by anchors 5 then 2 (most fans first), good 1 by 2, good 2 by 7
    sellers = (np.array([0, 2, 3, 4]), np.array([5, 2, 2, 7]))
    hl = listed("g0", "g1", "g2")
    pairs = sellers_of(hl, "v1", np.array([0, 1, 2]), sellers)
    everything = np.arange(3)
    assert followed_sellers(pairs, np.array([2, 7]), 3, everything).tolist() == [2, 2, 7]
    assert followed_sellers(pairs, np.array([2, 5]), 3, everything).tolist() == [5, 2, -1]
    assert followed_sellers(pairs, np.array([9]), 3, np.array([2])).tolist() == [-1]


def test_a_fan_s_feed_leans_to_their_affinity_and_to_what_their_anchors_sell():
    products = np.array([[1.0, 0.0], [0.0, 1.0]])
    rows, lift, nobody = np.array([0, 1]), np.array([3.0, 3.0]), np.array([-1, -1])
    order, affinity = personalise(rows, lift, nobody, np.array([0.0, 2.0]), products, HotConfig(), k=2)
    assert order.tolist() == [1, 0] and affinity.tolist() == [0.0, 2.0]
    order, _ = personalise(rows, lift, np.array([4, -1]), np.array([0.0, 2.0]), products,
                           HotConfig(follow_bonus=5.0), k=2)
    assert order.tolist() == [0, 1]


def test_a_fan_the_model_knows_nothing_about_or_an_empty_list_is_not_personalised():
    products = np.eye(2)
    assert personalise(np.array([0, 1]), np.ones(2), np.array([-1, -1]), np.zeros(2), products, HotConfig(), 2) is None
    assert personalise(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.ones(2), products,
                       HotConfig(), 2) is None


def test_a_fan_known_only_by_a_follow_of_the_first_anchor_is_personalised():
    """No purchases, one follow: of anchor row 0, which sells the second good. Row 0 is an anchor like any other."""
    products = np.eye(2)
    got = personalise(np.array([0, 1]), np.array([3.0, 3.0]), np.array([-1, 0]), np.zeros(2), products,
                      HotConfig(), 2)
    assert got is not None and got[0].tolist() == [1, 0]
