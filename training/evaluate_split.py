"""The random per-user split of ``xuanpin evaluate --split random``: the protocol of the published implicit-feedback
benchmarks (a share of each user's distinct items held out at random, the rest trains), beside the temporal split
of ``training/tasks.py``.

Who the "user" is depends on the task, and each task gets its own split and its own trained model:

* ``fan_goods``: a fan; its items are the goods it bought. A held-out (fan, good) pair loses every order of it.
* ``anchor_goods``: an anchor; its items are the goods sold in its room. A held-out (anchor, good) pair loses every
  order of the good in that room, by any fan, and the room's listing of it (the shelf would name it).
* ``goods_anchors``: a good (the merchant asking 达人广场); its items are the rooms that sold it. Held out as above.
* ``fan_goods_all`` is refused: a held-out pair is held out whole, so no test purchase is a rebuy and the task
  would be ``fan_goods`` without its training goods left out of the rankings.

Items are distinct pairs among the purchases (refunded orders are not preference, but a held-out pair's refunded
orders leave training too). A user with fewer than ``min_items`` distinct items keeps them all in training (counted
in ``summary``). Nothing else is removed: follows, the catalogue and the entity tables are what a platform knows
about everyone at prediction time. A random split has no cut-off, so every time-based feature (recency
half-lives, the trend, the 1/7/30-day windows, rebuys) counts back from the whole snapshot's latest moment (the
training part's ``as_of``), over the training orders only.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.contract import Marketplace
from training.tasks import Task, sum_pairs

#: task -> (user column, item column) of the pairs it splits
UNITS: dict[str, tuple[str, str]] = {"fan_goods": ("fan", "product"), "anchor_goods": ("anchor", "product"),
                                     "goods_anchors": ("product", "anchor")}
#: tasks a random split cannot score, with the reason printed when they are skipped
REFUSED: dict[str, str] = {
    "fan_goods_all": "a random split holds out whole (fan, good) pairs, so no test purchase is a rebuy: "
                     "fan_goods_all would be fan_goods with the fan's training goods left in the rankings"}
_SIZE = {"fan": "fan_ids", "anchor": "anchor_ids", "product": "product_ids"}


@dataclass
class RandomSplit:
    """One task's training part, its test task (truth: held-out pairs' GMV; seen: the user's training pairs) and
    the counts the report records."""

    train: Marketplace
    task: Task
    summary: dict
    digest: str  # HeldOut.digest: tasks whose training parts are the same can share one model


def held_out_pairs(users: np.ndarray, items: np.ndarray, n_items: int, share: float, seed: int, min_items: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (user, item) pairs as keys ``user * n_items + item`` (sorted), which of them are held out, and
    each user's count of distinct items. A user with n >= `min_items` items holds out round(share x n) of them
    (half up, at least 1, at most n - 1), chosen uniformly at random; the draw depends only on `seed` and the set
    of pairs, not on the order of the rows."""
    keys = np.unique(users.astype(np.int64) * n_items + items.astype(np.int64))
    owner = keys // n_items
    n_users = int(owner.max(initial=-1)) + 1
    counts = np.bincount(owner, minlength=n_users)
    n_test = np.clip(np.floor(share * counts + 0.5), 1, np.maximum(counts - 1, 1)).astype(np.int64)
    n_test[counts < max(min_items, 2)] = 0
    order = np.lexsort((np.random.default_rng(seed).random(len(keys)), owner))  # a random order within each user
    rank = np.empty(len(keys), np.int64)
    rank[order] = np.arange(len(keys)) - np.repeat(np.cumsum(counts) - counts, counts)
    return keys, rank < n_test[owner], counts


@dataclass
class HeldOut:
    """A snapshot with a share of each user's distinct (user, item) pairs taken out of its orders."""

    train: Marketplace  # the orders of the pairs kept (and the shelf without held-out listings)
    test: pd.DataFrame  # the held-out pairs' purchases
    digest: str  # of which orders and listings were held out: equal digests, equal training parts
    keys: np.ndarray  # every distinct pair, user * n_items + item, sorted
    held: np.ndarray  # which of them are held out
    counts: np.ndarray  # each user's distinct items


