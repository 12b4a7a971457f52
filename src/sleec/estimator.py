"""The SLEEC estimator: parameters, fit, predict, save and load (orchestration only).

The stages live in their own modules: :mod:`sleec.clustering` (step 1),
:mod:`sleec.cluster_model` (steps 2-5 of one cluster, built on :mod:`sleec.graph`,
:mod:`sleec.svp`, :mod:`sleec.regression` and :mod:`sleec.neighbors`) and
:mod:`sleec.rerank` (the second stage). :mod:`sleec._fit` plans and runs fit's tasks,
:mod:`sleec._predict` is prediction's pass. Parameters are declared once in
:mod:`sleec.params`; the fitted state and its file layout in :mod:`sleec._state`.
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
from sklearn.base import BaseEstimator
from sklearn.utils import ClassifierTags, check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _fit, _labels, _predict, rerank
from . import _validation as v
from ._labels import MULTICLASS, name_problem
from ._memory import reserve_blas_buffers
from ._persist import load_model, save_model
from ._sparse import select_columns
from ._state import FittedState, Learner, SecondStage
from ._version import __version__
from .cluster_model import append_points, prepare_features
from .exceptions import ModelFormatError
from .metrics import pad_ids, precision_at_k
from .params import PARAMS, QueryConfig, RerankConfig, validate_params
from .presets import preset_params

__all__ = ["PREDICT_BATCH", "SLEEC"]

logger = logging.getLogger(__name__)

# Rows per prediction batch: each (learner, cluster) group of a batch pays a fixed cost of
# O(cluster size x n_components), so batches must hold many points per cluster.
PREDICT_BATCH = 16384
PARAM_NAMES = tuple(p.name for p in PARAMS)
# Parameters a model file of format version 2 lacks, and what that model was fitted with.
_BEFORE_VERSION_3 = {"shortlist_votes": 0, "shortlist_centroids": 0}


class SLEEC(BaseEstimator):
    """Sparse Local Embeddings for Extreme multi-label Classification (Bhatia et al., 2015).

    Clusters the training points; in each cluster embeds the points so that inner products of
    embeddings fit the label similarities of each point's nearest neighbours (SVP); learns a
    sparse linear map from features to embeddings; predicts by k-nearest neighbours in the
    embedding space of the test point's cluster, summed over an ensemble of learners.

    With the second stage on (the library default; presets turn it off), each point's
    labels are re-ranked: a shortlist of the votes' best labels and of the labels whose
    centroids are nearest the point, scored by a mix of the vote share and a per-label
    linear classifier (:mod:`sleec.rerank`). Every default below was chosen on held-out
    splits of training sets, never on a test split; the measurements are in BENCHMARKS.md
    ("Choosing the defaults").

    Parameters
    ----------
    n_learners : int, default=3
        Ensemble size; each learner uses a different random clustering and SVP start (authors:
        ``num_learners``).
    n_clusters : int or "auto", default="auto"
        k-means clusters per learner; ``"auto"`` gives ``max(1, n_samples // 15000)`` (the
        paper's ``n_samples // 6000`` lost accuracy to small clusters). Clusters above 1.5x
        the mean size are split by 2-means.
    n_components : int, default=100
        Embedding dimension (authors: ``out_Dim``).
    n_graph_neighbors : int, default=100
        Label-graph neighbours per point, itself included (authors: ``SVP_neigh``).
    n_neighbors : int, default=25
        Neighbours voting at test time (authors: ``NNtest``).
    n_probes : int, default=16
        Approximate nearest neighbours: each cluster's stored embeddings are split into
        about ``sqrt(size)`` cells (k-means, built once per model from the embeddings), and
        a point's neighbours are searched in its ``n_probes`` nearest cells (an inverted
        file, as FAISS's IVF). ``0``: exact search over every stored point. Clusters with
        fewer than ``2 n_probes`` cells are always searched exactly. Also used by the
        second stage's leave-one-out mining during ``fit``.
    top_k : int, default=5
        Labels per point of :meth:`predict_topk`, :meth:`predict`,
        :meth:`decision_function`, :meth:`predict_labels` and :meth:`score` (each also takes
        an explicit ``k``).
    label_similarity : {"cosine", "dot"}, default="cosine"
        Similarity of label vectors in the graph and in the fitted Gram matrix: cosine (authors'
        code) or inner product (paper).
    svp_max_iter : int, default=3
        SVP iterations at most (presets: 10, the authors' solver runs to convergence).
    svp_tol : float, default=1e-3
        SVP stops when its relative objective improves by less than this in one iteration.
    svp_step : float, default=1.5
        SVP gradient step eta (paper: 1); a step that makes the objective worse is dropped
        and SVP goes on with step 1.
    l2_reg : float or "auto", default="auto"
        lambda of the ridge regressor; the authors' ``cost`` maps to ``1 / (2 cost)``.
        ``"auto"`` sets lambda = 171 x the mean squared non-zero feature value of the
        cluster (``171 / m`` for unit rows with m non-zeros): rows with few words need more
        smoothing.
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
        (paper and authors' code).
    shortlist_votes : int, default=100
        Second stage: the labels the neighbour votes score best, put on each point's
        shortlist. 0 together with ``shortlist_centroids=0`` turns the stage off (the
        authors' method, and every preset). Either may change after fit: the shortlist is
        a prediction-time speed and accuracy knob.
    shortlist_centroids : int, default=100
        Second stage: the labels whose centroids (normalised sums of the unit rows carrying
        them) have the largest cosine with the point, added to its shortlist.
    ranker_loss : {"logistic", "squared_hinge"}, default="squared_hinge"
        Loss of the per-label rankers, L2-regularised and solved by dual coordinate descent
        as LIBLINEAR does; each is trained on its label's positives and hard negatives (the
        training points that shortlist it, mined with leave-one-out votes).
    ranker_c : float, default=1.0
        The rankers' cost C (larger: less regularisation).
    ranker_mix : float in [0, 1], default=0.4
        A shortlisted label scores ``mix x vote share + (1 - mix) x sigmoid(ranker
        margin)``: both in [0, 1], so scores compare across points (thresholds, scorers).
    ranker_threshold : float, default=0.1
        Ranker weights with ``|w|`` below this are pruned after training.
    normalize : bool, default=True
        L2-normalise feature rows (authors' code, except Mediamill).
    random_state : int, RandomState or None, default=None
        Seeds the clusterings, the SVP start subspaces and the rankers' coordinate orders.
    n_jobs : int or None, default=None
        Parallel tasks of fit through joblib (None = 1, -1 = all cores); prediction's
        kernels use that many threads when it is set, every core when it is None. Results
        do not depend on it.

    Attributes
    ----------
    state_ : :class:`sleec._state.FittedState`, everything ``fit`` learned (the other
        attributes are views of it).
    n_features_in_ : int. n_labels_ : int.
    classes_ : (n_labels,) the label names: column ids when ``fit`` got a label matrix,
        else the names from the label lists (str or int).
    label_names_ : (n_labels,) str display names, or None.
    label_prior_ : (n_labels,) float32, the share of training points carrying each label.
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

    The authors' code is reproduced by a preset with ``weighting="uniform"``; the paper by
    ``label_similarity="dot"``, ``l1_reg > 0``, ``weight_threshold=0``,
    ``embedding_threshold=0``, ``weighting="uniform"``, both without the second stage. The
    embedding is the paper's SVP in both cases (the code's alternating-gradient solver fits
    the same kNN-only objective and is reported to reach the same accuracy).
    """

    def __init__(
        self,
        *,
        n_learners: int = 3,
        n_clusters: int | str = "auto",
        n_components: int = 100,
        n_graph_neighbors: int = 100,
        n_neighbors: int = 25,
        n_probes: int = 16,
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
        shortlist_votes: int = 100,
        shortlist_centroids: int = 100,
        ranker_loss: str = "squared_hinge",
        ranker_c: float = 1.0,
        ranker_mix: float = 0.4,
        ranker_threshold: float = 0.1,
        normalize: bool = True,
        random_state: Any = None,
        n_jobs: int | None = None,
    ):
        self.n_learners = n_learners
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.n_graph_neighbors = n_graph_neighbors
        self.n_neighbors = n_neighbors
        self.n_probes = n_probes
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
        self.shortlist_votes = shortlist_votes
        self.shortlist_centroids = shortlist_centroids
        self.ranker_loss = ranker_loss
        self.ranker_c = ranker_c
        self.ranker_mix = ranker_mix
        self.ranker_threshold = ranker_threshold
        self.normalize = normalize
        self.random_state = random_state
        self.n_jobs = n_jobs

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> SLEEC:
        """Estimator with the authors' settings for a dataset (see :mod:`sleec.presets`)."""
        return cls(**{**preset_params(name), **overrides})

    def validated_params(self) -> dict[str, Any]:
        """The parameters, checked and converted (what ``fit`` uses); raises TypeError or
        ValueError naming the first bad one. Call it to fail early, before reading data.

        Checked once per set of values: a prediction asks several times, and a one-point
        prediction must not pay the check (and scikit-learn's signature inspection) each
        time."""
        values = tuple(getattr(self, p.name) for p in PARAMS)
        cached = self.__dict__.get("_validated")
        if cached is not None and _same(cached[0], values):
            return dict(cached[1])
        checked = validate_params(dict(zip(PARAM_NAMES, values, strict=True)))
        self.__dict__["_validated"] = (values, checked)
        return dict(checked)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, *, callback: Callable[[int, int], None] | None = None) -> SLEEC:
        """Learn the model.

        Parameters
        ----------
        X : (n, d) sparse or dense features.
        y : the labels: a (n, L) sparse or dense 0/1 matrix, a sequence of n label
            collections (names, e.g. ``[["cat", "pet"], ["dog"]]``), or a 1-D array of n
            class labels (see :mod:`sleec._labels`); error messages call it ``Y``.
        callback : progress, called as ``callback(done, total)`` at the start, after each
            learner's clustering and after each (learner, cluster) task (``total`` is exact
            once the clusterings are done: a cluster above the size cap adds a task).
            Nothing is reported without it, but INFO log records of ``logging``.
        """
        params = self.validated_params()
        X, Y, classes, label_kind = _training_data(X, y)
        start = time.perf_counter()
        reserve_blas_buffers()  # now, or a MemoryError: never an OpenBLAS hang later
        features, routing = prepare_features(X, params["normalize"])
        rng = check_random_state(params["random_state"])
        seeds = rng.randint(0, 2**31 - 1, size=params["n_learners"])
        staged = RerankConfig.from_params(params).enabled
        steps = _fit.Steps(
            callback,
            params["n_learners"] * (1 + _fit.plan(params, X.shape[0]).n_clusters)
            + (_fit.stage_steps(params, X.shape[0], Y.nnz) if staged else 0),
        )
        learners = _fit.fit_learners(features, routing, Y, params, seeds, steps)
        stage = None
        if staged:
            stage = _fit.fit_second_stage(
                features, routing, Y, learners, params, int(rng.randint(0, 2**31 - 1)), steps
            )
        seconds = time.perf_counter() - start
        info = {
            "fit_seconds": round(seconds, 3),
            "sleec_version": __version__,
            "n_train": Y.shape[0],
        }
        self.state_ = FittedState(
            learners,
            Y,
            X.shape[1],
            classes,
            label_kind,
            params["normalize"],
            info=info,
            second_stage=stage,
        )
        self.n_features_in_ = X.shape[1]
        logger.info("SLEEC fit done in %.1f s", seconds)
        return self

    def partial_fit(self, X, y) -> SLEEC:
        """Add training points (and labels) to a fitted model, without retraining.

        Each new point is routed to its cluster in every learner, embedded with that
        cluster's regressor and appended to its stored embeddings, and its labels to the
        training labels: it votes from the next prediction on. Labels the model has not seen
        (columns beyond ``n_labels_``, or new names, appended to ``classes_`` after the known
        ones) become predictable. SVP, the regressors and the second stage's rankers are not
        refitted: the new points join the label centroids, a new label gets a centroid and
        no ranker (it is scored by its vote share alone). The cost is that of embedding the
        new points plus a copy of the touched clusters' stored embeddings and of the
        training-label matrix (add points in batches, not one by one). An unfitted model is
        fitted instead.

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
        features, routing = prepare_features(X, state.normalize)
        self.state_ = dataclasses.replace(
            state,
            learners=append_points(state.learners, features, routing, first_row=n_old),
            second_stage=_grow_stage(state.second_stage, routing, Y_new, n_labels),
            train_labels=sp.vstack(
                [_widen(state.train_labels, n_labels), Y_new], format="csr", dtype=np.float32
            ),
            classes=classes,
            label_names=_more_names(state.label_names, n_labels),
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
    def label_names_(self) -> np.ndarray | None:
        """(n_labels,) str, each label's name for display: ``classes_`` as text for a model
        fitted on label names, the names given to :meth:`set_label_names` for a model fitted
        on a label matrix, else None (the labels are known by their ids only)."""
        check_is_fitted(self, "state_")
        if self.state_.classes is not None:
            return self.state_.classes.astype(str)
        return self.state_.label_names

    def set_label_names(self, names) -> SLEEC:
        """Name the labels of a model fitted on a label matrix (e.g. the ``labels.txt`` of
        an XC data set, line i naming label id i): ``explain``, ``report`` and
        ``predict --names`` show them; the labels keep their ids (``classes_``), so
        predictions still match the data files. ``names``: n_labels distinct strings;
        None removes them. The model file keeps them."""
        check_is_fitted(self, "state_")
        if self.state_.classes is not None:
            raise ValueError(
                "this model was fitted on label names (classes_); set_label_names names the "
                "labels of a model fitted on a label matrix"
            )
        if names is not None:
            names = np.asarray(names, dtype=object)
            if names.ndim != 1 or names.size != self.n_labels_:
                raise ValueError(
                    f"names must list one name per label: {self.n_labels_} expected, got "
                    f"{names.size if names.ndim == 1 else names.shape}."
                )
            bad = [n for n in names.tolist() if not isinstance(n, str)]
            if bad:
                raise TypeError(f"label names must be strings; got {bad[0]!r}.")
            for j, name in enumerate(names.tolist()):
                problem = name_problem(name)
                if problem is not None:
                    raise ValueError(
                        f"the name {name[:60]!r} of label {j} {problem}; label names must "
                        "follow sleec._labels.NAME_RULE"
                    )
            names = names.astype(str)
            if np.unique(names).size != names.size:
                raise ValueError("label names must be distinct.")
        self.state_ = dataclasses.replace(self.state_, label_names=names)
        return self

    @property
    def label_prior_(self) -> np.ndarray:
        """(n_labels,) float32, the share of training points carrying each label."""
        check_is_fitted(self, "state_")
        return self.state_.label_prior

    @property
    def classes_(self) -> np.ndarray:
        """(n_labels,) the label names: the column ids ``arange(n_labels)`` when ``fit`` got a
        label matrix, else the names."""
        check_is_fitted(self, "state_")
        classes = self.state_.classes
        return np.arange(self.n_labels_) if classes is None else classes

    # -------------------------------------------------------------- predict
    def predict_topk(
        self,
        X,
        k: int | None = None,
        *,
        batch_size: int = PREDICT_BATCH,
        n_learners: int | None = None,
        callback: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` labels per point (``k`` defaults to ``top_k``).

        Works through ``X`` in batches of ``batch_size`` rows, so memory does not grow with the
        number of test points: per batch, the votes (``batch_size x n_neighbors x
        n_learners``, 16 bytes each: 20 MB for the defaults), one scratch row of L floats per
        thread, and float32 distance blocks of at most 2**22 entries (16 MB). No (n_test x
        n_train) or dense (n_test x L) matrix is ever formed.

        Parameters
        ----------
        X : (n, n_features_in_) features. k : labels per point.
        n_learners : consult only the ensemble's first ``n_learners`` learners (default:
            all): the cost of prediction is proportional to it, accuracy usually falls.
        callback : called as ``callback(done, n)`` after each batch (``done`` rows).

        Prediction's kernels use ``n_jobs`` threads when it is set (-1: every core), every
        core when it is None; the result does not depend on it.

        Returns
        -------
        ids : (n, k) int32 column ids (``classes_[ids]`` are the names), sorted by decreasing
            score (ties: smaller id); ``k`` is clipped to the labels some training point
            carries. A point whose neighbours carry fewer than ``k`` labels gets fewer: its
            row is padded with -1 (mask ``ids >= 0`` before indexing ``classes_``;
            :meth:`predict_labels` does).
        scores : (n, k) float32 in [0, 1], the ensemble-averaged neighbour votes, padded
            with -inf. A point without a non-zero feature that training saw (a document with
            no known word) carries no information: it gets the labels most frequent in
            training, scored by their frequency (:attr:`label_prior_`), with a
            :class:`~sleec.NoFeatureWarning`.
        """
        check_is_fitted(self, "state_")
        X = v.check_features(X, self.n_features_in_)
        k = self.effective_k(self._k(k))
        batch_size = v.check_int(batch_size, "batch_size", low=1)
        ids = np.empty((X.shape[0], k), dtype=np.int32)
        scores = np.empty((X.shape[0], k), dtype=np.float32)
        with _predict.prediction_threads(self.n_jobs):
            for batch in self._batches(X, batch_size, n_learners):
                rows = slice(batch.start, batch.stop)
                ids[rows], scores[rows] = self._best(batch, k)
                if callback is not None:
                    callback(batch.stop, X.shape[0])
        _predict.no_information(self.state_, X, ids, scores)
        return ids, scores

    def _batches(self, X: sp.csr_matrix, batch_size: int, n_learners=None, *, details=False):
        """Prediction's pass over validated rows (:func:`sleec._predict.batches`)."""
        query = QueryConfig.from_params(self.validated_params())
        learners = self._learners(n_learners)
        return _predict.batches(self.state_, X, batch_size, learners, query, details=details)

    def _rerank(self) -> RerankConfig | None:
        """The second stage's settings when the model has one and they leave it on."""
        config = RerankConfig.from_params(self.validated_params())
        return config if config.enabled and self.state_.second_stage is not None else None

    def _best(self, batch: _predict.Batch, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A batch's top-``k`` (ids, scores): the shortlist's when the second stage is on,
        else the votes'."""
        config = self._rerank()
        if config is None:
            return _predict.top_labels(self.state_, batch.votes, k)
        return _predict.best_of(_predict.shortlist_scores(self.state_, batch, config), k)

    def _learners(self, n_learners: int | None) -> tuple[Learner, ...]:
        learners = self.state_.learners
        if n_learners is None:
            return learners
        n_learners = v.check_int(n_learners, "n_learners", low=1, high=len(learners))
        return learners[:n_learners]

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
        classes = self.state_.classes
        if self.state_.label_kind == MULTICLASS and classes is not None:
            ids, _ = self.predict_topk(X, 1)
            return classes[np.maximum(ids[:, 0], 0)]
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

    def explain(self, X, k: int | None = None, *, y=None) -> list:
        """Why each row of ``X`` gets its top-``k`` labels (default ``top_k``): for every
        label, the training points that voted for it, their learner, cluster, distance,
        weight and share of the score (labels and scores equal :meth:`predict_topk`'s
        exactly); with the true labels ``y``, hit or miss per label and the true labels
        missed. Returns a list of :class:`sleec.explain.Explanation`;
        :func:`sleec.explain.format_explanation` renders one as text."""
        from .explain import explain

        check_is_fitted(self, "state_")
        return explain(self, X, k, y=y)

    def predict_proba(self, X) -> np.ndarray:
        """Every label's estimated probability, a dense (n, n_labels) float32 array.

        Without the second stage, a label's probability is its neighbour vote share: the
        weights of the point's ``n_neighbors`` nearest training points (summing to 1 per
        learner, averaged over learners) that carry the label, a k-nearest-neighbour
        estimate of P(label | x) in [0, 1]. With it, every label gets the score a shortlist
        gives it (``ranker_mix x vote share + (1 - ranker_mix) x ranker probability``),
        shortlisted or not. Labels are not exclusive, so rows do not sum to 1. Memory is
        n x n_labels floats: meant for small label sets; with many labels use
        :meth:`decision_function`.
        """
        check_is_fitted(self, "state_")
        X = v.check_features(X, self.n_features_in_)
        state, config = self.state_, self._rerank()
        out = np.empty((X.shape[0], self.n_labels_), dtype=np.float32)
        for batch in self._batches(X, PREDICT_BATCH):
            shares = np.minimum((batch.votes @ state.train_labels).toarray(), 1.0)
            stage = state.second_stage
            if config is not None and stage is not None:  # every label the stage knows
                every = np.arange(stage.labels.size, dtype=np.int32)
                rows = np.broadcast_to(every, (shares.shape[0], every.size))
                probs = rerank.pair_scores(stage.columns(batch.features), rows, stage)
                known = shares[:, stage.labels]  # the other labels have no votes either
                shares[:, stage.labels] = rerank.fuse(known, probs, config.ranker_mix)
            out[batch.start : batch.stop] = shares
        empty = _predict.no_information(state, X, *_scratch(X.shape[0]))
        if empty.size:  # no information: the label frequencies (see predict_topk)
            out[empty] = state.label_prior
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
        ids = pad_ids(self.predict_topk(X, k)[0], k)  # fewer labels than k: misses
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
        model = cls(**{**_BEFORE_VERSION_3, **params})
        model.validated_params()
        model.state_ = FittedState.from_arrays(arrays)
        model.n_features_in_ = model.state_.n_features
        return model


def _same(a: tuple, b: tuple) -> bool:
    """Whether two tuples of parameter values are the same values (by type and value; an
    odd value that cannot be compared counts as different)."""
    try:
        return all(
            x is y or (type(x) is type(y) and bool(x == y)) for x, y in zip(a, b, strict=True)
        )
    except Exception:  # e.g. an array given as a parameter: checked, and refused, again
        return False


def _training_data(X: Any, y: Any) -> tuple[sp.csr_matrix, sp.csr_matrix, Any, str]:
    """``(X, Y, classes, label_kind)`` checked for fit (see :mod:`sleec._labels`)."""
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
    return X, Y, classes, label_kind


def _grow_stage(
    stage: SecondStage | None, routing: sp.csr_matrix, Y_new: sp.csr_matrix, n_labels: int
) -> SecondStage | None:
    """The second stage with new points added to the centroids (over the stage's feature
    columns); a label it did not know gets a centroid and an untrained ranker (no
    weights, no bias)."""
    if stage is None:
        return None
    labels = np.union1d(stage.labels, np.unique(Y_new.indices)).astype(np.int32)
    place = sp.csr_matrix(  # (m', m): the old rows in their places among the new labels
        (
            np.ones(stage.labels.size, np.float32),
            (np.searchsorted(labels, stage.labels), np.arange(stage.labels.size)),
        ),
        shape=(labels.size, stage.labels.size),
    )
    added = sp.csr_matrix(select_columns(Y_new, labels), dtype=np.float32).T
    sums = place @ stage.centroid_sums + added @ stage.columns(routing)
    kept = np.searchsorted(labels, stage.labels)
    bias = np.zeros(labels.size, dtype=np.float32)
    trained = np.zeros(labels.size, dtype=bool)
    bias[kept], trained[kept] = stage.bias, stage.trained
    return SecondStage(
        labels,
        stage.features,
        # float32 from here on: float16 would drop small additions to large running sums
        sp.csr_matrix(sums, dtype=np.float32),
        sp.csr_matrix(place @ stage.W, dtype=np.float32),
        bias,
        trained,
    )


def _scratch(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.empty((n, 1), dtype=np.int32), np.empty((n, 1), dtype=np.float32)


def _more_names(names: np.ndarray | None, n_labels: int) -> np.ndarray | None:
    """Display names for ``n_labels`` labels: new label columns are named by their id."""
    if names is None or names.size == n_labels:
        return names
    return np.concatenate([names, np.arange(names.size, n_labels).astype(str)])


def _widen(M: sp.csr_matrix, n_cols: int) -> sp.csr_matrix:
    """``M`` with ``n_cols`` columns (new, empty ones on the right)."""
    return sp.csr_matrix((M.data, M.indices, M.indptr), shape=(M.shape[0], n_cols))
