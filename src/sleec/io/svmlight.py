"""SVMlight / LIBSVM multi-label files: ``l1,l2 f:v f:v`` lines without a header, comments
and query ids ignored."""

from __future__ import annotations

import os
import re

import numpy as np
import scipy.sparse as sp

from .. import _validation
from . import _xc_read as _r
from .xc import PathLike

__all__ = ["read_svmlight_multilabel"]

_SVMLIGHT_EXTRA = re.compile(rb"#[^\n]*|(?<=[ \t])qid:[^ \t\r\n]*")  # comments, query ids


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
