"""An inverted-file partition of a stored embedding set, for the approximate screen of
:func:`sleec.neighbors.nearest_neighbors` (the IVF index of FAISS, Jegou et al. 2011).

The stored rows ``E`` (m, r) are split into about ``sqrt(m)`` cells by a few Lloyd steps of
k-means (cells above twice the mean size split again); a query then scans only the rows of
its ``n_probes`` nearest cells (and more cells while they hold fewer rows than the
candidates it needs) instead of all m rows. Built once per stored set from ``E`` alone,
deterministically: a model loaded from its file rebuilds the same cells and gives the same
predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ._memory import start_kernel_threads
from ._topk import _sift_down, _sift_up, heap_sort
from .clustering import cluster_members

__all__ = ["Cells", "build_cells", "n_cells_for", "screen_cells"]

_LLOYD_STEPS = 6  # k-means steps: the cells only route the screen, the answer is re-ranked
_BLOCK_ENTRIES = 2**22  # (rows x cells) distances held at once while assigning


@dataclass(frozen=True)
class Cells:
    """The partition: ``order`` (m,) int64 stored rows grouped by cell, ``offsets``
    (n_cells + 1,) int64 (cell ``c`` holds ``order[offsets[c]:offsets[c + 1]]``),
    ``rows_aug`` (m, r + 1) float32 the screen's augmented rows in ``order``, and
    ``centers_aug`` (n_cells, r + 1) float32 the cell centres augmented alike."""

    order: np.ndarray
    offsets: np.ndarray
    rows_aug: np.ndarray
    centers_aug: np.ndarray


def n_cells_for(m: int) -> int:
    """Cells for ``m`` stored rows: ``round(sqrt(m))``, so a cell holds about as many rows
    as there are cells (the scan of the centres and of one cell cost alike)."""
    return max(1, round(float(np.sqrt(m))))


def build_cells(Ec: np.ndarray, augment: Callable[[np.ndarray], np.ndarray]) -> Cells:
    """The :class:`Cells` of the centred stored rows ``Ec`` (m, r) float64; ``augment``
    makes the screen's rows of centred rows (:func:`sleec.neighbors.augmented`).

    k-means into ``n_cells_for(m)`` cells (:func:`_lloyd`), then every cell holding more
    than twice the mean is split by k-means of its own rows into cells of about the mean
    (and rows that k-means cannot part, such as repeated rows, into consecutive runs): a
    dense region of the embeddings would otherwise be one cell that most queries near it
    scan whole (on WordNet, before the split, the largest cell held 5.5x the mean).
    """
    m = Ec.shape[0]
    X = np.ascontiguousarray(Ec, dtype=np.float32)
    assign, centers = _lloyd(X, n_cells_for(m))
    mean = -(-m // n_cells_for(m))
    parts, part_centers = [], []
    for c, rows in enumerate(cluster_members(assign, centers.shape[0])):
        if rows.size <= 2 * mean:
            parts.append(rows)
            part_centers.append(centers[c])
            continue
        sub_assign, sub_centers = _lloyd(X[rows], -(-rows.size // mean))
        for s, sub in enumerate(cluster_members(sub_assign, sub_centers.shape[0])):
            if sub.size <= 2 * mean:
                parts.append(rows[sub])
                part_centers.append(sub_centers[s])
                continue
            for a in range(0, sub.size, mean):  # rows k-means could not part
                run = rows[sub[a : a + mean]]
                parts.append(run)
                part_centers.append(X[run].mean(axis=0))
    order = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([p.size for p in parts], out=offsets[1:])
    kept = np.array(part_centers, dtype=np.float64).reshape(len(parts), X.shape[1])
    return Cells(order.astype(np.int64), offsets, augment(Ec[order]), augment(kept))


def _lloyd(X: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """``(assign (m,) int64, centres (n, r) float32)``: k-means of the rows ``X`` (m, r)
    float32 from ``n_cells`` rows evenly spaced in their order (no random draw: the same
    rows always give the same cells), ``_LLOYD_STEPS`` Lloyd steps, then each centre the
    mean of the rows assigned to it last; empty cells dropped."""
    m = X.shape[0]
    centers = X[np.linspace(0, m - 1, min(n_cells, m)).round().astype(np.int64)].copy()
    for _ in range(_LLOYD_STEPS):
        _move_to_means(X, _nearest_center(X, centers), centers)
    assign = _nearest_center(X, centers)
    filled = _move_to_means(X, assign, centers)
    return (np.cumsum(filled) - 1)[assign], centers[filled]


def _move_to_means(X: np.ndarray, assign: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Each centre (in place) to the mean of the rows ``assign`` gives it; returns which
    centres have rows (the others stay)."""
    counts = np.bincount(assign, minlength=centers.shape[0])
    member = sp.csr_matrix(
        (np.ones(X.shape[0], np.float32), (assign, np.arange(X.shape[0]))),
        (counts.size, X.shape[0]),
    )
    filled = counts > 0
    centers[filled] = (member @ X)[filled] / counts[filled, None]
    return filled


