"""Similar goods (相似商品): the nearest goods in the embedding space, quality-gated like every other list."""

from __future__ import annotations

import numpy as np

from recommender.artifact import Model


def similar_goods(model: Model, gate: np.ndarray, product: int, k: int = 20) -> list[tuple[int, float]]:
    """The k goods closest to `product` by cosine that pass the gates: (row, cosine), closest first. Enough
    neighbours are fetched that gated-out ones still leave k."""
    rows, cos = model.similar_products(product, min(len(gate) - 1, k * 3 + 20))
    keep = gate[rows]
    return [(int(r), float(c)) for r, c in zip(rows[keep][:k], cos[keep][:k], strict=True)]
