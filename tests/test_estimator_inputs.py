"""Inputs of the estimator (sleec.estimator.SLEEC): what fit and predict do with bad and
with degenerate data.

* Bad inputs fail with the exact exception type and a message naming what is wrong: row
  counts, NaN and infinity, values beyond float32, negative or NaN labels, feature counts,
  an unfitted model, k, empty or label-free training sets, 3-D, string, 1-D and feature-less
  arrays. (A bad value of each parameter: test_estimator.py, whose cases are derived from the
  parameter table sleec.params.PARAMS.)
* Degenerate but valid data works and honours the predict_topk contract (``check_topk``):
  clusters smaller than every size parameter, one-point clusters, all-zero rows, duplicate
  points, a single label, fewer points than the embedding dimension, unseen features and
  labels, one labelled point, more clusters than points, other dtypes and dense input,
  non-canonical CSR, huge finite values, two million hashed features, a Fraction step.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from _helpers import TINY, TINY_SEEDED, D, L, N, make_data, peak_rss_mb, with_value
from sleec import SLEEC
from sleec.datasets import read_xc
from sleec.exceptions import DataFormatError, NoFeatureWarning


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


# -------------------------------------------------------------------------- bad inputs
BAD_FIT_DATA = [
    (
        "rows differ",
        lambda X, Y: (X[:5], Y),
        ValueError,
        r"X and Y have inconsistent numbers of rows: 5 != 30\.",
    ),
    (
        "X NaN",
        lambda X, Y: (with_value(X, 3, 2, np.nan), Y),
        ValueError,
        r"X contains NaN or infinity \(first in row 3\)",
    ),
    (
        "X inf",
        lambda X, Y: (with_value(X, 4, 1, np.inf), Y),
        ValueError,
        r"X contains NaN or infinity \(first in row 4\)",
    ),
    (
        "X -inf sparse",
        lambda X, Y: (sp.csr_matrix(with_value(X, 7, 0, -np.inf)), Y),
        ValueError,
        r"X contains NaN or infinity \(first in row 7\)",
    ),
    (
        "Y negative",
        lambda X, Y: (X, with_value(Y, 2, 1, -1.0)),
        ValueError,
        r"Y must be a label matrix with non-negative entries; found a negative entry in row 2",
    ),
    (
        "Y NaN",
        lambda X, Y: (X, with_value(Y, 5, 1, np.nan)),
        ValueError,
        r"Y contains NaN or infinity \(first in row 5\)",
    ),
    (
        "Y inf",
        lambda X, Y: (X, with_value(Y, 6, 0, np.inf)),
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
def test_estimator_bad_fit_data(tiny_data, make, exc, match):
    X, Y = make(*tiny_data)
    with pytest.raises(exc, match=match):
        SLEEC(**TINY_SEEDED).fit(X, Y)


def test_estimator_X_without_feature_columns(tiny_data):
    _, Y = tiny_data
    with pytest.raises(ValueError, match=r"\bX\b.*\bfeatures?\b"):
        SLEEC(**TINY_SEEDED).fit(np.zeros((Y.shape[0], 0), np.float32), Y)


def test_message_value_beyond_float32(tmp_path):
    X = np.array([[1.0, 1e300], [1.0, 0.0]])
    with pytest.raises(
        ValueError,
        match=r"X contains 1e\+300, beyond the float32 range .*first "
        r"in row 0",
    ):
        SLEEC(**TINY).fit(X, np.eye(2))
    path = tmp_path / "d.txt"
    path.write_text("1 2 1\n0 0:1e300\n")
    with pytest.raises(
        DataFormatError,
        match=r"line 2: non-finite value in '0:1e300' \(NaN, "
        r"infinity or beyond the float32 range\)",
    ):
        read_xc(path)


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
        lambda X: with_value(X, 1, 3, np.nan),
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
def test_estimator_bad_predict_data(tiny_model, tiny_data, make, exc, match):
    with pytest.raises(exc, match=match):
        tiny_model.predict_topk(make(tiny_data[0]))


@pytest.mark.parametrize("method", ["predict_topk", "predict", "save"])
def test_estimator_unfitted(tiny_data, tmp_path, method):
    arg = tmp_path / "m.npz" if method == "save" else tiny_data[0]
    with pytest.raises(NotFittedError, match="This SLEEC instance is not fitted yet"):
        getattr(SLEEC(**TINY_SEEDED), method)(arg)
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
def test_estimator_bad_k(tiny_model, tiny_data, k, exc):
    match = rf"The 'k' parameter must be an int in the range \[1, inf\)\. Got {re.escape(repr(k))}"
    for method in (
        tiny_model.predict_topk,
        tiny_model.predict,
        tiny_model.decision_function,
        tiny_model.predict_labels,
    ):
        with pytest.raises(exc, match=match):
            method(tiny_data[0], k)


def test_k_none_means_top_k(tiny_model, tiny_data):
    top = tiny_model.predict_topk(tiny_data[0], tiny_model.top_k)
    for got, want in zip(tiny_model.predict_topk(tiny_data[0]), top, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(tiny_model.predict_topk(tiny_data[0], None)[0], top[0])


# ----------- degenerate but valid data: must work and honour the predict_topk contract
def test_degenerate_clusters_smaller_than_every_size_parameter():
    X, Y = make_data(n=5)
    params = {**TINY_SEEDED, "n_components": 50, "n_graph_neighbors": 100, "n_neighbors": 30}
    model = SLEEC(**params).fit(X, Y)
    ids, scores = model.predict_topk(X, 4)
    check_topk(ids, scores, 5, 4, L)
    assert (ids[:, 0] >= 0).all()
    assert model.learners_[0].locals[0].E.shape == (5, 50)  # padded to n_components


def test_degenerate_one_point_clusters():
    """6 points with disjoint features and n_clusters=6: every cluster holds one point."""
    X = sp.identity(6, dtype=np.float32, format="csr")
    Y = sp.csr_matrix(np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]])
    model = SLEEC(**{**TINY_SEEDED, "n_clusters": 6}).fit(X, Y)
    assert sorted(loc.rows.size for loc in model.learners_[0].locals) == [1] * 6
    ids, scores = model.predict_topk(X, 3)
    check_topk(ids, scores, 6, 3, 3)
    assert ids[:, 0].tolist() == [0, 1, 2, 0, 1, 2]  # each point finds itself


@pytest.mark.parametrize("n_clusters", [1, 3])
@pytest.mark.parametrize("normalize", [True, False])
def test_degenerate_all_zero_feature_rows(tiny_data, n_clusters, normalize):
    X, Y = tiny_data
    Xz = X.toarray()
    Xz[:4] = 0.0
    model = SLEEC(**{**TINY_SEEDED, "n_clusters": n_clusters, "normalize": normalize}).fit(Xz, Y)
    test = np.vstack([np.zeros((3, D), np.float32), Xz[4:9]])
    with pytest.warns(NoFeatureWarning, match="3 of 8 point"):
        ids, scores = model.predict_topk(test, 3)
    check_topk(ids, scores, 8, 3, L)
    # zero rows carry no information: the training set's most frequent labels and shares
    share = np.asarray(Y.sum(axis=0)).ravel() / N
    top = np.argsort(-share, kind="stable")[:3]
    assert (ids[:3] == top).all()
    np.testing.assert_allclose(scores[:3], np.tile(share[top], (3, 1)), rtol=1e-6)


def test_degenerate_duplicate_points(tiny_data):
    X, Y = tiny_data
    Xd, Yd = sp.vstack([X[:6]] * 4).tocsr(), sp.vstack([Y[:6]] * 4).tocsr()
    model = SLEEC(**{**TINY_SEEDED, "n_clusters": 3}).fit(Xd, Yd)
    ids, scores = model.predict_topk(Xd, 3)
    check_topk(ids, scores, 24, 3, L)
    np.testing.assert_array_equal(ids, np.tile(ids[:6], (4, 1)))


def test_degenerate_single_label_column(tiny_data):
    X, _ = tiny_data
    Y1 = (np.arange(N) % 2 == 0).astype(np.float32)[:, None]
    model = SLEEC(**TINY_SEEDED).fit(X, Y1)
    ids, scores = model.predict_topk(X, 3)
    check_topk(ids, scores, N, 3, 1)
    assert (ids[:, 1:] == -1).all() and (ids[:, 0] == 0).any()


def test_degenerate_fewer_points_than_embedding_dimension(tiny_data):
    X, Y = tiny_data
    model = SLEEC(**{**TINY_SEEDED, "n_components": 40}).fit(X, Y)
    ids, scores = model.predict_topk(X, 5)
    check_topk(ids, scores, N, 5, L)
    loc = model.learners_[0].locals[0]
    assert loc.W.shape == (loc.features.size, 40)


def test_degenerate_test_features_never_seen_in_training(tiny_data):
    X, Y = tiny_data
    Xtr = sp.hstack([X, sp.csr_matrix((N, 3), dtype=np.float32)]).tocsr()  # 3 unused columns
    model = SLEEC(**TINY_SEEDED).fit(Xtr, Y)
    unseen = np.zeros((4, D + 3), np.float32)
    unseen[:, D:] = np.arange(1, 13).reshape(4, 3)
    with pytest.warns(NoFeatureWarning, match="4 of 4 point"):
        ids, scores = model.predict_topk(unseen, 3)
    check_topk(ids, scores, 4, 3, L)
    with pytest.warns(NoFeatureWarning):
        zero_ids, _ = model.predict_topk(np.zeros((1, D + 3)), 3)
    assert (ids == zero_ids).all()  # unseen features carry no information


def test_degenerate_labels_never_seen_in_training(tiny_data):
    X, Y = tiny_data
    Yw = sp.hstack([sp.csr_matrix((N, 2), dtype=np.float32), Y]).tocsr()  # labels 0, 1 unused
    model = SLEEC(**TINY_SEEDED).fit(X, Yw)
    ids, scores = model.predict_topk(X, 8)
    assert model.effective_k(8) == L  # k is clipped to the L labels training points carry
    check_topk(ids, scores, N, L, L + 2)
    assert not np.isin(ids, [0, 1]).any()
    assert model.predict(X, 8).shape == (N, L + 2)


@pytest.mark.parametrize("n_clusters", [1, 4])
def test_degenerate_only_one_point_has_labels(tiny_data, n_clusters):
    X, _ = tiny_data
    Y1 = np.zeros((N, L), np.float32)
    Y1[7, [1, 4]] = 1.0
    model = SLEEC(**{**TINY_SEEDED, "n_clusters": n_clusters}).fit(X, Y1)
    ids, scores = model.predict_topk(X, 3)
    assert model.effective_k(3) == 2  # only labels 1 and 4 occur in training
    check_topk(ids, scores, N, 2, L)
    assert set(ids[ids >= 0].tolist()) <= {1, 4}
    assert set(ids[7, :2].tolist()) == {1, 4}


def test_degenerate_more_clusters_than_points(tiny_data):
    X, Y = tiny_data
    model = SLEEC(**{**TINY_SEEDED, "n_clusters": 100}).fit(X[:10], Y[:10])
    assert 1 <= len(model.learners_[0].locals) <= 10
    check_topk(*model.predict_topk(X, 4), N, 4, L)


def test_degenerate_dtypes_and_dense_input_match_float32_csr(tiny_data, tiny_model):
    X, Y = tiny_data
    ref = tiny_model.predict_topk(X, 4)
    for Xa, Ya in [
        (X.astype(np.float64), Y.astype(np.float64)),  # float64 CSR
        (X.toarray(), Y.toarray()),  # dense float32
        (X.toarray().astype(np.float64), Y.toarray().astype(np.int64)),  # int Y
        (X.toarray().tolist(), Y.toarray()),  # nested lists (lists of lists of Y are label lists)
    ]:
        model = SLEEC(**TINY_SEEDED).fit(Xa, Ya)
        ids, scores = model.predict_topk(Xa, 4)
        check_topk(ids, scores, N, 4, L)
        np.testing.assert_array_equal(ids, ref[0])
        np.testing.assert_allclose(scores, ref[1], rtol=1e-5)


def test_degenerate_integer_features(tiny_data):
    X, Y = tiny_data
    Xi = (X.toarray() * 3).round().astype(np.int64)
    ref = SLEEC(**TINY_SEEDED).fit(Xi.astype(np.float32), Y).predict_topk(Xi.astype(np.float32), 3)
    model = SLEEC(**TINY_SEEDED).fit(Xi, Y.astype(np.int32))
    ids, scores = model.predict_topk(Xi, 3)
    check_topk(ids, scores, N, 3, L)
    np.testing.assert_array_equal(ids, ref[0])


def test_degenerate_csr_with_unsorted_indices_and_duplicates(tiny_data, tiny_model):
    """Each row reversed and every entry split in two halves; the caller's matrix is kept."""
    X, Y = tiny_data
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
    ref = tiny_model.predict_topk(X, 4)
    ids, scores = SLEEC(**TINY_SEEDED).fit(Xu, Y).predict_topk(Xu, 4)
    check_topk(ids, scores, N, 4, L)
    np.testing.assert_array_equal(ids, ref[0])
    np.testing.assert_array_equal(tiny_model.predict_topk(Xu, 4)[0], ref[0])
    np.testing.assert_array_equal(Xu.data, before[0])  # input untouched
    np.testing.assert_array_equal(Xu.indices, before[1])


