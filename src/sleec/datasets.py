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
import gzip
import logging
import lzma
import os
import re
import zipfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, BinaryIO

import numpy as np
import scipy.sparse as sp

from . import _validation
from . import _xc_read as _r
from ._atomic import atomic_write as _atomic_write
from ._labels import name_problem
from ._persist import read_arrays
from .exceptions import DataFormatError

__all__ = [
    "PredictionFile",
    "is_xc_file",
    "load_bibtex",
    "make_xmc",
    "read_label_names",
    "read_prediction_file",
    "read_predictions",
    "read_split",
    "read_svmlight_multilabel",
    "read_text",
    "read_xc",
    "read_xc_rows",
    "read_xc_split",
    "TEXT_LAYOUTS",
    "write_label_names",
    "write_predictions",
    "write_xc",
]

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

_SVMLIGHT_EXTRA = re.compile(rb"#[^\n]*|(?<=[ \t])qid:[^ \t\r\n]*")  # comments, query ids
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


# --------------------------------------------------------------------------------------------
# SVMlight multilabel


def read_svmlight_multilabel(
    path: PathLike, n_features: int | None = None, n_labels: int | None = None
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
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
    D = _r.MAX_ID if n_features is None else _validation.check_int(n_features, "n_features", low=1)
    L = _r.MAX_ID if n_labels is None else _validation.check_int(n_labels, "n_labels", low=1)
    with _r.open_binary(path) as (stream, _kind, _raw):
        X, Y, _ = _r.parse_stream(
            stream,
            path,
            1,
            2**62,
            D,
            L,
            lambda b: _SVMLIGHT_EXTRA.sub(b"", b) if b"#" in b or b"qid:" in b else b,
        )
    keep = (np.diff(X.indptr) > 0) | (np.diff(Y.indptr) > 0)  # drop blank lines
    if not keep.all():
        X, Y = X[keep], Y[keep]
    X.eliminate_zeros()
    D = int(X.indices.max()) + 1 if n_features is None and X.nnz else n_features or 0
    L = int(Y.indices.max()) + 1 if n_labels is None and Y.nnz else n_labels or 0
    return (
        sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], D)),
        sp.csr_matrix((Y.data, Y.indices, Y.indptr), shape=(Y.shape[0], L)),
    )


# --------------------------------------------------------------------------------------------
# prediction files


@dataclass(frozen=True)
class PredictionFile:
    """Ranked predictions read from a file, with the label space they are in.

    ids : (n, k) int64, best first, padded with -1.
    names : None when ``ids`` are label ids (the columns of an XC file, a model's
        ``classes_`` when they are ids); else the (m,) str label names that ``ids`` index
        (a model fitted on label names, or ``predict --names``).
    """

    ids: np.ndarray
    names: np.ndarray | None = None

    @property
    def space(self) -> str:
        """``"ids"`` or ``"names"``, for messages."""
        return "ids" if self.names is None else "names"


def write_predictions(
    path: str, ids: np.ndarray, scores: np.ndarray, names: np.ndarray | None = None
) -> None:
    """Write top-k predictions atomically; the format says which label space they are in.

    Label ids (``names`` None): ``.npz`` with arrays ``ids`` (n, k) int32 padded with -1
    and ``scores``; or text, one line per point, ``id:score id:score ...`` best first,
    padding skipped. Label names (``ids`` index ``names``): ``.npz`` with ``name_ids``,
    ``scores`` and ``label_names`` (no ``ids`` array, so that nobody reads the positions
    as label ids); or text, one line per point, ``name1,name2<TAB>score1,score2`` (the
    format of ``predict --text``; every line has its TAB).
    """
    ids = np.asarray(ids, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float32)
    npz = str(path).lower().endswith(".npz")
    if names is not None:
        names = np.asarray(names, dtype=str)
        if npz:
            with _atomic_write(path, "wb") as fh:
                np.savez(fh, name_ids=ids, scores=scores, label_names=names)
            return
        keep = ids >= 0
        write_label_names(
            path,
            [names[row[m]].tolist() for row, m in zip(ids, keep, strict=True)],
            [row[m].tolist() for row, m in zip(scores, keep, strict=True)],
        )
        return
    if npz:
        with _atomic_write(path, "wb") as fh:
            np.savez(fh, ids=ids, scores=scores)
        return
    valid = ids >= 0
    uniq, inv = np.unique(scores[valid], return_inverse=True)
    text = [str(s) for s in uniq]  # shortest text that round-trips the float32 value
    pairs = [
        f"{i}:{text[j]}" for i, j in zip(ids[valid].tolist(), inv.ravel().tolist(), strict=True)
    ]
    counts = valid.sum(axis=1)
    with _atomic_write(path, "w") as fh:
        pos = 0
        for c in counts.tolist():
            fh.write(" ".join(pairs[pos : pos + c]) + "\n")
            pos += c


