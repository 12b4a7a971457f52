"""Step 1 of SLEEC: partition the training points into clusters (paper Sec. 3, Algorithm 1).

Spherical k-means, as in the authors' code: rows and centres on the unit sphere, similarity
is the inner product (cosine), random training points as initial centres, a fixed small number
of Lloyd iterations.

.. math:: \\max_{c,\\ \\mu} \\sum_i \\langle x_i / \\|x_i\\|, \\mu_{c(i)} \\rangle,
          \\quad \\|\\mu_c\\| = 1

k-means clusters can be very uneven, and a cluster's fit costs more than linearly in its size
(the label graph scans every pair of points that share a label), so one large cluster makes
a straggler task. Clusters above ``max_size`` points are therefore split by spherical 2-means
until none is, and the points are then routed once more to their nearest centre.

Centres are sparse (CSR) rows: a centre holds only the features of its points, and every
product runs over the columns in use, so memory follows the data's non-zeros, never the
declared number of features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._kernels import (
    nearest_center,
    nearest_center_dense,
    nearest_center_dense_par,
    nearest_center_par,
    row_norms,
)
from ._sparse import select_columns as _select_columns

__all__ = ["assign_to_centers", "cluster_members", "partition", "unit_rows"]

_ASSIGN_BATCH = 16384  # rows per block in assign_to_centers
_PARALLEL_PRODUCTS = 2**20  # multiply-adds per block below which one thread is faster
_SPLIT_ROUNDS = 8  # split-and-reassign rounds at most (each halves the oversized clusters)


def partition(
    Xn: sp.csr_matrix, n_clusters: int, *, seed: int, max_size: int | None = None, n_iter: int = 7
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Cluster the rows of ``Xn`` by spherical k-means, splitting clusters above ``max_size``.

    Parameters
    ----------
    Xn : csr_matrix (n, d), float32, rows of unit norm (:func:`unit_rows`); all-zero rows
        join the cluster whose centre ties first (cluster 0 at worst).
    n_clusters : requested number of k-means clusters; at most ``n``. Empty clusters are
        dropped; splitting may add some.
    seed : seed of the random choices of initial centres.
    max_size : clusters with more points are split in two by spherical 2-means (with
        ``n_iter`` iterations) until none is left or ``_SPLIT_ROUNDS`` rounds have run;
        default 1.5x the mean size ``n / n_clusters`` (no straggler task).
    n_iter : Lloyd iterations (the authors' code uses 7).

    Returns
    -------
    assign : (n,) int32, cluster of each row, in ``range(n_clusters_out)``; always equal to
        ``assign_to_centers(Xn, centers)``, the routing used at prediction.
    centers : csr_matrix (n_clusters_out, d) float32, unit-norm centres (an all-zero row if a
        cluster has only all-zero rows).
    """
    n, d = Xn.shape
    if max_size is None:
        max_size = 3 * -(-n // max(1, min(n_clusters, n))) // 2
    used = np.unique(Xn.indices)  # k-means runs on the columns in use: nothing of size d
    Xn = _select_columns(Xn, used)
    rng = np.random.default_rng(seed)
    assign, centers = _kmeans(Xn, max(1, min(n_clusters, n)), rng, n_iter)
    for _ in range(_SPLIT_ROUNDS):
        sizes = np.bincount(assign, minlength=centers.shape[0])
        big = np.flatnonzero(sizes > max_size)
        if big.size == 0:
            break
        parts = [centers[np.setdiff1d(np.arange(centers.shape[0]), big)]]
        for c in big:
            members = np.flatnonzero(assign == c)
            parts.append(_kmeans(Xn[members], 2, rng, n_iter)[1])
        centers = sp.vstack(parts, format="csr")
        assign = assign_to_centers(Xn, centers)
    # The returned assignment is the routing by the returned centres (what prediction uses);
    # clusters left empty are dropped.
    kept, assign = np.unique(assign, return_inverse=True)
    centers = centers[kept]
    centers = sp.csr_matrix(
        (centers.data, used[centers.indices].astype(np.int32), centers.indptr),
        shape=(centers.shape[0], d),
    )
    return assign.astype(np.int32), centers


def _kmeans(
    Xn: sp.csr_matrix, n_clusters: int, rng: np.random.Generator, n_iter: int
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Spherical k-means from ``n_clusters`` random rows; (assign (n,), centres CSR)."""
    n = Xn.shape[0]
    if n_clusters <= 1 or n <= 1:
        assign = np.zeros(n, dtype=np.int32)
        return assign, _centroids(Xn, assign, 1)
    centers = Xn[rng.choice(n, size=n_clusters, replace=False)]
    assign = assign_to_centers(Xn, centers)
    for _ in range(n_iter):
        centers = _centroids(Xn, assign, n_clusters)
        new_assign = assign_to_centers(Xn, centers)
        converged = np.array_equal(new_assign, assign)
        assign = new_assign
        if converged:
            break
    return assign, centers


def unit_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm, float32 CSR (all-zero rows stay zero).

    The norms are computed in float64: squaring float32 values near 1e20 would overflow and
    silently zero the row.
    """
    X = sp.csr_matrix(X)
    data = X.data.astype(np.float64)
    norms = row_norms(X.indptr, data)  # summed in row order, as scikit-learn's normalize
    scale = np.repeat(np.where(norms > 0, norms, 1.0), np.diff(X.indptr))
    return sp.csr_matrix(
        ((data / scale).astype(np.float32), X.indices, X.indptr), shape=X.shape, copy=False
    )


@dataclass(frozen=True)
class Centers:
    """Cluster centres prepared for routing: the columns they use, their transpose over
    those columns (``sparse``, CSR), dense when they fill at least a quarter of it."""

    n_centers: int
    used: np.ndarray
    sparse: sp.csr_matrix
    dense: np.ndarray | None


def prepare_centers(centers: sp.csr_matrix) -> Centers:
    """The :class:`Centers` of ``centers`` (C, d) CSR (the model keeps them per learner)."""
    used = np.unique(centers.indices)  # products over the centres' columns only
    centers_t = sp.csr_matrix(_select_columns(centers, used).T, dtype=np.float32)
    dense = 4 * centers_t.nnz >= used.size * centers.shape[0]
    return Centers(centers.shape[0], used, centers_t, centers_t.toarray() if dense else None)


def assign_to_centers(
    X: sp.csr_matrix,
    centers: sp.csr_matrix | Centers,
    batch_size: int = _ASSIGN_BATCH,
) -> np.ndarray:
    """Index of the most similar centre (largest inner product) for each row of ``X``.

    ``X`` (n, d) should be row-normalised; ``centers`` is (C, d), sparse. Ties go to the
    smaller index. Work is the products of each row's entries with the centres that use
    the same columns (a numba kernel, row-parallel for large blocks); memory is one
    transposed copy of the centres over their columns (dense when they fill at least a
    quarter of it: at most twice the sparse copy), no (n, C) similarity matrix.
    """
    prepared = centers if isinstance(centers, Centers) else prepare_centers(centers)
    n, n_centers = X.shape[0], prepared.n_centers
    out = np.empty(n, dtype=np.int32)
    used, centers_t, centers_dense = prepared.used, prepared.sparse, prepared.dense
    dense = centers_dense is not None
    per_column = np.diff(centers_t.indptr)  # centres using each column: the work
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        block = _select_columns(X[start:stop], used)
        rows = (block.indptr, block.indices, block.data)
        if dense:
            parallel = block.nnz * n_centers >= _PARALLEL_PRODUCTS
            kernel = nearest_center_dense_par if parallel else nearest_center_dense
            kernel(*rows, centers_dense, out[start:stop])
        else:
            parallel = int(per_column[block.indices].sum()) >= _PARALLEL_PRODUCTS
            kernel = nearest_center_par if parallel else nearest_center
            t = centers_t
            kernel(*rows, t.indptr, t.indices, t.data, max(n_centers, 1), out[start:stop])
    return out


def cluster_members(assign: np.ndarray, n_clusters: int) -> list[np.ndarray]:
    """Row indices (ascending, int32) of each cluster, in one stable sort (not C passes)."""
    order = np.argsort(assign, kind="stable").astype(np.int32)
    bounds = np.searchsorted(assign[order], np.arange(n_clusters + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(n_clusters)]


def _centroids(Xn: sp.csr_matrix, assign: np.ndarray, n_clusters: int) -> sp.csr_matrix:
    """Unit-norm mean direction of each cluster, (n_clusters, d) float32 CSR."""
    n = Xn.shape[0]
    member = sp.csr_matrix(
        (np.ones(n, dtype=np.float32), (assign, np.arange(n))), shape=(n_clusters, n)
    )
    return unit_rows(member @ Xn)
