"""Reading, writing and generating extreme multi-label data sets.

This module is the single place where ``sleec`` touches data files. The main format is the text
format of the Extreme Classification Repository (XC): line 1 is ``N D L`` (points, features,
labels); each following line is ``l1,l2,... f:v f:v ...`` with 0-based, comma-separated label ids
and space-separated 0-based ``feature:value`` pairs. A point without labels has an empty label
field (its line starts with a space). Files may be plain or xz/gzip/bzip2-compressed; the
compression is detected from the file's first bytes.

All readers return ``scipy.sparse.csr_matrix`` objects: features ``X`` of shape
``(n_samples, n_features)`` and labels ``Y`` of shape ``(n_samples, n_labels)``, both float32
with sorted indices in every row, ``Y`` holding only the value 1.0. Malformed input raises
:class:`~sleec.exceptions.DataFormatError` naming the file, the 1-based line and what was
expected.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import logging
import lzma
import os
import re
import zlib
from array import array
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any, BinaryIO

import numpy as np
import scipy.sparse as sp

from . import _xc_parse as _k
from ._atomic import atomic_write
from ._sparse import INT32_MAX, csr_from_parts
from ._validation import check_consistent_rows, check_int, check_labels, check_matrix
from .exceptions import DataFormatError

__all__ = ["load_bibtex", "make_xmc", "read_split", "read_svmlight_multilabel", "read_xc",
           "read_xc_rows", "read_xc_split", "write_xc"]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

_MAGIC = ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"))  # bzip2: + [1-9]
_BLOCK_SIZE = 16 << 20  # bytes of decompressed text parsed per kernel call
_MAX_HEADER = 1 << 16
_MAX_ID = INT32_MAX  # ids are stored as int32
_MAX_ROWS = 2**62  # row counts are int64 in the parsing kernel
_CONTROL = bytes(range(9)) + b"\x0b\x0c" + bytes(range(14, 32)) + b"\x7f"
_SVMLIGHT_EXTRA = re.compile(rb"#[^\n]*|(?<=[ \t])qid:[^ \t\r\n]*")  # comments, query ids
_CORRUPT = (EOFError, lzma.LZMAError, zlib.error, OSError)
_READERS: dict[str, Any] = {"xz": lzma.LZMAFile, "gzip": lambda f: gzip.GzipFile(fileobj=f),
                            "bzip2": bz2.BZ2File, "plain": lambda f: f}
_WRITERS: dict[str, Any] = {"xz": lambda f: lzma.LZMAFile(f, "wb"), "bz2": lambda f: bz2.BZ2File(
    f, "wb"), "gz": lambda f: gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0)}


# --------------------------------------------------------------------------------------------
# opening files


@contextlib.contextmanager
def _open_binary(path: str) -> Iterator[tuple[BinaryIO, str, BinaryIO]]:
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
    """Turn the errors of a truncated or damaged compressed stream into DataFormatError."""
    try:
        yield
    except _CORRUPT as exc:
        if kind == "plain":
            raise
        raise DataFormatError(
            f"truncated or corrupt {kind}-compressed file ({type(exc).__name__}: {exc}); "
            f"expected a complete {kind} stream", path=path) from None


def _is_binary(data: bytes) -> bool:
    """Whether ``data`` holds control bytes or is not valid UTF-8 (not a text file)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return len(data.translate(None, _CONTROL)) != len(data)


def _not_text(path: str, line: int) -> DataFormatError:
    return DataFormatError("not a text file (binary or non-UTF-8 bytes); expected a text file",
                           path=path, line=line)


def _show(token: bytes) -> str:
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:37] + "...")


# --------------------------------------------------------------------------------------------
# XC format


