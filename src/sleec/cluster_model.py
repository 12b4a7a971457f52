"""One cluster's model, steps 2-5 of SLEEC top to bottom: fit it, and predict with it.

Fit (:func:`fit_cluster`), for the points of one cluster of one learner:

2. the label kNN graph Omega of the points (:func:`sleec.graph.label_knn_graph`);
3. embeddings ``Z`` fitting the label similarities on Omega only (:func:`sleec.svp.svp_embed`);
4. the regressor ``W`` (d_c, r) from the cluster's d_c features to embeddings
   (:mod:`sleec.regression`), its smallest weights pruned, and the stored training
   embeddings ``E = X_c W``, their smallest entries per dimension pruned.

Predict (:func:`cluster_neighbors`), for the test points routed to the cluster:

5. their embeddings ``z = x W`` (:func:`embed`), their ``n_neighbors`` nearest stored
   embeddings and those neighbours' vote weights (:func:`sleec.neighbors.nearest_neighbors`).

:func:`ensemble_votes` routes a batch of points through every learner and collects the votes
of all clusters in one sparse (q, n_train) matrix; label scores are its product with the
training labels.

Feature rows reach this module already prepared (:func:`prepare_features`): the features the
regressors see (unit rows when ``normalize``) and the unit rows that clusters are routed by.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._kernels import sparse_times_sparse, sparse_times_sparse_par
from ._memory import start_kernel_threads
from ._quantize import extend_columns, quantize_columns, quantize_rows
from ._sparse import select_columns
from ._state import Learner, LocalModel, half_precision
from .clustering import assign_to_centers, cluster_members, unit_rows
from .graph import label_knn_graph
from .neighbors import nearest_neighbors, vote_matrix
from .params import ClusterConfig, QueryConfig
from .regression import fit_l1, fit_l2, prune_embeddings, prune_weights
from .svp import svp_embed

__all__ = [
    "VoteDetails",
    "append_points",
    "cluster_neighbors",
    "embed",
    "ensemble_votes",
    "fit_cluster",
    "prepare_features",
    "route",
]

logger = logging.getLogger(__name__)

_PARALLEL_ENTRIES = 2**16  # products below this many multiply-adds run in one thread
# Ridge by conjugate gradients: relative residual and iterations; tighter tolerances gave
# the same held-out accuracy for more time (BENCHMARKS.md, "Choosing the defaults").
RIDGE_TOL = 1e-2
L2_PER_OCCURRENCE = 171.0  # l2_reg="auto": see ridge_penalty
RIDGE_MAX_ITER = 100


def prepare_features(X: sp.csr_matrix, normalize: bool) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(features, routing)`` of validated rows ``X`` (n, d): the rows the regressors see
    (``X`` scaled to unit norm when ``normalize``, else ``X``) and the unit rows that cluster
    assignment compares with the centres. The one place where normalisation is decided."""
    unit = unit_rows(X)
    return (unit if normalize else X), unit


def fit_cluster(
    X: sp.csr_matrix, Y: sp.csr_matrix, rows: np.ndarray, config: ClusterConfig, seed: int
) -> LocalModel:
    """Steps 2-4 for the training points ``rows`` of one cluster.

    Parameters
    ----------
    X : csr_matrix (n, d) float32, prepared features of all training points.
    Y : csr_matrix (n, L) float32, binary labels of all training points.
    rows : (n_c,) int32, the cluster's points.
    config : the stage settings. seed : seed of the SVP start subspace.

    Returns
    -------
    LocalModel with ``features`` (d_c,) int32, the columns present in the cluster's rows,
    ``W`` (d_c, r) float32 CSR over those columns and ``E`` (n_c, r) float32: memory follows
    the cluster's non-zeros, not d. A cluster with fewer points than ``n_components`` gets a
    lower-rank embedding, padded with zero columns.
    """
    start = time.perf_counter()
    Xc, Yc = X[rows], Y[rows]
    features = np.unique(Xc.indices).astype(np.int32)  # the regressor's support
    Xc = select_columns(Xc, features)
    parallel = config.parallel_kernels
    G = label_knn_graph(
        Yc,
        config.n_graph_neighbors,
        similarity=config.label_similarity,
        symmetric=True,
        parallel=parallel,
    )
    Z = svp_embed(
        G,
        config.n_components,
        max_iter=config.svp_max_iter,
        tol=config.svp_tol,
        step=config.svp_step,
        seed=seed,
        parallel=parallel,
    ).Z
    l2_reg = ridge_penalty(Xc, config.l2_reg)
    if config.l1_reg > 0:
        W = fit_l1(
            Xc,
            Z,
            l2_reg,
            config.l1_reg,
            rho=config.admm_rho,
            max_iter=config.admm_max_iter,
            parallel=parallel,
        )
    else:
        W = fit_l2(Xc, Z, l2_reg, tol=RIDGE_TOL, max_iter=RIDGE_MAX_ITER, parallel=parallel)
    del G, Z
    if W.shape[1] < config.n_components:  # tiny cluster: rank <= its size; pad with zeros
        W = np.hstack([W, np.zeros((W.shape[0], config.n_components - W.shape[1]))])
    # Both kept on the model file's 8-bit grids (one byte a value; sleec._quantize).
    W, W_scale = quantize_rows(prune_weights(W, config.weight_threshold))
    E, E_grid = quantize_columns(
        prune_embeddings(_product(Xc, W, parallel=parallel), config.embedding_threshold)
    )
    logger.debug("cluster of %d points fitted in %.2f s", rows.size, time.perf_counter() - start)
    return LocalModel(rows=rows, features=features, W=W, E=E, E_grid=E_grid, W_scale=W_scale)