def read_predictions(path: str, k: int | None = None) -> np.ndarray:
    """Ranked label ids (n, k') int64, padded with -1, from a file of label ids written by
    ``predict`` (a file of label names is refused: see :func:`read_prediction_file`).

    With ``k``, only each row's first ``k`` predictions are kept (``k' <= k``): memory
    follows what is evaluated, however long a line is. Ids must be integers in [0, 2**31).
    """
    found = read_prediction_file(path, k)
    if found.names is not None:
        raise DataFormatError(
            "holds label names, not label ids (the predictions of a model fitted on label "
            "names); read it with sleec.datasets.read_prediction_file",
            path=path,
        )
    return found.ids


def read_prediction_file(path: str, k: int | None = None) -> PredictionFile:
    """The predictions of a file written by :func:`write_predictions` (or ``predict``),
    ids or names; with ``k``, each row's first ``k`` only.

    A text file is in the names format when its first line holds a TAB (then every line
    must), else in the ids format (then no line may).
    """
    if k is not None:
        k = _validation.check_k(k)
    if str(path).lower().endswith(".npz"):
        found = _read_predictions_npz(path)
        return found if k is None else PredictionFile(found.ids[:, :k], found.names)
    rows: list[list] = []
    names_format = None
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataFormatError(
                    "not a text file; expected lines 'id:score id:score ...' or "
                    "'name1,name2<TAB>score1,score2'",
                    path=path,
                    line=lineno,
                ) from None
            line = line.rstrip("\r\n")
            if names_format is None:
                names_format = "\t" in line
            if names_format != ("\t" in line):
                raise DataFormatError(
                    "mixes the two prediction formats: "
                    + (
                        "no TAB on this line, though line 1 has one ('name1,name2<TAB>scores')"
                        if names_format
                        else "a TAB on this line, though line 1 has none ('id:score ...')"
                    ),
                    path=path,
                    line=lineno,
                )
            if names_format:
                field = line.partition("\t")[0]
                found = field.split(",") if field else []
                if any(not name for name in found):
                    raise DataFormatError(
                        f"empty label name in {_r.show(field.encode())}", path=path, line=lineno
                    )
                rows.append(found[:k])
            else:
                tokens = line.split(None, -1 if k is None else k)[:k]
                rows.append([_prediction_id(token, path, lineno) for token in tokens])
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), max(width, 1)), -1, dtype=np.int64)
    if not names_format:
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
        return PredictionFile(ids)
    index: dict[str, int] = {}
    for i, r in enumerate(rows):
        ids[i, : len(r)] = [index.setdefault(name, len(index)) for name in r]
    return PredictionFile(ids, np.array(list(index), dtype=str))


def _prediction_id(token: str, path: str, lineno: int) -> int:
    label, sep, score = token.partition(":")
    try:
        if not sep:
            raise ValueError
        value = int(label)
        float(score)
    except ValueError:
        raise DataFormatError(
            f"bad prediction {token[:40]!r}; expected 'label_id:score'", path=path, line=lineno
        ) from None
    if not 0 <= value <= _r.MAX_ID:
        raise DataFormatError(
            f"label id {label[:40]} out of range; expected an integer in [0, {_r.MAX_ID}]",
            path=path,
            line=lineno,
        )
    return value


