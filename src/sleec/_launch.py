"""The ``sleec`` command's entry point, importing nothing heavy itself: when the process's
memory limit is too low to load NumPy, SciPy, scikit-learn or numba, that is one line
``sleec: error: out of memory ...`` with status 1, like every other failed allocation of
the CLI (:mod:`sleec.cli`), not an import traceback, a hang or an abort.

Below :data:`LIBRARIES_NEED` of address space the command refuses before loading them: there
OpenBLAS, loaded by SciPy, cannot start its threads, and then hangs or raises SIGINT inside
the import (measured under ``ulimit -v`` 400-450 MB; the libraries take 550-700 MB of
address space to load, 685 MB for ``sleec train --help`` with NumPy 2.4 and SciPy 1.17).
Above it an import that fails for lack of memory is recognised by
:func:`sleec._limits.out_of_memory`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._limits import address_space_limit, out_of_memory

__all__ = ["LIBRARIES_NEED", "main"]

LIBRARIES_NEED = 512 << 20


def main(argv: Sequence[str] | None = None) -> int:
    limit = address_space_limit()
    if limit is not None and limit < LIBRARIES_NEED:
        sys.stderr.write(
            f"sleec: error: out of memory: the address-space limit (ulimit -v) is {limit >> 20} "
            f"MB; sleec's libraries (NumPy, SciPy, scikit-learn, numba) need at least "
            f"{LIBRARIES_NEED >> 20} MB to load\n"
        )
        return 1
    try:
        from .cli import main as run
    except Exception as exc:  # ImportError, OSError, SystemError: whatever the loader raised
        if not out_of_memory(exc):
            raise
        sys.stderr.write(
            "sleec: error: out of memory while loading sleec's libraries (NumPy, SciPy, "
            "scikit-learn, numba); the process's memory limit (ulimit -v) is too low\n"
        )
        return 1
    return run(argv)
