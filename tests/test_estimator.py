"""Tests for sleec.estimator.SLEEC: accuracy on a planted toy, predict contract, determinism,
sklearn contract, presets and input validation."""

from __future__ import annotations

import dataclasses
import inspect
import re
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score
from sklearn.preprocessing import normalize
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
)

from conftest import NO_STAGE, TOY_LABELS, TOY_N_LABELS
from sleec import SLEEC
from sleec.params import PARAMS
from sleec.presets import PRESETS

# The neighbour votes alone: the oracles below recompute them (tests/test_rerank.py covers
# the second stage).
SMALL = {
    "n_learners": 1,
    "n_components": 10,
    "n_graph_neighbors": 10,
    "n_neighbors": 5,
    **NO_STAGE,
}
N_LABELS = TOY_N_LABELS


@pytest.fixture(scope="module")
def toy(toy_xmc):
    return toy_xmc


@pytest.fixture(scope="module")
def fitted(toy):
    Xtr, Ytr, *_ = toy
    return SLEEC(**SMALL, random_state=0).fit(Xtr, Ytr)


@pytest.fixture(scope="module")
def ensemble(toy):
    """Several (learner, cluster) tasks: 2 learners x 3 clusters."""
    Xtr, Ytr, *_ = toy
    return SLEEC(**{**SMALL, "n_clusters": 3, "n_learners": 2}, random_state=1).fit(Xtr, Ytr)


def precision_at_1(Y: sp.csr_matrix, ids: np.ndarray) -> float:
    Yd = Y.toarray()
    top = ids[:, 0]
    return float(np.mean([(t >= 0) and Yd[i, t] > 0 for i, t in enumerate(top)]))


def reference_scores(model: SLEEC, X: sp.csr_matrix) -> np.ndarray:
    """Brute-force SLEEC scores from the fitted state: route each point to its nearest centre,
    embed it, take the n_neighbors nearest stored embeddings (float64 distances, ties by
    index; cosine = Euclidean on unit rows), weight their votes (uniform 1/k or
    exp(-d^2 / median d^2), normalised) and average their label vectors over learners."""
    Xn = normalize(X).astype(np.float32)
    Xf = Xn if model.normalize else X
    Y = model.train_labels_.toarray().astype(np.float64)
    S = np.zeros((X.shape[0], Y.shape[1]))

    def unit(A):
        norms = np.linalg.norm(A, axis=-1, keepdims=True)
        return A / np.where(norms > 0, norms, 1.0)

    for learner in model.learners_:
        route = np.argmax(Xn.toarray() @ learner.centers.toarray().T, axis=1)
        for i in range(X.shape[0]):
            loc = learner.locals[route[i]]
            z = (Xf[i][:, loc.features] @ loc.W).toarray().ravel().astype(np.float64)
            E = loc.E.astype(np.float64)
            if model.metric == "cosine":
                z, E = unit(z), unit(E)
            d2 = ((E - z) ** 2).sum(axis=1)
            k = min(model.n_neighbors, loc.rows.size)
            nearest = np.lexsort((np.arange(d2.size), d2))[:k]
            if model.weighting == "uniform":
                w = np.full(k, 1.0 / k)
            else:
                scale = np.median(d2[nearest])
                w = np.exp(-d2[nearest] / (scale if scale > 0 else 1.0))
                w /= w.sum()
            S[i] += w @ Y[loc.rows[nearest]] / len(model.learners_)
    return S


