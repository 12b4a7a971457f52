"""The one way sleec opens an output file: a crash, Ctrl-C or SIGTERM mid-write leaves the old
file or the new one, never a partial one, and never replaces what the path names with
something else.

- A regular file (or a new path) is written to a temporary file beside it, flushed, fsync'ed
  and renamed over it.
- A symbolic link stays a link: its target is replaced that way.
- A character or block device or a FIFO (``/dev/null``, a named pipe) is written through:
  renaming a file over it would destroy it.
- A path ending in a separator or naming a directory is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "check_output_path"]


def check_output_path(path: str | os.PathLike) -> Path:
    """The path that :func:`atomic_write` will replace (a link's target), after checking that
    it can be written: not a directory (nor ending in a separator), in an existing, writable
    directory. Raises OSError naming ``path``. Cheap: callers use it to fail before the work.
    """
    name = os.fspath(path)
    if name.endswith((os.sep, "/")) or os.path.isdir(name):
        raise IsADirectoryError(errno.EISDIR, "Is a directory (expected a file name)", name)
    target = Path(os.path.realpath(name)) if os.path.islink(name) else Path(name)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such directory for the output file", name)
    if not _is_stream(target) and not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(
            errno.EACCES, "permission denied (cannot write in its directory)", name
        )
    return target


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open ``path`` for writing as described in the module docstring; on any exception
    (KeyboardInterrupt included) the temporary file is deleted and ``path`` left as it was.
    The new file keeps an existing file's permissions, else gets ``0o666 & ~umask`` (not the
    private 0600 of a temporary file). Text is UTF-8 whatever the locale. OSErrors name
    ``path``, not the temporary file."""
    name = os.fspath(path)
    target = check_output_path(name)
    encoding = None if "b" in mode else "utf-8"
    if _is_stream(target):
        with _naming(name), open(target, mode, encoding=encoding) as fh:
            yield fh
        return
    try:
        file_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        file_mode = 0o666 & ~umask
    with _naming(name):
        fd, tmp = tempfile.mkstemp(
            dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp"
        )
    try:
        with _naming(name):
            with os.fdopen(fd, mode, encoding=encoding) as fh:
                yield fh
                fh.flush()
                os.fchmod(fh.fileno(), file_mode)
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            _fsync_directory(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (a power loss after it keeps the new file), where the
    platform allows opening a directory."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_stream(path: Path) -> bool:
    """A character or block device or a FIFO: written through, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)


@contextlib.contextmanager
def _naming(name: str) -> Iterator[None]:
    """Re-raise an OSError (disk full, permission denied...) with ``name`` as its file name:
    the temporary file it may name is gone by the time the user reads the message."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None or exc.filename == name:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), name) from None
