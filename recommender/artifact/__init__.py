"""The model artifact: a self-describing directory of open formats, and the API to load and score it.

What the directory holds is the table in :mod:`recommender.artifact.layout` (``python -m
recommender.artifact`` prints it); ``manifest.json`` lists every file with its size and is written
last. No pickle anywhere: arrays load with ``allow_pickle=False`` and memory-map, so several service workers
share pages. A directory is written under a temporary name and renamed into place only when complete.

* :mod:`~recommender.artifact.layout`: the table of files, the format version, the check against the table
* :mod:`~recommender.artifact.manifest`: reading ``manifest.json``, refusing formats this code does not read
* :mod:`~recommender.artifact.files`: opening one file by its kind
* :mod:`~recommender.artifact.writer`: :class:`ArtifactWriter`, which the trainer writes through
* :mod:`~recommender.artifact.model`: :class:`Model`, a loaded artifact, and :func:`load_model`
"""

from recommender.artifact.layout import FORMAT_VERSION, MANIFEST, READABLE_VERSIONS
from recommender.artifact.manifest import read_manifest
from recommender.artifact.model import Model, load_model
from recommender.artifact.writer import ArtifactWriter
from recommender.errors import ArtifactError

__all__ = ["FORMAT_VERSION", "MANIFEST", "READABLE_VERSIONS", "ArtifactError", "ArtifactWriter", "Model",
           "load_model", "read_manifest"]