# ------------------------------------------------------------------------------ accuracy
def test_planted_toy_precision_at_1(fitted, toy):
    *_, Xte, Yte, group = toy
    ids, _ = fitted.predict_topk(Xte, 3)
    # Measured P@1 = 1.000 (every test point gets its group's anchor label); floor 0.95.
    assert precision_at_1(Yte, ids) >= 0.95
    assert np.mean(ids[:, 0] // TOY_LABELS == group) >= 0.95  # right group
    # P@3: the best possible is about (1 + 1/2 + 1/2) / 3 = 0.67; measured 0.665 (default
    # distance weighting; 0.660 with uniform votes); floor 0.6.
    hits = np.take_along_axis(Yte.toarray(), np.maximum(ids, 0), axis=1) * (ids >= 0)
    assert hits.mean() >= 0.6


def test_ensemble_precision_at_1(ensemble, toy):
    *_, Xte, Yte, _ = toy
    ids, _ = ensemble.predict_topk(Xte, 1)
    # Measured P@1 = 0.930 with 3 clusters x 2 learners (0.935 with uniform votes); floor 0.85.
    assert precision_at_1(Yte, ids) >= 0.85


def test_scores_match_brute_force_reference(fitted, ensemble, toy):
    *_, Xte, _, _ = toy
    for model in (fitted, ensemble):
        ref = reference_scores(model, Xte[:60])
        got = model.decision_function(Xte[:60], k=N_LABELS).toarray()
        np.testing.assert_allclose(got, ref, atol=1e-5)


# ---------------------------------------------------------------------- predict contract
def test_predict_topk_shapes_dtypes_sorted_and_padding(fitted, toy):
    *_, Xte, _, _ = toy
    k = N_LABELS + 5  # more than the labels any point can reach: clipped to n_labels
    ids, scores = fitted.predict_topk(Xte, k)
    assert ids.shape == scores.shape == (Xte.shape[0], N_LABELS)
    assert fitted.predict_topk(Xte[:3], 10**9)[0].shape == (3, N_LABELS)  # nothing huge
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    valid = ids >= 0
    # Each row: real predictions first, then padding (-1 / -inf) only.
    assert np.all(np.diff(valid.astype(int), axis=1) <= 0)
    assert not np.all(valid)  # some rows reach fewer labels: padded
    assert np.all(ids[~valid] == -1) and np.all(scores[~valid] == -np.inf)
    assert np.all(valid[:, 0])
    assert np.all(scores[valid] > 0)
    assert np.all(ids[valid] < N_LABELS)
    # Sorted by decreasing score; equal scores by increasing id; no repeated id in a row.
    step = np.diff(np.where(valid, scores, -1.0), axis=1)
    assert np.all(step[valid[:, 1:]] <= 0)
    tied = (step == 0) & valid[:, 1:]
    assert np.all(np.diff(ids, axis=1)[tied] > 0)
    for row in ids:
        real = row[row >= 0]
        assert np.unique(real).size == real.size
    n_labels_reached = valid.sum(axis=1)
    assert n_labels_reached.min() >= 1 and n_labels_reached.max() < k


def test_decision_function_returns_sparse_scores_matching_topk(fitted, toy):
    *_, Xte, _, _ = toy
    for k in (1, 3, 30):
        ids, scores = fitted.predict_topk(Xte, k)
        P = fitted.decision_function(Xte, k)
        assert sp.issparse(P) and P.shape == (Xte.shape[0], N_LABELS)
        assert P.dtype == np.float32
        assert np.all(P.getnnz(axis=1) == (ids >= 0).sum(axis=1))
        Pd = P.toarray()
        rows, cols = np.nonzero(ids >= 0)
        np.testing.assert_array_equal(Pd[rows, ids[rows, cols]], scores[rows, cols])
        # Re-ranking the sparse scores gives predict_topk back (ties by smaller id).
        for i in range(Xte.shape[0]):
            row = P.getrow(i)
            order = sorted(zip(row.indices, row.data, strict=True), key=lambda t: (-t[1], t[0]))
            np.testing.assert_array_equal([c for c, _ in order], ids[i][ids[i] >= 0])


def test_predict_is_the_top_k_indicator(fitted, toy):
    # scikit-learn's multi-label convention: a 0/1 indicator of each row's top-k labels.
    *_, Xte, Yte, _ = toy
    for k in (None, 1, 3):
        P = fitted.predict(Xte, k)
        ids, scores = fitted.predict_topk(Xte, 5 if k is None else k)
        assert sp.issparse(P) and P.dtype == np.int8 and P.shape == (Xte.shape[0], N_LABELS)
        expected = np.zeros(P.shape, dtype=np.int8)
        rows, cols = np.nonzero(ids >= 0)
        expected[rows, ids[rows, cols]] = 1
        np.testing.assert_array_equal(P.toarray(), expected)
    # threshold: only labels scoring at least it
    P = fitted.predict(Xte, 5, threshold=0.5)
    ids, scores = fitted.predict_topk(Xte, 5)
    assert P.nnz == int(((ids >= 0) & (scores >= 0.5)).sum()) and 0 < P.nnz < (ids >= 0).sum()
    assert f1_score(Yte, fitted.predict(Xte), average="micro") > 0.3


def test_predict_labels_names_without_padding(fitted, toy):
    *_, Xte, _, _ = toy
    ids, _ = fitted.predict_topk(Xte, 30)
    names = fitted.predict_labels(Xte, 30)
    assert [len(row) for row in names] == (ids >= 0).sum(axis=1).tolist()
    assert names[0] == fitted.classes_[ids[0][ids[0] >= 0]].tolist()
    np.testing.assert_array_equal(fitted.classes_, np.arange(N_LABELS))


def test_predict_proba_is_the_vote_share_of_every_label(fitted, toy):
    # Each label's probability = the summed weights of the neighbours carrying it (weights
    # sum to 1): the brute-force reference's scores, in [0, 1], for every label.
    *_, Xte, _, _ = toy
    proba = fitted.predict_proba(Xte[:40])
    assert proba.shape == (40, N_LABELS) and proba.dtype == np.float32
    np.testing.assert_allclose(proba, reference_scores(fitted, Xte[:40]), atol=1e-6)
    assert proba.min() >= 0 and proba.max() <= 1 + 1e-6


def test_score_is_precision_at_top_k(fitted, toy):
    *_, Xte, Yte, _ = toy
    ids, _ = fitted.predict_topk(Xte, 5)
    hits = [np.isin(ids[i], Yte[i].indices).sum() for i in range(Xte.shape[0])]
    assert fitted.score(Xte, Yte) == pytest.approx(np.mean(hits) / 5)
    one = clone(fitted).set_params(top_k=1).fit(*toy[:2])
    assert one.score(Xte, Yte) == pytest.approx(precision_at_1(Yte, one.predict_topk(Xte, 1)[0]))


def test_predict_batches_dense_input_and_empty_input(fitted, toy):
    *_, Xte, _, _ = toy
    ids, scores = fitted.predict_topk(Xte, 4)
    ids_b, scores_b = fitted.predict_topk(Xte, 4, batch_size=7)
    np.testing.assert_array_equal(ids, ids_b)
    # Other batch shapes change float32 BLAS blocking in the distances: ~1e-6 score noise
    # (measured 1.9e-6) under distance weighting.
    np.testing.assert_allclose(scores_b, scores, rtol=1e-5)
    for other in (Xte.toarray(), sp.csr_array(Xte), Xte.tocoo(), Xte.astype(np.float64)):
        ids_d, scores_d = fitted.predict_topk(other, 4)
        np.testing.assert_array_equal(ids, ids_d)
        np.testing.assert_array_equal(scores, scores_d)
    ids_0, scores_0 = fitted.predict_topk(Xte[:0], 4)
    assert ids_0.shape == scores_0.shape == (0, 4)
    assert fitted.predict(Xte[:0]).shape == (0, N_LABELS)


def test_fitted_attributes(fitted, toy):
    Xtr, Ytr, *_ = toy
    assert fitted.n_features_in_ == Xtr.shape[1]
    assert fitted.n_labels_ == N_LABELS
    assert len(fitted.learners_) == 1
    (learner,) = fitted.learners_
    assert learner.centers.shape == (1, Xtr.shape[1]) and sp.issparse(learner.centers)
    (loc,) = learner.locals
    np.testing.assert_array_equal(np.sort(loc.rows), np.arange(400))
    # The regressor lives on the features the cluster's points use, not on all d.
    np.testing.assert_array_equal(loc.features, np.unique(Xtr.indices))
    assert loc.W.shape == (loc.features.size, SMALL["n_components"])
    assert loc.E.shape == (400, SMALL["n_components"])
    assert (fitted.train_labels_ != Ytr).nnz == 0


def test_ensemble_structure(ensemble):
    assert len(ensemble.learners_) == 2
    for learner in ensemble.learners_:
        rows = np.concatenate([loc.rows for loc in learner.locals])
        np.testing.assert_array_equal(np.sort(rows), np.arange(400))  # a partition
        assert 1 <= len(learner.locals) == learner.centers.shape[0] <= 3


def test_fit_and_predict_leave_inputs_untouched(fitted, toy):
    Xtr, Ytr, Xte, _, _ = toy
    # Non-canonical X: every entry stored twice with half its value (duplicates sum to Xtr).
    coo = Xtr.tocoo()
    rows = np.r_[coo.row, coo.row]
    order = np.argsort(rows, kind="stable")
    X = sp.csr_matrix(
        (
            np.r_[coo.data, coo.data][order] / 2,
            np.r_[coo.col, coo.col][order],
            np.r_[0, np.cumsum(np.bincount(rows, minlength=Xtr.shape[0]))],
        ),
        shape=Xtr.shape,
    )
    assert not X.has_canonical_format and abs(X - Xtr).max() == 0
    Y = Ytr.copy()
    Y.data *= 3.0  # counts, not 0/1: treated as labels
    X_before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    Y_before = (Y.data.copy(), Y.indices.copy(), Y.indptr.copy())
    model = SLEEC(**SMALL, random_state=0).fit(X, Y)
    Xq = Xte.copy()
    model.predict_topk(Xq, 3)
    for a, b in zip(X_before, (X.data, X.indices, X.indptr), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(Y_before, (Y.data, Y.indices, Y.indptr), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (Xq != Xte).nnz == 0
    np.testing.assert_array_equal(model.train_labels_.data, 1.0)  # stored as binary
    assert (model.train_labels_ != (Ytr != 0)).nnz == 0
    # Same data once canonicalised and binarised: the same model as the fixture's.
    for a, b in zip(fitted.predict_topk(Xte, 3), model.predict_topk(Xte, 3), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------- determinism
def learner_arrays(model: SLEEC):
    for learner in model.learners_:
        yield learner.centers.toarray()
        for loc in learner.locals:
            yield from (loc.rows, loc.features, loc.W.toarray(), loc.E)


def test_same_random_state_identical_output(fitted, toy):
    Xtr, Ytr, Xte, _, _ = toy
    again = SLEEC(**SMALL, random_state=0).fit(Xtr, Ytr)
    for a, b in zip(learner_arrays(fitted), learner_arrays(again), strict=True):
        np.testing.assert_array_equal(a, b)
    for k in (1, 5):
        np.testing.assert_array_equal(fitted.predict_topk(Xte, k)[0], again.predict_topk(Xte, k)[0])
        np.testing.assert_array_equal(fitted.predict_topk(Xte, k)[1], again.predict_topk(Xte, k)[1])


def test_n_jobs_does_not_change_the_result(ensemble, toy):
    Xtr, Ytr, Xte, _, _ = toy
    params = ensemble.get_params()
    one = SLEEC(**{**params, "n_jobs": 1}).fit(Xtr, Ytr)
    two = SLEEC(**{**params, "n_jobs": 2}).fit(Xtr, Ytr)
    n_tasks = sum(len(lr.locals) for lr in one.learners_)
    assert n_tasks >= 4
    for a, b, c in zip(
        learner_arrays(one), learner_arrays(two), learner_arrays(ensemble), strict=True
    ):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)  # n_jobs=None too
    ids1, s1 = one.predict_topk(Xte, 5)
    ids2, s2 = two.predict_topk(Xte, 5)
    np.testing.assert_array_equal(ids1, ids2)
    np.testing.assert_array_equal(s1, s2)


def test_callback_reports_each_clustering_and_every_task(toy):
    """Progress moves from the start: (0, total), one step per learner's clustering, one
    per (learner, cluster) task; 2 learners x 2 clusters: 2 + 4 steps."""
    Xtr, Ytr, *_ = toy
    calls = []
    SLEEC(**{**SMALL, "n_clusters": 2, "n_learners": 2}, random_state=0).fit(
        Xtr, Ytr, callback=lambda done, total: calls.append((done, total))
    )
    assert calls == [(i, 6) for i in range(7)]


def test_callback_counts_the_second_stage_from_the_start(toy):
    """With the second stage: its mining and its ranker blocks are steps too, and the total
    is known at the first call (one ranker block with one worker: 1 + 2 + 2 steps)."""
    Xtr, Ytr, *_ = toy
    calls = []
    params = {k: v for k, v in SMALL.items() if k not in ("shortlist_votes", "shortlist_centroids")}
    SLEEC(**{**params, "n_clusters": 2, "n_learners": 1}, random_state=0, n_jobs=1).fit(
        Xtr, Ytr, callback=lambda done, total: calls.append((done, total))
    )
    assert calls == [(i, 5) for i in range(6)]


def test_predict_callback_and_fewer_learners(toy):
    Xtr, Ytr, Xte, *_ = toy
    model = SLEEC(**{**SMALL, "n_learners": 3}, random_state=0).fit(Xtr, Ytr)
    calls = []
    ids, scores = model.predict_topk(Xte, 3, batch_size=70, callback=lambda *a: calls.append(a))
    n = Xte.shape[0]
    assert calls == [(min(n, b), n) for b in range(70, n + 70, 70)]
    # the first learner alone is the model of that learner alone
    one = SLEEC(**{**SMALL, "n_learners": 3}, random_state=0).fit(Xtr, Ytr)
    one.state_ = dataclasses.replace(one.state_, learners=one.state_.learners[:1])
    np.testing.assert_array_equal(
        model.predict_topk(Xte, 3, n_learners=1)[0], one.predict_topk(Xte, 3)[0]
    )
    with pytest.raises(ValueError, match="'n_learners' parameter .* range \\[1, 3\\]"):
        model.predict_topk(Xte, 3, n_learners=4)
    # threads do not change the result
    model.set_params(n_jobs=1)
    np.testing.assert_array_equal(model.predict_topk(Xte, 3)[0], ids)


# ------------------------------------------------------------------------ other settings
def test_l1_path_runs_and_predicts(toy):
    Xtr, Ytr, Xte, Yte, _ = toy
    model = SLEEC(**SMALL, l1_reg=0.1, admm_max_iter=20, random_state=0).fit(Xtr, Ytr)
    ids, scores = model.predict_topk(Xte, 3)
    assert ids.shape == (Xte.shape[0], 3) and np.all(ids[:, 0] >= 0)
    # Measured P@1 = 1.000 on the toy; floor 0.95.
    assert precision_at_1(Yte, ids) >= 0.95
    # The L1 path is a different regressor from the ridge one.
    ridge = SLEEC(**SMALL, random_state=0).fit(Xtr, Ytr)
    assert not np.array_equal(
        model.learners_[0].locals[0].W.toarray(), ridge.learners_[0].locals[0].W.toarray()
    )


@pytest.mark.parametrize(
    "override",
    [
        {"metric": "cosine"},
        {"weighting": "distance"},
        {"weighting": "uniform"},
        {"label_similarity": "dot"},
        {"normalize": False},
        {"weight_threshold": 0.5, "embedding_threshold": 0.5},
    ],
    ids=lambda o: ",".join(o),
)
def test_variants_fit_and_predict(toy, override):
    Xtr, Ytr, Xte, Yte, _ = toy
    model = SLEEC(**{**SMALL, **override}, random_state=0).fit(Xtr, Ytr)
    ids, _ = model.predict_topk(Xte, 1)
    assert precision_at_1(Yte, ids) >= 0.9  # measured 1.000 for each variant
    ref = reference_scores(model, Xte[:20])
    np.testing.assert_allclose(
        model.decision_function(Xte[:20], k=N_LABELS).toarray(), ref, atol=1e-5
    )


def test_more_components_than_cluster_points(toy):
    # Tiny clusters: the embedding rank is clipped to the cluster size and padded with zeros.
    Xtr, Ytr, Xte, _, _ = toy
    model = SLEEC(
        n_components=12, n_graph_neighbors=4, n_neighbors=3, n_clusters=2, random_state=0
    ).fit(Xtr[:10], Ytr[:10])
    for loc in model.learners_[0].locals:
        assert loc.W.shape[1] == 12 and loc.E.shape == (loc.rows.size, 12)
    ids, _ = model.predict_topk(Xte[:5], 3)
    assert ids.shape == (5, 3)


# -------------------------------------------------------------------- sklearn contract
def test_clone_and_get_params_round_trip(fitted):
    params = fitted.get_params()
    c = clone(fitted)
    assert c.get_params() == params
    assert not hasattr(c, "learners_")
    assert SLEEC(**params).get_params() == params
    c.set_params(n_neighbors=7, metric="cosine")
    assert c.n_neighbors == 7 and c.metric == "cosine"
    assert fitted.n_neighbors == SMALL["n_neighbors"]  # the original is untouched
    assert set(params) >= {  # the documented parameters (more may be added)
        "n_learners",
        "n_clusters",
        "n_components",
        "n_graph_neighbors",
        "n_neighbors",
        "label_similarity",
        "svp_max_iter",
        "svp_tol",
        "l2_reg",
        "l1_reg",
        "admm_rho",
        "admm_max_iter",
        "weight_threshold",
        "embedding_threshold",
        "metric",
        "weighting",
        "normalize",
        "random_state",
        "n_jobs",
    }


@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_get_params_invariance,
        check_parameters_default_constructible,
    ],
)
def test_sklearn_contract_checks(check):
    check("SLEEC", SLEEC())
    check("SLEEC", SLEEC(**SMALL, n_clusters=3, random_state=0))


def test_init_only_stores_parameters():
    # Invalid values are stored as given; validation happens in fit (sklearn contract).
    model = SLEEC(n_components=-1, metric="nope")
    assert model.n_components == -1 and model.metric == "nope"


# ------------------------------------------------------------------------------- presets
# The authors' parameter files (docs: shared/reference/SLEEC.md), typed in independently:
# name: (learners, clusters, SVP_neigh, out_Dim, w_thresh, sp_thresh, cost, NNtest, normalize)
AUTHORS = {
    "bibtex": (1, 1, 250, 100, 0.01, 0.01, 0.2, 25, True),
    "delicious": (1, 1, 500, 100, 0.01, 0.01, 0.1, 70, True),
    "eurlex-4k": (5, 3, 100, 100, 0.01, 0.01, 1.0, 8, True),
    "mediamill": (15, 5, 300, 30, 0.01, 0.01, 1.0, 4, False),
    "wiki10-31k": (5, 5, 50, 75, 0.75, 0.5, 0.1, 11, True),
    "delicious-200k": (5, 50, 50, 50, 0.70, 0.70, 0.1, 70, True),
    "wikilshtc-325k": (10, 300, 15, 50, 0.95, 0.75, 0.1, 10, True),
    "amazon-670k": (20, 100, 25, 50, 0.80, 0.5, 0.1, 5, True),
}


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_from_preset(name):
    assert set(PRESETS) == set(AUTHORS)
    learners, clusters, neigh, dim, w_t, sp_t, cost, nn, norm = AUTHORS[name]
    model = SLEEC.from_preset(name)
    assert isinstance(model, SLEEC)
    assert model.n_learners == learners and model.n_clusters == clusters
    assert model.n_graph_neighbors == neigh and model.n_components == dim
    assert model.weight_threshold == w_t and model.embedding_threshold == sp_t
    assert model.l2_reg == pytest.approx(1 / (2 * cost))
    assert model.n_neighbors == nn and model.normalize is norm
    model.validated_params()  # the preset is a valid configuration
    # Case-insensitive names and overrides.
    other = SLEEC.from_preset(name.upper(), n_neighbors=3, random_state=5)
    assert other.n_neighbors == 3 and other.random_state == 5
    assert other.n_components == dim


def test_bibtex_preset_l2_reg_is_2_5():
    assert SLEEC.from_preset("bibtex").l2_reg == pytest.approx(2.5)


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"Unknown preset 'nope'; expected one of \["):
        SLEEC.from_preset("nope")


