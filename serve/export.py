"""CSV downloads of the API's lists (下载CSV): one row per item, the way a person opens them in Excel.

Any route declared with ``endpoint(..., csv="items")`` answers ``format=csv`` (or ``Accept: text/csv``) with its
list flattened here: nested objects become columns (``product.title``), a list of reasons one cell of their
sentences. The file is UTF-8 with a byte-order mark (Excel reads a CSV without one in the machine's code page
and shows Chinese as mojibake), headers are Chinese, money stays yuan, rates are written as percentages
(``36.5%``, which Excel reads as the number 0.365) and yes/no as 是/否.
"""

from __future__ import annotations

import csv
import io
import types
import typing
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

BOM = "\ufeff"

#: column headers by the field's path in an item; anything else keeps its path
HEADERS = {
    "rank": "名次", "score": "得分", "reasons": "推荐理由", "supported": "扶持", "on_shelf": "已在货架",
    "outside": "拓品类", "sales": "销量", "gmv": "GMV(元)", "similarity": "相似度",
    "recent_orders": "近期订单", "orders_24h": "近24小时订单", "orders_7d": "近7天订单",
    "expected_orders": "平时同期订单", "lift": "热度倍数", "affinity": "匹配度", "category": "类目",
    "products": "商品数", "date": "日期(北京时间)", "status": "数据状态",
    "product.product_id": "商品ID", "product.title": "商品标题", "product.category": "类目",
    "product.price": "售价(元)",
    "product.commission_rate": "佣金率", "product.commission_per_unit": "每件佣金(元)",
    "product.merchant_id": "商家ID", "product.brand": "品牌",
    "product.created_at": "上架时间(北京时间)", "product.stock": "库存", "product.low_stock": "库存预警",
    "product.days_of_stock": "库存可售天数",
    "product.refund_rate": "退款率", "product.shop_rating": "店铺评分", "product.sales_7d": "近7天销量",
    "product.gmv_7d": "近7天GMV(元)", "product.merchant_name": "店铺",
    "baseline_orders_7d": "此前周均订单", "growth_7d": "7日增长", "passes_gates": "通过质量门槛",
    "gmv_rank": "GMV名次", "orders": "订单数", "buyers": "买家数", "fan_buyers": "粉丝买家数",
    "conversion": "粉丝转化率", "new_anchor": "新人主播", "audience.text": "粉丝画像",
    "audience.order_value": "粉丝客单价(元)",
    "anchor_id": "主播ID", "name": "主播昵称", "tier": "层级", "main_category": "主营类目", "fans": "粉丝数",
    "anchor.anchor_id": "主播ID", "anchor.name": "主播昵称", "anchor.tier": "层级",
    "anchor.main_category": "主营类目", "anchor.fans": "粉丝数",
    "followed_anchor.anchor_id": "关注的主播ID", "followed_anchor.name": "关注的主播",
    "followed_anchor.tier": "关注的主播层级", "followed_anchor.main_category": "关注的主播主营类目",
    "followed_anchor.fans": "关注的主播粉丝数",
    "breakdown.expected_commission_30d": "预期佣金30天(元)",
    "breakdown.expected_commission_30d_p05": "预期佣金30天下限(元)",
    "breakdown.expected_commission_30d_p95": "预期佣金30天上限(元)",
    "breakdown.affinity": "匹配度(预期订单30天)", "breakdown.expected_orders_30d": "预期订单30天",
    "breakdown.relative_affinity": "相对匹配度", "breakdown.price": "售价(元)", "breakdown.order_value": "每单金额(元)",
    "breakdown.commission_rate": "佣金率", "breakdown.qc_factor": "品控系数",
    "breakdown.expected_value": "排序价值(无单位)", "breakdown.support_boost": "扶持加权",
    "breakdown.explore": "每日轮换系数", "breakdown.score": "排序得分(无单位)",
    "breakdown.fans": "粉丝数", "breakdown.category_gmv_share": "该类目GMV占比", "breakdown.fit": "匹配度",
    "breakdown.relative_fit": "相对匹配度", "breakdown.category_orders_30d": "该类目近30天订单",
}

#: fields that are rates (0-1): written as percentages
RATES = {"commission_rate", "refund_rate", "similarity", "relative_affinity", "category_gmv_share", "share",
         "relative_fit", "anchor_conversion_30d", "refund_share_30d", "growth_7d", "conversion"}

#: words for the codes a list of labels holds
LABELS = {"new_goods": "新品扶持", "small_merchant": "中小商家扶持", "new_shop": "新店扶持"}

