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

import dataclasses
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._labels import INDICATOR, LISTS, MULTICLASS
from ._quantize import decode_columns, decode_rows, encode_columns, encode_rows
from ._sparse import positions, select_columns
from ._vectorizer import vectorizer_from_arrays, vectorizer_to_arrays, vectorizer_width

__all__ = [
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "FittedState",
    "Learner",
    "LocalModel",
    "SecondStage",
    "half_precision",
    "half_precision_csr",
    "unit_centroids_T",
]

KINDS = (INDICATOR, LISTS, MULTICLASS)
_NAME_KINDS = "iufbU"  # label names a model file can hold: numbers, booleans, strings

FORMAT_VERSION = 4  # 4: E and W as 8-bit codes on stored grids; see docs/model-file.md
READABLE_VERSIONS = (2, 3, 4)  # a version-2 file is a model without a second stage


def half_precision(values: np.ndarray) -> np.ndarray:
    """``values`` as float32 rounded to the nearest float16 (unchanged if one of them lies
    beyond float16's range). The second stage's values are kept at this precision from the
    fit on (:func:`half_precision_csr`): the model file then holds them in 2 bytes a value
    and reads them back bit for bit (``E`` and ``W`` are kept on 8-bit grids instead,
    :mod:`sleec._quantize`)."""
    with np.errstate(over="ignore"):  # beyond float16's range: kept in float32
        narrow = np.asarray(values, dtype=np.float32).astype(np.float16)
    if not np.all(np.isfinite(narrow)):
        return np.asarray(values, dtype=np.float32)
    return narrow.astype(np.float32)


def half_precision_csr(M: sp.csr_matrix) -> sp.csr_matrix:
    """A float32 copy of ``M`` with its values rounded to float16 (:func:`half_precision`)
    and the entries that round to zero dropped. The second stage's centroid sums and
    rankers are kept at this precision from the fit on (held out on four sets: no P@k
    change; BENCHMARKS.md, "Model size")."""
    M = sp.csr_matrix(M, dtype=np.float32, copy=True)
    M.data = half_precision(M.data)
    M.eliminate_zeros()
    return M


def _narrowest(values: np.ndarray) -> np.ndarray:
    """float16 if it holds ``values`` (float32) exactly, else the float32 values."""
    with np.errstate(over="ignore", invalid="ignore"):
        narrow = values.astype(np.float16)
    return narrow if np.array_equal(narrow, values) else values


@dataclass(frozen=True)
class LocalModel:
    """The model of one cluster of one learner.

    rows : (n_c,) int32, indices of the cluster's points in the training label matrix.
    features : (d_c,) int32, sorted, the feature columns present in those points: the
        regressor's support (its other rows are zero), so memory follows the cluster's data.
    W : csr_matrix (d_c, r) float32, the (pruned) regressor ``V^T`` from those features to
        embeddings (row j is feature ``features[j]``).
    E : (n_c, r) float32, the stored (pruned) training embeddings ``X_c V^T``.
    E_grid : (2, r) float32 or None, the 8-bit grid ``E`` lies on (:mod:`sleec._quantize`:
        per column, scale and offset); W_scale : (d_c,) float32 or None, the step of the
        symmetric 8-bit grid of each row of ``W``. The fit sets both, so that the model file
        holds ``E`` and ``W`` in one byte a value; a model read from an older file, whose
        values are float16, has None.
    """

    rows: np.ndarray
    features: np.ndarray
    W: sp.csr_matrix
    E: np.ndarray
    E_grid: np.ndarray | None = None
    W_scale: np.ndarray | None = None
    _searched: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def searched(self, metric: str):
        """The stored embeddings prepared for the search under ``metric``
        (:func:`sleec.neighbors.search_arrays`), once per model: a prediction then costs
        the same whatever the cluster's size, beyond the search itself."""
        if metric not in self._searched:
            from .neighbors import search_arrays

            self._searched[metric] = search_arrays(self.E, metric)
        return self._searched[metric]


