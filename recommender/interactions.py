"""Sparse matrices built from a validated marketplace: who bought what, which room sold what, who watches whom."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recommender.contract import Marketplace


def sparse_sum(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int],
               dtype: type = np.float32) -> sp.csr_matrix:
    """CSR matrix with repeated (row, col) pairs summed."""
    mat = sp.csr_matrix((values.astype(dtype), (rows, cols)), shape=shape)
    mat.sum_duplicates()
    return mat


def fan_product_matrix(m: Marketplace, half_life_days: float = 30.0, weight: str = "quantity") -> sp.csr_matrix:
    """(fans, products): recency-weighted quantities (or amounts) bought, refunds removed, log-compressed.

    log1p keeps a fan who bought one item twenty times from outweighing twenty items bought once. `weight`
    "amount" lets expensive goods count more (retune the ALS alpha: amounts are in yuan, not units).
    """
    if weight not in ("quantity", "amount"):
        raise ValueError(f"weight must be 'quantity' or 'amount', got {weight!r}")
    o = m.purchases
    w = o[weight].to_numpy(float) * np.exp2(-np.maximum(m.purchase_age_days, 0) / half_life_days)
    mat = sparse_sum(o["fan"].to_numpy(), o["product"].to_numpy(), w, (len(m.fan_ids), len(m.product_ids)))
    np.log1p(mat.data, out=mat.data)
    return mat


def anchor_product_matrix(m: Marketplace, half_life_days: float = 30.0) -> sp.csr_matrix:
    """(anchors, products): recency-weighted, log-compressed quantities sold in each room."""
    o = m.purchases
    w = o["quantity"].to_numpy(float) * np.exp2(-np.maximum(m.purchase_age_days, 0) / half_life_days)
    mat = sparse_sum(o["anchor"].to_numpy(), o["product"].to_numpy(), w, (len(m.anchor_ids), len(m.product_ids)))
    np.log1p(mat.data, out=mat.data)
    return mat


def follower_matrix(m: Marketplace) -> sp.csr_matrix:
    """(anchors, fans) float32: 1 where the fan follows the room (a pair listed twice is still one follow)."""
    follows = sparse_sum(m.follows["anchor"].to_numpy(), m.follows["fan"].to_numpy(),
                         np.ones(len(m.follows)), (len(m.anchor_ids), len(m.fan_ids)))
    follows.data[:] = 1.0
    return follows


def anchor_fan_engagement(m: Marketplace, buyer_weight: float = 1.0, follows: sp.csr_matrix | None = None
                          ) -> sp.csr_matrix:
    """(anchors, fans): 1 for following the room plus `buyer_weight * log1p(orders placed in it)`.

    Fans who buy in a room (following or not) are the audience that converts, so they weigh more. `follows`:
    follower_matrix(m) when the caller has it (building it from 20M follows takes seconds; it is not modified).
    """
    n = (len(m.anchor_ids), len(m.fan_ids))
    follows = follower_matrix(m) if follows is None else follows
    if buyer_weight == 0:  # the followers alone (what adding 0 x the buyers gives: scipy drops the zeros)
        return follows
    o = m.purchases
    bought = sparse_sum(o["anchor"].to_numpy(), o["fan"].to_numpy(), np.ones(len(o)), n)
    np.log1p(bought.data, out=bought.data)
    return (follows + buyer_weight * bought).tocsr()


def row_normalize(mat: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(mat.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return (sp.diags(inv.astype(np.float32)) @ mat).tocsr()
