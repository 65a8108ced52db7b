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


def test_plain_digit_strings_and_the_general_path_agree():
    v = Vocabulary(np.array([7, 42, 123456789012345678]))
    plain = ["42", "7", "123456789012345678", "0042"]
    assert v.index(np.array(plain)).tolist() == [1, 0, 2, 1]
    # anything that is not plain ASCII digits of at most 18 characters takes the careful path, as before
    careful = [" 42", "-7", "4.2", "", "１２", "1234567890123456789"]
    assert v.index(np.array(careful)).tolist() == [1, -1, -1, -1, -1, -1]


@pytest.mark.parametrize("kind", ["int", "str"])
def test_small_and_large_batches_find_the_same_rows(kind):
    rng = np.random.default_rng(0)
    ids = rng.choice(10**9, 30_000, replace=False)
    v = Vocabulary(ids if kind == "int" else ids.astype(str))
    queries = np.concatenate([rng.choice(ids, 25_000), rng.integers(10**9, 2 * 10**9, 5_000)])  # some unknown
    queries = queries if kind == "int" else queries.astype(str)
    whole = v.index(queries)  # over SMALL_BATCH: hashed
    pieces = np.concatenate([v.index(queries[i:i + 1000]) for i in range(0, len(queries), 1000)])  # searched
    assert (whole == pieces).all() and (whole[:25_000] >= 0).all() and (whole[25_000:] == -1).all()
    assert (v.ids[whole[:25_000]] == queries[:25_000]).all()


@pytest.mark.parametrize("ids, queries", [
    ([30, 10, 20, -5], [20, "20", " 10 ", "0030", "-5", "x", "", "2.0", "99999999999999999999", 99, "--5", "²",
                        "٣", "+5", "1_0", "-"]),
    (["主播A", "b", "20"], ["b", "主播A", "20", 20, " b", "zz", ""]),
])
def test_lookup_of_one_id_agrees_with_index(ids, queries):
    v = Vocabulary(ids)
    assert [v.lookup(q) for q in queries] == v.index(np.array([str(q) for q in queries])).tolist()


@pytest.mark.parametrize("span", [1, 3, 50])  # a packed range, a loose one (a table), sparse ids (hashing)
def test_large_batches_of_packed_and_sparse_integer_ids_find_the_same_rows_as_binary_search(span):
    rng = np.random.default_rng(span)
    ids = 5_000_000_000 + rng.choice(40_000 * span, 40_000, replace=False)
    v = Vocabulary(ids)
    queries = np.concatenate([rng.choice(ids, 30_000), ids.min() - rng.integers(1, 10, 100),
                              ids.max() + rng.integers(1, 10, 100), rng.integers(-2**62, 2**62, 100),
                              [np.iinfo(np.int64).min, np.iinfo(np.int64).max]])
    whole = v.index(queries)
    pieces = np.concatenate([v.index(queries[i:i + 1000]) for i in range(0, len(queries), 1000)])
    assert (whole == pieces).all() and (whole[:30_000] >= 0).all() and (whole[30_000:] == -1).all()
    assert (v.ids[whole[:30_000]] == queries[:30_000]).all()
