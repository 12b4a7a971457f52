"""Assembling CSR matrices from blocks of parsed or generated rows."""

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
