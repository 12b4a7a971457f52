"""The work of :meth:`SLEEC.fit`, planned and run: (learner, cluster) tasks and the second
stage's ranker blocks, through joblib (local threads, or a Dask cluster with joblib's Dask
backend), with progress reported as steps.

One rule decides the kernels: when one task runs at a time it gets the parallel (``prange``)
kernels, when several run side by side each gets the serial ones (:func:`plan`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_info, threadpool_limits

from . import rerank
from ._dask import send_if_dask
from ._memory import reserve_blas_buffers, start_kernel_threads
from ._sparse import select_columns
from ._state import Learner, SecondStage, half_precision_csr, unit_centroids_T
from .cluster_model import ensemble_votes, fit_cluster
from .clustering import cluster_members, partition
from .neighbors import top_k_labels
from .params import ClusterConfig, QueryConfig, RerankConfig, n_clusters_for

__all__ = [
    "Mined",
    "Steps",
    "fit_learners",
    "fit_second_stage",
    "mine_negatives",
    "plan",
    "stage_steps",
    "train_stage",
]

logger = logging.getLogger(__name__)

_MINING_BATCH = 16384  # training points per leave-one-out voting batch
_PAIRS_PER_BLOCK = 1 << 21  # (point, label) pairs per ranker task when tasks run in parallel


class Steps:
    """Progress of a fit as ``callback(done, total)`` steps: one per learner's clustering,
    one per (learner, cluster) task, then the second stage's mining and one per ranker
    block (:func:`stage_steps`); ``total`` changes only when a cluster is split (it adds
    one) or mining finds fewer pairs than a full shortlist per point would give."""

    def __init__(self, callback: Callable[[int, int], None] | None, total: int):
        self.callback, self.done, self.total = callback, 0, total
        self._report()

    def add(self, steps: int) -> None:
        if steps:
            self.total += steps
            self._report()

    def step(self) -> None:
        self.done += 1
        self._report()

    def _report(self) -> None:
        if self.callback is not None:
            self.callback(self.done, self.total)


@dataclass(frozen=True)
class Plan:
    """How fit runs: ``n_clusters`` per learner, ``n_workers`` joblib workers, and whether
    tasks use the parallel kernels (only when one runs at a time)."""

    n_clusters: int
    n_workers: int
    parallel_kernels: bool


def plan(params: dict, n_samples: int, n_tasks: int | None = None) -> Plan:
    """The plan for ``n_samples`` training points (``n_tasks`` known: the workers are at most
    that many)."""
    n_clusters = n_clusters_for(params["n_clusters"], n_samples)
    n_tasks = params["n_learners"] * n_clusters if n_tasks is None else n_tasks
    n_workers = max(1, min(effective_n_jobs(params["n_jobs"]), n_tasks))
    return Plan(n_clusters, n_workers, n_workers == 1)


def fit_learners(
    features: sp.csr_matrix,
    routing: sp.csr_matrix,
    Y: sp.csr_matrix,
    params: dict,
    seeds: np.ndarray,
    steps: Steps,
) -> tuple[Learner, ...]:
    """Steps 1-4 of every learner: its clustering of ``routing`` (unit rows) and one
    :func:`~sleec.cluster_model.fit_cluster` task per cluster, largest first (so that the
    last tasks to finish are short ones)."""
    n_clusters = plan(params, features.shape[0]).n_clusters
    clusterings = []
    for s in seeds:
        clusterings.append(partition(routing, n_clusters, seed=int(s)))
        steps.step()
    tasks = [
        (li, c, rows)
        for li, (assign, centers) in enumerate(clusterings)
        for c, rows in enumerate(cluster_members(assign, centers.shape[0]))
    ]
    steps.add(len(tasks) - len(seeds) * n_clusters)
    order = sorted(range(len(tasks)), key=lambda t: -tasks[t][2].size)
    how = plan(params, features.shape[0], len(tasks))
    logger.info(
        "SLEEC fit: %d points, %d features, %d labels, %d learner(s), %d task(s) of %d to "
        "%d points on %d worker(s)",
        features.shape[0],
        features.shape[1],
        Y.shape[1],
        len(seeds),
        len(tasks),
        tasks[order[-1]][2].size,
        tasks[order[0]][2].size,
        how.n_workers,
    )
    config = ClusterConfig.from_params(params, parallel_kernels=how.parallel_kernels)
    if how.parallel_kernels:
        start_kernel_threads()  # now, or a MemoryError: never a libgomp exit later
    # On a Dask cluster the data goes to the cluster once; tasks get references to it.
    Xs, Ys, *task_rows = send_if_dask(features, Y, *(tasks[t][2] for t in order))
    jobs = (
        delayed(_fit_task)(Xs, Ys, rows, config, _task_seed(seeds[tasks[t][0]], tasks[t][1]))
        for t, rows in zip(order, task_rows, strict=True)
    )
    results: list = [None] * len(tasks)
    for t, local in zip(order, _run(jobs, how.n_workers), strict=True):
        results[t] = local
        steps.step()
    learners, t = [], 0
    for _, centers in clusterings:
        learners.append(Learner(centers, tuple(results[t : t + centers.shape[0]])))
        t += centers.shape[0]
    return tuple(learners)


def stage_steps(params: dict, n_samples: int, n_positives: int) -> int:
    """The second stage's steps as announced before it runs: its mining, and the ranker
    blocks expected for at most a full shortlist of negatives per training point (the count
    is corrected, rarely, once mining knows the real number)."""
    config = RerankConfig.from_params(params)
    bound = n_samples * (config.shortlist_votes + config.shortlist_centroids) + n_positives
    return 1 + _n_blocks(_ranker_plan(params, n_samples, bound).n_workers)


def _ranker_plan(params: dict, n_samples: int, n_pairs: int) -> Plan:
    return plan(params, n_samples, n_tasks=max(1, int(n_pairs // _PAIRS_PER_BLOCK)))


def _n_blocks(n_workers: int) -> int:
    """Ranker blocks for ``n_workers``: a few per worker (balanced), one when one runs."""
    return 4 * n_workers if n_workers > 1 else 1


def fit_second_stage(
    features: sp.csr_matrix,
    routing: sp.csr_matrix,
    Y: sp.csr_matrix,
    learners: tuple[Learner, ...],
    params: dict,
    seed: int,
    steps: Steps,
) -> SecondStage:
    """The label centroids and one ranker per label (:mod:`sleec.rerank`), over the labels
    training points carry and the feature columns they use, trained on the hard negatives
    of :func:`mine_negatives`."""
    mined = mine_negatives(features, routing, Y, learners, params)
    steps.step()
    return train_stage(mined, params, seed, steps)


@dataclass(frozen=True)
class Mined:
    """What the rankers train on: the stage's labels and feature columns, the features
    ``X`` and labels ``Y`` over them, the centroid sums, and each training point's hard
    negatives (n, m) as rows of the stage's matrices (-1 padding)."""

    labels: np.ndarray
    columns: np.ndarray
    X: sp.csr_matrix
    Y: sp.csr_matrix
    sums: sp.csr_matrix
    negatives: np.ndarray


