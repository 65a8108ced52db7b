"""xuanpin core: the data contract, embeddings, retrieval and ranking of anchor-product matchmaking."""

import logging
import os


def _openblas_core_type() -> None:
    """faiss's bundled OpenBLAS mis-detects AVX-512 Xeons as "Prescott" (SSE3 kernels, PERF-NOTES.md).

    Naming the core type before faiss loads restores the fast kernels. Only set where the CPU has the
    instructions and the user has not chosen; it must run before the first `import faiss`.
    """
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
logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # it logs every optional build it probes
