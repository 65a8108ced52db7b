"""Request and response schemas of the HTTP API. They validate queries and generate /openapi.json."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from serve.export import CSV_KEYS

#: the deepest page a list serves (offset); deeper ranks are for the CSV export and offline jobs, not paging
MAX_OFFSET = 10_000

Id = int | str


class Query(BaseModel):
    """Query parameters: unknown ones are errors, so a typo ('catgory') is reported, not ignored; so is a number
    that is not finite (price_min=nan), named as such rather than as out of range."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class PicksQuery(Query):
    k: int = Field(20, ge=1, le=200, description="number of picks on this page")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="picks to skip (paging); use next_offset from a page")
    category: str | None = Field(None, min_length=1, max_length=50, description="only goods of this category")
    price_min: float | None = Field(None, ge=0, description="lowest price, yuan")
    price_max: float | None = Field(None, ge=0, description="highest price, yuan; not below price_min (an empty "
                                    "range is a 400 naming price_max, not an empty page: the two were likely swapped)")
    commission_min: float | None = Field(None, ge=0, le=1, description="lowest commission rate, 0-1")
    exclude_shelf: bool = Field(False, description="leave out goods already on the anchor's shelf")
    new_goods: bool = Field(False, description="only 新品: goods created within ranking.new_goods_days of the "
                            "snapshot (most have few or no sales yet: they are ranked by what their category, "
                            "price, title and shop say, and by early sales where there are any)")

    @field_validator("price_max")
    @classmethod
    def _price_range(cls, price_max: float | None, info: ValidationInfo) -> float | None:
        price_min = info.data.get("price_min")
        if price_max is not None and price_min is not None and price_max < price_min:
            raise PydanticCustomError("price_range", "below price_min ({price_min}): the range is empty",
                                      {"price_min": price_min})
        return price_max


def _not_below(low: str) -> Any:
    """A validator: this field is not below `low` (an empty range is a 400 naming the upper bound, not an empty
    page: the two were likely swapped)."""

    def check(cls: type, high: float | None, info: ValidationInfo) -> float | None:
        least = info.data.get(low)
        if high is not None and least is not None and high < least:
            raise PydanticCustomError("range", "below {low} ({least}): the range is empty",
                                      {"low": low, "least": least})
        return high

    return check


def _with(label: str):
    """A validator for a share threshold that means something only beside its label (gender_share_min with gender):
    alone it was ignored, and the merchant got every room with a 200."""

    def check(cls: type, least: float, info: ValidationInfo) -> float:
        if info.data.get(label) is None:  # a label that failed its own check is reported first, by field order
            raise PydanticCustomError("needs_label", "applies only with {label}: give {label} too, or leave it out",
                                      {"label": label})
        return least

    return check


class ProductAnchorsQuery(Query):
    """The merchant's 达人广场 filters. Labels (tier, gender, age_band, region) must be ones the model knows: an
    unknown one is a 400 whose message lists the valid ones."""

    k: int = Field(20, ge=1, le=200)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    tier: str | None = Field(None, min_length=1, max_length=20, description="anchor tier, e.g. 头部/腰部/尾部")
    min_fans: int | None = Field(None, ge=0, description="only anchors with at least this many fans")
    max_fans: int | None = Field(None, ge=0, description="only anchors with at most this many fans (not below "
                                 "min_fans: an empty range is a 400)")
    gender: str | None = Field(None, min_length=1, max_length=20, description="a gender of the followers, e.g. 女")
    gender_share_min: float = Field(0.5, ge=0, le=1, description="with gender: its least share of the followers "
                                     "(without gender, a 400)")
    age_band: str | None = Field(None, min_length=1, max_length=20, description="an age band, e.g. 24-30")
    age_share_min: float = Field(0.2, ge=0, le=1, description="with age_band: its least share of the followers "
                                     "(without age_band, a 400)")
    region: str | None = Field(None, min_length=1, max_length=20, description="a region, e.g. 广东")
    region_share_min: float = Field(0.1, ge=0, le=1, description="with region: its least share of the followers "
                                     "(without region, a 400)")
    audience_price_min: float | None = Field(None, ge=0, description="the audience's price level, yuan: the least "
                                             "average order of the followers (30 days, any room; rooms whose "
                                             "followers bought nothing are left out)")
    audience_price_max: float | None = Field(None, ge=0, description="its most (not below audience_price_min)")
    category_gmv_min: float | None = Field(None, ge=0, description="the room's least 30-day GMV in the good's "
                                           "category, yuan")
    new: bool = Field(False, description="only 新人主播 (ranking.new_anchor_days, new_anchor_gmv_30d, "
                      "new_anchor_max_violations; shown by /v1/model)")

    _fans_range = field_validator("max_fans")(_not_below("min_fans"))
    _price_range = field_validator("audience_price_max")(_not_below("audience_price_min"))
    _gender_share = field_validator("gender_share_min")(_with("gender"))
    _age_share = field_validator("age_share_min")(_with("age_band"))
    _region_share = field_validator("region_share_min")(_with("region"))


