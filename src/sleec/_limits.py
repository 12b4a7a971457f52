"""Whether the process is short of memory, with the standard library only (so that the
``sleec`` command can tell before NumPy, SciPy or numba load; :mod:`sleec._memory` holds
the reservations that need them)."""

from __future__ import annotations

import errno
import mmap
import resource

__all__ = ["LOW_HEADROOM", "address_space_headroom", "address_space_limit", "out_of_memory"]

LOW_HEADROOM = 256 << 20  # a SystemError this close to the address-space limit is no memory
# What the dynamic loader says when it cannot map a shared library for lack of memory.
_NO_MEMORY = ("failed to map segment", "cannot allocate memory")


def address_space_limit() -> int | None:
    """The process's address-space limit (soft RLIMIT_AS) in bytes, or None without one."""
    try:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (AttributeError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)


def address_space_headroom() -> int | None:
    """Bytes the process can still map under its address-space limit (RLIMIT_AS), or None
    when there is no limit or it cannot tell (no /proc)."""
    soft = address_space_limit()
    if soft is None:
        return None
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return soft - pages * mmap.PAGESIZE


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` reports a failed allocation: a MemoryError, an error raised from or
    while handling one, the dynamic loader's or the kernel's ENOMEM (a library that could
    not be mapped), or a SystemError (a C extension's unset error) while the process is
    within :data:`LOW_HEADROOM` of its address-space limit."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        if isinstance(error, MemoryError) or (
            isinstance(error, (ImportError, OSError))
            and (
                getattr(error, "errno", None) == errno.ENOMEM
                or any(text in str(error).lower() for text in _NO_MEMORY)
            )
        ):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    if isinstance(exc, SystemError):
        headroom = address_space_headroom()
        return headroom is not None and headroom < LOW_HEADROOM
    return False
