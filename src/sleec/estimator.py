"""The SLEEC estimator: parameters, fit, predict, save and load (orchestration only).

The stages live in their own modules: :mod:`sleec.clustering` (step 1) and
:mod:`sleec.cluster_model` (steps 2-5 of one cluster, built on :mod:`sleec.graph`,
:mod:`sleec.svp`, :mod:`sleec.regression` and :mod:`sleec.neighbors`). Parameters are declared
once in :mod:`sleec.params`; the fitted state and its file layout in :mod:`sleec._state`.
"""

from __future__ import annotations

import logging
import numbers
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_info, threadpool_limits

from . import _validation as v
from ._dask import send_if_dask
from ._persist import load_model, save_model
from ._state import FittedState, Learner
from .cluster_model import ensemble_votes, fit_cluster, prepare_features
from .clustering import cluster_members, partition
from .exceptions import ModelFormatError
from .neighbors import top_k_labels
from .params import ClusterConfig, QueryConfig, n_clusters_for, validate_params
from .presets import preset_params

__all__ = ["PREDICT_BATCH", "SLEEC"]

logger = logging.getLogger(__name__)

# Rows per prediction batch: each (learner, cluster) group of a batch pays a fixed cost of
# O(cluster size x n_components), so batches must hold many points per cluster.
PREDICT_BATCH = 16384