class AnchorBoardQuery(Query):
    """The anchor board (达人带货榜). Unknown category or tier values are a 400 that lists the valid ones."""

    window: Literal["1d", "7d", "30d"] = Field("7d", description="days counted back from the snapshot time")
    metric: Literal["gmv", "orders"] = Field("gmv", description="what the board ranks by (ties: the other metric, "
                                             "then fans, then the anchor's row; ranks are positions, never shared)")
    category: str | None = Field(None, min_length=1, max_length=50, description="GMV and orders in this goods "
                                 "category only")
    tier: str | None = Field(None, min_length=1, max_length=20, description="only anchors of this tier")
    new: bool = Field(False, description="the new-anchor board (新人主播榜): only 新人主播")
    k: int = Field(50, ge=1, le=200, description="rows on this page")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="rows to skip; pages are slices of one ordering")


class SimilarQuery(Query):
    k: int = Field(20, ge=1, le=200)


class TrendQuery(Query):
    days: int = Field(30, ge=1, le=30, description="the last N Beijing days (Asia/Shanghai) of the 30 the model "
                      "keeps, the snapshot's own day last")


class SellersQuery(Query):
    k: int = Field(20, ge=1, le=200, description="rooms on this page")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="rooms to skip (paging); use next_offset from a page")
    sort: Literal["gmv", "orders", "sales", "conversion", "fans"] = Field(
        "gmv", description="descending, ties by GMV rank: gmv, orders, sales (units), conversion (buyers among the "
        "room's followers / followers) or fans")
    tier: str | None = Field(None, min_length=1, max_length=20, description="only rooms of this tier, e.g. 头部")
    min_fans: int | None = Field(None, ge=0, description="only rooms with at least this many followers")


class TopSalesQuery(Query):
    window: Literal["1d", "7d", "30d"] = Field("7d", description="sales window")
    category: str | None = Field(None, min_length=1, max_length=50)
    k: int = Field(50, ge=1, le=200)


class NoQuery(Query):
    pass


# -- responses --------------------------------------------------------------------------------------------


class Reason(BaseModel):
    code: str = Field(description="outside_category (拓品类), audience_fit, price_band_fit (why the good fits this "
                      "room), audience_match, sales_proof, top_board, commission, new_goods, ..., the cautions "
                      "low_stock (库存预警) and quality_control (品控降权, value: the factor); in the "
                      "merchant's view anchor_fans, audience_match, category_sales or category_untried (the room "
                      "has not sold the category in 30 days), new_anchor (新人主播扶持, its days since opening)")
    text: str = Field(description="the sentence shown to people (Chinese)")
    value: float = Field(description="the figure the sentence cites")


class ProductCard(BaseModel):
    product_id: Id
    title: str
    category: str
    price: float
    commission_rate: float
    commission_per_unit: float = Field(description="price x commission rate: yuan earned per unit sold (an order "
                                       "may hold several; a pick's breakdown has order_value, yuan per order)")
    commission_per_order: float = Field(deprecated=True, description="the same figure as commission_per_unit under "
                                        "its first name, which misleads (it is per unit, not per order); kept for "
                                        "clients written before it")
    merchant_id: Id
    merchant_name: str | None = Field(None, description="the shop's name (the snapshot's optional merchant_name)")
    brand: str | None = None
    created_at: str | None = Field(None, description="when the good was listed in the pool, Beijing time (ISO "
                                   "8601, +08:00): its age in the 新品 tab (new_goods)")
    stock: int | None = None
    refund_rate: float | None = None
    shop_rating: float | None = None
    sales_7d: int
    gmv_7d: float
    low_stock: bool | None = Field(None, description="stock < sales_7d: at last week's pace it runs out within a "
                                   "week (库存预警); null when the stock is unknown")
    days_of_stock: float | None = Field(None, description="days the stock lasts at the last 7 days' pace; null when "
                                        "the stock is unknown or nothing sold in 7 days")


