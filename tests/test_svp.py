"""Tests for sleec.svp.svp_embed: recovery of planted PSD matrices, objective record, paths.

Oracles: a planted rank-r PSD matrix sampled on a random symmetric mask (SVP must recover it),
the objective's definition recomputed from the returned Z, and a plain top-r
eigendecomposition of the full label Gram matrix (SVP must fit Omega better: the point of
fitting only the kNN entries).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from sleec import svp
from sleec.graph import label_knn_graph
from sleec.svp import SVPResult, svp_embed

R = 5


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # Small BLAS calls: threads only add contention (and run-to-run noise) here.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def planted(n: int, p: float, seed: int, r: int = R):
    """Rank-r PSD M = U U^T and G = M on a random symmetric mask of density ~p."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n, r))
    M = U @ U.T
    mask = np.triu(rng.random((n, n)) < p)
    mask |= mask.T
    G = sp.csr_matrix(np.where(mask, M, 0.0))  # M has no exact zeros: pattern = mask
    G.sort_indices()
    assert G.nnz == mask.sum()
    return M, G


def rel_err(Z: np.ndarray, M: np.ndarray) -> float:
    return float(np.linalg.norm(Z @ Z.T - M) / np.linalg.norm(M))


def omega_values(Z: np.ndarray, G: sp.csr_matrix) -> np.ndarray:
    rows = np.repeat(np.arange(G.shape[0]), np.diff(G.indptr))
    return np.einsum("ij,ij->i", Z[rows], Z[G.indices])


def omega_residual(Z: np.ndarray, G: sp.csr_matrix) -> float:
    return float(np.linalg.norm(omega_values(Z, G) - G.data) / np.linalg.norm(G.data))


def label_problem(n: int = 400, n_labels: int = 60, seed: int = 0) -> sp.csr_matrix:
    """Labels from 8 communities of 6 labels (3 drawn per point) plus 2 random labels."""
    rng = np.random.default_rng(seed)
    Y = np.zeros((n, n_labels), dtype=np.float32)
    for i in range(n):
        comm = rng.integers(0, 8)
        Y[i, comm * 6 + rng.choice(6, 3, replace=False)] = 1
        Y[i, rng.choice(n_labels, 2)] = 1
    return sp.csr_matrix(Y)


# ------------------------------------------------------------------------------- recovery
def test_full_mask_recovers_planted_matrix_subspace_path():
    M, G = planted(400, 1.0, seed=0)  # n = 400 > 2 (r + oversample): subspace iteration
    res = svp_embed(G, R, max_iter=50, tol=0.0, seed=0, step=1.0)
    assert isinstance(res, SVPResult)
    assert res.Z.shape == (400, R) and res.Z.dtype == np.float64
    assert rel_err(res.Z, M) < 1e-6


def test_full_and_partial_mask_recover_planted_matrix_dense_path(monkeypatch):
    calls = []  # spy on the dense path: both small problems must take it
    dense = svp._svp_dense
    monkeypatch.setattr(svp, "_svp_dense", lambda *a, **k: calls.append(1) or dense(*a, **k))
    for p in (1.0, 0.7):
        M, G = planted(30, p, seed=1)  # n = 30 <= 2 (5 + 10): dense eigendecompositions
        res = svp_embed(G, R, max_iter=300, tol=0.0, seed=0, step=1.0)
        assert res.Z.shape == (30, R)
        assert rel_err(res.Z, M) < 1e-6
    assert len(calls) == 2


def test_partial_mask_recovery_over_seeds():
    # float32 products: measured 9.8e-7, 2.4e-6, 2.2e-6 (the float64 version reached ~1e-14).
    errors = []
    for seed in range(3):
        M, G = planted(300, 0.3, seed=seed)
        res = svp_embed(G, R, max_iter=400, tol=0.0, seed=0, step=1.0)
        errors.append(rel_err(res.Z, M))
    assert max(errors) < 1e-5, errors


def test_partial_mask_recovers_planted_matrix():
    # 30% symmetric mask, n = 400: converges linearly; measured relative error 9.95e-7 after
    # 139 iterations with the float32 products (~1e-14 in float64). Bound: 1e-5.
    M, G = planted(400, 0.3, seed=0)
    assert 0.25 < G.nnz / 400**2 < 0.35
    res = svp_embed(G, R, max_iter=400, tol=0.0, seed=0, step=1.0)
    assert res.Z.shape == (400, R)
    assert rel_err(res.Z, M) < 1e-5
    # Before reaching the rounding floor the objective decreases monotonically.
    obj = res.objective
    above = obj[1:] > 1e-4
    assert np.all(np.diff(obj)[above] <= 1e-9)


# An iterate that makes the objective worse (at the float32 rounding floor) is dropped.
def test_objective_non_increasing_down_to_convergence():
    for seed in range(3):
        _, G = planted(300, 0.3, seed=seed)
        obj = svp_embed(G, R, max_iter=400, tol=0.0, seed=0, step=1.0).objective
        assert np.all(np.diff(obj) <= 1e-9), np.diff(obj).max()


def test_dense_and_subspace_paths_agree():
    M, G = planted(40, 1.0, seed=2)
    # oversample 10: width 15, 40 > 30 -> subspace; oversample 20: width 25, 40 <= 50 -> dense
    sub = svp_embed(G, R, max_iter=100, tol=0.0, oversample=10, seed=0, step=1.0)
    den = svp_embed(G, R, max_iter=100, tol=0.0, oversample=20, seed=0, step=1.0)
    assert rel_err(den.Z, M) < 1e-10
    np.testing.assert_allclose(sub.Z @ sub.Z.T, den.Z @ den.Z.T, atol=1e-5 * np.abs(M).max())


