"""Reading data text: decompression by magic bytes, blocks of whole lines, the parsing kernel.

The XC and SVMlight readers of :mod:`sleec.datasets` share this: :func:`open_binary` opens a
plain or xz/gzip/bzip2 file by its first bytes, :func:`parse_stream` feeds blocks of whole
lines to the numba kernel of :mod:`sleec.io._xc_parse` and assembles CSR matrices, and every
problem becomes a :class:`~sleec.exceptions.DataFormatError` naming the file and line.
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import numpy as np
import scipy.sparse as sp

from .. import _sparse
from .._memory import out_of_memory
from ..exceptions import DataFormatError
from . import _xc_parse as _k

__all__ = [
    "MAX_HEADER",
    "MAX_ID",
    "is_binary",
    "not_text",
    "open_binary",
    "parse_header",
    "parse_stream",
    "show",
]

_MAGIC = ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"))  # bzip2: + [1-9]
_BLOCK_SIZE = 16 << 20  # bytes of decompressed text parsed per kernel call
MAX_HEADER = 1 << 16
MAX_ID = _sparse.INT32_MAX  # ids are stored as int32
_MAX_ROWS = 2**62  # row counts are int64 in the parsing kernel
_CONTROL = bytes(range(9)) + b"\x0b\x0c" + bytes(range(14, 32)) + b"\x7f"
_CORRUPT = (EOFError, lzma.LZMAError, zlib.error, OSError)
_CHUNK = 1 << 16  # compressed bytes read at a time


class _StrictStreams(io.RawIOBase):
    """Decompress one or more concatenated xz or bzip2 streams, refusing trailing bytes that
    are not another stream. (Python's LZMAFile and BZ2File ignore such bytes silently, while
    GzipFile refuses them: the three behave alike here.) xz stream padding (NUL bytes between
    streams) is allowed, as the xz format allows it."""

    def __init__(self, fp: BinaryIO, kind: str):
        self._fp = fp
        self._kind = kind
        self._new = lzma.LZMADecompressor if kind == "xz" else bz2.BZ2Decompressor
        self._magic = b"\xfd7zXZ\x00" if kind == "xz" else b"BZh"
        self._dec = self._new()
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._done:
            if self._dec.eof and not self._next_stream():
                break
            data = b""
            if self._dec.needs_input:
                data, self._pending = self._pending or self._fp.read(_CHUNK), b""
                if not data:
                    raise EOFError("the file ends inside a compressed stream")
            out = self._dec.decompress(data, max_length=len(buffer))
            if out:
                buffer[: len(out)] = out
                return len(out)
        return 0

    def _next_stream(self) -> bool:
        """After a stream's end: start the next one, or report the end (False)."""
        rest = self._dec.unused_data
        while True:
            if self._kind == "xz":
                rest = rest.lstrip(b"\0")
            if len(rest) < len(self._magic):
                more = self._fp.read(_CHUNK)
                if not more:
                    if rest:
                        break
                    self._done = True
                    return False
                rest += more
                continue
            if rest.startswith(self._magic):
                self._dec, self._pending = self._new(), rest
                return True
            break
        raise EOFError(
            f"trailing bytes after the compressed stream are not another {self._kind} stream"
        )


_READERS: dict[str, Any] = {
    "xz": lambda f: io.BufferedReader(_StrictStreams(f, "xz"), _CHUNK),
    "gzip": lambda f: gzip.GzipFile(fileobj=f),
    "bzip2": lambda f: io.BufferedReader(_StrictStreams(f, "bzip2"), _CHUNK),
    "plain": lambda f: f,
}


@contextlib.contextmanager
def open_binary(path: str) -> Iterator[tuple[BinaryIO, str, BinaryIO]]:
    """Open ``path`` for binary reading, decompressing by magic bytes; yield (stream, kind,
    raw file), the raw file's position telling how much of the file has been consumed."""
    raw = open(path, "rb")  # noqa: SIM115 - closed below
    try:
        head = raw.read(6)
        raw.seek(0)
        kind = next((name for magic, name in _MAGIC if head.startswith(magic)), "plain")
        if kind == "bzip2" and not b"1" <= head[3:4] <= b"9":
            kind = "plain"
        stream = _READERS[kind](raw)
        with _decompression_errors(path, kind):
            yield stream, kind, raw
    finally:
        raw.close()