class Paging(BaseModel):
    offset: int
    k: int
    next_offset: int | None = Field(description="offset of the next page, null on the last page or past the deepest "
                                         "offset a list serves (10,000)")
    candidates: int = Field(description="goods or anchors that passed the gates and filters")


class AnchorSummary(BaseModel):
    anchor_id: Id
    name: str
    tier: str | None = None
    main_category: str | None = None
    fans: int


class Pick(BaseModel):
    rank: int
    product: ProductCard
    score: float
    breakdown: dict[str, float] = Field(json_schema_extra={CSV_KEYS: [
                                            "expected_commission_30d", "expected_commission_30d_p05",
                                            "expected_commission_30d_p95", "affinity", "relative_affinity",
                                            "order_value", "qc_factor", "expected_value", "support_boost",
                                            "explore"]},
                                        description="affinity (the good's expected orders per 30 days in this "
                                                    "room if shelved; the vectors' inner product for models without "
                                                    "the shelf-rate model), relative_affinity (to the room's best "
                                                    "good that passes the gates, whatever the filters, the good's "
                                                    "quality taken at the ranking's caution quantile; without the "
                                                    "shelf-rate model, to the best retrieved), price, "
                                                    "commission_rate, order_value (yuan a buyer pays per order: "
                                                    "units x price less discounts, from the good's orders shrunk "
                                                    "toward its category's), qc_factor (品控: (1 - refund rate) x "
                                                    "shop rating / 5 x 0.9 ^ violations, ^ ranking.qc_weight; 1 "
                                                    "where unknown), expected_value (unitless: relative affinity ^ a "
                                                    "x order_value ^ p x commission ^ c x qc_factor), "
                                                    "support_boost, explore (with ranking.explore: the factor "
                                                    "this room's score of the good carries, so near-tied goods "
                                                    "rotate over rooms), score (expected_value x support_boost "
                                                    "x explore); with expected orders also "
                                                    "expected_commission_30d, yuan: expected orders x order_value x "
                                                    "commission rate (预估: before refunds), and its 5% and 95% "
                                                    "points (_p05, _p95)")
    reasons: list[Reason]
    supported: list[str] = Field(description="exposure support that applied: small_merchant (its merchant's 30-day "
                                 "GMV is below ranking.small_merchant_gmv_30d), new_shop (the shop opened fewer than "
                                 "ranking.new_shop_days ago), new_goods")
    on_shelf: bool = Field(description="the room lists the good already (exclude_shelf=true leaves such goods out)")
    outside: bool = Field(description="拓品类: the good's category is not one of the room's own (its main category "
                                      "or one holding home_share of its GMV); max_outside_share caps them per page")


class PicksResponse(BaseModel):
    anchor: AnchorSummary
    items: list[Pick]
    paging: Paging
    model_version: str


class Share(BaseModel):
    label: str
    share: float


class AnchorProfile(BaseModel):
    anchor: AnchorSummary
    shop_rating: float | None = None
    violations: int | None = None
    created_at: str = Field(description="when the anchor joined (ISO 8601, Beijing time: +08:00)")
    buyers_30d: int = Field(description="followers who bought anything in the last 30 days, any room")
    new_anchor: bool = Field(False, description="新人主播 by the ranking's new_anchor_* settings (as 达人广场 and "
                             "the anchor boards mark it)")
    audience: dict[str, list[Share]] = Field(
        description="gender / age_band / region / spending_level / category shares of followers (spending_level: "
                    "the platform's 消费水平, level 1 first, where the fans table has it: fans it cannot tell are in "
                    "no level, so the levels may sum below 1); category = bought it in the last 30 days")
    stats: dict[str, int | float] = Field(description="orders, GMV (yuan) and goods sold over 7/30 days, shelf "
                                                "size: counts are integers")
    model_version: str