@dataclass(frozen=True)
class Learner:
    """One ensemble member: unit-norm cluster centres, csr_matrix (C, d) float32, and C local
    models."""

    centers: sp.csr_matrix
    locals: tuple[LocalModel, ...]

    @functools.cached_property
    def routing(self):
        """The centres prepared for routing (:func:`sleec.clustering.prepare_centers`), once
        per model."""
        from .clustering import prepare_centers

        return prepare_centers(self.centers)


@dataclass(frozen=True)
class SecondStage:
    """The fitted second stage (:mod:`sleec.rerank`): per-label centroids and rankers, over
    the labels and feature columns training uses (memory follows the data, not the declared
    label and feature counts).

    labels : (m,) int32, sorted, the label ids the stage knows: its matrices' rows.
    features : (f,) int32, sorted, the feature columns its matrices' columns stand for.
    centroid_sums : csr_matrix (m, f) float32, each label's sum of the unit feature rows
        carrying it (partial_fit adds to it); retrieval uses :attr:`centroids_T`.
    W : csr_matrix (m, f) float32, the rankers' weights (pruned). bias : (m,) float32, their
        constant terms. trained : (m,) bool, False for a label without a ranker.
    """

    labels: np.ndarray
    features: np.ndarray
    centroid_sums: sp.csr_matrix
    W: sp.csr_matrix
    bias: np.ndarray
    trained: np.ndarray

    @functools.cached_property
    def centroids_T(self) -> sp.csr_matrix:
        """(f, m) float32 CSR of the unit-norm centroids, feature-major: what retrieval
        multiplies by (computed once per loaded or fitted model)."""
        return unit_centroids_T(self.centroid_sums)

    @functools.cached_property
    def W_T(self) -> sp.csr_matrix:
        """(f, m) float32 CSR of the rankers' weights, feature-major (computed once)."""
        return sp.csr_matrix(self.W.T, dtype=np.float32)

    def columns(self, X: sp.csr_matrix) -> sp.csr_matrix:
        """The rows ``X`` (q, d) over the stage's feature columns (q, f); others dropped."""
        return select_columns(X, self.features)

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Label ids (any shape, -1 padding) as rows of the stage's matrices (-1: unknown)."""
        return positions(self.labels, ids)


def unit_centroids_T(sums: sp.csr_matrix) -> sp.csr_matrix:
    """The rows of ``sums`` (L, d) scaled to unit norm, transposed to a (d, L) float32 CSR
    (an all-zero row stays zero)."""
    norms = np.sqrt(np.asarray(sums.multiply(sums).sum(axis=1)).ravel())
    scale = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-30), 0.0).astype(np.float32)
    return sp.csr_matrix((sp.diags(scale) @ sums).T, dtype=np.float32)


