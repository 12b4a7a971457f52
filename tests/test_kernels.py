"""Tests for sleec._kernels and sleec._topk: each numba kernel against a short NumPy reference.

Random CSR inputs come from hypothesis (derandomised, so the suite is deterministic) and
include empty rows, ``k > nnz`` and many ties (values drawn from a few small integers).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sleec._kernels import (
    nearest_center,
    nearest_center_dense,
    nearest_center_dense_par,
    nearest_center_par,
    residual_matmul,
    residual_matmul_par,
    spmm,
    spmm_par,
)
from sleec._topk import csr_row_topk, row_smallest_k, row_smallest_k_par, top_k_dense

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, database=None)


def random_csr(
    seed: int,
    n: int,
    m: int,
    density: float,
    *,
    ties: bool = True,
    dtype=np.float64,
    empty_rows: bool = True,
) -> sp.csr_matrix:
    """Canonical CSR (sorted, no duplicates); a third of the rows emptied when asked."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    if ties:
        vals = rng.integers(-2, 4, size=(n, m)).astype(dtype)
        vals[vals == 0] = 5.0  # keep the pattern = mask (no accidental zeros)
    else:
        vals = rng.standard_normal((n, m)).astype(dtype)
    dense = np.where(mask, vals, 0.0).astype(dtype)
    if empty_rows and n:
        dense[rng.random(n) < 1 / 3] = 0.0
    S = sp.csr_matrix(dense)
    S.sort_indices()
    return S


csr_params = st.tuples(
    st.integers(0, 2**31 - 1),  # seed
    st.integers(0, 12),  # rows
    st.integers(1, 15),  # columns
    st.sampled_from([0.0, 0.1, 0.4, 0.9]),  # density
)


# ---------------------------------------------------------------------------- csr_row_topk
def topk_reference(S: sp.csr_matrix, k: int):
    """Per row: stored entries sorted by (-value, column), first k kept."""
    indptr, indices, data = [0], [], []
    for i in range(S.shape[0]):
        cols = S.indices[S.indptr[i] : S.indptr[i + 1]]
        vals = S.data[S.indptr[i] : S.indptr[i + 1]]
        order = sorted(range(cols.size), key=lambda t: (-vals[t], cols[t]))[:k]
        indices.extend(cols[order])
        data.extend(vals[order])
        indptr.append(len(indices))
    return np.array(indptr), np.array(indices, dtype=np.int64), np.array(data)


def run_topk(S: sp.csr_matrix, k: int):
    return csr_row_topk(S.indptr, S.indices, S.data, k)


def assert_topk_equal(S: sp.csr_matrix, k: int) -> None:
    ip, ix, dv = run_topk(S, k)
    rp, rx, rv = topk_reference(S, k)
    np.testing.assert_array_equal(ip, rp)
    np.testing.assert_array_equal(ix, rx)
    np.testing.assert_array_equal(dv, rv)
    assert dv.dtype == S.data.dtype


def test_csr_row_topk_hand_example():
    # row 0: values 1, 3, 3, 2 at columns 0, 2, 4, 5 -> top 3: col 2 (3), col 4 (3), col 5 (2)
    # row 1: empty; row 2: one entry (k > nnz) -> kept; row 3: all tied -> smaller columns
    S = sp.csr_matrix(
        np.array(
            [
                [1.0, 0, 3.0, 0, 3.0, 2.0],
                [0, 0, 0, 0, 0, 0],
                [0, -4.0, 0, 0, 0, 0],
                [0, 7.0, 7.0, 0, 7.0, 7.0],
            ]
        )
    )
    ip, ix, dv = run_topk(S, 3)
    np.testing.assert_array_equal(ip, [0, 3, 3, 4, 7])
    np.testing.assert_array_equal(ix, [2, 4, 5, 1, 1, 2, 4])
    np.testing.assert_array_equal(dv, [3.0, 3.0, 2.0, -4.0, 7.0, 7.0, 7.0])


