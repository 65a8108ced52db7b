"""xuanpin core: the data contract, embeddings, retrieval and ranking of anchor-product matchmaking.

Importing the package has two deliberate effects, both for faiss, both needed before the first ``import faiss``
(``recommender.index``, ``recommender.threads`` and ``recommender.artifact`` import it; the package's
``__init__`` is the one code that runs before any of them):

* ``OPENBLAS_CORETYPE`` is set, unless already set, to ``SkylakeX`` on CPUs with AVX-512 (``Haswell`` with AVX2).
  OpenBLAS reads it once, when the library loads. The OpenBLAS bundled in the faiss wheel has detected
  2-vCPU AVX-512 Xeon VMs as "Prescott" and run SSE3 kernels; naming the core type restores the AVX-512 ones.
* the ``faiss.loader`` logger is set to WARNING: at INFO it logs every optional build it probes.

See "Threads" in the README.
"""

import logging
import os


def _openblas_core_type() -> None:
    """Name OpenBLAS's core type where the CPU has the instructions and the user has not chosen."""
    if "OPENBLAS_CORETYPE" in os.environ:
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "").split()
    except OSError:
        return
    if "avx512f" in flags and "avx512bw" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
    elif "avx2" in flags:
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"


_openblas_core_type()
logging.getLogger("faiss.loader").setLevel(logging.WARNING)
