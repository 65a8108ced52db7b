"""Ranking for the selection center, as small components: quality gates (`gates`), scorers (`scorers`), the
page-arrangement rule (`arrange`), reasons (`explain`), and the features built from them: goods for an anchor
(`picks`), anchors for a good (`anchors`), boards (`boards`). `Ranker` wires them over one loaded model."""

from recommender.ranking.arrange import arrange, slot_codes
from recommender.ranking.config import RankingConfig
from recommender.ranking.picks import PickFilters
from recommender.ranking.ranker import Ranker
from recommender.ranking.results import Page, Pick

__all__ = ["Page", "Pick", "PickFilters", "Ranker", "RankingConfig", "arrange", "slot_codes"]