class AnchorMatch(BaseModel):
    rank: int
    anchor: AnchorSummary
    score: float = Field(description="the good's expected orders per 30 days in this room if shelved (the "
                                     "vectors' fit x reach x activity x category share for models without the "
                                     "shelf-rate model). Rows follow it, but for one room in every "
                                     "ranking.new_anchor_every kept for a 新人主播 (new_anchor, reason new_anchor)")
    breakdown: dict[str, float] = Field(json_schema_extra={CSV_KEYS: [
                                            "expected_orders_30d", "fans", "category_gmv_share"]},
                                        description="expected_orders_30d (or fit, relative_fit and "
                                                    "category_orders_30d, the room's orders in the good's "
                                                    "category over the last 30 days), fans, "
                                                    "category_gmv_share: the room's share of its 30-day GMV "
                                                    "in the good's category")
    reasons: list[Reason]
    on_shelf: bool = Field(description="the room lists the good already")
    new_anchor: bool = Field(False, description="新人主播 by the ranking's new_anchor_* settings")
    audience: AudienceLine | None = Field(None, description="the room's audience in one line (what the 达人广场 "
                                          "filters read)")


class AudienceLine(BaseModel):
    text: str = Field(description="the audience in one line: the largest gender, age band and region share of the "
                      "followers and their average order, e.g. 女 72% · 24-30岁 41% · 广东 18% · 客单价 ¥89; a room "
                      "under 30 followers opens with how few (仅 5 位粉丝 · …)")
    few_fans: int | None = Field(None, description="the number of followers when under 30, too few for the shares "
                                 "to describe an audience; absent otherwise")
    gender: Share | None = None
    age_band: Share | None = None
    region: Share | None = None
    order_value: float | None = Field(None, description="客单价: the followers' average order in the last 30 "
                                      "days, any room, yuan; null when none bought")


class AnchorBoardRow(BaseModel):
    rank: int = Field(description="position on the board (1, 2, 3 ...: two rooms tied on the metric are not "
                      "both first)")
    anchor: AnchorSummary
    gmv: float = Field(description="GMV in the window (and category), yuan")
    orders: int = Field(description="orders in the window (and category)")
    fans: int
    new_anchor: bool = Field(description="新人主播 by the ranking's new_anchor_* settings")
    audience: AudienceLine


class AnchorBoardResponse(BaseModel):
    window: str
    metric: str
    category: str | None
    tier: str | None
    new: bool
    items: list[AnchorBoardRow]
    paging: Paging = Field(description="candidates: the rooms on the board")
    model_version: str


class ProductAnchorsResponse(BaseModel):
    product: ProductCard
    quality: dict[str, object] = Field(description="whether the good passes the quality gates (anchors cannot "
                                                   "pick a good that fails them), and why not")
    items: list[AnchorMatch]
    paging: Paging
    model_version: str


class WindowStats(BaseModel):
    sales: int
    gmv: float
    orders: int
    anchors: int = Field(description="anchors who sold it in the window")
    board_rank: int | None = Field(description="rank on its category's TOP sales board; null: not on it")


class Promotion(BaseModel):
    shelf_anchors: int = Field(description="anchors who put it on their shelf")
    selling_anchors_30d: int
    anchor_conversion_30d: float | None = Field(description="selling / shelving anchors, last 30 days")
    gmv_30d: float = Field(description="GMV through anchors' rooms, last 30 days")
    buyers_30d: int
    refund_share_30d: float | None = Field(description="refunded orders / orders, last 30 days; null when it had "
                                           "no order (the page shows —, not 0%)")
    clicks_30d: int | None = Field(None, description="fans' clicks on it in the last 30 days of the click log; null: "
                                   "the model's snapshot had no click log")


class Shop(BaseModel):
    """The merchant's shop as the snapshot describes it (each figure null where the snapshot lacks it)."""

    merchant_id: Id
    merchant_name: str | None = None
    shop_rating: float | None = Field(None, description="小店星级, 0-5")
    merchant_gmv_30d: float | None = Field(None, description="the merchant's GMV over 30 days, yuan, as the "
                                           "merchants table states it (the platform's figure, refunds not taken "
                                           "out, where the good's own GMV figures leave them out)")
    merchant_violations: int | None = Field(None, description="the merchant's rule violations")