def ridge_penalty(X: sp.csr_matrix, l2_reg: float | str) -> float:
    """The ridge penalty lambda for the cluster's features ``X``: ``l2_reg`` itself, or for
    ``"auto"`` ``L2_PER_OCCURRENCE`` times the mean squared non-zero feature value.

    The auto rule measures the penalty in units of one typical feature occurrence. For unit
    rows with m non-zeros each, a non-zero squares to 1/m on average, so lambda = 171 / m
    (2.5 for Bibtex's m = 68.5, the authors' setting): rows with few words need more
    smoothing (BENCHMARKS.md, "Choosing the defaults").
    """
    if l2_reg != "auto":
        return float(l2_reg)
    if X.nnz == 0:
        return L2_PER_OCCURRENCE
    return L2_PER_OCCURRENCE * float(np.dot(X.data, X.data)) / X.nnz


def embed(X: sp.csr_matrix, local: LocalModel) -> np.ndarray:
    """Embeddings (q, r) float32 of prepared feature rows ``X`` (q, d) through one cluster's
    regressor; training and test points are embedded alike. Row-parallel for large ``q``
    (prediction runs one group at a time)."""
    Xc = select_columns(X, local.features)
    return _product(Xc, local.W, parallel=Xc.nnz * local.W.shape[1] >= _PARALLEL_ENTRIES)


def _product(X: sp.csr_matrix, W: sp.csr_matrix, *, parallel: bool = False) -> np.ndarray:
    """``X W`` (q, r) float32 for sparse ``X`` (q, m) and the sparse regressor ``W`` (m, r),
    by one numba pass that adds rows of ``W`` straight into the dense result (SciPy's
    sparse product builds a sparse result first: 0.2 ms of a one-document prediction's
    1.3 ms went there); the same sums as SciPy's, in the same order."""
    X, W = (A if _is_float32_csr(A) else sp.csr_matrix(A, dtype=np.float32) for A in (X, W))
    out = np.empty((X.shape[0], W.shape[1]), dtype=np.float32)
    if parallel:
        start_kernel_threads()  # or a MemoryError, not a libgomp exit
    (sparse_times_sparse_par if parallel else sparse_times_sparse)(
        X.indptr, X.indices, X.data, W.indptr, W.indices, W.data, out
    )
    return out


def _is_float32_csr(A) -> bool:
    return sp.issparse(A) and A.format == "csr" and A.dtype == np.float32


def cluster_neighbors(
    X: sp.csr_matrix,
    local: LocalModel,
    config: QueryConfig,
    *,
    return_distance: bool = False,
    self_rows: np.ndarray | None = None,
) -> tuple[np.ndarray, ...]:
    """Step 5 in one cluster: the ``n_neighbors`` training points nearest each of the prepared
    feature rows ``X`` (q, d) in the cluster's embedding space, and their vote weights.

    Returns ``(train_rows (q, k) int64, weights (q, k) float32)``, nearest first, each row of
    weights summing to 1; ``k = min(n_neighbors, cluster size)``; with ``return_distance``
    also their (q, k) float64 distances in the embedding space. ``self_rows`` (q,): the
    training row each query is (-1: none), never its own neighbour (leave-one-out votes of
    training points).
    """
    exclude = None
    if self_rows is not None:  # training rows -> positions in the cluster (rows ascend)
        pos = np.minimum(np.searchsorted(local.rows, self_rows), local.rows.size - 1)
        exclude = np.where(local.rows[pos] == self_rows, pos, -1)
    found = nearest_neighbors(
        embed(X, local),
        local.E,
        config.n_neighbors,
        metric=config.metric,
        weighting=config.weighting,
        return_distance=return_distance,
        exclude=exclude,
        searched=local.searched(config.metric),
        n_probes=config.n_probes,
    )
    return (local.rows[found[0]], *found[1:])