# ---------------------------------------------------------------------------- validation
def test_row_mismatch(toy):
    Xtr, Ytr, *_ = toy
    with pytest.raises(
        ValueError, match=r"X and Y have inconsistent numbers of rows: 400 != 399\."
    ):
        SLEEC(**SMALL).fit(Xtr, Ytr[:399])


def test_nan_in_x(toy):
    Xtr, Ytr, *_ = toy
    X = Xtr.toarray()
    X[7, 3] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first in row 7\)"):
        SLEEC(**SMALL).fit(X, Ytr)
    X[7, 3] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        SLEEC(**SMALL).fit(sp.csr_matrix(X), Ytr)


def test_negative_y(toy):
    Xtr, Ytr, *_ = toy
    Y = Ytr.toarray()
    Y[5, 2] = -1
    with pytest.raises(
        ValueError,
        match=r"Y must be a label matrix with non-negative entries; "
        r"found a negative entry in row 5",
    ):
        SLEEC(**SMALL).fit(Xtr, Y)


def test_wrong_n_features_at_predict(fitted, toy):
    *_, Xte, _, _ = toy
    with pytest.raises(
        ValueError,
        match=r"X has 99 features, but SLEEC is expecting 100 "
        r"features as input\.",
    ):
        fitted.predict_topk(Xte[:, :99])
    with pytest.raises(ValueError, match="X has 101 features"):
        fitted.predict(sp.hstack([Xte, Xte[:, :1]]).tocsr())


