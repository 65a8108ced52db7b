"""The shelf-rate model: recovers planted good quality and room strength from shelf sales, counts days on sale,
caps burst days, gives new goods and new rooms finite scores, and its candidate lists are exact."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.stats import spearmanr

from recommender.contract import load_snapshot
from recommender.shelf_rate import ShelfRateConfig, ShelfRates, click_rate, fan_taste_counts, fit_shelf_rates

END = pd.Timestamp("2026-10-31")
CATS = {"A": "美妆", "B": "食品"}


def _write(directory: Path, goods: dict[str, str], listings: list[tuple[int, str, float, list[float]]],
           followers: dict[int, list[int]], n_anchors: int, main: dict[int, str] | None = None) -> Path:
    """A snapshot from (room, good, days listed before the end, order times in days before the end) listings;
    each room's orders are spread over its followers. Every room's fans follow it. `main`: rooms' declared
    verticals (main_category), where given."""
    directory.mkdir(parents=True, exist_ok=True)
    pids = {name: 6_000_000_001 + i for i, name in enumerate(goods)}
    anchors = pd.DataFrame({"anchor_id": np.arange(n_anchors) + 10_000_001, "name": [f"a{i}" for i in range(n_anchors)],
                            "created_at": END - pd.Timedelta(days=200)})
    if main is not None:
        anchors["main_category"] = [main.get(a) for a in range(n_anchors)]
    anchors.to_csv(directory / "anchors.csv", index=False)
    fans = sorted({f for fs in followers.values() for f in fs})
    pd.DataFrame({"fan_id": np.array(fans) + 500_000_001, "created_at": END - pd.Timedelta(days=300)}).to_csv(
        directory / "fans.csv", index=False)
    pd.DataFrame({"product_id": list(pids.values()), "title": list(goods), "category": list(goods.values()),
                  "merchant_id": 80_000_001, "price": 50.0, "commission_rate": 0.2,
                  "created_at": END - pd.Timedelta(days=100)}).to_csv(directory / "products.csv", index=False)
    pd.DataFrame([(f + 500_000_001, a + 10_000_001, END - pd.Timedelta(days=90)) for a, fs in followers.items()
                  for f in fs], columns=["fan_id", "anchor_id", "followed_at"]).to_csv(
        directory / "follows.csv", index=False)
    shelf, orders = [], []
    for a, good, listed, times in listings:
        shelf.append((a + 10_000_001, pids[good], END - pd.Timedelta(days=listed)))
        for j, t in enumerate(times):
            fan = followers[a][j % len(followers[a])]
            orders.append((len(orders) + 1, fan + 500_000_001, a + 10_000_001, pids[good], 1, 50.0,
                           END - pd.Timedelta(days=t)))
    pd.DataFrame(shelf, columns=["anchor_id", "product_id", "listed_at"]).to_csv(directory / "shelf.csv",
                                                                                  index=False)
    pd.DataFrame(orders, columns=["order_id", "fan_id", "anchor_id", "product_id", "quantity", "amount",
                                  "ordered_at"]).to_csv(directory / "orders.csv", index=False)
    return directory


def _spread(n: int, days: float) -> list[float]:
    """n order times evenly over the last `days` days (strictly inside the listing)."""
    return list((np.arange(n) + 0.5) * days / max(n, 1))


# planted: good quality (orders per day in a room of strength 1) and room strength per category
QUALITY = {"A1": 1.0, "A2": 0.5, "A3": 0.25, "B1": 1.0, "B2": 0.5, "B3": 0.25}
ROOM = {0: {"A": 4.0, "B": 0.5}, 1: {"A": 2.0, "B": 0.25}, 2: {"A": 0.5, "B": 4.0}, 3: {"A": 0.25, "B": 2.0}}
SHELVES = {0: ["A1", "A2", "B1", "B2"], 1: ["A2", "A3", "B2", "B3"], 2: ["A1", "A3", "B1", "B3"],
           3: ["A1", "A2", "A3", "B1", "B2", "B3"]}
DAYS = 40


def _planted_snapshot(directory: Path, new_room_lists: list[str], new_room_days: float = 2):
    goods = {**{g: CATS[g[0]] for g in QUALITY}, "A4": CATS["A"]}  # A4: a new good nobody listed
    listings = [(a, g, DAYS, _spread(round(DAYS * ROOM[a][g[0]] * QUALITY[g]), DAYS))
                for a, shelf in SHELVES.items() for g in shelf]
    listings += [(4, g, new_room_days, []) for g in new_room_lists]  # listed two days ago, nothing sold yet
    # room 4 is new: its fans bought food (B) in room 2, it has sold nothing
    followers = {0: [0, 1, 2], 1: [3, 4], 2: [5, 6, 7], 3: [8, 9], 4: [5, 6]}
    return load_snapshot(_write(directory, goods, listings, followers, 5))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    m = _planted_snapshot(tmp_path_factory.mktemp("planted"), ["B1", "B2", "B3", "A3"])
    return m, fit_shelf_rates(m)


def _row(m, name: str) -> int:
    return int(np.flatnonzero(m.products["title"].to_numpy() == name)[0])


def test_recovers_the_planted_quality_order_and_ratios(planted):
    m, r = planted
    q = {g: float(r.quality[_row(m, g)]) for g in QUALITY}
    assert q["A1"] > q["A2"] > q["A3"] and q["B1"] > q["B2"] > q["B3"]
    for a, b in (("A1", "A2"), ("A2", "A3"), ("B1", "B2")):
        assert 1.5 < q[a] / q[b] < 2.6  # planted 2, a little shrunk toward the category's typical good


def test_recovers_each_rooms_strong_category(planted):
    _, r = planted
    a, b = r.categories.index(CATS["A"]), r.categories.index(CATS["B"])
    assert r.room[0, a] > 4 * r.room[0, b] and r.room[2, b] > 4 * r.room[2, a]
    assert r.room[0, a] > r.room[1, a] and r.room[2, b] > r.room[3, b]  # bigger rooms sell more


def test_predicts_goods_a_room_never_listed_from_their_quality(planted):
    m, r = planted
    e = r.expected(1)  # room 1 never listed A1, the best A good
    assert e[_row(m, "A1")] > e[_row(m, "A2")] > e[_row(m, "A3")]
    e = r.expected(0)  # room 0 never listed A3 or B3
    assert e[_row(m, "A3")] < e[_row(m, "A2")] and e[_row(m, "A3")] > e[_row(m, "B3")]
    # expected orders per 30 days are on the planted scale where the room listed the good
    assert 0.6 * 30 * 4.0 * 1.0 < e[_row(m, "A1")] < 1.4 * 30 * 4.0 * 1.0


def test_new_goods_and_new_rooms_get_finite_scores_that_follow_their_evidence(planted):
    m, r = planted
    e = r.expected(np.arange(5))
    assert np.isfinite(e).all() and (e > 0).all()
    new_good = _row(m, "A4")  # nobody listed it: its category's typical good, between the best and worst
    assert e[0, _row(m, "A3")] < e[0, new_good] < e[0, _row(m, "A1")]
    # the new room lists mostly food: food leads its list, best food good first
    assert e[4, _row(m, "B1")] > e[4, _row(m, "A1")] and e[4, _row(m, "B1")] > e[4, _row(m, "B2")]


def test_a_new_room_leans_toward_what_it_lists_as_far_as_rooms_with_sales_show(tmp_path):
    """With room_lean: rooms with sales sell 8x more per day where they list most, while their followers buy
    both categories alike, so the lean learns listings, not the audience mix: a new room that lists mostly
    beauty (A) is expected to sell beauty, though its one fan bought food elsewhere. Without the lean (the
    audience's mix as the prior) the same room leans toward food."""
    goods = {g: CATS[g[0]] for g in QUALITY}
    strong_in = {0: "A", 1: "A", 2: "A", 3: "B", 4: "B", 5: "B"}
    listings = []
    for a, c in strong_in.items():
        mine = [g for g in QUALITY if g[0] == c]
        other = [g for g in QUALITY if g[0] != c][:1]
        for g in mine + other:
            rate = (4.0 if g[0] == c else 0.5) * QUALITY[g]
            listings.append((a, g, DAYS, _spread(round(DAYS * rate), DAYS)))
    # new: lists beauty two hours ago, nothing sold yet (days without a sale would be evidence against beauty:
    # rooms here sell about an order a day per follower)
    listings += [(6, g, 0.1, []) for g in ("A1", "A2", "A3", "B1")]
    # each fan buys in one beauty room and one food room; fan 12 buys food in room 5 only and follows room 6
    followers = {a: [2 * a, 2 * a + 1, 2 * ((a + 3) % 6), 2 * ((a + 3) % 6) + 1] for a in strong_in}
    followers[5].append(12)
    followers[6] = [12]
    m = load_snapshot(_write(tmp_path, goods, listings, followers, 7))
    a = sorted(CATS.values()).index(CATS["A"])
    lean = fit_shelf_rates(m, ShelfRateConfig(room_lean=True, audience_power=0.0)).room[6]
    assert lean[a] > 2 * lean[1 - a]
    audience = fit_shelf_rates(m, ShelfRateConfig(room_lean=False)).room[6]  # the audience's mix ** 2
    assert audience[1 - a] > audience[a]


def test_days_on_sale_matter(tmp_path):
    """2 orders in 1 day on sale beat 3 orders in 60 days, in the same room and category."""
    goods = {"fast": CATS["A"], "slow": CATS["A"], "base1": CATS["A"], "base2": CATS["A"]}
    listings = [(0, "fast", 1.0, [0.5, 0.2]), (0, "slow", 60.0, [50.0, 30.0, 10.0]),
                (0, "base1", 60.0, _spread(30, 60)), (0, "base2", 60.0, _spread(12, 60))]
    m = load_snapshot(_write(tmp_path / "s", goods, listings, {0: [0, 1, 2]}, 1))
    r = fit_shelf_rates(m)
    e = r.expected(0)
    assert e[_row(m, "fast")] > e[_row(m, "slow")]
    assert e[_row(m, "fast")] > e[_row(m, "base2")]  # 2/day beats 0.2/day even from two orders


def test_a_burst_day_is_capped_not_read_as_quality(tmp_path):
    goods = {"steady": CATS["A"], "burst": CATS["A"], "other": CATS["A"]}
    listings = []
    for a in range(4):
        listings += [(a, "steady", 40.0, _spread(40, 40)), (a, "other", 40.0, _spread(20, 40)),
                     (a, "burst", 40.0, _spread(40, 40) + list(20.2 + np.arange(60) / 200))]  # 60 orders on a day
    m = load_snapshot(_write(tmp_path / "s", goods, listings, {a: [2 * a, 2 * a + 1] for a in range(4)}, 4))
    capped, raw = fit_shelf_rates(m), fit_shelf_rates(m, ShelfRateConfig(burst_rounds=0))
    burst, steady = _row(m, "burst"), _row(m, "steady")
    assert raw.quality[burst] > 2 * raw.quality[steady]  # uncapped, the burst looks like a better good
    assert capped.quality[burst] < 1.3 * capped.quality[steady]


def test_top_goods_are_the_exact_top_of_the_full_scores(small_snapshot):
    m = load_snapshot(small_snapshot)
    r = fit_shelf_rates(m)
    anchors = np.arange(len(m.anchor_ids))
    rows, scores = r.top_goods(anchors, 30)
    full = r.expected(anchors)
    np.testing.assert_allclose(scores, np.take_along_axis(full, rows.astype(np.int64), 1), rtol=1e-6)
    np.testing.assert_allclose(scores, -np.sort(-full, axis=1)[:, :30], rtol=1e-6)
    subset = np.arange(0, len(m.product_ids), 3)
    rows, _ = r.top_goods(anchors[:5], 10, subset)
    assert np.isin(rows, subset).all()
    in_batches = r.top_goods(anchors, 30, batch=7)  # rooms taken 7 at a time: the same answer
    np.testing.assert_array_equal(in_batches[0], r.top_goods(anchors, 30)[0])
    np.testing.assert_allclose(in_batches[1], scores)


def test_save_and_load_round_trip(planted, tmp_path):
    _, r = planted
    r.save(tmp_path / "rates")
    back = ShelfRates.load(tmp_path / "rates")
    np.testing.assert_array_equal(back.expected(np.arange(5)), r.expected(np.arange(5)))
    assert back.categories == r.categories
    np.testing.assert_array_equal(back.quality_quantile(0.2), r.quality_quantile(0.2))  # the evidence behind each
    assert (r.quality_quantile(0.2) < 1).all()


def test_no_shelf_table_means_no_model(planted):
    m, _ = planted
    no_shelf = dataclasses.replace(m, shelf=m.shelf.iloc[:0])
    assert len(no_shelf.orders) and fit_shelf_rates(no_shelf) is None  # sales, but no days on sale: no model
    assert fit_shelf_rates(m.until(m.snapshot_time - pd.Timedelta(days=365))) is None  # nothing at all


def test_the_shelf_rate_configuration_has_bounds():
    with pytest.raises(ValidationError, match="burst_ratio"):
        ShelfRateConfig(burst_ratio=-1.0)
    with pytest.raises(ValidationError, match="good_prior_orders"):
        ShelfRateConfig(good_prior_orders=0)
    assert ShelfRateConfig().model_copy(update={"burst_rounds": 0}).burst_rounds == 0


def _unsold_spearman(m, truth):
    """A scorer of goods' qualities: the mean Spearman, within each category, between the qualities of the goods
    nobody bought and the truth's level of them (their orders in an average room)."""
    level = np.asarray(truth.expected_sales, np.float64).mean(axis=0)
    unsold = np.bincount(m.orders["product"].to_numpy(), minlength=len(m.product_ids)) == 0
    category = pd.factorize(m.products["category"], sort=True)[0]

    def within_category_spearman(quality: np.ndarray) -> float:
        rho = [spearmanr(quality[sel], level[sel])[0] for c in np.unique(category)
               if (sel := unsold & (category == c)).sum() >= 8]
        return float(np.nanmean(rho))

    return within_category_spearman


def test_goods_nobody_bought_are_ordered_by_what_is_known_of_them(small_generated, small_snapshot):
    """Anchors pick goods that sell, so how many rooms list a good (against how long it has been on sale) says
    something before its first order: within a category the unsold goods' qualities follow the truth's order
    more closely than without the features, where they are all the category's typical good or their listings'
    zeros."""
    m = load_snapshot(small_snapshot)
    within_category_spearman = _unsold_spearman(m, small_generated.truth)
    with_features = within_category_spearman(fit_shelf_rates(m).quality)
    plain = within_category_spearman(fit_shelf_rates(m, ShelfRateConfig(quality_features=False)).quality)
    assert with_features > plain + 0.15 and with_features > 0.1, (with_features, plain)


def test_fans_clicks_order_the_goods_nobody_bought_closer_to_the_truth(small_generated, small_snapshot):
    """Fans click goods no room they follow lists, so the click log speaks for goods without a sale: with it, the
    unsold goods' qualities follow the truth's order within a category more closely than without it."""
    m = load_snapshot(small_snapshot)
    within_category_spearman = _unsold_spearman(m, small_generated.truth)
    assert len(m.clicks) > 0
    with_clicks = within_category_spearman(fit_shelf_rates(m).quality)
    without = within_category_spearman(fit_shelf_rates(dataclasses.replace(m, clicks=m.clicks.iloc[:0])).quality)
    assert with_clicks > without + 0.1, (with_clicks, without)


def test_the_quality_prior_is_as_strong_as_the_goods_sales_show(tmp_path):
    """The prior's strength is read from the goods' orders: where rooms of a category are alike (the flat world)
    a good sells about what its prior predicts everywhere and the prior is strong; where rooms differ (the strong
    world) its sales vary with the rooms that listed it and the prior is weaker."""
    from fixtures.marketplace import generate, write_marketplace
    from recommender.shelf_rate import fit_shelf

    strength = {fit: fit_shelf(load_snapshot(write_marketplace(generate("small", seed=7, fit=fit), tmp_path / fit)))
                .state.strength for fit in ("flat", "default", "strong")}
    assert strength["flat"] > 1.5 * strength["default"] > 1.5 * 1.5 * strength["strong"], strength
    fixed = fit_shelf(load_snapshot(tmp_path / "flat"), ShelfRateConfig(empirical_good_prior=False,
                                                                         good_prior_orders=0.7))
    assert fixed.state.strength == 0.7


def test_refits_continue_the_fit_and_twice_the_exposure_halves_the_expected_orders(small_snapshot):
    """refit scales each entry's days on sale (another model's exposure factor) and continues from the state it is
    given: with factor 1, each refit started where the last ended moves the fit on toward the same fixed point, less
    than the one before; factor 2 everywhere means the same orders took twice the exposure."""
    from recommender.shelf_rate import fit_shelf

    fit = fit_shelf(load_snapshot(small_snapshot))
    anchors = np.arange(len(fit.rates.room))
    fits, state = [fit.rates.expected(anchors)], fit.state
    for _ in range(3):
        rates, state = fit.refit(np.ones(len(fit.days)), state)
        fits.append(rates.expected(anchors))
    moves = [float(np.abs(np.log(b / a)).max()) for a, b in itertools.pairwise(fits)]
    assert moves[2] < moves[1] < moves[0] < 0.2, moves
    assert float(np.median(np.abs(fits[-1] / fits[0] - 1))) < 0.03  # the same fit, moved on a little
    assert np.array_equal(fit.refit(np.ones(len(fit.days)))[0].expected(anchors), fits[1])  # None: from the fit's end
    twice = fit.refit(np.full(len(fit.days), 2.0), state)[0].expected(anchors)
    assert float((twice / fits[-1]).mean()) == pytest.approx(0.5, abs=0.01)


def _cap(expected: float, cfg: ShelfRateConfig) -> float:
    return cfg.burst_ratio * expected + cfg.burst_z * np.sqrt(expected) + cfg.burst_slack


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    """One room, category A, goods selling 12 orders a day. Days run from the first order, 40 days before END; the
    snapshot ends 0.25 days before END, so the last day is three quarters long. `mid` has 60 extra orders on day
    20; `launch` and `steady_launch` are listed a quarter of a day before day 20 begins, `launch` with 30 orders
    in that quarter, `steady_launch` with its usual 3; `finale` has 30 extra orders in the last (short) day."""
    pace = 12.0

    def steady(first: float, last: float) -> list[float]:  # days before END, at the pace
        n = round((first - last) * pace)
        return list(last + (np.arange(n) + 0.5) / pace)

    goods = {"base": CATS["A"], "mid": CATS["A"], "launch": CATS["A"], "steady_launch": CATS["A"],
             "finale": CATS["A"]}
    listings = [(0, "base", 45.0, [40.0, *_spread(20, 39), 0.25]),  # the first order and the snapshot's end
                (0, "mid", 45.0, steady(40.0, 0.25) + list(19.5 + np.arange(60) / 1000)),
                (0, "launch", 20.25, steady(20.0, 0.25) + list(20.0 + (np.arange(30) + 0.5) / 120)),
                (0, "steady_launch", 20.25, steady(20.25, 0.25)),
                (0, "finale", 45.0, steady(40.0, 0.25) + list(0.25 + (np.arange(30) + 0.5) / 40))]
    m = load_snapshot(_write(tmp_path_factory.mktemp("launches"), goods, listings, {0: [0, 1, 2]}, 1))
    t0 = m.orders["ordered_at"].min()
    assert t0 == END - pd.Timedelta(days=40) and m.snapshot_time == END - pd.Timedelta(days=0.25)
    day = ((m.orders["ordered_at"] - t0).dt.total_seconds() // 86400).to_numpy(np.int64)

    def day_weights(fit, name: str) -> dict[int, float]:
        sel = m.orders["product"].to_numpy() == _row(m, name)
        return dict(enumerate(np.bincount(day[sel], fit.order_weight[sel], 40).tolist()))

    return m, day, day_weights, pace


def test_a_burst_day_keeps_what_the_good_s_other_days_predict_plus_noise_and_slack(launches):
    """60 extra orders on a day of a good selling 12 a day: that day counts 2 x 12 + 3 sqrt(12) + 2 orders (the
    cap), every other day what it sold. In one round of capping too: the day's own orders do not raise its cap."""
    from recommender.shelf_rate import fit_shelf

    m, _, day_weights, pace = launches
    for cfg in (ShelfRateConfig(), ShelfRateConfig(burst_rounds=1)):
        w = day_weights(fit_shelf(m, cfg), "mid")
        assert w[20] == pytest.approx(_cap(pace, cfg), rel=0.02)
        assert all(w[d] == pytest.approx(pace) for d in range(39) if d != 20)
    tight = ShelfRateConfig(burst_ratio=1.0, burst_z=2.0, burst_slack=1.0)
    assert day_weights(fit_shelf(m, tight), "mid")[20] == pytest.approx(_cap(pace, tight), rel=0.02)


def test_orders_on_the_listing_day_are_judged_against_the_part_of_it_the_good_was_on_sale(launches):
    """Listed a quarter of a day before day 20: that day's exposure is a quarter of a day. 30 orders in it are a
    burst against the 3 its pace predicts (capped to 2 x 3 + 3 sqrt(3) + 2); its usual 3 are not."""
    from recommender.shelf_rate import fit_shelf

    m, _, day_weights, pace = launches
    cfg = ShelfRateConfig()
    fit = fit_shelf(m, cfg)
    launch, steady = day_weights(fit, "launch"), day_weights(fit, "steady_launch")
    assert launch[19] == pytest.approx(_cap(pace / 4, cfg), rel=0.02) and launch[25] == pytest.approx(pace)
    assert steady[19] == pytest.approx(pace / 4) and steady[25] == pytest.approx(pace)


def test_orders_on_the_last_day_are_judged_against_the_part_of_it_before_the_snapshot(launches):
    """The snapshot ends three quarters into day 39: its exposure is three quarters of a day, so 30 extra orders
    over the 9 its pace predicts are capped to 2 x 9 + 3 sqrt(9) + 2."""
    from recommender.shelf_rate import fit_shelf

    m, _, day_weights, pace = launches
    cfg = ShelfRateConfig()
    w = day_weights(fit_shelf(m, cfg), "finale")
    assert w[39] == pytest.approx(_cap(pace * 0.75, cfg), rel=0.02) and w[38] == pytest.approx(pace)


def test_a_room_that_listed_goods_days_ago_and_sold_nothing_yet_keeps_the_scale_of_rooms_its_size(planted):
    """Room 4 (two followers, who bought food in room 2) listed four goods two days ago and sold nothing. Where
    those two days count as days on sale (new_room_grace_days 0), its scale is shrunk toward what rooms with sales
    sell per follower, so its best food good is expected on the scale of room 2's per follower, somewhat less for
    the two quiet days, not near zero (with next to no prior, 1e-3 pseudo-orders, it was 0.009 orders in 30 days
    against room 2's 120)."""
    m, _ = planted
    for k, lo, hi in ((None, 0.05, 1.0), (1e-3, 0.0, 1e-3)):
        cfg = ShelfRateConfig(scale_prior_orders=k, new_room_grace_days=0)
        e = fit_shelf_rates(m, cfg).expected(np.arange(5))[:, _row(m, "B1")]
        per_follower = (e[4] / 2) / (e[2] / 3)
        assert lo <= per_follower <= hi, (cfg.scale_prior_orders, per_follower)


def test_a_room_that_listed_days_ago_and_never_sold_has_not_streamed_yet_but_one_quiet_for_weeks_has(tmp_path):
    """Room 4 sold nothing. Listed one or two days ago (within new_room_grace_days, 3), it has most likely not
    streamed yet: it is expected to sell what its followers say, the same either way, even with next to no scale
    prior. Listed twenty days ago it has had its chances, and those quiet days count, as every listing does with
    a grace of 0."""
    def per_follower(days: float, cfg: ShelfRateConfig) -> float:  # room 4's (2 followers) over room 2's (3)
        m = _planted_snapshot(tmp_path / f"{days}", ["B1", "B2", "B3", "A3"], new_room_days=days)
        e = fit_shelf_rates(m, cfg).expected(np.arange(5))[:, _row(m, "B1")]
        return float((e[4] / 2) / (e[2] / 3))

    default = ShelfRateConfig()
    for cfg in (default, ShelfRateConfig(scale_prior_orders=1e-3)):
        assert per_follower(1, cfg) == pytest.approx(per_follower(2, cfg), rel=1e-6)
        assert 0.5 < per_follower(2, cfg) < 1.5
    assert per_follower(20, default) < 0.5 * per_follower(2, default)
    assert per_follower(2, ShelfRateConfig(new_room_grace_days=0)) < 0.5 * per_follower(2, default)


def test_listings_of_a_room_that_has_not_streamed_yet_weigh_on_no_good_and_no_other_room(tmp_path):
    """Room 4's goods listed two days ago and never sold are not exposure anywhere: every good's quality (burst
    caps included) and every other room's strengths are what they would be had it listed nothing. (Without the
    quality features, which count how many rooms list a good.)"""
    cfg = ShelfRateConfig(quality_features=False)
    listed_m = _planted_snapshot(tmp_path / "listed", ["B1", "B2", "B3", "A3"])
    listed, bare = fit_shelf_rates(listed_m, cfg), fit_shelf_rates(_planted_snapshot(tmp_path / "bare", []), cfg)
    np.testing.assert_allclose(listed.quality, bare.quality, rtol=1e-4)  # float32, steps to 1e-3
    np.testing.assert_allclose(listed.room[:4], bare.room[:4], rtol=1e-4)
    counted = fit_shelf_rates(listed_m, cfg.model_copy(update={"new_room_grace_days": 0}))
    assert np.abs(counted.quality / bare.quality - 1).max() > 1e-3  # what counting them would move


def test_a_room_with_fans_but_nothing_listed_or_sold_is_scored_like_a_typical_room(tmp_path):
    """Room 4 has only followers (who bought food in room 2): it lives on the prior, a typical room's scale times
    its audience's mix, so its best food good is expected to sell on the scale of the other rooms, not nothing."""
    goods = {g: CATS[g[0]] for g in QUALITY}
    listings = [(a, g, DAYS, _spread(round(DAYS * ROOM[a][g[0]] * QUALITY[g]), DAYS))
                for a, shelf in SHELVES.items() for g in shelf]
    followers = {0: [0, 1, 2], 1: [3, 4], 2: [5, 6, 7], 3: [8, 9], 4: [5, 6]}
    m = load_snapshot(_write(tmp_path, goods, listings, followers, 5))
    r = fit_shelf_rates(m)
    e = r.expected(np.arange(5))[:, _row(m, "B1")]
    assert np.isfinite(e).all() and 0.25 * np.median(e[:4]) < e[4] < 4 * e[:4].max()


def test_a_new_room_whose_fans_never_bought_leans_toward_what_they_click(tmp_path):
    """Room 5 is new and its two fans are new too: no orders anywhere, so without the click log its audience is
    the platform's. They click food (B) goods; with the log the room's prior leans toward food, by as much as
    `click_weight` lets a click count."""
    goods = {g: CATS[g[0]] for g in QUALITY}
    listings = [(a, g, DAYS, _spread(round(DAYS * ROOM[a][g[0]] * QUALITY[g]), DAYS))
                for a, shelf in SHELVES.items() for g in shelf]
    followers = {0: [0, 1, 2], 1: [3, 4], 2: [5, 6, 7], 3: [8, 9], 5: [10, 11]}
    _write(tmp_path, goods, listings, followers, 6)
    pids = {name: 6_000_000_001 + i for i, name in enumerate(goods)}
    pd.DataFrame([(f + 500_000_001, pids[g], END - pd.Timedelta(days=1 + k / 10)) for f in (10, 11)
                  for k, g in enumerate(["B1", "B2", "B3"] * 10)],
                 columns=["fan_id", "product_id", "clicked_at"]).to_csv(tmp_path / "clicks.csv", index=False)
    m = load_snapshot(tmp_path)
    b = sorted(CATS.values()).index(CATS["B"])

    def lean(m_, cfg: ShelfRateConfig | None = None) -> float:
        room = fit_shelf_rates(m_, cfg or ShelfRateConfig()).room[5]
        return float(room[b] / room[1 - b])

    without = lean(dataclasses.replace(m, clicks=m.clicks.iloc[:0]))
    assert lean(m) > 2 * without
    assert lean(m, ShelfRateConfig(click_weight=0)) == pytest.approx(without)


def test_a_goods_click_rate_starts_at_its_category_s_and_a_month_without_clicks_reads_low(tiny_csv):
    m = load_snapshot(tiny_csv)
    cat = pd.factorize(m.products["category"], sort=True)[0]
    clicks = np.bincount(m.clicks["product"].to_numpy(), minlength=len(m.products))
    days = np.full(len(clicks), 30.0)
    fresh = int(np.flatnonzero(clicks == 0)[0])  # no click yet: as if listed this morning, then as if a month old
    days[fresh] = 0.0
    span = (m.snapshot_time - m.clicks["clicked_at"].min()).total_seconds() / 86400  # the log's own days
    same = cat == cat[fresh]
    typical = clicks[same].sum() / np.minimum(days[same], span).sum()
    assert click_rate(m, days, cat)[fresh] == pytest.approx(np.log(typical), abs=1e-3)
    days[fresh] = 30.0
    assert click_rate(m, days, cat)[fresh] < np.log(typical) - 2


def test_a_fans_taste_counts_its_orders_and_its_clicks_at_the_clicks_weight(tiny_csv):
    m = load_snapshot(tiny_csv)
    group = np.arange(len(m.product_ids)) % 3
    orders = fan_taste_counts(m, group, 3)
    with_clicks = fan_taste_counts(m, group, 3, click_weight=0.25)
    assert orders.sum() == len(m.purchases) and len(m.clicks) > 0
    clicks = np.zeros_like(orders)
    np.add.at(clicks, (m.clicks["fan"].to_numpy(), group[m.clicks["product"].to_numpy()]), 1.0)
    np.testing.assert_allclose(with_clicks, orders + 0.25 * clicks)


def test_with_room_lean_a_new_room_leans_toward_its_declared_vertical(tmp_path):
    """Rooms with sales sell most in their declared vertical; a new room listing one good of each category leans
    toward the vertical it declares, whichever it is. Every room is followed by every fan, so the audiences' mix
    is the same everywhere and only the declared vertical can tell the rooms apart (were each room's fans its
    own buyers, vertical and audience would say the same thing and the lean could credit either)."""
    goods = {g: CATS[g[0]] for g in QUALITY}
    strong_in = {0: "A", 1: "A", 2: "A", 3: "B", 4: "B", 5: "B"}
    listings = []
    for a, c in strong_in.items():
        for g in QUALITY:
            rate = (4.0 if g[0] == c else 0.5) * QUALITY[g]
            listings.append((a, g, DAYS, _spread(round(DAYS * rate), DAYS)))  # every room lists every good
    listings += [(6, g, 2, []) for g in ("A1", "B1")]
    followers = {a: list(range(12)) for a in strong_in} | {6: [6, 7, 8, 9]}
    a = sorted(CATS.values()).index(CATS["A"])
    cfg = ShelfRateConfig(room_lean=True)
    for declared, col in (("A", a), ("B", 1 - a)):
        main = {r: CATS[c] for r, c in strong_in.items()} | {6: CATS[declared]}
        m = load_snapshot(_write(tmp_path / declared, goods, listings, followers, 7, main))
        room = fit_shelf_rates(m, cfg).room[6]
        assert room[col] > 1.5 * room[1 - col], declared


def test_the_pool_is_each_category_s_n_best_goods_by_quality(small_snapshot):
    r = fit_shelf_rates(load_snapshot(small_snapshot))
    rows = np.arange(0, len(r.quality), 2)
    for n in (1, 5):
        pool = r.pool(n, rows)
        for c in range(len(r.categories)):
            mine = rows[r.category[rows] == c]
            best = mine[np.lexsort((mine, -r.quality[mine]))][:n]
            assert sorted(pool[r.category[pool] == c].tolist()) == sorted(best.tolist()), (n, c)


def test_a_good_that_sold_in_one_room_alone_is_not_read_as_a_better_good_everywhere(tmp_path):
    """200 orders in one room and 4 in each of seven others say the good fits that one room (beyond what the
    model sees), not that it sells 200 in any room: in a typical room a good that sold 20 in each of eight
    rooms is the better pick. Without the negative-binomial level the lone room's orders decide."""
    goods = {"spread": CATS["A"], "one_room": CATS["A"], "b1": CATS["A"], "b2": CATS["A"]}
    listings = []
    for a in range(8):
        listings += [(a, "spread", 40.0, _spread(20, 40)), (a, "one_room", 40.0, _spread(200 if a == 0 else 4, 40)),
                     (a, "b1", 40.0, _spread(10 + 3 * (a % 3), 40)), (a, "b2", 40.0, _spread(6 + 2 * (a % 2), 40))]
    m = load_snapshot(_write(tmp_path / "s", goods, listings, {a: [2 * a, 2 * a + 1] for a in range(8)}, 8))
    nb = fit_shelf_rates(m, ShelfRateConfig(good_overdispersion=True))
    poisson = fit_shelf_rates(m, ShelfRateConfig(good_overdispersion=False))
    spread, one = _row(m, "spread"), _row(m, "one_room")
    assert poisson.quality[one] > poisson.quality[spread]  # 228 orders against 160 over the same days
    assert nb.quality[one] < nb.quality[spread]

