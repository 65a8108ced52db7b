"""Moved to :mod:`recommender.registry` (the service's reloader uses it too, and ``serve/`` must not import
``training/``). This alias remains only for ``bench/reload.py``; remove it once that script imports
``recommender.registry``."""

from recommender.registry import LockHeld, Registry, RegistryError

__all__ = ["LockHeld", "Registry", "RegistryError"]