def test_csr_row_topk_dtypes_and_k_zero():
    S = random_csr(1, 6, 9, 0.5, dtype=np.float32)
    ip, ix, dv = run_topk(S, 0)
    np.testing.assert_array_equal(ip, np.zeros(7))
    assert ix.size == 0 and dv.size == 0
    ip, ix, dv = run_topk(S, 4)
    assert ip.dtype == np.int64 and ix.dtype == np.int32 and dv.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_csr_row_topk_explicit_zeros_and_negatives(dtype):
    # Stored zeros and negative values are ordinary entries (they rank by value).
    S = sp.csr_matrix(
        (np.array([0.0, -1.0, 0.0, 2.0], dtype=dtype), [0, 1, 3, 4], [0, 4]), shape=(1, 5)
    )
    assert_topk_equal(S, 3)
    ip, ix, dv = run_topk(S, 3)
    np.testing.assert_array_equal(ix, [4, 0, 3])


@SETTINGS
@given(csr_params, st.integers(0, 20), st.booleans(), st.sampled_from([np.float32, np.float64]))
def test_csr_row_topk_matches_reference(params, k, ties, dtype):
    seed, n, m, density = params
    assert_topk_equal(random_csr(seed, n, m, density, ties=ties, dtype=dtype), k)


@SETTINGS
@given(csr_params, st.integers(1, 20), st.booleans())
def test_top_k_dense_matches_the_sparse_rule(params, k, ties):
    # Dense rows: every finite entry is a candidate, -inf is "no prediction"; the ranking is
    # the one csr_row_topk gives the same entries (value desc, then column asc).
    seed, n, m, density = params
    S = random_csr(seed, n, m, density, ties=ties)
    dense = np.where(S.toarray() != 0, S.toarray(), -np.inf)
    ids = top_k_dense(dense, k)
    ip, ix, _ = run_topk(S, k)
    expected = np.full((n, k), -1)
    for i in range(n):
        expected[i, : ip[i + 1] - ip[i]] = ix[ip[i] : ip[i + 1]]
    np.testing.assert_array_equal(ids, expected)


def test_top_k_dense_hand_example():
    S = np.array([[0.5, 2.0, 2.0, -np.inf], [-np.inf] * 4, [1.0, 0.0, -1.0, 3.0]])
    np.testing.assert_array_equal(top_k_dense(S, 3), [[1, 2, 0], [-1, -1, -1], [3, 0, 1]])


# ------------------------------------------------------------------- spmm / residual_matmul
# SVP calls these kernels with float32 operands (float64 accumulation inside); both dtypes are
# checked, float32 against a float64 reference with a float32 tolerance.
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def dense_operands(seed: int, n: int, m: int, r: int, w: int, dtype=np.float64):
    rng = np.random.default_rng(seed + 1)
    A = rng.standard_normal((n, r)).astype(dtype)
    B = rng.standard_normal((m, r)).astype(dtype)
    Q = rng.standard_normal((m, w)).astype(dtype)
    return A, B, Q


@SETTINGS
@given(csr_params, st.integers(1, 4), st.sampled_from([np.float32, np.float64]))
def test_spmm_matches_scipy_and_twin(params, w, dtype):
    seed, n, m, density = params
    S = random_csr(seed, n, m, density, ties=False, dtype=dtype)
    _, _, Q = dense_operands(seed, n, m, 1, w, dtype)
    out = np.full((n, w), np.nan, dtype=dtype)  # every entry must be written (empty rows: 0)
    out_par = np.full((n, w), np.nan, dtype=dtype)
    spmm(S.indptr, S.indices, S.data, Q, out)
    spmm_par(S.indptr, S.indices, S.data, Q, out_par)
    ref = S.astype(np.float64) @ Q.astype(np.float64)
    np.testing.assert_allclose(out, ref, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_array_equal(out, out_par)


@SETTINGS
@given(csr_params, st.integers(1, 5), st.booleans())
def test_nearest_center_matches_argmax_and_twin(params, n_centers, ties):
    """The first centre of largest product, as ``np.argmax`` over the dense product (exact
    ties from small integer values; all-zero rows go to centre 0), sparse or dense centres."""
    seed, n, m, density = params
    S = random_csr(seed, n, m, density, ties=ties, dtype=np.float32)
    C = random_csr(seed + 1, m, n_centers, 0.5, ties=ties, dtype=np.float32)
    out = np.full(n, -1, dtype=np.int32)
    out_par = np.full(n, -1, dtype=np.int32)
    args = (S.indptr, S.indices, S.data, C.indptr, C.indices, C.data, n_centers)
    nearest_center(*args, out)
    nearest_center_par(*args, out_par)
    ref = np.argmax(S.toarray().astype(np.float64) @ C.toarray().astype(np.float64), axis=1)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out_par, out)
    for kernel in (nearest_center_dense, nearest_center_dense_par):  # dense centres
        out_dense = np.full(n, -1, dtype=np.int32)
        kernel(S.indptr, S.indices, S.data, C.toarray(), out_dense)
        np.testing.assert_array_equal(out_dense, ref)