def test_unfitted_predict_and_save(toy, tmp_path):
    *_, Xte, _, _ = toy
    for call in (
        lambda m: m.predict_topk(Xte),
        lambda m: m.predict(Xte),
        lambda m: m.save(tmp_path / "m.npz"),
    ):
        with pytest.raises(NotFittedError):
            call(SLEEC())
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("k", "exc", "match"),
    [
        (
            0,
            ValueError,
            r"The 'k' parameter must be an int in the range \[1, inf\)\. Got 0 instead",
        ),
        (-3, ValueError, r"The 'k' parameter must be an int in the range \[1, inf\)\. Got -3"),
        (
            2.5,
            TypeError,
            r"The 'k' parameter must be an int in the range \[1, inf\)\. Got 2\.5 "
            r"\(float\) instead",
        ),
        ("5", TypeError, r"The 'k' parameter must be an int"),
        (True, TypeError, r"The 'k' parameter must be an int"),
    ],
)
def test_bad_k(fitted, toy, k, exc, match):
    *_, Xte, _, _ = toy
    for method in (fitted.predict_topk, fitted.predict, fitted.decision_function):
        with pytest.raises(exc, match=match):
            method(Xte, k)


INT_RANGE = r"must be an int in the range \[1, 2147483647\]\. Got {} instead\."
UNIT = r"must be a float in the range \[0\.0, 1\.0\)\. Got {} instead\."
NON_NEG = r"must be a float in the range \[0\.0, inf\)\. Got {} instead\."
BAD_PARAMS = [  # the exact messages, written out by hand
    ("n_learners", 0, ValueError, INT_RANGE.format(0)),
    (
        "n_clusters",
        0,
        ValueError,
        r"must be an int in the range \[1, 2147483647\] or 'auto'\. "
        r"Got 0 instead\.",
    ),
    (
        "n_clusters",
        "many",
        ValueError,
        r"must be an int in the range \[1, 2147483647\] or 'auto'\. Got 'many'",
    ),
    ("n_components", 0, ValueError, INT_RANGE.format(0)),
    (
        "n_components",
        2.0,
        TypeError,
        r"must be an int in the range \[1, 2147483647\]\. Got "
        r"2\.0 \(float\) instead\.",
    ),
    ("n_components", 10**30, ValueError, INT_RANGE.format(10**30)),
    ("n_graph_neighbors", 0, ValueError, INT_RANGE.format(0)),
    ("n_neighbors", -1, ValueError, INT_RANGE.format(-1)),
    ("svp_max_iter", 0, ValueError, INT_RANGE.format(0)),
    ("svp_tol", -0.1, ValueError, NON_NEG.format(-0.1)),
    ("svp_tol", float("nan"), ValueError, NON_NEG.format("nan")),
    (
        "svp_step",
        0.0,
        ValueError,
        r"must be a float in the range \(0\.0, 2\.0\]\. Got 0\.0 "
        r"instead\.",
    ),
    ("svp_step", 2.5, ValueError, r"must be a float in the range \(0\.0, 2\.0\]\. Got 2\.5"),
    (
        "l2_reg",
        -1.0,
        ValueError,
        r"must be a float in the range \[0\.0, inf\) or 'auto'\. Got "
        r"-1\.0 instead\.",
    ),
    ("l2_reg", float("inf"), ValueError, r"must be a float .* or 'auto'\. Got inf instead\."),
    ("l1_reg", -0.5, ValueError, NON_NEG.format(-0.5)),
    (
        "admm_rho",
        0.0,
        ValueError,
        r"must be a float in the range \(0\.0, inf\)\. Got 0\.0 "
        r"instead\.",
    ),
    ("admm_max_iter", 0, ValueError, INT_RANGE.format(0)),
    ("weight_threshold", 1.0, ValueError, UNIT.format(1.0)),
    ("weight_threshold", -0.01, ValueError, UNIT.format(-0.01)),
    ("embedding_threshold", 1.5, ValueError, UNIT.format(1.5)),
    (
        "label_similarity",
        "jaccard",
        ValueError,
        r"must be one of \['cosine', 'dot'\]\. "
        r"Got 'jaccard' instead\.",
    ),
    ("metric", "manhattan", ValueError, r"must be one of \['euclidean', 'cosine'\]"),
    ("weighting", "inverse", ValueError, r"must be one of \['uniform', 'distance'\]"),
    ("normalize", "yes", ValueError, r"must be one of \[True, False\]\. Got 'yes' instead\."),
    (
        "n_jobs",
        1.5,
        TypeError,
        r"must be None or an int in the range \[-1024, 1024\] other "
        r"than 0\. Got 1\.5 \(float\) instead\.",
    ),
    (
        "n_jobs",
        0,
        ValueError,
        r"must be None or an int in the range \[-1024, 1024\] other "
        r"than 0\. Got 0 instead\.",
    ),
    ("n_jobs", 1000000, ValueError, r"must be None or an int .* Got 1000000 instead\."),
    (
        "random_state",
        -1,
        ValueError,
        r"must be None, an int in the range \[0, 4294967295\] or "
        r"a numpy RandomState\. Got -1 instead\.",
    ),
    ("l1_reg", float("nan"), ValueError, NON_NEG.format("nan")),
    ("svp_tol", "0.1", TypeError, r"must be a float in the range .* Got '0\.1' \(str\)"),
    ("n_learners", True, TypeError, r"must be an int .* Got True \(bool\)"),
    ("n_jobs", "2", TypeError, r"must be None or an int .* Got '2' \(str\)"),
    ("normalize", 1, ValueError, r"must be one of \[True, False\]\. Got 1 instead"),
]


