"""Human-readable reasons for a pick, in Chinese, each carrying the exact figure it cites.

Every reason is built from a statistic computed at training time (recommender/profiles.py); the service only
formats it. A reason is a dict ``{"code", "text", "value"}`` so clients (and tests) can check the number behind
the sentence.

One style for every sentence, as Chinese tools write them: full-width punctuation (，：（）), counts as integers,
rates as whole percentages, money through `yuan`, ratings to one decimal with 分, ratios to one decimal only
where the sentence's own figures give that ratio (`hot_burst`).
"""

from __future__ import annotations

import math

#: followers a room needs before a share of its audience is a reason: "50% of your fans" of a room with two is a
#: statement about one person (probe: "你的粉丝 100% 来自上海", of 2 fans). Sales do not lower it: a room's
#: buyers are mostly among its followers (ranking.catalog.Rooms.quotable).
MIN_FANS_FOR_SHARES = 30


def yuan(amount: float) -> str:
    """¥ amounts the way the selection center writes them: ¥8,560 below ten thousand, ¥1.2万 above."""
    if amount >= 1e8:
        return f"¥{amount / 1e8:.1f}亿"
    if amount >= 1e4:
        return f"¥{amount / 1e4:,.1f}万"
    return f"¥{amount:,.0f}"


# Each reason is a dict literal rather than a call to a common helper: a page formats up to a hundred of them,
# and the extra call was a tenth of that cost.


def audience_match(share: float, category: str, whose: str = "你的") -> dict:
    """Share of the anchor's followers who bought the good's category in the last 30 days (any room); `whose`
    is 你的 to the anchor, TA的 in the merchant's view of the anchor."""
    return {"code": "audience_match", "text": f"{whose}粉丝中 {share:.0%} 近30天购买过{category}",
            "value": round(float(share), 4)}


def sales_proof(anchors_7d: int, gmv_7d: float) -> dict:
    return {"code": "sales_proof", "text": f"近7天 {anchors_7d} 位主播带货，GMV {yuan(gmv_7d)}",
            "value": round(float(gmv_7d), 2)}


def sales_proof_with_you(anchors_7d: int, gmv_7d: float) -> dict:
    """The sales proof told to an anchor who is one of the sellers: the others are counted apart."""
    others = anchors_7d - 1
    who = f"你和另外 {others} 位主播" if others > 0 else "只有你"
    return {"code": "sales_proof", "text": f"近7天 {who}在带货，GMV {yuan(gmv_7d)}", "value": round(float(gmv_7d), 2)}


def commission(rate: float, order_value: float) -> dict:
    """The rate, and what it earns on an order: `order_value` is yuan per order (units x price, less discounts)."""
    return {"code": "commission", "text": f"佣金 {rate:.0%}，每单约赚 {yuan(rate * order_value)}",
            "value": round(float(rate), 4)}


def fans_clicks(clicks: int, days: int, ratio: float) -> dict:
    """A good without recent sales that fans look at far more than its category's average good: its clicks over
    the days it has been on sale in the last 30, and how many times the category's average clicks a day that is
    (a good listed three days ago is compared by the day, not against a month of its elders' clicks)."""
    return {"code": "fans_clicks", "text": f"近{days}天被点击 {clicks:,} 次，按天计是同类商品平均的 {times(ratio)} 倍",
            "value": int(clicks)}


def top_board(category: str, rank: int) -> dict:
    return {"code": "top_board", "text": f"{category} 7日销量榜第 {rank} 名", "value": int(rank)}


def _days(days: float) -> str:
    """Whole days, as the 新人主播 reason words them: "不到 1 天" rather than "0 天"."""
    whole = max(int(days), 0)
    return f" {whole} 天" if whole else "不到 1 天"


def new_goods(days: float) -> dict:
    return {"code": "new_goods", "text": f"新品，上架{_days(days)}", "value": max(int(days), 0)}