def residual_reference(S: sp.csr_matrix, A, B, Q):
    S, A, B, Q = (
        S.astype(np.float64),
        A.astype(np.float64),
        B.astype(np.float64),
        Q.astype(np.float64),
    )
    rows = np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))
    resid = S.data - np.einsum("pc,pc->p", A[rows], B[S.indices])
    R = sp.csr_matrix((resid, S.indices, S.indptr), shape=S.shape)
    return resid, R @ Q


@SETTINGS
@given(csr_params, st.integers(1, 4), st.integers(1, 4), st.sampled_from([np.float32, np.float64]))
def test_residual_matmul_matches_reference_and_twin(params, r, w, dtype):
    seed, n, m, density = params
    # A indexes rows, B and Q index columns (in SVP both are the n points).
    S = random_csr(seed, n, m, density, ties=False, dtype=dtype)
    A, B, Q = dense_operands(seed, n, m, r, w, dtype)
    g = np.ascontiguousarray(S.data)
    outs, resids = [], []
    for kernel in (residual_matmul, residual_matmul_par):
        out = np.full((n, w), np.nan, dtype=dtype)
        resid = np.full(g.shape, np.nan, dtype=dtype)
        kernel(S.indptr, S.indices, g, A, B, Q, out, resid)
        outs.append(out)
        resids.append(resid)
    ref_resid, ref_out = residual_reference(S, A, B, Q)
    np.testing.assert_allclose(resids[0], ref_resid, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(outs[0], ref_out, rtol=TOL[dtype], atol=10 * TOL[dtype])
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(resids[0], resids[1])


def test_residual_matmul_hand_example():
    # pattern {(0,0), (0,1), (1,1)}, g = [5, 1, 2]; A = B = [[1], [2]] -> M = [[1, 2], [2, 4]]
    # resid = [5-1, 1-2, 2-4] = [4, -1, -2]; R = [[4, -1], [0, -2]]; Q = I -> out = R
    indptr = np.array([0, 2, 3])
    indices = np.array([0, 1, 1])
    g = np.array([5.0, 1.0, 2.0])
    A = np.array([[1.0], [2.0]])
    out = np.empty((2, 2))
    resid = np.empty(3)
    residual_matmul(indptr, indices, g, A, A, np.eye(2), out, resid)
    np.testing.assert_array_equal(resid, [4.0, -1.0, -2.0])
    np.testing.assert_array_equal(out, [[4.0, -1.0], [0.0, -2.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_twins_identical_on_larger_input(dtype):
    # Enough rows that prange really splits the loop across threads.
    n = 3000
    S = random_csr(7, n, n, 0.01, ties=False, empty_rows=True, dtype=dtype)
    A, B, Q = dense_operands(7, n, n, 6, 5, dtype)
    o1, o2 = np.empty((n, 5), dtype), np.empty((n, 5), dtype)
    spmm(S.indptr, S.indices, S.data, Q, o1)
    spmm_par(S.indptr, S.indices, S.data, Q, o2)
    np.testing.assert_array_equal(o1, o2)
    r1, r2 = np.empty(S.nnz, dtype), np.empty(S.nnz, dtype)
    residual_matmul(S.indptr, S.indices, S.data, A, B, Q, o1, r1)
    residual_matmul_par(S.indptr, S.indices, S.data, A, B, Q, o2, r2)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    ref_resid, ref_out = residual_reference(S, A, B, Q)
    np.testing.assert_allclose(o1, ref_out, rtol=TOL[dtype], atol=100 * TOL[dtype])
    np.testing.assert_allclose(r1, ref_resid, rtol=TOL[dtype], atol=10 * TOL[dtype])


# -------------------------------------------------------------------------- row_smallest_k
def smallest_k_reference(D: np.ndarray, k: int):
    """Per row: columns sorted by (value, column), first k kept."""
    idx = np.array(
        [sorted(range(D.shape[1]), key=lambda j, i=i: (D[i, j], j))[:k] for i in range(D.shape[0])],
        dtype=np.int64,
    ).reshape(D.shape[0], k)
    return idx, np.take_along_axis(D, idx, axis=1)


def run_smallest_k(kernel, D: np.ndarray, k: int):
    idx = np.empty((D.shape[0], k), dtype=np.int64)
    val = np.empty((D.shape[0], k), dtype=D.dtype)
    kernel(D, k, idx, val)
    return idx, val


@SETTINGS
@given(
    st.integers(0, 2**31 - 1),
    st.integers(0, 8),
    st.integers(1, 40),
    st.integers(1, 40),
    st.booleans(),
)
def test_row_smallest_k_matches_reference_with_ties(seed, q, m, k, ties):
    rng = np.random.default_rng(seed)
    D = (rng.integers(-3, 4, size=(q, m)) if ties else rng.standard_normal((q, m))).astype(
        np.float64
    )
    k = min(k, m)
    ref_idx, ref_val = smallest_k_reference(D, k)
    for kernel in (row_smallest_k, row_smallest_k_par):
        idx, val = run_smallest_k(kernel, D, k)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(val, ref_val)


def test_row_smallest_k_hand_example():
    # Row 0: 3 smallest of [5, 1, 1, 0, 1] -> 0 (col 3), then the tied 1s at cols 1, 2.
    # Row 1: all equal -> the first k columns in order.
    D = np.array([[5.0, 1.0, 1.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    idx, val = run_smallest_k(row_smallest_k, D, 3)
    np.testing.assert_array_equal(idx, [[3, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(val, [[0.0, 1.0, 1.0], [2.0, 2.0, 2.0]])


def test_row_smallest_k_parallel_twin_identical_on_larger_input():
    D = np.random.default_rng(3).integers(0, 50, size=(500, 700)).astype(np.float64)
    a = run_smallest_k(row_smallest_k, D, 25)
    b = run_smallest_k(row_smallest_k_par, D, 25)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], smallest_k_reference(D, 25)[0])


@pytest.mark.slow
def test_serial_and_parallel_twins_are_cached_apart(tmp_path):
    """The parallel build cached first must not serve the serial one (a serial call would
    then start the thread pool each time): in a fresh cache, compile the parallel twin in
    one process; in the next, the serial twin is compiled anew, not found in the cache."""
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    call = (
        "import numpy as np; from sleec import _kernels as k; "
        "q = np.ones((2, 3)); out = np.empty((2, 3)); "
        "ip = np.array([0, 1, 2]); ix = np.array([0, 1], np.int32); d = np.ones(2); "
        "f = k.{}; f(ip, ix, d, q, out); "
        "print(sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))"
    )
    first = subprocess.run([sys.executable, "-c", call.format("spmm_par")], env=env,
                           capture_output=True, text=True, check=True)  # fmt: skip
    second = subprocess.run([sys.executable, "-c", call.format("spmm")], env=env,
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert first.stdout.split()[1] != "0"  # compiled (a miss) into the fresh cache
    hits, misses = second.stdout.split()
    assert hits == "0" and misses != "0", second.stdout
