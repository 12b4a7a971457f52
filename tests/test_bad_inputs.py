"""Catalogue of bad and degenerate inputs: what each public entry point does with them.

Every bad input must fail with the exact exception type and a message naming what is wrong;
every degenerate but valid input must work.

Categories (test cases after parametrization: 173):

1. Estimator inputs (``test_estimator_*``): 59 cases
   (rows, NaN/inf, negative/NaN labels, feature count, unfitted, k, one bad value for every
   parameter of SLEEC, choice parameters, empty / label-free training sets, 3-D / string /
   1-D / feature-less arrays).
2. Degenerate but valid data (``test_degenerate_*``): 18 cases
   (tiny clusters, one-point clusters, zero rows, duplicates, L = 1, n < embedding
   dimension, unseen features and labels, one labelled point, n_clusters > n, dtypes, dense
   input, non-canonical CSR, huge finite values).
3. Metrics (``test_metrics_*``): 12 cases
   (row mismatch, id >= L, float ids, NaN scores, inv_prop, k, duplicate ids, 1-D pred).
4. Data files (``test_datafile_*``): 44 cases
   (header, row count, tokens, id ranges, duplicates, non-finite values, binary, truncated
   .gz/.xz/.bz2, empty, split files, missing file, write_xc input).
5. Model files (``test_modelfile_*``): 27 cases
   (truncation, flipped bytes, damaged zip headers, altered params, format version, foreign
   .npz/.npy, text file, directory, object arrays, valid checksum over bad content, save
   into a missing directory).
6. CLI (``test_cli_*``): 13 cases
   (exit 1 with one ``sleec: error:`` line and no traceback for each kind of bad input;
   ``--k 0`` is an argparse usage error, exit 2).
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from sleec import SLEEC, _persist, cli, datasets
from sleec.datasets import read_split, read_xc, read_xc_split, write_xc
from sleec.exceptions import DataFormatError, ModelFormatError, NoFeatureWarning
from sleec.metrics import (
    evaluate,
    ndcg_at_k,
    precision_at_k,
    psprecision_at_k,
    top_k_ids,
)

SMALL = {
    "n_learners": 1,
    "n_components": 4,
    "n_graph_neighbors": 5,
    "n_neighbors": 3,
    "svp_max_iter": 5,
    "random_state": 0,
}
N, D, L = 30, 12, 6


def make_data(n: int = N, d: int = D, n_labels: int = L, seed: int = 0):
    """Random sparse features (no all-zero row) and labels (at least one per point)."""
    r = np.random.default_rng(seed)
    X = ((r.random((n, d)) < 0.4) * r.uniform(0.1, 1.0, (n, d))).astype(np.float32)
    X[np.arange(n), r.integers(0, d, n)] = 1.0
    Y = (r.random((n, n_labels)) < 0.3).astype(np.float32)
    Y[np.arange(n), r.integers(0, n_labels, n)] = 1.0
    return sp.csr_matrix(X), sp.csr_matrix(Y)


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def fitted(data):
    X, Y = data
    return SLEEC(**SMALL).fit(X, Y)


def check_topk(ids: np.ndarray, scores: np.ndarray, n: int, k: int, n_labels: int) -> None:
    """The predict_topk contract: shapes (k clipped to the labels), dtypes, id range, padding
    last, sorted scores."""
    assert ids.shape == scores.shape == (n, min(k, n_labels))
    assert ids.dtype == np.int32 and scores.dtype == np.float32
    assert ((ids >= -1) & (ids < n_labels)).all()
    valid = ids >= 0
    assert (valid[:, :-1] >= valid[:, 1:]).all(), "padding (-1) must come after the ids"
    assert np.isfinite(scores[valid]).all() and np.isneginf(scores[~valid]).all()
    assert (scores[:, :-1] >= scores[:, 1:])[valid[:, 1:]].all(), "scores must be descending"
    for row in ids:
        real = row[row >= 0]
        assert real.size == np.unique(real).size, "an id repeated in a row"


# ============================================================================================
# 1. Estimator inputs
# ============================================================================================


def _with(A, row, col, value):
    A = A.toarray()
    A[row, col] = value
    return A


BAD_FIT_DATA = [
    (
        "rows differ",
        lambda X, Y: (X[:5], Y),
        ValueError,
        r"X and Y have inconsistent numbers of rows: 5 != 30\.",
    ),
    (
        "X NaN",
        lambda X, Y: (_with(X, 3, 2, np.nan), Y),
        ValueError,
        r"X contains NaN or infinity \(first in row 3\)",
    ),
    (
        "X inf",
        lambda X, Y: (_with(X, 4, 1, np.inf), Y),
        ValueError,
        r"X contains NaN or infinity \(first in row 4\)",
    ),
    (
        "X -inf sparse",
        lambda X, Y: (sp.csr_matrix(_with(X, 7, 0, -np.inf)), Y),
        ValueError,
        r"X contains NaN or infinity \(first in row 7\)",
    ),
    (
        "Y negative",
        lambda X, Y: (X, _with(Y, 2, 1, -1.0)),
        ValueError,
        r"Y must be a label matrix with non-negative entries; found a negative entry in row 2",
    ),
    (
        "Y NaN",
        lambda X, Y: (X, _with(Y, 5, 1, np.nan)),
        ValueError,
        r"Y contains NaN or infinity \(first in row 5\)",
    ),
    (
        "Y inf",
        lambda X, Y: (X, _with(Y, 6, 0, np.inf)),
        ValueError,
        r"Y contains NaN or infinity \(first in row 6\)",
    ),
    (
        "empty training set",
        lambda X, Y: (X[:0], Y[:0]),
        ValueError,
        r"X and Y are empty: fitting needs at least one training point",
    ),
    (
        "no labels at all",
        lambda X, Y: (X, sp.csr_matrix(Y.shape, dtype=np.float32)),
        ValueError,
        r"Y has no labels at all: every training point is label-free",
    ),
    (
        "no label columns",
        lambda X, Y: (X, np.zeros((X.shape[0], 0))),
        ValueError,
        r"Y has no labels at all",
    ),
    (
        "X 3-D",
        lambda X, Y: (np.zeros((X.shape[0], 2, 6)), Y),
        ValueError,
        r"X must be 2-D \(n_samples, n_columns\); got shape \(30, 2, 6\)",
    ),
    (
        "X strings",
        lambda X, Y: (np.full(X.shape, "a"), Y),
        TypeError,
        r"X must be a 2-D numeric array or a SciPy sparse matrix; got ndarray",
    ),
    (
        "Y 1-D continuous",
        lambda X, Y: (X, Y.toarray()[:, 0] * 0.5 + np.linspace(0, 0.1, 30)),
        ValueError,
        r"Unknown label type: Y is a 1-D array of continuous values; expected class labels",
    ),
    (
        "Y 1-D NaN label",
        lambda X, Y: (X, np.where(np.arange(30) == 4, np.nan, np.arange(30) % 3)),
        ValueError,
        r"Unknown label type: Y is a 1-D array of NaN or infinite values; expected class",
    ),
    (
        "Y lists with None",
        lambda X, Y: (X, [["a"], ["b", None]] + [["a"]] * 28),
        TypeError,
        r"Y\[1\] holds the label None; expected hashable names",
    ),
    (
        "Y list of strings",
        lambda X, Y: (X, ["a b"] * 15 + [["a"]] * 15),
        TypeError,
        r"Y\[0\] is a str; expected a collection of labels",
    ),
    ("X None", lambda X, Y: (None, Y), ValueError, r"X must be 2-D"),
]


@pytest.mark.parametrize(
    "make, exc, match", [c[1:] for c in BAD_FIT_DATA], ids=[c[0] for c in BAD_FIT_DATA]
)
def test_estimator_bad_fit_data(data, make, exc, match):
    X, Y = make(*data)
    with pytest.raises(exc, match=match):
        SLEEC(**SMALL).fit(X, Y)


def test_estimator_X_without_feature_columns(data):
    _, Y = data
    with pytest.raises(ValueError, match=r"\bX\b.*\bfeatures?\b"):
        SLEEC(**SMALL).fit(np.zeros((Y.shape[0], 0), np.float32), Y)


BAD_PREDICT_DATA = [
    (
        "fewer features",
        lambda X: X[:, :5],
        ValueError,
        r"X has 5 features, but SLEEC is expecting 12 features as input\.",
    ),
    (
        "more features",
        lambda X: sp.hstack([X, X]).tocsr(),
        ValueError,
        r"X has 24 features, but SLEEC is expecting 12 features as input\.",
    ),
    (
        "NaN",
        lambda X: _with(X, 1, 3, np.nan),
        ValueError,
        r"X contains NaN or infinity \(first in row 1\)",
    ),
    ("3-D", lambda X: np.zeros((2, 2, D)), ValueError, r"X must be 2-D"),
    ("1-D", lambda X: np.zeros(D), ValueError, r"X must be 2-D .* got shape \(12,\)"),
    ("strings", lambda X: [["a"] * D], TypeError, r"X must be a 2-D numeric array"),
]


@pytest.mark.parametrize(
    "make, exc, match", [c[1:] for c in BAD_PREDICT_DATA], ids=[c[0] for c in BAD_PREDICT_DATA]
)
def test_estimator_bad_predict_data(fitted, data, make, exc, match):
    with pytest.raises(exc, match=match):
        fitted.predict_topk(make(data[0]))


@pytest.mark.parametrize("method", ["predict_topk", "predict", "save"])
def test_estimator_unfitted(data, tmp_path, method):
    arg = tmp_path / "m.npz" if method == "save" else data[0]
    with pytest.raises(NotFittedError, match="This SLEEC instance is not fitted yet"):
        getattr(SLEEC(**SMALL), method)(arg)
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize(
    "k, exc",
    [
        (0, ValueError),
        (-1, ValueError),
        (2.5, TypeError),
        ("5", TypeError),
        (True, TypeError),
    ],
)
def test_estimator_bad_k(fitted, data, k, exc):
    match = rf"The 'k' parameter must be an int in the range \[1, inf\)\. Got {re.escape(repr(k))}"
    for method in (
        fitted.predict_topk,
        fitted.predict,
        fitted.decision_function,
        fitted.predict_labels,
    ):
        with pytest.raises(exc, match=match):
            method(data[0], k)


def test_k_none_means_top_k(fitted, data):
    top = fitted.predict_topk(data[0], fitted.top_k)
    for got, want in zip(fitted.predict_topk(data[0]), top, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fitted.predict_topk(data[0], None)[0], top[0])


# Bad values of every estimator parameter: tests/test_estimator.py, whose cases are derived
# from the parameter table (sleec.params.PARAMS) plus a hand-written list of exact messages.


# ============================================================================================
# 2. Degenerate but valid data: must work and honour the predict_topk contract
# ============================================================================================


def test_degenerate_clusters_smaller_than_every_size_parameter():
    X, Y = make_data(n=5)
    params = {**SMALL, "n_components": 50, "n_graph_neighbors": 100, "n_neighbors": 30}
    model = SLEEC(**params).fit(X, Y)
    ids, scores = model.predict_topk(X, 4)
    check_topk(ids, scores, 5, 4, L)
    assert (ids[:, 0] >= 0).all()
    assert model.learners_[0].locals[0].E.shape == (5, 50)  # padded to n_components


def test_degenerate_one_point_clusters():
    """6 points with disjoint features and n_clusters=6: every cluster holds one point."""
    X = sp.identity(6, dtype=np.float32, format="csr")
    Y = sp.csr_matrix(np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]])
    model = SLEEC(**{**SMALL, "n_clusters": 6}).fit(X, Y)
    assert sorted(loc.rows.size for loc in model.learners_[0].locals) == [1] * 6
    ids, scores = model.predict_topk(X, 3)
    check_topk(ids, scores, 6, 3, 3)
    assert ids[:, 0].tolist() == [0, 1, 2, 0, 1, 2]  # each point finds itself


@pytest.mark.parametrize("n_clusters", [1, 3])
@pytest.mark.parametrize("normalize", [True, False])
def test_degenerate_all_zero_feature_rows(data, n_clusters, normalize):
    X, Y = data
    Xz = X.toarray()
    Xz[:4] = 0.0
    model = SLEEC(**{**SMALL, "n_clusters": n_clusters, "normalize": normalize}).fit(Xz, Y)
    test = np.vstack([np.zeros((3, D), np.float32), Xz[4:9]])
    with pytest.warns(NoFeatureWarning, match="3 of 8 point"):
        ids, scores = model.predict_topk(test, 3)
    check_topk(ids, scores, 8, 3, L)
    # zero rows carry no information: the training set's most frequent labels and shares
    share = np.asarray(Y.sum(axis=0)).ravel() / N
    top = np.argsort(-share, kind="stable")[:3]
    assert (ids[:3] == top).all()
    np.testing.assert_allclose(scores[:3], np.tile(share[top], (3, 1)), rtol=1e-6)


def test_degenerate_duplicate_points(data):
    X, Y = data
    Xd, Yd = sp.vstack([X[:6]] * 4).tocsr(), sp.vstack([Y[:6]] * 4).tocsr()
    model = SLEEC(**{**SMALL, "n_clusters": 3}).fit(Xd, Yd)
    ids, scores = model.predict_topk(Xd, 3)
    check_topk(ids, scores, 24, 3, L)
    np.testing.assert_array_equal(ids, np.tile(ids[:6], (4, 1)))


def test_degenerate_single_label_column(data):
    X, _ = data
    Y1 = (np.arange(N) % 2 == 0).astype(np.float32)[:, None]
    model = SLEEC(**SMALL).fit(X, Y1)
    ids, scores = model.predict_topk(X, 3)
    check_topk(ids, scores, N, 3, 1)
    assert (ids[:, 1:] == -1).all() and (ids[:, 0] == 0).any()


def test_degenerate_fewer_points_than_embedding_dimension(data):
    X, Y = data
    model = SLEEC(**{**SMALL, "n_components": 40}).fit(X, Y)
    ids, scores = model.predict_topk(X, 5)
    check_topk(ids, scores, N, 5, L)
    loc = model.learners_[0].locals[0]
    assert loc.W.shape == (loc.features.size, 40)


def test_degenerate_test_features_never_seen_in_training(data):
    X, Y = data
    Xtr = sp.hstack([X, sp.csr_matrix((N, 3), dtype=np.float32)]).tocsr()  # 3 unused columns
    model = SLEEC(**SMALL).fit(Xtr, Y)
    unseen = np.zeros((4, D + 3), np.float32)
    unseen[:, D:] = np.arange(1, 13).reshape(4, 3)
    with pytest.warns(NoFeatureWarning, match="4 of 4 point"):
        ids, scores = model.predict_topk(unseen, 3)
    check_topk(ids, scores, 4, 3, L)
    with pytest.warns(NoFeatureWarning):
        zero_ids, _ = model.predict_topk(np.zeros((1, D + 3)), 3)
    assert (ids == zero_ids).all()  # unseen features carry no information


def test_degenerate_labels_never_seen_in_training(data):
    X, Y = data
    Yw = sp.hstack([sp.csr_matrix((N, 2), dtype=np.float32), Y]).tocsr()  # labels 0, 1 unused
    model = SLEEC(**SMALL).fit(X, Yw)
    ids, scores = model.predict_topk(X, 8)
    assert model.effective_k(8) == L  # k is clipped to the L labels training points carry
    check_topk(ids, scores, N, L, L + 2)
    assert not np.isin(ids, [0, 1]).any()
    assert model.predict(X, 8).shape == (N, L + 2)


@pytest.mark.parametrize("n_clusters", [1, 4])
def test_degenerate_only_one_point_has_labels(data, n_clusters):
    X, _ = data
    Y1 = np.zeros((N, L), np.float32)
    Y1[7, [1, 4]] = 1.0
    model = SLEEC(**{**SMALL, "n_clusters": n_clusters}).fit(X, Y1)
    ids, scores = model.predict_topk(X, 3)
    assert model.effective_k(3) == 2  # only labels 1 and 4 occur in training
    check_topk(ids, scores, N, 2, L)
    assert set(ids[ids >= 0].tolist()) <= {1, 4}
    assert set(ids[7, :2].tolist()) == {1, 4}


def test_degenerate_more_clusters_than_points(data):
    X, Y = data
    model = SLEEC(**{**SMALL, "n_clusters": 100}).fit(X[:10], Y[:10])
    assert 1 <= len(model.learners_[0].locals) <= 10
    check_topk(*model.predict_topk(X, 4), N, 4, L)


def test_degenerate_dtypes_and_dense_input_match_float32_csr(data, fitted):
    X, Y = data
    ref = fitted.predict_topk(X, 4)
    for Xa, Ya in [
        (X.astype(np.float64), Y.astype(np.float64)),  # float64 CSR
        (X.toarray(), Y.toarray()),  # dense float32
        (X.toarray().astype(np.float64), Y.toarray().astype(np.int64)),  # int Y
        (X.toarray().tolist(), Y.toarray()),  # nested lists (lists of lists of Y are label lists)
    ]:
        model = SLEEC(**SMALL).fit(Xa, Ya)
        ids, scores = model.predict_topk(Xa, 4)
        check_topk(ids, scores, N, 4, L)
        np.testing.assert_array_equal(ids, ref[0])
        np.testing.assert_allclose(scores, ref[1], rtol=1e-5)


def test_degenerate_integer_features(data):
    X, Y = data
    Xi = (X.toarray() * 3).round().astype(np.int64)
    ref = SLEEC(**SMALL).fit(Xi.astype(np.float32), Y).predict_topk(Xi.astype(np.float32), 3)
    model = SLEEC(**SMALL).fit(Xi, Y.astype(np.int32))
    ids, scores = model.predict_topk(Xi, 3)
    check_topk(ids, scores, N, 3, L)
    np.testing.assert_array_equal(ids, ref[0])


def test_degenerate_csr_with_unsorted_indices_and_duplicates(data, fitted):
    """Each row reversed and every entry split in two halves; the caller's matrix is kept."""
    X, Y = data
    rows = [X.indices[X.indptr[i] : X.indptr[i + 1]][::-1] for i in range(N)]
    vals = [X.data[X.indptr[i] : X.indptr[i + 1]][::-1] / 2 for i in range(N)]
    indptr = np.concatenate([[0], np.cumsum([2 * r.size for r in rows])])
    Xu = sp.csr_matrix(
        (
            np.concatenate([np.concatenate([v, v]) for v in vals]),
            np.concatenate([np.concatenate([r, r]) for r in rows]),
            indptr,
        ),
        shape=X.shape,
    )
    assert not Xu.has_canonical_format
    before = (Xu.data.copy(), Xu.indices.copy())
    ref = fitted.predict_topk(X, 4)
    ids, scores = SLEEC(**SMALL).fit(Xu, Y).predict_topk(Xu, 4)
    check_topk(ids, scores, N, 4, L)
    np.testing.assert_array_equal(ids, ref[0])
    np.testing.assert_array_equal(fitted.predict_topk(Xu, 4)[0], ref[0])
    np.testing.assert_array_equal(Xu.data, before[0])  # input untouched
    np.testing.assert_array_equal(Xu.indices, before[1])