@contextlib.contextmanager
def _decompression_errors(path: str, kind: str) -> Iterator[None]:
    """Turn the errors of a truncated or damaged compressed stream into DataFormatError, and
    those of a decompressor that ran out of memory into MemoryError (never blaming the
    file); a MemoryError without a message (the decompressors') gets the file's name."""
    try:
        yield
    except MemoryError as exc:
        if str(exc):  # it says how much was asked for
            raise
        raise MemoryError(f"while reading {path}") from exc
    except _CORRUPT as exc:
        if kind == "plain":
            raise
        if _memory_error(exc):
            raise MemoryError(f"while reading {path} ({type(exc).__name__}: {exc})") from exc
        raise DataFormatError(
            f"truncated or corrupt {kind}-compressed file ({type(exc).__name__}: {exc}); "
            f"expected a complete {kind} stream",
            path=path,
        ) from None


def _memory_error(exc: BaseException) -> bool:
    """Whether a decompression error reports memory, not data: raised while handling a
    MemoryError, ENOMEM, or the libraries' messages (liblzma's "Memory usage limit", zlib's
    Z_MEM_ERROR "insufficient memory")."""
    if out_of_memory(exc) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
        return True
    text = str(exc).lower()
    return "memory" in text and ("limit" in text or "insufficient" in text or "alloc" in text)


def is_binary(data: bytes) -> bool:
    """Whether ``data`` holds control bytes or is not valid UTF-8 (not a text file)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return len(data.translate(None, _CONTROL)) != len(data)


def not_text(path: str, line: int) -> DataFormatError:
    return DataFormatError(
        "not a text file (binary or non-UTF-8 bytes); expected a text file", path=path, line=line
    )


def show(token: bytes) -> str:
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_stream(
    stream: BinaryIO,
    path: str,
    line: int,
    max_rows: int,
    n_feat: int,
    n_lab: int,
    prepare: Any = None,
    report: Callable[[], None] | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix, int]:
    """Parse data lines (from file line ``line`` on) into X and Y, one row per line.

    At most ``max_rows`` rows; later lines must be blank. ``prepare`` may rewrite each block
    (keeping its lines). Returns X, Y and the line number after the last line.
    """
    first, rows, unsorted, parts = line, 0, 0, []
    for block in _blocks(stream, _BLOCK_SIZE):
        block = prepare(block) if prepare else block
        parts.append(_parse_block(block, path, line, (max_rows, max_rows - rows), n_feat, n_lab))
        unsorted |= parts[-1][4]
        rows += len(parts[-1][1])
        line += block.count(b"\n")
        if report is not None:
            report()
    X = _sparse.csr_from_parts(
        [p[0][0] for p in parts], [p[0][1] for p in parts], [p[1] for p in parts], (rows, n_feat)
    )
    Y = _sparse.csr_from_parts([p[2] for p in parts], None, [p[3] for p in parts], (rows, n_lab))
    del parts
    if unsorted:  # rare: sort rows, then a repeated id is an error at line (first + row)
        for M, what in ((X, "feature"), (Y, "label")):
            M.has_sorted_indices = False
            M.sort_indices()
            same = np.flatnonzero(np.diff(M.indices) == 0) + 1
            same = same[np.isin(same, M.indptr, invert=True)]  # not at a row start
            if same.size:
                row = int(np.searchsorted(M.indptr, same[0], side="right") - 1)
                raise DataFormatError(
                    f"duplicate {what} id {M.indices[same[0]]}; expected each "
                    f"{what} at most once per row",
                    path=path,
                    line=first + row,
                )
    return X, Y, line


def parse_header(header: bytes, path: str) -> tuple[int, int, int]:
    if not header:
        raise DataFormatError("empty file; expected a header line 'N D L'", path=path, line=1)
    if is_binary(header):
        raise not_text(path, 1)
    tokens = header.split()
    too_long = len(header) >= MAX_HEADER and not header.endswith(b"\n")
    if too_long or len(tokens) != 3 or not all(t.isdigit() for t in tokens):
        raise DataFormatError(
            f"malformed header {show(header.strip())}; expected 'N D L' (three non-negative "
            "integers: points, features, labels)",
            path=path,
            line=1,
        )
    n, d, l_ = (int(t) for t in tokens)
    if n > _MAX_ROWS:
        raise DataFormatError(
            f"header declares N = {n} points; expected at most {_MAX_ROWS}", path=path, line=1
        )
    if d > MAX_ID or l_ > MAX_ID:
        raise DataFormatError(
            f"header declares D = {d}, L = {l_}; expected at most {MAX_ID} features and labels",
            path=path,
            line=1,
        )
    return n, d, l_


def _blocks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    """Yield chunks of whole lines (the last chunk may lack its final newline)."""
    carry: list[bytes] = []  # pieces of an unfinished line (joined once: no quadratic copy)
    while True:
        chunk = stream.read(size)
        if not chunk:
            if carry:
                yield b"".join(carry)
            return
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry.append(chunk)
            continue
        yield b"".join([*carry, chunk[: cut + 1]])
        carry = [chunk[cut + 1 :]]


def _parse_block(
    block: bytes, path: str, line: int, rows: tuple[int, int], n_feat: int, n_lab: int
):
    """Run the kernel on one block.

    Returns ((feature ids, values), feature counts, label ids, label counts, unsorted flag).

    ``line`` is the file line of the block's first line, ``rows`` = (N, rows still expected).
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    n_lines = block.count(b"\n") + 1
    cap_f = block.count(b":")
    cap_l = block.count(b",") + n_lines
    f_idx = np.empty(cap_f, np.int32)
    f_val = np.empty(cap_f, np.float32)
    l_idx = np.empty(cap_l, np.int32)
    f_cnt = np.empty(n_lines, np.int64)
    l_cnt = np.empty(n_lines, np.int64)
    slow = np.empty((min(cap_f, 4096), 3), np.int64)
    while True:
        code, n_r, n_f, n_l, n_s, start, end, unsorted = _k.parse_xc_block(
            buf, n_feat, n_lab, rows[1], f_idx, f_val, f_cnt, l_idx, l_cnt, slow
        )
        if code != _k.SLOW_FULL:
            break
        slow = np.empty((cap_f, 3), np.int64)
    if code != _k.OK:
        raise _kernel_error(code, block, start, end, path, line, n_feat, n_lab, rows[0])
    if n_s:  # values the kernel could not convert exactly: let Python do it
        entries, starts, ends = slow[:n_s].T
        with np.errstate(over="ignore"):
            vals = np.array([float(block[s:e]) for s, e in slow[:n_s, 1:].tolist()])
            vals = vals.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            s, e = int(starts[bad[0]]), int(ends[bad[0]])
            s = max(block.rfind(c, 0, s) for c in (b" ", b"\t", b"\n")) + 1  # whole token
            raise _kernel_error(_k.NONFINITE, block, s, e, path, line, n_feat, n_lab, rows[0])
        f_val[entries] = vals
    return (
        (f_idx[:n_f].copy(), f_val[:n_f].copy()),
        f_cnt[:n_r].copy(),
        l_idx[:n_l].copy(),
        l_cnt[:n_r].copy(),
        unsorted,
    )


