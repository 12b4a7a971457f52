"""The fitted state of a SLEEC model and its one on-disk layout (owner of the model format).

A fitted model is a :class:`FittedState`: a tuple of :class:`Learner` (one per ensemble
member; a learner holds its cluster centres and one :class:`LocalModel` per cluster), the
training label matrix that the local models' rows index, and the feature count.
:meth:`FittedState.to_arrays` flattens it into named arrays (ragged families as ``values +
offsets``, like CSR) and :meth:`FittedState.from_arrays` rebuilds it after checking every
shape, offset and index, so that a file with a valid checksum but inconsistent content is
refused at load time rather than failing deep inside a prediction. A change of this layout
changes this module and :data:`FORMAT_VERSION`, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["FORMAT_VERSION", "FittedState", "Learner", "LocalModel"]

FORMAT_VERSION = 2  # 2: the state's own arrays (n_features, train labels) moved in here


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


@dataclass(frozen=True)
class FittedState:
    """Everything ``fit`` learns.

    learners : tuple of :class:`Learner`.
    train_labels : csr_matrix (n_train, L) float32 binary, stored once; local models keep
        row indices into it.
    n_features : d, the number of feature columns.
    """

    learners: tuple[Learner, ...]
    train_labels: sp.csr_matrix
    n_features: int

    @property
    def n_labels(self) -> int:
        return int(self.train_labels.shape[1])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays holding the whole state (see :meth:`from_arrays` for the inverse)."""
        locs = [loc for learner in self.learners for loc in learner.locals]
        r = locs[0].E.shape[1]
        Y = self.train_labels
        return {
            "shape_n_d_l_r": np.array([Y.shape[0], self.n_features, Y.shape[1], r], dtype=np.int64),
            "train_labels_indptr": Y.indptr.astype(np.int64),
            "train_labels_indices": Y.indices.astype(np.int32),
            "learner_n_clusters": np.array(
                [len(lr.locals) for lr in self.learners], dtype=np.int64
            ),
            "centers": np.concatenate([lr.centers for lr in self.learners]).astype(np.float32),
            "rows_offsets": _offsets([loc.rows.size for loc in locs]),
            "rows": np.concatenate([loc.rows for loc in locs]).astype(np.int32),
            "E": np.concatenate([loc.E for loc in locs]).astype(np.float32).reshape(-1, r),
            "W_offsets": _offsets([loc.W.nnz for loc in locs]),
            "W_indptr": np.concatenate([loc.W.indptr for loc in locs]).astype(np.int64),
            "W_indices": np.concatenate([loc.W.indices for loc in locs]).astype(np.int32),
            "W_data": np.concatenate([loc.W.data for loc in locs]).astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> FittedState:
        """Rebuild a state from :meth:`to_arrays`' output, checking it first.

        Raises ValueError (or KeyError for a missing array) naming the first inconsistency.
        """
        _check_arrays(a)
        n_train, d, n_labels, r = (int(x) for x in a["shape_n_d_l_r"])
        indices = a["train_labels_indices"]
        Y = sp.csr_matrix(
            (np.ones(indices.size, dtype=np.float32), indices, a["train_labels_indptr"]),
            shape=(n_train, n_labels),
        )
        Y.check_format(full_check=True)
        learners, c0 = [], 0
        for n_c in a["learner_n_clusters"]:
            locs = []
            for c in range(c0, c0 + int(n_c)):
                r0, r1 = a["rows_offsets"][c], a["rows_offsets"][c + 1]
                w0, w1 = a["W_offsets"][c], a["W_offsets"][c + 1]
                indptr = a["W_indptr"][c * (d + 1) : (c + 1) * (d + 1)]
                W = sp.csr_matrix((a["W_data"][w0:w1], a["W_indices"][w0:w1], indptr), shape=(d, r))
                locs.append(LocalModel(a["rows"][r0:r1], W, a["E"][r0:r1]))
            learners.append(Learner(a["centers"][c0 : c0 + int(n_c)], tuple(locs)))
            c0 += int(n_c)
        return cls(tuple(learners), Y, d)


def _check_arrays(a: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError unless the arrays describe a consistent state."""
    shape = a["shape_n_d_l_r"]
    if shape.shape != (4,) or shape.dtype.kind not in "iu" or shape.min() < 0:
        raise ValueError("bad shape record")
    n_train, d, n_labels, r = (int(x) for x in shape)
    counts = a["learner_n_clusters"]
    n_locals = int(counts.sum())
    rows_off, w_off = a["rows_offsets"], a["W_offsets"]
    y_ptr, y_idx = a["train_labels_indptr"], a["train_labels_indices"]
    checks = [
        (r >= 1 and d >= 1, "empty regressors"),
        (
            y_ptr.shape == (n_train + 1,)
            and y_ptr[0] == 0
            and np.all(np.diff(y_ptr) >= 0)
            and y_ptr[-1] == y_idx.size,
            "bad training-label row pointers",
        ),
        (
            y_idx.size == 0 or (y_idx.min() >= 0 and y_idx.max() < n_labels),
            f"training labels outside the {n_labels} labels",
        ),
        (counts.ndim == 1 and counts.size >= 1 and counts.min() >= 1, "bad cluster counts"),
        (a["centers"].shape == (n_locals, d), "cluster centres of the wrong shape"),
        (
            rows_off.shape == (n_locals + 1,)
            and rows_off[0] == 0
            and np.all(np.diff(rows_off) >= 0)
            and rows_off[-1] == a["rows"].size,
            "bad row offsets",
        ),
        (
            a["rows"].size == 0 or (a["rows"].min() >= 0 and a["rows"].max() < n_train),
            f"cluster rows outside the {n_train} training points",
        ),
        (a["E"].shape == (a["rows"].size, r), "stored embeddings of the wrong shape"),
        (
            w_off.shape == (n_locals + 1,)
            and w_off[0] == 0
            and np.all(np.diff(w_off) >= 0)
            and w_off[-1] == a["W_indices"].size == a["W_data"].size,
            "bad regressor offsets",
        ),
        (a["W_indptr"].size == n_locals * (d + 1), "bad regressor row pointers"),
        (
            a["W_indices"].size == 0 or (a["W_indices"].min() >= 0 and a["W_indices"].max() < r),
            "regressor column indices out of range",
        ),
    ]
    for ok, problem in checks:
        if not ok:
            raise ValueError(problem)
    indptr = a["W_indptr"].reshape(n_locals, d + 1)
    if not (
        np.all(indptr[:, 0] == 0)
        and np.all(np.diff(indptr, axis=1) >= 0)
        and np.array_equal(indptr[:, -1], np.diff(w_off))
    ):
        raise ValueError("bad regressor row pointers")


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
