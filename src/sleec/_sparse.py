"""CSR helpers: assembling a matrix from blocks of rows, selecting columns without d-sized
arrays."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

INT32_MAX = 2**31 - 1


def csr_from_parts(
    idx_parts: list[np.ndarray],
    val_parts: list[np.ndarray] | None,
    count_parts: list[np.ndarray],
    shape: tuple[int, int],
) -> sp.csr_matrix:
    """Assemble a CSR matrix from per-block indices/values/row counts (binary if no values)."""
    counts = np.concatenate(count_parts) if count_parts else np.zeros(0, np.int64)
    indptr = np.zeros(shape[0] + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int32)
    if val_parts is None:
        data = np.ones(len(indices), np.float32)
    else:
        data = np.concatenate(val_parts) if val_parts else np.zeros(0, np.float32)
    if indptr[-1] <= INT32_MAX:
        indptr = indptr.astype(np.int32)
    else:
        indices = indices.astype(np.int64)
    M = sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)
    M.has_sorted_indices = True
    return M


def select_columns(X: sp.csr_matrix, columns: np.ndarray) -> sp.csr_matrix:
    """The entries of ``X`` (q, d) in the sorted ``columns`` (m,), as a (q, m) CSR matrix whose
    column j is ``X``'s column ``columns[j]``; no array larger than the data is made.

    All columns: ``X`` itself. Otherwise a position table of size d when d is at most
    twice the entries and columns (a gather), else a binary search per entry.
    """
    d = X.shape[1]
    if columns.size == d:  # sorted and unique: every column, in order
        return X
    if d <= 2 * (X.nnz + columns.size):
        table = np.full(d, -1, dtype=np.int64)
        table[columns] = np.arange(columns.size)
        pos = table[X.indices]
        hit = pos >= 0
    else:
        pos = np.searchsorted(columns, X.indices)
        hit = pos < columns.size
        hit[hit] = columns[pos[hit]] == X.indices[hit]
    kept = np.zeros(X.nnz + 1, dtype=np.int64)
    np.cumsum(hit, out=kept[1:])
    indptr = kept[X.indptr]  # entries kept before each row
    return sp.csr_matrix(
        (X.data[hit], pos[hit].astype(np.int32), indptr), shape=(X.shape[0], columns.size)
    )


def positions(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The position of each of ``ids`` (any shape) in the sorted unique ``sorted_ids``, -1
    where it is absent (padding ids below 0 included), int32."""
    if sorted_ids.size == 0:
        return np.full(np.shape(ids), -1, dtype=np.int32)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return np.where((ids >= 0) & (sorted_ids[pos] == ids), pos, -1).astype(np.int32)
