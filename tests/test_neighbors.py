"""Tests for sleec.neighbors: kNN and top-k against brute force, vote aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sleec import neighbors
from sleec._topk import top_k_from_scores
from sleec.neighbors import nearest_neighbors, top_k_labels, vote_matrix

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, database=None)


def brute_knn(Zq: np.ndarray, E: np.ndarray, k: int, metric: str):
    """Exact distances in float64; order by (distance, index)."""
    Zq = Zq.astype(np.float64)
    E = E.astype(np.float64)
    if metric == "cosine":

        def unit(A):
            nrm = np.linalg.norm(A, axis=1, keepdims=True)
            return A / np.where(nrm > 0, nrm, 1.0)

        Zq, E = unit(Zq), unit(E)
    d2 = ((Zq[:, None, :] - E[None, :, :]) ** 2).sum(-1)
    k = min(k, E.shape[0])
    idx = np.array(
        [
            sorted(range(E.shape[0]), key=lambda j, i=i: (d2[i, j], j))[:k]
            for i in range(Zq.shape[0])
        ],
        dtype=np.int64,
    ).reshape(Zq.shape[0], k)
    return idx, np.take_along_axis(d2, idx, axis=1)


# ---------------------------------------------------------------------- nearest_neighbors
@SETTINGS
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 6),
    st.integers(1, 25),
    st.integers(1, 4),
    st.integers(1, 30),
)
def test_euclidean_matches_brute_force_with_ties(seed, q, m, r, k):
    # Small integer coordinates: float32 arithmetic is exact, so ties are exact ties.
    rng = np.random.default_rng(seed)
    Zq = rng.integers(-2, 3, size=(q, r)).astype(np.float32)
    E = rng.integers(-2, 3, size=(m, r)).astype(np.float32)
    idx, w = nearest_neighbors(Zq, E, k, metric="euclidean", weighting="uniform")
    ref_idx, ref_d2 = brute_knn(Zq, E, k, "euclidean")
    assert idx.dtype == np.int64 and w.dtype == np.float32
    assert idx.shape == w.shape == (q, min(k, m))
    # The k nearest distances, nearest first; distinct rows; equal distances in index order.
    d2 = ((Zq[:, None, :] - E[idx]) ** 2).sum(-1)
    np.testing.assert_array_equal(d2, ref_d2)
    assert all(np.unique(row).size == row.size for row in idx)
    tied = np.diff(d2, axis=1) == 0
    assert np.all(np.diff(idx, axis=1)[tied] > 0)
    # Where the k-th distance is not tied with a row left out, the rows are the brute force's
    # exactly (tie sets cut by k are covered by test_ties_at_the_kth_neighbour_...).
    for i in range(q):
        n_at_kth = int((((Zq[i] - E) ** 2).sum(-1) == ref_d2[i, -1]).sum())
        if n_at_kth == int((ref_d2[i] == ref_d2[i, -1]).sum()):
            np.testing.assert_array_equal(idx[i], ref_idx[i])
    np.testing.assert_allclose(w, 1.0 / min(k, m), rtol=1e-7)


def test_ties_at_the_kth_neighbour_prefer_smaller_index():
    # Query 2 (1-D): rows 8 and 10 are both at distance 0; k = 1 must give row 8.
    E = np.array([1, 0, -1, -1, -2, -2, -2, -2, 2, 1, 2], np.float32)[:, None]
    idx, _ = nearest_neighbors(
        np.array([[2.0]], np.float32), E, 1, metric="euclidean", weighting="uniform"
    )
    np.testing.assert_array_equal(idx, [[8]])


@pytest.mark.parametrize("k", [1, 4, 9])
def test_cosine_matches_brute_force(k):
    rng = np.random.default_rng(8)
    Zq = rng.standard_normal((7, 5)).astype(np.float32)
    E = rng.standard_normal((30, 5)).astype(np.float32) * rng.uniform(0.1, 10, (30, 1))
    idx, w = nearest_neighbors(Zq, E, k, metric="cosine", weighting="uniform")
    ref_idx, _ = brute_knn(Zq, E, k, "cosine")
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)


def test_cosine_ties_scale_invariance_and_zero_query():
    # Rows 0, 2, 3 point the same way (cosine distance 0): ties -> smaller index first.
    E = np.array([[3.0, 0.0], [0.0, 1.0], [1.0, 0.0], [5.0, 0.0], [-1.0, 0.0]], np.float32)
    Zq = np.array([[2.0, 0.0], [0.0, 0.0]], np.float32)
    idx, _ = nearest_neighbors(Zq, E, 4, metric="cosine", weighting="uniform")
    np.testing.assert_array_equal(idx[0], [0, 2, 3, 1])
    # A zero query is equally far from every (unit) row: plain index order.
    np.testing.assert_array_equal(idx[1], [0, 1, 2, 3])
    # Euclidean on the same data is not scale invariant: [2,0] is nearest to [1,0] and [3,0].
    idx, _ = nearest_neighbors(Zq[:1], E, 3, metric="euclidean", weighting="uniform")
    np.testing.assert_array_equal(idx[0], [0, 2, 1])  # d2 = 1, 1, 5 (ties -> 0 before 2)


def true_distance_ratio(Zq, E, idx):
    """Float64 distance of the farthest returned neighbour over the true k-th smallest."""
    d2 = ((Zq[:, None, :].astype(np.float64) - E[None].astype(np.float64)) ** 2).sum(-1)
    kth = np.sort(d2, axis=1)[:, idx.shape[1] - 1]
    return np.take_along_axis(d2, idx, axis=1).max(axis=1) / kth


def test_neighbours_are_truly_nearest_near_origin():
    rng = np.random.default_rng(10)
    for off in (0.0, 1.0, 3.0):
        E = (off + 0.01 * rng.standard_normal((200, 8))).astype(np.float32)
        Zq = (off + 0.01 * rng.standard_normal((20, 8))).astype(np.float32)
        idx, _ = nearest_neighbors(Zq, E, 5, metric="euclidean", weighting="uniform")
        assert np.all(true_distance_ratio(Zq, E, idx) <= 1 + 1e-3)


def test_neighbours_are_truly_nearest_off_origin():
    rng = np.random.default_rng(0)
    E = (10 + 0.01 * rng.standard_normal((200, 8))).astype(np.float32)
    Zq = (10 + 0.01 * rng.standard_normal((20, 8))).astype(np.float32)
    idx, _ = nearest_neighbors(Zq, E, 5, metric="euclidean", weighting="uniform")
    assert np.all(true_distance_ratio(Zq, E, idx) <= 1 + 1e-3)


def test_k_larger_than_m_is_clipped_and_uniform_weights():
    E = np.array([[0.0], [10.0], [1.0]], np.float32)
    idx, w = nearest_neighbors(
        np.array([[0.2]], np.float32), E, 10, metric="euclidean", weighting="uniform"
    )
    np.testing.assert_array_equal(idx, [[0, 2, 1]])
    np.testing.assert_allclose(w, [[1 / 3, 1 / 3, 1 / 3]], rtol=1e-7)


def test_distance_weighting_hand_computed():
    # Query 0 against E = 0, 1, 2, 3 (1-D): d2 = 0, 1, 4, 9; k = 3 -> d2 = 0, 1, 4,
    # median 1 -> weights exp(0), exp(-1), exp(-4) normalised.
    E = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    idx, w = nearest_neighbors(
        np.zeros((1, 1), np.float32), E, 3, weighting="distance", metric="euclidean"
    )
    np.testing.assert_array_equal(idx, [[0, 1, 2]])
    raw = np.exp(-np.array([0.0, 1.0, 4.0]))
    np.testing.assert_allclose(w[0], raw / raw.sum(), rtol=1e-6)
    assert w.dtype == np.float32


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_distance_weights_sum_to_one_and_decrease(metric):
    rng = np.random.default_rng(9)
    Zq = rng.standard_normal((10, 4)).astype(np.float32)
    E = rng.standard_normal((50, 4)).astype(np.float32)
    idx, w = nearest_neighbors(Zq, E, 7, metric=metric, weighting="distance")
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-6)
    assert np.all(np.diff(w, axis=1) <= 1e-7)  # nearer neighbours vote more
    # Identical distances (all-equal points) give equal weights even with median 0.
    idx, w = nearest_neighbors(
        np.zeros((1, 2), np.float32),
        np.zeros((5, 2), np.float32),
        3,
        weighting="distance",
        metric="euclidean",
    )
    np.testing.assert_array_equal(idx, [[0, 1, 2]])
    np.testing.assert_allclose(w, [[1 / 3] * 3], rtol=1e-6)


# ------------------------------------------------------------------------ top_k_from_scores
def brute_topk(S: sp.csr_matrix, k: int):
    S = sp.csr_matrix(S)
    S.sum_duplicates()
    n = S.shape[0]
    ids = np.full((n, k), -1, dtype=np.int32)
    scores = np.full((n, k), -np.inf, dtype=np.float32)
    for i in range(n):
        row = S.getrow(i)
        best = sorted(zip(row.indices, row.data, strict=True), key=lambda t: (-t[1], t[0]))[:k]
        for t, (c, s) in enumerate(best):
            ids[i, t], scores[i, t] = c, s
    return ids, scores


@SETTINGS
@given(
    st.integers(0, 2**31 - 1),
    st.integers(0, 8),
    st.integers(1, 12),
    st.integers(1, 15),
    st.sampled_from([0.0, 0.2, 0.6]),
)
def test_top_k_from_scores_matches_brute_force(seed, n, n_labels, k, density):
    rng = np.random.default_rng(seed)
    dense = rng.integers(1, 4, size=(n, n_labels)).astype(np.float32) / 4  # ties
    dense[rng.random((n, n_labels)) >= density] = 0
    S = sp.csr_matrix(dense)
    ids, scores = top_k_from_scores(S, k)
    ref_ids, ref_scores = brute_topk(S, k)
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    assert ids.shape == scores.shape == (n, k)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(scores, ref_scores)


def test_top_k_from_scores_hand_example_with_duplicates_and_unsorted_input():
    # Row 0: col 3 gets 0.2 + 0.3 (duplicates summed) = 0.5, col 1 0.5 -> tie: 1 before 3;
    # col 0 0.1. Row 1: empty -> all padding. Built from COO, so indices are unsorted.
    S = sp.coo_matrix(
        (
            np.array([0.2, 0.5, 0.1, 0.3], np.float32),
            (np.array([0, 0, 0, 0]), np.array([3, 1, 0, 3])),
        ),
        shape=(2, 5),
    )
    ids, scores = top_k_from_scores(S, 4)
    np.testing.assert_array_equal(ids, [[1, 3, 0, -1], [-1, -1, -1, -1]])
    np.testing.assert_allclose(scores, [[0.5, 0.5, 0.1, -np.inf], [-np.inf] * 4])


# ------------------------------------------------------------------------------ vote_matrix
def test_vote_matrix_sums_duplicates_and_places_votes():
    # Group 1: queries 0 and 2; group 2: query 0 again (another learner) -> votes add up.
    votes = [
        (np.array([0, 2]), np.array([[1, 3], [3, 3]]), np.array([[0.5, 0.5], [0.25, 0.75]])),
        (np.array([0]), np.array([[3, 0]]), np.array([[0.5, 0.5]])),
    ]
    V = vote_matrix(votes, (3, 4))
    assert sp.issparse(V) and V.shape == (3, 4) and V.dtype == np.float32
    expected = np.array([[0.5, 0.5, 0, 1.0], [0, 0, 0, 0], [0, 0, 0, 1.0]])
    np.testing.assert_allclose(V.toarray(), expected)
    # Scores = votes @ labels: the same as summing the neighbours' label rows by hand.
    Y = sp.csr_matrix(np.array([[1, 0], [0, 1], [1, 1], [1, 0]], np.float32))
    np.testing.assert_allclose((V @ Y).toarray(), expected @ Y.toarray())


def test_vote_matrix_empty():
    V = vote_matrix([], (4, 6))
    assert V.shape == (4, 6) and V.nnz == 0


# ----------------------------------------------------------------------------- top_k_labels
@SETTINGS
@given(
    st.integers(0, 2**31 - 1),
    st.integers(0, 9),
    st.integers(1, 12),
    st.integers(1, 10),
    st.integers(1, 8),
    st.booleans(),
)
def test_top_k_labels_equals_selection_from_the_product(seed, q, n, n_labels, k, small_chunks):
    # Votes with ties (quarters) and exact zeros, labels with empty rows: the fused kernel must
    # return exactly top_k_from_scores(votes @ Y), scores bit for bit.
    rng = np.random.default_rng(seed)
    V = rng.integers(0, 4, size=(q, n)).astype(np.float32) / 4
    V[rng.random((q, n)) < 0.5] = 0
    V = sp.csr_matrix(V)
    V.data[rng.random(V.nnz) < 0.2] = 0.0  # explicit zeros: votes that underflowed
    Y = sp.csr_matrix((rng.random((n, n_labels)) < 0.4).astype(np.float32))
    if small_chunks:  # several chunks: the parallel twin with its per-chunk scratch rows
        neighbors._LABEL_CHUNK, saved = 2, neighbors._LABEL_CHUNK
    try:
        ids, scores = top_k_labels(V, Y, k)
    finally:
        if small_chunks:
            neighbors._LABEL_CHUNK = saved
    ref_ids, ref_scores = top_k_from_scores(V @ Y, k)
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(scores, ref_scores)


def test_top_k_labels_hand_example():
    # Query 0 votes 0.5 for point 0 (labels 0, 2) and 0.5 for point 1 (label 2):
    # scores label 2 = 1.0, label 0 = 0.5. Query 1 has no votes: padding only.
    V = sp.csr_matrix(np.array([[0.5, 0.5], [0.0, 0.0]], np.float32))
    Y = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 1]], np.float32))
    ids, scores = top_k_labels(V, Y, 3)
    np.testing.assert_array_equal(ids, [[2, 0, -1], [-1, -1, -1]])
    np.testing.assert_array_equal(scores, [[1.0, 0.5, -np.inf], [-np.inf] * 3])


@pytest.mark.parametrize("offset", [0.0, 50.0])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_float32_screen_then_exact_rerank_matches_brute_force(offset, metric):
    # m = 600 rows, k = 12: the float32 screen keeps 28 candidates, re-ranked in float64.
    # Far from the origin (offset 50) the centring keeps the screen accurate.
    rng = np.random.default_rng(12)
    E = offset + rng.standard_normal((600, 16))
    Zq = offset + rng.standard_normal((40, 16))
    idx, _ = nearest_neighbors(Zq, E, 12, metric=metric, weighting="uniform")
    ref_idx, _ = brute_knn(Zq, E, 12, metric)
    np.testing.assert_array_equal(idx, ref_idx)


def test_screen_keeps_exact_ties_in_index_order():
    # 300 rows on an integer grid, many at equal distance from the integer queries, tie
    # groups larger than the screen's margin: the screen's float32 arithmetic stays exact
    # (coarse centre), so the rows kept at the k-th distance are the smallest, as in the
    # brute force.
    rng = np.random.default_rng(2)
    E = rng.integers(-1, 2, size=(300, 3)).astype(np.float32)  # ~11 rows per grid cell
    Zq = rng.integers(-1, 3, size=(20, 3)).astype(np.float32)
    idx, _ = nearest_neighbors(
        Zq, E, 30, metric="euclidean", weighting="uniform"
    )  # screen keeps 46 of the ~60 tied at the cut
    ref_idx, _ = brute_knn(Zq, E, 30, "euclidean")
    np.testing.assert_array_equal(idx, ref_idx)


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_row_medians_are_numpys(k):
    A = np.random.default_rng(k).random((7, k))
    A[0] = 0.5  # ties
    np.testing.assert_array_equal(neighbors._row_medians(A), np.median(A, axis=1, keepdims=True))
