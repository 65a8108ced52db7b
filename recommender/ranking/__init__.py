"""Ranking for the selection center, as small components: quality gates (`gates`), scorers (`scorers`), the
page-arrangement rule (`arrange`), reasons (`explain`), and the features built from them: goods for an anchor
(`picks`), anchors for a good (`anchors`, with the 达人广场 filters), goods' boards (`boards`) and anchor boards
(`anchor_boards`). `Ranker` wires them over one loaded model."""

from recommender.ranking.anchor_boards import METRICS, BoardPage, audience_line
from recommender.ranking.anchors import AnchorFilters
from recommender.ranking.arrange import arrange, slot_codes
from recommender.ranking.config import RankingConfig
from recommender.ranking.picks import PickFilters
from recommender.ranking.ranker import Ranker
from recommender.ranking.results import Page, Pick

__all__ = ["METRICS", "AnchorFilters", "BoardPage", "Page", "Pick", "PickFilters", "Ranker", "RankingConfig",
           "arrange", "audience_line", "slot_codes"]