def test_degenerate_large_finite_values_are_scale_invariant(data, fitted):
    X, Y = data
    ref = fitted.predict_topk(X, 4)[0]
    ids, scores = SLEEC(**SMALL).fit(X * 1e25, Y).predict_topk(X * 1e25, 4)
    check_topk(ids, scores, N, 4, L)
    np.testing.assert_array_equal(ids, ref)


# ============================================================================================
# 3. Metrics
# ============================================================================================

Y_TRUE = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 1]], np.float32))
IDS = np.array([[0, 2], [1, 3], [2, 0]])

BAD_METRIC_INPUTS = [
    (
        "row mismatch",
        lambda: precision_at_k(Y_TRUE, IDS[:2], 2),
        ValueError,
        r"Y_true and pred have inconsistent numbers of rows: 3 != 2",
    ),
    (
        "id >= L",
        lambda: precision_at_k(Y_TRUE, np.array([[0, 4], [1, 3], [2, 0]]), 2),
        ValueError,
        r"pred contains label id 4 \(row 0\), but Y_true has only 4 labels",
    ),
    (
        "float ids",
        lambda: precision_at_k(Y_TRUE, IDS.astype(float), 2),
        TypeError,
        r"pred is a float64 array with 2 columns but Y_true has 4 labels.*integer dtype",
    ),
    (
        "NaN dense scores",
        lambda: ndcg_at_k(Y_TRUE, _with(sp.csr_matrix(np.ones((3, 4))), 1, 2, np.nan), 2),
        ValueError,
        r"pred contains NaN scores \(first in row 1\)",
    ),
    (
        "NaN sparse scores",
        lambda: ndcg_at_k(
            Y_TRUE, sp.csr_matrix(_with(sp.csr_matrix(np.ones((3, 4))), 2, 0, np.nan)), 2
        ),
        ValueError,
        r"pred contains NaN scores \(first in row 2\)",
    ),
    (
        "inv_prop wrong length",
        lambda: psprecision_at_k(Y_TRUE, IDS, np.ones(3), 2),
        ValueError,
        r"inv_prop must be a 1-D array with one weight per label of Y_true \(4\); got shape \(3,\)",
    ),
    (
        "inv_prop NaN",
        lambda: evaluate(Y_TRUE, IDS, 2, np.array([1, np.nan, 1, 1])),
        ValueError,
        r"inv_prop must contain finite, non-negative weights",
    ),
    (
        "k = 0",
        lambda: precision_at_k(Y_TRUE, IDS, 0),
        ValueError,
        r"The 'k' parameter must be an int in the range \[1, inf\)\. Got 0 instead",
    ),
    ("k = 0 top_k_ids", lambda: top_k_ids(IDS, 0), ValueError, r"The 'k' parameter .* Got 0"),
    (
        "repeated id",
        lambda: precision_at_k(Y_TRUE, np.array([[0, 0], [1, 3], [2, 0]]), 2),
        ValueError,
        r"pred repeats label id 0 in row 0",
    ),
    (
        "1-D pred",
        lambda: precision_at_k(Y_TRUE, np.array([0, 1, 2]), 2),
        ValueError,
        r"pred must be 2-D, .* got shape \(3,\)",
    ),
    (
        "negative Y_true",
        lambda: precision_at_k(-Y_TRUE, IDS, 2),
        ValueError,
        r"Y_true must be a label matrix with non-negative entries",
    ),
]


