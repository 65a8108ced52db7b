"""Expected orders of a good in a room if the room shelved it: an exposure-aware Poisson model of shelf sales.

Fans can only buy what their rooms list, so "who bought what" mostly says which rooms listed what. This model
learns from the listings themselves: every shelf entry (room a, good p) was on sale for T[a, p] days of the
snapshot and sold n[a, p] orders, and

    n[a, p] ~ Poisson(T[a, p] * room[a, category(p)] * quality[p])

* ``quality[p]``: the good's own pull (its appeal and price), orders per day in a room of strength 1. It is
  shrunk toward its category's typical good by a gamma prior worth as many orders as the goods' sales show
  (``empirical_good_prior``; else ``good_prior_orders``), so a good listed for 1 day with 2 orders beats one
  listed 60 days with 3, and a good nobody listed (or a new one) gets its category's typical quality.
* ``room[a, c]``: how strongly room a sells category c, observed for the categories it lists and shrunk
  toward a prior from its audience elsewhere: the room's scale times (the category mix its followers and
  buyers buy, anywhere) ** ``audience_power``. A new room with fans but no sales lives on the prior.
  ``room_lean`` (on by default) replaces that prior by exp(level[c] + b1 [c is the declared vertical] + b2 log(the
  room's share of listings in c) + b3 log(its followers' category mix)): a Poisson regression on the
  categories rooms with sales listed, their orders against their exposure, with a level per room and per
  category, b shrunk toward (0, 0, audience_power) (the prior without the lean) by its quasi-Poisson
  standard errors (``_fit_lean``). The first version (b1, b2 by least squares on the rooms' current strengths,
  with audience_power 0) helped new rooms on medium worlds but collapsed the small world (warm rooms 0.842 ->
  0.663, seed 0): on 500 goods a room's top 50 spans several categories, whose order only the audience mix
  carried, and the strengths it was fitted on equal the prior wherever a room never listed, so b drifted
  with the prior it fed (b1 1.6 -> 0.9 over the iterations on medium). Measured in README ("How the model
  works").

Both factors are fitted by alternating closed-form gamma-Poisson updates (IPF with priors), all vectorised.
The orders fix only quality x room within a category, so each category's split between its goods and its rooms
is pinned (its listed goods have geometric-mean quality 1; the room prior carries the category's level, fitted
as the orders rooms sold there over what the prior predicts); left free it drifted without end. The updates
converge slowly where few entries link rooms and goods (a big room selling goods no other room lists), so each
later fit on nearly the same data (the burst rounds, the room x good term's refits) continues from the state the
last one ended in (``FitState``) rather than from the priors. The two together: with 8x the orders of medium seed 0
at the strong fit, warm rooms' NDCG@50 0.720 -> 0.814 (docs/personal-matching.md).
A good's sales in one room vary beyond Poisson noise around room x quality (and the room x good term of
``audience_fit``): the room's audience fits it better or worse than the model can tell. Most goods sell in few
rooms (of the goods in a room's true top 50 on medium seed 0, 37% had one or two rooms making most of their
orders), so a plain Poisson ratio lets one room's fit set the good's level everywhere; ``good_overdispersion``
makes the level a negative-binomial estimate instead (``_entry_weights``): warm rooms' NDCG@50 0.860 -> 0.866
(medium seed 0) and 0.832 -> 0.849 (seed 11). Measured in docs/personal-matching.md.
Platform-wide bursts (爆款: one good selling many times its rate for a few days in every room that lists it)
would otherwise be read as quality, so a good's orders on a day far above what its other days predict are
capped before the final fit (``burst_rounds``). Measured on the medium marketplace (14-day split, graded NDCG@50
against the generator's expected sales if shelved, ``anchor_goods_if_shelved``): seed 0 0.927 (the audience and
sales vectors: 0.604; without burst capping 0.902), seed 1 0.902. Defaults chosen on seed 0.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field
from scipy.special import gammaincinv, ndtri

from recommender.arrays import top_k
from recommender.clock import days_between
from recommender.contract import Marketplace
from recommender.interactions import anchor_fan_engagement, follower_matrix
from recommender.priors import prior_strength_ml
from recommender.settings import Settings

DAYS_PER_PERIOD = 30.0  # expected orders are reported per 30 days of listing
MIN_GOODS_PER_FEATURE = 10  # goods with sales per coefficient before the quality prior uses the features


class ShelfRateConfig(Settings):
    """Priors, iterations and burst capping of the shelf-rate model (see the module docstring)."""

    good_prior_orders: float = Field(0.5, gt=0, description="gamma prior strength of a good's quality "
                                     "(pseudo-orders)")
    room_prior_orders: float = Field(2.0, gt=0, description="gamma prior strength of a room's category strength "
                                     "(pseudo-orders)")
    scale_prior_orders: float | None = Field(None, gt=0, description="gamma prior strength of a room's scale (its "
                                             "orders over what its audience predicts) toward what rooms with sales "
                                             "sell per follower times its followers, in pseudo-orders; None: the "
                                             "strength that maximises the rooms' marginal likelihood "
                                             "(priors.prior_strength_ml)")
    audience_power: float = Field(2.0, ge=0, description="room prior = scale * audience category mix ** this "
                                  "(with room_lean: the power the lean starts from and is shrunk toward)")
    audience_smoothing: float = Field(0.1, gt=0, description="a fan's category mix = (orders + this * platform "
                                      "mix) / (orders + this)")
    click_weight: float = Field(0.25, ge=0, description="what one click of the click log counts in a fan's "
                                "category mix, in orders (0: the orders alone)")
    iterations: int = Field(15, ge=1, description="alternating updates of quality and room strength")
    burst_rounds: int = Field(3, ge=0, description="rounds of capping burst days before the final fit (0: none)")
    burst_ratio: float = Field(2.0, ge=0, description="a good-day's cap: ratio * expected + z * sqrt(expected) + "
                               "slack")
    burst_z: float = Field(3.0, ge=0, description="z in the good-day's cap")
    burst_slack: float = Field(2.0, ge=0, description="slack in the good-day's cap (orders)")
    quality_features: bool = Field(True, description="a good's prior quality from what is known of it (how many "
                                   "rooms list it, its age, commission, relative price, shop) instead of its "
                                   "category's typical good alone")
    lean_prior_sd: float = Field(1.0, gt=0, description="sd of the normal prior that keeps the lean's coefficients "
                                 "near the audience prior (see _fit_lean)")
    empirical_good_prior: bool = Field(True, description="the quality prior's strength from the data (the shape "
                                       "that maximises the goods' marginal likelihood, see priors."
                                       "prior_strength_ml) instead of good_prior_orders")
    good_overdispersion: bool = Field(True, description="a good's level is a negative-binomial estimate: its sales "
                                      "in each room vary beyond Poisson noise (how it fits the room beyond what the "
                                      "model sees), so a room's orders weigh 1 / (1 + tau2 x expected) and one room "
                                      "that sold it well does not set its level alone (see _entry_weights); False: "
                                      "every order counts alike")
    room_lean: bool = Field(True, description="the room prior leans toward the room's declared vertical, the "
                            "categories it lists and its followers' mix, by as much as rooms with sales show (see "
                            "the module docstring); False: scale x audience mix ** audience_power")
    new_room_grace_days: float = Field(3.0, ge=0, description="a room with no order in the snapshot whose first "
                                       "listing is at most this many days old has not streamed yet (a new "
                                       "anchor's first shelf): its listings are not days on sale, so hours "
                                       "without a sale do not pull its scale and categories below its prior. A "
                                       "room quiet for longer is taken at its word (0: every listing counts)")


@dataclass
class ShelfRates:
    """The fitted factors; ``expected`` gives orders per 30 days if shelved."""

    quality: np.ndarray  # (products,) float32
    room: np.ndarray  # (anchors, categories) float32
    category: np.ndarray  # (products,) int32 column of `room` (categories sorted by name)
    categories: list[str]
    #: (products,) posterior gamma shape of quality (orders + the prior's pseudo-orders): its relative spread is
    #: 1 / sqrt(shape). None for artifacts before format 7.
    shape: np.ndarray | None = None

    def quality_quantile(self, q: float) -> np.ndarray:
        """Each good's q-quantile of quality over its mean (1 where the shape is unknown): what its expected
        orders become if its own pull is as low (q < 0.5) or high as the evidence still allows."""
        if self.shape is None:
            return np.ones(len(self.quality))
        shape = np.maximum(np.asarray(self.shape, np.float64), 1e-6)
        return gammaincinv(shape, q) / shape

    def range_factors(self, extra_log_sd: float = 0.0, level: float = 0.90) -> tuple[np.ndarray, np.ndarray]:
        """Each good's low and high point of a central range (`level`: 5% and 95% for 0.90) of its expected
        orders over their mean: the quality posterior's exact quantiles, or, with `extra_log_sd` (an error the
        posterior does not hold), those of its product with a log-normal of that sd, as one log-normal of the two
        variances summed (mean 1). That one log-normal is an approximation: for a good with under about one order
        of evidence (shape < 1) its low point sits well above the gamma's (at shape 0.5, 0.10 against 0.008)."""
        p = (1 + level) / 2
        if not extra_log_sd:
            return self.quality_quantile(1 - p), self.quality_quantile(p)
        shape = np.full(len(self.quality), np.inf) if self.shape is None else \
            np.maximum(np.asarray(self.shape, np.float64), 1e-6)
        var = np.log1p(1 / shape) + extra_log_sd ** 2
        z = float(ndtri(p))
        return np.exp(-var / 2 - z * np.sqrt(var)), np.exp(-var / 2 + z * np.sqrt(var))

    def expected(self, anchors: np.ndarray | int, rows: np.ndarray | None = None) -> np.ndarray:
        """Expected orders per 30 days of goods `rows` (all when None) in rooms `anchors` if shelved."""
        cat = self.category if rows is None else self.category[rows]
        q = self.quality if rows is None else self.quality[rows]
        return np.asarray(self.room[anchors])[..., cat] * (q * DAYS_PER_PERIOD)

    def pool(self, n: int, rows: np.ndarray | None = None) -> np.ndarray:
        """The `n` best goods of each category by quality (among `rows`): any room's top n goods are among
        them, since within a category every room orders goods by quality alone."""
        rows = np.arange(len(self.quality)) if rows is None else np.asarray(rows)
        order = rows[np.lexsort((rows, -self.quality[rows], self.category[rows]))]
        cat = self.category[order]
        first = np.searchsorted(cat, cat, side="left")
        return np.sort(order[np.arange(len(order)) - first < n])

    def top_goods(self, anchors: np.ndarray, n: int, rows: np.ndarray | None = None, batch: int = 256
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Each room's n goods with the most expected orders (among `rows`), best first: (rows, scores)."""
        pool = self.pool(n, rows)
        n = min(n, len(pool))
        out_rows = np.zeros((len(anchors), n), np.int32)
        out_scores = np.zeros((len(anchors), n), np.float32)
        for lo in range(0, len(anchors), batch):
            e = self.expected(np.asarray(anchors[lo:lo + batch]), pool)
            best = top_k(e, n)  # ties by column, i.e. by row number: the pool is sorted
            out_rows[lo:lo + batch] = pool[best]
            out_scores[lo:lo + batch] = np.take_along_axis(e, best, 1)
        return out_rows, out_scores

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "quality.npy", self.quality.astype(np.float32), allow_pickle=False)
        np.save(directory / "room.npy", self.room.astype(np.float32), allow_pickle=False)
        np.save(directory / "category.npy", self.category.astype(np.int32), allow_pickle=False)
        if self.shape is not None:
            np.save(directory / "quality_shape.npy", self.shape.astype(np.float32), allow_pickle=False)
        (directory / "categories.json").write_text(json.dumps(self.categories, ensure_ascii=False),
                                                   encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> ShelfRates:
        mode = "r" if mmap else None
        return cls(np.load(directory / "quality.npy", mmap_mode=mode, allow_pickle=False),
                   np.load(directory / "room.npy", mmap_mode=mode, allow_pickle=False),
                   np.load(directory / "category.npy", allow_pickle=False),
                   json.loads((directory / "categories.json").read_text(encoding="utf-8")),
                   np.load(directory / "quality_shape.npy", mmap_mode=mode, allow_pickle=False)
                   if (directory / "quality_shape.npy").exists() else None)


@dataclass
class _Entries:
    """Shelf entries (room, good) with their days on sale and the orders each one sold."""

    anchor: np.ndarray
    product: np.ndarray
    start: np.ndarray  # days since the first order when the entry went on sale (0 if listed earlier; `end` for a
    # room that has not streamed yet: _entries)
    days: np.ndarray  # days on sale up to the snapshot time
    order_entry: np.ndarray  # entry of each order
    order_day: np.ndarray  # whole days since the first order
    n_days: int
    end: float  # snapshot time in days since the first order


def _found(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each of the ascending `queries` is in `sorted_keys` (np.isin for sorted inputs, without its sort)."""
    if not len(sorted_keys):
        return np.zeros(len(queries), bool)
    at = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return sorted_keys[at] == queries


def _entries(m: Marketplace, grace_days: float = 0.0) -> _Entries:
    """The shelf, plus the (room, good) pairs that sold without a listing (on sale from their first order). A
    room with no order whose first listing is at most `grace_days` old (ShelfRateConfig.new_room_grace_days) has
    its listings on sale 0 days (from the snapshot time)."""
    o = m.orders
    n_p = len(m.product_ids)
    t0 = o["ordered_at"].min()
    end = max(float(days_between(t0, m.snapshot_time)), 1e-6)
    o_days = days_between(t0, o["ordered_at"])
    o_key = o["anchor"].to_numpy(np.int64) * n_p + o["product"].to_numpy(np.int64)
    s_key = m.shelf["anchor"].to_numpy(np.int64) * n_p + m.shelf["product"].to_numpy(np.int64)
    s_start = days_between(t0, m.shelf["listed_at"])
    # The orders' keys are looked up in sorted order: binary searches of 9M keys in random order took 8 s on
    # the large world (np.isin as much again), in sorted order they walk the shelf once.
    by_key = np.argsort(o_key)
    o_sorted = o_key[by_key]
    order = np.argsort(s_key, kind="stable")  # the shelf's order, kept unless unlisted pairs join it
    unlisted = ~_found(s_key[order], o_sorted)
    if unlisted.any():  # each unlisted pair, on sale from its first order
        keys, days = o_sorted[unlisted], o_days[by_key][unlisted]
        first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
        s_key = np.concatenate([s_key, keys[first]])
        s_start = np.concatenate([s_start, np.minimum.reduceat(days, first)])
        order = np.argsort(s_key, kind="stable")
    s_key, s_start = s_key[order], np.clip(s_start[order], 0, end)
    order_entry = np.empty(len(o_key), np.int64)
    order_entry[by_key] = np.searchsorted(s_key, o_sorted)
    room = s_key // n_p
    if grace_days > 0:  # rooms that have not streamed yet
        n_a = len(m.anchor_ids)
        first_listed = np.full(n_a, np.inf)
        np.minimum.at(first_listed, room, s_start)
        waiting = (np.bincount(o["anchor"].to_numpy(), minlength=n_a) == 0) & (first_listed >= end - grace_days)
        s_start[waiting[room]] = end
    return _Entries(anchor=room, product=s_key % n_p,
                    start=s_start, days=end - s_start, order_entry=order_entry,
                    order_day=np.minimum(o_days.astype(np.int64), int(np.ceil(end)) - 1),
                    n_days=int(np.ceil(end)), end=end)


def fan_taste_counts(m: Marketplace, group: np.ndarray, n_groups: int, click_weight: float = 0.0) -> np.ndarray:
    """(fans, groups): each fan's orders (not refunded) of goods in each group (`group`: each good's), plus its
    clicks in the click log at `click_weight` orders each.

    A fan's orders say what it bought where its rooms listed it; its clicks say what it looks at anywhere, and a
    fan with two orders has some twenty clicks: what a new room's followers like shows in them before the room
    sells anything."""
    n = len(m.fan_ids) * n_groups
    o = m.purchases
    counts = np.bincount(o["fan"].to_numpy(np.int64) * n_groups + group[o["product"].to_numpy()],
                         minlength=n).astype(np.float64)
    if click_weight > 0 and len(m.clicks):
        c = m.clicks
        counts += click_weight * np.bincount(c["fan"].to_numpy(np.int64) * n_groups + group[c["product"].to_numpy()],
                                             minlength=n)
    return counts.reshape(-1, n_groups)


def fan_category_mix(m: Marketplace, categories: np.ndarray, n_categories: int, smoothing: float,
                     click_weight: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(fans, categories) each fan's category mix (its orders and clicks: fan_taste_counts), smoothed toward the
    platform's; and the platform's mix."""
    bought = fan_taste_counts(m, categories, n_categories, click_weight)
    platform = bought.sum(axis=0) + 1.0
    platform /= platform.sum()
    return (bought + smoothing * platform) / (bought.sum(axis=1, keepdims=True) + smoothing), platform


def audience_mix(m: Marketplace, categories: np.ndarray, n_categories: int, smoothing: float,
                 engagement: sp.csr_matrix | None = None,
                 fan_mix: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(anchors, categories): the category mix its followers and buyers buy anywhere, engagement-weighted
    (`engagement`: the (anchors, fans) weights, anchor_fan_engagement(m) when not given; `fan_mix`:
    fan_category_mix(m, ...) when the caller has it).

    Rooms without fans or buyers take their vertical's mean mix, or the platform's."""
    fan_mix, platform = fan_mix or fan_category_mix(m, categories, n_categories, smoothing)
    mix = np.asarray((anchor_fan_engagement(m) if engagement is None else engagement) @ fan_mix)
    total = mix.sum(axis=1, keepdims=True)
    known = total[:, 0] > 0
    mix = np.divide(mix, total, out=np.zeros_like(mix), where=total > 0)
    fallback = np.tile(platform, (len(mix), 1))
    if "main_category" in m.anchors and known.any():
        vertical = pd.factorize(m.anchors["main_category"], sort=True)[0]
        sums = np.zeros((vertical.max() + 2, n_categories))
        np.add.at(sums, vertical[known], mix[known])  # -1 (no vertical) lands in the last row, unused
        has = sums[:-1].sum(axis=1) > 0
        ok = (vertical >= 0) & has[np.maximum(vertical, 0)]
        fallback[ok] = sums[vertical[ok]] / sums[vertical[ok]].sum(axis=1, keepdims=True)
    mix[~known] = fallback[~known]
    return mix


def good_features(m: Marketplace, e: _Entries, cat: np.ndarray) -> np.ndarray:
    """(products, k) standardised features a good's quality is predicted from before its own sales speak:
    how many rooms list it (anchors pick goods that sell), how long it has been listed, its commission, price
    against its category's median, brand, its shop's rating, refunds and violations where known, and how often
    fans click it where the snapshot has a click log (fans look at goods no room they follow lists, so clicks
    speak for goods nobody sold yet)."""
    p = m.products
    n_p = len(p)
    rooms = np.bincount(e.product, minlength=n_p)
    age = (m.snapshot_time - p["created_at"]).dt.total_seconds().to_numpy() / 86400
    price = p["price"].to_numpy(np.float64)
    median = pd.Series(price).groupby(cat).transform("median").to_numpy()
    cols = [np.log1p(rooms), np.log(np.clip(age, 1, 365)), np.log(p["commission_rate"].to_numpy(np.float64) + 0.01),
            np.log(price / median)]
    if "brand" in p:
        cols.append(p["brand"].notna().to_numpy(np.float64))
    for name, f in (("shop_rating", None), ("refund_rate", None), ("merchant_violations", np.log1p)):
        if name in p:
            v = p[name].to_numpy(np.float64)
            v = np.where(np.isfinite(v), v, np.nanmean(v) if np.isfinite(v).any() else 0.0)
            cols.append(f(v) if f else v)
    if len(m.clicks):
        cols.append(click_rate(m, age, cat))
    x = np.column_stack(cols)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def click_rate(m: Marketplace, age_days: np.ndarray, cat: np.ndarray, prior_days: float = 2.0) -> np.ndarray:
    """(products,) log clicks per day a good was in the click log (from its creation or the log's first day,
    whichever is later), shrunk toward its category's rate by `prior_days` days of it: a good listed this morning
    reads as its category's typical good, not as one nobody clicks, and a month without a click reads low."""
    clicks = np.bincount(m.clicks["product"].to_numpy(), minlength=len(m.products)).astype(np.float64)
    span = (m.snapshot_time - m.clicks["clicked_at"].min()).total_seconds() / 86400
    days = np.clip(age_days, 0.0, max(span, 0.0))
    typical = np.bincount(cat, clicks) / np.maximum(np.bincount(cat, days), 1e-9)
    return np.log((clicks + prior_days * typical[cat] + 1e-3) / (days + prior_days))


def _poisson_step(x: np.ndarray, n: np.ndarray, exposure: np.ndarray, beta: np.ndarray, ridge: float = 1.0
                  ) -> np.ndarray:
    """One Newton step of the Poisson regression n ~ Poisson(exposure x exp(x @ beta)) (ridge-penalised)."""
    mu = exposure * np.exp(np.clip(x @ beta, -30, 30))
    grad = x.T @ (n - mu) - ridge * beta
    hess = (x * mu[:, None]).T @ x + ridge * np.eye(len(beta))
    return beta + np.linalg.solve(hess, grad)


def room_features(m: Marketplace, e: _Entries, cat: np.ndarray, labels: pd.Index, mix: np.ndarray) -> np.ndarray:
    """(anchors, categories, 3) over the categories `labels` (the columns of `room`): is the category the room's
    declared vertical, the log share of its listings in the category (smoothed toward the platform's listing
    mix), and the log of its audience's category mix `mix`. What a room chooses to sell says where it is
    competent before any order does; what its fans buy says what they will buy from it."""
    n_a, n_c = len(m.anchor_ids), max(len(labels), 1)
    listed = np.bincount(e.anchor * n_c + cat[e.product], minlength=n_a * n_c).reshape(n_a, n_c).astype(float)
    platform = (listed.sum(axis=0) + 1.0) / (listed.sum() + n_c)
    share = (listed + platform) / (listed.sum(axis=1, keepdims=True) + 1.0)
    main = np.zeros((n_a, n_c))
    if "main_category" in m.anchors:
        code = labels.get_indexer(m.anchors["main_category"])
        main[np.flatnonzero(code >= 0), code[code >= 0]] = 1.0
    return np.stack([main, np.log(share), np.log(np.maximum(mix, 1e-12))], axis=2)


@dataclass
class _Lean:
    """The room prior's regression: log room[a, c] = scale[a] + level[c] + x[a, c] @ coef."""

    level: np.ndarray  # (categories,)
    coef: np.ndarray  # (features,)

    def prior(self, x: np.ndarray) -> np.ndarray:
        """(anchors, categories) the prior's category mix (rows sum to 1)."""
        log = self.level + x @ self.coef
        out = np.exp(log - log.max(axis=1, keepdims=True))
        return out / out.sum(axis=1, keepdims=True)


def _fit_lean(n: np.ndarray, exposure: np.ndarray, x: np.ndarray, start: _Lean, center: np.ndarray,
              prior_sd: float, steps: int = 8) -> _Lean:
    """Fit the room prior's regression on the cells rooms listed, from their orders against their exposure
    (days on sale x the goods' quality): a Poisson regression with a level per room and per category (the
    split of a category's level between its goods and its rooms is not known from the orders, so each
    category gets its own) and coefficients shrunk toward `center` (the prior without a lean) by a normal prior
    of sd `prior_sd` against their quasi-Poisson standard errors: with few rooms, or rooms that differ more than
    the features say, the lean stays near the audience prior.

    Fitted on orders rather than on the rooms' current strengths, since those equal the prior in every category
    a room never listed and would feed the prior back into its own fit."""
    listed = exposure > 0
    rows, cols = np.nonzero(listed)
    nn, ee, xx = n[rows, cols], exposure[rows, cols], x[rows, cols]
    n_r, n_c = n.shape
    level, coef = start.level.copy(), start.coef.copy()
    room_n, cat_n = np.maximum(np.bincount(rows, nn, n_r), 1e-3), np.bincount(cols, nn, n_c) + 0.5
    sold_in = cat_n > 0.5  # a category listed but never sold is not stepped either (it could only shrink)
    dof = max(len(nn) - n_r - n_c - len(coef), 1)
    for _ in range(steps):
        eta = level[cols] + xx @ coef
        room_mu = np.bincount(rows, ee * np.exp(eta), n_r)
        scale = np.log(room_n / np.maximum(room_mu, 1e-300))
        eta = eta + scale[rows]
        cat_mu = np.bincount(cols, ee * np.exp(eta), n_c)
        # half a pseudo-order of the category's current level: a category no room listed keeps its level
        step = np.where(sold_in, np.log(cat_n / (cat_mu + 0.5)), 0.0)
        level += step
        level -= level.mean()
        mu = ee * np.exp(eta + step[cols])
        dispersion = max(float(((nn - mu) ** 2 / np.maximum(mu, 1e-12)).sum()) / dof, 1.0)
        grad = xx.T @ (nn - mu) / dispersion - (coef - center) / prior_sd ** 2
        hess = (xx * mu[:, None]).T @ xx / dispersion + np.eye(len(coef)) / prior_sd ** 2
        coef = coef + np.linalg.solve(hess, grad)
    return _Lean(level, coef)


@dataclass
class FitState:
    """Where the alternating updates stand. The updates converge slowly along rooms and goods that few entries
    link (a room that sells goods no other room lists), so a later fit of nearly the same counts and exposure
    (the next burst round, the room x good term's next refit) starts here instead of from the priors."""

    quality: np.ndarray
    room: np.ndarray
    scale: np.ndarray
    calibration: np.ndarray  # (categories,) the room prior's level per category
    strength: float  # the quality prior's strength (pseudo-orders)
    prior_mix: np.ndarray
    beta: np.ndarray | None
    lean: _Lean | None


def _fit(e: _Entries, n: np.ndarray, cat: np.ndarray, prior_mix: np.ndarray, cfg: ShelfRateConfig,
         features: np.ndarray | None = None, room_x: np.ndarray | None = None, start: FitState | None = None,
         room_size: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, FitState]:
    """Alternating gamma-Poisson updates of (quality, room) for entry order counts `n`; also each good's
    posterior shape (its orders plus the prior's pseudo-orders: quality ~ Gamma(shape, shape / quality))."""
    n_a, n_c = prior_mix.shape
    n_p = len(cat)
    design = None
    if features is not None:
        design = np.column_stack([np.eye(n_c)[cat], features])
        beta = np.zeros(design.shape[1])
    ec = cat[e.product]
    cell = e.anchor * n_c + ec
    n_good = np.bincount(e.product, n, n_p)
    n_room = np.bincount(cell, n, n_a * n_c).reshape(n_a, n_c)
    room = prior_mix.copy()
    scale = np.ones(n_a)
    quality = np.ones(n_p)
    if room_x is not None:  # the lean starts at the audience prior: mix ** audience_power
        center = np.zeros(room_x.shape[2])
        center[-1] = cfg.audience_power
        lean = _Lean(np.zeros(n_c), center.copy())
    calibration = np.ones(n_c)
    strength = cfg.good_prior_orders
    if start is not None:
        quality, room, scale = start.quality.copy(), start.room.copy(), start.scale.copy()
        calibration, prior_mix, strength = start.calibration.copy(), start.prior_mix, start.strength
        if start.beta is not None and design is not None:
            beta = start.beta.copy()
        if start.lean is not None and room_x is not None:
            lean = start.lean
    room_orders = n_room.sum(axis=1)
    sold = room_orders > 0
    scale_strength = cfg.scale_prior_orders or 1.0
    orders_in = n_room.sum(axis=0)
    sold_in = orders_in > 0  # categories with orders
    listed = np.bincount(e.product, minlength=n_p) > 0
    listed_per_cat = np.maximum(np.bincount(cat[listed], minlength=n_c), 1)
    seen_design = None  # (seen, design[seen]): the goods on sale stay the same over the iterations, copied once
    for _ in range(cfg.iterations):
        unit = e.days * room.ravel()[cell]
        exposure = np.bincount(e.product, unit, n_p)
        seen = exposure > 0
        log_q = np.log(np.maximum(quality, 1e-12))
        typical = np.full(n_c, log_q[seen].mean() if seen.any() else 0.0)
        counts = np.bincount(cat[seen], minlength=n_c)
        means = np.bincount(cat[seen], log_q[seen], n_c)
        typical[counts > 0] = means[counts > 0] / counts[counts > 0]
        prior_q = np.exp(typical)[cat]
        if design is not None and seen.sum() >= MIN_GOODS_PER_FEATURE * design.shape[1]:
            if not beta.any():
                beta[:n_c] = typical
            if seen_design is None or not np.array_equal(seen_design[0], seen):
                seen_design = (seen, design[seen])
            beta = _poisson_step(seen_design[1], n_good[seen], exposure[seen], beta)
            # a prior, not a verdict: at most e^3 (20x) from the category's typical good
            prior_q = np.exp(typical[cat] + np.clip(design @ beta - typical[cat], -3, 3))
        if cfg.empirical_good_prior:  # each update from the last's answer: a step or two
            strength = prior_strength_ml(n_good[seen], exposure[seen] * prior_q[seen], start=strength)
        else:
            strength = cfg.good_prior_orders
        if cfg.good_overdispersion:
            w = _entry_weights(n, unit * quality[e.product])
            quality = (np.bincount(e.product, w * n, n_p) + strength) / (np.bincount(e.product, w * unit, n_p)
                                                                         + strength / prior_q)
        else:
            quality = (n_good + strength) / (exposure + strength / prior_q)
        room_exposure = np.bincount(cell, e.days * quality[e.product], n_a * n_c).reshape(n_a, n_c)
        # the room's scale: its orders over what its audience mix predicts, shrunk toward what rooms with sales
        # sell per follower times its followers (`room_size`; else the median room's) by as many pseudo-orders as
        # the rooms' orders show that prior deserves. Nearly no prior (1e-3 pseudo-orders, until 2026-12-03) let
        # a room that listed goods for hours and sold nothing yet fall to 1e-3 over its exposure: its every
        # expected order, and the yuan shown, near 0.
        typical = np.full(n_a, np.median(scale))
        if room_size is not None and (sized := sold & (room_size > 0)).any():
            per_fan = np.median(scale[sized] / room_size[sized])
            typical = np.where(room_size > 0, per_fan * room_size, typical)
        mix = prior_mix * calibration
        predicted = (room_exposure * mix).sum(axis=1)
        if cfg.scale_prior_orders is None and (predicted > 0).any():
            on_shelf = predicted > 0
            scale_strength = prior_strength_ml(room_orders[on_shelf], predicted[on_shelf] * typical[on_shelf],
                                               start=scale_strength)
        scale = (room_orders + scale_strength) / (predicted + scale_strength / typical)
        # the prior's level per category: the orders rooms sold in it over what the prior predicts (half an order
        # each side), geometric mean 1 (the scale holds the rest); none for a category nobody sold, where the ratio
        # could only shrink it. (Such a category's expected orders still move a little with each continued fit:
        # small seed 7 with one category's orders removed puts them at 3e-7 of the others' and +4 to +10% a refit,
        # far below anything that ranks. Our worlds have none; left.)
        predicted = (room_exposure * scale[:, None] * mix).sum(axis=0)
        calibration[sold_in] *= (orders_in[sold_in] + 0.5) / (predicted[sold_in] + 0.5)
        calibration /= np.exp(np.log(calibration).mean())
        prior_room = np.maximum(scale[:, None] * prior_mix * calibration, 1e-30)
        room = (n_room + cfg.room_prior_orders) / (room_exposure + cfg.room_prior_orders / prior_room)
        if room_x is not None and sold.any():  # how far rooms with sales lean from their audience's mix
            lean = _fit_lean(n_room[sold], room_exposure[sold], room_x[sold], lean, center, cfg.lean_prior_sd)
            prior_mix = lean.prior(room_x)
        # The data fix only the product quality x room per category, not how a category's level is split
        # between its goods and its rooms. Left free, that split drifts without end (a category's goods toward 0
        # and its rooms toward infinity: e^-44 and 1e16 after 300 updates on a medium world, where unseen goods
        # then outrank everything), so it is fixed: the listed goods of a category have geometric-mean quality
        # 1, and its rooms carry its level (the room prior through `calibration`).
        g = np.exp(np.bincount(cat[listed], np.log(np.maximum(quality[listed], 1e-300)), n_c) / listed_per_cat)
        quality /= g[cat]
        room *= g
        if design is not None:
            beta[:n_c] -= np.log(g)
    state = FitState(quality.copy(), room.copy(), scale.copy(), calibration.copy(), strength, prior_mix,
                   beta if design is not None else None, lean if room_x is not None else None)
    return quality, room, n_good + strength, state


def _entry_weights(n: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Each shelf entry's weight in its good's level: n ~ Poisson(mu x r) with r ~ Gamma(1 / tau2, 1 / tau2) (how the
    good fits the room beyond the model) makes the level's estimating equation sum w (n - mu) = 0 with
    w = 1 / (1 + tau2 mu); tau2 by moments over every entry, E[(n - mu)^2 - n] = tau2 mu^2. Where the rooms do not
    differ (tau2 = 0) every order counts alike, as in the Poisson fit."""
    tau2 = max(float(((n - mu) ** 2 - n).sum()) / max(float((mu ** 2).sum()), 1e-12), 0.0)
    return 1.0 / (1.0 + tau2 * mu)


@dataclass
class _DayCells:
    """What burst capping needs of the entries and orders that no round changes: each entry's (good, day) cells
    of its listing, the (good, day) cells with orders (a fraction of goods x days), each order's index among
    them and the orders in each (computed once, not per round)."""

    listed_next: np.ndarray  # entry's cell of the day after its listing day (in goods x (days + 1))
    listed_day: np.ndarray  # entry's cell of its listing day
    listed_part: np.ndarray  # the part of the listing day it was on sale
    sold: np.ndarray  # the (good, day) cells with orders, flat in goods x days, sorted
    order_cell: np.ndarray  # each order's index into `sold`
    raw: np.ndarray  # orders in each of `sold`

    @classmethod
    def of(cls, e: _Entries, n_p: int) -> _DayCells:
        n_d = e.n_days
        first = np.floor(e.start).astype(np.int64)
        flat = e.product[e.order_entry] * n_d + e.order_day
        per_cell = np.bincount(flat, minlength=n_p * n_d)  # np.unique's sort of the orders took seconds on large
        sold = np.flatnonzero(per_cell)
        index = np.cumsum(per_cell > 0) - 1
        return cls(e.product * (n_d + 1) + np.minimum(first + 1, n_d), e.product * n_d + np.minimum(first, n_d - 1),
                   np.where(e.days > 0, first + 1 - e.start, 0.0), sold, index[flat], per_cell[sold])


def _capped_counts(e: _Entries, cat: np.ndarray, quality: np.ndarray, room: np.ndarray, weights: np.ndarray,
                   cfg: ShelfRateConfig, prior_orders: float, cells: _DayCells | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Order weights with each good's burst days capped: a day's orders are limited to `burst_ratio` times what
    the good's other days predict for that day's exposure, plus Poisson noise and slack (the other days' rate
    shrunk toward the good's quality by `prior_orders`, the fit's quality prior strength). `cells`:
    _DayCells.of(e, goods), shared by the rounds. Only days with orders can be capped, so the caps are computed for
    those cells alone (the exposure needs every day)."""
    n_p, n_d = len(quality), e.n_days
    cells = cells or _DayCells.of(e, n_p)
    strength = room[e.anchor, cat[e.product]]
    # exposure per (good, day): full days after the listing day, the listed part of the listing day, the
    # last day only up to the snapshot time
    diff = np.bincount(cells.listed_next, strength, n_p * (n_d + 1))
    exposure = np.cumsum(diff.reshape(n_p, n_d + 1), axis=1)[:, :n_d]
    exposure += np.bincount(cells.listed_day, strength * cells.listed_part, n_p * n_d).reshape(n_p, n_d)
    exposure[:, -1] *= e.end - (n_d - 1)
    good = cells.sold // n_d
    counts = np.bincount(cells.order_cell, weights, len(cells.sold))
    day_exposure = exposure.ravel()[cells.sold]
    rate = ((np.bincount(good, counts, n_p)[good] - counts + prior_orders)
            / (exposure.sum(axis=1)[good] - day_exposure + prior_orders / quality[good]))
    expected = rate * day_exposure
    cap = cfg.burst_ratio * expected + cfg.burst_z * np.sqrt(expected) + cfg.burst_slack
    raw = cells.raw
    keep = np.where(raw > cap, cap / raw, 1.0)
    w = keep[cells.order_cell]
    return np.bincount(e.order_entry, w, len(e.anchor)), w


@dataclass
class ShelfFit:
    """A fitted model with what it was fitted on: the shelf entries (room, good, days on sale), each order's
    entry (rows of ``m.orders``) and its weight after burst capping, for models built on top of it."""

    rates: ShelfRates
    anchor: np.ndarray
    product: np.ndarray
    days: np.ndarray
    order_entry: np.ndarray
    order_weight: np.ndarray
    _entries: _Entries
    _counts: np.ndarray  # orders per entry, burst days capped
    _category: np.ndarray
    _prior_mix: np.ndarray
    _config: ShelfRateConfig

    _features: np.ndarray | None = None
    _room_x: np.ndarray | None = None
    state: FitState | None = None  # where the updates ended
    _room_size: np.ndarray | None = None  # followers per room: the scale prior's measure of a room

    @property
    def config(self) -> ShelfRateConfig:
        return self._config

    def refit(self, exposure: np.ndarray, start: FitState | None = None) -> tuple[ShelfRates, FitState]:
        """The model refitted with each entry's days on sale multiplied by `exposure` (a factor another model
        puts on the entry), burst capping kept as fitted, continuing from `start` (the state a previous refit
        returned; None: where this fit ended): a model refitting between its own rounds passes each refit's
        state to the next, and converges further with each (see FitState)."""
        e = dataclasses.replace(self._entries, days=self._entries.days * exposure)
        quality, room, shape, state = _fit(e, self._counts, self._category, self._prior_mix, self._config,
                                           self._features, self._room_x, start or self.state, self._room_size)
        return ShelfRates(quality.astype(np.float32), room.astype(np.float32), self.rates.category,
                          self.rates.categories, shape.astype(np.float32)), state


def fit_shelf_rates(m: Marketplace, cfg: ShelfRateConfig | None = None, engagement: sp.csr_matrix | None = None
                    ) -> ShelfRates | None:
    """Fit the model on a snapshot's shelf and orders; None when there is no shelf table (exposure unknown).
    `engagement` (anchors x fans, as anchor_fan_engagement) saves recomputing it when the caller has it."""
    fitted = fit_shelf(m, cfg, engagement)
    return None if fitted is None else fitted.rates


def has_exposure(m: Marketplace) -> bool:
    """Whether the snapshot says how long goods were on sale (a shelf table) and what sold: without both there is
    no shelf-rate model to fit."""
    return len(m.shelf) > 0 and len(m.orders) > 0


def fit_shelf(m: Marketplace, cfg: ShelfRateConfig | None = None, engagement: sp.csr_matrix | None = None,
              followers: sp.csr_matrix | None = None) -> ShelfFit | None:
    """`fit_shelf_rates` with the entries and order weights it was fitted on (`followers`: follower_matrix(m)
    when the caller has it)."""
    cfg = cfg or ShelfRateConfig()
    if not has_exposure(m):
        return None
    codes, labels = pd.factorize(m.products["category"], sort=True)
    n_c = max(len(labels), 1)
    cat = np.where(codes >= 0, codes, 0).astype(np.int64)  # a missing category (not allowed) would share 0
    e = _entries(m, cfg.new_room_grace_days)
    fan_mix = fan_category_mix(m, cat, n_c, cfg.audience_smoothing, cfg.click_weight)
    mix = audience_mix(m, cat, n_c, cfg.audience_smoothing, engagement, fan_mix)
    prior_mix = np.maximum(mix, 1e-12) ** cfg.audience_power
    prior_mix /= prior_mix.sum(axis=1, keepdims=True)
    n = np.bincount(e.order_entry, minlength=len(e.anchor)).astype(float)
    features = good_features(m, e, cat) if cfg.quality_features else None
    room_x = None
    followers = follower_matrix(m) if followers is None else followers
    room_size = np.asarray(followers.sum(axis=1), np.float64).ravel()
    if cfg.room_lean:  # the audience as a new room has it: its followers, without the buyers of its own sales
        follower_mix = audience_mix(m, cat, n_c, cfg.audience_smoothing, followers, fan_mix)
        room_x = room_features(m, e, cat, labels, follower_mix)
    quality, room, shape, state = _fit(e, n, cat, prior_mix, cfg, features, room_x, room_size=room_size)
    weights = np.ones(len(e.order_entry))
    cells = _DayCells.of(e, len(cat)) if cfg.burst_rounds else None
    for _ in range(cfg.burst_rounds):
        n, weights = _capped_counts(e, cat, quality, room, weights, cfg, state.strength, cells)
        quality, room, shape, state = _fit(e, n, cat, prior_mix, cfg, features, room_x, state, room_size)
    rates = ShelfRates(quality.astype(np.float32), room.astype(np.float32), cat.astype(np.int32),
                       [str(c) for c in labels], shape.astype(np.float32))
    return ShelfFit(rates, e.anchor, e.product, e.days, e.order_entry, weights, e, n, cat, prior_mix, cfg,
                    features, room_x, state, room_size)
