"""The temporal split and the ranking tasks that evaluation, tuning and the nightly gate all score on.

Tasks, each scored on what happens after a cut-off that training never saw:

* ``anchor_goods``: which goods each anchor newly sells (the 选品 task);
* ``fan_goods``: which goods each fan newly buys (the feed);
* ``goods_anchors``: which anchors newly sell each good (达人广场);
* ``fan_goods_all``: which goods each fan buys, rebuys included (the feed, where a restocked good is news too).

"Newly" means pairs absent from the training period, which are also excluded from every ranking: recommending
what an anchor already sells is not a pick. ``fan_goods_all`` excludes nothing. Truth values are test GMV (for
GMV-weighted recall).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from recommender.arrays import top_k
from recommender.contract import Marketplace
from recommender.interactions import sparse_sum
from recommender.settings import Settings

_log = logging.getLogger(__name__)

TaskName = Literal["anchor_goods", "fan_goods", "goods_anchors", "fan_goods_all"]
TASKS: tuple[str, ...] = get_args(TaskName)


class TaskSample(Settings):
    """Which tasks, and how many of their users, a run scores."""

    tasks: tuple[TaskName, ...] = Field(TASKS, min_length=1, description="which tasks to score")
    max_users: int = Field(3000, ge=1, description="users sampled per task (all if fewer); CIs are over this "
                           "sample")
    seed: int = Field(0, ge=0, description="random state of the user sample (and of an evaluation's bootstrap)")


@dataclass
class Task:
    name: str
    users: np.ndarray  # rows (of the user entity) that have something to find, sampled
    truth: sp.csr_matrix  # (len(users), n_items) test GMV of new pairs
    seen: sp.csr_matrix  # (len(users), n_items) training pairs, excluded from rankings
    n_items: int
    unborn: np.ndarray | None = None  # (n_items,) items created after the cut-off: not offerable then
    population: int | None = None  # users with something to find, before sampling (None: not counted)


def split(m: Marketplace, test_days: float) -> tuple[Marketplace, pd.DataFrame, pd.Timestamp]:
    """Train on everything before the cut-off; test on the following `test_days`."""
    cutoff = m.snapshot_time - pd.Timedelta(days=test_days)
    test = m.purchases[m.purchases["ordered_at"] >= cutoff]
    return m.until(cutoff), test, cutoff


def sum_pairs(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    return sparse_sum(rows, cols, values, shape, dtype=np.float64)


def build_tasks(train_m: Marketplace, test: pd.DataFrame, cfg: TaskSample) -> dict[str, Task]:
    n_a, n_f, n_p = len(train_m.anchor_ids), len(train_m.fan_ids), len(train_m.product_ids)
    tr = train_m.purchases
    spec = {
        "anchor_goods": ("anchor", "product", n_a, n_p),
        "fan_goods": ("fan", "product", n_f, n_p),
        "goods_anchors": ("product", "anchor", n_p, n_a),
        "fan_goods_all": ("fan", "product", n_f, n_p),
    }
    tasks = {}
    for name in cfg.tasks:
        u, i, n_u, n_i = spec[name]
        seen = sum_pairs(tr[u].to_numpy(), tr[i].to_numpy(), np.ones(len(tr)), (n_u, n_i))
        seen.data[:] = 1.0
        truth = sum_pairs(test[u].to_numpy(), test[i].to_numpy(), test["amount"].to_numpy(), (n_u, n_i))
        if name == "fan_goods_all":  # rebuys count, and nothing is left out of the rankings
            seen = sp.csr_matrix((n_u, n_i), dtype=seen.dtype)
        else:
            truth = truth - truth.multiply(seen)  # only pairs new in the test period
        table = {"product": train_m.products, "anchor": train_m.anchors}[i]
        unborn = (table["created_at"] >= train_m.snapshot_time).to_numpy()
        if unborn.any():  # created after the cut-off: no model could have shown them then, so they are no target
            truth = sp.csr_matrix(truth.multiply((~unborn)[None, :].astype(np.float64)))
        truth.eliminate_zeros()
        users = population = np.flatnonzero(np.diff(truth.tocsr().indptr) > 0)
        if len(users) > cfg.max_users:  # a stream per task: its sample must not depend on the other tasks asked
            rng = np.random.default_rng([cfg.seed, TASKS.index(name)])
            users = np.sort(rng.choice(users, cfg.max_users, replace=False))
        tasks[name] = Task(name, users, truth.tocsr()[users], seen.tocsr()[users], n_i, unborn, len(population))
        _log.info("task %s: %d of %d users with new pairs (sampled: max_users %d), %d relevant pairs", name,
                  len(users), len(population), cfg.max_users, tasks[name].truth.nnz)
    return tasks


# -- scorers: (task) -> dense scores (len(users), n_items); higher is better


def rank_task(task: Task, scores_for: Callable[[np.ndarray], np.ndarray], k: int, batch: int = 256
              ) -> np.ndarray:
    """Top-k items per task user from a scorer, training pairs and unborn items excluded (-1 pads)."""
    out = np.full((len(task.users), k), -1, np.int64)
    for lo in range(0, len(task.users), batch):
        sl = slice(lo, lo + batch)
        scores = np.asarray(scores_for(task.users[sl]), dtype=np.float64)
        seen = task.seen[sl].tocoo()
        scores[seen.row, seen.col] = -np.inf
        if task.unborn is not None:
            scores[:, task.unborn] = -np.inf
        kk = min(k, scores.shape[1])
        best = top_k(scores, kk)
        best[~np.isfinite(np.take_along_axis(scores, best, 1))] = -1  # seen items only: nothing to show
        out[sl, :kk] = best
    return out


def dot_scores(user_vecs: np.ndarray, item_vecs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    u, v = np.asarray(user_vecs, np.float32), np.asarray(item_vecs, np.float32)
    return lambda users: u[users] @ v.T
