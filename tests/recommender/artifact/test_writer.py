"""The writer writes only the table's files, in open formats, and commits a complete artifact or nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from recommender.artifact import ArtifactWriter, read_manifest
from recommender.errors import ArtifactError

MANIFEST = {"counts": {"anchors": 3, "fans": 5, "products": 7, "follows": 4, "shelf": 2, "recent_orders": 6},
            "dimensions": 4, "profiles": {"labels": {"category": ["a", "b", "c"]}}, "shelf_rate": None}


def test_every_listed_file_is_an_open_format(small_artifact):
    for rel in read_manifest(small_artifact)["files"]:
        assert rel.endswith((".npy", ".parquet", ".faiss", ".json")), rel
        if rel.endswith(".npy"):
            np.load(small_artifact / rel, allow_pickle=False)  # raises if an array needed pickle


def test_a_file_outside_the_table_cannot_be_written(tmp_path):
    with ArtifactWriter(tmp_path / "model") as writer, pytest.raises(ArtifactError, match="not a file of the"):
        writer.array("vectors/anchor_sales_weight.npy", np.zeros(3, np.float32))


def test_arrays_are_cast_to_the_tables_dtype_within_their_kind(tmp_path):
    writer = ArtifactWriter(tmp_path / "model")
    writer.array("vectors/anchor.npy", np.ones((3, 4)))  # float64 in, float32 on disk
    writer.array("candidates/anchor_products.npy", np.zeros((3, 2), np.int64))
    assert np.load(writer.tmp / "vectors/anchor.npy").dtype == np.float32
    assert np.load(writer.tmp / "candidates/anchor_products.npy").dtype == np.int32
    with pytest.raises(ArtifactError, match=r"shelf/products\.npy: float64 values"):
        writer.array("shelf/products.npy", np.zeros(2, np.float64))  # a float is never silently a row number
    with pytest.raises(ArtifactError, match="do not fit the layout's int32"):
        writer.array("shelf/products.npy", np.array([0, 2**31], np.int64))  # nor a row number wrapped
    writer.abort()


def test_a_short_write_on_a_full_disk_names_its_file(tmp_path, monkeypatch):
    """numpy's own message names no file ("4763 requested and 2016 written"); the operator needs the path."""
    def short_write(*args, **kwargs):
        raise OSError("4763 requested and 2016 written")

    monkeypatch.setattr(np, "save", short_write)
    with pytest.raises(OSError, match="4763 requested") as caught, ArtifactWriter(tmp_path / "model") as writer:
        writer.array("vectors/anchor.npy", np.ones((3, 4)))
    assert caught.value.filename.endswith("vectors/anchor.npy")
    assert os.listdir(tmp_path) == []


def test_an_incomplete_artifact_is_never_committed(tmp_path):
    refused = pytest.raises(ArtifactError, match=r"missing \[.*'ids/anchors\.npy'")
    with refused, ArtifactWriter(tmp_path / "model") as writer:
        writer.array("vectors/anchor.npy", np.zeros((3, 4), np.float32))
        writer.commit(MANIFEST)
    assert os.listdir(tmp_path) == []  # neither the artifact nor its temporary directory


def test_a_component_writing_a_file_outside_the_table_is_refused_on_commit(tmp_path):
    refused = pytest.raises(ArtifactError, match=r"not in the table \['content/extra\.npy'\]")
    with refused, ArtifactWriter(tmp_path / "model") as writer:
        np.save(writer.directory("content") / "extra.npy", np.zeros(3))
        writer.commit(MANIFEST)
    assert os.listdir(tmp_path) == []


def _rewrite(src, out, damage: str | None = None):
    """Pass every file of a trained artifact through a writer as a component would (copied into its directory)."""
    man = read_manifest(src)
    with ArtifactWriter(out) as writer:
        for rel in man["files"]:
            rel = Path(rel)
            shutil.copy(src / rel, writer.directory(rel.parent.as_posix()) / rel.name)
        if damage:
            arr = np.load(writer.tmp / damage)
            np.save(writer.tmp / damage, arr[:, :-1])
        return writer.commit({k: v for k, v in man.items() if k not in ("files", "format_version")})


def test_files_a_component_writes_itself_are_checked_against_the_table_on_commit(small_artifact, tmp_path):
    out = _rewrite(small_artifact, tmp_path / "copy")
    assert read_manifest(out)["files"] == read_manifest(small_artifact)["files"]
    with pytest.raises(ArtifactError, match=r"broken/content/coef\.npy: shape \(\d+, 63\), expected \(any, 64\)"):
        _rewrite(small_artifact, tmp_path / "broken", damage="content/coef.npy")
    assert sorted(os.listdir(tmp_path)) == ["copy"]


def test_a_run_killed_while_writing_leaves_nothing_for_the_next_one_to_trip_on(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for pid in (dead_pid, live.pid):
            (tmp_path / f".model.tmp-{pid}-0badc0de" / "vectors").mkdir(parents=True)
        ArtifactWriter(tmp_path / "model").abort()
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == [f".model.tmp-{live.pid}-0badc0de"]  # the killed run's is gone, the running one's stays
    finally:
        live.kill()
        live.wait()
