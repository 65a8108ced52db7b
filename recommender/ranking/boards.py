"""TOP sales boards (销量榜): goods by units sold over 1, 7 or 30 days, quality-gated, per category or overall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.ranking.catalog import WINDOWS, Goods


def board_ranks(category: np.ndarray, sales: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Each good's rank on its category's board among goods that pass the gates and sold (0: not on the board).
    Ties are broken the way the board lists them (`Boards.top`: the lower row first), so the rank a reason cites
    is the place on the board: two goods tied at 61 sales are 1 and 2, never both "第 1 名"."""
    df = pd.DataFrame({"cat": category, "sales": sales, "ok": gate & (sales > 0)})  # in row order: "first" is by row
    ranks = df[df["ok"]].groupby("cat")["sales"].rank(method="first", ascending=False)
    out = np.zeros(len(sales), np.int64)
    out[ranks.index.to_numpy()] = ranks.to_numpy(dtype=np.int64)
    return out


class Boards:
    """The boards of one loaded model: category ranks per window, computed once."""

    def __init__(self, goods: Goods, gate: np.ndarray) -> None:
        self.goods, self.gate = goods, gate
        self.rank = {w: board_ranks(goods.category, goods.sales[w], gate) for w in WINDOWS}

    def top(self, window: int, k: int = 50, category: str | None = None) -> list[int]:
        """The board: goods by units sold in the window, quality-gated; one category or all. Ties by row."""
        sales = self.goods.sales[window]
        mask = self.gate & (sales > 0)
        if category is not None:
            mask &= self.goods.in_category(category)
        rows = np.flatnonzero(mask)
        order = np.lexsort((rows, -sales[rows]))
        return [int(r) for r in rows[order][:k]]
