"""All training hyper-parameters in one validated place, with defaults measured on the synthetic marketplace and
Online Retail (README: Tuning)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from recommender.audience_fit import AudienceFitConfig
from recommender.content import ContentConfig
from recommender.embeddings import FactorConfig
from recommender.errors import ConfigError
from recommender.evidence import EvidenceConfig
from recommender.ranking import RankingConfig
from recommender.settings import Settings, read_config_file, validated
from recommender.shelf_rate import ShelfRateConfig
from recommender.trend import TrendConfig


class AnchorConfig(Settings):
    buyer_weight: float = Field(1.0, ge=0, description="weight of log1p(orders in the room) beside a follow")
    sales_shrinkage: float = Field(
        100.0, gt=0, description="sales share of an anchor vector = goods_sold / (goods_sold + this)")
    audience_shrinkage: float = Field(
        50.0, gt=0, description="audience share vs the vertical prior = fans / (fans + this)")


class IndexConfig(Settings):
    kind: str = Field("flat", pattern="^(flat|hnsw)$", description="flat: exact; hnsw: only if recall holds")
    min_recall: float = Field(0.95, gt=0, le=1, description="recall@k vs exact an approximate index must reach")
    k: int = Field(50, ge=1, description="k at which recall is measured")
    anchor_candidates: int = Field(600, ge=10, description="top goods per anchor precomputed (the picks of "
                                   "models without the shelf-rate model retrieve from them)")


class TrainConfig(Settings):
    half_life_days: float = Field(30.0, gt=0, description="recency half-life of orders")
    confidence: str = Field("amount", pattern="^(quantity|amount)$",
                            description="what an order weighs in the fan x product matrix: its amount in yuan (what "
                            "tuning chose on the synthetic marketplace and Online Retail alike) or its quantity")
    factors: FactorConfig = Field(default_factory=FactorConfig, description="fan and product factors")
    anchors: AnchorConfig = Field(default_factory=AnchorConfig, description="anchor vectors")
    content: ContentConfig = Field(default_factory=ContentConfig,
                                   description="the content model for goods with few sales")
    index: IndexConfig = Field(default_factory=IndexConfig, description="search structures and precomputed candidates")
    shelf_rate: ShelfRateConfig = Field(default_factory=ShelfRateConfig,
                                         description="the shelf-rate model (expected orders if shelved)")
    trend: TrendConfig = Field(default_factory=TrendConfig,
                               description="the blend of a fan's taste with the market's trend (fan->goods scores)")
    audience_fit: AudienceFitConfig = Field(default_factory=AudienceFitConfig,
                                            description="the room x good term of expected orders (personal fit)")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig,
                                     description="a good's daily trend and its biggest sellers (Beijing days)")
    threads: int | None = Field(None, ge=1, description="compute threads; default: all cores")
    recent_order_days: int = Field(7, ge=0, le=30, description="days of recent orders kept in the artifact, "
                                   "so the service's hot items start with each good's baseline")

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a JSON or TOML file; unknown keys are errors (a typo must not silently use a default). A
        `[ranking]` table is the service's and `xuanpin evaluate`'s (`evaluated_settings`), not the model's: it is
        refused by name here, so the reader is not left guessing what an extra field is."""
        data = read_config_file(path)
        if "ranking" in data:
            raise ConfigError(f"{path}: [ranking] holds the service's ranking settings, which training does not "
                              "use: give them to `xuanpin evaluate --config` (to judge them offline) or to the "
                              "service's XUANPIN_CONFIG, and train with a file without that table")
        return validated(cls, data, str(path))


def evaluated_settings(path: str | Path) -> tuple[TrainConfig, RankingConfig]:
    """`xuanpin evaluate --config`'s file: the model's training settings, and optionally the service's
    `[ranking]` table (the same fields as XUANPIN_CONFIG's), so a ranking change is judged on the served lists
    before it is deployed."""
    data = read_config_file(path)
    ranking = data.pop("ranking", {})
    foreign = sorted(set(data) - set(TrainConfig.model_fields))
    if foreign:  # a misspelt field, or a service file's own (model, hot, ...): named either way
        raise ConfigError(f"{path}: {', '.join(foreign)}: not training settings; evaluate --config takes `xuanpin "
                          "train`'s fields and a [ranking] table (a service file's other fields, such as model or "
                          "hot, are the service's alone: copy its [ranking] table into a file of its own)")
    if not isinstance(ranking, dict):
        given = "null" if ranking is None else f"{type(ranking).__name__} {ranking!r}"
        raise ConfigError(f"{path}: ranking: a table of ranking settings, got {given}")
    return validated(TrainConfig, data, str(path)), validated(RankingConfig, ranking, f"{path} [ranking]")