class StockStatus(BaseModel):
    stock: int | None = Field(description="units in stock; null when the snapshot does not say")
    sales_7d: int = Field(description="units sold in the last 7 days (refunds left out)")
    low_stock: bool | None = Field(description="stock < sales_7d: at last week's pace it runs out within a week; "
                                   "null when the stock is unknown")
    days_of_stock: float | None = Field(description="days the stock lasts at the last 7 days' pace; null when "
                                        "the stock is unknown or nothing sold")


class ProductDetail(BaseModel):
    product: ProductCard
    created_at: str = Field(description="when the good was listed, Beijing time (ISO 8601, +08:00)")
    windows: dict[str, WindowStats] = Field(description="keys 1d, 7d, 30d")
    promotion: Promotion
    shop: Shop
    stock: StockStatus
    quality: dict[str, object] = Field(description="passes the quality gates, and why not when it does not")
    model_version: str


class TrendDay(BaseModel):
    date: str = Field(description="a Beijing date (Asia/Shanghai), YYYY-MM-DD")
    orders: int
    sales: int = Field(description="units")
    gmv: float = Field(description="yuan")


class TrendTotals(BaseModel):
    orders: int
    sales: int
    gmv: float


class TrendResponse(BaseModel):
    product: ProductCard
    timezone: Literal["Asia/Shanghai"] = Field(description="the days are Beijing days, 00:00-24:00 China time")
    as_of: str = Field(description="the snapshot time, Beijing time (ISO 8601, +08:00): the last day ends here")
    days: list[TrendDay] = Field(description="every day of the window, oldest first, zeros where nothing sold; "
                                 "refunded orders left out")
    totals: TrendTotals
    model_version: str


class Seller(BaseModel):
    rank: int = Field(description="position in this sort and filter")
    gmv_rank: int = Field(description="rank by GMV among every room that sold the good in the window")
    anchor: AnchorSummary
    orders: int
    sales: int = Field(description="units")
    gmv: float = Field(description="yuan")
    buyers: int = Field(description="distinct buyers of the good in the room")
    fan_buyers: int = Field(description="of them, those who follow the room")
    conversion: float = Field(description="fan_buyers / the room's followers (anchor.fans): the share of its "
                              "followers who bought the good in the window; 0 for a room without followers")


class SellerWindow(BaseModel):
    timezone: Literal["Asia/Shanghai"]
    first_day: str = Field(description="Beijing date, YYYY-MM-DD")
    last_day: str = Field(description="Beijing date of the snapshot time (a partial day)")
    days: int


class SellersResponse(BaseModel):
    product: ProductCard
    window: SellerWindow
    sort: str
    items: list[Seller]
    paging: Paging = Field(description="candidates: kept rooms that pass the filters")
    sellers_total: int = Field(description="every room that sold the good in the window")
    kept: int = Field(description="rooms the model keeps per good, the biggest by GMV (training's "
                      "evidence.top_sellers); sorts other than gmv and the filters act on these")
    model_version: str


class SimilarItem(BaseModel):
    product: ProductCard
    similarity: float


class SimilarResponse(BaseModel):
    product: ProductCard
    items: list[SimilarItem]
    model_version: str


class BoardItem(BaseModel):
    rank: int
    product: ProductCard
    sales: int
    gmv: float


class TopSalesResponse(BaseModel):
    window: str
    category: str | None
    items: list[BoardItem]
    model_version: str


class ModelInfo(BaseModel):
    model_version: str
    created_at: str
    path: str
    data: dict
    counts: dict
    parameters: dict
    indexes: dict
    ranking: dict = Field(description="the ranking's settings, the 扶持 (small_merchant_gmv_30d, new_shop_days) and "
                          "新人主播 (new_anchor_*) thresholds included")
    anchor_labels: dict[str, list[str]] = Field(default_factory=dict, description="the values the 达人广场 and "
                                                "anchor-board filters accept: tier, gender, age_band, region")
    reload: dict | None = Field(None, description="registry, CURRENT, served version, last check and error")
    hot: dict = Field(description="hot items: store, clock, the store's latest minute, last store error")


class ReloadResult(BaseModel):
    reloaded: bool
    serving: str | None = Field(description="version served after the check")
    current: str | None = Field(None, description="the registry's CURRENT")
    previous: str | None = None
    seconds: float | None = None
    error: dict | None = Field(None, description="why a version was refused; the old one keeps serving")
    fallback: bool | None = Field(None, description="CURRENT could not be loaded (or holds no version id): the "
                                  "worker serves another version, the one it served or, at its start, the newest "
                                  "version served before")


