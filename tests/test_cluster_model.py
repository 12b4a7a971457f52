"""Tests for sleec.cluster_model: one cluster's fit composes the stages, its prediction part
matches a brute-force kNN, and the embedding product is exact on both paths."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sleec import cluster_model
from sleec._sparse import select_columns
from sleec._state import LocalModel
from sleec.cluster_model import (
    RIDGE_MAX_ITER,
    RIDGE_TOL,
    cluster_neighbors,
    embed,
    fit_cluster,
    prepare_features,
)
from sleec.graph import label_knn_graph
from sleec.params import ClusterConfig, QueryConfig
from sleec.regression import fit_l2, prune_embeddings, prune_weights
from sleec.svp import svp_embed

CONFIG = ClusterConfig(
    n_components=6,
    n_graph_neighbors=8,
    label_similarity="cosine",
    svp_max_iter=5,
    svp_tol=1e-3,
    svp_step=1.5,
    l2_reg=1.0,
    l1_reg=0.0,
    admm_rho=1.0,
    admm_max_iter=10,
    weight_threshold=0.2,
    embedding_threshold=0.1,
)


def test_fit_cluster_composes_the_stages(toy_xmc):
    # Steps 2-4 by hand on the same rows give the same local model.
    Xtr, Ytr, *_ = toy_xmc
    X, _ = prepare_features(Xtr, normalize=True)
    rows = np.arange(10, 200, dtype=np.int32)
    local = fit_cluster(X, Ytr, rows, CONFIG, seed=4)
    features = np.unique(X[rows].indices)
    Xc = select_columns(X[rows], features)  # the columns the cluster uses
    G = label_knn_graph(Ytr[rows], 8, similarity="cosine")
    Z = svp_embed(G, 6, max_iter=5, tol=1e-3, step=1.5, seed=4).Z
    W = prune_weights(fit_l2(Xc, Z, 1.0, tol=RIDGE_TOL, max_iter=RIDGE_MAX_ITER), 0.2)
    # Kept on the model file's 8-bit grids: per feature (row) of W a step of max |w| / 127,
    # per column of E 256 levels from its minimum to its maximum.
    dense = W.toarray().astype(np.float32)
    step = np.abs(dense).max(axis=1) / np.float32(127)
    step[step == 0] = 1
    dense = np.clip(np.rint(dense / step[:, None]), -127, 127) * step[:, None]
    E = prune_embeddings(np.asarray(Xc @ dense, dtype=np.float32), 0.1)
    low, top = E.min(axis=0), E.max(axis=0)
    E = np.rint((E - low) / ((top - low) / 255)) * ((top - low) / 255) + low
    np.testing.assert_array_equal(local.rows, rows)
    np.testing.assert_array_equal(local.features, features)
    np.testing.assert_allclose(local.W.toarray(), dense, rtol=1e-6)
    np.testing.assert_allclose(local.W_scale, step, rtol=1e-6)
    assert local.W.nnz == np.count_nonzero(dense)  # no stored zeros
    np.testing.assert_allclose(local.E, E, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(local.E_grid, [(top - low) / 255, low], rtol=1e-5)


def test_tiny_cluster_pads_the_embedding(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    X, _ = prepare_features(Xtr, normalize=True)
    local = fit_cluster(X, Ytr, np.arange(4, dtype=np.int32), CONFIG, seed=0)
    assert local.W.shape == (local.features.size, 6) and local.E.shape == (4, 6)


def test_cluster_neighbors_match_brute_force(toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc
    X, _ = prepare_features(Xtr, normalize=True)
    rows = np.arange(0, 400, 2, dtype=np.int32)
    local = fit_cluster(X, Ytr, rows, CONFIG, seed=1)
    Q, _ = prepare_features(Xte[:30], normalize=True)
    got, w = cluster_neighbors(
        Q, local, QueryConfig(n_neighbors=7, metric="euclidean", weighting="uniform")
    )
    Zq = (Q[:, local.features] @ local.W).toarray().astype(np.float64)
    d2 = ((Zq[:, None, :] - local.E.astype(np.float64)[None]) ** 2).sum(-1)
    for i in range(30):
        order = np.lexsort((np.arange(rows.size), d2[i]))[:7]
        np.testing.assert_array_equal(got[i], rows[order])
    np.testing.assert_allclose(w, 1 / 7)


def test_prepare_features_decides_normalisation_once():
    X = sp.csr_matrix(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32))
    feats, route = prepare_features(X, normalize=False)
    assert feats is X
    np.testing.assert_allclose(route.toarray(), [[0.6, 0.8], [0.0, 0.0]])
    feats, route = prepare_features(X, normalize=True)
    assert feats is route


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("n_rows", [0, 1, 40])
def test_embed_equals_the_dense_product_and_scipys(monkeypatch, parallel, n_rows):
    # parallel: the row-parallel twin runs (threshold 0). The regressor covers features
    # 3, 5, ..., 29 only: the others contribute nothing.
    monkeypatch.setattr(cluster_model, "_PARALLEL_ENTRIES", 0 if parallel else 2**62)
    rng = np.random.default_rng(5)
    X = sp.random(n_rows, 30, density=0.2, format="csr", dtype=np.float32, random_state=1)
    features = np.arange(3, 30, 2, dtype=np.int32)
    W = prune_weights(rng.standard_normal((features.size, 7)), 0.5).astype(np.float32)
    local = LocalModel(np.zeros(0, np.int32), features, W, np.zeros((0, 7), np.float32))
    Z = embed(X, local)
    W_full = np.zeros((30, 7), np.float32)
    W_full[features] = W.toarray()
    assert Z.dtype == np.float32 and Z.shape == (n_rows, 7)
    np.testing.assert_allclose(Z, X.toarray() @ W_full, rtol=1e-5, atol=1e-6)
    # SciPy's float32 sparse product sums in the same order: the same bits
    np.testing.assert_array_equal(Z, (X @ sp.csr_matrix(W_full)).toarray())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("d", [50, 5000])  # position table / binary search
def test_select_columns_matches_dense_indexing(seed, d):
    rng = np.random.default_rng(seed)
    X = sp.random(12, d, density=7.5 / d, format="csr", dtype=np.float32, random_state=seed)
    keep = np.ones(12)
    keep[[3, 10, 11]] = 0  # an empty row, and trailing empty rows
    X = (sp.diags(keep.astype(np.float32)) @ X).tocsr()
    X.eliminate_zeros()
    columns = np.sort(rng.choice(d, size=int(rng.integers(0, 50)), replace=False))
    if seed == 4:
        columns = np.arange(d)  # every column
    got = select_columns(X, columns.astype(np.int32))
    assert got.shape == (12, columns.size)
    np.testing.assert_array_equal(got.toarray(), X.toarray()[:, columns])