@dataclass(frozen=True)
class FittedState:
    """Everything ``fit`` learns.

    learners : tuple of :class:`Learner`.
    train_labels : csr_matrix (n_train, L) float32 binary, stored once; local models keep
        row indices into it.
    n_features : d, the number of feature columns.
    classes : (L,) the label names, str (a unicode array) or int64 (integer names), or None
        when the labels are the columns of a label matrix. Names of other types live only in
        memory (saving refuses them).
    label_kind : how ``fit`` was given the labels, one of :mod:`sleec._labels`' kinds.
    normalize : whether feature rows were scaled to unit norm in training (prediction must
        do the same, whatever the estimator's parameter says later).
    vectorizer : the fitted text vectoriser of a saved text pipeline (:mod:`sleec.text`),
        else None.
    second_stage : the :class:`SecondStage`, or None (the authors' method).
    """

    learners: tuple[Learner, ...]
    train_labels: sp.csr_matrix
    n_features: int
    classes: np.ndarray | None
    label_kind: str
    normalize: bool = True
    vectorizer: Any = None
    label_names: np.ndarray | None = None  # display names (L,) str of a label-matrix model
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # fit time, version
    second_stage: SecondStage | None = None

    @property
    def n_labels(self) -> int:
        return int(self.train_labels.shape[1])

    @functools.cached_property
    def label_support(self) -> tuple[np.ndarray, sp.csr_matrix]:
        """``(labels, Y)``: the sorted ids (m,) of the labels some training point carries and
        the training labels over those columns only (n_train, m). Only these labels can be
        predicted; prediction's scratch memory follows m, not the declared label count."""
        labels = np.unique(self.train_labels.indices).astype(np.int32)
        return labels, select_columns(self.train_labels, labels)

    @functools.cached_property
    def label_counts(self) -> np.ndarray:
        """(n_labels,) int64: the number of training points carrying each label."""
        return np.bincount(self.train_labels.indices, minlength=self.n_labels)

    @functools.cached_property
    def label_prior(self) -> np.ndarray:
        """(n_labels,) float32: the share of training points carrying each label, the
        scores of a point that carries no information (every training point equally near)."""
        return (self.label_counts / max(self.train_labels.shape[0], 1)).astype(np.float32)

    @functools.cached_property
    def labels_by_frequency(self) -> np.ndarray:
        """(m,) int32: the ids of the labels some training point carries, most frequent
        first (ties: smaller id); what completes a shortlist that reaches few labels."""
        counts = self.label_counts
        carried = np.flatnonzero(counts)
        return carried[np.argsort(-counts[carried], kind="stable")].astype(np.int32)

    @functools.cached_property
    def known_features(self) -> np.ndarray:
        """(n_features,) bool: the feature columns some regressor reads (those present in the
        training points of its cluster); a point with no non-zero among them embeds at the
        origin of every cluster, whatever its other columns hold."""
        known = np.zeros(self.n_features, dtype=bool)
        for learner in self.learners:
            for local in learner.locals:
                known[local.features] = True
        return known

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays holding the whole state (see :meth:`from_arrays` for the inverse)."""
        locs = [loc for learner in self.learners for loc in learner.locals]
        r = locs[0].E.shape[1]
        Y = self.train_labels
        if self.classes is not None and self.classes.dtype.kind not in _NAME_KINDS:
            raise TypeError(
                "the label names must be strings or numbers to be saved in a model file; "
                f"got names of type {type(self.classes[0]).__name__}"
            )
        text = {} if self.vectorizer is None else vectorizer_to_arrays(self.vectorizer)
        names = {} if self.classes is None else {"classes": self.classes}
        if self.label_names is not None:
            names["label_names"] = np.asarray(self.label_names, dtype=str)
        if self.info:
            names["fit_info"] = np.array(json.dumps(dict(self.info), sort_keys=True))
        if self.second_stage is not None:
            names.update(_stage_arrays(self.second_stage))
        return _narrow_ids(
            {
                **text,
                **names,
                "label_kind": np.array(self.label_kind),
                "normalize": np.array(bool(self.normalize)),
                "shape_n_d_l_r": np.array(
                    [Y.shape[0], self.n_features, Y.shape[1], r], dtype=np.int64
                ),
                "train_labels_indptr": Y.indptr.astype(np.int64),
                "train_labels_indices": Y.indices.astype(np.int32),
                "learner_n_clusters": np.array(
                    [len(lr.locals) for lr in self.learners], dtype=np.int64
                ),
                "centers_indptr": _stack_indptr([lr.centers.indptr for lr in self.learners]),
                "centers_indices": np.concatenate(
                    [lr.centers.indices for lr in self.learners]
                ).astype(np.int32),
                "centers_data": np.concatenate([lr.centers.data for lr in self.learners]).astype(
                    np.float32
                ),
                "rows_offsets": _offsets([loc.rows.size for loc in locs]),
                "rows": np.concatenate([loc.rows for loc in locs]).astype(np.int32),
                **_embedding_arrays(locs),
                # The regressors stacked: local c owns rows features_offsets[c]:[c + 1] of W.
                "features_offsets": _offsets([loc.features.size for loc in locs]),
                "features": np.concatenate([loc.features for loc in locs]).astype(np.int32),
                **_regressor_arrays(locs, r),
            }
        )

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> FittedState:
        """Rebuild a state from :meth:`to_arrays`' output, checking it first.

        Raises ValueError (or KeyError for a missing array) naming the first inconsistency.
        """
        a = _widen_ids(a)
        _check_arrays(a)
        n_train, d, n_labels, r = (int(x) for x in a["shape_n_d_l_r"])
        indices = a["train_labels_indices"]
        Y = sp.csr_matrix(
            (np.ones(indices.size, dtype=np.float32), indices, a["train_labels_indptr"]),
            shape=(n_train, n_labels),
        )
        Y.check_format(full_check=True)
        f_off, rows_off = a["features_offsets"], a["rows_offsets"]
        W_all = _regressor_matrix(a, int(f_off[-1]), r)
        E_grid, W_scale = a.get("E_grid"), a.get("W_scale")
        centers = sp.csr_matrix(
            (a["centers_data"], a["centers_indices"], a["centers_indptr"]),
            shape=(int(f_off.size - 1), d),
        )
        learners, c0 = [], 0
        for n_c in a["learner_n_clusters"]:
            locs = []
            for c in range(c0, c0 + int(n_c)):
                f0, f1 = f_off[c], f_off[c + 1]
                r0, r1 = rows_off[c], rows_off[c + 1]
                W = W_all[f0:f1]
                grid = None if E_grid is None else E_grid[c]
                E = (
                    a["E"][r0:r1].astype(np.float32)
                    if grid is None
                    else decode_columns(a["E"][r0:r1], grid)
                )
                scale = None if W_scale is None else W_scale[f0:f1]
                locs.append(LocalModel(a["rows"][r0:r1], a["features"][f0:f1], W, E, grid, scale))
            learners.append(Learner(centers[c0 : c0 + int(n_c)], tuple(locs)))
            c0 += int(n_c)
        vectorizer = vectorizer_from_arrays(a)
        if vectorizer is not None and vectorizer_width(vectorizer) != d:
            raise ValueError("the text vectoriser's width differs from the model's features")
        classes = a.get("classes")
        return cls(
            tuple(learners),
            Y,
            d,
            classes,
            str(a["label_kind"]),
            bool(a["normalize"]),
            vectorizer,
            a.get("label_names"),
            _fit_info(a),
            _stage_from_arrays(a, n_labels, d),
        )


_DTYPES = {  # the exact dtype kind of every array: "i" integers, "f" floats
    "shape_n_d_l_r": "i",
    "label_kind": "U",
    "normalize": "b",
    "train_labels_indptr": "i",
    "train_labels_indices": "i",
    "learner_n_clusters": "i",
    "centers_indptr": "i",
    "centers_indices": "i",
    "centers_data": "f",
    "rows_offsets": "i",
    "rows": "i",
    "E": "f",
    "features_offsets": "i",
    "features": "i",
}
# The regressors' two layouts (exactly one is stored): CSR, or dense when at least half of
# the weights are non-zero (W is usually 99% dense). Their values, and E's, are stored as
# 8-bit codes on the grids the fit rounded them to (``E_grid``: per cluster and column,
# scale and offset of uint8 codes; ``W_scale``: per stacked row, the step of int8 codes),
# or, for a model read from an older file, as float16 when that holds them exactly.
_W_CSR = {"W_indptr": "i", "W_indices": "i", "W_data": "f"}
_W_DENSE = {"W_dense": "f"}
_CODES = {  # member -> (its grid's member, the codes' dtype when that grid is stored)
    "E": ("E_grid", np.dtype(np.uint8)),
    "W_dense": ("W_scale", np.dtype(np.int8)),
    "W_data": ("W_scale", np.dtype(np.int8)),
}


# Arrays of non-negative ids (rows, columns, labels), stored in the narrowest of uint8 /
# uint16 / int32 that holds their largest value (lossless) and read back as int32.
_ID_ARRAYS = (
    "train_labels_indices",
    "centers_indices",
    "rows",
    "features",
    "W_indices",
    "stage_labels",
    "stage_features",
    "centroid_indices",
    "rank_indices",
)
_NARROW_IDS = (np.uint8, np.uint16)


def _narrow_ids(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    for name in _ID_ARRAYS:
        ids = arrays.get(name)
        if ids is None or (ids.size and ids.min() < 0):  # a negative id is left for the checks
            continue
        top = int(ids.max()) if ids.size else 0
        narrow = next((t for t in _NARROW_IDS if top <= np.iinfo(t).max), np.int32)
        arrays[name] = ids.astype(narrow)
    return arrays


def _widen_ids(a: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``a`` with its uint8 / uint16 id arrays as int32 (other dtypes are left for the
    checks, which accept only signed integers there)."""
    wide = dict(a)
    for name in _ID_ARRAYS:
        if name in wide and wide[name].dtype in _NARROW_IDS:
            wide[name] = wide[name].astype(np.int32)
    return wide