@pytest.mark.parametrize(
    ("name", "value", "exc", "match"), BAD_PARAMS, ids=[f"{p[0]}={p[1]!r}" for p in BAD_PARAMS]
)
def test_bad_parameter(toy, name, value, exc, match):
    Xtr, Ytr, *_ = toy
    model = SLEEC(**{**SMALL, name: value})
    with pytest.raises(exc, match=rf"The '{name}' parameter of SLEEC {match}"):
        model.fit(Xtr[:20], Ytr[:20])
    assert not hasattr(model, "learners_")


def table_bad_values():
    """Bad values derived from each row of the parameter table: the wrong type, and each
    side just outside its range or choices."""
    cases = []
    for p in PARAMS:
        if p.kind == "choice":
            cases += [(p.name, "nope", ValueError), (p.name, [p.default], ValueError)]
            continue
        if p.kind == "seed":
            cases += [(p.name, 2**32, ValueError), (p.name, 1.5, TypeError)]
            continue
        text_allowed = any(isinstance(x, str) for x in p.also)  # "1" is then a bad value
        cases += [
            (p.name, "1", ValueError if text_allowed else TypeError),
            (p.name, True, TypeError),
        ]
        if p.kind == "int":
            cases.append((p.name, 2.0, TypeError))
        else:
            cases.append((p.name, float("nan"), ValueError))
        if p.low is not None:
            step = 1 if p.kind == "int" else 1e-9
            cases.append((p.name, p.low if p.low_open else p.low - step, ValueError))
        if p.high is not None:
            step = 1 if p.kind == "int" else 1e-9
            cases.append((p.name, p.high if p.high_open else p.high + step, ValueError))
    return cases


