"""Step 4 of SLEEC: the sparse regressor from features to embeddings (paper Sec. 3, Alg. 3).

.. math:: \\min_V \\|Z - X V^T\\|_F^2 + \\lambda \\|V\\|_F^2 + \\mu \\|X V^T\\|_1

With ``mu = 0`` this is ridge regression, solved in closed form. With ``mu > 0`` it is solved
by ADMM on the split ``alpha = X V^T`` with scaled dual ``u`` and penalty ``rho``:

- V-step: ``((1 + rho) X^T X + lambda I) V^T = X^T (Z + rho (alpha + u))``
- alpha-step: ``alpha = soft_threshold(X V^T - u, mu / (2 rho))``
- dual step: ``u = u + alpha - X V^T``

The V-step matrix does not change between iterations, so it is Cholesky-factorised once, in
the primal ``d x d`` form or, when there are fewer points than features, in the dual
``n x n`` form (``V^T = X^T (((1 + rho) X X^T + lambda I)^{-1} R)``), like scikit-learn's
ridge solver choice. The authors' code reaches sparsity by pruning instead
(:func:`prune_weights`, :func:`prune_embeddings`).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

__all__ = ["fit_l1", "fit_l2", "prune_embeddings", "prune_weights"]

logger = logging.getLogger(__name__)


class _NormalEquations:
    """Solver for ``(c X^T X + lambda I) W = X^T R`` with one factorisation, reused."""

    def __init__(self, X: sp.csr_matrix, scale: float, l2_reg: float):
        n, d = X.shape
        self.X = X
        self.primal = d <= n
        rows = sp.csr_matrix(X.T) if self.primal else X  # the system matrix is rows @ rows.T
        try:
            A = _dense_gram(rows, scale, l2_reg)
            # A is symmetric: its transpose is an F-ordered view LAPACK can factor in place.
            self.factor = sla.cho_factor(A.T, lower=True, overwrite_a=True, check_finite=False)
            self.A = None
        except np.linalg.LinAlgError:
            warnings.warn(
                "ridge system is singular (l2_reg is 0?); falling back to least squares",
                RuntimeWarning,
                stacklevel=3,
            )
            self.factor, self.A = None, _dense_gram(rows, scale, l2_reg)

    def solve(self, R: np.ndarray) -> np.ndarray:
        """Return ``W`` (d, r) for a right-hand side given as ``R`` (n, r): ``X^T R`` is formed
        here in the primal case."""
        if self.primal:
            return self._solve(np.asarray(self.X.T @ R))
        return np.asarray(self.X.T @ self._solve(R))

    def _solve(self, b: np.ndarray) -> np.ndarray:
        if self.factor is not None:
            return sla.cho_solve(self.factor, b, check_finite=False)
        return np.linalg.lstsq(self.A, b, rcond=None)[0]


def _dense_gram(M: sp.csr_matrix, scale: float, shift: float) -> np.ndarray:
    """``scale * M M^T + shift * I`` as a dense float64 (m, m) array, built in row blocks so
    that no sparse intermediate larger than ~16M entries is held (``M M^T`` of tf-idf rows is
    nearly dense, and as a sparse matrix it would take 1.5x the dense memory)."""
    m = M.shape[0]
    A = np.empty((m, m))
    MT = sp.csr_matrix(M.T)
    step = max(1, 2**24 // max(m, 1))
    for a in range(0, m, step):
        b = min(m, a + step)
        A[a:b] = (M[a:b] @ MT).toarray()
    A *= scale
    A[np.diag_indices_from(A)] += shift
    return A


def fit_l2(X: sp.csr_matrix, Z: np.ndarray, l2_reg: float) -> np.ndarray:
    """Ridge regression ``min ||Z - X W||^2 + l2_reg ||W||^2``.

    Parameters
    ----------
    X : csr_matrix (n, d). Z : (n, r) targets. l2_reg : lambda >= 0.

    Returns
    -------
    W : (d, r) float64, i.e. ``V^T`` of the paper.
    """
    return _NormalEquations(X, 1.0, l2_reg).solve(np.asarray(Z, dtype=np.float64))


def fit_l1(
    X: sp.csr_matrix,
    Z: np.ndarray,
    l2_reg: float,
    l1_reg: float,
    *,
    rho: float,
    max_iter: int,
    tol: float = 1e-4,
) -> np.ndarray:
    """L2 + L1-on-predictions regression by ADMM (paper Algorithm 3).

    Parameters
    ----------
    X : csr_matrix (n, d). Z : (n, r) targets.
    l2_reg : lambda >= 0. l1_reg : mu >= 0, weight of ``||X W||_1``.
    rho : ADMM penalty > 0. max_iter : ADMM iterations at most.
    tol : stop when the primal residual ``||alpha - X W||`` and the change of ``X W`` are both
        below ``tol * ||Z||``.

    Returns
    -------
    W : (d, r) float64. With ``l1_reg = 0`` the iterates converge to :func:`fit_l2`'s solution.
    """
    Z = np.asarray(Z, dtype=np.float64)
    solver = _NormalEquations(X, 1.0 + rho, l2_reg)
    threshold = l1_reg / (2.0 * rho)
    alpha = np.zeros_like(Z)
    u = np.zeros_like(Z)
    P_old = np.zeros_like(Z)
    scale = max(float(np.linalg.norm(Z)), 1e-300)
    W = np.zeros((X.shape[1], Z.shape[1]))
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - reported after the loop
        W = solver.solve(Z + rho * (alpha + u))
        P = np.asarray(X @ W)
        v = P - u
        alpha = np.sign(v) * np.maximum(np.abs(v) - threshold, 0.0)
        u += alpha - P
        primal = float(np.linalg.norm(alpha - P))
        change = float(np.linalg.norm(P - P_old))
        P_old = P
        if primal < tol * scale and change < tol * scale:
            break
    logger.debug("ADMM: %d iterations", n_iter)
    return W


def prune_weights(W: np.ndarray, threshold: float) -> sp.csr_matrix:
    """Zero the ``threshold`` share of entries of ``W`` with the smallest magnitude.

    The authors' code keeps the largest ``1 - w_thresh`` share of the regressor's weights.
    Returns a CSR matrix of ``W``'s shape (entries tied with the cut are zeroed too).
    """
    W = np.asarray(W)
    if threshold <= 0.0 or W.size == 0:
        return sp.csr_matrix(W)
    mags = np.abs(W).ravel()
    cut_rank = int(np.floor(threshold * mags.size))
    if cut_rank <= 0:
        return sp.csr_matrix(W)
    cut = np.partition(mags, cut_rank - 1)[cut_rank - 1]
    return sp.csr_matrix(np.where(np.abs(W) > cut, W, 0.0))


def prune_embeddings(E: np.ndarray, threshold: float) -> np.ndarray:
    """In each column of ``E`` (n, r), zero the ``threshold`` share of smallest-magnitude entries.

    The authors' code applies this to the stored training embeddings ``X V^T``; entries tied
    with a column's cut are zeroed too.
    """
    E = np.array(E, copy=True)
    n = E.shape[0]
    cut_rank = int(np.floor(threshold * n))
    if cut_rank <= 0 or n == 0:
        return E
    mags = np.abs(E)
    cuts = np.partition(mags, cut_rank - 1, axis=0)[cut_rank - 1]
    E[mags <= cuts] = 0.0
    return E