def route(learner: Learner, routing: sp.csr_matrix) -> Iterator[tuple[int, np.ndarray, LocalModel]]:
    """``(cluster, members, local)`` for each cluster of ``learner`` that some of the unit
    rows ``routing`` (q, d) go to (each row to its most similar centre): the one routing
    loop of prediction, ``partial_fit`` and ``explain``. ``members`` (ascending int32) are
    row indices of ``routing``."""
    if len(learner.locals) == 1:  # one cluster: every row goes to it (no assignment to pay)
        if routing.shape[0]:
            yield 0, np.arange(routing.shape[0], dtype=np.int32), learner.locals[0]
        return
    groups = cluster_members(assign_to_centers(routing, learner.routing), len(learner.locals))
    for c, (members, local) in enumerate(zip(groups, learner.locals, strict=True)):
        if members.size:
            yield c, members, local


def append_points(
    learners: tuple[Learner, ...],
    features: sp.csr_matrix,
    routing: sp.csr_matrix,
    first_row: int,
) -> tuple[Learner, ...]:
    """The learners with new training points added: each prepared row ``i`` (rows of
    ``features`` / ``routing``) joins its cluster in every learner as training row
    ``first_row + i``, embedded by the cluster's regressor (not pruned) and rounded onto
    the cluster's 8-bit grid; the regressors are unchanged, and so are the other stored
    embeddings but in a column the new ones leave the range of (that column is re-rounded
    to a wider grid: :func:`sleec._quantize.extend_columns`). A model read from a
    version-3 file keeps its float16 embeddings and adds float16 ones."""
    grown = []
    for learner in learners:
        locals_ = list(learner.locals)
        for c, members, local in route(learner, routing):
            added = embed(_rows(features, members), local)
            if local.E_grid is None:  # read from a version-3 file: float16, as it was written
                E, E_grid = np.vstack([local.E, half_precision(added)]), None
            else:
                E, E_grid = extend_columns(local.E, local.E_grid, added)
            locals_[c] = LocalModel(
                rows=np.concatenate([local.rows, (first_row + members).astype(np.int32)]),
                features=local.features,
                W=local.W,
                E=E,
                E_grid=E_grid,
                W_scale=local.W_scale,
            )
        grown.append(Learner(learner.centers, tuple(locals_)))
    return tuple(grown)


@dataclass(frozen=True)
class VoteDetails:
    """Every neighbour vote of a batch, one entry per (query row, neighbour, learner):
    ``query`` (m,) row of the batch, ``train_row``, ``learner``, ``cluster``, ``distance``
    (in that cluster's embedding space) and ``weight`` (its share of the query's votes)."""

    query: np.ndarray
    train_row: np.ndarray
    learner: np.ndarray
    cluster: np.ndarray
    distance: np.ndarray
    weight: np.ndarray


def ensemble_votes(
    features: sp.csr_matrix,
    routing: sp.csr_matrix,
    learners: tuple[Learner, ...],
    config: QueryConfig,
    n_train: int,
    *,
    details: bool = False,
    self_rows: np.ndarray | None = None,
):
    """Neighbour votes (q, n_train) float32 of a batch of prepared rows over all learners.

    Each learner routes a row to its most similar centre and the cluster's neighbours vote
    with their weights divided by the number of learners, so a row's votes sum to 1. With
    ``details``, also returns the :class:`VoteDetails` the matrix was built from (what
    ``explain`` shows: the same pass, the same weights). ``self_rows`` (q,): the training
    row each batch row is, left out of its own neighbours (see :func:`cluster_neighbors`).
    """
    votes, found = [], []
    for li, learner in enumerate(learners):
        for c, members, local in route(learner, routing):
            if local.rows.size == 0:
                continue
            neighbors, weights, *dist = cluster_neighbors(
                _rows(features, members),
                local,
                config,
                return_distance=details,
                self_rows=None if self_rows is None else self_rows[members],
            )
            weights = weights / len(learners)
            votes.append((members, neighbors, weights))
            if details:
                found.append((members, neighbors, weights, dist[0], li, c))
    matrix = vote_matrix(votes, (features.shape[0], n_train))
    if not details:
        return matrix
    return matrix, _details(found)


def _rows(X: sp.csr_matrix, members: np.ndarray) -> sp.csr_matrix:
    """Rows ``members`` (ascending, distinct) of ``X``: ``X`` itself when they are all of
    them (one cluster: a row copy SciPy would make costs a one-point prediction 0.05 ms)."""
    return X if members.size == X.shape[0] else X[members]


def _details(found: list[tuple]) -> VoteDetails:
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return VoteDetails(empty, empty, empty, empty, np.zeros(0), np.zeros(0, np.float32))
    width = [nb.shape[1] for _, nb, *_ in found]
    return VoteDetails(
        query=np.concatenate([np.repeat(q, w) for (q, *_), w in zip(found, width, strict=True)]),
        train_row=np.concatenate([nb.ravel() for _, nb, *_ in found]),
        learner=np.concatenate([np.full(nb.size, li) for _, nb, _, _, li, _ in found]),
        cluster=np.concatenate([np.full(nb.size, c) for _, nb, _, _, _, c in found]),
        distance=np.concatenate([d.ravel() for _, _, _, d, _, _ in found]),
        weight=np.concatenate([w.ravel() for _, _, w, *_ in found]),
    )