def mine_negatives(
    features: sp.csr_matrix,
    routing: sp.csr_matrix,
    Y: sp.csr_matrix,
    learners: tuple[Learner, ...],
    params: dict,
) -> Mined:
    """Each training point's shortlist as prediction builds it, its own labels removed: its
    leave-one-out neighbour votes (it is not its own neighbour) and the centroids nearest
    it (it is part of its own labels' centroids, so their cosines are inflated: the
    ``shortlist_centroids`` best of the other labels are kept).

    Points are mined in batches of ``_MINING_BATCH``: beyond the result (n, votes +
    centroids) int32, memory follows the batch, not the training set."""
    config = RerankConfig.from_params(params)
    labels = np.unique(Y.indices).astype(np.int32)
    columns = np.unique(features.indices).astype(np.int32)
    Yc = select_columns(Y, labels)  # (n, m): the stage's own label rows
    Xc, unit = select_columns(features, columns), select_columns(routing, columns)
    sums = (sp.csr_matrix(Yc, dtype=np.float32).T @ unit).tocsr()
    centroids_T = unit_centroids_T(sums) if config.shortlist_centroids else None
    most = int(np.diff(Y.indptr).max())  # own labels may take that many of the top slots
    query = QueryConfig.from_params(params)
    n = features.shape[0]
    negatives = np.full((n, config.shortlist_votes + config.shortlist_centroids), -1, np.int32)
    for a in range(0, n, _MINING_BATCH):
        b = min(n, a + _MINING_BATCH)
        own = Yc[a:b]
        voted = np.full((b - a, config.shortlist_votes), -1, dtype=np.int32)
        if config.shortlist_votes:
            votes = ensemble_votes(
                features[a:b], routing[a:b], learners, query, n, self_rows=np.arange(a, b)
            )
            voted = top_k_labels(votes, Yc, config.shortlist_votes)[0]  # rows of Yc
        near = np.zeros((b - a, 0), dtype=np.int32)
        if centroids_T is not None:
            found, _ = rerank.centroid_topk(
                unit[a:b], centroids_T, config.shortlist_centroids + most
            )
            found = rerank.negatives(found, own)
            first = np.argsort(found < 0, axis=1, kind="stable")[:, : config.shortlist_centroids]
            near = np.take_along_axis(found, first, axis=1)
        negatives[a:b] = rerank.negatives(rerank.union(voted, near), own)
    return Mined(labels, columns, Xc, Yc, sums, negatives)