def _embedding_arrays(locs: list[LocalModel]) -> dict[str, np.ndarray]:
    """The stored embeddings stacked: uint8 codes and each cluster's grid when every
    cluster's ``E`` lies on its grid, else the float values (float16 when exact)."""
    grids = [loc.E_grid for loc in locs if loc.E_grid is not None]
    if len(grids) == len(locs):
        codes = [encode_columns(loc.E, grid) for loc, grid in zip(locs, grids, strict=True)]
        on_grid = [c for c in codes if c is not None]
        if len(on_grid) == len(locs):
            return {"E": np.vstack(on_grid), "E_grid": np.stack(grids)}
    return {"E": _narrowest(np.vstack([loc.E for loc in locs]).astype(np.float32))}


def _regressor_arrays(locs: list[LocalModel], r: int) -> dict[str, np.ndarray]:
    """The stacked regressors (blocks of shape (d_c, r)) in the smaller of the two layouts,
    as int8 codes with each row's step when every block lies on its grid."""
    blocks = [loc.W for loc in locs]
    n_rows = sum(W.shape[0] for W in blocks)
    scale = None
    if all(loc.W_scale is not None for loc in locs):
        scale = np.concatenate([loc.W_scale for loc in locs]).astype(np.float32)
    if 2 * sum(W.nnz for W in blocks) >= n_rows * r:
        dense = np.zeros((n_rows, r), dtype=np.float32)
        start = 0
        for W in blocks:
            dense[start : start + W.shape[0]] = W.toarray()
            start += W.shape[0]
        arrays, name, values = {}, "W_dense", dense
        steps = None if scale is None else scale[:, None]
    else:
        indptr = _stack_indptr([W.indptr for W in blocks])
        arrays = {
            "W_indptr": indptr,
            "W_indices": np.concatenate([W.indices for W in blocks]).astype(np.int32),
        }
        name, values = "W_data", np.concatenate([W.data for W in blocks]).astype(np.float32)
        steps = None if scale is None else np.repeat(scale, np.diff(indptr))
    codes = None if steps is None else encode_rows(values, steps)
    if codes is None or scale is None:  # a block off its grid (or none): the float values
        return {**arrays, name: _narrowest(values)}
    return {**arrays, name: codes, "W_scale": scale}