@pytest.mark.parametrize(
    "call, exc, match", [c[1:] for c in BAD_METRIC_INPUTS], ids=[c[0] for c in BAD_METRIC_INPUTS]
)
def test_metrics_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ============================================================================================
# 4. Data files: DataFormatError naming the file and the line
# ============================================================================================

GOOD = "3 5 4\n0,1 0:1 2:0.5\n2 1:1\n3 4:2\n"

BAD_XC_FILES = [
    # (id, content, line, message regex)
    ("header two numbers", "3 5\n0 0:1\n", 1, r"malformed header '3 5'; expected 'N D L'"),
    ("header four numbers", "3 5 4 1\n0 0:1\n", 1, r"malformed header '3 5 4 1'"),
    (
        "header non-numeric",
        "a b c\n0 0:1\n",
        1,
        r"malformed header 'a b c'; expected 'N D L' "
        r"\(three non-negative integers",
    ),
    ("header negative", "-3 5 4\n0 0:1\n", 1, r"malformed header '-3 5 4'"),
    ("header float", "3.0 5 4\n0 0:1\n", 1, r"malformed header '3\.0 5 4'"),
    (
        "header D too large",
        "1 99999999999 4\n0 0:1\n",
        1,
        r"header declares D = 99999999999, L = 4; expected at most 2147483647",
    ),
    (
        "more rows than header",
        GOOD + "1 1:1\n",
        5,
        r"more data rows than the header's N = 3; expected only blank lines after data row 3",
    ),
    (
        "fewer rows than header",
        GOOD.replace("3 5 4", "5 5 4"),
        4,
        r"the file ends after 3 data row\(s\); expected N = 5 rows",
    ),
    ("token '3:'", "2 5 4\n0 0:1\n1 3:\n", 3, r"bad value in feature token '3:'"),
    (
        "token 'x:1'",
        "2 5 4\n0 0:1\n1 x:1\n",
        3,
        r"bad feature token 'x:1'; expected 'index:value' with an integer index in \[0, 5\)",
    ),
    (
        "token '3:abc'",
        "2 5 4\n0 0:1\n1 3:abc\n",
        3,
        r"bad value in feature token '3:abc'; expected 'index:value' with a number",
    ),
    ("token without colon", "2 5 4\n0 0:1\n1 3\n", 3, r"bad feature token '3'"),
    ("negative feature id", "2 5 4\n0 0:1\n1 -1:1\n", 3, r"negative feature id in '-1:1'"),
    (
        "feature id out of range",
        "2 5 4\n0 0:1\n1 5:1\n",
        3,
        r"feature id 5 out of range; expected an integer in \[0, D = 5\)",
    ),
    (
        "label id out of range",
        "2 5 4\n0 0:1\n4 1:1\n",
        3,
        r"label id 4 out of range; expected an integer in \[0, L = 4\)",
    ),
    ("negative label id", "2 5 4\n0 0:1\n-1 1:1\n", 3, r"negative label id '-1'"),
    ("empty label id", "2 5 4\n0 0:1\n1,,2 1:1\n", 3, r"bad label id '1,,2'"),
    (
        "duplicate feature id",
        "2 5 4\n0 0:1\n1 1:1 1:2\n",
        3,
        r"duplicate feature id 1; expected each feature at most once per row",
    ),
    (
        "duplicate feature id unsorted",
        "2 5 4\n0 0:1\n1 3:1 1:2 3:1\n",
        3,
        r"duplicate feature id 3",
    ),
    (
        "duplicate label id",
        "2 5 4\n0 0:1\n1,1 1:1\n",
        3,
        r"duplicate label id 1; expected each label at most once per row",
    ),
    ("duplicate label id unsorted", "2 5 4\n0 0:1\n2,1,2 1:1\n", 3, r"duplicate label id 2"),
    (
        "NaN value",
        "2 5 4\n0 0:1\n1 1:nan\n",
        3,
        r"non-finite value in '1:nan' \(NaN, infinity or beyond the float32 range\)",
    ),
    ("inf value", "2 5 4\n0 0:1\n1 1:-inf\n", 3, r"non-finite value in '1:-inf'"),
    ("beyond float32", "2 5 4\n0 0:1\n1 1:1e39\n", 3, r"non-finite value in '1:1e39'"),
    ("beyond float64", "2 5 4\n0 0:1\n1 1:1e400\n", 3, r"non-finite value in '1:1e400'"),
    (
        "binary file",
        bytes(range(256)) * 4,
        1,
        r"not a text file \(binary or non-UTF-8 bytes\); expected a text file",
    ),
    ("binary after header", b"2 5 4\n0 0:1\n\x00\x01\xff\n", 3, r"not a text file"),
    ("empty file", b"", 1, r"empty file; expected a header line 'N D L'"),
]