class SLEEC(BaseEstimator):
    """Sparse Local Embeddings for Extreme multi-label Classification (Bhatia et al., 2015).

    Clusters the training points; in each cluster embeds the points so that inner products of
    embeddings fit the label similarities of each point's nearest neighbours (SVP); learns a
    sparse linear map from features to embeddings; predicts by k-nearest neighbours in the
    embedding space of the test point's cluster, summed over an ensemble of learners.

    Parameters
    ----------
    n_learners : int, default=3
        Ensemble size; each learner uses a different random clustering and SVP start (authors:
        ``num_learners``). 3 was chosen on held-out training splits: over 1 learner, P@1 +0.7
        on Bibtex, P@3 +0.6 on Delicious, for 3x the training time.
    n_clusters : int or "auto", default="auto"
        Clusters per learner; ``"auto"`` gives ``max(1, n_samples // 6000)`` (paper's rule).
    n_components : int, default=100
        Embedding dimension (authors: ``out_Dim``).
    n_graph_neighbors : int, default=100
        Label-graph neighbours per point, itself included (authors: ``SVP_neigh``).
    n_neighbors : int, default=25
        Neighbours voting at test time (authors: ``NNtest``).
    label_similarity : {"cosine", "dot"}, default="cosine"
        Similarity of label vectors in the graph and in the fitted Gram matrix: cosine (authors'
        code) or inner product (paper).
    svp_max_iter : int, default=10
        SVP iterations at most. Chosen on held-out 80/20 splits of the training sets with
        ``svp_step=1.5``: against 30 iterations of step 1, P@1/3/5 moved by -0.14/-0.10/+0.04
        on Bibtex (5 splits, sd 0.8) and -0.19/+0.10/+0.15 on Delicious (3 splits, sd 0.5),
        for a third of the SVP time.
    svp_tol : float, default=1e-3
        SVP stops when its relative objective improves by less than this in one iteration.
    svp_step : float, default=1.5
        SVP gradient step eta (paper: 1). 1.5 reaches in 10 iterations the objective that
        step 1 reaches in about 15; a step that makes the objective worse is dropped and SVP
        goes on with step 1.
    l2_reg : float, default=2.5
        lambda of the regressor; the authors' ``cost`` maps to ``1 / (2 cost)``.
    l1_reg : float, default=0.0
        mu, weight of ``||X V^T||_1`` (paper). 0 gives ridge in closed form (authors' code);
        > 0 switches to the ADMM solver.
    admm_rho : float, default=1.0
        ADMM penalty (used when ``l1_reg > 0``).
    admm_max_iter : int, default=50
        ADMM iterations at most (used when ``l1_reg > 0``).
    weight_threshold : float in [0, 1), default=0.01
        Share of the regressor's weights pruned (smallest magnitudes; authors: ``w_thresh``).
    embedding_threshold : float in [0, 1), default=0.01
        Share of stored training embeddings zeroed per dimension (authors: ``sp_thresh``).
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings at test time (authors' code: euclidean).
    weighting : {"uniform", "distance"}, default="distance"
        Neighbour votes: ``exp(-d^2 / median d^2)`` over each query's neighbours, or uniform
        (paper and authors' code). Distance weighting was chosen on held-out parts of the
        training sets (3 random 80/20 splits, never the test split): P@1 +0.65 on Bibtex and
        +0.46 on Delicious over uniform votes (``benchmarks/select_defaults.py``).
    normalize : bool, default=True
        L2-normalise feature rows (authors' code, except Mediamill).
    random_state : int, RandomState or None, default=None
        Seeds the clusterings and the SVP start subspaces.
    n_jobs : int or None, default=None
        Parallel (learner, cluster) tasks through joblib (None = 1, -1 = all cores). Results do
        not depend on it.

    Attributes
    ----------
    state_ : :class:`sleec._state.FittedState`, everything ``fit`` learned (the other
        attributes are views of it).
    n_features_in_ : int. n_labels_ : int.
    learners_ : tuple of :class:`sleec._state.Learner`.
    train_labels_ : csr_matrix (n_train, n_labels) float32, the training labels (stored once;
        local models index its rows).

    Notes
    -----
    Where the paper and the authors' released code differ, each choice is a parameter:

    - label similarity: ``label_similarity="dot"`` (paper) or ``"cosine"`` (code, default);
    - sparsity: ``l1_reg > 0`` with ADMM (paper) or ``l1_reg=0`` with ``weight_threshold`` and
      ``embedding_threshold`` pruning (code, default);
    - neighbour votes: ``weighting="uniform"`` (both) or ``"distance"`` (default);
    - test-time distance: ``metric="euclidean"`` (code, default) or ``"cosine"``.

    Defaults were chosen on held-out 80/20 splits of the Bibtex training set (mean P@1 of
    three splits, bibtex preset): cosine 64.86 vs dot 63.63; pruning 64.86 vs ADMM with
    ``l1_reg=0.01`` 64.65 and ``0.1`` 62.33; euclidean 64.86 vs cosine 62.98; distance-weighted
    votes 64.86 vs uniform 64.21 (Delicious: 68.83 vs 68.37). The authors' code is reproduced
    by a preset with ``weighting="uniform"``; the paper by ``label_similarity="dot"``,
    ``l1_reg > 0``, ``weight_threshold=0``, ``embedding_threshold=0``, ``weighting="uniform"``.
    The embedding is the paper's SVP in both cases (the code's alternating-gradient solver
    fits the same kNN-only objective and is reported to reach the same accuracy).
    """

    def __init__(
        self,
        *,
        n_learners: int = 3,
        n_clusters: int | str = "auto",
        n_components: int = 100,
        n_graph_neighbors: int = 100,
        n_neighbors: int = 25,
        label_similarity: str = "cosine",
        svp_max_iter: int = 10,
        svp_tol: float = 1e-3,
        svp_step: float = 1.5,
        l2_reg: float = 2.5,
        l1_reg: float = 0.0,
        admm_rho: float = 1.0,
        admm_max_iter: int = 50,
        weight_threshold: float = 0.01,
        embedding_threshold: float = 0.01,
        metric: str = "euclidean",
        weighting: str = "distance",
        normalize: bool = True,
        random_state: Any = None,
        n_jobs: int | None = None,
    ):
        self.n_learners = n_learners
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.n_graph_neighbors = n_graph_neighbors
        self.n_neighbors = n_neighbors
        self.label_similarity = label_similarity
        self.svp_max_iter = svp_max_iter
        self.svp_tol = svp_tol
        self.svp_step = svp_step
        self.l2_reg = l2_reg
        self.l1_reg = l1_reg
        self.admm_rho = admm_rho
        self.admm_max_iter = admm_max_iter
        self.weight_threshold = weight_threshold
        self.embedding_threshold = embedding_threshold
        self.metric = metric
        self.weighting = weighting
        self.normalize = normalize
        self.random_state = random_state
        self.n_jobs = n_jobs

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SLEEC:
        """Estimator with the authors' settings for a dataset (see :mod:`sleec.presets`)."""
        return cls(**{**preset_params(name), **overrides})

    def validated_params(self) -> dict[str, Any]:
        """The parameters, checked and converted (what ``fit`` uses); raises TypeError or
        ValueError naming the first bad one. Call it to fail early, before reading data."""
        return validate_params(self.get_params())

    # ------------------------------------------------------------------ fit
    def fit(self, X, Y, *, callback: Callable[[int, int], None] | None = None) -> SLEEC:
        """Learn the model.

        Parameters
        ----------
        X : (n, d) sparse or dense features. Y : (n, L) sparse or dense binary labels.
        callback : called as ``callback(done, total)`` after each (learner, cluster) task.
        """
        params = self.validated_params()
        X = v.check_matrix(X, "X")
        Y = v.check_labels(Y, "Y")
        v.check_consistent_rows(X, Y)
        n = X.shape[0]
        if n == 0:
            raise ValueError("X and Y are empty: fitting needs at least one training point.")
        if X.shape[1] == 0:
            raise ValueError("X has 0 features: fitting needs at least one feature column.")
        if Y.nnz == 0:
            raise ValueError("Y has no labels at all: every training point is label-free.")
        start = time.perf_counter()
        features, routing = prepare_features(X, params["normalize"])
        rng = check_random_state(params["random_state"])
        seeds = rng.randint(0, 2**31 - 1, size=params["n_learners"])
        n_clusters = n_clusters_for(params["n_clusters"], n)
        max_size = 2 * -(-n // n_clusters)  # twice the mean size: no straggler task
        clusterings = [
            partition(routing, n_clusters, seed=int(s), max_size=max_size) for s in seeds
        ]
        tasks = [
            (li, c, rows)
            for li, (assign, centers) in enumerate(clusterings)
            for c, rows in enumerate(cluster_members(assign, centers.shape[0]))
        ]
        # Largest clusters first, so that the last tasks to run are short ones.
        order = sorted(range(len(tasks)), key=lambda t: -tasks[t][2].size)
        n_workers = min(effective_n_jobs(params["n_jobs"]), len(tasks))
        logger.info(
            "SLEEC fit: %d points, %d features, %d labels, %d learner(s), %d task(s) of %d to "
            "%d points on %d worker(s)",
            n,
            X.shape[1],
            Y.shape[1],
            params["n_learners"],
            len(tasks),
            tasks[order[-1]][2].size,
            tasks[order[0]][2].size,
            n_workers,
        )
        config = ClusterConfig.from_params(params, parallel_kernels=n_workers == 1)
        run = Parallel(n_jobs=n_workers, prefer="threads", return_as="generator")
        # On a Dask cluster: the data goes to the cluster once, the tasks get futures of it
        # (kept alive here until every task is done).
        Xs, Ys, *task_rows = send_if_dask(features, Y, *(tasks[t][2] for t in order))
        jobs = (
            delayed(_fit_task)(Xs, Ys, rows, config, _task_seed(seeds[tasks[t][0]], tasks[t][1]))
            for t, rows in zip(order, task_rows, strict=True)
        )
        results = [None] * len(tasks)
        # BLAS runs single-threaded during training: the numba kernels (or the parallel
        # tasks) own the cores, OpenBLAS threads competing with them made fits slower (Bibtex
        # 2.9 s -> 1.8 s once capped), and the fitted model does not depend on how many BLAS
        # threads the machine that runs a task has.
        with threadpool_limits(limits=1, user_api="blas"):
            for done, (t, local) in enumerate(zip(order, run(jobs), strict=True), start=1):
                results[t] = local
                if callback is not None:
                    callback(done, len(tasks))
        learners, t = [], 0
        for _, centers in clusterings:
            learners.append(Learner(centers, tuple(results[t : t + centers.shape[0]])))
            t += centers.shape[0]
        self.state_ = FittedState(tuple(learners), Y, X.shape[1])
        self.n_features_in_ = X.shape[1]
        logger.info("SLEEC fit done in %.1f s", time.perf_counter() - start)
        return self

    # ------------------------------------------------------- fitted state views
    @property
    def learners_(self) -> tuple[Learner, ...]:
        check_is_fitted(self, "state_")
        return self.state_.learners

    @property
    def train_labels_(self) -> sp.csr_matrix:
        check_is_fitted(self, "state_")
        return self.state_.train_labels

    @property
    def n_labels_(self) -> int:
        check_is_fitted(self, "state_")
        return self.state_.n_labels

    # -------------------------------------------------------------- predict
    def predict_topk(
        self, X, k: int = 5, *, batch_size: int = PREDICT_BATCH
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` labels per point.

        Works through ``X`` in batches of ``batch_size`` rows, so memory does not grow with the
        number of test points: per batch, the votes (``batch_size x n_neighbors x
        n_learners``, 16 bytes each: 20 MB for the defaults), one scratch row of L floats per
        thread, and float32 distance blocks of at most 2**22 entries (16 MB). No (n_test x
        n_train) or dense (n_test x L) matrix is ever formed.

        Returns
        -------
        ids : (n, k) int32, sorted by decreasing score (ties: smaller id), padded with -1.
        scores : (n, k) float32, the ensemble-averaged neighbour votes, padded with -inf.
        """
        check_is_fitted(self, "state_")
        X = v.check_features(X, self.n_features_in_)
        k = v.check_k(k)
        batch_size = v.check_int(batch_size, "batch_size", low=1)
        params = self.validated_params()
        config = QueryConfig.from_params(params)
        state = self.state_
        ids = np.empty((X.shape[0], k), dtype=np.int32)
        scores = np.empty((X.shape[0], k), dtype=np.float32)
        for start in range(0, X.shape[0], batch_size):
            stop = min(X.shape[0], start + batch_size)
            features, routing = prepare_features(X[start:stop], params["normalize"])
            votes = ensemble_votes(
                features, routing, state.learners, config, state.train_labels.shape[0]
            )
            ids[start:stop], scores[start:stop] = top_k_labels(votes, state.train_labels, k)
        return ids, scores

    def predict(self, X, k: int = 5) -> sp.csr_matrix:
        """Top-``k`` label scores as a sparse (n, n_labels) float32 matrix.

        Scores, not a 0/1 indicator, so ``precision_at_k(Y_test, model.predict(X_test))``
        ranks exactly like :meth:`predict_topk`.
        """
        ids, scores = self.predict_topk(X, k)
        rows, cols = np.nonzero(ids >= 0)
        return sp.csr_matrix(
            (scores[rows, cols], (rows, ids[rows, cols])),
            shape=(ids.shape[0], self.n_labels_),
            dtype=np.float32,
        )

    # ------------------------------------------------------------ save/load
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to one ``.npz`` file atomically (no pickle)."""
        check_is_fitted(self, "state_")
        params = self.get_params()
        if not isinstance(params["random_state"], (numbers.Integral, type(None))):
            params["random_state"] = None  # a RandomState object is not reproducible as JSON
        save_model(path, params, self.state_.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> SLEEC:
        """Read a model written by :meth:`save`; refuses unknown versions and damaged files."""
        params, arrays = load_model(path)
        try:
            model = cls(**params)
            model.validated_params()
            model.state_ = FittedState.from_arrays(arrays)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFormatError(
                f"'{os.fspath(path)}' holds an inconsistent model: {exc}"
            ) from None
        model.n_features_in_ = model.state_.n_features
        return model


def _fit_task(
    X: sp.csr_matrix, Y: sp.csr_matrix, rows: np.ndarray, config: ClusterConfig, seed: int
):
    """One (learner, cluster) task, as joblib (or a Dask worker) runs it."""
    _single_threaded_blas()
    return fit_cluster(X, Y, rows, config, seed)


def _single_threaded_blas() -> None:
    """In a process where BLAS still runs several threads (a remote worker: fit's own process
    is capped around the tasks), cap it for good, so that every task computes alike."""
    if any(info["num_threads"] > 1 for info in threadpool_info() if info.get("user_api") == "blas"):
        threadpool_limits(limits=1, user_api="blas")


def _task_seed(learner_seed: int, cluster: int) -> int:
    return int(np.random.SeedSequence([int(learner_seed), cluster]).generate_state(1)[0])
