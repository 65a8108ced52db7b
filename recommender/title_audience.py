"""What a good's title says about whom it is for: the audience words (人群词) and the place of origin (产地).

Sellers write the target into the title: 女士 / 男款 for a gender, 学生 / 中老年 for an age, 云南 / 黑龙江 for where
it comes from. A good with few or no orders has little evidence of which audience buys it; its title is a prior.
The room x good term (``recommender/audience_fit.py``) groups goods by what their titles say, within their
category, so a new 男士 good starts from the response of the category's other 男士 goods instead of the
category's average.

Titles are matched token by token (the catalogue's titles are space-separated words): a word counts only as a
whole token, so 学生党 (a selling point) is not 学生 (a target). Places are the fans table's own region labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: audience words, each to (gender, age group): gender 1 women, 2 men; age 1 young, 2 middle, 3 older; 0 unsaid
AUDIENCE_WORDS: dict[str, tuple[int, int]] = {
    "女士": (1, 0), "女款": (1, 0), "女生": (1, 0), "女式": (1, 0), "女性": (1, 0), "女装": (1, 0),
    "男士": (2, 0), "男款": (2, 0), "男生": (2, 0), "男式": (2, 0), "男性": (2, 0), "男装": (2, 0),
    "少女": (1, 1), "宝妈": (1, 2), "学生": (0, 1), "大学生": (0, 1), "青年": (0, 1), "年轻人": (0, 1),
    "轻熟": (0, 2), "熟龄": (0, 2), "白领": (0, 2), "中年": (0, 2),
    "中老年": (0, 3), "老年": (0, 3), "老人": (0, 3), "爸妈": (0, 3), "长辈": (0, 3),
}  # fmt: skip
#: number of (gender, age) classes a title can say: (unsaid, women, men) x (unsaid, young, middle, older)
DEMO_CLASSES = 3 * 4


@dataclass(frozen=True)
class TitleWords:
    """Every title's words, split once for all the lexicons: the words and the row of the title each is from."""

    word: pd.Series  # the words, one row each
    row: np.ndarray  # (words,) the row of its title
    titles: int  # how many titles

    @classmethod
    def of(cls, titles: pd.Series) -> TitleWords:
        words = titles.reset_index(drop=True).fillna("").astype(str).str.split().explode()
        return cls(words.reset_index(drop=True), words.index.to_numpy(np.int64), len(titles))

    def classes(self, lexicon: dict[str, int]) -> np.ndarray:
        """(titles,) the class the lexicon's words give each title: 0 for none, and 0 where a title's words of
        the lexicon name two classes (男女同款: neither)."""
        cls = self.word.map(lexicon).to_numpy()
        hit = ~pd.isna(cls)
        pairs = pd.DataFrame({"row": self.row[hit], "value": cls[hit].astype(np.int64)}).drop_duplicates()
        out = np.zeros(self.titles, np.int64)
        out[pairs["row"].to_numpy(np.int64)] = pairs["value"].to_numpy(np.int64)
        counts = pairs["row"].value_counts()
        out[counts.index[counts.to_numpy() > 1].to_numpy(np.int64)] = 0
        return out


def title_demographics(titles: pd.Series | TitleWords) -> np.ndarray:
    """(goods,) the (gender, age) class each title names: gender + 3 x age, 0 where it names neither. Where a
    title names two genders or two ages (男女同款), that part is unsaid."""
    words = titles if isinstance(titles, TitleWords) else TitleWords.of(titles)
    gender = words.classes({w: g for w, (g, _) in AUDIENCE_WORDS.items() if g})
    age = words.classes({w: a for w, (_, a) in AUDIENCE_WORDS.items() if a})
    return gender + 3 * age


def title_origin(titles: pd.Series | TitleWords, places: Sequence[str]) -> np.ndarray:
    """(goods,) 1 + the index in `places` of the place a title names, 0 where it names none (or several)."""
    words = titles if isinstance(titles, TitleWords) else TitleWords.of(titles)
    return words.classes({str(p): i + 1 for i, p in enumerate(places)})