def test_larger_step_converges_faster_to_the_same_matrix():
    # Measured: objective below 1e-4 after 85 (step 1) vs 55 (step 1.5) iterations; final
    # relative errors 3.3e-6 / 2.8e-6 (float32 floor).
    M, G = planted(300, 0.3, seed=5)
    iters = {}
    for step in (1.0, 1.5):
        res = svp_embed(G, R, max_iter=400, tol=0.0, seed=0, step=step)
        assert rel_err(res.Z, M) < 1e-5
        iters[step] = int(np.argmax(res.objective < 1e-4))  # first iteration below 1e-4
    assert 0 < iters[1.5] < iters[1.0]


@pytest.mark.parametrize("n", [30, 400], ids=["dense", "subspace"])
def test_overshooting_step_falls_back_to_the_paper_step(n):
    # Step 3 (beyond what SLEEC accepts) overshoots at once: the worse iterate is dropped and
    # SVP carries on with step 1, so the record stays monotone and ends where step 1 does.
    G = label_knn_graph(label_problem(n=n), 10, similarity="cosine")
    long = svp_embed(G, R, max_iter=40, tol=0.0, seed=0, step=3.0)
    paper = svp_embed(G, R, max_iter=40, tol=0.0, seed=0, step=1.0)
    if n == 30:  # the dense path's first step overshoots: one iteration spent on the retry
        assert long.objective.size < 40
    assert np.all(np.diff(long.objective) <= 1e-9)
    assert long.objective[-1] <= paper.objective[-1] * 1.05


# ------------------------------------------------------------------------ objective record
@pytest.mark.parametrize("n", [30, 400], ids=["dense", "subspace"])
def test_objective_definition_and_monotone_decrease(n):
    G = label_knn_graph(
        label_problem(n=n), 10, similarity="cosine"
    )  # not exactly low rank: SVP stalls, tol stops
    res = svp_embed(G, R, max_iter=200, tol=1e-3, seed=0, step=1.0)
    obj = res.objective
    assert obj[0] == pytest.approx(1.0)  # M = 0: the residual is G itself
    assert 3 <= obj.size < 200  # stopped by tol
    assert np.all(np.diff(obj) <= 1e-9)
    assert obj[-1] < 0.5
    # Stopped by tol: the returned Z is the last iterate, whose objective is the last entry.
    assert omega_residual(res.Z, G) == pytest.approx(obj[-1], rel=1e-4)


def test_shapes_clip_and_empty_graphs():
    _, G = planted(3, 1.0, seed=4)
    res = svp_embed(G, R, max_iter=30, tol=1e-3, step=1.0, seed=0)
    assert res.Z.shape == (3, 3)  # n_components clipped to n
    # Empty graph (no Omega entries) and an all-zero graph: zero embeddings, empty record.
    for E in (
        sp.csr_matrix((50, 50)),
        sp.csr_matrix((np.zeros(3), [0, 1, 2], [0, 1, 2, 3])),
        sp.csr_matrix((400, 400)),
    ):
        res = svp_embed(E, R, max_iter=30, tol=1e-3, step=1.0, seed=0)
        n = E.shape[0]
        assert res.Z.shape == (n, min(R, n))
        np.testing.assert_array_equal(res.Z, 0.0)
        assert res.objective.size == 0
    res = svp_embed(sp.csr_matrix((0, 0)), R, max_iter=30, tol=1e-3, step=1.0, seed=0)
    assert res.Z.shape[0] == 0 and res.Z.size == 0


def test_deterministic_and_parallel_twin_identical():
    G = label_knn_graph(label_problem(), 10, similarity="cosine")
    a = svp_embed(G, 8, seed=3, max_iter=30, tol=1e-3, step=1.0)
    b = svp_embed(G, 8, seed=3, max_iter=30, tol=1e-3, step=1.0)
    c = svp_embed(G, 8, seed=3, parallel=True, max_iter=30, tol=1e-3, step=1.0)
    np.testing.assert_array_equal(a.Z, b.Z)
    np.testing.assert_array_equal(a.Z, c.Z)
    np.testing.assert_array_equal(a.objective, c.objective)


# -------------------------------------------------------- the point of the method (local fit)
@pytest.mark.parametrize("r", [5, 10])
def test_svp_fits_knn_graph_better_than_global_eigendecomposition(r):
    Y = label_problem()
    G = label_knn_graph(Y, 10, similarity="cosine")  # cosine kNN graph, Omega union Omega^T
    Z = svp_embed(G, r, max_iter=30, seed=0, tol=1e-3, step=1.0).Z
    # Plain low-rank fit of all label similarities: top-r eigenpairs of the cosine Gram matrix.
    Yn = normalize(Y).toarray().astype(np.float64)
    theta, U = np.linalg.eigh(Yn @ Yn.T)
    Z0 = U[:, -r:] * np.sqrt(np.clip(theta[-r:], 0.0, None))
    # Measured (r = 5 / 10): residual on Omega 0.26 / 0.21 (SVP) vs 0.59 / 0.39 (eig);
    # correlation with G on Omega 0.42 / 0.66 (SVP) vs 0.22 / 0.48 (eig).
    assert omega_residual(Z, G) < 0.75 * omega_residual(Z0, G)
    corr_svp = np.corrcoef(omega_values(Z, G), G.data)[0, 1]
    corr_eig = np.corrcoef(omega_values(Z0, G), G.data)[0, 1]
    assert corr_svp > corr_eig + 0.1
