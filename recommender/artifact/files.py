"""Opening one file of an artifact by its kind, memory-mapped where possible; errors name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recommender.artifact.layout import File, Found, found
from recommender.errors import ArtifactError
from recommender.index import read_index


def open_file(path: Path, file: File, mmap: bool = True) -> Any:
    """An array (never unpickled), a DataFrame, a faiss index or parsed JSON. Arrays are memory-mapped when
    ``mmap`` and the table allows it, so several service workers share their pages."""
    try:
        if file.kind == "npy":
            return np.load(path, mmap_mode="r" if mmap and file.mmap else None, allow_pickle=False)
        if file.kind == "parquet":
            return pd.read_parquet(path)
        if file.kind == "faiss":
            return read_index(path, mmap=mmap)
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError, EOFError, RuntimeError) as exc:
        what = "array" if file.kind == "npy" else f"{file.kind} file"
        raise ArtifactError(f"{path}: unreadable {what} ({exc})") from exc


def describe_file(path: Path, file: File) -> Found | None:
    """What a file holds without reading its data (an array is only mapped); None for JSON, which the table
    does not shape."""
    return None if file.kind == "json" else found(open_file(path, file))