@pytest.mark.parametrize(
    ("name", "value", "exc"),
    table_bad_values(),
    ids=[f"{c[0]}={c[1]!r}" for c in table_bad_values()],
)
def test_every_parameter_refuses_bad_values(toy, name, value, exc):
    Xtr, Ytr, *_ = toy
    model = SLEEC(**{**SMALL, name: value})
    with pytest.raises(
        exc,
        match=rf"^The '{name}' parameter of SLEEC must be .+\. Got .+ "
        r"instead\.$",
    ):
        model.fit(Xtr[:20], Ytr[:20])


def test_parameter_table_matches_the_signature():
    # scikit-learn reads names and defaults from __init__; the table is the source for the
    # rest: both must agree, and the docstring documents every parameter.
    defaults = SLEEC().get_params()
    assert [p.name for p in PARAMS] == list(inspect.signature(SLEEC).parameters)
    assert {p.name: p.default for p in PARAMS} == defaults
    for p in PARAMS:
        assert f"\n    {p.name} : " in SLEEC.__doc__, p.name
        assert p.check(p.default) == p.default  # every default is valid


def test_validated_values_are_the_converted_ones(toy):
    # A Fraction step or a numpy int validates and is then used as a plain float / int.
    Xtr, Ytr, Xte, _, _ = toy
    model = SLEEC(
        **{**SMALL, "svp_step": Fraction(3, 2), "n_neighbors": np.int64(5)}, random_state=0
    )
    params = model.validated_params()
    assert type(params["svp_step"]) is float and params["svp_step"] == 1.5
    assert type(params["n_neighbors"]) is int
    ref = SLEEC(**{**SMALL, "svp_step": 1.5}, random_state=0).fit(Xtr, Ytr)
    np.testing.assert_array_equal(
        model.fit(Xtr, Ytr).predict_topk(Xte, 3)[0], ref.predict_topk(Xte, 3)[0]
    )