#: columns left out: the breakdown's duplicates of the card, and figures that are the card's
SKIP = {"breakdown.price", "breakdown.commission_rate", "breakdown.fans", "breakdown.score",
        "product.commission_per_order",  # commission_per_unit under its old name
        # the audience line's parts: its text (粉丝画像) says them, and a room without followers has none
        "audience", "audience.gender.label", "audience.gender.share", "audience.age_band.label",
        "audience.age_band.share", "audience.region.label", "audience.region.share", "audience.few_fans"}


#: a free-form dict field's keys, declared on the field (json_schema_extra) so every page of a route, an empty
#: one too, downloads with the same columns; keys an item adds beyond them follow
CSV_KEYS = "x-csv-keys"


def _percent(value: float) -> str:
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


#: fields that are ISO 8601 times with their offset (Beijing time): written as a spreadsheet reads a date and time
TIMES = {"created_at", "listed_at"}


def _cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and name.rsplit(".", 1)[-1] in TIMES:
        try:  # 2026-10-02T10:09:28+08:00 is text to Excel; 2026-10-02 10:09:28 (the header says 北京时间) a time
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return _inert(value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and name.rsplit(".", 1)[-1] in RATES:
        return _percent(value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    if isinstance(value, list):
        if all(isinstance(v, dict) and "text" in v for v in value):
            return _inert("；".join(v["text"] for v in value))
        return _inert("、".join(LABELS.get(str(v), str(v)) for v in value))
    return _inert(value) if isinstance(value, str) else str(value)


def _inert(text: str) -> str:
    """Text a spreadsheet will not run: titles and names come from merchants and anchors, and a cell that starts
    with = + - @ (or a tab or carriage return before one) is a formula to Excel (=HYPERLINK(...) sends data out);
    a leading apostrophe makes it text, as OWASP advises for CSV files."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _flatten(item: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        elif name not in SKIP:
            out[name] = value
    return out


def header(name: str) -> str:
    """The Chinese header of a column (its path when none is known)."""
    return HEADERS.get(name, name)


def fields_of(model: type[BaseModel] | None, prefix: str = "") -> list[str]:
    """The column paths an item model declares (nested models flattened; a free-form dict such as the breakdown
    adds its keys from the items themselves), so even an empty list downloads with its headers."""
    if model is None:
        return []
    out = []
    hints = typing.get_type_hints(model)  # a model declared before its nested one keeps a ForwardRef in model_fields
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        kind = hints.get(name, field.annotation)
        options = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, types.UnionType) else (kind,)
        nested = next((t for t in options if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if nested is not None:
            out += fields_of(nested, path + ".")
        elif typing.get_origin(kind) is dict:
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            out += [f"{path}.{k}" for k in extra.get(CSV_KEYS, ()) if f"{path}.{k}" not in SKIP]
            out.append(path + ".*")  # the items' other keys go here
        elif path not in SKIP:
            out.append(path)
    return out


def item_model(response: type[BaseModel] | None, field: str) -> type[BaseModel] | None:
    """The model of one item of `response`'s list field `field` (None when it is not a list of models)."""
    if response is None or field not in response.model_fields:
        return None
    args = typing.get_args(response.model_fields[field].annotation)
    return args[0] if args and isinstance(args[0], type) and issubclass(args[0], BaseModel) else None


#: what a list's answer flags say of its every row, as the CSV's 数据状态 column writes it
STATUS = {"stale": "过期：存储故障，这是故障前的数据", "warming_up": "预热中：订单流刚开始，数据不全"}


def to_csv(items: list, model: type[BaseModel] | None = None, flags: list[str] | tuple[str, ...] = ()) -> bytes:
    """A list of items as the bytes of a CSV file: BOM, Chinese headers, one row per item (a header row alone
    for an empty list). Columns: `model`'s fields in their order, then what the items add (breakdown keys).
    `flags` (the answer's stale, warming_up) become a last column, 数据状态, on every row: a file downloaded
    during a store outage looked current."""
    rows = [_flatten(item) for item in orjson.loads(orjson.dumps(items, option=orjson.OPT_SERIALIZE_NUMPY))]
    status = "；".join(STATUS[f] for f in flags)
    if status:
        rows = [{**row, "status": status} for row in rows]
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    columns: dict[str, None] = {}
    for path in fields_of(model):
        if path.endswith(".*"):
            columns.update(dict.fromkeys(c for c in seen if c.startswith(path[:-1])))
        else:
            columns[path] = None
    columns.update(dict.fromkeys(c for c in seen if c not in columns))
    if status:  # an empty stale list says so too
        columns["status"] = None
    # a figure an item carries twice (a board's fans beside its anchor's) is one column: the later copy goes
    # where every row holds the same value under the same header
    first: dict[str, str] = {}
    for c in list(columns):
        twin = first.setdefault(header(c), c)
        if twin != c and all(row.get(c) == row.get(twin) for row in rows):
            del columns[c]
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header(c) for c in columns])
    for row in rows:
        writer.writerow([_cell(c, row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")