def _read_predictions_npz(path: str) -> PredictionFile:
    try:
        arrays = read_arrays(path)  # the model files' size-checked reader
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise DataFormatError(f"not a readable .npz file ({exc})", path=path) from None
    key = "name_ids" if "name_ids" in arrays else "ids"
    if key not in arrays:
        raise DataFormatError(
            f"no 'ids' array (found {sorted(arrays)}); expected a file written by 'sleec predict'",
            path=path,
        )
    ids = arrays[key]
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise DataFormatError(
            f"'{key}' is a {ids.dtype} array of shape {ids.shape}; expected "
            "a 2-D integer array (n_points, k)",
            path=path,
        )
    if key == "ids":
        return PredictionFile(ids.astype(np.int64, copy=False))
    names = arrays.get("label_names")
    if names is None or names.ndim != 1 or names.dtype.kind != "U":
        raise DataFormatError(
            "'name_ids' without a 1-D string array 'label_names' that they index", path=path
        )
    if ids.size and ids.max() >= names.size:
        raise DataFormatError(
            f"'name_ids' holds {int(ids.max())}, beyond the {names.size} label names", path=path
        )
    return PredictionFile(ids.astype(np.int64, copy=False), names)


_XC_HEADER = re.compile(rb"\s*\d+[ \t]+\d+[ \t]+\d+\s*")


def is_xc_file(path: PathLike) -> bool:
    """Whether ``path`` starts like an XC data file (a header line ``N D L``), as opposed
    to labelled text (``label1,label2<TAB>text`` or fastText lines)."""
    with _r.open_binary(os.fspath(path)) as (stream, _kind, _raw):
        return bool(_XC_HEADER.fullmatch(stream.readline(_r.MAX_HEADER)))


def read_label_names(path: PathLike) -> np.ndarray:
    """The label names of an XC data set, one a line: line ``i + 1`` names label id ``i``
    (as WordNet's ``labels.txt``). Names must be unique and non-empty; a trailing newline is
    optional. Returns a (L,) str array."""
    path = os.fspath(path)
    names: list[str] = []
    seen: dict[str, int] = {}
    with _r.open_binary(path) as (stream, _kind, _raw):
        for lineno, raw in enumerate(stream, 1):
            raw = raw.rstrip(b"\r\n")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark is not part of the first name
            if _r.is_binary(raw):
                raise _r.not_text(path, lineno)
            name = raw.decode("utf-8").strip()
            problem = name_problem(name)
            if problem is not None:
                raise DataFormatError(
                    f"the name of label id {lineno - 1} {problem}; expected one name a line "
                    "(sleec._labels.NAME_RULE)",
                    path=path,
                    line=lineno,
                )
            if name in seen:
                raise DataFormatError(
                    f"label name {name[:60]!r} repeats line {seen[name]}; names must be unique",
                    path=path,
                    line=lineno,
                )
            seen[name] = lineno
            names.append(name)
    return np.array(names, dtype=str)


# --------------------------------------------------------------------------------------------
# labelled text


FASTTEXT_PREFIX = "__label__"


TEXT_LAYOUTS = ("auto", "tsv", "fasttext", "plain")


