"""The room x good term of expected orders: how well a good fits a room's audience within its category.

The shelf-rate model (``recommender/shelf_rate.py``) says a room sells a good at ``room[a, c] x quality[p]``
orders per day: every room of a vertical orders its category's goods alike. Rooms differ within a category
because their audiences do: who the fans are and what they pay. This model multiplies two factors in:

    n[a, p] ~ Poisson(T[a, p] x room[a, c] x quality[p] x band[a, b(p)] x sum_t q[a, t] r[p, t])

* ``band[a, b]``: how the room sells goods of price band ``b`` (quintiles of the price relative to the
  category's median): a 下沉市场 room sells the cheap bands, a first-tier room the dear ones, and a room may
  convert one band better than another. One slope per room over band positions all rooms share
  (``_band_slope``), its prior from the room's audience: the price bands its followers and buyers buy
  anywhere, so a new room with fans but no sales gets one too.
* ``q[a, t]``: the room's audience over demographic cells ``t`` (gender x age band, as the fans table
  holds them), engagement-weighted; ``r[p, t]``: how strongly fans of cell ``t`` buy the good, relative to the
  rooms it was sold in. Fitted from who bought it (an order's fan has a cell), shrunk toward its category's
  typical response, so a good aimed at young women is pushed to rooms of young women and a good nobody bought
  keeps its category's response. A view is one such split: gender x age band, region, and, where the fans table
  has the platform's spending_level (消费水平), the fans' spending levels (``spending_level``); the term is the
  product of the views' sums.

The responses are closed-form gamma-Poisson updates and the slopes a few Newton steps, alternated with the base
model's updates, all vectorised; they act on the base model like extra days of exposure, so the base fit is
reused unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field
from sklearn.cluster import KMeans

from recommender.arrays import cell_sums, top_k
from recommender.contract import Marketplace
from recommender.priors import prior_strength
from recommender.profiles import spending_levels
from recommender.settings import Settings
from recommender.shelf_rate import ShelfFit, ShelfRates, fan_category_mix, fan_taste_counts
from recommender.threads import available_cores
from recommender.title_audience import DEMO_CLASSES, TitleWords, title_demographics, title_origin

_log = logging.getLogger(__name__)

BANDS = 5


class AudienceFitConfig(Settings):
    """Priors and rounds of the room x good term."""

    enabled: bool = Field(True, description="fit the room x good term and serve its expected orders (False: the "
                          "category x quality model alone)")
    band_prior_orders: float = Field(3.0, gt=0, description="gamma prior shape of a room's band factor (without "
                                     "empirical_priors)")
    band_audience_power: float = Field(1.0, ge=0, description="band prior = (the audience's band mix / the "
                                       "platform's) ** this")
    response_prior_orders: float = Field(4.0, gt=0, description="gamma prior shape of a good's response per "
                                         "audience cell (without empirical_priors)")
    rounds: int = Field(3, ge=1, le=20, description="alternations of the base model and the two factors")
    empirical_priors: bool = Field(True, description="prior strengths from the data (moments of the counts) "
                                   "instead of the two fixed ones above")
    response_profiles: int = Field(8, ge=0, le=256, description="audience-response profiles shared across goods (a "
                                   "mixture fitted by EM): a good's response is shrunk toward the profiles its buyers "
                                   "match instead of its category's typical response (0: the category's)")
    price_levels: int = Field(0, ge=0, le=10, description="a third view: fans in this many price levels (quantiles of "
                              "the mean relative price of what they bought), each good's response to them shrunk "
                              "toward that of goods of its category and price decile (0: no such view)")
    spending_level: bool = Field(True, description="where the fans table has a spending_level (消费水平, the "
                                 "platform's estimate from all of a fan's spending), use it: as the price-level view "
                                 "(in place of the levels from purchases) and in the band prior (a fan's band mix "
                                 "starts from that of its level's fans)")
    spending_prior_orders: float = Field(2.0, ge=0, description="a fan's band mix gets this many pseudo-orders of "
                                         "the band mix of fans of its spending level")
    title_prior: bool = Field(True, description="group a category's goods by what their titles say (the audience "
                              "words' gender and age, the place of origin) for the mix of response profiles a good "
                              "starts from: a good with few orders starts from its title's group")
    title_prior_goods: float = Field(5.0, gt=0, description="a title group's mix of profiles is shrunk toward its "
                                     "category's by this many goods")
    category_audience: bool = Field(True, description="the gender x age view's audience per category: a room's "
                                    "fans each weighted by how much of what they buy is in the good's category, so "
                                    "its audience for a 美妆 good is the fans who buy 美妆")
    category_audience_smoothing: float = Field(2.0, gt=0, description="a fan's category weights = (orders in it + "
                                               "this x the platform's share) / (orders + this)")
    band_form: Literal["slope", "free"] = Field("slope", description="a room's band factor: one log-linear slope "
                                                "over the bands per room, normal prior around what its audience "
                                                "predicts; or free per band, gamma-Poisson toward the audience prior")
    band_slope_sd: float = Field(0.3, gt=0, description="prior sd of a room's slope about its audience's prediction "
                                 "(log conversion per band; band_form slope without empirical_priors)")
    band_shape_rounds: int = Field(3, ge=0, le=10, description="alternations fitting the bands' positions along the "
                                   "slope, shared by all rooms (band_form slope; 0: evenly spaced)")
    room_groups: int = Field(16, ge=1, le=1024, description="groups of rooms with similar audiences; the service "
                             "bounds a good's audience term per group (more groups: tighter bounds, fewer goods "
                             "scored per request, a sort of the catalogue per group at load)")


@dataclass
class View:
    """One way of splitting fans into cells (gender x age band, or region): each room's audience over the cells
    and each good's response to them."""

    name: str
    audience: np.ndarray  # (anchors, cells): q, rows sum to 1 (0 for rooms without known fans)
    response: np.ndarray  # (products, cells): r
    labels: list[str] | None = None  # each cell's name, e.g. "女 18-23"
    #: (anchors, categories, cells) the room's audience for goods of each category (its fans weighted by their
    #: share of orders there), None: `audience` for every category
    by_category: np.ndarray | None = None
    category: np.ndarray | None = None  # (products,) each good's category, with by_category

    def fit(self, anchors: np.ndarray | int, rows: np.ndarray | None = None) -> np.ndarray:
        resp = self.response if rows is None else self.response[rows]
        q = np.asarray(self.audience[anchors])
        known = q.sum(axis=-1, keepdims=True) > 0
        if self.by_category is None:
            # one room by einsum, not a matrix product: BLAS picks its kernel by the number of goods, and a good's
            # figure then changed in its 7th digit with the page size (¥469,598.31 at k=1, .34 at k=2)
            return np.where(known, np.einsum("j,ij->i", q, resp) if q.ndim == 1 else q @ resp.T, 1.0)
        cat = self.category if rows is None else self.category[rows]
        qc = np.asarray(self.by_category[anchors])
        if qc.ndim == 2:  # one room: each good's row of the room's audience
            return np.where(known, np.einsum("ij,ij->i", qc[cat], resp), 1.0)
        out = np.empty((*qc.shape[:-2], len(cat)))
        order, blocks = _category_blocks(cat, qc.shape[-2])
        for c, lo, hi in blocks:
            out[..., order[lo:hi]] = qc[..., c, :] @ resp[order[lo:hi]].T
        return np.where(known, out, 1.0)

    def entries(self, anchor: np.ndarray, product: np.ndarray, chunk: int = 500_000) -> np.ndarray:
        """sum_t q[a, t] r[p, t] for (room, good) pairs (1 for rooms without known fans)."""
        out = np.empty(len(anchor))
        known = self.audience.sum(axis=1) > 0
        for lo in range(0, len(anchor), chunk):
            a, p = anchor[lo:lo + chunk], product[lo:lo + chunk]
            qa = self.audience[a] if self.by_category is None else self.by_category[a, self.category[p]]
            out[lo:lo + chunk] = np.where(known[a], np.einsum("ij,ij->i", qa, self.response[p]), 1.0)
        return out


