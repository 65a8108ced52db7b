"""The catalogue as the ranking reads it: columns of goods and rooms as arrays indexed by model row, built once
per loaded model, so a request only indexes and masks. Columns the artifact holds as they are read (prices, sales,
a rating without missing values) are its memory-mapped arrays, shared by the service's workers."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender import reasons
from recommender.artifact import Model
from recommender.columns import days_before
from recommender.contract import INVALID_GATES
from recommender.ranking.config import RankingConfig

WINDOWS = (1, 7, 30)  # days of the sales statistics and boards


@dataclass(eq=False)
class Goods:
    """Every good's price, category, quality signals and support status. Unknown quality values pass the gates
    (a missing refund rate reads 0, a missing shop rating 5, missing stock infinite); invalid ones, which the
    contract blanked, fail them (`invalid`)."""

    price: np.ndarray
    commission: np.ndarray
    category: np.ndarray  # int64 code into `categories` (sorted names); -1: none
    categories: list[str]
    new: np.ndarray  # created within `new_goods_days`
    small: np.ndarray  # its merchant's 30-day GMV is below `small_merchant_gmv_30d`
    refund: np.ndarray
    shop_rating: np.ndarray
    violations: np.ndarray
    stock: np.ndarray
    age_days: np.ndarray
    merchant_gmv: np.ndarray
    sales: dict[int, np.ndarray]  # units sold per window (WINDOWS)
    anchors_7d: np.ndarray  # rooms that sold it in the last 7 days
    gmv_7d: np.ndarray
    new_shop: np.ndarray | None = None  # its merchant's shop opened within `new_shop_days` (None: none did)
    shop_age_days: np.ndarray | None = None  # days since its merchant's first listed good (None: unknown)
    #: yuan a buyer pays per order (units x price, less discounts; see order_value), what commission is paid
    #: on; None: the price (one unit at list price)
    order_value: np.ndarray | None = None
    #: clicks in the last 30 days of the snapshot's click log; None: the snapshot had none
    clicks_30d: np.ndarray | None = None
    #: bit i: the export's i-th gate column (contract.gate_columns("products")) was invalid; None: none was
    invalid: np.ndarray | None = None
    #: the most and the least yuan its buyers paid per unit in the last 30 days (NaN: under 3 units sold, or a
    #: model from before them); None: unknown
    paid_max: np.ndarray | None = None
    paid_min: np.ndarray | None = None
    supported: np.ndarray = field(init=False)  # new, or from a small or new shop: exposure support (扶持)

    def __post_init__(self) -> None:
        if self.invalid is None:
            self.invalid = np.zeros(len(self.price), np.uint8)
        if self.new_shop is None:
            self.new_shop = np.zeros(len(self.price), bool)
        if self.shop_age_days is None:
            self.shop_age_days = np.full(len(self.price), np.inf)
        if self.order_value is None:
            self.order_value = np.asarray(self.price, float)
        if self.paid_max is None:
            self.paid_max = np.full(len(self.price), np.nan)
        if self.paid_min is None:
            self.paid_min = np.full(len(self.price), np.nan)
        self.supported = np.asarray(self.new, bool) | np.asarray(self.small, bool) | np.asarray(self.new_shop, bool)

    @classmethod
    def of(cls, price: np.ndarray, commission: np.ndarray, category: np.ndarray, categories: list[str],
           new: np.ndarray, small: np.ndarray) -> Goods:
        """A catalogue that knows only prices, categories and support: quality signals unknown (every gate
        passes, as for missing optional columns), no sales."""
        n = len(price)
        return cls(price=np.asarray(price, float), commission=np.asarray(commission, float),
                   category=np.asarray(category, np.int64), categories=list(categories), new=np.asarray(new, bool),
                   small=np.asarray(small, bool), refund=np.zeros(n), shop_rating=np.full(n, 5.0),
                   violations=np.zeros(n), stock=np.full(n, np.inf), age_days=np.full(n, np.inf),
                   merchant_gmv=np.full(n, np.inf), sales={w: np.zeros(n, np.int64) for w in WINDOWS},
                   anchors_7d=np.zeros(n, np.int64), gmv_7d=np.zeros(n))

    def __len__(self) -> int:
        return len(self.price)

    @classmethod
    def from_model(cls, model: Model, cfg: RankingConfig) -> Goods:
        p, st = model.columns.products, model.columns.product_stats
        codes, categories = p["category"].factorize()
        age_days = days_before(model.snapshot_time, p["created_at"])
        merchant_gmv = p.numbers("merchant_gmv_30d", np.inf)  # unknown: not supported by GMV
        small = merchant_gmv < cfg.small_merchant_gmv_30d
        # a shop opens with its first listed good (the contract has no opening date)
        shop_age = age_days if not p.rows else pd.Series(age_days).groupby(np.asarray(p["merchant_id"])) \
            .transform("max").to_numpy()
        return cls(price=p.numbers("price", np.nan), commission=p.numbers("commission_rate", np.nan),
                   category=codes, categories=categories,
                   new=(age_days >= 0) & (age_days <= cfg.new_goods_days), small=small,
                   refund=p.numbers("refund_rate", 0.0), shop_rating=p.numbers("shop_rating", 5.0),
                   violations=p.numbers("merchant_violations", 0.0), stock=p.numbers("stock", np.inf),
                   age_days=age_days, merchant_gmv=merchant_gmv,
                   sales={w: st[f"sales_{w}d"] for w in WINDOWS},
                   anchors_7d=st["anchors_7d"], gmv_7d=st.numbers("gmv_7d", 0.0),
                   new_shop=shop_age < cfg.new_shop_days, shop_age_days=shop_age,
                   order_value=order_value(p.numbers("price", np.nan), st.numbers("gmv_30d", 0.0),
                                           st.numbers("orders_30d", 0.0), codes),
                   clicks_30d=np.asarray(st["clicks_30d"]) if "clicks_30d" in st else None,
                   invalid=p.numbers(INVALID_GATES, 0).astype(np.uint8),
                   paid_max=st.numbers("paid_unit_max_30d", np.nan), paid_min=st.numbers("paid_unit_min_30d", np.nan))

    def in_category(self, name: str) -> np.ndarray:
        """Goods of one category (none at all for an unknown category)."""
        if name not in self.categories:
            return np.zeros(len(self.category), bool)
        return self.category == self.categories.index(name)


def order_value(price: np.ndarray, gmv: np.ndarray, orders: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Yuan per order of each good: its price times what an order of it is worth in units of its price (several
    units, less discounts), from its own orders (`gmv` over `orders`) shrunk toward its category's. Commission is
    paid on what buyers pay, so expected orders x price would understate it by the units per order.

    The shrinkage is empirical Bayes on the goods' ratios r = gmv / (orders x price): across goods, (r - the
    category's)^2 has expectation tau^2 + sigma^2 / orders, so a least-squares line in 1 / orders gives the spread
    between goods (tau^2) and within a good's orders (sigma^2), and a good with n orders moves from its category's
    ratio by n / (n + sigma^2 / tau^2). Where goods do not differ (tau^2 <= 0), or the line cannot be read (a
    slope <= 0: one order of ten units would otherwise set a good's value tenfold), every good takes its
    category's. The ratio is against today's price: a price changed within the 30 days moves it too."""
    price = np.asarray(price, np.float64)
    gmv, orders = np.asarray(gmv, np.float64), np.asarray(orders, np.float64)
    code = np.asarray(category, np.int64)
    sold = (orders > 0) & (price > 0) & np.isfinite(price) & (gmv > 0)
    if not sold.any():
        return price.copy()
    key = np.where(code >= 0, code, code.max() + 1)
    n_k = int(key.max()) + 1
    paid = np.bincount(key[sold], gmv[sold], n_k)
    listed = np.bincount(key[sold], orders[sold] * price[sold], n_k)
    overall = paid.sum() / listed.sum()
    pooled = np.divide(paid, listed, out=np.full(n_k, overall), where=listed > 0)[key]
    ratio = np.divide(gmv, orders * price, out=pooled.copy(), where=sold)
    dev, inv = (ratio - pooled)[sold] ** 2, 1.0 / orders[sold]
    weight = np.zeros(len(price))  # without a line to read (or a slope <= 0), every good takes its category's
    if sold.sum() > 2 and np.ptp(inv) > 0:
        # the least-squares line by its closed form (slope sigma^2, intercept tau^2): two sums, no LAPACK call
        dx = inv - inv.mean()
        sigma2 = float(dx @ (dev - dev.mean()) / (dx @ dx))
        tau2 = float(dev.mean() - sigma2 * inv.mean())
        if sigma2 > 0 and tau2 > 0:
            weight = orders / (orders + sigma2 / tau2)
    return price * np.where(sold, pooled + weight * (ratio - pooled), pooled)


