"""What the ranking answers: picks for an anchor, and pages of picks or anchors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Pick:
    """One good for an anchor's shelf, with the figures behind its score and the reasons a person reads."""

    product: int  # row in the model's vocabulary
    score: float
    breakdown: dict[str, float]
    audience_reason: dict | None  # the anchor's followers and the good's category (None: no such share)
    #: the good's own reasons (sales, board, commission, support) and support labels ("small_merchant",
    #: "new_goods"): the same for every anchor and shared by every page of this model, so read, do not edit
    good_reasons: tuple[dict, ...] = ()
    support: tuple[str, ...] = ()
    #: why the good fits this room's audience (the room x good term: a fan cell, the price band); may be empty
    fit_reasons: tuple[dict, ...] = ()
    on_shelf: bool = False  # the room lists the good already
    outside: bool = False  # 拓品类: the good's category is not one of the room's own
    #: the sales proof as told to a room that is one of the good's sellers (it replaces the good's own first
    #: reason, the shared sales proof, which counts the room among "N 位主播"); None: the shared one holds
    own_sales: dict | None = None

    @property
    def anchor_reasons(self) -> list[dict]:
        """The reasons that depend on the anchor, in display order (the fit first, then the category match)."""
        head = [self.audience_reason] if self.audience_reason is not None else []
        return [*self.fit_reasons, *head]

    @property
    def reasons(self) -> list[dict]:
        """Every reason, the anchor's first: copies, free to edit."""
        shared = self.good_reasons if self.own_sales is None else (self.own_sales, *self.good_reasons[1:])
        return [reason.copy() for reason in (*self.anchor_reasons, *shared)]

    @property
    def supported(self) -> list[str]:
        return list(self.support)


@dataclass
class Page:
    """One page of a ranked list; `next_offset` is None on the last page."""

    items: list
    offset: int
    next_offset: int | None
    candidates: int  # goods (or anchors) that passed the gates and filters