def _regressor_matrix(a: Mapping[str, np.ndarray], n_rows: int, r: int) -> sp.csr_matrix:
    """The stacked regressors as one (n_rows, r) CSR matrix, from either layout (checked)."""
    scale = a.get("W_scale")
    if "W_dense" in a:
        dense = a["W_dense"]
        values = dense.astype(np.float32) if scale is None else decode_rows(dense, scale[:, None])
        return sp.csr_matrix(values)  # zeros are not stored
    data = a["W_data"]
    if scale is None:
        data = data.astype(np.float32)
    else:
        data = decode_rows(data, np.repeat(scale, np.diff(a["W_indptr"])))
    return sp.csr_matrix((data, a["W_indices"], a["W_indptr"]), shape=(n_rows, r))


_STAGE_ARRAYS = (
    "stage_labels",
    "stage_features",
    "centroid_indptr",
    "centroid_indices",
    "centroid_data",
    "rank_indptr",
    "rank_indices",
    "rank_data",
    "rank_bias",
    "rank_trained",
)


def _stage_arrays(stage: SecondStage) -> dict[str, np.ndarray]:
    C, W = stage.centroid_sums, stage.W
    return {
        "stage_labels": np.asarray(stage.labels, dtype=np.int32),
        "stage_features": np.asarray(stage.features, dtype=np.int32),
        "centroid_indptr": C.indptr.astype(np.int64),
        "centroid_indices": C.indices.astype(np.int32),
        "centroid_data": _narrowest(C.data.astype(np.float32)),
        "rank_indptr": W.indptr.astype(np.int64),
        "rank_indices": W.indices.astype(np.int32),
        "rank_data": _narrowest(W.data.astype(np.float32)),
        "rank_bias": np.asarray(stage.bias, dtype=np.float32),
        "rank_trained": np.asarray(stage.trained, dtype=bool),
    }


