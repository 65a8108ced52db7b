"""Reading an artifact's ``manifest.json``: the file that says an artifact is complete and which format it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recommender.artifact.layout import MANIFEST, READABLE_VERSIONS, RETIRED_VERSIONS
from recommender.errors import ArtifactError, FormatError


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the artifact directory ``path``; ArtifactError unless this code reads its format."""
    file = Path(path) / MANIFEST
    if not file.exists():
        hint = ("; it is a model registry (it has versions/): serve it with --registry (XUANPIN_REGISTRY), or name "
                "one of its versions" if (Path(path) / "versions").is_dir() else "")
        raise ArtifactError(f"{file}: no manifest; not a model artifact, or an incomplete one{hint}")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{file}: unreadable manifest ({exc})") from exc
    version = manifest.get("format_version")
    if version in RETIRED_VERSIONS:
        raise FormatError(f"{file}: format_version {version} is no longer read (this code reads "
                          f"{READABLE_VERSIONS}); retrain with `xuanpin train` to write the current format")
    if version not in READABLE_VERSIONS:
        raise FormatError(f"{file}: format_version {version!r}, this code reads {READABLE_VERSIONS}")
    return manifest