def test_empty_training_set():
    with pytest.raises(
        ValueError, match="X and Y are empty: fitting needs at least one training point"
    ):
        SLEEC(**SMALL).fit(sp.csr_matrix((0, 5)), sp.csr_matrix((0, 3)))


def test_all_rows_label_free(toy):
    Xtr, *_ = toy
    with pytest.raises(
        ValueError, match="Y has no labels at all: every training point is label-free"
    ):
        SLEEC(**SMALL).fit(Xtr, sp.csr_matrix((400, 7)))


def test_some_label_free_rows_are_fine(toy):
    # Label-free training rows are allowed (empty graph rows); explicit zeros are not labels.
    Xtr, Ytr, Xte, Yte, _ = toy
    Y = Ytr.tolil()
    Y[::4] = 0
    Y = Y.tocsr()
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, Y)
    ids, _ = model.predict_topk(Xte, 1)
    assert precision_at_1(Yte, ids) >= 0.9  # measured 0.970


# --------------------------------------------------------- fit refuses what save cannot store
@pytest.mark.parametrize(("column", "row"), [(2**31, 0), (2**31 + 7, 3), (2**33, 5)])
def test_fit_refuses_label_ids_beyond_int32(toy, column, row):
    Xtr = toy[0][:6]
    cols = [0, 1, 2, 0, 1, 2]
    cols[row] = column
    Y = sp.csr_matrix((np.ones(6, np.float32), (np.arange(6), cols)), shape=(6, column + 1))
    with pytest.raises(
        ValueError,
        match=rf"Y has a label in column {column} \(first in row {row}\); sleec stores label "
        r"ids as int32",
    ):
        SLEEC(**{**SMALL, "n_graph_neighbors": 3, "n_neighbors": 2}).fit(Xtr, Y)