def train_stage(mined: Mined, params: dict, seed: int, steps: Steps) -> SecondStage:
    """The rankers of the mined training set, and the stage they make."""
    config = RerankConfig.from_params(params)
    rankers = _fit_rankers(mined.X, mined.Y, mined.negatives, params, config, seed, steps)
    return SecondStage(
        mined.labels,
        mined.columns,
        half_precision_csr(mined.sums),
        half_precision_csr(rankers.W),
        rankers.bias,
        rankers.trained,
    )


def _fit_rankers(features, Y, negatives, params, config, seed, steps) -> rerank.Rankers:
    """Rankers in label blocks of about ``_PAIRS_PER_BLOCK`` pairs as joblib tasks (one
    block, with the parallel kernel, when one worker runs)."""
    n_labels = Y.shape[1]
    pairs = np.bincount(Y.indices, minlength=n_labels) + np.bincount(
        negatives[negatives >= 0], minlength=n_labels
    )
    how = _ranker_plan(params, features.shape[0], int(pairs.sum()))
    bounds = [0, n_labels]
    if how.n_workers > 1:  # blocks of about equal numbers of pairs
        n_blocks = _n_blocks(how.n_workers)
        targets = np.arange(1, n_blocks) * (pairs.sum() / n_blocks)
        bounds = sorted({0, n_labels, *np.searchsorted(np.cumsum(pairs), targets).tolist()})
    blocks = list(zip(bounds[:-1], bounds[1:], strict=True))
    announced = stage_steps(params, features.shape[0], Y.nnz) - 1
    steps.add(len(blocks) - announced)
    options = {
        "loss": config.ranker_loss,
        "C": config.ranker_c,
        "threshold": config.ranker_threshold,
        "seed": seed,
        "parallel": how.parallel_kernels,
    }
    Xs, Ys, Ns = send_if_dask(features, Y, negatives)
    jobs = (delayed(_ranker_task)(Xs, Ys, Ns, block, options) for block in blocks)
    parts = []
    for part in _run(jobs, how.n_workers):
        parts.append(part)
        steps.step()
    return rerank.Rankers(
        sp.vstack([p.W for p in parts], format="csr", dtype=np.float32),
        np.concatenate([p.bias for p in parts]),
        np.concatenate([p.trained for p in parts]),
    )


def _run(jobs, n_workers: int):
    """The results of ``jobs`` in order, on ``n_workers`` joblib threads (or the active
    backend's workers). BLAS runs single-threaded meanwhile: the numba kernels or the
    parallel tasks own the cores, and the fitted model does not depend on how many BLAS
    threads a machine has."""
    run = Parallel(n_jobs=n_workers, prefer="threads", return_as="generator")
    with threadpool_limits(limits=1, user_api="blas"):
        yield from run(jobs)


def _fit_task(
    X: sp.csr_matrix, Y: sp.csr_matrix, rows: np.ndarray, config: ClusterConfig, seed: int
):
    """One (learner, cluster) task, as joblib (or a Dask worker) runs it."""
    _single_threaded_blas()
    reserve_blas_buffers()  # once per thread (the parallel kernels run in fit's own thread)
    return fit_cluster(X, Y, rows, config, seed)


def _ranker_task(X, Y, negatives, block: tuple[int, int], options: dict) -> rerank.Rankers:
    _single_threaded_blas()
    if options["parallel"]:
        start_kernel_threads()
    return rerank.fit_rankers(X, Y, negatives, labels=block, **options)


def _single_threaded_blas() -> None:
    """In a process where BLAS still runs several threads (a remote worker: fit's own process
    is capped around the tasks), cap it for good, so that every task computes alike."""
    if any(info["num_threads"] > 1 for info in threadpool_info() if info.get("user_api") == "blas"):
        threadpool_limits(limits=1, user_api="blas")


def _task_seed(learner_seed: int, cluster: int) -> int:
    return int(np.random.SeedSequence([int(learner_seed), cluster]).generate_state(1)[0])