def hold_out(m: Marketplace, task: str, share: float = 0.25, seed: int = 0, min_items: int = 5) -> HeldOut:
    """Hold out `share` of each user's distinct items for `task` (the user and item of ``UNITS``): the training
    snapshot and the held-out purchases. Also the random validation of ``xuanpin tune`` (by fan)."""
    if task in REFUSED:
        raise ValueError(f"{task}: {REFUSED[task]}")
    u_col, i_col = UNITS[task]
    n_i = len(getattr(m, _SIZE[i_col]))
    bought = m.purchases
    keys, held, counts = held_out_pairs(bought[u_col].to_numpy(), bought[i_col].to_numpy(), n_i, share, seed,
                                        min_items)
    held_keys = keys[held]

    def is_held(table: pd.DataFrame) -> np.ndarray:
        k = table[u_col].to_numpy(np.int64) * n_i + table[i_col].to_numpy(np.int64)
        at = np.minimum(np.searchsorted(held_keys, k), max(len(held_keys) - 1, 0))
        return held_keys[at] == k if len(held_keys) else np.zeros(len(k), bool)

    orders_held = is_held(m.orders)
    shelf, shelf_held = m.shelf, np.zeros(len(m.shelf), bool)
    if len(shelf) and "anchor" in (u_col, i_col):  # the room's listing of a held-out good would name the pair
        shelf_held = is_held(shelf)
        shelf = shelf[~shelf_held].reset_index(drop=True)
    train_m = dataclasses.replace(
        m, orders=m.orders[~orders_held].reset_index(drop=True), shelf=shelf, as_of=m.snapshot_time,
        fingerprint=f"{m.fingerprint}#random:{task}:{share:g}:{seed}")
    digest = hashlib.sha256(np.flatnonzero(orders_held).tobytes() + b"|" + np.flatnonzero(shelf_held).tobytes()
                            ).hexdigest()
    return HeldOut(train_m, bought[is_held(bought)], digest, keys, held, counts)


def random_split(m: Marketplace, task: str, share: float = 0.25, seed: int = 0, min_items: int = 5,
                 max_users: int = 3000, sample_seed: int = 0) -> RandomSplit:
    """Hold out `share` of each user's distinct items for `task` (see the module docstring); the test task's users
    are those with held-out items, at most `max_users` of them sampled with `sample_seed`."""
    h = hold_out(m, task, share, seed, min_items)
    u_col, i_col = UNITS[task]
    n_u, n_i = len(getattr(m, _SIZE[u_col])), len(getattr(m, _SIZE[i_col]))
    train_m, test, keys, held, counts = h.train, h.test, h.keys, h.held, h.counts
    held_keys = keys[held]
    truth = sum_pairs(test[u_col].to_numpy(), test[i_col].to_numpy(), test["amount"].to_numpy(float), (n_u, n_i))
    tr = train_m.purchases
    seen = sum_pairs(tr[u_col].to_numpy(), tr[i_col].to_numpy(), np.ones(len(tr)), (n_u, n_i))
    seen.data[:] = 1.0
    owners = np.unique(held_keys // n_i)
    users = owners
    if len(users) > max_users:
        users = np.sort(np.random.default_rng(sample_seed).choice(users, max_users, replace=False))
    split_users = counts >= max(min_items, 2)
    summary = {
        "kind": "random", "task": task, "user": u_col, "item": i_col, "test_share": share, "seed": seed,
        "min_items": min_items, "users": int((counts > 0).sum()), "users_split": int(split_users.sum()),
        "users_all_in_training": int(((counts > 0) & ~split_users).sum()),
        "pairs": len(keys), "test_pairs": int(held.sum()), "train_pairs": int(len(keys) - held.sum()),
        "test_share_of_split_users_pairs": round(float(held.sum() / max(counts[split_users].sum(), 1)), 4),
        "train_orders": len(train_m.orders), "test_purchases": len(test), "users_scored": len(users),
        "reference_time": str(train_m.snapshot_time)}
    t = Task(task, users, truth.tocsr()[users], seen.tocsr()[users], n_i, None, len(owners))
    return RandomSplit(train_m, t, summary, h.digest)

