"""Running out of memory as a clean MemoryError, never a hang or a native exit.

Under an address-space limit (``ulimit -v``, ``prlimit --as``, a batch scheduler's) a
failed allocation surfaces as a :class:`MemoryError` in Python code, but not always:

- OpenBLAS allocates one work buffer (32 MB in the x86-64 builds) per thread and library
  the first time that thread runs a BLAS-3 or LAPACK routine, and keeps it for reuse. When
  that allocation fails, OpenBLAS retries forever (up to 0.3.29; the hang of
  OpenMathLib/OpenBLAS#5289) or prints "Memory allocation still failed after 10 retries,
  giving up" and exits the process (0.3.30 on, PR #5303): Python never sees an error.
  :func:`reserve_blas_buffers` makes every thread that trains or predicts allocate its
  buffers first, after checking that the address space for them is there (else a
  MemoryError saying how much was needed), so that later calls reuse them.
- Numba's parallel kernels run on an OpenMP (libgomp) thread team, created the first time a
  thread runs one. When a thread cannot be created (its stack does not fit), libgomp
  prints "Thread creation failed" and exits the process. :func:`start_kernel_threads`
  creates the team first, after the same kind of check; libgomp keeps it for later
  kernels.
- A C extension that fails an allocation without setting an exception raises
  ``SystemError: error return without exception set``, and some libraries wrap a
  MemoryError in an error of their own. :func:`sleec._limits.out_of_memory` recognises
  both (the second by the exception chain, the first only when the process is near its
  address-space limit) so that the command line reports one line "out of memory".
"""

from __future__ import annotations

import mmap
import resource
import threading

from numba import njit, prange

from ._limits import LOW_HEADROOM, address_space_headroom, out_of_memory

__all__ = [
    "LOW_HEADROOM",
    "address_space_headroom",
    "out_of_memory",
    "reserve_blas_buffers",
    "start_kernel_threads",
]

BLAS_BUFFER = 40 << 20  # OpenBLAS's per-thread work buffer (32 MB) and a margin, per library
THREAD_STACK = 8 << 20  # a thread's stack where RLIMIT_STACK does not say (glibc's default)

_local = threading.local()
_libraries: list[int] = []  # the number of BLAS libraries loaded, once known


def reserve_blas_buffers() -> None:
    """Allocate this thread's BLAS work buffers now (once per thread), or raise MemoryError.

    First maps (without touching) as much address space as the buffers take and releases
    it: if that fails, a MemoryError names the size, before OpenBLAS could hang or exit
    over it. Then one small matrix product and one small triangular solve make each BLAS
    library (NumPy's, SciPy's) allocate its buffer for this thread.
    """
    if getattr(_local, "reserved", False):
        return
    import numpy as np
    from scipy.linalg import lapack

    _probe(_n_libraries() * BLAS_BUFFER, "the BLAS work buffers")
    square = np.ones((128, 128))  # above OpenBLAS's small-matrix path (no buffer)
    square @ square  # NumPy's BLAS
    lapack.dtrtrs(np.eye(2), np.ones(2))  # SciPy's BLAS (its LAPACK calls allocate it)
    _local.reserved = True


def start_kernel_threads() -> None:
    """Create the thread team of Numba's parallel kernels for this thread now (once), or
    raise MemoryError naming the address space its stacks take."""
    if getattr(_local, "threads", False):
        return
    import numba
    import numpy as np

    n = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    _probe(n * _stack_size(), f"the stacks of {n} kernel threads")
    _team(np.zeros(4 * n, dtype=np.int64))
    _local.threads = True


def _stack_size() -> int:
    try:
        soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    except (AttributeError, OSError, ValueError):
        return THREAD_STACK
    return THREAD_STACK if soft in (resource.RLIM_INFINITY, 0) or soft < 0 else int(soft)


def _probe(need: int, what: str) -> None:
    """Map ``need`` bytes of address space (without touching them) and release them, or
    raise MemoryError naming ``what`` needs them and what the limit leaves."""
    try:
        probe = mmap.mmap(-1, need)
    except (OSError, MemoryError, ValueError, OverflowError):
        headroom = address_space_headroom()
        left = "" if headroom is None else f"; the address-space limit leaves {headroom >> 20} MB"
        raise MemoryError(f"cannot reserve the {need >> 20} MB {what} take{left}") from None
    probe.close()


@njit(cache=True, parallel=True)
def _team(out):
    """A parallel loop: its first run creates the calling thread's kernel thread team."""
    for i in prange(out.shape[0]):
        out[i] = i


def _n_libraries() -> int:
    if not _libraries:
        from threadpoolctl import threadpool_info

        found = sum(info.get("user_api") == "blas" for info in threadpool_info())
        _libraries.append(max(found, 1))
    return _libraries[0]