@pytest.mark.parametrize(
    "content, line, match", [c[1:] for c in BAD_XC_FILES], ids=[c[0] for c in BAD_XC_FILES]
)
def test_datafile_bad_xc(tmp_path, content, line, match):
    path = tmp_path / "data.txt"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(
        DataFormatError, match=rf"^{re.escape(str(path))}, line {line}: {match}"
    ) as info:
        read_xc(path)
    assert (info.value.path, info.value.line) == (str(path), line)


def test_datafile_header_n_beyond_int64(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text(f"{2**70} 5 4\n0 0:1\n")
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(path))}, line 1: .*N"):
        read_xc(path)


def _compress(kind: str, payload: bytes) -> bytes:
    import bz2
    import gzip
    import lzma

    return {
        "gz": lambda: gzip.compress(payload, mtime=0),
        "xz": lambda: lzma.compress(payload),
        "bz2": lambda: bz2.compress(payload),
    }[kind]()


KINDS = {"gz": "gzip", "xz": "xz", "bz2": "bzip2"}


@pytest.mark.parametrize("kind", ["gz", "xz", "bz2"])
def test_datafile_truncated_compressed(tmp_path, kind):
    payload = (GOOD.replace("3 5 4", "300 5 4") + "1 1:1 2:2\n" * 297).encode()
    full = _compress(kind, payload)
    path = tmp_path / f"data.txt.{kind}"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(
        DataFormatError,
        match=rf"^{re.escape(str(path))}.*truncated or corrupt "
        rf"{KINDS[kind]}-compressed file",
    ):
        read_xc(path)
    path.write_bytes(full)  # control: the complete file reads
    assert read_xc(path)[0].shape == (300, 5)


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_datafile_truncated_compressed_names_the_file(tmp_path, kind):
    # The damage is in the compressed stream, not on a text line: the message names the file
    # and the problem; DataFormatError.line stays None (a line applies only to text errors).
    full = _compress(kind, (GOOD.replace("3 5 4", "300 5 4") + "1 1:1 2:2\n" * 297).encode())
    path = tmp_path / f"data.txt.{kind}"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataFormatError, match=rf"^{re.escape(str(path))}: .*truncated") as info:
        read_xc(path)
    assert info.value.path == str(path)


