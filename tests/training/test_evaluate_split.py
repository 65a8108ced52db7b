"""The random per-user split of ``xuanpin evaluate --split random``: per user, 75/25 up to rounding, seeded,
disjoint, and nothing of a user's held-out items reaches what the trainer sees or writes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from recommender.artifact import load_model
from recommender.cli import main
from recommender.contract import load_snapshot
from recommender.errors import ConfigError
from training.evaluate import EvalConfig, evaluate
from training.evaluate_split import held_out_pairs, random_split
from training.report import markdown
from training.trainer import train


@pytest.fixture(scope="module")
def snapshot(small_snapshot):
    return load_snapshot(small_snapshot)


def _pairs(table, u: str, i: str, n_i: int) -> np.ndarray:
    return np.unique(table[u].to_numpy(np.int64) * n_i + table[i].to_numpy(np.int64))


@pytest.mark.parametrize("share", [0.25, 0.5])
def test_each_user_holds_out_its_share_of_distinct_items_rounded_half_up(snapshot, share):
    p = snapshot.purchases
    n_i = len(snapshot.product_ids)
    keys, held, counts = held_out_pairs(p["fan"].to_numpy(), p["product"].to_numpy(), n_i, share, 3, 5)
    owner = keys // n_i
    per_user = np.bincount(owner[held], minlength=len(counts))
    split = counts >= 5
    assert split.sum() > 100 and (~split & (counts > 0)).sum() > 100  # both kinds on the fixture
    assert (per_user[split] == np.floor(share * counts[split] + 0.5)).all()  # 7 items: 2 held out, 8: 2, 10: 3
    assert (per_user[~split] == 0).all()  # too few items: all of them stay in training
    rounding = 0.5 * split.sum() / counts[split].sum()  # at most half an item per user
    assert abs(held.sum() / counts[split].sum() - share) <= rounding


def test_the_draw_is_seeded_and_independent_of_row_order(snapshot):
    p = snapshot.purchases
    fan, good, n_i = p["fan"].to_numpy(), p["product"].to_numpy(), len(snapshot.product_ids)
    _, a, _ = held_out_pairs(fan, good, n_i, 0.25, 0, 5)
    _, b, _ = held_out_pairs(fan, good, n_i, 0.25, 0, 5)
    shuffled = np.random.default_rng(1).permutation(len(fan))
    _, c, _ = held_out_pairs(fan[shuffled], good[shuffled], n_i, 0.25, 0, 5)
    _, d, _ = held_out_pairs(fan, good, n_i, 0.25, 1, 5)
    assert (a == b).all() and (a == c).all()
    assert (a != d).any() and a.sum() == d.sum()


@pytest.mark.parametrize("task", ["fan_goods", "anchor_goods", "goods_anchors"])
def test_training_and_test_pairs_are_disjoint_and_cover_every_pair(snapshot, task):
    rs = random_split(snapshot, task, 0.25, seed=0, min_items=5, max_users=10**6)
    u, i = rs.summary["user"], rs.summary["item"]
    n_i = len(getattr(snapshot, {"fan": "fan_ids", "anchor": "anchor_ids", "product": "product_ids"}[i]))
    train, every = _pairs(rs.train.purchases, u, i, n_i), _pairs(snapshot.purchases, u, i, n_i)
    t = rs.task
    rows, cols = t.truth.nonzero()
    test = t.users[rows].astype(np.int64) * n_i + cols
    assert len(test) == rs.summary["test_pairs"]  # every user with held-out items is scored here
    assert not np.isin(test, train).any()  # no held-out pair has an order left in training, refunded or not
    assert not np.isin(test, _pairs(rs.train.orders, u, i, n_i)).any()
    assert np.array_equal(np.union1d(train, test), every) and len(train) + len(test) == len(every)
    assert t.truth.multiply(t.seen).nnz == 0 and t.seen.nnz == np.isin(train // n_i, t.users).sum()
    assert rs.train.snapshot_time == snapshot.snapshot_time  # time features count back from the snapshot's end
    if "anchor" in (u, i):  # the room's listing of a held-out good would name the pair
        listed = _pairs(rs.train.shelf, u, i, n_i)
        assert not np.isin(test, listed).any()
        assert len(rs.train.shelf) < len(snapshot.shelf)
    else:
        assert len(rs.train.shelf) == len(snapshot.shelf)
    assert len(rs.train.follows) == len(snapshot.follows)


def test_fan_goods_all_is_refused_by_name(snapshot):
    with pytest.raises(ValueError, match=r"fan_goods_all.*rebuy"):
        random_split(snapshot, "fan_goods_all")
    with pytest.raises(ConfigError, match="fan_goods_all"):
        evaluate(snapshot, EvalConfig(split="random", tasks=("fan_goods_all",)))


@pytest.fixture(scope="module")
def trained(snapshot, tmp_path_factory):
    """The fan split's and the anchor split's training parts, trained as the evaluation trains them."""
    out = {}
    for task in ("fan_goods", "anchor_goods"):
        rs = random_split(snapshot, task, 0.25, seed=0, max_users=10**6)
        out[task] = rs, load_model(train(rs.train, tmp_path_factory.mktemp(task) / "model"), mmap=False)
    return out


def test_no_held_out_purchase_reaches_the_fan_split_artifact(trained, snapshot):
    rs, model = trained["fan_goods"]
    rebuys = model.fan_rebuys(np.arange(len(snapshot.fan_ids))).tocsr()  # each fan's own orders of each good
    held = rs.task.truth.tocoo()
    assert rebuys.nnz > 0
    assert np.asarray(rebuys[rs.task.users[held.row], held.col]).ravel().max() == 0
    stats = model.anchor_stats
    assert stats["orders_all"].sum() == len(rs.train.purchases) < len(snapshot.purchases)
    assert model.snapshot_time == snapshot.snapshot_time


def test_no_held_out_sale_or_listing_reaches_the_anchor_split_artifact(trained, snapshot):
    rs, model = trained["anchor_goods"]
    held = rs.task.truth.tocoo()
    anchors = rs.task.users[held.row]
    for a in np.unique(anchors):
        assert not np.isin(held.col[anchors == a], model.shelf_of(int(a))).any()
    sold = np.bincount(rs.train.purchases["anchor"].to_numpy(), minlength=len(snapshot.anchor_ids))
    assert np.array_equal(model.anchor_stats["orders_all"].to_numpy(), sold)


def test_a_random_evaluation_scores_baselines_and_records_the_split(snapshot):
    per_user: dict = {}
    result = evaluate(snapshot, EvalConfig(split="random", n_boot=50, tasks=("fan_goods", "fan_goods_all")),
                      per_user=per_user)
    assert set(result["tasks"]) == {"fan_goods"}
    split = result["data"]["split"]
    assert split["kind"] == "random" and split["test_share"] == 0.25 and split["seed"] == 0
    assert "fan_goods_all" in split["skipped"]
    s = split["tasks"]["fan_goods"]
    assert s["users_split"] + s["users_all_in_training"] == s["users"] and s["users_all_in_training"] > 0
    models = result["tasks"]["fan_goods"]["models"]
    assert {"ours", "popularity", "itemknn", "als", "bpr", "random"} <= set(models)
    assert models["popularity"]["recall@20"]["mean"] > models["random"]["recall@20"]["mean"]
    lo, hi = models["ours"]["ndcg@20"]["ci95"]
    assert lo <= models["ours"]["ndcg@20"]["mean"] <= hi
    text = markdown(result)
    assert "Random per-user split: 25%" in text and "Skipped fan_goods_all" in text and "| fan_goods | fan |" in text
    # each fan's figures by its id, for a paired --compare: the sampled fans, whose means are the report's
    kept = per_user["fan_goods"]
    assert set(per_user) == {"fan_goods"} and len(kept["users"]) == result["tasks"]["fan_goods"]["users"]
    assert set(kept["users"]) <= set(snapshot.fan_ids.ids.astype(str))
    for name, m in models.items():
        for metric in ("recall@20", "ndcg@20", "gmv_recall@20"):
            assert kept["models"][name][metric].mean() == pytest.approx(m[metric]["mean"], abs=2e-5)


def test_under_a_random_split_tuning_validates_on_a_random_split_of_the_training_part(snapshot):
    """The tuned model answers the question it is judged on: a random share of each fan's goods, another draw,
    held out of the task's training part (whose own held-out pairs the tuning never sees)."""
    result = evaluate(snapshot, EvalConfig(split="random", n_boot=50, tune_trials=3, tasks=("fan_goods",)))
    tuning = result["tuning"]["fan_goods"]
    assert tuning["split"]["kind"] == "random" and tuning["split"]["valid_share"] == 0.25
    assert tuning["split"]["split_seed"] == 1  # not the evaluation's draw (seed 0)
    s = result["data"]["split"]["tasks"]["fan_goods"]
    assert tuning["split"]["fit_orders"] + tuning["split"]["valid_orders"] <= s["train_orders"]
    assert {"ours", "ours_tuned"} <= set(result["tasks"]["fan_goods"]["models"])
    assert "a random 0.25 of each fan's goods validating" in markdown(result)