def small_merchant(gmv_30d: float) -> dict:
    return {"code": "small_merchant", "text": f"中小商家扶持（商家近30天 GMV {yuan(gmv_30d)}）",
            "value": round(float(gmv_30d), 2)}


def new_shop(days: float) -> dict:
    return {"code": "new_shop", "text": f"新店扶持，开店{_days(days)}", "value": max(int(days), 0)}


def anchor_fans(fans: int) -> dict:
    return {"code": "anchor_fans", "text": f"粉丝 {fans:,} 人", "value": int(fans)}


def new_anchor(days: float | None, supported: bool = True) -> dict:
    """A 新人主播 in the merchant's list: why a room with little record is there. `supported`: the list keeps
    slots for new anchors (扶持); without them the room is there on its own score and the label says only
    新人主播. The days are the account's age (入驻), not its days on air."""
    head = "新人主播扶持" if supported else "新人主播"
    if days is None or not math.isfinite(days):
        return {"code": "new_anchor", "text": head, "value": 0}  # cites no figure
    return {"code": "new_anchor", "text": f"{head}，入驻{_days(days)}", "value": max(int(days), 0)}


def anchor_category_sales(category: str, gmv_30d: float, share: float) -> dict:
    # never "0%" beside a GMV that is not 0, nor "100%" when some of it was another category's
    part = "不到 1%" if 0 < share < 0.005 else "超过 99%" if 0.995 <= share < 1 else f"{share:.0%}"
    return {"code": "category_sales", "text": f"近30天{category} GMV {yuan(gmv_30d)}，占其 GMV {part}",
            "value": round(float(gmv_30d), 2)}


def anchor_untried_category(category: str, fans: int | None = None) -> dict:
    """A proposed room that has not sold the good's category lately: what its estimate rests on instead (a room
    without fans has no audience to compare: only rooms like it)."""
    basis = "同类直播间的销量（TA还没有粉丝）" if fans == 0 else "TA的粉丝构成和粉丝相似的直播间的销量"
    return {"code": "category_untried", "text": f"TA近30天没有带货{category}，预估来自{basis}", "value": 0}


def audience_fit(share: float, who: str, lift: float, region: bool = False, category: str | None = None,
                 sold: bool = True, level: bool = False) -> dict:
    """The room x good term's strongest audience cell: a share of the room's audience as the term counts it (its
    followers and, weighing more, its buyers: a room that has sold nothing has followers only; with `category`,
    each weighed by how likely it is to buy that category, from its orders there and the platform's), and how
    much more than the good's average buyer fans of that cell buy it. Shares are of the fans whose cell is known:
    for the spending levels (`level`), which the platform cannot estimate for every fan, the text says so."""
    whom = f"来自{who}" if region else f"是 {who}"
    audience = "你的观众（粉丝与下单买家）" if sold else "你的粉丝"
    if level:
        audience = f"{audience}中已知消费水平的"
    fans = audience if category is None else f"按买{category}的可能性计，{audience}"
    return {"code": "audience_fit", "text": f"{fans} {share:.0%} {whom}，这类买家买它的倾向是平均的 {lift:.1f} 倍",
            "value": round(float(lift), 2)}


def price_band_fit(factor: float, band: int, bands: int = 5) -> dict:
    """The room sells the good's price band better than its other bands (the band factor of expected orders). The
    factor is an estimate (a room's lean over all its bands, so a band it has not sold yet can carry it), and the
    bands are price quintiles within the good's category: the text says both. Only rooms with sales are told it:
    a room without has its lean from where its fans buy elsewhere, too unsure a figure to be a reason."""
    where = "较贵" if band > (bands - 1) / 2 else "较便宜" if band < (bands - 1) / 2 else "中等价位"
    text = (f"按你的直播间各价位段的销量估计，同类目中{where}的商品（第 {band + 1} 档，共 {bands} 档）"
            f"在你这里比平常多卖 {factor - 1:.0%}")
    return {"code": "price_band_fit", "text": text, "value": round(float(factor), 2)}


