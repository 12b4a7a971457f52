"""Step 3 of SLEEC: low-dimensional embeddings by Singular Value Projection (paper Alg. 2).

Fit a rank-``r`` positive semi-definite matrix to the label similarities *on the kNN pattern
Omega only* (far pairs are free, which is what makes the embedding local):

.. math:: \\min_{M \\succeq 0,\\ \\mathrm{rank}(M) \\le r} \\|P_\\Omega(M) - G\\|_F^2,
          \\qquad Z = U S^{1/2} \\ \\text{where}\\ M = U S U^T

SVP is projected gradient descent: ``M_hat = M + eta (G - P_Omega(M))`` (paper: eta = 1), then ``M``
becomes the projection of ``M_hat`` on the PSD rank-``r`` matrices (its top-``r`` eigenpairs,
eigenvalues clipped at 0). ``M_hat`` is sparse-plus-low-rank, so it is never formed: its
top eigenpairs come from a block subspace iteration on the operator
``Q -> U S (U^T Q) + R Q`` (``R = G - P_Omega(M)`` on Omega), warm-started from the previous
iteration's subspace with one block product per SVP iteration. The fused numba kernel
``residual_matmul`` evaluates ``R`` (an SDDMM on Omega) and ``R Q`` in one pass. The large
products run in float32 (memory-bound kernels, twice the speed); the small Rayleigh-Ritz
eigenproblem runs in float64.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from ._kernels import residual_matmul, residual_matmul_par, spmm, spmm_par

__all__ = ["SVPResult", "svp_embed"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SVPResult:
    """Embedding and convergence record of one SVP run.

    Z : (n, r) float64 embeddings; ``Z Z^T`` approximates ``G`` on Omega.
    objective : relative residual ``||P_Omega(Z Z^T) - G||_F / ||G||_F`` per iteration; its
        last entry is that of ``Z`` (an iterate that made the objective worse is dropped).
        The large products run in float32, so the objective floors near 1e-6.
    """

    Z: np.ndarray
    objective: np.ndarray


def svp_embed(
    G: sp.csr_matrix,
    n_components: int,
    *,
    max_iter: int,
    tol: float,
    step: float,
    seed: int,
    parallel: bool = False,
    oversample: int = 10,
    init_power: int = 3,
) -> SVPResult:
    """Embed the points of a symmetric similarity graph by SVP.

    Parameters
    ----------
    G : csr_matrix (n, n), symmetric, float32 or float64, sorted indices. Its stored entries
        define Omega.
    n_components : embedding dimension ``r`` (clipped to ``n``).
    max_iter : SVP iterations at most.
    tol : stop when the relative objective improves by less than ``tol`` in one iteration.
    oversample : extra subspace columns carried by the eigen-solver (accuracy of the top-r).
    init_power : block power steps on ``G`` for the start subspace (``M = 0`` so ``M_hat = G``).
    seed : seed of the random start subspace.
    parallel : use the row-parallel kernels (only when no other task runs concurrently).
    step : gradient step ``eta`` in ``M_hat = M + eta (G - P_Omega(M))`` (paper: 1). If a
        step longer than 1 makes the objective worse, the iterate is dropped and SVP goes on
        from the previous one with step 1.

    Returns
    -------
    SVPResult with ``Z`` of shape (n, min(n_components, n)).
    """
    n = G.shape[0]
    r = max(1, min(n_components, n))
    g = np.ascontiguousarray(G.data, dtype=np.float32)
    g_norm = float(np.linalg.norm(G.data))
    if n == 0 or g_norm == 0.0:
        return SVPResult(np.zeros((n, r)), np.zeros(0))
    width = min(n, r + oversample)
    if n <= 2 * width:
        return _svp_dense(G, r, max_iter, tol, step)

    kernel = residual_matmul_par if parallel else residual_matmul
    product = spmm_par if parallel else spmm
    indptr, indices = G.indptr, G.indices  # int32 (or int64 for huge graphs): no copies

    Q = _start_subspace(lambda Q, out: product(indptr, indices, g, Q, out), n, width, seed,
                        init_power)  # fmt: skip
    buf = np.empty((n, width), dtype=np.float32)

    U = np.zeros((n, r), dtype=np.float32)  # M = U diag(s) U^T
    s = np.zeros(r, dtype=np.float32)
    U_prev, s_prev = U, s
    resid = np.empty_like(g)
    objective = []
    retried = False
    for it in range(max_iter):
        Us = U * s
        if it == 0:  # M = 0: the residual is G itself, no sampled products to compute
            product(indptr, indices, g, Q, buf)
            resid[:] = g
        else:
            kernel(indptr, indices, g, Us, U, Q, buf, resid)  # buf = R Q, resid = G - P_Omega(M)
        objective.append(
            float(np.sqrt(np.einsum("i,i->", resid, resid, dtype=np.float64))) / g_norm
        )
        worse = it >= 1 and objective[-1] > objective[-2]
        if retried:  # the previous iterate's residual again, recomputed for its R Q
            objective.pop()
            retried = False
        elif worse and step > 1.0:  # a long step overshot: retry with the paper's step
            U, s = U_prev, s_prev
            objective.pop()
            step, retried = 1.0, True
            continue
        elif it >= 2 and objective[-2] - objective[-1] < tol * objective[-2]:
            if worse:  # a step at the rounding floor: keep the best iterate
                U, s = U_prev, s_prev
                objective.pop()
            break
        U_prev, s_prev = U, s
        U, s, Q = _project(step * buf + Us @ (U.T @ Q), Q, r)  # from M_hat Q
    logger.debug("SVP: n=%d r=%d iterations=%d objective=%.4f", n, r, len(objective), objective[-1])
    return SVPResult((U * np.sqrt(s)).astype(np.float64), np.asarray(objective))


def _start_subspace(product, n: int, width: int, seed: int, init_power: int) -> np.ndarray:
    """An orthonormal (n, width) float32 start: a random subspace after ``init_power``
    block power steps ``Q <- orth(G Q)`` (``product(Q, out)`` writes ``G Q``)."""
    rng = np.random.default_rng(seed)
    Q = _orth(rng.standard_normal((n, width), dtype=np.float32))
    buf = np.empty((n, width), dtype=np.float32)
    for _ in range(init_power):
        product(Q, buf)
        Q = _orth(buf)
    return Q


def _project(Y: np.ndarray, Q: np.ndarray, r: int):
    """The rank-r projection of ``M_hat`` from ``Y = M_hat Q`` (Rayleigh-Ritz on the
    subspace ``Q``): ``(U, s, Q_next)`` with the eigenvalues clipped at 0, and one power
    step on the Ritz basis as the next iteration's warm start."""
    T = (Q.T @ Y).astype(np.float64)
    theta, W = np.linalg.eigh((T + T.T) / 2)
    order = np.argsort(theta)[::-1]
    theta, W = theta[order], W[:, order].astype(np.float32)
    U = Q @ W[:, :r]
    s = np.clip(theta[:r], 0.0, None).astype(np.float32)
    return U, s, _orth(Y @ W)