@dataclass
class AudienceRates:
    """Expected orders if shelved with the room x good term; ``expected`` as ShelfRates.expected."""

    base: ShelfRates
    band: np.ndarray  # (products,) price band 0..BANDS-1
    band_factor: np.ndarray  # (anchors, BANDS)
    views: list[View]
    group: np.ndarray | None = None  # (anchors,) group of rooms with similar audiences
    bound: np.ndarray | None = None  # (products, groups) the most the audience term reaches in a group's rooms

    def term(self, anchors: np.ndarray | int, rows: np.ndarray | None = None) -> np.ndarray:
        """The audience term prod_v q_v[a] . r_v[p] alone (without the band factor)."""
        out = 1.0
        for view in self.views:
            out = out * view.fit(anchors, rows)
        n = len(self.band) if rows is None else len(rows)
        return np.broadcast_to(out, (*np.shape(anchors), n)) if np.isscalar(out) else out

    def term_pairs(self, anchors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The audience term of (room, good) pairs: room anchors[i] with good rows[i]."""
        return np.asarray(_product([view.entries(anchors, rows) for view in self.views]) * np.ones(len(anchors)))

    def with_bounds(self, groups: int, seed: int = 0, chunk: int = 32) -> AudienceRates:
        """The rates with rooms grouped by audience (k-means over the views' audiences side by side) and, per
        group, each good's largest audience term over the group's rooms (exact, with a 1e-4 margin for
        rounding): what lets the service rank exactly while scoring few goods."""
        n_a = len(self.band_factor)
        q = _side_by_side([v.audience for v in self.views], self.band_factor)
        k = max(1, min(groups, n_a, len(np.unique(q, axis=0)) if n_a else 1))
        group = (KMeans(k, n_init=1, random_state=seed).fit_predict(q) if k > 1 and q.shape[1]
                 else np.zeros(n_a, np.int64))
        bound = np.zeros((len(self.band), k), np.float32)

        known = [np.asarray(v.audience).sum(axis=1) > 0 for v in self.views]
        by_category = [v for v in self.views if v.by_category is not None]
        if by_category:  # goods sorted by category: each category's goods a contiguous block of every response
            order, blocks = _category_blocks(by_category[0].category, by_category[0].by_category.shape[1])
            responses = [np.asarray(v.response)[order] for v in self.views]
            filled = np.zeros_like(bound)  # in that order
        else:  # one block of every good, in row order
            order, blocks, responses, filled = None, [(-1, 0, len(self.band))], [v.response for v in self.views], bound

        def fill(g: int) -> None:  # one group's column; numpy releases the GIL, so groups run on every core
            rooms = np.flatnonzero(group == g)
            for lo in range(0, len(rooms), chunk):
                # self.term(rooms) with fewer passes over the (rooms, goods) block: the product in place, and
                # np.where only where a room's audience is unknown (the same float32 values)
                part = rooms[lo:lo + chunk]
                for c, first, last in blocks:
                    t = None
                    for view, has, resp in zip(self.views, known, responses, strict=True):
                        q = view.audience[part] if view.by_category is None else view.by_category[part, c]
                        f = np.asarray(q) @ resp[first:last].T
                        if not has[part].all():
                            f = np.where(has[part][:, None], f, 1.0)
                        t = f if t is None else np.multiply(t, f, out=t)
                    if t is None:
                        t = np.ones((len(part), last - first))
                    np.maximum(filled[first:last, g], np.asarray(t, np.float32).max(axis=0),
                               out=filled[first:last, g])

        with ThreadPoolExecutor(available_cores()) as pool:
            list(pool.map(fill, range(k)))
        if order is not None:
            bound[order] = filled
        return dataclasses.replace(self, group=group.astype(np.int32), bound=bound * np.float32(1 + 1e-4))

    def fit(self, anchors: np.ndarray | int, rows: np.ndarray | None = None) -> np.ndarray:
        """The room x good factor of goods `rows` (all when None) in rooms `anchors`."""
        band = self.band if rows is None else self.band[rows]
        return np.asarray(self.band_factor[anchors])[..., band] * self.term(anchors, rows)

    def expected(self, anchors: np.ndarray | int, rows: np.ndarray | None = None) -> np.ndarray:
        return self.base.expected(anchors, rows) * self.fit(anchors, rows)

    def top_goods(self, anchors: np.ndarray, n: int, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Each room's n goods with the most expected orders, best first, over the whole catalogue (offline:
        evaluation and benchmarks; the service searches with bounds): (rows, expected orders)."""
        n = min(n, len(self.band))
        rows, scores = np.zeros((len(anchors), n), np.int64), np.zeros((len(anchors), n), np.float32)
        for lo in range(0, len(anchors), batch):
            e = self.expected(np.asarray(anchors[lo:lo + batch]))
            best = top_k(e, n)
            rows[lo:lo + batch], scores[lo:lo + batch] = best, np.take_along_axis(e, best, 1)
        return rows, scores

    def save(self, directory: Path) -> None:
        """The factors as .npy (views side by side in one audience and one response matrix) and the views'
        names and cell labels as JSON; the base model is saved on its own (shelf_rate/)."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / "band.npy", self.band.astype(np.int8), allow_pickle=False)
        np.save(directory / "band_factor.npy", self.band_factor.astype(np.float32), allow_pickle=False)
        np.save(directory / "audience.npy", _side_by_side([v.audience for v in self.views], self.band_factor),
                allow_pickle=False)
        np.save(directory / "response.npy", _side_by_side([v.response for v in self.views], self.band[:, None]),
                allow_pickle=False)
        by_category = [v.by_category.reshape(len(v.by_category), -1) for v in self.views if v.by_category is not None]
        if by_category:
            np.save(directory / "by_category.npy", _side_by_side(by_category, self.band_factor), allow_pickle=False)
        views = [{"name": v.name, "labels": list(v.labels or map(str, range(v.response.shape[1]))),
                  **({"by_category": True} if v.by_category is not None else {})} for v in self.views]
        (directory / "views.json").write_text(json.dumps(views, ensure_ascii=False), encoding="utf-8")
        if self.bound is not None and self.group is not None:
            np.save(directory / "group.npy", self.group.astype(np.int32), allow_pickle=False)
            np.save(directory / "bound.npy", self.bound.astype(np.float32), allow_pickle=False)

    @classmethod
    def from_arrays(cls, base: ShelfRates, band: np.ndarray, band_factor: np.ndarray, audience: np.ndarray,
                    response: np.ndarray, views: list[dict], group: np.ndarray | None = None,
                    bound: np.ndarray | None = None, by_category: np.ndarray | None = None) -> AudienceRates:
        """The model from its saved parts (as the artifact loader opened them)."""
        out, at, at_c = [], 0, 0
        n_c = len(base.categories)
        for v in views:
            n = len(v["labels"])
            view = View(v["name"], audience[:, at:at + n], response[:, at:at + n], list(v["labels"]))
            if v.get("by_category"):
                if by_category is None or by_category.shape[1] < at_c + n_c * n:
                    raise ValueError(f"view {v['name']} has an audience per category; by_category.npy holds "
                                     f"{0 if by_category is None else by_category.shape[1]} of its columns")
                view.by_category = by_category[:, at_c:at_c + n_c * n].reshape(len(by_category), n_c, n)
                view.category = np.asarray(base.category, np.int64)
                at_c += n_c * n
            out.append(view)
            at += n
        if at != audience.shape[1] or at != response.shape[1]:
            raise ValueError(f"the views name {at} cells; audience has {audience.shape[1]}, response "
                             f"{response.shape[1]}")
        if by_category is not None and at_c != by_category.shape[1]:
            raise ValueError(f"the views name {at_c} columns per category; by_category has {by_category.shape[1]}")
        if (group is None) != (bound is None):
            raise ValueError("group and bound come together")
        if group is not None and len(group) and not 0 <= int(group.min()) <= int(group.max()) < bound.shape[1]:
            raise ValueError(f"group holds groups {int(group.min())}-{int(group.max())}; bound has {bound.shape[1]}")
        return cls(base, np.asarray(band, np.int64), band_factor, out, group, bound)


def _category_blocks(category: np.ndarray, n_categories: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """The goods sorted by category (stable: each category's goods in row order) and each non-empty category's
    (category, first, last) slice of that order: what a view with an audience per category works through."""
    order = np.argsort(category, kind="stable")
    counts = np.bincount(category, minlength=n_categories)
    ends = np.cumsum(counts)
    return order, [(c, int(hi - n), int(hi)) for c, (n, hi) in enumerate(zip(counts, ends, strict=True)) if n]


def _side_by_side(parts: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    return (np.concatenate(parts, axis=1) if parts else np.zeros((len(like), 0))).astype(np.float32)


def price_bands(m: Marketplace, bands: int = BANDS) -> np.ndarray:
    """Each good's price band: the quantile of its price among its category's goods (0 cheapest)."""
    p = m.products
    rank = p.groupby("category")["price"].rank(pct=True, method="average").to_numpy()
    return np.minimum((rank * bands).astype(np.int64), bands - 1)


PRICE_DECILES = 10  # price-level view: a good's response prior is that of its category's goods in its decile
LEVEL_LABELS = {2: ["低价位买家", "高价位买家"], 3: ["低价位买家", "中等价位买家", "高价位买家"]}


def relative_log_price(m: Marketplace) -> np.ndarray:
    """Each good's log price over its category's median."""
    p = m.products
    price = p["price"].to_numpy(np.float64)
    median = pd.Series(price).groupby(p["category"].to_numpy()).transform("median").to_numpy()
    return np.log(np.maximum(price, 1e-6) / np.maximum(median, 1e-6))


def fan_price_levels(m: Marketplace, levels: int, shrink: float = 2.0) -> tuple[np.ndarray, list[str]]:
    """Each fan's price level (-1 without purchases): quantiles of the mean relative log price of what it
    bought (shrunk toward 0 by `shrink` pseudo-purchases), so a fan of a 下沉市场 room that buys the cheap end of
    every category is told from a big spender without a price level in the fans table."""
    o = m.purchases
    x = relative_log_price(m)[o["product"].to_numpy()]
    n_f = len(m.fan_ids)
    fan = o["fan"].to_numpy()
    count = np.bincount(fan, minlength=n_f)
    mean = np.bincount(fan, x, n_f) / (count + shrink)
    known = count > 0
    cell = np.full(n_f, -1, np.int64)
    if known.any():
        cuts = np.quantile(mean[known], np.arange(1, levels) / levels)
        cell[known] = np.searchsorted(cuts, mean[known], side="right")
    labels = LEVEL_LABELS.get(levels) or [f"价位{i + 1}/{levels} 买家" for i in range(levels)]
    return cell, labels


def fan_cells(m: Marketplace, price_levels: int = 0, spending: bool = True
              ) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Each view's cell of every fan (-1 where unknown) and the cells' labels: gender x age band, and region,
    as far as the fans table holds them; the price level from its spending_level where it has one (`spending`),
    else with `price_levels`, the fans' price levels from their purchases."""
    f, out = m.fans, {}
    if "gender" in f and "age_band" in f:
        g, genders = pd.factorize(f["gender"], sort=True)
        a, ages = pd.factorize(f["age_band"], sort=True)
        out["gender_age"] = (np.where((g >= 0) & (a >= 0), g * max(len(ages), 1) + a, -1).astype(np.int64),
                             [f"{gender} {age}" for gender in genders for age in ages])
    if "region" in f:
        r, regions = pd.factorize(f["region"], sort=True)
        out["region"] = (r.astype(np.int64), [str(x) for x in regions])
    said = spending_levels(m) if spending else None
    if said is not None:
        out["price_level"] = said
        if price_levels > 1:  # one price-level view: the platform's estimate wins
            _log.warning("audience_fit.price_levels = %d is not used: the fans table has spending_level, which "
                         "takes the price-level view (set audience_fit.spending_level = false to use the levels "
                         "from purchases)", price_levels)
    elif price_levels > 1 and len(m.purchases):
        out["price_level"] = fan_price_levels(m, price_levels)
    return {name: v for name, v in out.items() if v[1]}


def category_audiences(m: Marketplace, engagement: sp.csr_matrix, cell: np.ndarray, n_cells: int,
                       category: np.ndarray, n_categories: int, smoothing: float, click_weight: float = 0.0
                       ) -> np.ndarray:
    """(anchors, categories, cells): each room's engagement-weighted audience over `cell`'s cells, each fan
    weighted by its share of orders in the category (smoothed toward the platform's; its clicks counted as
    `click_weight` orders each), rows summing to 1 (0 for rooms without known fans): who among a room's fans buys
    美妆 decides how a 美妆 good fits the room."""
    n_f = len(m.fan_ids)
    weight, _ = fan_category_mix(m, category, n_categories, smoothing, click_weight)
    # the engagement's entries regrouped by (room, the fan's cell) as rows: one sparse x dense product sums each
    # (room, cell)'s fans' category weights (a product with a (fans, categories x cells) matrix took 14 s over
    # the 20M entries of a large market)
    engagement = sp.csr_matrix(engagement)
    n_a, fan, value = engagement.shape[0], engagement.indices, engagement.data
    row = np.repeat(np.arange(n_a, dtype=np.int64) * n_cells, np.diff(engagement.indptr))
    row += cell[fan]
    if (cell < 0).any():  # fans of no known cell left out (copies only then: every fan's cell is the usual case)
        known = cell[fan] >= 0
        row, fan, value = row[known], fan[known], value[known]
    by_cell = sp.csr_matrix((value, (row, fan)), shape=(n_a * n_cells, n_f))
    q = np.ascontiguousarray((by_cell @ weight).reshape(-1, n_cells, n_categories).transpose(0, 2, 1))
    total = q.sum(axis=2, keepdims=True)
    return np.divide(q, total, out=np.zeros_like(q), where=total > 0)


def _audiences(engagement: sp.csr_matrix, cells: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Each view's (anchors, cells) engagement-weighted audience over its cells (`cells`: every fan's cell, -1
    where unknown, and the number of cells), rows summing to 1 (0 if unknown); one pass shared by the views."""
    out = []
    for q in cell_sums(engagement, cells):
        total = q.sum(axis=1, keepdims=True)
        out.append(np.divide(q, total, out=np.zeros_like(q), where=total > 0))
    return out


def _title_says(words: TitleWords | None, view: str, labels: list[str]) -> tuple[np.ndarray, int] | None:
    """What each good's title says that bears on a view (its class, and the number of classes), None where the
    view has no such words or no title says any: the gender and age its audience words name for the
    demographic view, the region it names as its origin for the region view."""
    if words is None:
        return None
    if view == "gender_age":
        said, n_said = title_demographics(words), DEMO_CLASSES
    elif view == "region":
        said, n_said = title_origin(words, labels), len(labels) + 1
    else:
        return None
    return (said, n_said) if said.any() else None


def _band_prior(m: Marketplace, band: np.ndarray, engagement: sp.csr_matrix, power: float,
                click_weight: float = 0.0, levels: np.ndarray | None = None, level_orders: float = 0.0
                ) -> np.ndarray:
    """(anchors, BANDS): (the bands its audience buys, or clicks, anywhere / the platform's) ** power, 1 without
    history. With the fans' spending `levels`, each fan's mix starts from `level_orders` pseudo-orders of its
    level's fans' mix, so a fan with no history still says which bands it buys."""
    bought = fan_taste_counts(m, band, BANDS, click_weight)
    if levels is not None and level_orders > 0:
        bought = with_level_mix(bought, levels, level_orders)
    platform = bought.sum(axis=0) + 1.0
    platform /= platform.sum()
    mix = np.asarray(engagement @ bought) + platform * 5.0  # 5 pseudo-orders of the platform mix
    mix /= mix.sum(axis=1, keepdims=True)
    return (mix / platform) ** power


def with_level_mix(counts: np.ndarray, levels: np.ndarray, pseudo: float) -> np.ndarray:
    """(fans, groups) `counts` plus `pseudo` counts of the mix of all fans of the same level (`levels`, -1
    unknown: those rows unchanged). A fan who bought little is read mostly as its level buys; one who bought much,
    as itself."""
    known = levels >= 0
    out = counts.astype(np.float64, copy=True)
    if not known.any():
        return out
    mix = _sum_rows(levels[known], counts[known], int(levels[known].max()) + 1) + 1.0
    mix /= mix.sum(axis=1, keepdims=True)
    out[known] += pseudo * mix[levels[known]]
    return out


def fit_audience_rates(m: Marketplace, fitted: ShelfFit, engagement: sp.csr_matrix,
                       cfg: AudienceFitConfig | None = None) -> AudienceRates:
    """Fit the band factor and each view's response around a fitted base model (its entries and order weights,
    burst days capped), refitting the base model with them as extra exposure between rounds."""
    cfg = cfg or AudienceFitConfig()
    if len(m.orders) != len(fitted.order_entry):
        raise ValueError(f"the shelf fit has {len(fitted.order_entry)} orders, the snapshot {len(m.orders)}: "
                         "fit both on the same snapshot")
    base = fitted.rates
    ea, ep, days = fitted.anchor, fitted.product, fitted.days
    order_entry, order_weight = fitted.order_entry, fitted.order_weight
    n_a, n_p = base.room.shape[0], len(base.quality)
    band = price_bands(m)
    eb, ec = band[ep], np.asarray(base.category, np.int64)[ep]
    cat_of = np.asarray(base.category, np.int64)
    cells = fan_cells(m, cfg.price_levels, cfg.spending_level)
    spending = spending_levels(m) if cfg.spending_level else None
    prior_band = _band_prior(m, band, engagement, cfg.band_audience_power, fitted.config.click_weight,
                             None if spending is None else spending[0], cfg.spending_prior_orders)
    entry_band, entry_cat = ea * BANDS + eb, ea * base.room.shape[1] + ec  # flat (room, band), (room, category)
    n_band = np.bincount(entry_band, np.bincount(order_entry, order_weight, len(ea)), n_a * BANDS)
    n_band = n_band.reshape(n_a, BANDS)

    views, counts = [], []
    order_fan, order_good = m.orders["fan"].to_numpy(), ep[order_entry]
    decile = np.minimum((pd.Series(relative_log_price(m)).groupby(cat_of).rank(pct=True).to_numpy()
                         * PRICE_DECILES).astype(np.int64), PRICE_DECILES - 1)
    price_group = cat_of * PRICE_DECILES + decile
    audiences = _audiences(engagement, [(cell, len(labels)) for cell, labels in cells.values()])
    for (name, (cell, labels)), audience in zip(cells.items(), audiences, strict=True):
        n_cells = len(labels)
        views.append(View(name, audience, np.ones((n_p, n_cells)), labels))
        if cfg.category_audience and name == "gender_age":
            views[-1].by_category = category_audiences(m, engagement, cell, n_cells, cat_of, len(base.categories),
                                                       cfg.category_audience_smoothing, fitted.config.click_weight)
            views[-1].category = cat_of
        o_cell = cell[order_fan]
        if (o_cell >= 0).all():  # every buyer's cell known (the usual case): no copies of the 9M orders
            idx, weight = order_good * n_cells + o_cell, order_weight
        else:
            known = o_cell >= 0
            idx, weight = order_good[known] * n_cells + o_cell[known], order_weight[known]
        counts.append(np.bincount(idx, weight, n_p * n_cells).reshape(n_p, n_cells))
    words = TitleWords.of(m.products["title"]) if cfg.title_prior and "title" in m.products else None
    said = [_title_says(words, name, labels) for name, (_, labels) in cells.items()]
    by_good = _ByGood.of(ea, ep, n_p)
    band_factor = prior_band.copy()
    room_sums = [v.audience.sum(axis=1) for v in views]  # 1 for a room with known fans, 0 without
    unknown = [np.flatnonzero(~(total > 0)[ea]) for total in room_sums]  # entries of rooms without fans
    # each view's fit of the entries, kept up to date as its response changes; with the responses still 1, the
    # room's audience summed (what the product with them sums, in another order: 1 up to rounding)
    view_fit = [np.where(total > 0, total, 1.0)[ea] for total in room_sums]
    state = fitted.state  # each refit continues the last
    for round_ in range(cfg.rounds):
        if round_ > 0:  # the base model again, with the factors as extra exposure
            base, state = fitted.refit(band_factor.ravel()[entry_band] * _product(view_fit), state)
        # 1-d gathers by flat index: the same values as band_factor[ea, eb] and room[ea, ec], faster
        unit = days * np.asarray(base.room).ravel()[entry_cat].astype(np.float64) * np.asarray(base.quality)[ep]
        # the room's band factor, given the views
        others = _product(view_fit)
        exposure = np.bincount(entry_band, unit * others, n_a * BANDS).reshape(n_a, BANDS)
        if cfg.band_form == "free":
            strength = (prior_strength(n_band, exposure * prior_band) if cfg.empirical_priors
                        else cfg.band_prior_orders)
            band_factor = (n_band + strength) / (exposure + strength / prior_band)  # factor ~ Gamma(k, k / prior)
        else:
            band_factor = _band_slope(n_band, exposure, prior_band, cfg.band_slope_sd, cfg.empirical_priors,
                                      cfg.band_shape_rounds)
        room_level = (exposure * band_factor).sum(axis=1) / np.maximum(exposure.sum(axis=1), 1e-12)
        has = exposure.sum(axis=1) > 0
        band_factor[has] /= room_level[has, None]  # its level belongs to the room's strength
        band_factor[~has] /= prior_band[~has].mean(axis=1, keepdims=True)
        # each view's response, given the band factor and the other views
        unit_band = unit * band_factor.ravel()[entry_band]
        for i, view in enumerate(views):
            per = unit_band * _product([f for j, f in enumerate(view_fit) if j != i])
            by_price = view.name == "price_level"
            view.response = _response(view, counts[i], per, ea, ep, cat_of, len(base.categories),
                                      None if cfg.empirical_priors else cfg.response_prior_orders,
                                      0 if by_price else cfg.response_profiles,
                                      (price_group, len(base.categories) * PRICE_DECILES) if by_price else None,
                                      by_good, said[i], cfg.title_prior_goods)
            view_fit[i] = _entry_fit(view, ea, ep, unknown[i])
    # the base model once more, so its levels match the factors as they ended
    base, _ = fitted.refit(band_factor.ravel()[entry_band] * _product(view_fit), state)
    return AudienceRates(base, band, band_factor.astype(np.float32),
                         [View(v.name, v.audience.astype(np.float32), v.response.astype(np.float32), v.labels,
                               None if v.by_category is None else v.by_category.astype(np.float32), v.category)
                          for v in views])


def _band_slope(n: np.ndarray, exposure: np.ndarray, prior: np.ndarray, sd: float, empirical: bool = True,
                shape_rounds: int = 3, steps: int = 8) -> np.ndarray:
    """(rooms, BANDS) exp(s[a] x u[b]): one log-linear response to the price band per room.

    Five free factors per room rest on a few hundred orders at most; the conversion of a room by price band is
    mostly one number, how much it leans to dear or cheap goods. s[a] is the posterior mode given the room's
    orders per band `n` against their `exposure` (a per-room level profiled out), under a normal prior around
    what its audience predicts: a + b x the slope of log `prior` (the bands its fans buy anywhere), a and b the
    regression of the rooms' own slopes on it weighted by their precision, so a room without sales gets the
    slope of rooms whose audiences lean like its own. The prior's sd is the rooms' spread about that
    regression beyond their sampling noise (by moments; `sd` when not `empirical`): where rooms do not differ
    (a world without conversion by band) every room keeps its audience's slope. u starts evenly spaced and,
    over `shape_rounds` alternations, is fitted to all rooms' orders (a shared shape: conversion need not be
    linear in the band)."""
    u = np.arange(BANDS) - (BANDS - 1) / 2
    norm = np.sqrt(u @ u)
    x = np.log(prior) @ u / (u @ u)
    total = n.sum(axis=1)

    def fitted(s: np.ndarray) -> np.ndarray:
        w = exposure * np.exp(s[:, None] * u)
        return w * (total / np.maximum(w.sum(axis=1), 1e-300))[:, None]

    def mode(center: np.ndarray, sd: float) -> tuple[np.ndarray, np.ndarray]:
        """Each room's slope and the information its orders hold about it (0 without orders)."""
        s = center.copy()
        for _ in range(steps):  # Newton on the profile log-likelihood (concave), damped: lopsided rooms overshoot
            mu = fitted(s)
            m1 = mu @ u
            info = mu @ (u * u) - m1**2 / np.maximum(mu.sum(axis=1), 1e-300)
            step = (n @ u - m1 - (s - center) / sd**2) / (info + 1 / sd**2)
            s = np.clip(s + np.clip(step, -1.0, 1.0), -4.0, 4.0)
        return s, info

    for round_ in range(shape_rounds + 1):
        own, info = mode(x, 10.0)  # about the rooms' own slopes
        a, b, tau = 0.0, 1.0, sd
        told = info > 1.0  # rooms whose orders pin their slope to within about 1
        for _ in range(3 if told.sum() > 2 else 0):
            weight = info / (1 + info * tau**2)  # precision of a room's slope about the audience's prediction
            xm, ym = np.average(x, weights=weight), np.average(own, weights=weight)
            vx = np.average((x - xm) ** 2, weights=weight)  # 0 where the audiences say nothing (no history)
            b = np.average((x - xm) * (own - ym), weights=weight) / vx if vx > 1e-12 else 0.0
            a = ym - b * xm
            if empirical:
                excess = (own - a - b * x)[told] ** 2 - 1 / info[told]
                tau = float(np.sqrt(np.clip(np.average(excess, weights=weight[told]), 1e-4, 4.0)))
        s, _ = mode(a + b * x, tau)
        if round_ < shape_rounds:  # the bands' positions given the slopes: Newton per band, centred, same norm
            for _ in range(3):
                mu = fitted(s)
                u = u + (s @ (n - mu)) / np.maximum((s * s) @ mu, 1e-12)
                u = (u - u.mean()) * norm / np.sqrt(((u - u.mean()) ** 2).sum())
    return np.exp(s[:, None] * u)


def _entry_fit(view: View, anchor: np.ndarray, product: np.ndarray, unknown: np.ndarray, chunk: int = 1 << 19
               ) -> np.ndarray:
    """view.entries(anchor, product), `unknown` the entries whose room has no known fans: a loop over the cells,
    each a gather from one contiguous column of q and of r, in chunks of entries on buffers reused (gathering
    each entry's rows of q and r took most of a second per call over the 1.7M shelf entries of a large market;
    mode clip: the indices are valid, and the default mode buffers `out`)."""
    q, r = np.ascontiguousarray(view.audience.T), np.ascontiguousarray(view.response.T)
    if view.by_category is not None:  # the rows of q are (room, category) pairs: the room's audience per category
        n_c = view.by_category.shape[1]
        q = np.ascontiguousarray(view.by_category.reshape(-1, q.shape[0]).T)
        anchor = anchor * n_c + view.category[product]
    out = np.empty(len(anchor))
    if q.shape[0] == 0:
        out[:] = 0.0
    a_buf, p_buf = np.empty(min(chunk, len(anchor))), np.empty(min(chunk, len(anchor)))
    for lo in range(0, len(anchor) if q.shape[0] else 0, chunk):
        a, p, acc = anchor[lo:lo + chunk], product[lo:lo + chunk], out[lo:lo + chunk]
        x, y = a_buf[:len(a)], p_buf[:len(a)]
        np.take(q[0], a, out=acc, mode="clip")
        acc *= np.take(r[0], p, out=y, mode="clip")
        for t in range(1, len(q)):
            np.take(q[t], a, out=x, mode="clip")
            x *= np.take(r[t], p, out=y, mode="clip")
            acc += x
    out[unknown] = 1.0
    return out


def _product(factors: list[np.ndarray]) -> np.ndarray | float:
    """The entries' product of several per-entry factors (1 for none)."""
    return np.prod(factors, axis=0) if factors else 1.0


@dataclass
class _ByGood:
    """The shelf entries grouped by good as the rows of a (goods, rooms) CSR matrix, each good's rooms in the
    entries' own order: with the entries' values as its data, the matrix times the rooms' audiences sums each
    good's exposure per cell in the order a bincount over the entries does (the same float64 sums), in one
    pass instead of a gather and a bincount per cell."""

    order: np.ndarray  # entries by good, stable
    anchor: np.ndarray  # their rooms
    indptr: np.ndarray

    @classmethod
    def of(cls, ea: np.ndarray, ep: np.ndarray, n_p: int) -> _ByGood:
        order = np.argsort(ep, kind="stable")
        return cls(order, ea[order], np.concatenate([[0], np.cumsum(np.bincount(ep, minlength=n_p))]))

    def matrix(self, per: np.ndarray, n_rooms: int) -> sp.csr_matrix:
        """(goods, rooms): each good's entries' values `per` in its rooms' columns."""
        return sp.csr_matrix((per[self.order], self.anchor, self.indptr), shape=(len(self.indptr) - 1, n_rooms))

    def exposure(self, per: np.ndarray, q: np.ndarray) -> np.ndarray:
        """(goods, cells): sum over each good's entries of per[entry] x q[room of the entry]."""
        return np.asarray(self.matrix(per, len(q)) @ np.asarray(q, np.float64))


def _response(view: View, n_resp: np.ndarray, per: np.ndarray, ea: np.ndarray, ep: np.ndarray, cat_of: np.ndarray,
              n_c: int, prior_orders: float | None, profiles: int = 0,
              groups: tuple[np.ndarray, int] | None = None, by_good: _ByGood | None = None,
              said: tuple[np.ndarray, int] | None = None, said_goods: float = 5.0) -> np.ndarray:
    """A view's response of every good: gamma-Poisson per (good, cell), exposure to cell t being `per` x q[a, t],
    shrunk toward the category's response (`groups`: toward that of finer groups of goods, e.g. category x price
    decile, instead); normalised to average 1 over the audiences the good was sold to (its level belongs to its
    quality). `by_good`: _ByGood.of(ea, ep, goods), shared by the calls. `said`: what each good's title says
    (its class and the number of classes), grouping the goods of a category for the profiles' mix."""
    q, n_p, n_cells = view.audience, len(view.response), view.response.shape[1]
    if view.by_category is not None:  # a good's entries all see its category's audience: one product per category
        mat = (by_good or _ByGood.of(ea, ep, n_p)).matrix(per, len(q))
        exp_cell = np.zeros((n_p, n_cells))
        order, blocks = _category_blocks(cat_of, n_c)
        for c, lo, hi in blocks:
            rows = order[lo:hi]
            exp_cell[rows] = np.asarray(mat[rows] @ np.asarray(view.by_category[:, c], np.float64))
    elif by_good is not None and q.dtype == np.float64:
        exp_cell = by_good.exposure(per, q)
    else:
        exp_cell = np.zeros((n_p, n_cells))
        for t in range(n_cells):
            exp_cell[:, t] = np.bincount(ep, per * q[ea, t], n_p)
    cat_n, cat_e = _sum_rows(cat_of, n_resp, n_c), _sum_rows(cat_of, exp_cell, n_c)
    typical = (cat_n + 1.0) / (cat_e + 1.0)
    if groups is not None:
        group, n_g = groups
        g_n, g_e = _sum_rows(group, n_resp, n_g), _sum_rows(group, exp_cell, n_g)
        # a group's response, shrunk toward its category's by 5 pseudo-orders per cell
        fine = (g_n + 5.0 * typical[np.arange(n_g) // (n_g // n_c)]) / (g_e + 5.0)
        prior = fine[group]
    else:
        prior = (typical[cat_of] if not profiles
                 else _profile_prior(n_resp, exp_cell, cat_of, n_c, typical, profiles, said=said,
                                     said_goods=said_goods))
    if prior_orders is None:  # per category: targeting matters more in some (服装) than in others (家电)
        expected = exp_cell * prior  # once, not per category
        strength = np.array([prior_strength(n_resp[cat_of == c], expected[cat_of == c])
                             for c in range(n_c)])[cat_of][:, None]
    else:
        strength = prior_orders
    response = (n_resp + strength) / (exp_cell + strength / prior)
    level = (exp_cell * response).sum(axis=1) / np.maximum(exp_cell.sum(axis=1), 1e-12)
    seen = exp_cell.sum(axis=1) > 0
    response[seen] /= level[seen, None]
    # the rooms' mean audience (for the good's category, where the view has one per category)
    mean_q = q.mean(axis=0) if view.by_category is None else view.by_category.mean(axis=0)[cat_of[~seen]]
    unseen_prior = prior[~seen] if groups is not None else typical[cat_of[~seen]]
    response[~seen] /= ((unseen_prior * mean_q).sum(axis=-1) / np.maximum(mean_q.sum(axis=-1), 1e-12))[:, None]
    return response


def _sum_rows(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """(n, columns): the rows of `values` summed by `index` (np.add.at's sums, in its order, a bincount per
    column: np.add.at took seconds over the fits' 100k goods)."""
    out = np.zeros((n, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(index, values[:, j], n)
    return out


def _profile_prior(n: np.ndarray, e: np.ndarray, cat_of: np.ndarray, n_c: int, typical: np.ndarray, k: int,
                   iterations: int = 15, seed: int = 0, said: tuple[np.ndarray, int] | None = None,
                   said_goods: float = 5.0) -> np.ndarray:
    """(goods, cells) each good's prior response: the mix of K response profiles its buyers match (a mixture of
    multinomials with exposure, fitted by EM over all goods, so a profile rests on many goods), scaled to the
    category typical's level. Goods without orders get their category's mix of profiles, or with `said` (each
    good's class of what its title says, and the number of classes: ``recommender/title_audience.py``) the mix of
    the goods of their category whose titles say the same, shrunk toward the category's by `said_goods` goods."""
    rng = np.random.default_rng(seed)
    cells = n.shape[1]
    total = n.sum(axis=1)
    informative = total > 0
    R = typical[rng.integers(0, n_c, k)] * rng.lognormal(0, 0.5, (k, cells))  # (k, cells) rates
    n_said = 1 if said is None else said[1]
    group = cat_of if said is None else cat_of * n_said + said[0]  # whose mix a good's prior is
    n_g = n_c * n_said
    w = np.full((n_g, k), 1.0 / k)
    # The EM over the goods with orders alone: a good without any has a flat likelihood, so its posterior is its
    # group's weights, counted per group. Goods along the last axis, (k, goods) and (cells, goods): the
    # sums and maxima over the k profiles run over contiguous rows instead of rows of 8 (numpy's reductions
    # over a short last axis took a third of the EM); in place on buffers allocated once.
    sold = np.flatnonzero(informative)
    n_s, e_s, total_s, grp_s = n[sold], e[sold], total[sold], group[sold]
    idle = np.bincount(group[~informative], minlength=n_g).astype(np.float64)[:, None]  # goods without orders
    n_t, e_t = np.ascontiguousarray(n_s.T), np.ascontiguousarray(e_s.T)
    mix, level, log_post = (np.empty((k, len(sold))) for _ in range(3))
    post = np.full((k, len(sold)), 1.0 / k)
    for _ in range(iterations):
        # E: the share of a good's orders in each cell under profile j is e R_j / sum(e R_j)
        np.maximum(np.matmul(R, e_t, out=mix), 1e-300, out=mix)  # (k, goods), as the two steps use it
        np.log(mix, out=level)
        level *= total_s
        np.matmul(np.log(np.maximum(R, 1e-12)), n_t, out=log_post)
        log_post -= level  # the log-likelihood
        log_w = np.log(np.maximum(w, 1e-12))  # (groups, k)
        log_post += np.take(np.ascontiguousarray(log_w.T), grp_s, axis=1)
        log_post -= log_post.max(axis=0)
        post = np.exp(log_post, out=log_post)
        post /= post.sum(axis=0)
        # M: each profile's rates from the goods it explains, each good's level under it fitted
        np.divide(total_s, mix, out=level)  # (k, goods)
        level *= post
        R = (post @ n_s + 1e-3) / (level @ e_s + 1e-3)
        flat = np.exp(log_w - log_w.max(axis=1, keepdims=True))  # the posterior of a good without orders
        flat /= flat.sum(axis=1, keepdims=True)
        counts = np.stack([np.bincount(grp_s, row, n_g) for row in post], axis=1) + idle * flat
        if said is None:
            w = (counts + 1.0) / (counts + 1.0).sum(axis=1, keepdims=True)
        else:  # a class's mix, shrunk toward its category's
            by_cat = counts.reshape(n_c, n_said, k).sum(axis=1) + 1.0
            by_cat /= by_cat.sum(axis=1, keepdims=True)
            w = counts + said_goods * np.repeat(by_cat, n_said, axis=0)
            w /= w.sum(axis=1, keepdims=True)
    out = w[group]
    out[sold] = post.T
    post = out
    shape = post @ R  # (goods, cells), up to a level
    scale = (e * typical[cat_of]).sum(axis=1) / np.maximum((e * shape).sum(axis=1), 1e-300)
    unseen = e.sum(axis=1) <= 0
    scale[unseen] = (typical[cat_of[unseen]].mean(axis=1) / np.maximum(shape[unseen].mean(axis=1), 1e-300))
    return shape * scale[:, None]
