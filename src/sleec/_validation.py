"""Input checks for the public boundary, with one message style (scikit-learn's wording).

Private code trusts what passes through here. Every message names the parameter or argument
and says what was expected, e.g. "The 'k' parameter must be an int in the range [1, inf).
Got 0 instead."
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp


def check_int(
    value: Any, name: str, *, low: int | None = None, high: int | None = None, owner: str = ""
) -> int:
    """Return ``value`` as an int in ``[low, high]``; raise ValueError/TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The '{name}' parameter{_of(owner)} must be an int{_range(low, high, '[', ']')}. "
            f"Got {value!r} ({type(value).__name__}) instead."
        )
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(
            f"The '{name}' parameter{_of(owner)} must be an int{_range(low, high, '[', ']')}. "
            f"Got {value!r} instead."
        )
    return value


def check_float(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    owner: str = "",
) -> float:
    """Return ``value`` as a finite float in the given interval, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"The '{name}' parameter{_of(owner)} must be a float"
            f"{_range(low, high, '(' if low_open else '[', ')' if high_open else ']')}. "
            f"Got {value!r} ({type(value).__name__}) instead."
        )
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        raise ValueError(
            f"The '{name}' parameter{_of(owner)} must be a float"
            f"{_range(low, high, '(' if low_open else '[', ')' if high_open else ']')}. "
            f"Got {value!r} instead."
        )
    return value


def check_k(k: Any) -> int:
    """Validate the number of predictions per point."""
    return check_int(k, "k", low=1)


def check_matrix(A: Any, name: str, *, dtype=np.float32) -> sp.csr_matrix:
    """Return ``A`` as a CSR matrix of ``dtype`` with finite values, or raise naming ``name``.

    Accepts SciPy sparse matrices/arrays and 2-D array-likes (dense input is converted).
    """
    if sp.issparse(A):
        M = sp.csr_matrix(A)
    else:
        try:
            arr = np.asarray(A)
            if arr.dtype.kind not in "biuf":
                arr = arr.astype(dtype)  # e.g. object arrays of numbers; text fails here
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must be a 2-D numeric array or a SciPy sparse matrix; "
                f"got {type(A).__name__} ({exc})."
            ) from None
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_columns); got shape {arr.shape}. Reshape your "
                "data, e.g. with X.reshape(1, -1) for a single point."
            )
        M = sp.csr_matrix(arr)
    if M.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got a sparse matrix of {M.dtype}.")
    _check_values(M, name, dtype)
    M = sp.csr_matrix(M, dtype=dtype)
    if not M.has_canonical_format:
        M = M.copy()  # never modify the caller's arrays
        M.sum_duplicates()
    return M


def _check_values(M: sp.csr_matrix, name: str, dtype: Any) -> None:
    """NaN, infinity and (before a narrowing cast) values beyond ``dtype``'s range, by row."""
    if not M.nnz:
        return
    if M.dtype.kind == "f":
        finite = np.isfinite(M.data)
        if not finite.all():
            raise ValueError(
                f"{name} contains NaN or infinity (first in row {_row_of(M, ~finite)})."
            )
    limit = np.finfo(dtype).max
    if M.dtype.kind == "f" and M.dtype.itemsize <= np.dtype(dtype).itemsize:
        return  # cannot exceed the target range
    beyond = np.abs(M.data.astype(np.float64)) > limit
    if beyond.any():
        value = M.data[np.flatnonzero(beyond)[0]]
        raise ValueError(
            f"{name} contains {value:g}, beyond the {np.dtype(dtype).name} range (+-{limit:.4g}; "
            f"first in row {_row_of(M, beyond)}); sleec stores values as {np.dtype(dtype).name}."
        )


def _row_of(M: sp.csr_matrix, mask: np.ndarray) -> int:
    return int(np.searchsorted(M.indptr, np.flatnonzero(mask)[0], side="right") - 1)


def check_features(X: Any, n_features: int, name: str = "X") -> sp.csr_matrix:
    """:func:`check_matrix`, and ``X`` must have the ``n_features`` columns of a fitted model."""
    X = check_matrix(X, name)
    if X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but SLEEC is expecting "
            f"{n_features} features as input."
        )
    return X


def check_labels(Y: Any, name: str = "Y") -> sp.csr_matrix:
    """Return a label matrix as binary float32 CSR; negative or non-finite entries are errors."""
    M = check_matrix(Y, name)
    if M.nnz and M.data.min() < 0:
        bad_row = int(np.searchsorted(M.indptr, np.flatnonzero(M.data < 0)[0], side="right") - 1)
        raise ValueError(
            f"{name} must be a label matrix with non-negative entries; "
            f"found a negative entry in row {bad_row}."
        )
    if M.nnz and not np.all(M.data == 1.0):
        M = M.copy()  # never modify the caller's arrays
        M.eliminate_zeros()
        M.data[:] = 1.0
    return M


def check_consistent_rows(
    X: sp.spmatrix, Y: sp.spmatrix, xname: str = "X", yname: str = "Y"
) -> None:
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{xname} and {yname} have inconsistent numbers of rows: {X.shape[0]} != {Y.shape[0]}."
        )


def _of(owner: str) -> str:
    return f" of {owner}" if owner else ""


def _range(low, high, lb: str, rb: str) -> str:
    if low is None and high is None:
        return ""
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    lb = lb if low is not None else "("
    rb = rb if high is not None else ")"
    return f" in the range {lb}{lo}, {hi}{rb}"