def _stage_from_arrays(a: Mapping[str, np.ndarray], n_labels: int, d: int) -> SecondStage | None:
    """The second stage's arrays checked (all or none; dtypes; sorted unique label ids
    below ``n_labels`` and feature ids below ``d``; CSR shapes; finite values), or None when
    the file has none."""
    present = [name for name in _STAGE_ARRAYS if name in a]
    if not present:
        return None
    if len(present) != len(_STAGE_ARRAYS):
        missing = sorted(set(_STAGE_ARRAYS) - set(present))
        raise ValueError(f"incomplete second stage (missing {missing})")
    kinds = {"labels": "i", "features": "i", "indptr": "i", "indices": "i", "data": "f"}
    kinds.update({"bias": "f", "trained": "b"})
    for name in _STAGE_ARRAYS:
        if a[name].dtype.kind != kinds[name.split("_")[1]] or a[name].ndim != 1:
            raise ValueError(f"array '{name}' has dtype {a[name].dtype}; bad second stage")
    labels, features = a["stage_labels"], a["stage_features"]
    for ids, stop, what in ((labels, n_labels, "label"), (features, d, "feature")):
        if not (_in_range(ids, stop) and bool(np.all(np.diff(ids) > 0))):
            raise ValueError(f"bad second-stage {what} ids (sorted, unique, below {stop})")
    m, f = labels.size, features.size
    matrices = []
    for prefix in ("centroid", "rank"):
        indptr, indices, data = (a[f"{prefix}_{part}"] for part in ("indptr", "indices", "data"))
        if not (_csr_ok(indptr, indices, m, f) and data.shape == indices.shape):
            raise ValueError(f"bad second-stage matrix '{prefix}'")
        if not np.all(np.isfinite(data)):
            raise ValueError(f"non-finite values in the second-stage matrix '{prefix}'")
        M = sp.csr_matrix((data.astype(np.float32), indices, indptr), shape=(m, f))
        M.check_format(full_check=True)
        matrices.append(M)
    bias, trained = a["rank_bias"], a["rank_trained"]
    if bias.shape != (m,) or trained.shape != (m,) or not np.all(np.isfinite(bias)):
        raise ValueError("bad second-stage ranker terms")
    return SecondStage(labels, features, matrices[0], matrices[1], bias, trained)