def read_xc(path: PathLike, *, progress: Callable[[int, int], None] | None = None,
            ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Read a data file in the Extreme Classification Repository text format.

    Parameters
    ----------
    path : str or os.PathLike
        Plain, ``.xz``, ``.gz`` or ``.bz2`` file (compression detected from the content).
    progress : callable, optional
        Called as ``progress(bytes_read, file_size)`` (bytes of the file as stored, compressed
        or not) after each parsed block of about 16 MB of text.

    Returns
    -------
    X : scipy.sparse.csr_matrix of float32, shape (N, D)
        Feature values (explicit zeros dropped), sorted indices.
    Y : scipy.sparse.csr_matrix of float32, shape (N, L)
        Binary label matrix (stored values are 1.0), sorted indices.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        For a malformed header, wrong row count, bad or out-of-range or repeated ids, bad or
        non-finite values, binary content or a truncated/corrupt compressed stream; the message
        names the file and the 1-based line.
    """
    path = os.fspath(path)
    with _open_binary(path) as (stream, _kind, raw):
        n_rows, n_feat, n_lab = _parse_header(stream.readline(_MAX_HEADER), path)
        report = None
        if progress is not None:
            size = os.fstat(raw.fileno()).st_size

            def report() -> None:
                progress(min(raw.tell(), size), size)
        X, Y, line = _parse_stream(stream, path, 2, n_rows, n_feat, n_lab, report=report)
    if X.shape[0] < n_rows:
        raise DataFormatError(
            f"the file ends after {X.shape[0]} data row(s); expected N = {n_rows} rows as "
            "declared in the header", path=path, line=max(line - 1, 1))
    X.eliminate_zeros()
    logger.debug("read %s: X %s nnz=%d, Y %s nnz=%d", path, X.shape, X.nnz, Y.shape, Y.nnz)
    return X, Y


def _parse_stream(stream: BinaryIO, path: str, line: int, max_rows: int, n_feat: int,
                  n_lab: int, prepare: Any = None,
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
    X = csr_from_parts([p[0][0] for p in parts], [p[0][1] for p in parts], [p[1] for p in parts],
             (rows, n_feat))
    Y = csr_from_parts([p[2] for p in parts], None, [p[3] for p in parts], (rows, n_lab))
    del parts
    if unsorted:  # rare: sort rows, then a repeated id is an error at line (first + row)
        for M, what in ((X, "feature"), (Y, "label")):
            M.has_sorted_indices = False
            M.sort_indices()
            same = np.flatnonzero(np.diff(M.indices) == 0) + 1
            same = same[np.isin(same, M.indptr, invert=True)]  # not at a row start
            if same.size:
                row = int(np.searchsorted(M.indptr, same[0], side="right") - 1)
                raise DataFormatError(f"duplicate {what} id {M.indices[same[0]]}; expected each "
                                      f"{what} at most once per row", path=path, line=first + row)
    return X, Y, line


def _parse_header(header: bytes, path: str) -> tuple[int, int, int]:
    if not header:
        raise DataFormatError("empty file; expected a header line 'N D L'", path=path, line=1)
    if _is_binary(header):
        raise _not_text(path, 1)
    tokens = header.split()
    too_long = len(header) >= _MAX_HEADER and not header.endswith(b"\n")
    if too_long or len(tokens) != 3 or not all(t.isdigit() for t in tokens):
        raise DataFormatError(
            f"malformed header {_show(header.strip())}; expected 'N D L' (three non-negative "
            "integers: points, features, labels)", path=path, line=1)
    n, d, l_ = (int(t) for t in tokens)
    if n > _MAX_ROWS:
        raise DataFormatError(f"header declares N = {n} points; expected at most {_MAX_ROWS}",
                              path=path, line=1)
    if d > _MAX_ID or l_ > _MAX_ID:
        raise DataFormatError(f"header declares D = {d}, L = {l_}; expected at most "
                              f"{_MAX_ID} features and labels", path=path, line=1)
    return n, d, l_


def _blocks(stream: BinaryIO, size: int) -> Iterator[bytes]:
    """Yield chunks of whole lines (the last chunk may lack its final newline)."""
    carry = b""
    while True:
        chunk = stream.read(size)
        if not chunk:
            if carry:
                yield carry
            return
        cut = chunk.rfind(b"\n")
        if cut < 0:
            carry += chunk
            continue
        yield carry + chunk[:cut + 1]
        carry = chunk[cut + 1:]


def _parse_block(block: bytes, path: str, line: int, rows: tuple[int, int], n_feat: int,
                 n_lab: int):
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
            buf, n_feat, n_lab, rows[1], f_idx, f_val, f_cnt, l_idx, l_cnt, slow)
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
    return ((f_idx[:n_f].copy(), f_val[:n_f].copy()), f_cnt[:n_r].copy(), l_idx[:n_l].copy(),
            l_cnt[:n_r].copy(), unsorted)


def _kernel_error(code: int, block: bytes, start: int, end: int, path: str, line: int,
                  n_feat: int, n_lab: int, n_rows: int) -> DataFormatError:
    lineno = line + block.count(b"\n", 0, start)
    first = block.rfind(b"\n", 0, start) + 1
    last = block.find(b"\n", start)
    if _is_binary(block[first:last if last >= 0 else len(block)]):
        return _not_text(path, lineno)
    tok = block[start:end]
    shown, head = _show(tok), tok.split(b":")[0].decode("ascii", "replace")
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


def write_xc(path: PathLike, X: Any, Y: Any) -> None:
    """Write ``X`` and ``Y`` atomically in the XC text format.

    Parameters
    ----------
    path : str or os.PathLike
        Target file; ``.xz``, ``.gz`` and ``.bz2`` suffixes select compression.
    X : sparse matrix or array-like, shape (N, D)
        Feature values; written with the shortest text that round-trips their float32 value.
    Y : sparse matrix or array-like, shape (N, L)
        Labels; every stored positive entry is written as a label id.

    Notes
    -----
    The data go to a temporary file in the target's directory which is flushed, fsync'ed and
    renamed over ``path``; on any error the temporary file is removed and ``path`` untouched.
    """
    path = os.fspath(path)
    X = check_matrix(X, "X")
    Y = check_labels(Y, "Y")
    check_consistent_rows(X, Y)
    compress = _WRITERS.get(path.lower().rsplit(".", 1)[-1], lambda f: f)
    with atomic_write(path) as raw:
        out = compress(raw)
        try:
            _write_lines(out, X, Y)
        finally:
            if out is not raw:
                out.close()


def _write_lines(out: BinaryIO, X: sp.csr_matrix, Y: sp.csr_matrix, chunk: int = 8192) -> None:
    n = X.shape[0]
    out.write(f"{n} {X.shape[1]} {Y.shape[1]}\n".encode())
    uniq, inv = np.unique(X.data, return_inverse=True)
    text = np.array([str(v) for v in uniq.astype(np.float32)], dtype=object)
    xp, yp = X.indptr, Y.indptr
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        a, b = int(xp[r0]), int(xp[r1])
        idx, val = X.indices[a:b].tolist(), text[inv[a:b]].tolist()
        feats = [f"{j}:{s}" for j, s in zip(idx, val, strict=True)]
        ya = int(yp[r0])
        labels = list(map(str, Y.indices[ya:int(yp[r1])].tolist()))
        lines = []
        for r in range(r0, r1):
            f = " ".join(feats[xp[r] - a:xp[r + 1] - a])
            lab = ",".join(labels[yp[r] - ya:yp[r + 1] - ya])
            lines.append(f"{lab} {f}" if f else lab)
        out.write(("\n".join(lines) + "\n").encode("ascii"))


# --------------------------------------------------------------------------------------------
# split files


def read_split(path: PathLike, column: int = 1) -> np.ndarray:
    """Read one column of a split file (1-based row numbers, whitespace separated).

    Parameters
    ----------
    path : str or os.PathLike
        Split file, plain or compressed; blank lines are ignored.
    column : int, default=1
        1-based column to read.

    Returns
    -------
    rows : ndarray of int64, shape (n_rows,)
        0-based row numbers, in file order.
    """
    return _read_split(os.fspath(path), column)[0]


def _read_split(path: str, column: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (0-based rows, 1-based file line of each)."""
    column = check_int(column, "column", low=1)
    rows, lines = array("q"), array("q")
    n_cols = None
    with _open_binary(path) as (stream, _kind, _raw):
        for lineno, raw in enumerate(stream, 1):
            if _is_binary(raw.rstrip(b"\r\n")):
                raise _not_text(path, lineno)
            tokens = raw.split()
            if not tokens:
                continue
            if n_cols is None:
                n_cols = len(tokens)
                if column > n_cols:
                    raise DataFormatError(f"column {column} out of range; the file has {n_cols} "
                                          f"column{'s' if n_cols > 1 else ''}", path=path,
                                          line=lineno)
            if len(tokens) < column:
                raise DataFormatError(f"line has {len(tokens)} columns; expected at least "
                                      f"{column}", path=path, line=lineno)
            tok = tokens[column - 1]
            if not tok.isdigit() or int(tok) < 1:
                raise DataFormatError(f"bad row number {_show(tok)}; expected a positive "
                                      "integer (1-based row number)", path=path, line=lineno)
            rows.append(int(tok) - 1)
            lines.append(lineno)
    if n_cols is None:
        raise DataFormatError(f"empty split file; column {column} out of range (the file has "
                              "0 columns)", path=path, line=1)
    return np.frombuffer(rows, np.int64).copy(), np.frombuffer(lines, np.int64).copy()


def read_xc_split(data_path: PathLike, train_split_path: PathLike, test_split_path: PathLike,
                  column: int = 1) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix,
                                            sp.csr_matrix]:
    """Read an XC data file once and select the rows of a train/test split.

    Parameters
    ----------
    data_path : str or os.PathLike
        XC data file with all points.
    train_split_path, test_split_path : str or os.PathLike
        Split files (1-based row numbers into ``data_path``, one column per split).
    column : int, default=1
        1-based split column.

    Returns
    -------
    X_train : csr_matrix of float32, shape (n_train, D)
    Y_train : csr_matrix of float32, shape (n_train, L)
    X_test : csr_matrix of float32, shape (n_test, D)
    Y_test : csr_matrix of float32, shape (n_test, L)
    """
    column = check_int(column, "column", low=1)
    splits = [(os.fspath(p), *_read_split(os.fspath(p), column))
              for p in (train_split_path, test_split_path)]
    X, Y = read_xc(data_path)
    (X_train, Y_train), (X_test, Y_test) = (
        _select_rows(X, Y, os.fspath(data_path), *split) for split in splits)
    return X_train, Y_train, X_test, Y_test


