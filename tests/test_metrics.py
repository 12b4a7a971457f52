"""Tests for sleec.metrics: hand-computed oracles, a brute-force reference, input checks
(each bad input refused with a message naming it) and work sized by the data, not by k."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import with_value
from sleec import metrics
from sleec.exceptions import PredictionWidthWarning
from sleec.metrics import (
    coverage_at_k,
    evaluate,
    inverse_propensity,
    ndcg_at_k,
    pad_ids,
    precision_at_k,
    psndcg_at_k,
    psprecision_at_k,
    recall_at_k,
    top_k_ids,
)

D2 = 1 / math.log2(3)  # DCG discount of rank 2; rank 1 -> 1, rank 3 -> 1/log2(4) = 0.5
INF = np.inf


def close(a, b):
    np.testing.assert_allclose(
        np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0, atol=1e-12
    )


# --------------------------------------------------------------------------------------------
# Hand-computed example: 3 rows, L = 6 labels, k = 5.
#   row 0: true {0, 2}     ids [2, 1, 0]   -> hits [1, 0, 1, 0, 0]
#   row 1: true {} (empty) ids [0, -1, 3]  -> hits [0, 0, 0, 0, 0]  (-1 = empty rank 2)
#   row 2: true {1, 2, 3}  ids [3, 4, -1]  -> hits [1, 0, 0, 0, 0]
# The same ranking as a sparse score matrix (ties -> smaller id; explicit 0 is a prediction;
# -inf is no prediction; row 2 stores only 2 scores < k):
#   row 0: s2 = 0.9, s1 = 0.4, s0 = 0.0 (explicit zero)      -> [2, 1, 0]
#   row 1: s0 = 0.8, s3 = 0.3, s5 = -inf                     -> [0, 3] (same: row 1 has no hits)
#   row 2: s3 = 0.7, s4 = 0.7 (tie -> 3 first)               -> [3, 4]
# --------------------------------------------------------------------------------------------
L6 = 6


def y6():
    return sp.csr_matrix(([1.0] * 5, ([0, 0, 2, 2, 2], [0, 2, 1, 2, 3])), shape=(3, L6))


def ids6():
    """Three ranked ids per row, padded with -1 to the k = 5 the hand example evaluates."""
    return pad_ids(np.array([[2, 1, 0], [0, -1, 3], [3, 4, -1]]), 5)


def scores6():
    rows = [0, 0, 0, 1, 1, 1, 2, 2]
    cols = [2, 1, 0, 0, 3, 5, 4, 3]
    vals = [0.9, 0.4, 0.0, 0.8, 0.3, -INF, 0.7, 0.7]
    return sp.csr_matrix((vals, (rows, cols)), shape=(3, L6))


W6 = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # hand-picked inverse propensities

# P@j = (sum of hits in top j over rows) / (3 j): cumulative hits summed = [2, 2, 3, 3, 3]
P6 = [2 / 3, 2 / 6, 3 / 9, 3 / 12, 3 / 15]
# row 0 (|y|=2): DCG = [1, 1, 1.5, 1.5, 1.5], IDCG = [1, 1+D2, 1+D2, ...]
# row 2 (|y|=3): DCG = [1, 1, 1, 1, 1],      IDCG = [1, 1+D2, 1+D2+0.5, ...]; row 1 -> 0
_n3 = (1.5 / (1 + D2) + 1 / (1.5 + D2)) / 3
NDCG6 = [2 / 3, 2 / (3 * (1 + D2)), _n3, _n3, _n3]
# recall: row 0 cum hits/2 = [.5, .5, 1, 1, 1]; row 2 cum hits/3 = 1/3 each; row 1 -> 0
R6 = [(0.5 + 1 / 3) / 3, (0.5 + 1 / 3) / 3, (1 + 1 / 3) / 3, (1 + 1 / 3) / 3, (1 + 1 / 3) / 3]
# coverage: labels present {0,1,2,3} (4); hit: 2 @1, 3 @1 (row 2), 0 @3 -> [2, 2, 3, 3, 3] / 4
COV6 = [0.5, 0.5, 0.75, 0.75, 0.75]
# PSP: gains row 0 [w2, 0, w0] = [3, 0, 1], row 2 [w3, 0, 0] = [4, 0, 0]
#   cumulative, summed over rows: [7, 7, 8, 8, 8]
#   best rankings: row 0 {2, 0} -> [3, 1], row 2 {3, 2, 1} -> [4, 3, 2]
#   cumulative, summed: [3+4, 4+7, 4+9, 4+9, 4+9] = [7, 11, 13, 13, 13]   (1/j, 1/n cancel)
PSP6 = [1.0, 7 / 11, 8 / 13, 8 / 13, 8 / 13]
# PSnDCG: numerator DCG sums: row 0 [3, 3, 3.5, ...], row 2 [4, ...] -> [7, 7, 7.5, 7.5, 7.5]
#   best: row 0 [3, 3+D2, 3+D2, ...], row 2 [4, 4+3D2, 4+3D2+1, ...]
PSN6 = [1.0, 7 / (7 + 4 * D2), 7.5 / (8 + 4 * D2), 7.5 / (8 + 4 * D2), 7.5 / (8 + 4 * D2)]


@pytest.mark.parametrize("form", ["ids", "sparse", "dense_Y"])
def test_hand_example_every_metric(form):
    Y, pred = y6(), ids6()
    if form == "sparse":
        pred = scores6()
    if form == "dense_Y":
        Y = Y.toarray().astype(bool)
    close(precision_at_k(Y, pred, k=5), P6)
    close(ndcg_at_k(Y, pred, k=5), NDCG6)
    close(recall_at_k(Y, pred, k=5), R6)
    close(coverage_at_k(Y, pred, k=5), COV6)
    close(psprecision_at_k(Y, pred, W6, k=5), PSP6)
    close(psndcg_at_k(Y, pred, W6, k=5), PSN6)


def test_pad_ids_and_fewer_ranks_than_k_is_refused():
    narrow = np.array([[2, 1, 0], [0, -1, 3], [3, 4, -1]])
    np.testing.assert_array_equal(pad_ids(narrow, 5)[:, 3:], -1)
    np.testing.assert_array_equal(pad_ids(narrow, 2), narrow)  # never narrows
    # A top-3 prediction scored at k=5: the missing ranks are misses, and the metrics say so.
    with pytest.warns(PredictionWidthWarning, match=r"pred ranks 3 label\(s\) per row, fewer"):
        close(precision_at_k(y6(), narrow, k=5), P6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # k within the ranks, or padded: no warning
        close(precision_at_k(y6(), narrow, k=3), P6[:3])
        close(precision_at_k(y6(), pad_ids(narrow, 5), k=5), P6)


def test_evaluate_and_ids_vs_scores_identical():
    a = evaluate(y6(), ids6(), k=5, inv_prop=W6)
    b = evaluate(y6(), scores6(), k=5, inv_prop=W6)
    coo = scores6().tocoo()
    dense = np.full((3, L6), -INF)  # dense scores: -inf = no prediction
    dense[coo.row, coo.col] = coo.data
    c = evaluate(y6(), dense, k=5, inv_prop=W6)
    assert list(a) == ["P", "nDCG", "PSP", "PSnDCG", "R", "coverage"]
    for key in a:
        assert a[key].dtype == np.float64 and a[key].shape == (5,)
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key], c[key])
    assert set(evaluate(y6(), ids6(), k=2)) == {"P", "nDCG", "R", "coverage"}


def test_top_k_ids_forms_ties_and_padding():
    S = scores6()
    np.testing.assert_array_equal(top_k_ids(S, 4), [[2, 1, 0, -1], [0, 3, -1, -1], [3, 4, -1, -1]])
    # dense scores: every entry is a prediction except -inf; +inf ranks first; ties -> smaller id
    dense = np.array([[0.0, 1.0, 1.0, -INF], [-INF, -INF, -INF, -INF], [0.5, INF, 0.5, 2.0]])
    np.testing.assert_array_equal(
        top_k_ids(dense, 5), [[1, 2, 0, -1, -1], [-1] * 5, [1, 3, 0, 2, -1]]
    )
    np.testing.assert_array_equal(top_k_ids(dense, 1), [[1], [-1], [1]])
    # ids: truncated to k, padded with -1, any negative id -> -1, unsigned accepted
    ids = np.array([[4, -7, 2], [0, 1, 3]])
    np.testing.assert_array_equal(top_k_ids(ids, 2), [[4, -1], [0, 1]])
    np.testing.assert_array_equal(
        top_k_ids(ids.clip(0).astype(np.uint16), 4), [[4, 0, 2, -1], [0, 1, 3, -1]]
    )
    assert top_k_ids(ids, 2).dtype == np.int64
    # a non-canonical CSR (duplicate entries) has its duplicates summed
    dup = sp.csr_matrix(
        (np.array([0.2, 0.5, 0.4]), np.array([0, 1, 0]), np.array([0, 3])), shape=(1, 2)
    )
    np.testing.assert_array_equal(top_k_ids(dup, 2), [[0, 1]])


def test_k_larger_than_number_of_labels():
    # L = 3, k = 5. row 0: true {0, 1}, ids [1, 2, 0] -> hits [1, 0, 1, 0, 0]
    #               row 1: true {2},    ids [2]       -> hits [1, 0, 0, 0, 0]
    Y = np.array([[1, 1, 0], [0, 0, 1]])
    pred = np.array([[1, 2, 0], [2, -1, -1]])
    # P: cumulative hits summed = [2, 2, 3, 3, 3] -> / (2 j)
    close(precision_at_k(Y, pred), [1.0, 0.5, 0.5, 3 / 8, 3 / 10])
    # nDCG row 0: [1, 1/(1+D2), 1.5/(1+D2), ...]; row 1: 1 everywhere
    n0 = [1, 1 / (1 + D2), 1.5 / (1 + D2), 1.5 / (1 + D2), 1.5 / (1 + D2)]
    close(ndcg_at_k(Y, pred), [(x + 1) / 2 for x in n0])
    close(recall_at_k(Y, pred), [0.75, 0.75, 1, 1, 1])  # row 0 [.5, .5, 1, ..], row 1 [1, ..]
    close(coverage_at_k(Y, pred), [2 / 3, 2 / 3, 1, 1, 1])  # 1 @1, 2 @1, 0 @3
    scores = np.array([[0.1, 0.9, 0.5], [0.0, 0.0, 1.0]])  # row 1 ranks [2, 0, 1]: extra misses
    close(precision_at_k(Y, scores), [1.0, 0.5, 0.5, 3 / 8, 3 / 10])
    assert top_k_ids(scores, 5).tolist() == [[1, 2, 0, -1, -1], [2, 0, 1, -1, -1]]


def test_perfect_ranking_gives_psp_one():
    rng = np.random.default_rng(1)
    Y = sp.random(40, 12, density=0.25, random_state=2, format="csr")
    Y.data[:] = 1
    w = rng.uniform(1, 5, 12)
    # perfect: each row's true labels by inv_prop descending -> 1 at every j (rows with a label)
    perfect = sp.csr_matrix(Y.multiply(w[None, :]))
    close(psprecision_at_k(Y, perfect, w, k=6), np.ones(6))
    close(psndcg_at_k(Y, perfect, w, k=6), np.ones(6))
    # all true labels but in the reverse order: 1 only once every row's labels are all shown
    reverse = sp.csr_matrix(Y.multiply(1.0 / w[None, :]))
    maxlab = int(np.diff(Y.indptr).max())
    psp = psprecision_at_k(Y, reverse, w, k=maxlab + 2)
    close(psp[maxlab - 1 :], 1.0)
    assert psp[0] < 1
    # no true label at all: the denominator is 0 -> 0
    close(psprecision_at_k(np.zeros((2, 3)), np.array([[0], [1]]), np.ones(3), k=2), [0, 0])
    close(psndcg_at_k(np.zeros((2, 3)), np.array([[0], [1]]), np.ones(3), k=2), [0, 0])


def test_empty_truth_gives_zeros():
    Y = sp.csr_matrix((2, 4))
    pred = np.array([[0, 1], [2, 3]])
    for f in (precision_at_k, ndcg_at_k, recall_at_k, coverage_at_k):
        close(f(Y, pred, k=3), np.zeros(3))


def test_inverse_propensity_hand_computed():
    # N = 4 rows, label counts N_l = [0, 1, 3]
    Y = sp.csr_matrix(np.array([[0, 1, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]]))
    # A = 1, B = 1: C = (ln 4 - 1) * 2 = 0.7725887; 1/p = 1 + C / (N_l + 1)
    C = (math.log(4) - 1) * 2
    close(inverse_propensity(Y, A=1.0, B=1.0), [1 + C, 1 + C / 2, 1 + C / 4])
    close(C, 0.7725887222397811)
    # defaults A = 0.55, B = 1.5: C = (ln 4 - 1) * 2.5^0.55 = 0.3862944 * 1.6553 = 0.6394
    C = (math.log(4) - 1) * 2.5**0.55
    expect = [1 + C * 1.5**-0.55, 1 + C * 2.5**-0.55, 1 + C * 4.5**-0.55]
    got = inverse_propensity(Y.toarray())
    close(got, expect)
    assert got.dtype == np.float64 and got.shape == (3,)
    assert got[0] > got[1] > got[2] > 1  # rarer labels weigh more


def test_inputs_not_modified():
    Y = sp.csr_matrix(np.array([[0, 2], [3, 0]], dtype=np.float32))
    pred = sp.csr_matrix(np.array([[0.5, 0.5], [0.0, 1.0]]))
    ya, pa = Y.data.copy(), pred.data.copy()
    evaluate(Y, pred, k=2, inv_prop=np.ones(2))
    inverse_propensity(Y)
    np.testing.assert_array_equal(Y.data, ya)
    np.testing.assert_array_equal(pred.data, pa)


def test_batching_matches_default(monkeypatch):
    rng = np.random.default_rng(3)
    Y = sp.random(57, 9, density=0.3, random_state=4, format="csr")
    scores = sp.random(57, 9, density=0.5, random_state=5, format="csr")
    scores.data = np.round(scores.data * 3) / 3  # ties
    ids = np.argsort(-rng.random((57, 9)), axis=1)[:, :4]
    ids[rng.random(ids.shape) < 0.2] = -1
    dense = rng.integers(0, 3, (57, 9)).astype(float)
    w = rng.uniform(1, 3, 9)
    preds = (scores, ids, dense)
    default = [evaluate(Y, p, k=6, inv_prop=w) for p in preds]
    tops = [top_k_ids(p, 6) for p in preds]
    for rows, entries in [(2, 1 << 21), (1 << 16, 7), (5, 11)]:
        monkeypatch.setattr(metrics, "_BATCH_ROWS", rows)
        monkeypatch.setattr(metrics, "_BATCH_ENTRIES", entries)
        for p, ref, top in zip(preds, default, tops, strict=True):
            got = evaluate(Y, p, k=6, inv_prop=w)
            for key in ref:
                close(got[key], ref[key])
            np.testing.assert_array_equal(top_k_ids(p, 6), top)


def test_row_mismatch():
    with pytest.raises(ValueError, match=r"inconsistent numbers of rows: 10 != 9\."):
        precision_at_k(np.zeros((10, 4)), np.zeros((9, 2), dtype=int))


@pytest.mark.parametrize("f", [precision_at_k, ndcg_at_k, recall_at_k, coverage_at_k])
def test_score_matrix_wrong_columns(f):
    with pytest.raises(ValueError, match="score matrix with 7 columns but Y_true has 6 labels"):
        f(y6(), sp.csr_matrix((3, 7)))


def test_float_ids_are_type_error():
    with pytest.raises(TypeError, match="float64 array with 3 columns but Y_true has 6 labels"):
        precision_at_k(y6(), ids6()[:, :3].astype(float))
    with pytest.raises(TypeError, match="integer array of label ids"):
        precision_at_k(y6(), np.array([["a"], ["b"], ["c"]]))
    with pytest.raises(TypeError, match="real scores"):
        precision_at_k(y6(), sp.csr_matrix(np.ones((3, 6), dtype=complex)))


def test_bad_ids():
    pred = ids6()
    pred[1, 2] = 6
    with pytest.raises(ValueError, match=r"label id 6 \(row 1\), but Y_true has only 6 labels"):
        evaluate(y6(), pred)
    with pytest.raises(ValueError, match="repeats label id 2 in row 2"):
        precision_at_k(y6(), np.array([[0, 1], [1, 2], [2, 2]]))
    with pytest.raises(ValueError, match="must be 2-D"):
        precision_at_k(y6(), np.array([0, 1, 2]))


def test_nan_scores():
    S = scores6()
    S.data[4] = np.nan
    with pytest.raises(ValueError, match=r"NaN scores \(first in row 1\)"):
        precision_at_k(y6(), S)
    dense = np.zeros((3, 6))
    dense[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"NaN scores \(first in row 2\)"):
        ndcg_at_k(y6(), dense)
    with pytest.raises(ValueError, match="NaN"):
        top_k_ids(dense, 2)


def test_bad_inv_prop():
    with pytest.raises(ValueError, match=r"one weight per label of Y_true \(6\); got shape \(5,\)"):
        psprecision_at_k(y6(), ids6(), np.ones(5))
    with pytest.raises(ValueError, match="finite, non-negative"):
        psndcg_at_k(y6(), ids6(), np.array([1, 1, np.nan, 1, 1, 1]))
    with pytest.raises(ValueError, match="finite, non-negative"):
        evaluate(y6(), ids6(), inv_prop=-np.ones(6))


def test_bad_k_and_labels():
    with pytest.raises(ValueError, match="'k' parameter"):
        precision_at_k(y6(), ids6(), k=0)
    with pytest.raises(TypeError, match="'k' parameter"):
        top_k_ids(ids6(), k=2.0)
    with pytest.raises(ValueError, match="Y_true must be a label matrix"):
        precision_at_k(-np.ones((3, 6)), ids6())
    with pytest.raises(ValueError, match="at least one row"):
        precision_at_k(np.zeros((0, 6)), np.zeros((0, 2), dtype=int))


def test_bad_propensity_parameters():
    Y = np.eye(3)
    with pytest.raises(ValueError, match="'A' parameter"):
        inverse_propensity(Y, A=0.0)
    with pytest.raises(ValueError, match="'B' parameter"):
        inverse_propensity(Y, B=0.0)
    with pytest.raises(ValueError, match="'B' parameter"):
        inverse_propensity(Y, B=float("nan"))
    with pytest.raises(TypeError, match="'A' parameter"):
        inverse_propensity(Y, A="0.5")
    with pytest.raises(ValueError, match="at least 2 rows"):
        inverse_propensity(np.ones((1, 3)))


# --------------------------------------------------------------------------------------------
# Brute-force reference (plain per-row Python loops) and property tests
# --------------------------------------------------------------------------------------------


def ref_rankings(pred, k):
    """List of per-row rankings (lists of k ids or None), straight from the definitions."""
    if sp.issparse(pred) or pred.dtype.kind == "f":
        dense = not sp.issparse(pred)
        P = pred if dense else pred.tocsr()
        out = []
        for i in range(P.shape[0]):
            if dense:
                entries = [(float(P[i, c]), c) for c in range(P.shape[1])]
            else:
                lo, hi = P.indptr[i], P.indptr[i + 1]
                entries = list(zip(P.data[lo:hi].tolist(), P.indices[lo:hi].tolist(), strict=True))
            entries = sorted((-s, c) for s, c in entries if s != -INF)
            ranked = [c for _, c in entries][:k]
            out.append(ranked + [None] * (k - len(ranked)))
        return out
    return [
        [int(x) if x >= 0 else None for x in row[:k]] + [None] * (k - len(row[:k]))
        for row in pred.tolist()
    ]


def reference(Y, pred, k, w):
    Y = np.asarray(Y.toarray() if sp.issparse(Y) else Y) != 0
    n, L = Y.shape
    ranks = ref_rankings(pred, k)
    res = {m: [0.0] * k for m in ("P", "nDCG", "R", "pn", "pd", "bn", "bd")}
    hit_sets = [set() for _ in range(k)]
    for i in range(n):
        true = set(np.flatnonzero(Y[i]).tolist())
        best = sorted((w[c] for c in true), reverse=True)
        for j in range(1, k + 1):
            top = ranks[i][:j]
            hits = [c is not None and c in true for c in top]
            res["P"][j - 1] += sum(hits) / j / n
            if true:
                res["R"][j - 1] += sum(hits) / len(true) / n
                dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
                idcg = sum(1 / math.log2(r + 2) for r in range(min(j, len(true))))
                res["nDCG"][j - 1] += dcg / idcg / n
            res["pn"][j - 1] += sum(w[c] for c, h in zip(top, hits, strict=True) if h) / j
            res["pd"][j - 1] += sum(
                w[c] / math.log2(r + 2) for r, (c, h) in enumerate(zip(top, hits, strict=True)) if h
            )
            res["bn"][j - 1] += sum(best[:j]) / j
            res["bd"][j - 1] += sum(x / math.log2(r + 2) for r, x in enumerate(best[:j]))
            hit_sets[j - 1] |= {c for c, h in zip(top, hits, strict=True) if h}
    present = int(Y.any(axis=0).sum())
    out = {
        "P": res["P"],
        "nDCG": res["nDCG"],
        "R": res["R"],
        "coverage": [len(s) / present if present else 0.0 for s in hit_sets],
        "PSP": [a / b if b > 0 else 0.0 for a, b in zip(res["pn"], res["bn"], strict=True)],
        "PSnDCG": [a / b if b > 0 else 0.0 for a, b in zip(res["pd"], res["bd"], strict=True)],
    }
    return out


@st.composite
def problems(draw):
    n = draw(st.integers(1, 6))
    L = draw(st.integers(1, 7))
    k = draw(st.integers(1, 8))
    form = draw(st.sampled_from(["ids", "sparse", "dense"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Y = (rng.random((n, L)) < draw(st.sampled_from([0.0, 0.2, 0.5, 0.9]))).astype(float)
    Y = sp.csr_matrix(Y) if draw(st.booleans()) else Y
    levels = np.array([-INF, 0.0, 0.25, 0.5, 1.0, INF])  # few levels -> many ties
    if form == "ids":
        width = draw(st.integers(0, 9))
        pred = np.full((n, width), -1, dtype=np.int64)
        for i in range(n):
            perm = rng.permutation(L)[:width]
            pred[i, : perm.size] = perm
            rng.shuffle(pred[i])  # spreads padding (-1) through the row
        pred[pred < 0] = rng.integers(-5, 0, size=int((pred < 0).sum()))
    elif form == "sparse":
        mask = rng.random((n, L)) < draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
        rows, cols = np.nonzero(mask)
        pred = sp.csr_matrix((rng.choice(levels, rows.size), (rows, cols)), shape=(n, L))
    else:
        pred = rng.choice(levels, (n, L))
    w = rng.choice([0.5, 1.0, 2.0, 3.7], L)
    return Y, pred, k, w


@settings(max_examples=100, deadline=None)
@given(problems())
def test_matches_bruteforce_reference(problem):
    Y, pred, k, w = problem
    ref = reference(Y, pred, k, w)
    got = evaluate(Y, pred, k=k, inv_prop=w)
    assert set(got) == set(ref)
    for key in ref:
        close(got[key], ref[key])
    close(precision_at_k(Y, pred, k), ref["P"])
    close(psndcg_at_k(Y, pred, w, k), ref["PSnDCG"])
    rk = ref_rankings(pred, k)
    np.testing.assert_array_equal(
        top_k_ids(pred, k), [[-1 if c is None else c for c in row] for row in rk]
    )


@settings(max_examples=100, deadline=None)
@given(problems())
def test_ids_and_scores_agree(problem):
    Y, pred, k, w = problem
    ids = top_k_ids(pred, k)
    a = evaluate(Y, pred, k=k, inv_prop=w)
    b = evaluate(Y, ids, k=k, inv_prop=w)
    # move empty ranks to the end, then build the equivalent sparse scores (rank r -> k - r)
    compact = np.take_along_axis(ids, np.argsort(ids < 0, axis=1, kind="stable"), axis=1)
    rows, pos = np.nonzero(compact >= 0)
    scores = sp.csr_matrix(((k - pos).astype(float), (rows, compact[rows, pos])), shape=Y.shape)
    c = evaluate(Y, compact, k=k, inv_prop=w)
    d = evaluate(Y, scores, k=k, inv_prop=w)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(c[key], d[key])
        if sp.issparse(pred) or pred.dtype.kind == "f":  # scores leave no empty rank inside
            np.testing.assert_array_equal(a[key], c[key])


# -------------------------------------- bad inputs: refused with a message naming them
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
        lambda: ndcg_at_k(Y_TRUE, with_value(sp.csr_matrix(np.ones((3, 4))), 1, 2, np.nan), 2),
        ValueError,
        r"pred contains NaN scores \(first in row 1\)",
    ),
    (
        "NaN sparse scores",
        lambda: ndcg_at_k(
            Y_TRUE, sp.csr_matrix(with_value(sp.csr_matrix(np.ones((3, 4))), 2, 0, np.nan)), 2
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


def test_size_metrics_work_is_sized_by_the_data():
    Y = sp.csr_matrix(np.eye(4, 3, dtype=np.float32))
    ids = np.array([[0, 1], [1, -1], [2, 0], [-1, -1]])
    small = evaluate(Y, ids, 2)
    big = evaluate(Y, ids, 1000)  # ranks past the widest row are extended, not built
    assert big["P"].shape == (1000,)
    np.testing.assert_allclose(big["P"][:2], small["P"])
    np.testing.assert_allclose(big["P"][999], small["P"][1] * 2 / 1000)
    np.testing.assert_allclose(big["nDCG"][999], big["nDCG"][2])