def _nearest_center(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """(m,) int64: each row's nearest centre by ``|c|^2 - 2 x.c`` (ties: smaller centre)."""
    sq = (centers.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    out = np.empty(X.shape[0], dtype=np.int64)
    step = max(1, _BLOCK_ENTRIES // max(centers.shape[0], 1))
    for a in range(0, X.shape[0], step):
        b = min(X.shape[0], a + step)
        out[a:b] = np.argmin(sq - 2.0 * (X[a:b] @ centers.T), axis=1)
    return out


def _probe_smallest(Q_aug, rows_aug, centers_aug, order, offsets, n_probes, k, out_idx):
    """The ``k`` stored rows with the smallest screen scores ``Q_aug[i] . rows_aug[p]``
    among the rows of each query's nearest cells: cells by increasing ``Q_aug[i] .
    centers_aug[c]`` (ties: smaller cell), at least ``n_probes`` of them and then more
    until they hold ``k`` rows. ``out_idx`` (q, k) int64 gets the rows (as indices of the
    stored set, via ``order``), ordered by (score, position in ``order``). ``k`` must not
    exceed the stored rows. One query per iteration of the parallel loop."""
    q, width = Q_aug.shape
    n_cells = centers_aug.shape[0]
    largest = 0
    for c in range(n_cells):
        largest = max(largest, offsets[c + 1] - offsets[c])
    for i in prange(q):
        query = Q_aug[i]
        cell_scores = np.empty(n_cells, dtype=np.float32)
        for c in range(n_cells):
            center = centers_aug[c]
            v = np.float32(0.0)
            for f in range(width):
                v += query[f] * center[f]
            cell_scores[c] = v
        cells = np.argsort(cell_scores, kind="mergesort")
        scores = np.empty(largest, dtype=np.float32)
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int64)
        size = 0
        top = np.float32(0.0)
        top_pos = 0
        for t in range(n_cells):
            if t >= n_probes and size == k:
                break
            c = cells[t]
            first = offsets[c]
            n_rows = offsets[c + 1] - first
            for j in range(n_rows):  # the scores first: a loop the compiler vectorises
                row = rows_aug[first + j]
                v = np.float32(0.0)
                for f in range(width):
                    v += query[f] * row[f]
                scores[j] = v
            for j in range(n_rows):
                v = scores[j]
                p = first + j
                if size < k:
                    _sift_up(hv, hi, size, v, p)
                    size += 1
                    top, top_pos = hv[0], hi[0]
                elif v < top or (v == top and p < top_pos):
                    _sift_down(hv, hi, 0, k, v, p)
                    top, top_pos = hv[0], hi[0]
        heap_sort(hv, hi, size)
        for t in range(k):
            out_idx[i, t] = order[hi[t]]


# One build, parallel, used for every batch size: fastmath's reassociation vectorises the
# dot products (3x), and a single build cannot round differently from a twin.
probe_smallest = njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract"})(
    _probe_smallest
)


def screen_cells(Q_aug: np.ndarray, cells: Cells, n_probes: int, k: int) -> np.ndarray:
    """The ``k`` stored rows (q, k) int64 with the smallest screen scores ``Q_aug . rows``
    among the rows of each query's ``n_probes`` nearest cells (more while they hold fewer
    than ``k`` rows), by (score, position): the approximate counterpart of scoring every
    stored row. ``Q_aug`` (q, r + 1) float32."""
    out = np.empty((Q_aug.shape[0], k), dtype=np.int64)
    start_kernel_threads()  # or a MemoryError, not a libgomp exit
    probe_smallest(
        np.ascontiguousarray(Q_aug, dtype=np.float32),
        cells.rows_aug,
        cells.centers_aug,
        cells.order,
        cells.offsets,
        n_probes,
        k,
        out,
    )
    return out
