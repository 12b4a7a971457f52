"""The second stage after SLEEC's kNN votes: a label shortlist per point, re-ranked by
per-label linear classifiers (the shape of Slice, Jain et al. WSDM 2019, and the DeepXML
family: retrieve a shortlist, re-rank it with one-vs-all classifiers, fuse both scores).

For a point ``x`` (a prepared feature row), the shortlist is the union of

* the ``n_knn`` labels its neighbour votes score best (SLEEC's own prediction), and
* the ``n_centroid`` labels whose centroids are most similar to it: the cosine of the unit
  row with each label's centroid, the normalised sum of the unit rows carrying the label,

and each shortlisted label ``l`` gets the score

.. math:: s_l(x) = a\\, v_l(x) + (1 - a)\\, \\sigma(w_l^\\top x + b_l)

with ``v_l`` the kNN vote share (0 where the votes do not reach ``l``) and ``(w_l, b_l)`` an
L2-regularised linear classifier (logistic or squared-hinge loss) trained by dual coordinate
descent on ``l``'s positives and its hard negatives: the training points that shortlist
``l`` without carrying it, shortlisted the way prediction does it (a training point is not
its own neighbour). Both terms lie in [0, 1], so scores compare across points. Labels
without a classifier (added by ``partial_fit``) keep their vote share.

This module holds the stage's numerics; :class:`sleec.SLEEC` orchestrates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._kernels import vote_label_topk, vote_label_topk_par
from ._rank_kernels import (
    LOGISTIC,
    SQUARED_HINGE,
    label_supports,
    label_supports_par,
    pair_margins,
    pair_margins_by_feature,
    pair_margins_by_feature_par,
    pair_margins_par,
    train_rankers,
    train_rankers_par,
)

__all__ = [
    "LOSSES",
    "Rankers",
    "centroid_topk",
    "complete",
    "fit_rankers",
    "fuse",
    "negatives",
    "pair_scores",
    "union",
]

LOSSES = {"squared_hinge": SQUARED_HINGE, "logistic": LOGISTIC}
_CHUNK = 64  # labels (training) or points (scoring) per scratch array
_PARALLEL_ROWS = 512  # below this, threads cost more than they save


@dataclass(frozen=True)
class Rankers:
    """Per-label linear classifiers: ``W`` (L, d) float32 CSR of weights over the feature
    columns, ``bias`` (L,) float32 terms, ``trained`` (L,) bool (False: no classifier, the
    label keeps its vote share)."""

    W: sp.csr_matrix
    bias: np.ndarray
    trained: np.ndarray


def centroid_topk(
    X_unit: sp.csr_matrix, centroids_T: sp.csr_matrix, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` labels whose centroids have the largest cosine with each unit row:
    ``(ids (q, k) int32, cosines (q, k) float32)``, padded with -1 / -inf (labels sharing no
    feature with the row are not candidates). Exact: a sparse product restricted to the
    row's features, one dense scratch row of L floats per thread."""
    X_unit = sp.csr_matrix(X_unit, dtype=np.float32)
    q, n_labels = X_unit.shape[0], centroids_T.shape[1]
    ids = np.empty((q, k), dtype=np.int32)
    scores = np.empty((q, k), dtype=np.float32)
    kernel = vote_label_topk_par if q >= _PARALLEL_ROWS else vote_label_topk
    kernel(
        X_unit.indptr,
        X_unit.indices,
        X_unit.data,
        centroids_T.indptr,
        centroids_T.indices,
        centroids_T.data,
        n_labels,
        k,
        ids,
        scores,
        256,
    )
    return ids, scores