def test_datafile_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_xc(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_split(tmp_path / "nope.txt")
    with pytest.raises(IsADirectoryError):
        read_xc(tmp_path)


BAD_SPLITS = [
    # (id, split content, column, line, message regex)
    (
        "row beyond the data",
        "1\n4\n",
        1,
        2,
        r"row number 4 beyond the data; expected at most 3 \(the number of rows of .*data\.txt\)",
    ),
    ("row 0", "1\n0\n", 1, 2, r"bad row number '0'; expected a positive integer \(1-based"),
    ("negative row", "2\n-2\n", 1, 2, r"bad row number '-2'; expected a positive integer"),
    ("non-numeric row", "1\nx\n", 1, 2, r"bad row number 'x'"),
    ("column out of range", "1 2\n3 1\n", 3, 1, r"column 3 out of range; the file has 2 columns"),
    ("short later line", "1 2\n3\n", 2, 2, r"line has 1 columns; expected at least 2"),
    ("empty split file", "", 1, 1, r"empty split file; column 1 out of range"),
]


@pytest.mark.parametrize(
    "content, column, line, match", [c[1:] for c in BAD_SPLITS], ids=[c[0] for c in BAD_SPLITS]
)
def test_datafile_bad_split(tmp_path, content, column, line, match):
    data_path, split = tmp_path / "data.txt", tmp_path / "split.txt"
    data_path.write_text(GOOD)
    split.write_text(content)
    with pytest.raises(DataFormatError, match=rf"^{re.escape(str(split))}, line {line}: {match}"):
        read_xc_split(data_path, split, split, column)


def test_datafile_split_column_zero(tmp_path):
    split = tmp_path / "split.txt"
    split.write_text("1\n")
    with pytest.raises(
        ValueError,
        match=r"The 'column' parameter must be an int in the range "
        r"\[1, inf\)\. Got 0 instead",
    ):
        read_split(split, 0)


def test_datafile_write_xc_bad_input(tmp_path):
    X, Y = make_data(n=4)
    path = tmp_path / "out.txt"
    with pytest.raises(ValueError, match=r"X and Y have inconsistent numbers of rows: 3 != 4"):
        write_xc(path, X[:3], Y)
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first in row 1\)"):
        write_xc(path, _with(X, 1, 1, np.nan), Y)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left