def test_degenerate_large_finite_values_are_scale_invariant(tiny_data, tiny_model):
    X, Y = tiny_data
    ref = tiny_model.predict_topk(X, 4)[0]
    ids, scores = SLEEC(**TINY_SEEDED).fit(X * 1e25, Y).predict_topk(X * 1e25, 4)
    check_topk(ids, scores, N, 4, L)
    np.testing.assert_array_equal(ids, ref)


def test_size_two_million_hashed_features_fit_in_little_memory():
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(100), 20)
    X = sp.csr_matrix(
        (rng.random(2000, dtype=np.float32), (rows, rng.integers(0, 2_000_000, 2000))),
        shape=(100, 2_000_000),
    )
    Y = sp.csr_matrix(
        (np.ones(100, np.float32), (np.arange(100), np.arange(100) % 7)), shape=(100, 7)
    )
    start = peak_rss_mb()
    model = SLEEC(random_state=0).fit(X, Y)
    assert model.predict_topk(X[:5], 3)[0].shape == (5, 3)
    assert peak_rss_mb() - start < 200  # the dense d x r regressor alone would be 1.6 GB


def test_message_fraction_step_is_used_as_a_float():
    from fractions import Fraction

    X = sp.random(40, 8, density=0.5, random_state=0, format="csr", dtype=np.float32)
    Y = sp.csr_matrix(np.eye(40, 4, dtype=np.float32) + np.eye(40, 4, -4, dtype=np.float32))
    model = SLEEC(**TINY, svp_step=Fraction(3, 2), random_state=0).fit(X, Y)
    assert model.predict_topk(X, 2)[0].shape == (40, 2)
