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

from ._jit import twins
from ._topk import heap_offer, heap_sort


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


residual_matmul, residual_matmul_par = twins(_residual_matmul, fastmath=True)


@njit(cache=True, nogil=True)
def row_norms(indptr, data):
    """(n,) float64 L2 norms of the rows of a CSR matrix, each summed in row order (as
    scikit-learn's ``normalize`` sums them)."""
    n = indptr.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * data[p]
        out[i] = np.sqrt(s)
    return out


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


spmm, spmm_par = twins(_spmm)  # no fastmath: both builds round alike


def _sparse_times_sparse(xp, xi, xd, wp, wi, wd, out):
    """``out = X @ W`` (q, r) float32, dense, for CSR ``X`` (q, m) and CSR ``W`` (m, r): each
    entry of a row of ``X`` adds its multiple of a row of ``W``, in ``X``'s entry order (as
    SciPy's products sum, so the result is theirs to the bit), row-parallel in the twin."""
    q = xp.shape[0] - 1
    for i in prange(q):
        for t in range(out.shape[1]):
            out[i, t] = 0.0
        for p in range(xp[i], xp[i + 1]):
            v = xd[p]
            j = xi[p]
            for s in range(wp[j], wp[j + 1]):
                out[i, wi[s]] += v * wd[s]


sparse_times_sparse, sparse_times_sparse_par = twins(_sparse_times_sparse)


@njit(cache=True, nogil=True, inline="always")
def _first_max(values):
    """Index of the largest of ``values`` (n >= 1), the smallest such index on ties."""
    best = 0
    for c in range(1, values.shape[0]):
        if values[c] > values[best]:
            best = c
    return best


def _nearest_center(indptr, indices, data, c_indptr, c_indices, c_data, n_centers, out):
    """``out[i] = argmax_c (S @ C)[i, c]`` for CSR ``S`` (q, m) and CSR ``C`` (m, n_centers):
    the centre of largest inner product, ties to the smaller index. One float64 accumulator
    of n_centers per row; the (q, n_centers) product is never stored."""
    n = indptr.shape[0] - 1
    for i in prange(n):
        acc = np.zeros(n_centers, dtype=np.float64)
        for p in range(indptr[i], indptr[i + 1]):
            v = np.float64(data[p])
            j = indices[p]
            for q in range(c_indptr[j], c_indptr[j + 1]):
                acc[c_indices[q]] += v * c_data[q]
        out[i] = _first_max(acc)


nearest_center, nearest_center_par = twins(_nearest_center)


def _nearest_center_dense(indptr, indices, data, C, out):
    """:func:`_nearest_center` with the centres as a dense (m, n_centers) array ``C``: the
    inner loop runs over contiguous memory (for centres that use most of their columns)."""
    n = indptr.shape[0] - 1
    n_centers = C.shape[1]
    for i in prange(n):
        acc = np.zeros(n_centers, dtype=np.float64)
        for p in range(indptr[i], indptr[i + 1]):
            v = np.float64(data[p])
            j = indices[p]
            for c in range(n_centers):
                acc[c] += v * C[j, c]
        out[i] = _first_max(acc)


nearest_center_dense, nearest_center_dense_par = twins(_nearest_center_dense)


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
    list of touched points would mispredict a branch per point); a row reaching few keeps
    the list. Rows are processed in chunks with one scratch each, so the
    twin runs chunks in parallel.
    """
    n = yp.shape[0] - 1
    n_chunks = (n + chunk - 1) // chunk
    for c in prange(n_chunks):
        acc = np.zeros(n, dtype=np.int64)
        cols = np.empty(n, dtype=np.int64)
        keys = np.empty(n, dtype=np.float64)
        hv = np.empty(k, dtype=np.float64)
        hi = np.empty(k, dtype=np.int64)
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
                for t in range(m):
                    keys[t] = acc[cols[t]]
                    acc[cols[t]] = 0
            size = 0
            for t in range(m):  # the k largest keys: offer -key to the heap
                key = keys[t] * keys[t] / deg[cols[t]] if cosine else keys[t]
                size = heap_offer(hv, hi, size, k, -key, cols[t])
            heap_sort(hv, hi, size)
            for t in range(k):
                if t < size:
                    out_cols[i, t] = hi[t]
                    out_vals[i, t] = np.sqrt(-hv[t] / deg[i]) if cosine else -hv[t]
                else:
                    out_cols[i, t] = -1
                    out_vals[i, t] = 0.0


label_knn, label_knn_par = twins(_label_knn)


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
                    size = heap_offer(hv, hi, size, k, v, lab)
            heap_sort(hv, hi, size)
            for t in range(k):
                if t < size:
                    out_ids[i, t] = hi[t]
                    out_scores[i, t] = -hv[t]
                else:
                    out_ids[i, t] = -1
                    out_scores[i, t] = -np.inf


vote_label_topk, vote_label_topk_par = twins(_vote_label_topk)


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
            size = heap_offer(hv, hi, size, k, d, j)
        heap_sort(hv, hi, k)


rerank_nearest, rerank_nearest_par = twins(_rerank_nearest)
