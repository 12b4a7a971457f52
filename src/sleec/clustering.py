"""Step 1 of SLEEC: partition the training points into clusters (paper Sec. 3, Algorithm 1).

Spherical k-means, as in the authors' code: rows and centres on the unit sphere, similarity
is the inner product (cosine), random training points as initial centres, a fixed small number
of Lloyd iterations.

.. math:: \\max_{c,\\ \\mu} \\sum_i \\langle x_i / \\|x_i\\|, \\mu_{c(i)} \\rangle,
          \\quad \\|\\mu_c\\| = 1
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

__all__ = ["assign_to_centers", "cluster_members", "partition", "unit_rows"]

_ASSIGN_BATCH = 65536


def partition(
    Xn: sp.csr_matrix, n_clusters: int, *, seed: int, n_iter: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster the rows of ``Xn`` by spherical k-means.

    Parameters
    ----------
    Xn : csr_matrix (n, d), float32, rows of unit norm (:func:`unit_rows`); all-zero rows
        join the cluster whose centre ties first (cluster 0 at worst).
    n_clusters : requested number of clusters; at most ``n``. Empty clusters are dropped, so
        fewer may be returned.
    n_iter : Lloyd iterations (the authors' code uses 7).
    seed : seed of the random choice of initial centres.

    Returns
    -------
    assign : (n,) int32, cluster of each row, in ``range(n_clusters_out)``; always equal to
        ``assign_to_centers(Xn, centers)``, the routing used at prediction.
    centers : (n_clusters_out, d) float32, unit-norm centres (all-zero if a cluster has only
        all-zero rows).
    """
    n = Xn.shape[0]
    n_clusters = max(1, min(n_clusters, n))
    if n_clusters == 1:
        return np.zeros(n, dtype=np.int32), _centroids(Xn, np.zeros(n, dtype=np.int32), 1)
    rng = np.random.default_rng(seed)
    centers = Xn[rng.choice(n, size=n_clusters, replace=False)].toarray()
    assign = assign_to_centers(Xn, centers)
    for _ in range(n_iter):
        centers = _centroids(Xn, assign, n_clusters)
        new_assign = assign_to_centers(Xn, centers)
        converged = np.array_equal(new_assign, assign)
        assign = new_assign
        if converged:
            break
    # The returned assignment is the routing by the returned centres (what prediction uses),
    # even when n_iter ends before convergence; clusters left empty are dropped.
    used, assign = np.unique(assign, return_inverse=True)
    return assign.astype(np.int32), np.ascontiguousarray(centers[used])


def unit_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm, float32 CSR (all-zero rows stay zero).

    The norms are computed in float64: squaring float32 values near 1e20 would overflow and
    silently zero the row.
    """
    return normalize(sp.csr_matrix(X, dtype=np.float64)).astype(np.float32)


def assign_to_centers(
    X: sp.csr_matrix, centers: np.ndarray, batch_size: int = _ASSIGN_BATCH
) -> np.ndarray:
    """Index of the most similar centre (largest inner product) for each row of ``X``.

    ``X`` (n, d) should be row-normalised; ``centers`` is (C, d). Ties go to the smaller index.
    Works in row batches, so memory is ``batch_size * C`` floats.
    """
    n = X.shape[0]
    out = np.empty(n, dtype=np.int32)
    centers_t = np.ascontiguousarray(centers.T, dtype=np.float32)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        sims = np.asarray(X[start:stop] @ centers_t)
        out[start:stop] = np.argmax(sims, axis=1)
    return out


def cluster_members(assign: np.ndarray, n_clusters: int) -> list[np.ndarray]:
    """Row indices (ascending, int32) of each cluster, in one stable sort (not C passes)."""
    order = np.argsort(assign, kind="stable").astype(np.int32)
    bounds = np.searchsorted(assign[order], np.arange(n_clusters + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(n_clusters)]


def _centroids(Xn: sp.csr_matrix, assign: np.ndarray, n_clusters: int) -> np.ndarray:
    """Unit-norm mean direction of each cluster, (n_clusters, d) float32."""
    n = Xn.shape[0]
    member = sp.csr_matrix(
        (np.ones(n, dtype=np.float32), (assign, np.arange(n))), shape=(n_clusters, n)
    )
    sums = np.asarray((member @ Xn).todense(), dtype=np.float32)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    np.divide(sums, norms, out=sums, where=norms > 0)
    return sums
