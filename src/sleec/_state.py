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


def unpack_learners(a: dict[str, np.ndarray]) -> tuple[Learner, ...]:
    """Inverse of :func:`pack_learners`. Assumes arrays were checked by the model reader."""
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