class Status(BaseModel):
    status: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class Error(BaseModel):
    error: ErrorBody


# -- search (the selection-center page finds anchors by id or name) ---------------------------------------


#: every character str.strip() removes (str.isspace: none above U+3000), as literals: a character class of them
#: means the same to every regex engine (\s does not: Python's includes U+001C-U+001F, ECMA-262's U+FEFF)
SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())


class AnchorSearchQuery(Query):
    q: str = Field(min_length=1, max_length=50, json_schema_extra={"pattern": f"[^{SPACES}]"},
                   description="an id prefix or part of the name (case-insensitive); surrounding spaces are "
                               "ignored, so q must hold something else (only spaces: 400)")
    k: int = Field(10, ge=1, le=50, description="most anchors returned")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="matches to skip (paging); use next_offset from a page")

    @field_validator("q")
    @classmethod
    def _not_blank(cls, q: str) -> str:  # the document's pattern, with a message a person reads
        if not q.strip():
            raise PydanticCustomError("blank", "only spaces: give an id prefix or part of a name")
        return q


class AnchorSearchResponse(BaseModel):
    query: str
    items: list[AnchorSummary] = Field(description="exact id first, then id prefix, name prefix, name part; "
                                                   "more fans first within each")
    total: int = Field(description="anchors that match, of which k from offset are returned")
    paging: Paging = Field(description="candidates = total")
    model_version: str


class CategoryCount(BaseModel):
    category: str
    products: int = Field(description="goods of this category in the catalogue")


class CategoriesResponse(BaseModel):
    items: list[CategoryCount] = Field(description="every category, most goods first")
    model_version: str


# -- product search (商品搜索: the selection center finds goods by keyword, filters and sort) ----------------


class ProductSearchQuery(Query):
    q: str | None = Field(None, min_length=1, max_length=50, json_schema_extra={"pattern": f"[^{SPACES}]"},
                          description="keywords, case-insensitive, matched as substrings of the title (its spaces "
                                      "ignored), the brand or the category name; several words separated by "
                                      "spaces must all match. A good's id finds that good, first. "
                                      "Surrounding spaces are ignored, so q must hold something else (only "
                                      "spaces: 400)")
    category: str | None = Field(None, min_length=1, max_length=50,
                                 description="only goods of this category; an unknown one is a 400 whose message "
                                             "lists the valid ones (GET /v1/search/categories lists them too)")
    price_min: float | None = Field(None, ge=0, description="lowest price, yuan")
    price_max: float | None = Field(None, ge=0, description="highest price, yuan; not below price_min (an empty "
                                    "range is a 400 naming price_max, not an empty page: the two were likely swapped)")
    commission_min: float | None = Field(None, ge=0, le=1, description="lowest commission rate, 0-1")
    min_sales_7d: int | None = Field(None, ge=0, description="at least this many units sold in the last 7 days")
    max_refund_rate: float | None = Field(None, ge=0, le=1, description="highest refund rate, 0-1 (a good whose "
                                          "refund rate is unknown passes, as it passes the quality gate)")
    brand: str | None = Field(None, min_length=1, max_length=50, description="only this brand (whole name, "
                              "case-insensitive)")
    merchant: str | None = Field(None, min_length=1, max_length=64, description="only this merchant: its "
                                 "merchant_id, or its shop's whole name (case-insensitive) where the catalogue "
                                 "has merchant_name")
    passes_gates: bool | None = Field(None, description="true: only goods passing the quality gates (the goods "
                                      "picks and boards may list); false: only those failing them; default: every "
                                      "good, each item saying which")
    sort: Literal["relevance", "sales_7d", "gmv_7d", "commission_rate", "commission_per_unit",
                  "commission_per_order", "price", "growth_7d"] | None = Field(
        None, description="the key to order by; ties always by product_id ascending, so every page is a slice of "
                          "one list. Default: relevance with q (titles starting with the first word or the brand "
                          "equal to q first, then the rest, each by 7-day sales), else sales_7d. relevance "
                          "without q is sales_7d. growth_7d: see ProductHit. commission_per_order: the old name of "
                          "commission_per_unit, kept for clients written before it")
    order: Literal["asc", "desc"] | None = Field(None, description="default: asc for price (cheapest first), "
                                                 "desc (best first) for every other sort")
    k: int = Field(20, ge=1, le=100, description="goods on this page")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="goods to skip (paging); use next_offset from a page")

    @field_validator("q")
    @classmethod
    def _not_blank(cls, q: str | None) -> str | None:  # the document's pattern, with a message a person reads
        if q is not None and not q.strip():
            raise PydanticCustomError("blank", "only spaces: give a keyword, or leave q out")
        return q

    @field_validator("price_max")
    @classmethod
    def _price_range(cls, price_max: float | None, info: ValidationInfo) -> float | None:
        price_min = info.data.get("price_min")
        if price_max is not None and price_min is not None and price_max < price_min:
            raise PydanticCustomError("price_range", "below price_min ({price_min}): the range is empty",
                                      {"price_min": price_min})
        return price_max