@pytest.mark.parametrize(
    "y",
    [
        [[2**63]] + [[i % 3] for i in range(5)],
        [[0], [1], [-(2**63) - 1], [0], [1], [2]],
        np.array([2**63 + i % 3 for i in range(6)], dtype=np.uint64),
    ],
    ids=["2**63 in lists", "-2**63 - 1 in lists", "uint64 classes"],
)
def test_fit_refuses_integer_names_beyond_int64(toy, y):
    with pytest.raises(ValueError, match=r"Y\[\d\] holds the label name -?\d+, beyond the int64"):
        SLEEC(**{**SMALL, "n_graph_neighbors": 3, "n_neighbors": 2}).fit(toy[0][:6], y)


def test_large_integer_names_save_and_load(toy, tmp_path):
    # Names are stored as int64 (ids are their positions): 2**31 and above do not wrap.
    names = [2**31, 2**40, 2**63 - 1, -(2**63)]
    model = SLEEC(**SMALL, random_state=0).fit(toy[0], [[names[i % 4]] for i in range(400)])
    model.save(tmp_path / "m.npz")
    assert SLEEC.load(tmp_path / "m.npz").classes_.tolist() == sorted(names)


# ------------------------------------------------------- label names the outputs can write
BAD_NAMES = [
    ("a,b", r"holds a comma"),
    ("a\tb", r"holds a tab"),
    *[
        (f"a{c}b", rf"holds a line break \(U\+{ord(c):04X}\)")
        for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
    ],
    ("a\x1bb", r"holds a control character \(U\+001B\)"),
    ("a\x00b", r"holds a control character \(U\+0000\)"),
    ("a\x7f", r"holds a control character \(U\+007F\)"),
    ("a\ud800", r"holds a lone surrogate \(U\+D800\)"),
    ("", r"is empty"),
    ("   ", r"is only whitespace"),
    (" cat", r"has leading or trailing whitespace"),
    ("cat\u00a0", r"has leading or trailing whitespace"),
]


@pytest.mark.parametrize(("bad", "problem"), BAD_NAMES, ids=[repr(b) for b, _ in BAD_NAMES])
@pytest.mark.parametrize("form", ["lists", "multiclass"])
def test_fit_refuses_label_names_the_outputs_cannot_write(toy, bad, problem, form):
    names = ["cat", "dog", "new york"]
    rows = [[names[i % 3]] for i in range(12)]
    rows[7] = [names[0], bad] if form == "lists" else [bad]
    y = rows if form == "lists" else np.array([r[0] for r in rows], dtype=object)
    with pytest.raises(
        ValueError,
        match=rf"Y\[7\] holds the label name {re.escape(repr(bad))}, which {problem}; label "
        r"names must be non-empty, without leading or trailing whitespace, commas, tabs, line "
        r"breaks or other control characters",
    ):
        SLEEC(**{**SMALL, "n_graph_neighbors": 3, "n_neighbors": 2}).fit(toy[0][:12], y)


def test_label_names_within_the_rule_are_fine(toy):
    names = ["new york", "C++", "日本", "café", "a/b", "a;b", "x:1", "__label__x"]
    model = SLEEC(**SMALL, random_state=0).fit(toy[0], [[names[i % 8]] for i in range(400)])
    assert model.classes_.tolist() == sorted(names)