def union(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise union of two padded (q, a) / (q, b) int label-id arrays, as (q, a + b) int32:
    ``first``'s ids in place, then ``second``'s that ``first`` lacks, padding -1 elsewhere
    (the columns keep their positions, so values aligned with ``first`` stay aligned)."""
    both = np.concatenate([first, second], axis=1).astype(np.int32)
    order = np.argsort(both, axis=1, kind="stable")  # equal ids: first's occurrence first
    ranked = np.take_along_axis(both, order, axis=1)
    repeat = np.zeros(both.shape, dtype=bool)
    repeat[:, 1:] = (ranked[:, 1:] == ranked[:, :-1]) & (ranked[:, 1:] >= 0)
    duplicate = np.zeros(both.shape, dtype=bool)
    np.put_along_axis(duplicate, order, repeat, axis=1)
    both[duplicate] = -1
    return both


def complete(rows: np.ndarray, fallback: np.ndarray, floor: int) -> np.ndarray:
    """``rows`` (q, m) int32 label rows (-1 padding, distinct per row) with every row that
    holds fewer than ``floor`` labels filled up to ``floor`` (or its m slots) from
    ``fallback`` (f,), distinct label rows in order of preference, skipping those it holds.

    The fill goes into the padding slots in order, so values aligned with the other slots
    stay aligned. A point whose neighbours and centroids reach few labels (a short text)
    still gets a full shortlist: the rankers then score the labels the training set
    carries most, which is what a caller asking for ``k`` labels expects.
    """
    out = np.array(rows, dtype=np.int32, copy=True)
    held = (out >= 0).sum(axis=1)
    short = np.flatnonzero(held < floor)
    fallback = np.asarray(fallback, dtype=np.int64)
    if short.size == 0 or fallback.size == 0:
        return out
    part = out[short].astype(np.int64)
    width = int(max(part.max(initial=-1), fallback.max(initial=-1))) + 1
    # membership of each fallback label in each short row, by sorted (row, label) keys
    local = np.arange(short.size, dtype=np.int64)[:, None] * width
    keys = np.sort((local + part)[part >= 0])
    query = local + fallback[None, :]
    pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
    present = (keys[pos] == query) if keys.size else np.zeros(query.shape, dtype=bool)
    need = np.minimum(floor, out.shape[1]) - held[short]
    rank = np.cumsum(~present, axis=1)  # 1-based position among the labels a row lacks
    take = ~present & (rank <= need[:, None])
    free = np.argsort(part >= 0, axis=1, kind="stable")  # padding slots first, in order
    slot_rank = np.cumsum(take, axis=1) - 1
    r, c = np.nonzero(take)
    part[r, free[r, slot_rank[r, c]]] = fallback[c]
    out[short] = part
    return out


def negatives(candidates: np.ndarray, Y: sp.csr_matrix) -> np.ndarray:
    """``candidates`` (n, m) of training points with their own labels (rows of ``Y``) set to
    -1: each row's hard negatives."""
    Y = sp.csr_matrix(Y)
    Y.sort_indices()
    n, n_labels = Y.shape
    keys = np.repeat(np.arange(n, dtype=np.int64) * n_labels, np.diff(Y.indptr)) + Y.indices
    query = np.arange(n, dtype=np.int64)[:, None] * n_labels + candidates
    pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
    own = (keys[pos] == query) if keys.size else np.zeros(candidates.shape, dtype=bool)
    out = candidates.astype(np.int32, copy=True)
    out[own | (candidates < 0)] = -1
    return out


def fit_rankers(
    X: sp.csr_matrix,
    Y: sp.csr_matrix,
    hard_negatives: np.ndarray,
    *,
    loss: str,
    C: float,
    bias: float = 1.0,
    tol: float = 0.1,
    max_iter: int = 50,
    threshold: float = 0.0,
    seed: int = 0,
    labels: tuple[int, int] | None = None,
    parallel: bool = True,
) -> Rankers:
    """One classifier per label of ``Y`` (n, L) on the prepared rows ``X`` (n, d); with
    ``labels = (lo, hi)``, only labels ``lo..hi-1`` (the returned rows), so that blocks of
    labels train as separate tasks. A label's coordinate order is seeded by ``seed``, its
    first training point and its number of points: its classifier depends on its own
    problem only, never on the blocks or on the labels' order (ids or names).

    Objective of label ``l`` (LIBLINEAR's, with its constant feature ``bias``):

    .. math:: \\min_{w} \\tfrac12 \\|w\\|^2 + C \\sum_{i \\in P_l \\cup N_l}
              \\ell(y_{il}\\, w^\\top [x_i; \\text{bias}])

    over its positives ``P_l`` (the points carrying ``l``) and hard negatives ``N_l`` (the
    points whose row of ``hard_negatives`` (n, m), padded with -1, lists ``l``); ``loss``
    ``"logistic"`` or ``"squared_hinge"``. Solved to the dual tolerance ``tol`` in at most
    ``max_iter`` epochs; weights with ``|w| < threshold`` are dropped afterwards. Memory is
    linear in the positives plus negatives: one index and one sign per (point, label)
    pair, the weights, and one (d,) scratch array per thread.
    """
    X = sp.csr_matrix(X, dtype=np.float32)
    n, d = X.shape
    lo, hi = (0, Y.shape[1]) if labels is None else labels
    n_labels = hi - lo
    pos = sp.csr_matrix(Y, dtype=np.float32)[:, lo:hi]
    pos.data[:] = 1.0
    # Only this block's (point, label) pairs are materialised: a task's memory follows
    # its share of the pairs, not every point's whole row of negatives.
    rows, slots = np.nonzero((hard_negatives >= lo) & (hard_negatives < hi))
    neg = sp.csr_matrix(
        (
            np.full(rows.size, -1.0, np.float32),
            (rows, hard_negatives[rows, slots].astype(np.int64) - lo),
        ),
        shape=(n, n_labels),
    )
    del slots
    pairs = (pos + neg).T.tocsr()  # (L, n): +1 positive, -1 negative, sorted by point
    pairs.sum_duplicates()
    pairs.sort_indices()
    lp = pairs.indptr.astype(np.int64)
    lpts = pairs.indices.astype(np.int64)
    lsign = np.sign(pairs.data).astype(np.int8)
    sq_norms = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    counts = np.empty(n_labels, dtype=np.int64)
    (label_supports_par if parallel else label_supports)(
        lp, lpts, X.indptr, X.indices, d, _CHUNK, counts
    )
    wp = np.zeros(n_labels + 1, dtype=np.int64)
    np.cumsum(counts, out=wp[1:])
    features = np.empty(int(wp[-1]), dtype=np.int64)
    weights = np.empty(int(wp[-1]), dtype=np.float32)
    bias_terms = np.empty(n_labels, dtype=np.float32)
    (train_rankers_par if parallel else train_rankers)(
        lp,
        lpts,
        lsign,
        X.indptr,
        X.indices,
        X.data,  # float32: the kernels multiply it by float64 weights (exact promotion)
        sq_norms,
        d,
        float(C),
        float(C),
        float(bias),
        LOSSES[loss],
        float(tol),
        int(max_iter),
        _label_seeds(lp, lpts, seed),
        _CHUNK,
        wp,
        features,
        weights,
        bias_terms,
    )
    W = sp.csr_matrix((weights, features.astype(np.int32), wp), shape=(n_labels, d))
    if threshold > 0:
        W.data[np.abs(W.data) < threshold] = 0.0
        W.eliminate_zeros()
    trained = np.diff(lp) > 0
    return Rankers(W, bias_terms, trained)


def _label_seeds(lp: np.ndarray, lpts: np.ndarray, seed: int) -> np.ndarray:
    """(L,) uint64 seeds from each label's own problem: ``seed``, its first point, its size."""
    first = np.where(np.diff(lp) > 0, lpts[np.minimum(lp[:-1], max(lpts.size - 1, 0))], 0)
    mixed = np.uint64(seed) * np.uint64(1_000_003) + first.astype(np.uint64) * np.uint64(7919)
    return mixed + np.diff(lp).astype(np.uint64)


def pair_scores(X: sp.csr_matrix, candidates: np.ndarray, rankers) -> np.ndarray:
    """The rankers' probabilities ``sigma(w_l . x + b_l)`` (q, m) float32 of the candidate
    labels (q, m), distinct in each row, of the prepared rows ``X`` (q, d); NaN where a
    label has no classifier,
    0 for padding (-1). ``rankers``: :class:`Rankers`, or a fitted second stage (which
    also keeps the weights feature-major: whichever order stores fewer weights per batch
    runs, label by label or feature by feature; both sum alike)."""
    X = sp.csr_matrix(X, dtype=np.float32)
    cand = np.ascontiguousarray(candidates, dtype=np.int32)
    out = np.empty(cand.shape, dtype=np.float32)
    W = rankers.W
    W_T = getattr(rankers, "W_T", None)
    parallel = cand.shape[0] >= _PARALLEL_ROWS
    by_label = int(np.diff(W.indptr)[cand[cand >= 0]].sum())
    if W_T is not None and int(np.diff(W_T.indptr)[X.indices].sum()) < by_label:
        kernel = pair_margins_by_feature_par if parallel else pair_margins_by_feature
        kernel(
            X.indptr, X.indices, X.data, cand, W_T.indptr, W_T.indices, W_T.data,
            rankers.bias, W.shape[0], _CHUNK, out,
        )  # fmt: skip
    else:
        kernel = pair_margins_par if parallel else pair_margins
        kernel(
            X.indptr, X.indices, X.data, cand, W.indptr, W.indices, W.data, rankers.bias,
            X.shape[1], _CHUNK, out,
        )  # fmt: skip
    with np.errstate(over="ignore"):
        probs = (1.0 / (1.0 + np.exp(-out))).astype(np.float32)
    probs[cand < 0] = 0.0
    untrained = (cand >= 0) & ~rankers.trained[np.maximum(cand, 0)]
    probs[untrained] = np.nan
    return probs


def fuse(votes: np.ndarray, probs: np.ndarray, mix: float) -> np.ndarray:
    """``mix * votes + (1 - mix) * probs`` (float32), the vote share where ``probs`` is NaN
    (no classifier)."""
    probs = np.where(np.isnan(probs), votes, probs)
    return (mix * votes + (1.0 - mix) * probs).astype(np.float32)
