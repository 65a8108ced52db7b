"""Quality gates (品控): what may be shown at all, decided before any efficiency is considered. A good that fails
a gate is never picked, put on a board or called similar; an anchor that fails one is never proposed to a
merchant."""

from __future__ import annotations

import numpy as np

from recommender.ranking.catalog import Goods, Rooms
from recommender.ranking.config import RankingConfig


def goods_gate(goods: Goods, cfg: RankingConfig) -> np.ndarray:
    """True where a good passes every gate: refund rate, shop rating, merchant violations, stock."""
    ok = (goods.refund <= cfg.max_refund_rate) & (goods.shop_rating >= cfg.min_shop_rating)
    ok &= goods.violations <= cfg.max_merchant_violations
    if cfg.require_stock:
        ok &= goods.stock > 0
    return ok


def gate_failures(goods: Goods, cfg: RankingConfig, product: int) -> list[str]:
    """Why one good is gated out (empty when it passes), for the product page."""
    out = []
    if goods.refund[product] > cfg.max_refund_rate:
        out.append(f"refund_rate {goods.refund[product]:.3f} > {cfg.max_refund_rate}")
    if goods.shop_rating[product] < cfg.min_shop_rating:
        out.append(f"shop_rating {goods.shop_rating[product]:.1f} < {cfg.min_shop_rating}")
    if goods.violations[product] > cfg.max_merchant_violations:
        out.append(f"merchant_violations {int(goods.violations[product])} > {cfg.max_merchant_violations}")
    if cfg.require_stock and goods.stock[product] <= 0:
        out.append("out of stock")
    return out


def anchors_gate(rooms: Rooms, cfg: RankingConfig) -> np.ndarray:
    """True where an anchor may be proposed to merchants: rating and violations."""
    return (rooms.rating >= cfg.min_anchor_rating) & (rooms.violations <= cfg.max_anchor_violations)
