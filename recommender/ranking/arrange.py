"""The page-arrangement rule: how scored goods become pages the selection center shows.

Pages are filled one at a time, best score first (ties: the lower row, as the picks pass it, so every scorer gives
the same pages; without rows the earlier candidate), with at most
`max_category_share` of a page from one category and at least `support_share` of it for supported goods (small
merchants, new goods), those slots spread through the page while any supported good fits under the cap. The
cap is relaxed only when nothing else is left. Pages of the same size are consistent: page 2 continues page 1
without repeats or gaps.
"""

from __future__ import annotations

import bisect
import math
from typing import NamedTuple

import numpy as np


def slot_codes(category: np.ndarray, supported: np.ndarray) -> np.ndarray:
    """2 x category + supported: one look-up gives `arrange` both. A category's two codes differ in the last bit
    only (c ^ 1 is the other); no category (-1) gives -2 and -1, two spare slots."""
    return np.asarray(category, np.int64) * 2 + np.asarray(supported, bool)


class Arranged(NamedTuple):
    """An arrangement and where it ran short of candidates (what a scorer needs to prove a shortlist enough)."""

    order: np.ndarray  # positions of the candidates in display order
    relaxed: bool  # some slot took a capped category's good because no allowed candidate was left
    short_support: bool  # some due support slot found no supported candidate under the cap


def arrange(code: np.ndarray, score: np.ndarray, n: int, page: int, *, max_category_share: float,
            support_share: float, outside: np.ndarray | None = None, max_outside_share: float = 1.0,
            tie: np.ndarray | None = None) -> np.ndarray:
    """Positions of the first `n` candidates in display order, pages of `page` goods (see `arrange_checked`)."""
    return arrange_checked(code, score, n, page, max_category_share=max_category_share, support_share=support_share,
                           outside=outside, max_outside_share=max_outside_share, tie=tie).order


def arrange_checked(code: np.ndarray, score: np.ndarray, n: int, page: int, *, max_category_share: float,
                    support_share: float, outside: np.ndarray | None = None, max_outside_share: float = 1.0,
                    tie: np.ndarray | None = None) -> Arranged:
    """Positions of the first `n` candidates in display order, pages of `page` goods, and where the candidates
    ran short.

    `code` holds the candidates' slot codes (`slot_codes`), `score` their scores, `tie` what orders equal scores
    (the goods' rows, so every scorer's candidates give the same pages; None: the candidates' order). Each slot
    takes the first unused candidate that is allowed. `outside` (per category, True for categories outside the
    room's own: 拓品类) with `max_outside_share` caps how many of a page's slots such goods take together, like
    the category cap (relaxed only when nothing else is left).

    Whether a candidate is allowed depends only on its slot code, so the candidates wait in one queue per code,
    best first, and the first unused allowed candidate is the best head among the allowed codes' queues: a slot
    costs a look at a few heads, however deep the page (a cursor over all candidates restarted at the
    first unused one each page, and a room whose main category is capped left thousands of used goods behind it:
    offsets of 5,000-10,000 took 0.4-2 s on the large market).
    """
    cap = max(1, math.ceil(max_category_share * page))
    outside_cap = math.floor(max_outside_share * page + 1e-9) if outside is not None else page
    share = support_share
    score = np.asarray(score)
    order = np.argsort(-score, kind="stable")
    if tie is not None and len(order) > 1 and (score[order[1:]] == score[order[:-1]]).any():
        order = np.lexsort((tie, -score))  # equal scores: by row (only when there are any, a sort costs)
    code = np.asarray(code, np.int64)[order]
    n_slots = 2 * (int(code.max(initial=-1)) // 2 + 1) + 2  # every category's two codes, then the two spares
    code = np.where(code < 0, code + n_slots, code)  # no category: the two spares (-2 ^ 1 == -1 there too)
    away = [False] * n_slots  # per slot code: a category outside the room's own
    if outside is not None:
        for c in np.flatnonzero(np.asarray(outside)).tolist():
            if 2 * c + 1 < n_slots:
                away[2 * c] = away[2 * c + 1] = True
    # each code's candidates by rank, and the codes' queues by the rank of their head, best first: the first
    # allowed code of `front` holds the slot's candidate, and usually comes first or second
    by_code = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[by_code], np.arange(n_slots + 1)).tolist()
    ranks = by_code.tolist()
    head, end = bounds[:-1], bounds[1:]  # next unused position in `ranks` of each code's queue, and its end
    front = sorted((ranks[head[k]], k) for k in range(n_slots) if head[k] < end[k])
    total = min(n, len(code))
    taken: list[int] = []
    support_left = int((code & 1).sum())
    relaxed = short_support = False
    while len(taken) < total:
        count = [0] * n_slots  # per slot code: both codes of a category hold the category's count
        n_away = in_page = n_support = 0
        while in_page < page and len(taken) < total:
            at = -1
            # reserved slots are spread through the page (every 5th at a 20% share), so they are not all left to
            # the end of the page, where the anchor's main category may already be capped
            if math.floor((in_page + 1) * share) > n_support:
                if support_left > 0:
                    for i, (_, k) in enumerate(front):
                        if k & 1 and count[k] < cap and not (away[k] and n_away >= outside_cap):
                            at = i
                            break
                short_support |= at < 0
            # give way in this order: first the support share, then (only if nothing else is left) the cap
            if at < 0:
                for i, (_, k) in enumerate(front):
                    if count[k] < cap and not (away[k] and n_away >= outside_cap):
                        at = i
                        break
            if at < 0:
                if not front:
                    return Arranged(order[taken], relaxed, short_support)
                at, relaxed = 0, True
            rank, k = front.pop(at)
            head[k] += 1
            if head[k] < end[k]:
                bisect.insort(front, (ranks[head[k]], k))
            taken.append(rank)
            count[k] += 1
            count[k ^ 1] += 1
            n_away += away[k]
            in_page += 1
            if k & 1:
                n_support += 1
                support_left -= 1
    return Arranged(order[taken], relaxed, short_support)
