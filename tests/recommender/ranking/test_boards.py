"""TOP sales boards (销量榜): goods by units sold in the window, quality-gated, ties by row, 50 unless asked."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.ranking.boards import Boards
from recommender.ranking.catalog import WINDOWS, Goods


def _goods(n: int, sales: np.ndarray) -> Goods:
    goods = Goods.of(price=np.full(n, 10.0), commission=np.full(n, 0.1), category=np.arange(n) % 2,
                     categories=["c0", "c1"], new=np.zeros(n, bool), small=np.zeros(n, bool))
    goods.sales = {w: sales for w in WINDOWS}
    return goods


def test_a_board_lists_fifty_gated_goods_that_sold_by_sales_then_row_unless_asked_for_another_number():
    n = 120
    sales = np.where(np.arange(n) < 100, 1 + (np.arange(n) * 7) % 13, 0).astype(float)
    gate = np.arange(n) % 10 != 3
    boards = Boards(_goods(n, sales), gate)
    everything = [r for r in np.lexsort((np.arange(n), -sales)).tolist() if gate[r] and sales[r] > 0]
    for window in WINDOWS:
        assert boards.top(window) == everything[:50]
        assert boards.top(window, 7) == everything[:7]
        assert boards.top(window, 500) == everything
        assert boards.top(window, 5, "c1") == [r for r in everything if r % 2 == 1][:5]


def test_the_ranker_s_board_is_fifty_goods_unless_asked(ranker):
    board = ranker.top_sales(30)
    assert len(board) == min(50, len(ranker.top_sales(30, 10_000)))
    assert board == ranker.top_sales(30, 10_000)[:50]


@pytest.mark.parametrize("window", WINDOWS)
def test_each_good_s_rank_is_its_place_on_its_category_s_board(window):
    n = 60
    sales = np.array([(i * 5) % 7 for i in range(n)], float)
    gate = np.arange(n) % 9 != 4
    boards = Boards(_goods(n, sales), gate)
    for c in ("c0", "c1"):
        board = boards.top(window, n, c)
        for place, row in enumerate(board, start=1):
            assert boards.rank[window][row] == place
    off = [r for r in range(n) if not gate[r] or sales[r] == 0]
    assert (boards.rank[window][off] == 0).all()
