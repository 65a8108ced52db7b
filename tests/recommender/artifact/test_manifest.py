"""The manifest says which format an artifact is; formats this code no longer reads are refused with the fix."""

from __future__ import annotations

import pytest

from recommender.artifact import FORMAT_VERSION, ArtifactError, load_model, read_manifest


def test_a_trained_artifact_is_the_current_format(artifact):
    assert read_manifest(artifact.path)["format_version"] == FORMAT_VERSION == 9


@pytest.mark.parametrize("version", [3, 4])
def test_formats_3_and_4_are_refused_naming_the_file_the_version_and_the_fix(artifact, version):
    man = artifact.manifest
    man["format_version"] = version
    artifact.set_manifest(man)
    with pytest.raises(ArtifactError, match=rf"manifest\.json: format_version {version} .*retrain") as err:
        load_model(artifact.path)
    assert "xuanpin train" in str(err.value)


@pytest.mark.parametrize("version", [10, None, "9"])
def test_an_unknown_format_is_refused(artifact, version):
    man = artifact.manifest
    man["format_version"] = version
    artifact.set_manifest(man)
    with pytest.raises(ArtifactError, match=r"format_version .*this code reads \(5, 6, 7, 8, 9\)"):
        read_manifest(artifact.path)


def test_a_directory_without_a_manifest_is_not_an_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="no manifest"):
        read_manifest(tmp_path)


def test_an_unreadable_manifest_is_refused(artifact):
    (artifact.path / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="unreadable manifest"):
        read_manifest(artifact.path)
