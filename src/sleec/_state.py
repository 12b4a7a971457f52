"""Fitted state of a SLEEC model: frozen dataclasses and their packing into flat arrays.

A model is a tuple of :class:`Learner` (one per ensemble member); a learner holds its cluster
centres and one :class:`LocalModel` per cluster. Ragged families are packed as ``values +
offsets`` (like CSR) for the model file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class LocalModel:
    """The model of one cluster of one learner.

    rows : (n_c,) int32, indices of the cluster's points in the training label matrix.
    W : csr_matrix (d, r) float32, the (pruned) regressor ``V^T`` from features to embeddings.
    E : (n_c, r) float32, the stored (pruned) training embeddings ``X_c V^T``.
    """

    rows: np.ndarray
    W: sp.csr_matrix
    E: np.ndarray


@dataclass(frozen=True)
class Learner:
    """One ensemble member: unit-norm cluster centres (C, d) float32 and C local models."""

    centers: np.ndarray
    locals: tuple[LocalModel, ...]


def pack_learners(learners: tuple[Learner, ...]) -> dict[str, np.ndarray]:
    """Flatten learners into named arrays (see :func:`unpack_learners` for the inverse)."""
    locs = [loc for learner in learners for loc in learner.locals]
    d = learners[0].centers.shape[1]
    r = locs[0].E.shape[1]
    return {
        "learner_n_clusters": np.array([len(lr.locals) for lr in learners], dtype=np.int64),
        "centers": np.concatenate([lr.centers for lr in learners]).astype(np.float32),
        "rows_offsets": _offsets([loc.rows.size for loc in locs]),
        "rows": np.concatenate([loc.rows for loc in locs]).astype(np.int32),
        "E": np.concatenate([loc.E for loc in locs]).astype(np.float32).reshape(-1, r),
        "W_offsets": _offsets([loc.W.nnz for loc in locs]),
        "W_indptr": np.concatenate([loc.W.indptr for loc in locs]).astype(np.int64),
        "W_indices": np.concatenate([loc.W.indices for loc in locs]).astype(np.int32),
        "W_data": np.concatenate([loc.W.data for loc in locs]).astype(np.float32),
        "shape_d_r": np.array([d, r], dtype=np.int64),
    }


def check_packed(a: dict[str, np.ndarray], n_train: int, n_features: int) -> None:
    """Raise ValueError unless the packed arrays describe a consistent model: every shape,
    offset and index in range, so that a file with a valid checksum but inconsistent content
    fails at load time rather than deep inside a prediction."""
    d, r = (int(x) for x in a["shape_d_r"])
    counts = a["learner_n_clusters"]
    n_locals = int(counts.sum())
    rows_off, w_off = a["rows_offsets"], a["W_offsets"]
    checks = [
        (d == n_features, f"regressors have {d} features, the model {n_features}"),
        (counts.ndim == 1 and counts.size >= 1 and counts.min() >= 1, "bad cluster counts"),
        (a["centers"].shape == (n_locals, d), "cluster centres of the wrong shape"),
        (rows_off.shape == (n_locals + 1,) and rows_off[0] == 0
         and np.all(np.diff(rows_off) >= 0) and rows_off[-1] == a["rows"].size,
         "bad row offsets"),
        (a["rows"].size == 0 or (a["rows"].min() >= 0 and a["rows"].max() < n_train),
         f"cluster rows outside the {n_train} training points"),
        (a["E"].shape == (a["rows"].size, r), "stored embeddings of the wrong shape"),
        (w_off.shape == (n_locals + 1,) and w_off[0] == 0 and np.all(np.diff(w_off) >= 0)
         and w_off[-1] == a["W_indices"].size == a["W_data"].size, "bad regressor offsets"),
        (a["W_indptr"].size == n_locals * (d + 1), "bad regressor row pointers"),
        (a["W_indices"].size == 0 or (a["W_indices"].min() >= 0
                                      and a["W_indices"].max() < r),
         "regressor column indices out of range"),
    ]
    for ok, problem in checks:
        if not ok:
            raise ValueError(problem)
    indptr = a["W_indptr"].reshape(n_locals, d + 1)
    if not (np.all(indptr[:, 0] == 0) and np.all(np.diff(indptr, axis=1) >= 0)
            and np.array_equal(indptr[:, -1], np.diff(w_off))):
        raise ValueError("bad regressor row pointers")


def unpack_learners(a: dict[str, np.ndarray]) -> tuple[Learner, ...]:
    """Inverse of :func:`pack_learners`; call :func:`check_packed` first on untrusted input."""
    d, r = (int(v) for v in a["shape_d_r"])
    counts = a["learner_n_clusters"]
    learners = []
    c0 = 0
    for n_c in counts:
        locs = []
        for c in range(c0, c0 + int(n_c)):
            r0, r1 = a["rows_offsets"][c], a["rows_offsets"][c + 1]
            w0, w1 = a["W_offsets"][c], a["W_offsets"][c + 1]
            indptr = a["W_indptr"][c * (d + 1):(c + 1) * (d + 1)]
            W = sp.csr_matrix((a["W_data"][w0:w1], a["W_indices"][w0:w1], indptr),
                              shape=(d, r))
            locs.append(LocalModel(a["rows"][r0:r1], W, a["E"][r0:r1]))
        learners.append(Learner(a["centers"][c0:c0 + int(n_c)], tuple(locs)))
        c0 += int(n_c)
    return tuple(learners)


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