def _svp_dense(G: sp.csr_matrix, r: int, max_iter: int, tol: float, step: float) -> SVPResult:
    """Exact SVP with dense eigendecompositions, for small clusters (n <= ~2 (r + oversample))."""
    Gd = G.toarray()
    mask = np.zeros(Gd.shape, dtype=bool)
    rows = np.repeat(np.arange(G.shape[0]), np.diff(G.indptr))
    mask[rows, G.indices] = True
    g_norm = float(np.linalg.norm(Gd[mask]))
    M = np.zeros_like(Gd)
    Z = np.zeros((G.shape[0], r))
    objective = []
    Z_prev = Z
    for it in range(max_iter):
        resid = np.where(mask, Gd - M, 0.0)
        objective.append(float(np.linalg.norm(resid)) / g_norm)
        worse = it >= 1 and objective[-1] > objective[-2]
        if worse and step > 1.0:  # as in svp_embed: retry with the paper's step
            Z = Z_prev
            objective.pop()
            M = Z @ Z.T
            resid = np.where(mask, Gd - M, 0.0)
            step = 1.0
        elif it >= 2 and objective[-2] - objective[-1] < tol * objective[-2]:
            if worse:
                Z = Z_prev
                objective.pop()
            break
        Z_prev = Z
        theta, U = np.linalg.eigh(M + step * resid)
        top = np.argsort(theta)[::-1][:r]
        s = np.clip(theta[top], 0.0, None)
        Z = U[:, top] * np.sqrt(s)
        M = Z @ Z.T
    return SVPResult(Z, np.asarray(objective))


def _orth(A: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the columns of ``A`` (n, m), n >> m.

    Cholesky-QR done twice on column-normalised ``A``: two block products and an m x m
    Cholesky in float64, much faster than Householder QR for tall thin blocks. The columns
    here are near-orthogonal Ritz directions, so the Gram matrix is well conditioned; if
    Cholesky fails anyway, Householder QR takes over.
    """
    norms = np.linalg.norm(A, axis=0)
    Q = A / np.where(norms > 0, norms, 1.0)
    try:
        for _ in range(2):
            gram = (Q.T @ Q).astype(np.float64)
            L = np.linalg.cholesky(gram)
            # Q L^-T, as one product with the small inverse (a triangular solve with n
            # right-hand sides took 4x longer)
            L_inv = sla.solve_triangular(L, np.eye(L.shape[0]), lower=True, check_finite=False)
            Q = Q @ L_inv.T.astype(A.dtype)
        return np.ascontiguousarray(Q)
    except np.linalg.LinAlgError:
        return np.linalg.qr(A)[0]
