"""Tests for sleec.graph.label_knn_graph against a brute-force top-k of Y Y^T.

The brute force ranks by exact rationals (overlap counts; cosine^2 = o^2 / (|y_i| |y_j|)),
so mathematically equal similarities are ties, broken by the smaller point index.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from sleec import graph
from sleec.graph import label_knn_graph

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, database=None)


def random_labels(seed: int, n: int, n_labels: int, density: float) -> sp.csr_matrix:
    """Binary labels with label-free rows and duplicated rows (many ties)."""
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, n_labels)) < density).astype(np.float32)
    if n >= 4:
        Y[rng.integers(0, n, size=n // 4)] = 0.0  # label-free rows
        src = rng.integers(0, n, size=n // 4)
        dst = rng.integers(0, n, size=n // 4)
        Y[dst] = Y[src]  # duplicates: exact ties
    return sp.csr_matrix(Y)


def brute_force_graph(Y: sp.csr_matrix, k: int, similarity: str, symmetric: bool) -> np.ndarray:
    """Dense (n, n) graph: row i keeps its top-k strictly positive similarities."""
    Yd = (Y.toarray() != 0).astype(np.int64)
    n = Yd.shape[0]
    overlap = Yd @ Yd.T  # exact integers
    deg = Yd.sum(axis=1)
    k = min(k, n)
    G = np.zeros((n, n))
    for i in range(n):
        cands = [j for j in range(n) if overlap[i, j] > 0]
        if similarity == "cosine":

            def key(j, i=i):
                return (-Fraction(int(overlap[i, j]) ** 2, int(deg[i] * deg[j])), j)
        else:

            def key(j, i=i):
                return (-int(overlap[i, j]), j)

        for j in sorted(cands, key=key)[:k]:
            G[i, j] = (
                overlap[i, j] / np.sqrt(deg[i] * deg[j])
                if similarity == "cosine"
                else overlap[i, j]
            )
    if symmetric:
        G = np.maximum(G, G.T)
    return G


def assert_graph_equal(G: sp.csr_matrix, ref: np.ndarray) -> None:
    assert sp.issparse(G) and G.format == "csr"
    assert G.shape == ref.shape
    assert G.dtype == np.float32
    assert G.has_sorted_indices
    Gd = G.toarray()
    # Same pattern exactly (no stored zeros: every stored similarity is strictly positive).
    assert np.all(G.data > 0)
    np.testing.assert_array_equal(Gd != 0, ref != 0)
    np.testing.assert_allclose(Gd, ref, rtol=1e-6, atol=0)


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_hand_example(similarity):
    # y0 = {0,1}, y1 = {0}, y2 = {}, y3 = {0,1}, y4 = {2}
    # dot row 0: y0:2, y3:2, y1:1 -> k=2 keeps 0 and 3 (tie 2 = 2: smaller index first)
    # cosine row 1: y1:1, y0:1/sqrt2, y3:1/sqrt2 -> k=2 keeps 1 and 0 (tie -> smaller index)
    Y = sp.csr_matrix(
        np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32)
    )
    G = label_knn_graph(Y, 2, similarity=similarity, symmetric=False).toarray()
    s = 1 / np.sqrt(2)
    if similarity == "dot":
        expected = [[2, 0, 0, 2, 0], [1, 1, 0, 0, 0], [0] * 5, [2, 0, 0, 2, 0], [0, 0, 0, 0, 1]]
    else:
        expected = [[1, 0, 0, 1, 0], [s, 1, 0, 0, 0], [0] * 5, [1, 0, 0, 1, 0], [0, 0, 0, 0, 1]]
    np.testing.assert_allclose(G, expected, rtol=1e-6, atol=0)
    assert label_knn_graph(Y, 2, similarity=similarity, symmetric=False)[2].nnz == 0


@SETTINGS
@given(
    st.integers(0, 2**31 - 1),
    st.integers(1, 30),
    st.integers(1, 8),
    st.sampled_from([0.1, 0.3, 0.6]),
    st.integers(1, 12),
    st.sampled_from(["cosine", "dot"]),
    st.booleans(),
)
def test_matches_brute_force(seed, n, n_labels, density, k, similarity, symmetric):
    Y = random_labels(seed, n, n_labels, density)
    G = label_knn_graph(Y, k, similarity=similarity, symmetric=symmetric)
    assert_graph_equal(G, brute_force_graph(Y, k, similarity, symmetric))


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_symmetric_is_union_of_directed_and_transpose(similarity):
    Y = random_labels(3, 60, 10, 0.25)
    D = label_knn_graph(Y, 5, similarity=similarity, symmetric=False)
    S = label_knn_graph(Y, 5, similarity=similarity, symmetric=True)
    assert (abs(S - S.T)).nnz == 0  # symmetric values
    union = ((D != 0) + (D.T != 0)).toarray()
    np.testing.assert_array_equal(S.toarray() != 0, union)
    # Each stored value is the similarity of the pair, whichever direction put it there.
    Dd = D.toarray()
    np.testing.assert_allclose(S.toarray(), np.maximum(Dd, Dd.T), rtol=1e-6)
    # Directed degree is at most k; the undirected graph only adds pairs.
    assert np.diff(D.indptr).max() <= 5


def test_label_free_rows_are_empty_and_all_empty_graph():
    Y = random_labels(5, 40, 6, 0.4)
    free = np.flatnonzero(np.diff(Y.indptr) == 0)
    assert free.size > 0
    for symmetric in (False, True):
        G = label_knn_graph(Y, 8, symmetric=symmetric, similarity="cosine")
        assert np.all(np.diff(G.indptr)[free] == 0)
        assert G[:, free].nnz == 0
    E = label_knn_graph(sp.csr_matrix((7, 4), dtype=np.float32), 3, similarity="cosine")
    assert E.shape == (7, 7) and E.nnz == 0


def test_self_included_when_labelled():
    # Distinct label rows: each labelled point is its own unique most similar point.
    Y = sp.csr_matrix(
        np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 1, 1], [0, 0, 0]], dtype=np.float32)
    )
    G = label_knn_graph(Y, 1, symmetric=False, similarity="cosine")
    np.testing.assert_array_equal(G.indices, [0, 1, 2, 3])
    np.testing.assert_allclose(G.data, 1.0, rtol=1e-6)
    np.testing.assert_array_equal(np.diff(G.indptr), [1, 1, 1, 1, 0])


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_n_neighbors_larger_than_n_is_clipped(similarity):
    Y = random_labels(11, 12, 4, 0.5)
    ref = brute_force_graph(Y, 12, similarity, symmetric=False)
    for k in (12, 13, 1000):
        G = label_knn_graph(Y, k, similarity=similarity, symmetric=False)
        assert_graph_equal(G, ref)
    # With k >= n every pair sharing a label is an edge.
    overlap = (Y.toarray() != 0).astype(int) @ (Y.toarray() != 0).astype(int).T
    np.testing.assert_array_equal(ref != 0, overlap > 0)


def test_chunking_and_parallel_do_not_change_the_result(monkeypatch):
    Y = random_labels(13, 300, 15, 0.15)
    ref = label_knn_graph(Y, 7, symmetric=False, similarity="cosine")
    assert_graph_equal(ref, brute_force_graph(Y, 7, "cosine", symmetric=False))
    variants = [{"parallel": True}, {"parallel": False}]
    for kw in variants:
        G = label_knn_graph(Y, 7, symmetric=False, **kw, similarity="cosine")
        assert (G != ref).nnz == 0, kw
        np.testing.assert_array_equal(G.indptr, ref.indptr)
        np.testing.assert_array_equal(G.indices, ref.indices)
    # The kernel's row-chunk size (rows per scratch buffer) has no effect either.
    for chunk in (1, 5, 299):
        monkeypatch.setattr(graph, "_CHUNK", chunk)
        for kw in [{}] + variants:
            G = label_knn_graph(Y, 7, symmetric=False, **kw, similarity="cosine")
            np.testing.assert_array_equal(G.toarray(), ref.toarray())


def test_unknown_similarity_raises():
    with pytest.raises(ValueError, match="similarity must be one of"):
        label_knn_graph(sp.csr_matrix(np.eye(3)), 2, similarity="jaccard")


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_rows_reaching_few_and_many_points_match_brute_force(similarity):
    # Rare labels (rows reaching < n/4 points: the kernel's touched-list path) next to two
    # common labels (rows reaching most points: its dense-scan path), with duplicate rows.
    rng = np.random.default_rng(4)
    n = 160
    Y = (rng.random((n, 120)) < 0.01).astype(np.float32)
    Y[: n // 2, 0] = 1.0
    Y[n // 4 :, 1] = rng.random(n - n // 4) < 0.5
    Y[10:20] = Y[0]
    Y = sp.csr_matrix(Y)
    reach = Y @ np.asarray(Y.sum(axis=0)).ravel()
    assert (4 * reach < n).sum() >= 10 and (4 * reach >= n).sum() >= 10
    for k in (1, 7, 40):
        G = label_knn_graph(Y, k, similarity=similarity, symmetric=False)
        assert_graph_equal(G, brute_force_graph(Y, k, similarity, symmetric=False))
