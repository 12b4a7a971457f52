"""Tests for sleec.cluster_model: one cluster's fit composes the stages, its prediction part
matches a brute-force kNN, and the embedding product is exact on both paths."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sleec import cluster_model
from sleec.cluster_model import cluster_neighbors, embed, fit_cluster, prepare_features
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
    G = label_knn_graph(Ytr[rows], 8, similarity="cosine")
    Z = svp_embed(G, 6, max_iter=5, tol=1e-3, step=1.5, seed=4).Z
    W = prune_weights(fit_l2(X[rows], Z, 1.0), 0.2).astype(np.float32)
    E = prune_embeddings(np.asarray(X[rows] @ W.toarray(), dtype=np.float32), 0.1)
    np.testing.assert_array_equal(local.rows, rows)
    np.testing.assert_array_equal(local.W.toarray(), W.toarray())
    np.testing.assert_allclose(local.E, E, rtol=1e-6, atol=1e-7)


def test_tiny_cluster_pads_the_embedding(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    X, _ = prepare_features(Xtr, normalize=True)
    local = fit_cluster(X, Ytr, np.arange(4, dtype=np.int32), CONFIG, seed=0)
    assert local.W.shape == (X.shape[1], 6) and local.E.shape == (4, 6)


def test_cluster_neighbors_match_brute_force(toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc
    X, _ = prepare_features(Xtr, normalize=True)
    rows = np.arange(0, 400, 2, dtype=np.int32)
    local = fit_cluster(X, Ytr, rows, CONFIG, seed=1)
    Q, _ = prepare_features(Xte[:30], normalize=True)
    got, w = cluster_neighbors(
        Q, local, QueryConfig(n_neighbors=7, metric="euclidean", weighting="uniform")
    )
    Zq = (Q @ local.W).toarray().astype(np.float64)
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


@pytest.mark.parametrize("dense_limit", [0, 2**24])
@pytest.mark.parametrize("n_rows", [0, 1, 40])
def test_embed_equals_the_dense_product_on_both_paths(monkeypatch, dense_limit, n_rows):
    # dense_limit 0 forces the sparse-times-sparse path; 2**24 lets W be expanded.
    monkeypatch.setattr(cluster_model, "_DENSE_WEIGHTS", dense_limit)
    rng = np.random.default_rng(5)
    X = sp.random(n_rows, 30, density=0.2, format="csr", dtype=np.float32, random_state=1)
    W = prune_weights(rng.standard_normal((30, 7)), 0.5).astype(np.float32)
    Z = embed(X, W)
    assert Z.dtype == np.float32 and Z.shape == (n_rows, 7)
    np.testing.assert_allclose(Z, X.toarray() @ W.toarray(), rtol=1e-5, atol=1e-6)
