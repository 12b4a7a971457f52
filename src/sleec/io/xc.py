"""The text format of the Extreme Classification Repository (XC): data files and the split
files that select their rows.

Line 1 is ``N D L`` (points, features, labels); each following line is ``l1,l2,... f:v f:v
...`` with 0-based, comma-separated label ids and space-separated 0-based ``feature:value``
pairs. A point without labels has an empty label field (its line starts with a space).
Files may be plain or xz/gzip/bzip2-compressed; the compression is detected from the file's
first bytes. Readers return ``scipy.sparse.csr_matrix`` objects, ``X`` (n, D) and ``Y``
(n, L), float32 with sorted indices in every row, ``Y`` holding only 1.0. Malformed input
raises :class:`~sleec.exceptions.DataFormatError` naming the file, the 1-based line and
what was expected.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
import os
import re
from array import array
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np
import scipy.sparse as sp

from .. import _validation
from .._atomic import atomic_write as _atomic_write
from ..exceptions import DataFormatError
from . import _xc_read as _r

__all__ = [
    "is_xc_file",
    "read_split",
    "read_xc",
    "read_xc_rows",
    "read_xc_split",
    "write_xc",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

_WRITERS: dict[str, Any] = {
    "xz": lambda f: lzma.LZMAFile(f, "wb"),
    "bz2": lambda f: bz2.BZ2File(f, "wb"),
    "gz": lambda f: gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0),
}


# --------------------------------------------------------------------------------------------
# XC format


def read_xc(
    path: PathLike,
    *,
    progress: Callable[[int, int], None] | None = None,
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
    with _r.open_binary(path) as (stream, _kind, raw):
        n_rows, n_feat, n_lab = _r.parse_header(stream.readline(_r.MAX_HEADER), path)
        report = None
        if progress is not None:
            size = os.fstat(raw.fileno()).st_size

            def report() -> None:
                progress(min(raw.tell(), size), size)

        X, Y, line = _r.parse_stream(stream, path, 2, n_rows, n_feat, n_lab, report=report)
    if X.shape[0] < n_rows:
        raise DataFormatError(
            f"the file ends after {X.shape[0]} data row(s); expected N = {n_rows} rows as "
            "declared in the header",
            path=path,
            line=max(line - 1, 1),
        )
    X.eliminate_zeros()
    logger.debug("read %s: X %s nnz=%d, Y %s nnz=%d", path, X.shape, X.nnz, Y.shape, Y.nnz)
    return X, Y


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
    X = _validation.check_matrix(X, "X")
    Y = _validation.check_labels(Y, "Y")
    _validation.check_consistent_rows(X, Y)
    compress = _WRITERS.get(path.lower().rsplit(".", 1)[-1], lambda f: f)
    with _atomic_write(path) as raw:
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
        labels = list(map(str, Y.indices[ya : int(yp[r1])].tolist()))
        lines = []
        for r in range(r0, r1):
            f = " ".join(feats[xp[r] - a : xp[r + 1] - a])
            lab = ",".join(labels[yp[r] - ya : yp[r + 1] - ya])
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
    column = _validation.check_int(column, "column", low=1)
    rows, lines = array("q"), array("q")
    n_cols = None
    with _r.open_binary(path) as (stream, _kind, _raw):
        for lineno, raw in enumerate(stream, 1):
            if _r.is_binary(raw.rstrip(b"\r\n")):
                raise _r.not_text(path, lineno)
            tokens = raw.split()
            if not tokens:
                continue
            if n_cols is None:
                n_cols = len(tokens)
                if column > n_cols:
                    raise DataFormatError(
                        f"column {column} out of range; the file has {n_cols} "
                        f"column{'s' if n_cols > 1 else ''}",
                        path=path,
                        line=lineno,
                    )
            if len(tokens) < column:
                raise DataFormatError(
                    f"line has {len(tokens)} columns; expected at least {column}",
                    path=path,
                    line=lineno,
                )
            tok = tokens[column - 1]
            if not tok.isdigit() or int(tok) < 1:
                raise DataFormatError(
                    f"bad row number {_r.show(tok)}; expected a positive "
                    "integer (1-based row number)",
                    path=path,
                    line=lineno,
                )
            rows.append(int(tok) - 1)
            lines.append(lineno)
    if n_cols is None:
        raise DataFormatError(
            f"empty split file; column {column} out of range (the file has 0 columns)",
            path=path,
            line=1,
        )
    return np.frombuffer(rows, np.int64).copy(), np.frombuffer(lines, np.int64).copy()


def read_xc_split(
    data_path: PathLike, train_split_path: PathLike, test_split_path: PathLike, column: int = 1
) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
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
    column = _validation.check_int(column, "column", low=1)
    splits = [
        (os.fspath(p), *_read_split(os.fspath(p), column))
        for p in (train_split_path, test_split_path)
    ]
    X, Y = read_xc(data_path)
    (X_train, Y_train), (X_test, Y_test) = (
        _select_rows(X, Y, os.fspath(data_path), *split) for split in splits
    )
    return X_train, Y_train, X_test, Y_test


def read_xc_rows(
    data_path: PathLike,
    split_path: PathLike,
    column: int = 1,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Read an XC data file and keep the rows one split file lists (in the split's order).

    The split file is read first, so a bad split fails before the data is parsed. Returns
    ``(X, Y)`` as :func:`read_xc` does; ``progress`` as in :func:`read_xc`.
    """
    column = _validation.check_int(column, "column", low=1)
    rows, lines = _read_split(os.fspath(split_path), column)
    X, Y = read_xc(data_path, progress=progress)
    return _select_rows(X, Y, os.fspath(data_path), os.fspath(split_path), rows, lines)


def _select_rows(
    X: sp.csr_matrix,
    Y: sp.csr_matrix,
    data_path: str,
    split_path: str,
    rows: np.ndarray,
    lines: np.ndarray,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    beyond = np.flatnonzero(rows >= X.shape[0])
    if beyond.size:
        k = beyond[0]
        raise DataFormatError(
            f"row number {rows[k] + 1} beyond the data; expected at most {X.shape[0]} "
            f"(the number of rows of {data_path})",
            path=split_path,
            line=int(lines[k]),
        )
    return X[rows], Y[rows]


_XC_HEADER = re.compile(rb"\s*\d+[ \t]+\d+[ \t]+\d+\s*")


def is_xc_file(path: PathLike) -> bool:
    """Whether ``path`` starts like an XC data file (a header line ``N D L``), as opposed
    to labelled text (``label1,label2<TAB>text`` or fastText lines)."""
    with _r.open_binary(os.fspath(path)) as (stream, _kind, _raw):
        return bool(_XC_HEADER.fullmatch(stream.readline(_r.MAX_HEADER)))