def read_text(
    path: PathLike,
    *,
    labels_required: bool = True,
    keep_blank: bool = False,
    layout: str = "auto",
) -> tuple[list[str], list[list[str]]]:
    """Read documents and their label names from a text file, one document per line.

    Layouts (``layout``; ``"auto"`` detects them as below):

    - ``"tsv"``: ``label1,label2<TAB>text``; the label field may be empty; the text is
      everything after the first TAB (later TABs are part of it);
    - ``"fasttext"``: ``__label__label1 __label__label2 text`` (leading ``__label__``
      tokens); detected when the first non-blank line starts with ``__label__``;
    - ``"plain"`` (only with ``labels_required=False``): the whole line is the text, TABs
      included.

    With ``labels_required=True`` (training, truth) ``"auto"`` means fastText or else TSV,
    and a TSV line without a TAB is an error. With ``labels_required=False`` (documents to
    predict) ``"auto"`` reads TSV only when every non-blank line holds a TAB (a labelled
    file; the labels are ignored by prediction), else plain text, so a TAB inside plain
    text never turns part of it into labels.

    Blank lines are skipped, or with ``keep_blank=True`` kept as empty documents without
    labels, so that the i-th line is the i-th document (prediction keeps them: one output
    line per input line). A UTF-8 byte order mark at the start is dropped. Plain or
    xz/gzip/bzip2.

    Returns
    -------
    texts : list of n str. labels : list of n lists of label names (str).

    Raises
    ------
    DataFormatError
        Naming the file and line: a line without a tab in the tab-separated format, an empty
        label name (``a,,b``), binary or non-UTF-8 content, a damaged compressed stream.
    """
    path = os.fspath(path)
    if layout not in TEXT_LAYOUTS or (layout == "plain" and labels_required):
        allowed = TEXT_LAYOUTS if not labels_required else TEXT_LAYOUTS[:3]
        raise ValueError(
            f"The 'layout' parameter must be one of {list(allowed)}. Got {layout!r} instead."
        )
    lines: list[tuple[int, str]] = []
    with _r.open_binary(path) as (stream, _kind, _raw):
        for lineno, raw in enumerate(stream, 1):
            raw = raw.rstrip(b"\r\n")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a byte order mark is not part of the first label or word
            if _r.is_binary(raw.replace(b"\t", b" ")):
                raise _r.not_text(path, lineno)
            lines.append((lineno, raw.decode("utf-8")))
    content = [line for _, line in lines if line.strip()]
    if layout == "auto":
        if content and content[0].lstrip().startswith(FASTTEXT_PREFIX):
            layout = "fasttext"
        elif labels_required or (content and all("\t" in line for line in content)):
            layout = "tsv"
        else:
            layout = "plain"
    texts: list[str] = []
    labels: list[list[str]] = []
    for lineno, line in lines:
        if not line.strip():
            if keep_blank:
                texts.append("")
                labels.append([])
            continue
        if layout == "plain":
            names, text = [], line
        elif layout == "fasttext":
            names, text = _fasttext_line(line, path, lineno)
        else:
            names, text = _tsv_line(line, path, lineno, labels_required)
        texts.append(text)
        labels.append(names)
    return texts, labels


def _tsv_line(line: str, path: str, lineno: int, labels_required: bool) -> tuple[list, str]:
    field, tab, text = line.partition("\t")
    if not tab:
        if labels_required:
            raise DataFormatError(
                f"no tab in {_r.show(line.encode())}; expected 'label1,label2<TAB>text'",
                path=path,
                line=lineno,
            )
        return [], line
    names = [name.strip() for name in field.split(",")] if field.strip() else []
    if any(not name for name in names):
        raise DataFormatError(
            f"empty label name in {_r.show(field.encode())}; expected comma-separated names",
            path=path,
            line=lineno,
        )
    return names, text


def _fasttext_line(line: str, path: str, lineno: int) -> tuple[list, str]:
    tokens = line.split()
    n = 0
    while n < len(tokens) and tokens[n].startswith(FASTTEXT_PREFIX):
        n += 1
    names = [t[len(FASTTEXT_PREFIX) :] for t in tokens[:n]]
    if any(not name for name in names):
        raise DataFormatError(
            f"empty label name '{FASTTEXT_PREFIX}'; expected '{FASTTEXT_PREFIX}name' tokens",
            path=path,
            line=lineno,
        )
    return names, " ".join(tokens[n:])


def write_label_names(path: PathLike, names: list[list], scores: list[list[float]]) -> None:
    """Write predicted label names atomically, one line per document:
    ``name1,name2<TAB>score1,score2`` (best first; an empty line part for no prediction).

    A name that breaks :data:`sleec._labels.NAME_RULE` (a comma, tab, any line break, a
    control character, ...) cannot be written in this format: ValueError, nothing written.
    """
    lines = []
    for i, (row, row_scores) in enumerate(zip(names, scores, strict=True)):
        for n in row:
            problem = name_problem(str(n))
            if problem is not None:
                raise ValueError(
                    f"label name {str(n)[:60]!r} (document {i}) {problem}; it cannot be "
                    "written as 'name1,name2<TAB>scores'"
                )
        lines.append(
            ",".join(map(str, row)) + "\t" + ",".join(str(np.float32(s)) for s in row_scores)
        )
    with _atomic_write(path, "w") as fh:
        fh.write("".join(line + "\n" for line in lines))


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
