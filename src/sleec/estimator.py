"""The SLEEC estimator: parameters, fit, predict, save and load (orchestration only).

The stages live in their own modules: :mod:`sleec.clustering` (step 1) and
:mod:`sleec.cluster_model` (steps 2-5 of one cluster, built on :mod:`sleec.graph`,
:mod:`sleec.svp`, :mod:`sleec.regression` and :mod:`sleec.neighbors`). Parameters are declared
once in :mod:`sleec.params`; the fitted state and its file layout in :mod:`sleec._state`.
"""

from __future__ import annotations

import dataclasses
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
from sklearn.utils import ClassifierTags, check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_info, threadpool_limits

from . import _labels
from . import _validation as v
from ._dask import send_if_dask
from ._labels import MULTICLASS
from ._memory import reserve_blas_buffers, start_kernel_threads
from ._persist import load_model, save_model
from ._state import FittedState, Learner
from .cluster_model import append_points, ensemble_votes, fit_cluster, prepare_features
from .clustering import cluster_members, partition
from .exceptions import ModelFormatError
from .metrics import precision_at_k
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
        k-means clusters per learner; ``"auto"`` gives ``max(1, n_samples // 15000)`` (the
        paper's rule is ``n_samples // 6000``). On held-out splits (3 learners): WordNet (53K
        points) P@1 57.18 with 2 clusters, 56.89 with 3 ("auto"), 54.03 with the paper's
        11; make_xmc at 10^5 (80K points) 74.53 / 74.56 / 74.47 with 4 / 5 ("auto") / 8.
        Clusters above 1.5x the mean size are split by 2-means.
    n_components : int, default=100
        Embedding dimension (authors: ``out_Dim``).
    n_graph_neighbors : int, default=100
        Label-graph neighbours per point, itself included (authors: ``SVP_neigh``).
    n_neighbors : int, default=25
        Neighbours voting at test time (authors: ``NNtest``).
    top_k : int, default=5
        Labels per point of :meth:`predict`, :meth:`decision_function`,
        :meth:`predict_labels` and :meth:`score` (each also takes an explicit ``k``).
    label_similarity : {"cosine", "dot"}, default="cosine"
        Similarity of label vectors in the graph and in the fitted Gram matrix: cosine (authors'
        code) or inner product (paper).
    svp_max_iter : int, default=3
        SVP iterations at most. Chosen on held-out 80/20 splits of the training sets with
        ``svp_step=1.5``: against 10 iterations, P@1/3/5 moved by -0.13/-0.02/-0.06 on
        Bibtex (3 splits) and -0.06/-0.17/-0.14 on WordNet (200 graph neighbours), for half
        the training time (WordNet 45 s -> 22 s); 10 iterations had matched 30 of step 1.
    svp_tol : float, default=1e-3
        SVP stops when its relative objective improves by less than this in one iteration.
    svp_step : float, default=1.5
        SVP gradient step eta (paper: 1). 1.5 reaches in 10 iterations the objective that
        step 1 reaches in about 15; a step that makes the objective worse is dropped and SVP
        goes on with step 1.
    l2_reg : float or "auto", default="auto"
        lambda of the ridge regressor; the authors' ``cost`` maps to ``1 / (2 cost)``.
        ``"auto"`` sets lambda = 171 x the mean squared non-zero feature value of the
        cluster, i.e. ``171 / m`` for unit rows with m non-zeros: 2.5 on Bibtex (the
        authors' value, best on its held-out splits), 9.2 on Delicious and 19 on WordNet,
        where more smoothing won on held-out splits (Delicious +0.5 P@1 over 2.5; WordNet
        P@1 56.08 / 56.89 / 54.59 with 5 / "auto" / 60): rows with few words need more.
    l1_reg : float, default=0.0
        mu, weight of ``||X V^T||_1`` (paper). 0 gives ridge (authors' code); > 0 switches
        to the ADMM solver. Both solve by conjugate gradients on the sparse features.
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
    classes_ : (n_labels,) the label names: column ids when ``fit`` got a label matrix,
        else the names from the label lists (str or int).
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
        top_k: int = 5,
        label_similarity: str = "cosine",
        svp_max_iter: int = 3,
        svp_tol: float = 1e-3,
        svp_step: float = 1.5,
        l2_reg: float | str = "auto",
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
        self.top_k = top_k
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
    def fit(self, X, y, *, callback: Callable[[int, int], None] | None = None) -> SLEEC:
        """Learn the model.

        Parameters
        ----------
        X : (n, d) sparse or dense features.
        y : the labels: a (n, L) sparse or dense 0/1 matrix, a sequence of n label
            collections (names, e.g. ``[["cat", "pet"], ["dog"]]``), or a 1-D array of n
            class labels (see :mod:`sleec._labels`); error messages call it ``Y``.
        callback : called as ``callback(done, total)`` after each (learner, cluster) task.
        """
        params = self.validated_params()
        X = v.check_matrix(X, "X")
        Y, classes, label_kind = _labels.encode(y, "Y")
        v.check_consistent_rows(X, Y)
        n = X.shape[0]
        if n == 0:
            raise ValueError("X and Y are empty: fitting needs at least one training point.")
        if X.shape[1] == 0:
            raise ValueError(
                f"X has 0 feature(s) (shape=({n}, 0)) while a minimum of 1 is required: "
                "fitting needs at least one feature column."
            )
        if Y.nnz == 0:
            raise ValueError("Y has no labels at all: every training point is label-free.")
        start = time.perf_counter()
        reserve_blas_buffers()  # now, or a MemoryError: never an OpenBLAS hang later
        features, routing = prepare_features(X, params["normalize"])
        rng = check_random_state(params["random_state"])
        seeds = rng.randint(0, 2**31 - 1, size=params["n_learners"])
        n_clusters = n_clusters_for(params["n_clusters"], n)
        max_size = 3 * -(-n // n_clusters) // 2  # 1.5x the mean size: no straggler task
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
        if config.parallel_kernels:
            start_kernel_threads()  # now, or a MemoryError: never a libgomp exit later
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
        self.state_ = FittedState(
            tuple(learners), Y, X.shape[1], classes, label_kind, params["normalize"]
        )
        self.n_features_in_ = X.shape[1]
        logger.info("SLEEC fit done in %.1f s", time.perf_counter() - start)
        return self

    def partial_fit(self, X, y) -> SLEEC:
        """Add training points (and labels) to a fitted model, without retraining.

        Each new point is routed to its cluster in every learner, embedded with that
        cluster's regressor and appended to its stored embeddings, and its labels to the
        training labels: it votes from the next prediction on. Labels the model has not seen
        (columns beyond ``n_labels_``, or new names, appended to ``classes_`` after the known
        ones) become predictable. SVP and the regressors are not refitted, so the cost is
        that of embedding the new points plus a copy of the touched clusters' stored
        embeddings and of the training-label matrix (add points in batches, not one by
        one). An unfitted model is fitted instead.

        A full :meth:`fit` is advisable once the added points are a sizable share of the
        training set (the clusters, embeddings and regressors never saw them): on held-out
        splits of Bibtex and Delicious, adding 10% cost little and adding 50% cost more (see
        BENCHMARKS.md, "Learning new points without retraining").

        Parameters
        ----------
        X : (m, n_features_in_) features. y : their labels, in the form ``fit`` was given.
        """
        if not hasattr(self, "state_"):
            return self.fit(X, y)
        X = v.check_features(X, self.n_features_in_)
        state = self.state_
        Y_new, classes, n_labels = _labels.extend(
            y, state.classes, state.label_kind, state.n_labels
        )
        v.check_consistent_rows(X, Y_new)
        n_old = state.train_labels.shape[0]
        self.state_ = dataclasses.replace(
            state,
            learners=append_points(
                state.learners, *prepare_features(X, state.normalize), first_row=n_old
            ),
            train_labels=sp.vstack(
                [_widen(state.train_labels, n_labels), Y_new], format="csr", dtype=np.float32
            ),
            classes=classes,
        )
        logger.info(
            "SLEEC partial_fit: %d points added to %d (%d labels)", X.shape[0], n_old, n_labels
        )
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

    @property
    def classes_(self) -> np.ndarray:
        """(n_labels,) the label names: the column ids ``arange(n_labels)`` when ``fit`` got a
        label matrix, else the names."""
        check_is_fitted(self, "state_")
        classes = self.state_.classes
        return np.arange(self.n_labels_) if classes is None else classes

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
        ids : (n, k) int32 column ids (``classes_[ids]`` are the names), sorted by decreasing
            score (ties: smaller id); ``k`` is clipped to ``n_labels_``. A point whose
            neighbours carry fewer than ``k`` labels gets fewer: its row is padded with -1
            (mask ``ids >= 0`` before indexing ``classes_``; :meth:`predict_labels` does).
        scores : (n, k) float32, the ensemble-averaged neighbour votes, padded with -inf.
        """
        check_is_fitted(self, "state_")
        X = v.check_features(X, self.n_features_in_)
        k = self.effective_k(k)
        batch_size = v.check_int(batch_size, "batch_size", low=1)
        ids = np.empty((X.shape[0], k), dtype=np.int32)
        scores = np.empty((X.shape[0], k), dtype=np.float32)
        labels, Y = self.state_.label_support
        for start, stop, votes in self._vote_batches(X, batch_size):
            top, scores[start:stop] = top_k_labels(votes, Y, k)
            ids[start:stop] = np.where(top >= 0, labels[np.maximum(top, 0)], -1)
        return ids, scores

    def _vote_batches(self, X: sp.csr_matrix, batch_size: int):
        """``(start, stop, votes)`` per batch of validated rows: the (q, n_train) neighbour
        votes of rows ``start:stop``, whose product with ``train_labels_`` is their scores."""
        params = self.validated_params()
        config = QueryConfig.from_params(params)
        state = self.state_
        reserve_blas_buffers()
        for start in range(0, X.shape[0], batch_size):
            stop = min(X.shape[0], start + batch_size)
            features, routing = prepare_features(X[start:stop], state.normalize)
            votes = ensemble_votes(
                features, routing, state.learners, config, state.train_labels.shape[0]
            )
            yield start, stop, votes

    def decision_function(self, X, k: int | None = None) -> sp.csr_matrix:
        """The top-``k`` label scores as a sparse (n, n_labels) float32 matrix.

        ``k`` defaults to ``top_k``. The entries are :meth:`predict_topk`'s scores, so
        ``precision_at_k(Y_test, model.decision_function(X_test))`` ranks exactly like it.
        """
        ids, scores = self.predict_topk(X, self._k(k))
        rows, cols = np.nonzero(ids >= 0)
        return sp.csr_matrix(
            (scores[rows, cols], (rows, ids[rows, cols])),
            shape=(ids.shape[0], self.n_labels_),
            dtype=np.float32,
        )

    def predict(self, X, k: int | None = None, *, threshold: float | None = None):
        """The predicted labels, in scikit-learn's multi-label convention.

        Parameters
        ----------
        X : (n, d) features.
        k : labels per point (default: ``top_k``).
        threshold : keep only labels scoring at least this (a score is the ensemble's
            neighbour vote share in [0, 1], see :meth:`predict_proba`).

        Returns
        -------
        For a label matrix or label lists given to ``fit``: a (n, n_labels) CSR 0/1
        indicator (int8) of each point's top-``k`` labels, columns in ``classes_`` order, as
        ``f1_score``, ``MultiLabelBinarizer.inverse_transform`` and scorers expect. For a
        1-D label array (one label per point): the (n,) array of each point's best label
        (points without any vote get ``classes_[0]``); ``k`` and ``threshold`` do not
        apply.
        """
        check_is_fitted(self, "state_")
        if self.state_.label_kind == MULTICLASS:
            ids, _ = self.predict_topk(X, 1)
            return self.state_.classes[np.maximum(ids[:, 0], 0)]
        ids, scores = self.predict_topk(X, self._k(k))
        keep = ids >= 0
        if threshold is not None:
            keep &= scores >= v.check_float(threshold, "threshold", low=0.0, high=1.0)
        rows, cols = np.nonzero(keep)
        return sp.csr_matrix(
            (np.ones(rows.size, dtype=np.int8), (rows, ids[rows, cols])),
            shape=(ids.shape[0], self.n_labels_),
        )

    def predict_labels(self, X, k: int | None = None) -> list[list]:
        """Each point's top-``k`` label names (default ``top_k``), best first, no padding: a
        point with fewer candidate labels gets a shorter list."""
        ids, _ = self.predict_topk(X, self._k(k))
        names = self.state_.classes
        if names is None:  # labels are column ids
            return [row[row >= 0].tolist() for row in ids]
        return [names[row[row >= 0]].tolist() for row in ids]

    def explain(self, X, k: int | None = None) -> list:
        """Why each row of ``X`` gets its top-``k`` labels (default ``top_k``): for every
        label, the training points that voted for it, their learner, cluster, distance,
        weight and share of the score (scores equal :meth:`predict_topk`'s exactly). Returns
        a list of :class:`sleec.explain.Explanation`; see :mod:`sleec.explain`."""
        from .explain import explain

        check_is_fitted(self, "state_")
        return explain(self, X, k)

    def predict_proba(self, X) -> np.ndarray:
        """Every label's estimated probability, a dense (n, n_labels) float32 array.

        A label's probability is its neighbour vote share: the weights of the point's
        ``n_neighbors`` nearest training points (summing to 1 per learner, averaged over
        learners) that carry the label, a k-nearest-neighbour estimate of P(label | x) in
        [0, 1]. Labels are not exclusive, so rows do not sum to 1. Memory is n x n_labels
        floats: meant for small label sets; with many labels use :meth:`decision_function`.
        """
        check_is_fitted(self, "state_")
        X = v.check_features(X, self.n_features_in_)
        out = np.empty((X.shape[0], self.n_labels_), dtype=np.float32)
        for start, stop, votes in self._vote_batches(X, PREDICT_BATCH):
            out[start:stop] = (votes @ self.state_.train_labels).toarray()
        return out

    def score(self, X, y) -> float:
        """Mean precision at ``top_k``: the share of each point's ``top_k`` predictions
        that are true labels, averaged over points (P@k of the XC repository). For a model
        fitted on 1-D class labels, the accuracy of :meth:`predict` (P@1).

        ``y`` is given as to ``fit`` (matrix, label lists or a 1-D array); labels the
        model never saw count as misses.
        """
        check_is_fitted(self, "state_")
        k = 1 if self.state_.label_kind == MULTICLASS else self._k(None)
        Y = _labels.to_matrix(y, self.state_.classes, self.n_labels_, "Y")
        ids, _ = self.predict_topk(X, k)
        return float(precision_at_k(Y, ids, k)[-1])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Not tagged a classifier: scikit-learn's splitters then call type_of_target on y,
        # which refuses label lists. The classifier tags still describe the outputs.
        tags.classifier_tags = ClassifierTags(multi_class=True, multi_label=True)
        tags.input_tags.sparse = True
        tags.target_tags.required = True
        tags.target_tags.two_d_labels = True
        tags.target_tags.multi_output = True
        return tags

    def effective_k(self, k: int) -> int:
        """The columns :meth:`predict_topk` returns for ``k``: ``k`` clipped to the number of
        labels some training point carries (no point can get more)."""
        check_is_fitted(self, "state_")
        return min(v.check_k(k), max(self.state_.label_support[0].size, 1))

    def _k(self, k: int | None) -> int:
        return self.validated_params()["top_k"] if k is None else v.check_k(k)

    # ------------------------------------------------------------ save/load
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to one ``.npz`` file atomically (no pickle).

        The content first passes the checks :meth:`load` runs (a ValueError otherwise, and
        an existing file is left as it was): a model that could not be loaded back never
        replaces a good file."""
        check_is_fitted(self, "state_")
        params = self.validated_params()  # plain values (a Fraction step becomes a float)
        if not isinstance(params["random_state"], (numbers.Integral, type(None))):
            params["random_state"] = None  # a RandomState object is not reproducible as JSON
        save_model(path, params, self.state_.to_arrays(), check=type(self)._restore)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SLEEC:
        """Read a model written by :meth:`save`; refuses unknown versions and damaged files."""
        params, arrays = load_model(path)
        try:
            model = cls._restore(params, arrays)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFormatError(
                f"'{os.fspath(path)}' holds an inconsistent model: {exc}"
            ) from None
        return model

    @classmethod
    def _restore(cls, params: dict, arrays: dict[str, np.ndarray]) -> SLEEC:
        """The model of a file's parameters and arrays, every one checked (what :meth:`load`
        runs on what it reads, and :meth:`save` on what it is about to write)."""
        model = cls(**params)
        model.validated_params()
        model.state_ = FittedState.from_arrays(arrays)
        model.n_features_in_ = model.state_.n_features
        return model


def _widen(M: sp.csr_matrix, n_cols: int) -> sp.csr_matrix:
    """``M`` with ``n_cols`` columns (new, empty ones on the right)."""
    return sp.csr_matrix((M.data, M.indices, M.indptr), shape=(M.shape[0], n_cols))


def _fit_task(
    X: sp.csr_matrix, Y: sp.csr_matrix, rows: np.ndarray, config: ClusterConfig, seed: int
):
    """One (learner, cluster) task, as joblib (or a Dask worker) runs it."""
    _single_threaded_blas()
    reserve_blas_buffers()  # once per thread (the parallel kernels run in fit's own thread)
    return fit_cluster(X, Y, rows, config, seed)


def _single_threaded_blas() -> None:
    """In a process where BLAS still runs several threads (a remote worker: fit's own process
    is capped around the tasks), cap it for good, so that every task computes alike."""
    if any(info["num_threads"] > 1 for info in threadpool_info() if info.get("user_api") == "blas"):
        threadpool_limits(limits=1, user_api="blas")


def _task_seed(learner_seed: int, cluster: int) -> int:
    return int(np.random.SeedSequence([int(learner_seed), cluster]).generate_state(1)[0])
