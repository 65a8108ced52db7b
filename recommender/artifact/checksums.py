"""Checksums of an artifact's files: the writer records them in the manifest, the loader verifies them, so a file
damaged without changing its size (a bad disk, a half-finished copy, a stray write) is refused, not served.

Files up to FULL_BYTES are hashed whole (BLAKE2b); bigger ones (the large model's fan vectors) by SAMPLE_BLOCKS
blocks spread over the file, first and last included: that catches damage to any large part of them (and the
loader's finiteness check catches NaNs anywhere in float arrays), at a fraction of a second per worker boot.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from recommender.errors import ArtifactError

FULL_BYTES = 256 << 20
SAMPLE_BLOCKS = 64
BLOCK_BYTES = 64 << 10


def _whole(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(4 << 20):
            h.update(chunk)
    return h.hexdigest()


def _sampled(path: Path, size: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    starts = np.unique(np.linspace(0, max(size - BLOCK_BYTES, 0), SAMPLE_BLOCKS).astype(np.int64))
    with open(path, "rb") as fh:
        for start in starts.tolist():
            fh.seek(start)
            h.update(fh.read(BLOCK_BYTES))
    return h.hexdigest()


def digest(path: Path) -> str:
    """The file's checksum as the manifest records it: 'blake2b:<hex>' for a whole file, 'sampled:<hex>' for one
    over FULL_BYTES."""
    size = path.stat().st_size
    return f"blake2b:{_whole(path)}" if size <= FULL_BYTES else f"sampled:{_sampled(path, size)}"


def verify(path: Path, recorded: str) -> None:
    """Refuse a file whose checksum is not the recorded one, naming the file."""
    kind, _, value = str(recorded).partition(":")
    if kind == "blake2b":
        got = _whole(path)
    elif kind == "sampled":
        got = _sampled(path, path.stat().st_size)
    else:
        raise ArtifactError(f"{path}: unknown checksum {recorded!r} in the manifest")
    if got != value:
        raise ArtifactError(f"{path}: its content is not what was written (checksum {kind} differs from the "
                            "manifest's): the file is damaged; retrain or roll back")
