"""Top-k selection with one tie rule, for prediction, the label graph and the metrics.

Every selection here keeps the ``k`` best (value, index) pairs of a row, where "best" is the
largest value (or the smallest, for distances) and equal values go to the smaller index. The
numba primitives are a bounded max-heap of the ``k`` smallest ``(value, index)`` pairs seen so
far (:func:`heap_offer`) and its in-place sort (:func:`heap_sort`); a search for the largest
values offers ``-value``. The kernels of :mod:`sleec._kernels` use the same two primitives,
so the rule cannot drift between them.

Python wrappers: :func:`top_k_from_scores` (sparse score rows -> ranked ids and scores) and
:func:`top_k_dense` (dense score rows -> ranked ids).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ._jit import twins

__all__ = [
    "csr_row_topk",
    "dense_row_topk",
    "heap_offer",
    "heap_sort",
    "row_smallest_k",
    "row_smallest_k_par",
    "top_k_dense",
    "top_k_from_scores",
]


@njit(cache=True, nogil=True, inline="always")
def _sift_up(hv, hi, c, v, j):
    """Place (v, j) at the free slot ``c`` of the max-heap ``hv[:c]`` and sift it up."""
    while c > 0:
        p = (c - 1) // 2
        if hv[p] > v or (hv[p] == v and hi[p] > j):
            break
        hv[c] = hv[p]
        hi[c] = hi[p]
        c = p
    hv[c] = v
    hi[c] = j


@njit(cache=True, nogil=True, inline="always")
def _sift_down(hv, hi, c, size, v, j):
    """Place (v, j) at slot ``c`` of the max-heap ``hv[:size]`` and sift it down."""
    while True:
        child = 2 * c + 1
        if child >= size:
            break
        right = child + 1
        if right < size and (
            hv[right] > hv[child] or (hv[right] == hv[child] and hi[right] > hi[child])
        ):
            child = right
        if hv[child] < v or (hv[child] == v and hi[child] < j):
            break
        hv[c] = hv[child]
        hi[c] = hi[child]
        c = child
    hv[c] = v
    hi[c] = j


@njit(cache=True, nogil=True, inline="always")
def heap_offer(hv, hi, size, k, v, j):
    """Offer (v, j) to the max-heap ``hv[:size]`` / ``hi[:size]`` of the ``k`` smallest
    (value, index) pairs seen so far (indices may come in any order); returns the new size."""
    if size < k:
        _sift_up(hv, hi, size, v, j)
        return size + 1
    if k > 0 and (v < hv[0] or (v == hv[0] and j < hi[0])):
        _sift_down(hv, hi, 0, k, v, j)
    return size


@njit(cache=True, nogil=True, inline="always")
def heap_sort(hv, hi, size):
    """Order the max-heap ``hv[:size]`` ascending by (value, index), in place."""
    for end in range(size - 1, 0, -1):  # the largest goes to the end
        v, j = hv[end], hi[end]
        hv[end] = hv[0]
        hi[end] = hi[0]
        _sift_down(hv, hi, 0, end, v, j)


@njit(cache=True, nogil=True)
def csr_row_topk(indptr, indices, data, k):
    """Keep the ``k`` largest stored entries of each CSR row (ties: smaller column first).

    Parameters
    ----------
    indptr, indices, data : CSR arrays of an (n, m) matrix (indices in any order).
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
    hv = np.empty(max(k, 1), dtype=data.dtype)
    hi = np.empty(max(k, 1), dtype=np.int64)
    for i in range(n):
        size = 0
        for p in range(indptr[i], indptr[i + 1]):
            size = heap_offer(hv, hi, size, k, -data[p], indices[p])
        heap_sort(hv, hi, size)
        o = out_indptr[i]
        for t in range(size):
            out_indices[o + t] = hi[t]
            out_data[o + t] = -hv[t]
    return out_indptr, out_indices, out_data


@njit(cache=True, nogil=True)
def dense_row_topk(S, k, out_idx):
    """Columns of the ``k`` largest entries of each row of a dense (q, m) ``S`` (ties: smaller
    column), best first, into ``out_idx`` (q, k) int64; ``-inf`` entries are skipped and short
    rows padded with -1."""
    q, m = S.shape
    hv = np.empty(max(k, 1), dtype=np.float64)
    hi = np.empty(max(k, 1), dtype=np.int64)
    for i in range(q):
        size = 0
        for j in range(m):
            v = S[i, j]
            if v != -np.inf:
                size = heap_offer(hv, hi, size, k, -v, j)
        heap_sort(hv, hi, size)
        for t in range(k):
            out_idx[i, t] = hi[t] if t < size else -1


def _row_smallest_k(D, k, out_idx, out_val):
    """The ``k`` smallest entries of each row of a dense (q, m) ``D``, ordered by (value,
    column): ``out_idx`` (q, k) int64 columns and ``out_val`` (q, k) their values. ``k <= m``.

    Columns arrive in increasing order, so an entry equal to the heap's largest never
    displaces it; the k-th smallest so far is kept in a register for the long scan.
    """
    q, m = D.shape
    for i in prange(q):
        hv = out_val[i]
        hi = out_idx[i]
        for j in range(k):
            _sift_up(hv, hi, j, D[i, j], j)
        top = hv[0]
        for j in range(k, m):
            v = D[i, j]
            if v < top:
                _sift_down(hv, hi, 0, k, v, j)
                top = hv[0]
        heap_sort(hv, hi, k)


row_smallest_k, row_smallest_k_par = twins(_row_smallest_k)


def top_k_from_scores(S: sp.spmatrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` labels of each row of a sparse score matrix (stored entries are candidates).

    Returns ids (n, k) int32 sorted by decreasing score (ties: smaller id first), padded with
    ``-1``, and scores (n, k) float32 padded with ``-inf``.
    """
    S = sp.csr_matrix(S)
    S.sum_duplicates()
    indptr, indices, data = csr_row_topk(S.indptr, S.indices, S.data, k)
    n = S.shape[0]
    ids = np.full((n, k), -1, dtype=np.int32)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    counts = np.diff(indptr)
    rows = np.repeat(np.arange(n), counts)
    cols = np.arange(indices.size) - np.repeat(indptr[:-1], counts)
    ids[rows, cols] = indices
    scores[rows, cols] = data
    return ids, scores


def top_k_dense(S: np.ndarray, k: int) -> np.ndarray:
    """Top ``k`` column ids (q, k) int64 of each row of a dense float score array (ties:
    smaller column; ``-inf`` = no prediction; padded with -1). ``S`` must hold no NaN."""
    out = np.empty((S.shape[0], k), dtype=np.int64)
    dense_row_topk(np.ascontiguousarray(S, dtype=np.float64), k, out)
    return out
