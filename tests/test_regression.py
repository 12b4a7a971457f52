"""Tests for sleec.regression: ridge vs the normal equations, ADMM vs closed forms, pruning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from sleec.regression import (
    fit_l1,
    fit_l2,
    prune_embeddings,
    prune_weights,
    solve_normal_equations,
)


def problem(n: int, d: int, r: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.3, random_state=seed + 1, format="csr", dtype=np.float64)
    Z = rng.standard_normal((n, r))
    return X, Z


def objective(X, Z, W, l2_reg, l1_reg):
    P = X @ W
    return np.linalg.norm(Z - P) ** 2 + l2_reg * np.linalg.norm(W) ** 2 + l1_reg * np.abs(P).sum()


def soft(z, t):
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


# --------------------------------------------------------------------------------- fit_l2
EXACT = {"tol": 1e-13, "max_iter": 2000}  # CG run to convergence


@pytest.mark.parametrize(
    ("n", "d"), [(40, 10), (25, 25), (10, 40)], ids=["primal", "square", "dual"]
)
@pytest.mark.parametrize("l2_reg", [0.1, 2.5])
def test_fit_l2_solves_normal_equations(n, d, l2_reg):
    X, Z = problem(n, d)
    W = fit_l2(X, Z, l2_reg, **EXACT)
    Xd = X.toarray()
    ref = np.linalg.solve(Xd.T @ Xd + l2_reg * np.eye(d), Xd.T @ Z)
    assert W.shape == (d, 3) and W.dtype == np.float64
    np.testing.assert_allclose(W, ref, rtol=1e-8, atol=1e-10)


def test_fit_l2_accepts_float32_and_one_column():
    X, Z = problem(30, 8, r=1)
    W = fit_l2(X.astype(np.float32), Z.astype(np.float32), 1.0, **EXACT)
    Xd = X.toarray().astype(np.float32).astype(np.float64)
    ref = np.linalg.solve(Xd.T @ Xd + np.eye(8), Xd.T @ Z.astype(np.float32))
    np.testing.assert_allclose(W, ref, rtol=1e-5, atol=1e-6)


def test_fit_l2_singular_system_gives_the_least_squares_fit():
    # Two identical columns and no regularisation: X^T X is singular. CG from 0 stays in the
    # row space of X and converges to a least-squares solution.
    rng = np.random.default_rng(3)
    base = rng.standard_normal((20, 3))
    X = sp.csr_matrix(np.hstack([base, base[:, :1]]))
    Z = rng.standard_normal((20, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero on the way
        W = fit_l2(X, Z, 0.0, **EXACT)
    # Fitted values are unique: the orthogonal projection of Z on the column space of X.
    Xd = X.toarray()
    np.testing.assert_allclose(Xd @ W, Xd @ np.linalg.pinv(Xd) @ Z, atol=1e-8)
    # The solution of least norm: the duplicated column's weight is split evenly.
    np.testing.assert_allclose(W[0], W[3], atol=1e-8)


@pytest.mark.parametrize("tol", [1e-1, 1e-3, 1e-6])  # float32 products above FLOAT32_TOL
@pytest.mark.parametrize(("n", "d"), [(60, 30), (30, 60)], ids=["primal", "dual"])
def test_fit_l2_stops_at_the_relative_residual(tol, n, d):
    # Each column's residual of the normal equations ends below tol times its right-hand side.
    X, Z = problem(n, d, r=4, seed=9)
    W = fit_l2(X, Z, 0.5, tol=tol, max_iter=500)
    Xd = X.toarray()
    rhs = Xd.T @ Z
    resid = rhs - (Xd.T @ Xd + 0.5 * np.eye(d)) @ W
    assert np.all(np.linalg.norm(resid, axis=0) <= tol * np.linalg.norm(rhs, axis=0) * 1.0001)


def test_solve_normal_equations_primal_dual_and_warm_start_agree():
    X, Z = problem(30, 12, r=2, seed=4)
    ref = solve_normal_equations(X, Z, 1.5, 0.7, **EXACT)
    # The dual form (more columns than rows) on the transposed problem's shape: the same
    # system with rows and columns of X swapped gives W through X^T A.
    Xw = sp.hstack([X, sp.csr_matrix((30, 40))], format="csr")  # 52 > 30 columns: dual
    Ww = solve_normal_equations(Xw, Z, 1.5, 0.7, **EXACT)
    np.testing.assert_allclose(Ww[:12], ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(Ww[12:], 0.0, atol=1e-12)  # unused columns get no weight
    warm = solve_normal_equations(X, Z, 1.5, 0.7, W0=ref, tol=1e-13, max_iter=1)
    np.testing.assert_allclose(warm, ref, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------------- fit_l1
@pytest.mark.parametrize(("n", "d"), [(40, 10), (10, 40)], ids=["primal", "dual"])
def test_fit_l1_without_l1_equals_fit_l2(n, d):
    X, Z = problem(n, d, seed=5)
    W2 = fit_l2(X, Z, 0.5, **EXACT)
    W1 = fit_l1(X, Z, 0.5, 0.0, rho=1.0, max_iter=500, tol=1e-12, cg_tol=1e-13)
    np.testing.assert_allclose(W1, W2, rtol=1e-6, atol=1e-6 * np.abs(W2).max())


@pytest.mark.parametrize("l1_reg", [0.0, 0.3, 1.0, 5.0])
def test_fit_l1_identity_design_is_soft_thresholding(l1_reg):
    # X = I (primal): entrywise min (z - w)^2 + lam w^2 + mu |w| -> w = soft(z, mu/2) / (1+lam)
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((12, 2)) * 2
    lam = 0.5
    W = fit_l1(
        sp.identity(12, format="csr"),
        Z,
        lam,
        l1_reg,
        rho=1.0,
        max_iter=3000,
        tol=1e-12,
        cg_tol=1e-13,
    )
    np.testing.assert_allclose(W, soft(Z, l1_reg / 2) / (1 + lam), atol=1e-7)


def test_fit_l1_dual_shape_closed_form():
    # X = [I, I] (n < d, dual path): W splits evenly, p = XW solves
    # min (z - p)^2 + (lam/2) p^2 + mu |p|  ->  p = soft(z, mu/2) / (1 + lam/2), W = [p; p] / 2
    rng = np.random.default_rng(2)
    n, lam, mu = 8, 1.0, 0.8
    Z = rng.standard_normal((n, 3)) * 2
    X = sp.hstack([sp.identity(n), sp.identity(n)], format="csr")
    W = fit_l1(X, Z, lam, mu, rho=1.0, max_iter=3000, tol=1e-12, cg_tol=1e-13)
    p = soft(Z, mu / 2) / (1 + lam / 2)
    np.testing.assert_allclose(W, np.vstack([p, p]) / 2, atol=1e-7)


def test_fit_l1_larger_l1_gives_sparser_smaller_predictions():
    X, Z = problem(40, 10, seed=7)
    l1_norms, nnz = [], []
    for mu in (0.0, 0.1, 0.5, 2.0, 10.0):
        W = fit_l1(X, Z, 0.5, mu, rho=1.0, max_iter=2000, tol=1e-10, cg_tol=1e-13)
        P = X @ W
        l1_norms.append(np.abs(P).sum())
        nnz.append(int((np.abs(P) > 1e-6).sum()))
        # Optimality (convex objective): no better than the ridge solution nor random moves.
        f = objective(X, Z, W, 0.5, mu)
        assert f <= objective(X, Z, fit_l2(X, Z, 0.5, **EXACT), 0.5, mu) + 1e-9
        rng = np.random.default_rng(0)
        for _ in range(10):
            assert f <= objective(X, Z, W + 1e-3 * rng.standard_normal(W.shape), 0.5, mu)
    assert all(a > b for a, b in zip(l1_norms, l1_norms[1:], strict=False))
    assert all(a >= b for a, b in zip(nnz, nnz[1:], strict=False))
    assert nnz[0] == Z.size and nnz[-1] == 0


# -------------------------------------------------------------------------------- pruning
def test_prune_weights_hand_example():
    W = np.array([[0.1, -0.5, 2.0], [-0.3, 0.05, 1.0]])
    # 6 entries; threshold 0.5 -> floor(3) smallest magnitudes (0.05, 0.1, 0.3) zeroed
    P = prune_weights(W, 0.5)
    assert sp.issparse(P) and P.shape == W.shape
    np.testing.assert_array_equal(P.toarray(), [[0, -0.5, 2.0], [0, 0, 1.0]])
    # threshold 0.34 -> floor(2.04) = 2 entries (0.05, 0.1)
    np.testing.assert_array_equal(
        prune_weights(W, 0.34).toarray(), [[0, -0.5, 2.0], [-0.3, 0, 1.0]]
    )
    # threshold 0.1 -> floor(0.6) = 0: nothing pruned; threshold 0: nothing pruned
    np.testing.assert_array_equal(prune_weights(W, 0.1).toarray(), W)
    np.testing.assert_array_equal(prune_weights(W, 0.0).toarray(), W)
    # Ties with the cut are zeroed too: [1, -1, 1, 2] at 0.25 -> cut |1| -> only 2 survives
    np.testing.assert_array_equal(
        prune_weights(np.array([[1.0, -1.0], [1.0, 2.0]]), 0.25).toarray(), [[0, 0], [0, 2.0]]
    )


@pytest.mark.parametrize("threshold", [0.01, 0.3, 0.7, 0.95])
def test_prune_weights_removes_expected_share(threshold):
    rng = np.random.default_rng(4)
    W = rng.standard_normal((50, 20))  # distinct magnitudes: no ties
    P = prune_weights(W, threshold)
    n_cut = int(np.floor(threshold * W.size))
    assert P.nnz == W.size - n_cut
    kept = np.sort(np.abs(W).ravel())[n_cut:]
    np.testing.assert_array_equal(np.sort(np.abs(P.data)), kept)
    dense = P.toarray()
    np.testing.assert_array_equal(dense[dense != 0], W[dense != 0])  # kept values unchanged


def test_prune_embeddings_per_column():
    E = np.array([[0.1, -4.0], [-2.0, 0.2], [3.0, -0.3], [0.4, 1.0]])
    # threshold 0.5 -> floor(2) per column: col 0 zero 0.1, 0.4; col 1 zero 0.2, -0.3
    out = prune_embeddings(E, 0.5)
    np.testing.assert_array_equal(out, [[0, -4.0], [-2.0, 0], [3.0, 0], [0, 1.0]])
    np.testing.assert_array_equal(E[0], [0.1, -4.0])  # input untouched
    np.testing.assert_array_equal(prune_embeddings(E, 0.2), E)  # floor(0.8) = 0


@pytest.mark.parametrize("threshold", [0.1, 0.5, 0.9])
def test_prune_embeddings_share_per_column(threshold):
    rng = np.random.default_rng(6)
    E = rng.standard_normal((40, 5))
    out = prune_embeddings(E, threshold)
    n_cut = int(np.floor(threshold * 40))
    for c in range(5):
        order = np.argsort(np.abs(E[:, c]))
        np.testing.assert_array_equal(out[order[:n_cut], c], 0.0)
        np.testing.assert_array_equal(out[order[n_cut:], c], E[order[n_cut:], c])