def read_xc_rows(data_path: PathLike, split_path: PathLike, column: int = 1, *,
                 progress: Callable[[int, int], None] | None = None,
                 ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Read an XC data file and keep the rows one split file lists (in the split's order).

    The split file is read first, so a bad split fails before the data is parsed. Returns
    ``(X, Y)`` as :func:`read_xc` does; ``progress`` as in :func:`read_xc`.
    """
    column = check_int(column, "column", low=1)
    rows, lines = _read_split(os.fspath(split_path), column)
    X, Y = read_xc(data_path, progress=progress)
    return _select_rows(X, Y, os.fspath(data_path), os.fspath(split_path), rows, lines)


def _select_rows(X: sp.csr_matrix, Y: sp.csr_matrix, data_path: str, split_path: str,
                 rows: np.ndarray, lines: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    beyond = np.flatnonzero(rows >= X.shape[0])
    if beyond.size:
        k = beyond[0]
        raise DataFormatError(
            f"row number {rows[k] + 1} beyond the data; expected at most {X.shape[0]} "
            f"(the number of rows of {data_path})", path=split_path, line=int(lines[k]))
    return X[rows], Y[rows]


# --------------------------------------------------------------------------------------------
# SVMlight multilabel


def read_svmlight_multilabel(path: PathLike, n_features: int | None = None,
                             n_labels: int | None = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Read a multilabel SVMlight/LIBSVM file (``l1,l2 f:v f:v ...``; 0-based ids, no header).

    Parsed by the XC reader's kernel, with the same checks and messages. ``#`` starts a comment,
    ``qid:`` tokens are ignored, and blank (or comment-only) lines are skipped.

    Parameters
    ----------
    path : str or os.PathLike
        Plain or compressed file.
    n_features : int, optional
        Number of columns of ``X``; default largest feature id + 1.
    n_labels : int, optional
        Number of columns of ``Y``; default largest label id + 1.

    Returns
    -------
    X : csr_matrix of float32, shape (n_samples, n_features)
    Y : csr_matrix of float32, shape (n_samples, n_labels)
        Binary label matrix.
    """
    path = os.fspath(path)
    D = _MAX_ID if n_features is None else check_int(n_features, "n_features", low=1)
    L = _MAX_ID if n_labels is None else check_int(n_labels, "n_labels", low=1)
    with _open_binary(path) as (stream, _kind, _raw):
        X, Y, _ = _parse_stream(stream, path, 1, 2**62, D, L,
                                lambda b: _SVMLIGHT_EXTRA.sub(b"", b) if b"#" in b or b"qid:"
                                in b else b)
    keep = (np.diff(X.indptr) > 0) | (np.diff(Y.indptr) > 0)  # drop blank lines
    if not keep.all():
        X, Y = X[keep], Y[keep]
    X.eliminate_zeros()
    D = int(X.indices.max()) + 1 if n_features is None and X.nnz else n_features or 0
    L = int(Y.indices.max()) + 1 if n_labels is None and Y.nnz else n_labels or 0
    return (sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], D)),
            sp.csr_matrix((Y.data, Y.indices, Y.indptr), shape=(Y.shape[0], L)))


# --------------------------------------------------------------------------------------------
# bundled data


def load_bibtex() -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Load the bundled Bibtex data set (Mulan's train/test split).

    Returns
    -------
    X_train : csr_matrix of float32, shape (4880, 1836)
    Y_train : csr_matrix of float32, shape (4880, 159)
    X_test : csr_matrix of float32, shape (2515, 1836)
    Y_test : csr_matrix of float32, shape (2515, 159)
    """
    base = resources.files("sleec") / "data"
    out = []
    for name in ("bibtex_train.txt.xz", "bibtex_test.txt.xz"):
        with resources.as_file(base / name) as file:
            out += read_xc(file)
    return out[0], out[1], out[2], out[3]


from .synthetic import make_xmc  # noqa: E402  (re-exported: sleec.datasets.make_xmc)
