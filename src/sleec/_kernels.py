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


residual_matmul = njit(cache=True, nogil=True, fastmath=True)(_residual_matmul)
residual_matmul_par = njit(cache=True, nogil=True, parallel=True, fastmath=True)(_residual_matmul)


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


spmm = njit(cache=True, nogil=True, fastmath=True)(_spmm)
spmm_par = njit(cache=True, nogil=True, parallel=True, fastmath=True)(_spmm)


def _label_knn(yp, yi, tp, ti, deg, cosine, k, out_cols, out_vals, chunk):
    """Fused ``Y Y^T`` and per-row top-``k`` for a binary Y: the label kNN graph.

    ``(yp, yi)`` is the pattern of Y (n, L) in CSR, ``(tp, ti)`` that of ``Y^T`` (L, n),
    ``deg`` (n,) float64 the label counts (at least 1). For each row ``i`` the overlaps
    ``o_ij = <y_i, y_j>`` are counted in an integer scratch row over the points ``j`` sharing
    a label with ``i``. The similarity is ``o_ij`` (dot) or ``o_ij / sqrt(deg_i deg_j)``
    (cosine); within a row, cosine ranks by the key ``o_ij^2 / deg_j``, a correctly rounded
    quotient of integers, so mathematically equal similarities tie exactly and ties go to the
    smaller ``j``. The ``k`` best are written to ``out_cols[i]`` / ``out_vals[i]`` (n, k),
    best first, padded with -1 / 0.

    A row whose labels reach many points reads all ``n`` counts in one branch-free pass (a
    list of touched points mispredicts a branch per point: Delicious 1.1 s -> 0.2 s); a row
    reaching few keeps the list. Rows are processed in chunks with one scratch each, so the
    twin runs chunks in parallel.
    """
    n = yp.shape[0] - 1
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        acc = np.zeros(n, dtype=np.int64)
        cols = np.empty(n, dtype=np.int64)
        keys = np.empty(n, dtype=np.float64)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            reach = 0
            for p in range(yp[i], yp[i + 1]):
                reach += tp[yi[p] + 1] - tp[yi[p]]
            m = 0
            if 4 * reach >= n:
                for p in range(yp[i], yp[i + 1]):
                    lab = yi[p]
                    for q in range(tp[lab], tp[lab + 1]):
                        acc[ti[q]] += 1
                for j in range(n):  # compaction without branches: cols ascending
                    cols[m] = j
                    keys[m] = acc[j]
                    m += acc[j] != 0
                    acc[j] = 0
            else:
                for p in range(yp[i], yp[i + 1]):
                    lab = yi[p]
                    for q in range(tp[lab], tp[lab + 1]):
                        j = ti[q]
                        if acc[j] == 0:
                            cols[m] = j
                            m += 1
                        acc[j] += 1
                cols[:m].sort()
                for t in range(m):
                    keys[t] = acc[cols[t]]
                    acc[cols[t]] = 0
            if cosine:
                for t in range(m):
                    keys[t] = keys[t] * keys[t] / deg[cols[t]]
            _select_topk(cols[:m], keys[:m], k, out_cols[i], out_vals[i])
            if cosine:
                for t in range(k):
                    if out_cols[i, t] >= 0:
                        out_vals[i, t] = np.sqrt(out_vals[i, t] / deg[i])


@njit(cache=True, nogil=True)
def _select_topk(cols, keys, k, out_cols, out_vals):
    """Write the ``k`` largest ``keys`` (ties: smaller ``cols``; ``cols`` ascending) in
    decreasing order to ``out_cols`` / ``out_vals``, padded with -1 / 0. Selection by one
    partition and branch-free compaction; only the ``k`` winners are sorted."""
    m = cols.shape[0]
    out_cols[:] = -1
    out_vals[:] = 0.0
    if m > k:
        kth = np.partition(keys, m - k)[m - k]  # the k-th largest key
        sel_cols = np.empty(k, dtype=np.int64)
        sel_keys = np.empty(k, dtype=np.float64)
        s = 0
        for t in range(m):  # fewer than k keys exceed kth: s stays < k while writing
            sel_cols[s] = cols[t]
            sel_keys[s] = keys[t]
            s += keys[t] > kth
        for t in range(m):  # then the ties, smaller columns first
            if s == k:
                break
            if keys[t] == kth:
                sel_cols[s] = cols[t]
                sel_keys[s] = keys[t]
                s += 1
        cols, keys, m = sel_cols, sel_keys, k
    # A stable sort on the key keeps ascending columns among equal keys.
    order = np.argsort(-keys, kind="mergesort")
    for t in range(m):
        out_cols[t] = cols[order[t]]
        out_vals[t] = keys[order[t]]


label_knn = njit(cache=True, nogil=True)(_label_knn)
label_knn_par = njit(cache=True, nogil=True, parallel=True)(_label_knn)