class ProductHit(BaseModel):
    rank: int = Field(description="position in the whole ordering (offset + 1 for the first of a page)")
    product: ProductCard
    orders_7d: int = Field(description="orders in the last 7 days (refunds left out)")
    baseline_orders_7d: float = Field(description="orders a week before that: the weekly rate over the 23 days "
                                      "before the last 7, over the days the good was on sale then (at least 1)")
    growth_7d: float = Field(description="(orders_7d + 3) / (baseline_orders_7d + 3) - 1: 0.5 is half as many "
                             "orders again as before; the 3 pseudo-orders keep a good going from 0 to 1 order at "
                             "+33%, not infinite growth")
    passes_gates: bool = Field(description="whether the good passes the quality gates (search lists every good; "
                               "anchors' picks and boards leave out those that fail)")


class OffsetPaging(BaseModel):
    offset: int
    k: int
    next_offset: int | None = Field(description="offset of the next page, null on the last page or past the deepest "
                                         "offset a list serves (10,000)")


class ProductSearchResponse(BaseModel):
    query: str | None = Field(description="q as read (surrounding spaces removed), null without one")
    sort: str = Field(description="the sort applied (relevance or a key)")
    order: Literal["asc", "desc"]
    total: int = Field(description="goods matching the query and every filter, of which this page shows k")
    items: list[ProductHit]
    paging: OffsetPaging
    model_version: str


# -- hot items (爆款) --------------------------------------------------------------------------------------


class HotQuery(Query):
    k: int = Field(20, ge=1, le=100, description="most items returned")
    category: str | None = Field(None, min_length=1, max_length=50, description="only goods of this category")


class LiveHotQuery(Query):
    k: int = Field(10, ge=1, le=100, description="most items returned")


class FeedHotQuery(Query):
    fan_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = Field(
        description="the fan whose feed this is (spaces around it dropped)")
    k: int = Field(20, ge=1, le=100, description="most items returned")


class HotItem(BaseModel):
    rank: int
    product: ProductCard
    recent_orders: int = Field(description="orders in the last window_minutes (in this room, for /live)")
    orders_24h: int = Field(description="live: orders in the last 24 hours, the burst included (in this room, for "
                            "/live); the card's sales_7d is the model snapshot's, 0 for a good that started today")
    orders_7d: int = Field(description="live: orders in the last 7 days, the burst included")
    expected_orders: float = Field(description="what the good's own 24 h / 7 d rate predicts for that window")
    lift: float = Field(description="recent_orders / expected_orders, exact (the reason says the ratio of the "
                        "figures it cites: the usual count as a whole number, or no ratio below 1)")
    reasons: list[Reason]
    followed_anchor: AnchorSummary | None = Field(None, description="feed: an anchor the fan follows who sells it")
    affinity: float | None = Field(None, description="feed: the fan's affinity for the good (inner product)")


class HotResponse(BaseModel):
    as_of: str | None = Field(description="the minute the burst test was made at (ISO 8601, Beijing time: +08:00); "
                              "with Redis a room's list is answered while a newer one is computed, so it may be "
                              "a few refresh periods old (hot.refresh_seconds) though not stale")
    stale: bool = Field(description="true when the order store could not be reached: the last known list")
    error: str | None = Field(None, description="why the list is stale")
    warming_up: bool = Field(False, description="true while the order store holds no whole hour of counting "
                             "before the tested window (it started empty, or lost its data): a good's usual pace "
                             "is not known, so nothing is called hot yet")
    baseline_minutes: int | None = Field(None, description="minutes of the last 24 h the baselines are taken over: "
                                         "whole hours the store counted, before the tested window (null: the "
                                         "store has counted nothing)")
    store: Literal["memory", "redis"]
    window_minutes: int
    category: str | None = None
    items: list[HotItem]
    model_version: str


