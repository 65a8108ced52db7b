"""Quality gates (品控): what may be shown at all, decided before any efficiency is considered. A good that fails
a gate is never picked, put on a board or called similar; an anchor that fails one is never proposed to a
merchant."""

from __future__ import annotations

import numpy as np

from recommender.contract import gate_bit, gate_columns, off_paid
from recommender.ranking.catalog import Goods, Rooms
from recommender.ranking.config import RankingConfig


def goods_gate(goods: Goods, cfg: RankingConfig) -> np.ndarray:
    """True where a good passes every gate: refund rate, shop rating, merchant violations, stock; and it exists
    at the model's snapshot time (a snapshot cut at an earlier time, as an evaluation's split cuts it, still
    lists the goods created after the cut: they cannot be offered then)."""
    ok = (goods.refund <= cfg.max_refund_rate) & (goods.shop_rating >= cfg.min_shop_rating)
    ok &= goods.violations <= cfg.max_merchant_violations
    ok &= _read_invalid(goods.invalid, cfg) == 0  # an invalid value in the export fails closed; a blank passes
    ok &= ~(goods.age_days < 0)  # unknown creation (NaN): passes
    if cfg.require_stock:
        ok &= goods.stock > 0
    return ok & ~mispriced(goods, cfg)


def mispriced(goods: Goods, cfg: RankingConfig) -> np.ndarray:
    """Goods listed at over `max_price_to_paid` times the most their buyers paid per unit in 30 days, or under its
    inverse times the least: a placeholder price (¥999,999 on goods sold at ¥50) set the good's every figure and
    topped new rooms' picks. A flash sale beside full-price orders is no wrong price (the most paid is near the
    price). Goods without 3 units sold in 30 days are not judged (NaN compares false)."""
    over, under = off_paid(np.asarray(goods.price, np.float64), goods.paid_max, goods.paid_min, cfg.max_price_to_paid)
    return over | under


def beyond(value: float, limit: float, least: int = 1, scale: float = 1.0, unit: str = "") -> tuple[str, str]:
    """A figure past its limit and the limit, with as few decimals (at least `least`) as tell them apart: 36.5%
    > 15%, and 15.01% > 15% or 3.99 < 4 rather than a "15.0% > 15%" that reads false. `scale` 100 and `unit` %
    write rates as percentages."""
    value, limit = value * scale, limit * scale
    for digits in range(least, 6):  # leaves the first count of decimals that tells them apart
        if round(value, digits) != round(limit, digits):
            break
    return f"{value:.{digits}f}{unit}", f"{limit:.6f}".rstrip("0").rstrip(".") + unit


def gate_failures(goods: Goods, cfg: RankingConfig, product: int) -> list[str]:
    """Why one good is gated out (empty when it passes), for the product page: the measure's code, then the
    figure and the limit as a person reads them (rates as percentages)."""
    out = []
    if goods.refund[product] > cfg.max_refund_rate:
        value, limit = beyond(float(goods.refund[product]), cfg.max_refund_rate, scale=100, unit="%")
        out.append(f"refund_rate {value} > {limit}")
    if goods.shop_rating[product] < cfg.min_shop_rating:
        value, limit = beyond(float(goods.shop_rating[product]), cfg.min_shop_rating)
        out.append(f"shop_rating {value} < {limit}")
    if goods.violations[product] > cfg.max_merchant_violations:
        out.append(f"merchant_violations {int(goods.violations[product])} > {cfg.max_merchant_violations}")
    if cfg.require_stock and goods.stock[product] <= 0:
        out.append("out of stock")
    if goods.age_days[product] < 0:
        out.append("created after the snapshot")
    price, most, least = goods.price[product], goods.paid_max[product], goods.paid_min[product]
    over, under = off_paid(price, most, least, cfg.max_price_to_paid)
    if over:
        out.append(f"price ¥{price:,.2f} against at most ¥{most:,.2f} paid per unit in 30 days (over "
                   f"{cfg.max_price_to_paid:g}x: a placeholder price?)")
    elif under:
        out.append(f"price ¥{price:,.2f} against at least ¥{least:,.2f} paid per unit in 30 days (under "
                   f"1/{cfg.max_price_to_paid:g}: a placeholder price?)")
    bits = int(_read_invalid(goods.invalid[product], cfg))
    return out + [f"{name} invalid in the export (blanked; the training's warnings give the value)"
                  for i, name in enumerate(gate_columns("products")) if bits >> i & 1]


def _read_invalid(bits: np.ndarray, cfg: RankingConfig) -> np.ndarray:
    """The invalid-value bits of goods (contract.INVALID_GATES) that fail a gate in force: an invalid stock does
    not when the stock gate is off."""
    off = 0 if cfg.require_stock else gate_bit("products", "stock")
    return np.asarray(bits, np.uint8) & np.uint8(~off & 0xFF)


def anchors_gate(rooms: Rooms, cfg: RankingConfig) -> np.ndarray:
    """True where an anchor may be proposed to merchants: rating and violations."""
    ok = (rooms.rating >= cfg.min_anchor_rating) & (rooms.violations <= cfg.max_anchor_violations)
    return ok if rooms.invalid is None else ok & (rooms.invalid == 0)