def _row_smallest_k(D, k, out_idx, out_val):
    """The ``k`` smallest entries of each row of a dense (q, m) ``D``, ordered by (value,
    column): ``out_idx`` (q, k) int64 columns and ``out_val`` (q, k) their values.

    One pass per row with a size-``k`` max-heap keyed by (value, column): columns arrive in
    increasing order, so an entry equal to the heap's largest never displaces it, which gives
    ties to the smaller column. A final heap sort orders the ``k`` winners. ``k <= m``.
    """
    q, m = D.shape
    for i in prange(q):
        hv = out_val[i]
        hi = out_idx[i]
        for j in range(k):
            _sift_up(hv, hi, j, D[i, j], j)
        top = hv[0]  # the k-th smallest so far, kept in a register for the long scan
        for j in range(k, m):
            v = D[i, j]
            if v < top:
                _sift_down(hv, hi, 0, k, v, j)
                top = hv[0]
        _heap_sort(hv, hi, k)


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
        if right < size and (hv[right] > hv[child]
                             or (hv[right] == hv[child] and hi[right] > hi[child])):
            child = right
        if hv[child] < v or (hv[child] == v and hi[child] < j):
            break
        hv[c] = hv[child]
        hi[c] = hi[child]
        c = child
    hv[c] = v
    hi[c] = j



@njit(cache=True, nogil=True, inline="always")
def _heap_offer(hv, hi, size, k, v, j):
    """Offer (v, j) to the max-heap ``hv[:size]`` of the ``k`` smallest (value, index) pairs
    seen so far (indices in any order); returns the new size."""
    if size < k:
        _sift_up(hv, hi, size, v, j)
        return size + 1
    if v < hv[0] or (v == hv[0] and j < hi[0]):
        _sift_down(hv, hi, 0, k, v, j)
    return size


@njit(cache=True, nogil=True, inline="always")
def _heap_sort(hv, hi, size):
    """Order the max-heap ``hv[:size]`` ascending by (value, index), in place."""
    for end in range(size - 1, 0, -1):  # the largest goes to the end
        v, j = hv[end], hi[end]
        hv[end] = hv[0]
        hi[end] = hi[0]
        _sift_down(hv, hi, 0, end, v, j)

row_smallest_k = njit(cache=True, nogil=True)(_row_smallest_k)
row_smallest_k_par = njit(cache=True, nogil=True, parallel=True)(_row_smallest_k)



def _vote_label_topk(vp, vi, vd, yp, yi, yd, n_labels, k, out_ids, out_scores, chunk):
    """Top-``k`` labels of each row of ``V @ Y`` without forming the product.

    ``(vp, vi, vd)`` is the CSR (q, n) matrix of neighbour votes, ``(yp, yi, yd)`` the CSR
    (n, L) training labels, ``n_labels`` = L. Row ``i``'s label scores are accumulated in
    float32 in a dense scratch row, in the order SciPy's sparse product uses (so the sums are
    bit-identical); labels scoring exactly 0 are not stored there and not returned here
    either. The ``k`` best, by decreasing score and then increasing label id, go to
    ``out_ids`` (q, k) int32 and ``out_scores`` (q, k) float32, padded with -1 / -inf. Rows
    are processed in chunks with one scratch row each, so the twin runs chunks in parallel.
    """
    q = vp.shape[0] - 1
    n_chunks = (q + chunk - 1) // chunk
    for c in prange(n_chunks):
        acc = np.zeros(n_labels, dtype=np.float32)
        seen = np.zeros(n_labels, dtype=np.bool_)
        touched = np.empty(n_labels, dtype=np.int64)
        hv = np.empty(k, dtype=np.float32)  # max-heap of (-score, label): the worst on top
        hi = np.empty(k, dtype=np.int64)
        for i in range(c * chunk, min(q, (c + 1) * chunk)):
            m = 0
            for p in range(vp[i], vp[i + 1]):
                j = vi[p]
                w = vd[p]
                for s in range(yp[j], yp[j + 1]):
                    lab = yi[s]
                    if not seen[lab]:
                        seen[lab] = True
                        touched[m] = lab
                        m += 1
                    acc[lab] += w * yd[s]
            size = 0
            for t in range(m):
                lab = touched[t]
                v = -acc[lab]
                acc[lab] = 0.0
                seen[lab] = False
                if v != 0.0:
                    size = _heap_offer(hv, hi, size, k, v, lab)
            _heap_sort(hv, hi, size)
            for t in range(k):
                if t < size:
                    out_ids[i, t] = hi[t]
                    out_scores[i, t] = -hv[t]
                else:
                    out_ids[i, t] = -1
                    out_scores[i, t] = -np.inf


vote_label_topk = njit(cache=True, nogil=True)(_vote_label_topk)
vote_label_topk_par = njit(cache=True, nogil=True, parallel=True)(_vote_label_topk)


def _rerank_nearest(Zq, E, cand, k, out_idx, out_val):
    """Exact float64 squared distances ``|Zq_i - E_j|^2`` of each query's candidate rows
    ``cand`` (q, c), and the ``k`` nearest of them ordered by (distance, row): ``out_idx``
    (q, k) int64 rows of ``E``, ``out_val`` (q, k) float64 distances. The difference form
    has no cancellation, and candidates may come in any order (ties: smaller row first)."""
    q, c = cand.shape
    r = E.shape[1]
    for i in prange(q):
        hv = out_val[i]
        hi = out_idx[i]
        size = 0
        for t in range(c):
            j = cand[i, t]
            d = 0.0
            for f in range(r):
                diff = Zq[i, f] - E[j, f]
                d += diff * diff
            size = _heap_offer(hv, hi, size, k, d, j)
        _heap_sort(hv, hi, k)


rerank_nearest = njit(cache=True, nogil=True)(_rerank_nearest)
rerank_nearest_par = njit(cache=True, nogil=True, parallel=True)(_rerank_nearest)