def new_anchors(age_days: np.ndarray, gmv_30d: np.ndarray, violations: np.ndarray, cfg: RankingConfig
                ) -> np.ndarray:
    """新人主播, the platform's kind of rule: a young account (under `new_anchor_days`), little sold yet (30-day GMV
    under `new_anchor_gmv_30d`) and a clean record (at most `new_anchor_max_violations`). Fixed bars, so an anchor
    knows when it stops being new, whatever the others sell."""
    return ((np.asarray(age_days, float) < cfg.new_anchor_days) & (np.asarray(gmv_30d, float) < cfg.new_anchor_gmv_30d)
            & (np.asarray(violations, float) <= cfg.new_anchor_max_violations))


#: anchor tiers as the platform ranks them, from the top (达人层级): the order filters and messages list them in
TIER_ORDER = ("头部", "肩部", "腰部", "尾部")


@dataclass(eq=False)
class Rooms:
    """Every anchor's (live room's) rating, violations, tier, reach and audience, for the anchor gates, the
    merchant's view and the reasons that cite a room's followers."""

    rating: np.ndarray
    violations: np.ndarray
    tier: np.ndarray  # str
    fans: np.ndarray
    gmv_30d: np.ndarray
    category_gmv: np.ndarray  # (anchors, audience categories): 30-day GMV per category
    category_shares: np.ndarray  # (anchors, audience categories): share of followers who bought the category
    audience_column: np.ndarray  # goods' category code -> column of the two matrices above (-1: none)
    main: np.ndarray | None = None  # (anchors,) the main category's goods category code (-1: none)
    peers: np.ndarray | None = None  # (anchors,) a group of rooms with similar audiences (or of one vertical)
    new: np.ndarray | None = None  # (anchors,) 新人主播 by the config's rules (None: none is)
    age_days: np.ndarray | None = None  # (anchors,) days from the account's creation to the snapshot
    #: gender / age_band / region shares of followers, (anchors, labels) each, with their labels (达人广场 filters)
    audience: dict[str, np.ndarray] = field(default_factory=dict)
    audience_labels: dict[str, list[str]] = field(default_factory=dict)
    order_value: np.ndarray | None = None  # (anchors,) followers' average order, yuan, 30 days (NaN: none bought)
    #: (anchors, audience categories) the room's orders per category in the last 30 days (None: the artifact
    #: has no anchor boards, formats before 8)
    category_orders: np.ndarray | None = None
    #: bit i: the export's i-th gate column (contract.gate_columns("anchors")) was invalid; None: none was
    invalid: np.ndarray | None = None
    _outside_memo: dict = field(default_factory=dict, init=False, repr=False)  # (anchor, home_share) -> outside

    @classmethod
    def from_model(cls, model: Model, categories: list[str], cfg: RankingConfig | None = None) -> Rooms:
        cfg = cfg or RankingConfig()
        a, labels = model.columns.anchors, model.audience.labels["category"]
        main = None
        if "main_category" in a:
            names = a["main_category"].tolist()
            main = np.array([categories.index(c) if c in categories else -1 for c in names], np.int64)
        peers = np.asarray(model.personal.group, np.int64) if model.personal is not None else main
        age_days = days_before(model.snapshot_time, a["created_at"])
        violations = a.numbers("violations", 0.0)
        gmv_30d = model.columns.anchor_stats.numbers("gmv_30d", 0.0)
        return cls(rating=a.numbers("shop_rating", 5.0), violations=violations,
                   tier=np.array([t or "" for t in a["tier"].tolist()]) if "tier" in a else np.full(a.rows, ""),
                   fans=model.audience.fans, gmv_30d=gmv_30d,
                   category_gmv=model.anchor_category_gmv,
                   category_shares=np.asarray(model.audience.shares["category"]),
                   audience_column=np.array([labels.index(c) if c in labels else -1 for c in categories], np.int64),
                   main=main, peers=peers, new=new_anchors(age_days, gmv_30d, violations, cfg), age_days=age_days,
                   audience={d: v for d, v in model.audience.shares.items() if d != "category"},
                   audience_labels={d: list(v) for d, v in model.audience.labels.items() if d != "category"},
                   order_value=model.audience_order_value,
                   category_orders=None if model.anchor_window_orders is None
                   else model.anchor_window_orders[:, WINDOWS.index(30)],
                   invalid=a.numbers(INVALID_GATES, 0).astype(np.uint8))

    def outside(self, anchor: int, home_share: float) -> np.ndarray | None:
        """(goods categories,) True for categories outside the room's own: not its main category and under
        `home_share` of its 30-day GMV. None when the room has neither (every category is as much its own).
        Kept per room (read-only): a room's categories are fixed for a loaded model."""
        memo, key = self._outside_memo, (anchor, home_share)
        if key not in memo:
            memo[key] = self._outside_of(anchor, home_share)
        return memo[key]

    def _outside_of(self, anchor: int, home_share: float) -> np.ndarray | None:
        cols = self.audience_column
        gmv = np.where(cols >= 0, np.asarray(self.category_gmv[anchor], float)[np.maximum(cols, 0)], 0.0)
        total = float(self.gmv_30d[anchor])
        home = gmv >= home_share * total if total > 0 else np.zeros(len(cols), bool)
        if self.main is not None and self.main[anchor] >= 0:
            home[self.main[anchor]] = True
        return None if not home.any() else ~home

    @functools.cached_property
    def _peer_sales(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(sold, size, group): per peer group and audience category how many of its rooms sold the category in
        the last 30 days, each group's size, and each room's group (rooms without a group share one)."""
        if self.peers is None:
            return None
        group = np.where(self.peers >= 0, self.peers, self.peers.max(initial=0) + 1)
        sold = np.zeros((group.max(initial=0) + 1, self.category_gmv.shape[1]))
        np.add.at(sold, group, np.asarray(self.category_gmv, float) > 0)
        return sold, np.bincount(group, minlength=len(sold)), group

    def peers_selling(self, anchor: int, column: int) -> float | None:
        """The share of the room's peers (rooms whose fans are like its fans, the room itself left out) that sold
        the audience category `column` in the last 30 days: what 拓品类 reasons cite. 0 for a room alone in its
        group; None when the artifact has no peer groups."""
        if self._peer_sales is None:
            return None
        sold, size, group = self._peer_sales
        g = group[anchor]
        others = int(size[g]) - 1
        own = float(self.category_gmv[anchor, column]) > 0
        return (float(sold[g, column]) - own) / others if others > 0 else 0.0

    def __len__(self) -> int:
        return len(self.rating)

    @functools.cached_property
    def tiers(self) -> list[str]:
        """The tiers anchors have, the platform's from the top down (头部, 肩部, 腰部, 尾部), then any other in
        code-point order (anchors without one left out): what a tier filter may name, in the order a person reads
        them (sorted by code point they read 头部、尾部、腰部). Computed once: a request's check must not sort
        every anchor's tier."""
        have = {str(t) for t in self.tier.tolist()} - {"", "nan", "None", "<NA>"}
        return sorted(have, key=lambda t: (TIER_ORDER.index(t) if t in TIER_ORDER else len(TIER_ORDER), t))

    def category_orders_30d(self, anchors: np.ndarray, category: int) -> np.ndarray | None:
        """Each room's orders in one goods category over the last 30 days (None: unknown to the artifact)."""
        if self.category_orders is None:
            return None
        col = self.audience_column[category] if category >= 0 else -1
        if col < 0:
            return np.zeros(len(anchors))
        return np.asarray(self.category_orders[anchors, col], dtype=float)

    @functools.cached_property
    def quotable(self) -> np.ndarray:
        """(anchors,) rooms with followers enough for a share of their audience to be a reason
        (reasons.MIN_FANS_FOR_SHARES), whether or not they have sold: their buyers are mostly among them."""
        return np.asarray(self.fans) >= reasons.MIN_FANS_FOR_SHARES

    def sold_categories(self) -> np.ndarray:
        """(anchors, goods categories) the room sold the category in the last 30 days (its GMV there above 0), as
        the reasons that say so or say it has not (category_sales, category_untried) read it."""
        col = np.asarray(self.audience_column)
        gmv = np.asarray(self.category_gmv)[:, np.maximum(col, 0)]
        return (gmv > 0) & (col >= 0)[None, :]

    def category_sales(self, anchors: np.ndarray, category: int) -> tuple[np.ndarray, np.ndarray]:
        """Each room's 30-day GMV in one goods category, and its share of the room's GMV (0 without GMV)."""
        col = self.audience_column[category] if category >= 0 else -1
        if col < 0:
            return np.zeros(len(anchors)), np.zeros(len(anchors))
        gmv = np.asarray(self.category_gmv[anchors, col], dtype=float)
        total = self.gmv_30d[anchors]
        return gmv, np.divide(gmv, total, out=np.zeros(len(anchors)), where=total > 0)
