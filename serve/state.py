"""What a request reads: the loaded model and its ranker, held together so they are swapped as one."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from flask import current_app

from recommender.arrays import invert_lists
from recommender.artifact import Model
from recommender.ranking import Ranker
from serve import schemas
from serve.api import ApiError
from serve.present import Cards, pick_items

T = TypeVar("T")


class PerModel(Generic[T]):
    """What `build(model)` makes, built once per loaded model (two threads asking at once build it once) and
    dropped with the model after a reload: the search columns and indexes a route keeps beside the model."""

    def __init__(self, build: Callable[[Model], T]) -> None:
        self._build = build
        self._built: weakref.WeakKeyDictionary[Model, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, model: Model) -> T:
        found = self._built.get(model)
        if found is None:
            with self._lock:
                found = self._built.get(model)
                if found is None:
                    found = self._built[model] = self._build(model)
        return found


@dataclass(frozen=True)
class Serving:
    model: Model
    ranker: Ranker
    cards: Cards
    #: good -> the anchors shelving it, most fans first (CSR indptr, anchor rows): the hot feed's followed rooms
    sellers: tuple[np.ndarray, np.ndarray]

    @classmethod
    def load(cls, model: Model, ranker: Ranker) -> Serving:
        for ids in (model.anchor_ids, model.product_ids, model.fan_ids):  # ids in requests are looked up
            ids.prepare_lookup()
        sellers = invert_lists(model.shelf_indptr, model.shelf_products, len(model.product_ids),
                               priority=np.asarray(model.audience.fans))
        return cls(model, ranker, Cards(model), sellers)

    def warm(self, anchors: int = 64) -> None:
        """Serve the default page of picks to a spread of anchors once, so the first requests after a (re)load
        find the category pool, the goods' reasons and their encoded cards ready instead of building them."""
        k = schemas.PicksQuery.model_fields["k"].default
        n = len(self.model.anchor_ids)
        for row in np.unique(np.linspace(0, n - 1, min(anchors, n)).astype(np.int64)).tolist():
            pick_items(self.cards, self.ranker.picks(row, k).items, 1)

    @property
    def version(self) -> str:
        return self.model.manifest["model_version"]

    def anchor_row(self, anchor_id: str) -> int:
        row = self.model.anchor_ids.lookup(anchor_id) if anchor_id == anchor_id.strip() else -1
        if row < 0:
            raise ApiError(404, "not_found", f"anchor {_shown(anchor_id)} not found", "anchor_id")
        return row

    def product_row(self, product_id: str) -> int:
        # a path id is the id itself: "6000000455\n" was served as the good, its download named "..._-anchors.csv"
        row = self.model.product_ids.lookup(product_id) if product_id == product_id.strip() else -1
        if row < 0:
            raise ApiError(404, "not_found", f"product {_shown(product_id)} not found", "product_id")
        return row


def _shown(value: str, limit: int = 64) -> str:
    """An id as an error repeats it: whole up to `limit` characters (a 5,000-character id was echoed in full)."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value):,} characters)"


def serving() -> Serving:
    """The model serving this request. Read once per request: a reload swaps the reference, never mutates."""
    state = current_app.extensions["xuanpin"]
    current = state.get("serving")
    if current is None:
        reloader = state.get("reloader")
        error = reloader.last_error if reloader else None
        detail = ("" if not error else " (the last load failed; the service log says why)" if error.get("version")
                  else " (the registry's CURRENT is missing or empty)" if "CURRENT" in error.get("error", "")
                  else " (the configured registry is not a model registry: no versions/ folder)")
        raise ApiError(503, "not_ready", f"no model is loaded{detail}")  # no file paths to the outside
    return current
