"""One BLAS thread per embedding call while the evaluation runs.

The evaluation embeds from several threads at once (turns in flight, catalog chunks), each call
a few small matrix products per layer. numpy's OpenBLAS splits every product over all cores and
waits at a barrier for its helper threads; on a machine where other processes hold the cores, each
product then waits for a scheduler slice: measured here under load, a 16-token text took 257 ms
with OpenBLAS's default threads and 10 ms with one. One thread per call, and the calls side by
side in Python threads (numpy releases the GIL), keeps both cores busy without that wait.

There is no public numpy API for this (threadpoolctl does it the same way, through the library's
own setter); where the library is not found, nothing changes.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["blas_threads"]

# (getter, setter) of OpenBLAS builds: numpy's wheels (scipy-openblas, 64-bit ints), then plain.
_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _openblas() -> list[tuple[ctypes._CFuncPtr, ctypes._CFuncPtr]]:  # type: ignore[name-defined]
    """The (get, set) thread functions of every OpenBLAS this process has loaded (Linux)."""
    import numpy  # noqa: F401 - loads its BLAS

    maps = Path("/proc/self/maps")
    if not sys.platform.startswith("linux") or not maps.exists():
        return []
    paths = sorted(
        {
            line.split()[-1]
            for line in maps.read_text().splitlines()
            if "openblas" in line.rsplit("/", 1)[-1].lower() and ".so" in line
        }
    )
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, put in _SYMBOLS:
            if hasattr(lib, get) and hasattr(lib, put):
                getter, setter = getattr(lib, get), getattr(lib, put)
                getter.restype = ctypes.c_int
                setter.argtypes = [ctypes.c_int]
                found.append((getter, setter))
                break
    return found


@contextmanager
def blas_threads(n: int = 1) -> Iterator[bool]:
    """Runs the block with `n` OpenBLAS threads, then restores the previous count; yields whether
    a BLAS library was found to set."""
    libs = _openblas()
    before = [int(get()) for get, _ in libs]
    for _, put in libs:
        put(n)
    try:
        yield bool(libs)
    finally:
        for (_, put), old in zip(libs, before, strict=True):
            put(old)