def _kernel_error(
    code: int,
    block: bytes,
    start: int,
    end: int,
    path: str,
    line: int,
    n_feat: int,
    n_lab: int,
    n_rows: int,
) -> DataFormatError:
    lineno = line + block.count(b"\n", 0, start)
    first = block.rfind(b"\n", 0, start) + 1
    last = block.find(b"\n", start)
    if is_binary(block[first : last if last >= 0 else len(block)]):
        return not_text(path, lineno)
    tok = block[start:end]
    shown, head = show(tok), tok.split(b":")[0].decode("ascii", "replace")
    neg = "negative " if tok[:1] == b"-" and tok[1:].split(b":")[0].isdigit() else ""
    msg = {
        _k.BAD_LABEL: f"{neg or 'bad '}label id {shown}; expected comma-separated label ids, "
        f"integers in [0, {n_lab})",
        _k.LABEL_RANGE: f"label id {head} out of range; expected an integer in [0, L = {n_lab})",
        _k.BAD_FEATURE: f"{'negative feature id in' if neg else 'bad feature token'} {shown}; "
        f"expected 'index:value' with an integer index in [0, {n_feat})",
        _k.FEATURE_RANGE: f"feature id {head} out of range; expected an integer in "
        f"[0, D = {n_feat})",
        _k.BAD_VALUE: f"bad value in feature token {shown}; expected 'index:value' with a number",
        _k.NONFINITE: f"non-finite value in {shown} (NaN, infinity or beyond the float32 "
        "range); expected a finite number",
        _k.EXTRA_ROW: f"more data rows than the header's N = {n_rows}; expected only blank "
        f"lines after data row {n_rows}",
    }[code]
    return DataFormatError(msg, path=path, line=lineno)