def low_stock(stock: int, sales_7d: int) -> dict:
    """A caution, not a reason to pick: at last week's pace the stock runs out within the week."""
    days = stock / (sales_7d / 7)
    when = "不到 1 天" if days < 1 else f"约 {days:.0f} 天"  # whole days: a reason shows no raw decimals
    return {"code": "low_stock", "text": f"库存预警：剩 {stock:,} 件，按近7天销量{when}卖完",
            "value": round(days, 1)}


def quality_control(factor: float, refund: float, rating: float, violations: float) -> dict:
    """A caution: the good's shop refunds, rates or breaks rules enough to take a fifth or more of its score
    (ranking/qc.py); names only what costs (a known refund rate, a rating under 5, violations)."""
    parts = []
    if round(refund, 3) > 0:  # as the card shows it: a tenth of a percent below 10% (0.2% read "退款率 0%")
        parts.append(f"退款率 {refund:.1%}" if refund < 0.1 else f"退款率 {refund:.0%}")
    if round(rating, 1) < 5:  # as shown: 4.96 reads 5.0, no cost to name
        parts.append(f"店铺评分 {rating:.1f} 分")
    if violations > 0:
        parts.append(f"违规 {violations:.0f} 次")
    return {"code": "quality_control", "text": f"品控降权 {1 - factor:.0%}：{'，'.join(parts)}",
            "value": round(float(factor), 4)}


def outside_category(category: str, peers_selling: float, fans_buying: float = 0.0) -> dict:
    """A pick outside the room's own categories (拓品类), justified by rooms whose fans are like its fans; where
    (almost) none of them sells the category, "0% of them" would argue against the pick, so the reason cites the
    room's own fans buying it, or says plainly that the estimate rests on the good's sales in other rooms."""
    if round(peers_selling, 2) > 0:
        text = f"拓品类：粉丝与你相似的直播间中 {peers_selling:.0%} 近30天在卖{category}"
        return {"code": "outside_category", "text": text, "value": round(float(peers_selling), 4)}
    if round(fans_buying, 2) > 0:
        text = f"拓品类：你的粉丝中 {fans_buying:.0%} 近30天购买过{category}（相似直播间还很少在卖）"
        return {"code": "outside_category", "text": text, "value": round(float(fans_buying), 4)}
    text = f"拓品类：相似直播间近30天没有在卖{category}，预期按它在其他直播间的销量估计"
    return {"code": "outside_category", "text": text, "value": 0.0}


def times(ratio: float) -> str:
    """A ratio the way a person says it: one decimal below 10 (1.8 倍), whole above (12 倍)."""
    return f"{ratio:.1f}" if ratio < 10 else f"{ratio:,.0f}"


def hot_burst(where: str, minutes: int, recent: int, expected: float) -> dict:
    """A burst told with figures whose arithmetic holds: the usual count in the same window is said as a whole
    number and the ratio is computed from that number (40 单 against a usual 5 单 is 8 倍). Where the usual count
    rounds to 0 no ratio is said (40 against 0.05 would be "800 倍", a figure no one can check): the sentence
    says the usual hourly count instead, "不到 1 单" below one. `value` is the ratio said, else the recent count."""
    usual = round(expected)
    if usual >= 1:
        ratio = recent / usual
        return {"code": "burst", "value": round(ratio, 1) if ratio < 10 else float(round(ratio)),
                "text": f"{where}近{minutes}分钟 {recent:,} 单，是平时同期（约 {usual:,} 单）的 {times(ratio)} 倍"}
    hourly = expected * 60 / minutes
    usual_hour = "不到 1 单" if hourly < 1 else f"约 {round(hourly):,} 单"
    return {"code": "burst", "value": float(recent),
            "text": f"{where}近{minutes}分钟 {recent:,} 单，平时每小时{usual_hour}"}


def followed_anchor(name: str) -> dict:
    """The fan's feed: an anchor the fan follows sells the good."""
    return {"code": "followed_anchor", "text": f"你关注的主播「{name}」在卖这件商品", "value": 1.0}
