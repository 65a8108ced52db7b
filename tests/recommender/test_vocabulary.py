"""One vocabulary maps ids to rows, for integer and string ids alike."""

import numpy as np
import pytest

from recommender.vocabulary import Vocabulary


def test_integer_ids_map_to_rows_and_unknown_to_minus_one():
    v = Vocabulary([30, 10, 20])
    assert v.index([10, 30, 99]).tolist() == [1, 0, -1]
    assert v.lookup(20) == 2


def test_string_ids_and_chinese_ids_work():
    v = Vocabulary(["主播A", "b", "c"])
    assert v.index(["c", "主播A", "zz"]).tolist() == [2, 0, -1]


def test_ids_from_a_url_are_coerced_to_the_vocabulary_type():
    assert Vocabulary([5, 6]).index(["6", "x", " 5 "]).tolist() == [1, -1, 0]
    assert Vocabulary(["5", "6"]).index(np.array([6])).tolist() == [1]


def test_duplicate_ids_are_refused():
    with pytest.raises(ValueError, match="not unique"):
        Vocabulary([1, 2, 1], name="anchors")


def test_save_and_load_without_pickle(tmp_path):
    v = Vocabulary(["甲", "乙"])
    v.save(tmp_path / "ids.npy")
    assert Vocabulary.load(tmp_path / "ids.npy").index(["乙"]).tolist() == [1]