def test_tasks_whose_training_parts_are_the_same_share_one_model(snapshot, monkeypatch):
    """Where every buyer is its own room (Online Retail), the fan split and the anchor split hold out the same
    orders: one model is trained for both, and each task is still scored on its own split."""
    import training.evaluate as evaluation

    own = snapshot.orders[snapshot.orders["fan"] < len(snapshot.anchor_ids)].copy()
    own["anchor"] = own["fan"]  # every customer buys in its own room
    m = dataclasses.replace(snapshot, orders=own.reset_index(drop=True), shelf=snapshot.shelf.iloc[:0])
    fan, room = random_split(m, "fan_goods"), random_split(m, "anchor_goods")
    assert fan.digest == room.digest
    assert random_split(m, "goods_anchors").digest != fan.digest
    runs = []  # (the training part's orders, the tasks scored on its model)

    def run(m_, train_m, tasks, cfg, truth, per_user=None):
        runs.append((len(train_m.orders), {name: len(t.users) for name, t in tasks.items()}))
        graded = {f"{name}_if_shelved": {"users": 1} for name in tasks if name != "fan_goods"}  # as on generated data
        return {name: {"users": len(t.users)} for name, t in tasks.items()} | graded, None

    monkeypatch.setattr(evaluation, "_run", run)
    result = evaluate(m, EvalConfig(split="random", n_boot=50, tasks=("goods_anchors", "fan_goods", "anchor_goods")))
    assert len(runs) == 2 and runs[1][0] == len(fan.train.orders)
    assert runs[1][1] == {"fan_goods": len(fan.task.users), "anchor_goods": len(room.task.users)}
    # in the order asked, each graded table after its task's (they were dropped: the README's table to read)
    assert list(result["tasks"]) == ["goods_anchors", "goods_anchors_if_shelved", "fan_goods", "anchor_goods",
                                     "anchor_goods_if_shelved"]
    assert result["data"]["shelf_model"] is False  # no shelf table: the report says what ours is instead


def test_the_split_options_are_bounded():
    with pytest.raises(ValidationError, match="test_share"):
        EvalConfig(split="random", test_share=1.5)
    with pytest.raises(ValidationError, match="split"):
        EvalConfig(split="leave_one_out")
    assert EvalConfig().split == "temporal"  # the default is unchanged


@pytest.mark.parametrize(("args", "message"), [
    (["--split", "random", "--test-share", "1.5"], "Invalid value for '--test-share': 1.5 is not in the range 0<x<1"),
    (["--split", "random", "--test-share", "0"], "Invalid value for '--test-share'"),
    (["--split", "shuffled"], "Invalid value for '--split': 'shuffled' is not one of 'temporal', 'random'"),
    (["--split", "random", "--split-seed", "-1"], "Invalid value for '--split-seed'"),
])
def test_bad_split_options_are_refused_by_name(small_snapshot, tmp_path, args, message):
    result = CliRunner().invoke(main, ["evaluate", "--data", str(small_snapshot), "--out", str(tmp_path / "r"),
                                       *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "r").exists()
