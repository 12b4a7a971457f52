"""The one way sleec opens an output file: a crash, Ctrl-C or SIGTERM mid-write leaves the old
file or the new one, never a partial one, and never replaces what the path names with
something else.

- A regular file (or a new path) is written to a new file beside it, flushed, fsync'ed and
  put in place in one step. On Linux the new file is unnamed while it is written
  (``O_TMPFILE``): a process killed at any moment, even by SIGKILL, leaves nothing behind.
  Once complete it is linked to the path (when the path does not exist) or to a temporary
  name that is at once renamed over the path. Where unnamed files are not supported (other
  systems, some file systems) a named temporary file ``.NAME.XXXX.tmp`` is written instead.
- Every temporary name is registered before it is created and removed by the exception
  handler, else at interpreter exit: a signal that lands between two statements of the
  cleanup (SIGTERM is raised as an exception by the command line) cannot leave one behind.
  Only SIGKILL during a named write, or between the link and the rename, can.
- A symbolic link stays a link: its target is replaced that way.
- A character or block device or a FIFO (``/dev/null``, a named pipe) is written through:
  renaming a file over it would destroy it.
- A path ending in a separator or naming a directory is refused.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "check_output_path"]

# Unnamed files (Linux O_TMPFILE) while writing; False: always a named temporary file.
USE_UNNAMED = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")
# errno of a file system or kernel without O_TMPFILE (EISDIR: a kernel that ignores the flag).
_NO_UNNAMED = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS}
_pending: set[str] = set()  # temporary names that may exist: removed at exit at the latest
_pending_lock = threading.Lock()


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
    directory = target.parent if str(target.parent) else Path(".")
    with _naming(name):
        fd = _open_unnamed(directory) if USE_UNNAMED else None
    if fd is not None:
        with _naming(name), os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            _finish(fh, file_mode)
            _link_into_place(fh.fileno(), target)
            _fsync_directory(directory)
        return
    tmp = _temporary_name(directory, target.name)
    try:
        with _naming(name):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
            with os.fdopen(fd, mode, encoding=encoding) as fh:
                yield fh
                _finish(fh, file_mode)
            os.replace(tmp, target)
            _fsync_directory(directory)
    except BaseException:
        _remove(tmp)
        raise
    _forget(tmp)


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _open_unnamed(directory: Path) -> int | None:
    """A descriptor of a new unnamed file in ``directory`` (Linux ``O_TMPFILE``), or None
    where the system or the file system does not support it."""
    try:
        # Readable too: if it cannot be linked (a /proc that refuses), it is copied.
        return os.open(directory, os.O_TMPFILE | os.O_RDWR | _O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in _NO_UNNAMED:
            return None
        raise


def _finish(fh: IO, file_mode: int) -> None:
    fh.flush()
    os.fchmod(fh.fileno(), file_mode)
    os.fsync(fh.fileno())


def _link_into_place(fd: int, target: Path) -> None:
    """Give the complete unnamed file of ``fd`` the name ``target``: a link when the name is
    free, else a link to a registered temporary name renamed over ``target`` at once. Where
    the kernel refuses the link (a restricted /proc), the content is copied to a registered
    temporary file renamed over ``target``, and later writes use named files."""
    global USE_UNNAMED
    source = f"/proc/self/fd/{fd}"
    directory = target.parent if str(target.parent) else Path(".")
    dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_CLOEXEC)
    try:
        # A directory descriptor makes os.link call linkat(..., AT_SYMLINK_FOLLOW): the file
        # behind the /proc link is linked, not the link.
        link = functools.partial(os.link, source, dst_dir_fd=dir_fd, follow_symlinks=True)
        if not os.path.lexists(target):
            try:
                link(target.name)
                return
            except FileExistsError:
                pass  # created meanwhile: replace it as below
            except OSError:
                USE_UNNAMED = False
        tmp = _temporary_name(directory, target.name)
        try:
            if USE_UNNAMED:
                try:
                    link(os.path.basename(tmp))
                except FileExistsError:
                    raise
                except OSError:
                    USE_UNNAMED = False
            if not USE_UNNAMED:
                _copy_to(fd, tmp)
            os.replace(tmp, target)
        except BaseException:
            _remove(tmp)
            raise
        _forget(tmp)
    finally:
        os.close(dir_fd)


def _copy_to(fd: int, tmp: str) -> None:
    """Copy the whole file of ``fd`` to a new file ``tmp`` (registered), with its mode, and
    fsync it."""
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o600)
    try:
        os.fchmod(out, stat.S_IMODE(os.fstat(fd).st_mode))
        offset, size = 0, os.fstat(fd).st_size
        while offset < size:
            chunk = os.pread(fd, min(1 << 20, size - offset), offset)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view) :]
            offset += len(chunk)
        os.fsync(out)
    finally:
        os.close(out)


def _temporary_name(directory: Path, name: str) -> str:
    """A fresh temporary name beside the target, registered before anything creates it."""
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
    with _pending_lock:
        _pending.add(tmp)
    return tmp


def _forget(tmp: str) -> None:
    with _pending_lock:
        _pending.discard(tmp)


def _remove(tmp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    _forget(tmp)


def _forget_all() -> None:  # a forked child must not delete its parent's files at its exit
    _pending.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all)


@atexit.register
def remove_pending() -> None:
    """Delete the temporary files whose cleanup an exception interrupted (called at exit)."""
    with _pending_lock:
        names = list(_pending)
    for tmp in names:
        with contextlib.suppress(OSError):
            _remove(tmp)


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