# ============================================================================================
# 5. Model files
# ============================================================================================


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, fitted) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.npz"
    fitted.save(path)
    return path


def read_payload(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def write_payload(path: Path, payload: dict, allow_pickle: bool = False) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, allow_pickle=allow_pickle, **payload)


def resign(payload: dict) -> dict:
    """The payload with a checksum valid for its (altered) content."""
    return {**payload, "checksum": np.array(_persist._checksum(payload))}


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.99])
def test_modelfile_truncated(model_file, tmp_path, fraction):
    raw = model_file.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(
        ModelFormatError,
        match=rf"'{re.escape(str(path))}' is not a readable "
        r"sleec model file",
    ):
        SLEEC.load(path)


def _member_data_offset(raw: bytes, name: str) -> tuple[int, int]:
    """(offset, size) of a stored zip member's bytes, from its local header."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        info = zf.getinfo(name)
    n_name, n_extra = struct.unpack_from("<HH", raw, info.header_offset + 26)
    return info.header_offset + 30 + n_name + n_extra, info.file_size


@pytest.mark.parametrize("member", ["E.npy", "W_data.npy", "train_labels_indices.npy"])
@pytest.mark.parametrize("where", [0.25, 0.5, 0.75])
def test_modelfile_flipped_byte_in_the_data(model_file, tmp_path, member, where):
    raw = bytearray(model_file.read_bytes())
    start, size = _member_data_offset(bytes(raw), member)
    raw[start + int(size * where)] ^= 0xFF
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(
        ModelFormatError,
        match=rf"'{re.escape(str(path))}' "
        r"(is not a readable|failed its checksum)",
    ):
        SLEEC.load(path)


def _central_directory(raw: bytes) -> int:
    eocd = raw.rfind(b"PK\x05\x06")
    return struct.unpack_from("<I", raw, eocd + 16)[0]


@pytest.mark.parametrize(
    "field, offset, value",
    [
        pytest.param("encryption flag", 8, 0x01),
        pytest.param("compression method", 10, 99),
    ],
)
def test_modelfile_damaged_zip_header(model_file, tmp_path, field, offset, value):
    raw = bytearray(model_file.read_bytes())
    raw[_central_directory(raw) + offset] ^= value
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file"):
        SLEEC.load(path)


def test_modelfile_altered_params_old_checksum(model_file, tmp_path):
    payload = read_payload(model_file)
    params = json.loads(str(payload["params"]))
    params["n_neighbors"] = 7
    payload["params"] = np.array(json.dumps(params, sort_keys=True))
    path = tmp_path / "altered.npz"
    write_payload(path, payload)
    with pytest.raises(
        ModelFormatError,
        match=r"failed its checksum: the file was corrupted or "
        r"altered after saving",
    ):
        SLEEC.load(path)


@pytest.mark.parametrize(
    "version, match",
    [
        (np.array(4, np.int64), r"has format version 4; this sleec reads versions 2, 3"),
        (np.array(1, np.int64), r"has format version 1; this sleec reads versions 2, 3"),
        (np.array(-1, np.int64), r"has format version -1; this sleec reads versions 2, 3"),
        (np.array("one"), r"has an unreadable format version"),
    ],
)
def test_modelfile_unknown_format_version(model_file, tmp_path, version, match):
    path = tmp_path / "future.npz"
    write_payload(path, resign({**read_payload(model_file), "format_version": version}))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


def test_modelfile_foreign_npz_and_npy(tmp_path):
    path = tmp_path / "random.npz"
    write_payload(path, {"a": np.random.default_rng(0).random(3), "b": np.arange(4)})
    with pytest.raises(
        ModelFormatError,
        match=r"is not a sleec model file: missing "
        r"\['format_version', 'params', 'checksum'\]",
    ):
        SLEEC.load(path)
    with open(path, "wb") as fh:
        np.save(fh, np.arange(3))
    with pytest.raises(
        ModelFormatError, match=r"is not a readable sleec model file: not an \.npz \(zip\) archive"
    ):
        SLEEC.load(path)


def test_modelfile_plain_text(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("this is not a model\n")
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file") as info:
        SLEEC.load(path)
    assert "pickle" not in str(info.value)


def test_modelfile_empty_and_missing(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    with pytest.raises(ModelFormatError, match="is not a readable sleec model file"):
        SLEEC.load(path)
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        SLEEC.load(tmp_path / "nope.npz")


def test_modelfile_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        SLEEC.load(tmp_path)


class _Evil:
    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("entry", ["extra", "params", "format_version"])
def test_modelfile_object_array_is_refused_unpickled(model_file, tmp_path, entry):
    sentinel = tmp_path / "unpickled"
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil(sentinel)
    path = tmp_path / "evil.npz"
    write_payload(path, {**read_payload(model_file), entry: evil}, allow_pickle=True)
    with zipfile.ZipFile(path) as zf:
        assert b"mkdir" in zf.read(f"{entry}.npy")  # really a pickle
    with pytest.raises(
        ModelFormatError,
        match=r"not a readable sleec model file .*Object "
        r"arrays cannot be loaded",
    ):
        SLEEC.load(path)
    assert not sentinel.exists()


def test_modelfile_params_not_json(model_file, tmp_path):
    path = tmp_path / "notjson.npz"
    write_payload(path, resign({**read_payload(model_file), "params": np.array("not json")}))
    with pytest.raises(ModelFormatError, match=re.escape(str(path))):
        SLEEC.load(path)


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda p: {
                "params": np.array(json.dumps({**json.loads(str(p["params"])), "n_neighbors": 0}))
            },
            r"holds an inconsistent model: The 'n_neighbors' parameter of SLEEC must be an int",
        ),
        (
            lambda p: {
                "params": np.array(json.dumps({**json.loads(str(p["params"])), "bogus": 1}))
            },
            r"holds an inconsistent model: .*unexpected keyword argument 'bogus'",
        ),
        (
            lambda p: {"params": np.array("[1, 2]")},
            r"holds unreadable parameters: expected a JSON object",
        ),
    ],
    ids=["bad parameter value", "unknown parameter", "params not an object"],
)
def test_modelfile_valid_checksum_bad_params(model_file, tmp_path, change, match):
    payload = read_payload(model_file)
    path = tmp_path / "bad.npz"
    write_payload(path, resign({**payload, **change(payload)}))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param(
            lambda p: {"rows": p["rows"] + 1000}, "cluster rows outside", id="rows beyond n_train"
        ),
        pytest.param(
            lambda p: {"centers_indices": p["centers_indices"] + 1000},
            "bad cluster centres",
            id="centre features beyond d",
        ),
        pytest.param(
            lambda p: {"features": p["features"][::-1].copy()},
            "not sorted",
            id="regressor features unsorted",
        ),
        pytest.param(
            lambda p: {"W_indices": p["W_indices"] + 1000},
            "bad regressor matrix",
            id="regressor columns beyond r",
        ),
        pytest.param(
            lambda p: {
                "E": np.where(
                    np.arange(p["E"].size).reshape(p["E"].shape) == 3, np.nan, p["E"]
                ).astype(np.float32)
            },
            "array 'E' holds NaN or infinite values",
            id="NaN embedding",
        ),
        pytest.param(
            lambda p: {"W_data": np.full_like(p["W_data"], np.inf)},
            "array 'W_data' holds NaN or infinite values",
            id="infinite weights",
        ),
        pytest.param(
            lambda p: {"centers_data": p["centers_data"] * np.nan},
            "array 'centers_data' holds NaN",
            id="NaN centres",
        ),
        pytest.param(
            lambda p: {"rows": p["rows"].astype(np.float64)},
            "array 'rows' has dtype float64; expected integers",
            id="float row ids",
        ),
        pytest.param(
            lambda p: {"shape_n_d_l_r": p["shape_n_d_l_r"][:3]},
            "bad shape record",
            id="short shape record",
        ),
    ],
)
def test_modelfile_valid_checksum_inconsistent_arrays(model_file, tmp_path, change, match):
    payload = read_payload(model_file)
    path = tmp_path / "bad.npz"
    write_payload(path, resign({**payload, **change(payload)}))
    with pytest.raises(ModelFormatError, match=f"holds an inconsistent model: .*{match}"):
        SLEEC.load(path)


def test_modelfile_save_into_missing_directory(fitted, tmp_path):
    target = tmp_path / "nodir" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        fitted.save(target)
    assert info.value.filename == str(target)


# ============================================================================================
# 6. CLI: exit 1, one line 'sleec: error: ...' on stderr, no traceback
# ============================================================================================


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, fitted):
    d = tmp_path_factory.mktemp("cli")
    X, Y = make_data(n=40, seed=1)
    write_xc(d / "train.txt", X, Y)
    write_xc(d / "test.txt", X[:20], Y[:20])
    Xw, Yw = make_data(n=20, d=D + 5, seed=2)
    write_xc(d / "test_wide.txt", Xw, Yw)  # more features than the model
    Xn, Yn = make_data(n=20, n_labels=2, seed=3)
    write_xc(d / "truth_narrow.txt", Xn, Yn)  # fewer labels than the model
    fitted.save(d / "model.npz")
    ids, scores = fitted.predict_topk(X[:20], 5)
    datasets.write_predictions(str(d / "pred.txt"), ids, scores)
    (d / "bad.txt").write_text("2 5 4\n0 0:1\n1 x:1\n")
    (d / "garbage.npz").write_bytes(np.random.default_rng(0).bytes(500))
    return d


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    _, err = capsys.readouterr()
    return code, err


def assert_one_line_error(code: int, err: str, *patterns: str) -> str:
    assert code == 1, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sleec: error: ")
    for pattern in patterns:
        assert re.search(pattern, lines[0]), (pattern, lines[0])
    return lines[0]


def _train(d, *extra):
    return [
        "train",
        "--train",
        d / "train.txt",
        "--model",
        d / "new.npz",
        "--no-progress",
        "--n-learners",
        "1",
        "--n-components",
        "4",
        "--n-graph-neighbors",
        "5",
        "--n-neighbors",
        "3",
        "--svp-max-iter",
        "5",
        *extra,
    ]


def test_cli_missing_train_file(cli_files, capsys):
    d = cli_files
    code, err = run_cli(capsys, "train", "--train", d / "nope.txt", "--model", d / "new.npz")
    assert_one_line_error(code, err, r"No such file or directory: '.*nope\.txt'")


def test_cli_malformed_train_file(cli_files, capsys):
    d = cli_files
    code, err = run_cli(capsys, "train", "--train", d / "bad.txt", "--model", d / "new.npz")
    assert_one_line_error(
        code,
        err,
        re.escape(str(d / "bad.txt")) + r", line 3: bad feature "
        r"token 'x:1'",
    )
    assert not (d / "new.npz").exists()


def test_cli_garbage_model_file(cli_files, capsys):
    d = cli_files
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        d / "garbage.npz",
        "--test",
        d / "test.txt",
        "--out",
        d / "p.txt",
    )
    assert_one_line_error(code, err, r"garbage\.npz' is not a readable sleec model file")


def test_cli_prediction_truth_row_mismatch(cli_files, capsys):
    d = cli_files
    code, err = run_cli(capsys, "evaluate", "--truth", d / "train.txt", "--pred", d / "pred.txt")
    assert_one_line_error(
        code,
        err,
        r"pred\.txt has predictions for 20 points but "
        r".*train\.txt has 40 points",
    )


def test_cli_zero_components(cli_files, capsys):
    code, err = run_cli(capsys, *_train(cli_files, "--n-components", "0"))
    assert_one_line_error(
        code,
        err,
        r"The 'n_components' parameter of SLEEC must be an int in "
        r"the range \[1, 2147483647\]\. Got 0 instead",
    )


def test_cli_predict_k_zero_is_a_usage_error(cli_files, capsys):
    d = cli_files
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        d / "model.npz",
        "--test",
        d / "test.txt",
        "--out",
        d / "p.txt",
        "--k",
        "0",
    )
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "sleec: error: argument --k: expected a positive integer, got '0' "
        "(see 'sleec predict --help')"
    ]


def test_cli_test_file_with_more_features(cli_files, capsys):
    d = cli_files
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        d / "model.npz",
        "--test",
        d / "test_wide.txt",
        "--out",
        d / "p.txt",
    )
    assert_one_line_error(
        code,
        err,
        rf"X has {D + 5} features, but SLEEC is expecting {D} "
        r"features",
    )


def test_cli_predictions_beyond_truth_labels(cli_files, capsys):
    d = cli_files
    code, err = run_cli(
        capsys, "evaluate", "--truth", d / "truth_narrow.txt", "--pred", d / "pred.txt"
    )
    assert_one_line_error(
        code,
        err,
        r"predicts label id \d+ \(first in row \d+\), but .* has "
        r"only 2 labels",
    )


def test_cli_predictions_beyond_truth_labels_names_files(cli_files, capsys):
    d = cli_files
    code, err = run_cli(
        capsys, "evaluate", "--truth", d / "truth_narrow.txt", "--pred", d / "pred.txt"
    )
    assert_one_line_error(code, err, r"pred\.txt", r"truth_narrow\.txt")


def test_cli_truth_with_more_labels_than_the_model_is_accepted(cli_files, capsys, tmp_path):
    """evaluate sees no model: a truth file with extra labels is valid (never predicted)."""
    X, Y = make_data(n=20, n_labels=L + 10, seed=4)
    write_xc(tmp_path / "truth_wide.txt", X, Y)
    code = cli.main(
        [
            "evaluate",
            "--truth",
            str(tmp_path / "truth_wide.txt"),
            "--pred",
            str(cli_files / "pred.txt"),
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert 0.0 <= json.loads(out)["P@1"] <= 1.0


def test_cli_header_n_beyond_int64(cli_files, capsys, tmp_path):
    path = tmp_path / "huge.txt"
    path.write_text(f"{2**70} 5 4\n0 0:1\n")
    code, err = run_cli(capsys, "train", "--train", path, "--model", tmp_path / "m.npz")
    assert_one_line_error(code, err, r"huge\.txt, line 1")


def test_cli_split_row_beyond_the_data(cli_files, capsys, tmp_path):
    split = tmp_path / "split.txt"
    split.write_text("1\n999\n")
    code, err = run_cli(capsys, *_train(cli_files, "--train-split", split))
    assert_one_line_error(
        code, err, r"row number 999 beyond the data", re.escape(str(split)) + r", line 2: "
    )


def test_cli_model_with_damaged_zip_header(cli_files, capsys, tmp_path):
    raw = bytearray((cli_files / "model.npz").read_bytes())
    raw[_central_directory(raw) + 8] ^= 0x01
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(raw))
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        path,
        "--test",
        cli_files / "test.txt",
        "--out",
        tmp_path / "p.txt",
    )
    assert_one_line_error(code, err, r"damaged\.npz")
