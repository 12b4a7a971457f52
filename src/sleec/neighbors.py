"""Step 5 of SLEEC: prediction by k-nearest neighbours in embedding space (paper Alg. 2).

A test point ``x`` is sent to its learner's nearest cluster, embedded as ``z = V x``, and its
``k`` nearest stored training embeddings vote with their label vectors:

.. math:: s(x) = \\sum_{\\text{learners}} \\sum_{j \\in N_k(z)} w_j\\, y_j,
          \\qquad \\sum_{j} w_j = 1 \\ \\text{per learner}

The work is vectorised per (learner, cluster) group of test points: one product for the
embeddings, a float32 screen of the distances with an exact re-rank of the candidates
(:func:`nearest_neighbors`); the votes of all learners are collected in one sparse (n_test x
n_train) weight matrix, and the top labels are read off its product with the training label
matrix without forming it (:func:`top_k_labels`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._cells import Cells, build_cells, n_cells_for, screen_cells
from ._kernels import rerank_nearest, rerank_nearest_par, vote_label_topk, vote_label_topk_par
from ._memory import start_kernel_threads
from ._topk import row_smallest_k, row_smallest_k_par

__all__ = ["SearchArrays", "nearest_neighbors", "search_arrays", "top_k_labels", "vote_matrix"]

_BLOCK_ENTRIES = 2**22  # screening distances held at once per block (float32: 16 MB)
_SCREEN_EXTRA = 16  # candidates beyond k kept by the float32 screen (at least)
_PARALLEL_ENTRIES = 2**16  # below this, threads cost more than they save
_LABEL_CHUNK = 256  # query rows per scratch row in top_k_labels


def nearest_neighbors(
    Zq: np.ndarray,
    E: np.ndarray,
    k: int,
    *,
    metric: str,
    weighting: str,
    return_distance: bool = False,
    exclude: np.ndarray | None = None,
    searched: SearchArrays | None = None,
    n_probes: int = 0,
) -> tuple[np.ndarray, ...]:
    """The ``k`` stored embeddings nearest each query, with vote weights.

    Parameters
    ----------
    Zq : (q, r) query embeddings. E : (m, r) stored training embeddings.
    k : neighbours per query (clipped to ``m``).
    metric : ``"euclidean"`` (authors' code) or ``"cosine"`` (distance ``1 - cos``).
    weighting : ``"uniform"`` (each neighbour votes ``1/k``, the paper's empirical label
        distribution) or ``"distance"`` (vote ``exp(-d^2 / median d^2)`` over the query's
        neighbours, normalised to sum 1).
    exclude : (q,) int rows of ``E`` that may not be their query's neighbour (-1: none):
        a stored training point queried as itself, left out of its own neighbours.
    searched : ``search_arrays(E, metric)``, computed once per stored set (the model keeps
        them per cluster): without it, every call prepares them again, a cost that grows
        with ``m`` (what a one-point prediction would otherwise pay).
    n_probes : 0 (exact search) or the cells of the stored set's inverted-file partition
        (:mod:`sleec._cells`, about ``sqrt(m)`` cells) that the screen scans per query:
        the approximate search. Used only where the cells outnumber ``2 n_probes``
        (elsewhere the scan would save little and the search is exact).

    Returns
    -------
    idx : (q, k') int64 rows of ``E``, nearest first (ties: smaller row first).
    weights : (q, k') float32, each row summing to 1.
    distances : (q, k') float64 distances (Euclidean; for ``"cosine"``, between unit
        rows), only with ``return_distance=True``.

    Two stages, so that the large product runs in float32 and the answer is still exact:
    a float32 screen ranks every stored row by ``|e - c|^2 - 2 (z - c).(e - c)`` (``c``
    about the mean stored row: centring keeps the float32 cancellation small) and keeps the
    ``k + max(16, k / 4)`` best candidates (ties: smaller rows); their distances are then
    recomputed in float64 as ``|z - e|^2`` (no cancellation) and the ``k`` nearest kept.
    With ``n_probes``, the screen ranks only the rows of each query's nearest cells (the
    answer is then exact among those rows). The exact screen works in query blocks of at
    most ``2**22 / m`` rows (16 MB), each scanned once by a numba kernel, so the extra
    memory stays near 40 MB whatever the sizes.
    """
    m = E.shape[0]
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=np.int64)
        if not (exclude >= 0).any():
            exclude = None
    k = min(k, m - (exclude is not None))
    searched = search_arrays(E, metric) if searched is None else searched
    E = searched.E
    Zq = np.asarray(Zq, dtype=np.float64)
    if metric == "cosine":
        Zq = _unit_rows(Zq)
    q, r = Zq.shape
    if k == 0:
        return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
    wanted = k + (exclude is not None)  # one more, to drop the excluded row
    n_cand = min(m, wanted + max(_SCREEN_EXTRA, wanted // 4))
    cand = np.broadcast_to(np.arange(m), (q, m))  # few rows: every row is a candidate
    if n_cand < m:
        cand = _screen(Zq, searched, n_cand, n_probes)
    idx = np.empty((q, wanted), dtype=np.int64)
    near = np.empty((q, wanted), dtype=np.float64)
    rerank = rerank_nearest_par if q * n_cand * r >= _PARALLEL_ENTRIES else rerank_nearest
    if rerank is rerank_nearest_par:
        start_kernel_threads()  # or a MemoryError, not a libgomp exit
    rerank(
        np.ascontiguousarray(Zq),
        E,
        np.ascontiguousarray(cand),
        wanted,
        idx,
        near,
    )
    if exclude is not None:  # drop the excluded row where found, else the farthest one
        drop = idx == exclude[:, None]
        drop[~drop.any(axis=1), -1] = True
        keep = ~drop
        idx, near = idx[keep].reshape(q, k), near[keep].reshape(q, k)
    if weighting == "uniform":
        weights = np.full(near.shape, 1.0 / max(k, 1), dtype=np.float32)
    else:
        scale = _row_medians(near)
        scale[scale <= 0] = 1.0
        weights = np.exp(-near / scale)
        weights /= weights.sum(axis=1, keepdims=True)
        weights = weights.astype(np.float32)
    if return_distance:
        return idx, weights, np.sqrt(near)
    return idx, weights


@dataclass(frozen=True)
class SearchArrays:
    """What the search needs of a stored set ``E`` (m, r), prepared once: ``E`` for the
    exact re-rank (the stored float32 rows; unit float64 rows for ``"cosine"``) and the
    centre ``c`` of the float32 screen; on first use, the screen's rows ``E_aug = [-2 (e -
    c), |e - c|^2]`` (m, r + 1) float32 for the exact screen, or the same rows grouped by
    cell (:attr:`cells`) for the approximate one: one extra float32 copy of the stored set
    for the search a model uses."""

    E: np.ndarray
    center: np.ndarray

    def uses_cells(self, n_probes: int) -> bool:
        """Whether a search probing ``n_probes`` cells is approximate (scans under half)."""
        return n_probes > 0 and n_cells_for(self.E.shape[0]) >= 2 * n_probes

    @functools.cached_property
    def E_aug(self) -> np.ndarray:
        """(m, r + 1) float32 rows of the exact screen."""
        return augmented(np.asarray(self.E, dtype=np.float64) - self.center)

    @functools.cached_property
    def cells(self) -> Cells:
        """The inverted-file partition of the stored rows (built on first use, once)."""
        return build_cells(np.asarray(self.E, dtype=np.float64) - self.center, augmented)


def augmented(Ec: np.ndarray) -> np.ndarray:
    """``[-2 Ec, |Ec|^2]`` (m, r + 1) float32 of centred rows ``Ec`` (m, r): ranking by
    ``|e|^2 - 2 z.e`` (``|z|^2`` does not change a query's ranking) is then one product
    with the augmented queries ``[z, 1]``."""
    m, r = Ec.shape
    out = np.empty((m, r + 1), dtype=np.float32)
    out[:, :r] = -2.0 * Ec
    out[:, r] = (Ec * Ec).sum(axis=1)
    return out


def search_arrays(E: np.ndarray, metric: str) -> SearchArrays:
    """The :class:`SearchArrays` of the stored embeddings ``E`` (m, r) under ``metric``."""
    E = _unit_rows(np.asarray(E, dtype=np.float64)) if metric == "cosine" else E
    E64 = np.asarray(E, dtype=np.float64)
    center = _coarse_center(E64) if E64.shape[0] else np.zeros(E64.shape[1])
    return SearchArrays(np.ascontiguousarray(E), center)


def _screen(Zq: np.ndarray, searched: SearchArrays, n_cand: int, n_probes: int = 0) -> np.ndarray:
    """Rows (q, n_cand) of the stored set nearest each query of ``Zq`` (q, r) by float32
    distances (see :func:`nearest_neighbors`), among all rows or those of the ``n_probes``
    nearest cells; unordered."""
    (q, r), m = Zq.shape, searched.E.shape[0]
    Zq_aug = np.ones((q, r + 1), dtype=np.float32)
    Zq_aug[:, :r] = Zq - searched.center
    if searched.uses_cells(n_probes):
        return screen_cells(Zq_aug, searched.cells, n_probes, n_cand)
    E_aug = searched.E_aug
    cand = np.empty((q, n_cand), dtype=np.int64)
    dist = np.empty((q, n_cand), dtype=np.float32)
    select = row_smallest_k_par if q * m >= _PARALLEL_ENTRIES else row_smallest_k
    if select is row_smallest_k_par:
        start_kernel_threads()
    step = max(1, _BLOCK_ENTRIES // max(m, 1))
    for a in range(0, q, step):
        b = min(q, a + step)
        select(Zq_aug[a:b] @ E_aug.T, n_cand, cand[a:b], dist[a:b])
    return cand


def _coarse_center(E: np.ndarray) -> np.ndarray:
    """The mean row of ``E`` (m, r), rounded per column to a multiple of 2**-8 of the
    column's spread (a power of two): centred values keep few significant bits, so data on a
    coarse grid (small integers) stays exact in float32 and its distance ties stay ties."""
    mean = E.mean(axis=0)
    spread = np.abs(E - mean).max(axis=0)
    grid = np.exp2(np.floor(np.log2(np.where(spread > 0, spread, 1.0))) - 8)
    return np.round(mean / grid) * grid


def vote_matrix(
    votes: list[tuple[np.ndarray, np.ndarray, np.ndarray]], shape: tuple[int, int]
) -> sp.csr_matrix:
    """Sparse (n_query, n_train) matrix of neighbour votes; duplicates are summed.

    ``votes`` holds ``(query_rows (q,), neighbor_rows (q, k), weights (q, k))`` groups: weight
    ``weights[i, j]`` goes to ``(query_rows[i], neighbor_rows[i, j])``.
    """
    if not votes:
        return sp.csr_matrix(shape, dtype=np.float32)
    rows = np.concatenate([np.repeat(q, nb.shape[1]) for q, nb, _ in votes])
    cols = np.concatenate([nb.ravel() for _, nb, _ in votes])
    data = np.concatenate([w.ravel() for _, _, w in votes]).astype(np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=shape)


def top_k_labels(votes: sp.csr_matrix, Y: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` labels of each row of ``votes @ Y`` without forming the product.

    ``votes`` (q, n) float32 neighbour votes (:func:`vote_matrix`), ``Y`` (n, L) the training
    labels. Same result as ``sleec._topk.top_k_from_scores(votes @ Y, k)`` (the scores are
    summed in the same order, so they are bit-identical), in one pass with one dense scratch
    row of L floats per thread instead of a sparse (q, L) product, its sorting and its
    selection.
    """
    votes = sp.csr_matrix(votes, dtype=np.float32)
    Y = sp.csr_matrix(Y, dtype=np.float32)
    q = votes.shape[0]
    ids = np.empty((q, k), dtype=np.int32)
    scores = np.empty((q, k), dtype=np.float32)
    kernel = vote_label_topk_par if q >= 2 * _LABEL_CHUNK else vote_label_topk
    if kernel is vote_label_topk_par:
        start_kernel_threads()
    kernel(
        votes.indptr,
        votes.indices,
        votes.data,
        Y.indptr,
        Y.indices,
        Y.data,
        Y.shape[1],
        k,
        ids,
        scores,
        _LABEL_CHUNK,
    )
    return ids, scores


def _row_medians(A: np.ndarray) -> np.ndarray:
    """(q, 1) medians of the rows of ``A`` (q, k), k >= 1, as ``np.median(A, axis=1,
    keepdims=True)`` gives them (the mean of the two middle values for even k) without
    its overhead, which a one-point prediction pays once per learner."""
    ranked = np.sort(A, axis=1)
    mid = A.shape[1] // 2
    if A.shape[1] % 2:
        return ranked[:, mid : mid + 1]
    return (ranked[:, mid - 1 : mid] + ranked[:, mid : mid + 1]) / 2


def _unit_rows(A: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return A / np.where(norms > 0, norms, 1.0)
