"""The ranking's settings: quality gates, the value of a good to a room, exposure support and diversity."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, model_validator

from recommender.settings import Settings

#: a weight (an exponent in a good's score) from 0 to 10: at 10 a 10% difference already decides everything, and
#: beyond, a value is a typo (1e308 overflowed every score to infinity)
Exponent = Annotated[float, Field(ge=0, le=10)]


class RankingConfig(Settings):
    """Ranking knobs, with the defaults the service starts with (README "Ranking" gives the measurements). Every
    number is finite (as in every Settings): an infinite weight or threshold is a typo, and JSON could not record
    it (it reads null)."""

    candidates: int = Field(300, ge=10, le=5000, description="goods retrieved before re-ranking (artifacts without "
                            "the shelf-rate model; with it every eligible good is ranked)")
    # quality gates (品控): a good failing any gate is never picked, shown on a board or called similar
    max_refund_rate: float = Field(0.15, ge=0, le=1, description="goods refunded more often are gated out")
    min_shop_rating: float = Field(4.0, ge=0, le=5, description="merchant shops rated lower are gated out")
    max_merchant_violations: int = Field(2, ge=0, description="merchants with more violations are gated out")
    require_stock: bool = Field(True, description="gate out goods with zero stock")
    max_price_to_paid: float = Field(10.0, ge=1, description="goods priced over this many times the most their "
                                     "buyers paid per unit in the last 30 days, or under its inverse times the "
                                     "least, are gated out (a placeholder price, ¥999,999 or ¥0.01, priced every "
                                     "figure of the good); goods with fewer than 3 units sold are not judged")
    # expected value: affinity^a x (yuan per order)^p x commission^c. With the shelf-rate model the affinity is the
    # good's expected orders in the room if shelved, relative to the room's best gated good; the vectors' inner product
    # (artifacts without that model) is flatter than true sales, so it gets a steeper exponent of its own.
    audience_fit: bool = Field(True, description="rank by expected orders with the room x good term where the "
                               "artifact has it (False: the category x quality model, every room alike)")
    caution: float | None = Field(0.35, gt=0, lt=1, description="rank by this quantile of each good's quality "
                                  "posterior instead of its mean (a good with little evidence needs more of it to "
                                  "rank high); shown figures stay the mean. None: the mean")
    range_log_sd: float = Field(0.45, ge=0, le=3, description="the shown 5%-95% range of a pick's expected "
                                "commission: the good's quality posterior widened by a log-normal of this sd, the "
                                "model's error beyond the good's own evidence (how a room it never saw sell the "
                                "good differs from rooms like it). 0.45 held the generator's truth for 84-93% of "
                                "the top picks of medium worlds (xuanpin evaluate reports it: range_coverage); "
                                "0: the posterior alone, which held it for about 30%")
    explore: float = Field(0.15, ge=0, le=1, description="each (room, good) pair's score is multiplied by a "
                           "factor in [e^-explore, e^explore] fixed by their ids and the snapshot's day, so goods the "
                           "model cannot tell apart rotate over a vertical's rooms instead of topping all of them; "
                           "goods further apart never swap, and the shown figures stay the model's. 0: none. Only "
                           "with the room x good term (audience_fit); README \"Ranking\" gives the measurements")
    affinity_weight: Exponent = Field(1.0, description="exponent of the relative expected orders")
    vector_affinity_weight: Exponent = Field(1.5, description="exponent of the relative vector affinity "
                                          "(artifacts without the shelf-rate model)")
    price_weight: Exponent = Field(1.0, description="exponent of the yuan per order (price x units an order "
                                "holds, less discounts) in a good's expected value (1, with the commission exponent "
                                "1: the score is proportional to the expected commission)")
    commission_weight: Exponent = Field(1.0, description="exponent of the commission rate in its expected value")
    # 品控 within the gates (qc.py): refunds, the shop's rating and its violations lower a good's score
    qc_weight: Exponent = Field(1.0, description="exponent of the 品控 factor (1 - refund rate) x (shop "
                                  "rating / 5) x (1 - violation_penalty) ** violations in a good's score; 0: off")
    violation_penalty: float = Field(0.1, ge=0, lt=1, description="share of a good's score each of its merchant's "
                                     "violations takes (within the gate's limit)")
    # exposure support (中小商家扶持), by thresholds of the platform's kind (a fixed bar a merchant can see and
    # cross, not a share of the catalogue that moves with everyone else's sales)
    small_merchant_gmv_30d: float = Field(10_000, ge=0, description="merchants whose 30-day GMV (yuan) is below "
                                          "this are supported (扶持); 0: none by GMV")
    new_shop_days: float = Field(90, ge=0, description="merchants whose shop opened fewer than this many days before "
                                 "the snapshot are supported (a shop opens with its first listed good: the contract "
                                 "has no opening date); 0: none by age")
    new_goods_days: float = Field(14, ge=0, description="goods created within this many days are new")
    support_boost: float = Field(0.25, ge=0, description="score multiplier 1 + boost for supported goods")
    support_share: float = Field(0.2, ge=0, le=1, description="share of slots kept for supported goods: "
                                 "floor(share x page_block) of each block (0.2: 2 of 10), spread through it")
    # diversity: most of a room's expected orders are in its main category, so the cap costs earnings
    max_category_share: float = Field(0.7, gt=0, le=1, description="most a category may take of a page")
    page_block: int = Field(10, ge=1, le=200, description="the unit the category cap and support share are "
                            "arranged in: every block of this many picks holds them, whatever page size is asked, "
                            "so pages are slices of one order (two pages of 10 are one page of 20) and a page "
                            "whose size and offset are multiples of it (the page's 10, 20, 50) holds them too")
    # 拓品类: goods outside the room's own categories (its main category and those with home_share of its GMV)
    max_outside_share: float = Field(1.0, ge=0, le=1, description="most of a page that goods outside the room's "
                                     "own categories may take (1: no limit beyond the category cap)")
    home_share: float = Field(0.15, gt=0, le=1, description="a category is the room's own when it holds this share "
                              "of its 30-day GMV (its main category always is)")
    # 新人主播: a new account that has not yet sold much and has a clean record (the new-anchor board, the label)
    new_anchor_days: float = Field(90, ge=0, description="anchors whose account is younger than this many days "
                                   "(created_at to the snapshot) may be 新人主播")
    new_anchor_gmv_30d: float = Field(10_000, ge=0, description="... and whose 30-day GMV (yuan) is below this")
    new_anchor_max_violations: int = Field(0, ge=0, description="... and who have at most this many violations")
    # anchors for a product (达人广场)
    room_activity_weight: Exponent = Field(1.5, description="exponent of 1 + the room's orders in the good's "
                                        "category over the last 30 days in its score for the good, artifacts "
                                        "without the shelf-rate model (0: activity ignored; expected orders if "
                                        "shelved count it already). Chosen on validation days, README \"Offline "
                                        "evaluation\"")
    new_anchor_every: int = Field(10, ge=0, le=200, description="one room in every this many of the merchant's "
                                  "list of anchors for a good (达人广场) is kept for a 新人主播 (扶持): the best new "
                                  "anchor left by the same score, unless one ranks there on its own, while any "
                                  "passes the filters; 0: none")
    min_anchor_rating: float = Field(4.0, ge=0, le=5, description="anchors rated lower are not proposed")
    max_anchor_violations: int = Field(3, ge=0, description="anchors with more violations are not proposed")

    @model_validator(mode="after")
    def _shares_reserve_slots(self) -> RankingConfig:
        """A share too small to keep one slot of a block would switch the support off without a word (e.g.
        0.2 of a page_block of 4)."""
        share = self.support_share
        if share > 0 and math.floor(share * self.page_block) == 0:
            raise ValueError(f"support_share {share:g} keeps no slot of a block of page_block {self.page_block} "
                             f"(floor({share:g} x {self.page_block}) = 0): use at least {1 / self.page_block:g}, "
                             "or 0 for none")
        return self
