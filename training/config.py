"""All training hyper-parameters in one validated place, with defaults measured on the synthetic marketplace and
Online Retail (README: Tuning)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from recommender.audience_fit import AudienceFitConfig
from recommender.content import ContentConfig
from recommender.embeddings import FactorConfig
from recommender.evidence import EvidenceConfig
from recommender.settings import Settings, load_settings
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
        """Read a JSON or TOML file; unknown keys are errors (a typo must not silently use a default)."""
        return load_settings(cls, path)