class LiveHotResponse(HotResponse):
    anchor: AnchorSummary


class FeedHotResponse(HotResponse):
    fan_id: str
    personalised: bool = Field(description="false for unknown or new fans: the platform-wide list")


def _not_a_boolean(value: object) -> object:
    """JSON's true is no number: pydantic's lax mode would read it as 1 (an order id 1, one item)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not accepted here")
    return value


def _a_json_number(value: object) -> object:
    """A quantity or an amount is a JSON number: pydantic's lax mode would read "2" or "9.9" (a client that
    quotes its numbers would be counted, then fail elsewhere) and true as 1. 2.0 stays a valid quantity."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a JSON number, not {type(value).__name__}")
    return value


def _iso_text(value: object) -> object:
    """An order time is ISO 8601 text: pydantic would read a number as seconds since 1970 (and milliseconds, which
    look like seconds tens of thousands of years on, as such too), and 0 as 1970, silently 'ignored'."""
    if not isinstance(value, str):
        raise ValueError(f"must be ISO 8601 text (e.g. 2026-10-30T20:15:00+08:00), not {type(value).__name__}")
    return value


NotBool = BeforeValidator(_not_a_boolean)
JsonNumber = BeforeValidator(_a_json_number)

#: an id in an event: a 64-bit integer or a string. A larger integer is this event's error, not the batch's (one
#: huge id would otherwise turn every id of the batch into floats). Text is stripped and never empty: an empty
#: order id would make every later empty one a silent duplicate, and " wb-1" is the order "wb-1"
EventId = Annotated[Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
                    | Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)], NotBool]


class OrderEvent(BaseModel):
    """One order, with the orders table's fields (docs/data-contract.md)."""

    model_config = ConfigDict(extra="forbid")

    order_id: EventId = Field(description="idempotency key: a replayed order is not counted twice")
    fan_id: EventId
    anchor_id: EventId = Field(description="the live room it was bought in")
    product_id: EventId
    quantity: Annotated[int, JsonNumber] = Field(ge=1)
    amount: Annotated[float, JsonNumber] = Field(ge=0, allow_inf_nan=False, description="yuan; finite")
    ordered_at: Annotated[datetime, BeforeValidator(_iso_text)] = Field(description="ISO 8601 text; without a zone "
                                                                         "it is UTC")
    refunded: Annotated[bool, Strict()] = Field(False, description="JSON true or false (not \"yes\" or 1)")


class OrderBatch(BaseModel):
    """A batch of orders; each event is validated on its own, so the batch takes any JSON value as an event.

    An event that is not a valid OrderEvent is reported in the answer's `errors` (position, order id, field) and
    the valid ones are still counted (partial acceptance)."""

    events: list[OrderEvent | Any] = Field(min_length=1, description="orders (OrderEvent), at most hot.max_events "
                                           "(5,000 by default) in one batch: a larger batch is refused whole (400)")


class EventError(BaseModel):
    index: int = Field(description="position of the event in the batch")
    order_id: str | None = Field(None, description="the event's order_id as text (42 and \"42\" are one order); "
                                 "null when it has none usable")
    field: str | None = None
    message: str


class IngestResult(BaseModel):
    received: int
    accepted: int = Field(description="new orders counted")
    duplicates: int = Field(description="valid orders already counted (replays): not counted again")
    refunded: int = Field(description="refunds of orders counted within the last day, taken back off the counts "
                          "(the refund is the order's event again with refunded true and the order's ordered_at)")
    ignored: int = Field(description="valid but nothing to count: older than the week the counts keep, or a refund "
                         "of an order counted over a day ago, refunded already, dated more than an hour from its "
                         "order's hour, or not seen yet (then the order itself is not counted when it arrives)")
    rejected: int
    errors: list[EventError] = Field(description="why each rejected event was rejected (first 100)")
    store: Literal["memory", "redis"]
