"""Atomic file writes: a crash or Ctrl-C mid-write leaves the old file or the new one."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success flush, fsync and rename it over
    ``path``; on any exception (KeyboardInterrupt included) delete it and leave ``path`` as it
    was. The new file keeps an existing file's permissions, else gets ``0o666 & ~umask`` (not
    the private 0600 of a temporary file)."""
    path = Path(path)
    if not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise FileNotFoundError(errno.ENOENT, "directory does not exist", str(path))
    try:
        file_mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        file_mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fchmod(fh.fileno(), file_mode)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
