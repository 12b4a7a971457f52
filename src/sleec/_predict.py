"""Prediction's pass, shared by every prediction method and ``explain``: batches of prepared
rows, their neighbour votes over the learners, the top labels of the votes or of the second
stage's shortlist, and the label prior for rows that carry no information.

Memory per batch: the votes (``batch x n_neighbors x n_learners`` entries), the shortlist
arrays (``batch x (shortlist_votes + shortlist_centroids)``) and one scratch row of L (or d)
floats per thread; nothing of size n_test x n_train or n_test x L.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from threadpoolctl import ThreadpoolController

from . import rerank
from ._memory import reserve_blas_buffers
from ._state import FittedState, Learner
from ._topk import top_k_dense
from .cluster_model import ensemble_votes, prepare_features
from .exceptions import NoFeatureWarning
from .neighbors import top_k_labels
from .params import QueryConfig, RerankConfig

__all__ = [
    "Batch",
    "Shortlist",
    "batches",
    "best_of",
    "no_information",
    "prediction_threads",
    "shortlist_scores",
    "top_labels",
]


@dataclass(frozen=True)
class Batch:
    """Rows ``start:stop`` of the validated input: their prepared ``features`` and unit
    ``routing`` rows and their (q, n_train) neighbour ``votes`` (with ``details`` when
    asked, :class:`sleec.cluster_model.VoteDetails`)."""

    start: int
    stop: int
    features: sp.csr_matrix
    routing: sp.csr_matrix
    votes: sp.csr_matrix
    details: object = None


def batches(
    state: FittedState,
    X: sp.csr_matrix,
    batch_size: int,
    learners: tuple[Learner, ...],
    query: QueryConfig,
    *,
    details: bool = False,
) -> Iterator[Batch]:
    """The :class:`Batch` es of validated rows ``X``, ``batch_size`` rows each."""
    reserve_blas_buffers()  # now, or a MemoryError: never an OpenBLAS hang later
    for start in range(0, X.shape[0], batch_size):
        stop = min(X.shape[0], start + batch_size)
        features, routing = prepare_features(X[start:stop], state.normalize)
        found = ensemble_votes(
            features, routing, learners, query, state.train_labels.shape[0], details=details
        )
        votes, extra = found if details else (found, None)
        yield Batch(start, stop, features, routing, votes, extra)


def top_labels(state: FittedState, votes: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, scores)`` (q, k) of the labels the votes (q, n_train) score best; scores
    clipped to 1 (float32 sums of weights that add up to 1 may round above it)."""
    labels, Y = state.label_support
    top, scores = top_k_labels(votes, Y, k)
    np.minimum(scores, 1.0, out=scores)
    return np.where(top >= 0, labels[np.maximum(top, 0)], -1).astype(np.int32), scores


@dataclass(frozen=True)
class Shortlist:
    """A batch's shortlisted labels (q, m) and their parts: ``candidates`` (-1: none),
    ``votes`` (vote share, 0 where the votes do not reach), ``probs`` (the rankers'
    probability, NaN without a ranker) and the fused ``scores`` (-inf for padding)."""

    candidates: np.ndarray
    votes: np.ndarray
    probs: np.ndarray
    scores: np.ndarray


def shortlist_scores(state: FittedState, batch: Batch, config: RerankConfig) -> Shortlist:
    """The second stage on one batch: the shortlist (the votes' ``shortlist_votes`` best
    labels and the ``shortlist_centroids`` nearest centroids) scored by
    :func:`sleec.rerank.fuse`; candidates are label ids."""
    stage = state.second_stage
    if stage is None:
        raise ValueError("the model has no second stage")
    n_votes = min(config.shortlist_votes, state.label_support[0].size)
    q = batch.stop - batch.start
    voted, shares = np.full((q, 0), -1, np.int32), np.zeros((q, 0), np.float32)
    if n_votes:
        voted, shares = top_labels(state, batch.votes, n_votes)
    near = np.full((q, 0), -1, np.int32)
    n_near = min(config.shortlist_centroids, stage.labels.size)
    unit = stage.columns(batch.routing)
    if n_near:
        near, _ = rerank.centroid_topk(unit, stage.centroids_T, n_near)
    rows = rerank.union(stage.rows_of(voted), near)  # the stage's label rows
    votes = np.zeros(rows.shape, dtype=np.float32)
    votes[:, :n_votes] = np.where(voted >= 0, shares, 0.0)
    votes[rows < 0] = 0.0  # a voted label the stage lacks: its slot may be filled below
    # A point reaching few labels (a short text) still gets a full shortlist: the labels
    # training carries most fill it, for the rankers to score.
    floor = min(max(config.shortlist_votes, config.shortlist_centroids), stage.labels.size)
    fallback = stage.rows_of(state.labels_by_frequency[: rows.shape[1] + floor])
    rows = rerank.complete(rows, fallback[fallback >= 0], floor)
    probs = rerank.pair_scores(stage.columns(batch.features), rows, stage)
    scores = rerank.fuse(votes, probs, config.ranker_mix)
    scores[rows < 0] = -np.inf
    candidates = np.where(rows >= 0, stage.labels[np.maximum(rows, 0)], -1).astype(np.int32)
    return Shortlist(candidates, votes, probs, scores)


def best_of(shortlist: Shortlist, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, scores)`` (q, k) of a shortlist's best labels (ties: smaller id), padded
    with -1 / -inf."""
    cand, scores = shortlist.candidates, shortlist.scores
    if cand.shape[1] < k:
        pad = k - cand.shape[1]
        cand = np.pad(cand, ((0, 0), (0, pad)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    order = np.lexsort((cand, -scores), axis=1)[:, :k]
    ids = np.take_along_axis(cand, order, axis=1).astype(np.int32)
    top = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    ids[top == -np.inf] = -1
    return ids, top


def no_information(state: FittedState, X: sp.csr_matrix, ids: np.ndarray, scores: np.ndarray):
    """Rows of ``X`` without a non-zero feature that training saw carry no information: they
    get the labels most frequent in training, scored by frequency, in place (with a
    :class:`~sleec.NoFeatureWarning`). Returns those rows."""
    known = state.known_features
    seen = known[X.indices] & (X.data != 0)
    row_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    empty = np.flatnonzero(np.bincount(row_of[seen], minlength=X.shape[0]) == 0)
    if empty.size:
        prior = state.label_prior
        top = top_k_dense(prior[None, :], ids.shape[1])[0]
        ids[empty], scores[empty] = top, np.where(top >= 0, prior[top], -np.inf)
        warnings.warn(
            f"{empty.size} of {X.shape[0]} point(s) have no non-zero feature that training "
            f"saw (first: row {empty[0]}); they carry no information and get the labels "
            "most frequent in training, scored by their frequency.",
            NoFeatureWarning,
            stacklevel=4,
        )
    return empty


@contextlib.contextmanager
def prediction_threads(n_jobs: int | None):
    """numba and BLAS threads for prediction: ``n_jobs`` (joblib's meaning) when set, else
    whatever the process has (every core by default). The BLAS libraries are found once per
    process (a search of the loaded libraries costs milliseconds: too much per call)."""
    if n_jobs is None:
        yield
        return
    import numba

    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    n = max(1, min(effective_n_jobs(n_jobs), most))
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with _blas_controller().limit(limits=n, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(before)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()