_INFO_KEYS = {"fit_seconds": (int, float), "sleec_version": (str,), "n_train": (int,)}


def _fit_info(a: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The fit's record (``fit_info``: JSON of known keys with plain values), or {}."""
    if "fit_info" not in a:
        return {}
    raw = a["fit_info"]
    if raw.dtype.kind != "U" or raw.shape != () or len(str(raw)) > 4096:
        raise ValueError("bad fit record")
    info = json.loads(str(raw))
    if not isinstance(info, dict) or any(
        key not in _INFO_KEYS or not isinstance(value, _INFO_KEYS[key])
        for key, value in info.items()
    ):
        raise ValueError("bad fit record")
    return info


def _check_arrays(a: Mapping[str, np.ndarray]) -> None:
    """Raise ValueError naming the first inconsistency of the arrays (KeyError if one is
    missing): dtypes, shapes, offsets, index ranges and finite values."""
    if ("W_dense" in a) == any(name in a for name in _W_CSR):
        raise ValueError("the regressors are stored in neither or in both layouts")
    layout = _W_DENSE if "W_dense" in a else _W_CSR
    for name, kind in {**_DTYPES, **layout}.items():
        grid, expected = _CODES.get(name, ("", None))
        if grid in a:  # 8-bit codes on a stored grid
            if a[name].dtype != expected:
                raise ValueError(f"array '{name}' has dtype {a[name].dtype}; expected {expected}")
        elif a[name].dtype.kind != kind:
            raise ValueError(
                f"array '{name}' has dtype {a[name].dtype}; expected "
                f"{'integers' if kind == 'i' else 'floats'}"
            )
    shape = a["shape_n_d_l_r"]
    if shape.shape != (4,) or shape.min() < 0:
        raise ValueError("bad shape record")
    n_train, d, n_labels, r = (int(x) for x in shape)
    counts = a["learner_n_clusters"]
    if not (counts.ndim == 1 and counts.size >= 1 and counts.min() >= 1):
        raise ValueError("bad cluster counts")
    n_locals = int(counts.sum())
    f_off, features = a["features_offsets"], a["features"]
    classes = a.get("classes")
    checks = [
        (r >= 1 and d >= 1, "empty regressors"),
        (
            classes is None
            if str(a["label_kind"]) == INDICATOR
            else classes is not None
            and classes.dtype.kind in _NAME_KINDS
            and np.unique(classes).size == classes.size
            and classes.shape == (n_labels,),
            "bad label names",
        ),
        (
            "label_names" not in a
            or (
                str(a["label_kind"]) == INDICATOR
                and a["label_names"].dtype.kind == "U"
                and a["label_names"].shape == (n_labels,)
            ),
            "bad display label names",
        ),
        (str(a["label_kind"]) in KINDS and a["label_kind"].shape == (), "bad label kind"),
        (
            _csr_ok(a["train_labels_indptr"], a["train_labels_indices"], n_train, n_labels),
            "bad training-label matrix",
        ),
        (
            _csr_ok(a["centers_indptr"], a["centers_indices"], n_locals, d)
            and a["centers_data"].shape == a["centers_indices"].shape,
            "bad cluster centres",
        ),
        (
            _offsets_ok(a["rows_offsets"], n_locals, a["rows"].size)
            and bool(np.all(np.diff(a["rows_offsets"]) >= 1)),
            "bad row offsets (every cluster holds points)",
        ),
        (a["train_labels_indices"].size > 0, "no training labels"),
        (_in_range(a["rows"], n_train), f"cluster rows outside the {n_train} training points"),
        (a["E"].shape == (a["rows"].size, r), "stored embeddings of the wrong shape"),
        (_offsets_ok(f_off, n_locals, features.size), "bad regressor feature offsets"),
        (_in_range(features, d), f"regressor features outside the {d} features"),
        (
            a["W_dense"].shape == (features.size, r)
            if "W_dense" in a
            else _csr_ok(a["W_indptr"], a["W_indices"], features.size, r)
            and a["W_data"].shape == a["W_indices"].shape,
            "bad regressor matrix",
        ),
    ]
    for ok, problem in checks + _grid_checks(a, n_locals, features.size, r):
        if not ok:
            raise ValueError(problem)
    within = np.ones(max(features.size - 1, 0), dtype=bool)  # pairs inside one cluster
    starts = np.unique(f_off[1:-1])
    within[starts[(starts >= 1) & (starts < features.size)] - 1] = False
    if np.any(np.diff(features)[within] <= 0):
        raise ValueError("regressor features not sorted within a cluster")
    for name in ("centers_data", "E", "W_dense" if "W_dense" in a else "W_data"):
        if not np.all(np.isfinite(a[name])):
            raise ValueError(f"array '{name}' holds NaN or infinite values")


def _grid_checks(
    a: Mapping[str, np.ndarray], n_locals: int, n_rows: int, r: int
) -> list[tuple[bool, str]]:
    """(ok, problem) for the 8-bit grids, where stored: float32 of the right shapes, finite
    positive steps; int8 codes within -127..127."""
    checks = []
    if "E_grid" in a:
        grid = a["E_grid"]
        ok = grid.dtype == np.float32 and grid.shape == (n_locals, 2, r)
        checks.append((ok, f"embedding grid 'E_grid' not float32 of shape ({n_locals}, 2, {r})"))
        ok = ok and bool(np.all(grid[:, 0] > 0) and np.all(_decodes_finite(grid[:, 0], 255)))
        ok = ok and bool(np.all(_decodes_finite(grid[:, 0], 255, grid[:, 1])))
        checks.append((ok, "embedding grid 'E_grid' without finite positive steps and offsets"))
    if "W_scale" in a:
        scale = a["W_scale"]
        ok = scale.dtype == np.float32 and scale.shape == (n_rows,)
        checks.append((ok, f"regressor steps 'W_scale' not float32 of shape ({n_rows},)"))
        ok = ok and bool(np.all(scale > 0) and np.all(_decodes_finite(scale, 127)))
        checks.append((ok, "regressor steps 'W_scale' not finite and positive"))
        codes = a["W_dense"] if "W_dense" in a else a["W_data"]
        ok = codes.size == 0 or int(codes.min()) >= -127
        checks.append((ok, "regressor codes outside -127..127"))
    return checks


def _decodes_finite(step: np.ndarray, top: int, offset: np.ndarray | None = None) -> np.ndarray:
    """Whether the largest code ``top`` times ``step`` (plus ``offset``) is finite in float32,
    as decoding computes it (a finite but huge step would decode to infinity)."""
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.float32(top) * step.astype(np.float32)
        if offset is not None:
            value = value + offset.astype(np.float32)
    return np.isfinite(value)


def _offsets_ok(offsets: np.ndarray, n_parts: int, total: int) -> bool:
    return (
        offsets.shape == (n_parts + 1,)
        and offsets[0] == 0
        and bool(np.all(np.diff(offsets) >= 0))
        and offsets[-1] == total
    )


def _in_range(values: np.ndarray, stop: int) -> bool:
    return values.size == 0 or (values.min() >= 0 and values.max() < stop)


def _csr_ok(indptr: np.ndarray, indices: np.ndarray, n_rows: int, n_cols: int) -> bool:
    return _offsets_ok(indptr, n_rows, indices.size) and _in_range(indices, n_cols)


def _stack_indptr(indptrs: list[np.ndarray]) -> np.ndarray:
    """Row pointers of CSR blocks stacked vertically."""
    shift = np.cumsum([0] + [int(p[-1]) for p in indptrs[:-1]])
    return np.concatenate(
        [indptrs[0][:1]] + [p[1:] + s for p, s in zip(indptrs, shift, strict=True)]
    ).astype(np.int64)


def _offsets(sizes: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
