"""numba builds of the kernels: one place for the compile options, and serial / parallel
twins that numba caches apart."""

from __future__ import annotations

import types
from collections.abc import Callable

from numba import njit

__all__ = ["twins"]


def twins(kernel: Callable, **options) -> tuple[Callable, Callable]:
    """``(serial, parallel)`` builds of one kernel (``prange`` loops run in parallel only in
    the second), cached on disk like every kernel.

    numba keys its on-disk cache by the function's qualified name and source line, not by
    the ``parallel`` flag: two builds of one function would share one cache entry, and
    whichever compiled first would serve both (a serial call then pays for a thread pool on
    every call). The parallel build therefore compiles a copy named ``<name>_par``.
    """
    copy = types.FunctionType(
        kernel.__code__,
        kernel.__globals__,
        kernel.__name__ + "_par",
        kernel.__defaults__,
        kernel.__closure__,
    )
    copy.__qualname__ = kernel.__qualname__ + "_par"
    copy.__module__ = kernel.__module__
    copy.__doc__ = kernel.__doc__
    serial = njit(cache=True, nogil=True, **options)(kernel)
    parallel = njit(cache=True, nogil=True, parallel=True, **options)(copy)
    return serial, parallel
