"""A batch of orders to count, as the stores take it: parallel arrays, ids as strings (the snapshot's ids, so
counts survive a model reload), each order keyed by a stable hash of its id so a replay is recognised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.hashing import order_keys


@dataclass(frozen=True)
class Orders:
    """A batch of orders to count. Ids are strings; `key` is a 64-bit hash of the order id (idempotency)."""

    key: np.ndarray  # uint64
    anchor: np.ndarray  # str ids
    product: np.ndarray  # str ids
    minute: np.ndarray  # int64 minutes since the epoch

    @classmethod
    def of(cls, order_ids, anchors, products, minutes) -> Orders:
        return cls(order_keys(order_ids), np.asarray(anchors).astype(str), np.asarray(products).astype(str),
                   np.asarray(minutes, np.int64))

    def __len__(self) -> int:
        return len(self.key)

    def take(self, rows: np.ndarray) -> Orders:
        return Orders(self.key[rows], self.anchor[rows], self.product[rows], self.minute[rows])
