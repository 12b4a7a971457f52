"""Numba kernels for the irregular sparse loops of SLEEC (nothing else lives here).

Every kernel takes raw CSR arrays (``indptr``, ``indices``, ``data``) and dense C-contiguous
arrays, holds no Python objects, and is compiled ``nogil`` so that joblib threads can run
several at once. Kernels with a ``_par`` twin parallelise their one row loop with ``prange``;
the estimator uses the parallel twin only when a single task runs at a time (one level of
parallelism). Each row writes only its own output, so both twins give identical results.
The tests hold a NumPy reference for each kernel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def csr_row_topk(indptr, indices, data, k):
    """Keep the ``k`` largest entries of each CSR row (ties: smaller column first).

    Parameters
    ----------
    indptr, indices, data : CSR arrays of an (n, m) matrix; ``indices`` sorted within rows.
    k : int, entries to keep per row.

    Returns
    -------
    out_indptr (n + 1,) int64, out_indices (nnz',) int32, out_data (nnz',) like ``data``;
    rows keep ``min(k, nnz_row)`` entries ordered by decreasing value.
    """
    n = indptr.shape[0] - 1
    out_indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        out_indptr[i + 1] = out_indptr[i] + min(k, indptr[i + 1] - indptr[i])
    out_indices = np.empty(out_indptr[n], dtype=np.int32)
    out_data = np.empty(out_indptr[n], dtype=data.dtype)
    for i in range(n):
        start, stop = indptr[i], indptr[i + 1]
        keep = out_indptr[i + 1] - out_indptr[i]
        if keep == 0:
            continue
        # A stable sort of -value keeps ascending column order among equal values.
        order = np.argsort(-data[start:stop], kind="mergesort")
        o = out_indptr[i]
        for t in range(keep):
            p = start + order[t]
            out_indices[o + t] = indices[p]
            out_data[o + t] = data[p]
    return out_indptr, out_indices, out_data


def _residual_matmul(indptr, indices, g, A, B, Q, out, resid):
    """Fused SVP kernel body: ``resid = g - rowdot(A_i, B_j)`` on the pattern; ``out = R @ Q``.

    ``R`` is the sparse matrix with the pattern ``(indptr, indices)`` and values ``resid``.
    """
    n = indptr.shape[0] - 1
    r = A.shape[1]
    m = Q.shape[1]
    for i in prange(n):
        for t in range(m):
            out[i, t] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            dot = 0.0
            for c in range(r):
                dot += A[i, c] * B[j, c]
            rv = g[p] - dot
            resid[p] = rv
            for t in range(m):
                out[i, t] += rv * Q[j, t]


residual_matmul = njit(cache=True, nogil=True)(_residual_matmul)
residual_matmul_par = njit(cache=True, nogil=True, parallel=True)(_residual_matmul)


def _spmm(indptr, indices, data, Q, out):
    """``out = S @ Q`` for a CSR matrix ``S`` and a dense ``Q`` (row-parallel in the twin)."""
    n = indptr.shape[0] - 1
    m = Q.shape[1]
    for i in prange(n):
        for t in range(m):
            out[i, t] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            j = indices[p]
            for t in range(m):
                out[i, t] += v * Q[j, t]


spmm = njit(cache=True, nogil=True)(_spmm)
spmm_par = njit(cache=True, nogil=True, parallel=True)(_spmm)
