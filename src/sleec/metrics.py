"""Ranking metrics for extreme multi-label classification (definitions of the XC repository).

Every metric takes ``Y_true``, an (n, L) binary label matrix (SciPy sparse or dense; a nonzero
entry marks a relevant label), and ``pred`` in one of two forms:

* a top-k label-id array: an integer ndarray (n, k') ranked best first. A negative id leaves
  its rank empty (no prediction); ranks are column positions. Ids >= L and repeated ids within
  the first k columns of a row are errors.
* a score matrix (n, L): a SciPy sparse matrix whose stored entries are the predictions, or a
  dense float (or bool) ndarray, all of whose entries are predictions. Predictions are ranked
  by score descending, ties broken by the smaller label id. Stored explicit zeros are
  predictions, ``-inf`` means "no prediction", ``+inf`` ranks first and NaN is an error.

Each metric returns a float64 array of shape (k,) holding the values @1..@k as fractions in
[0, 1]. Rows are processed in batches (at most ``_BATCH_ROWS`` rows and about
``_BATCH_ENTRIES`` stored predictions plus true labels each). Peak memory beyond the inputs is a
float32 CSR copy of ``Y_true`` (8 bytes per true label), a few (L,) arrays and one batch:
about 30 bytes per batch entry plus 120 bytes per batch row and rank, i.e. about 100 MB with
the defaults and k = 5, whatever n is. Sparse and dense top-k selection are numba kernels
(:mod:`sleec._topk`, with the tie rule prediction uses): one pass over each row's scores,
O(log k) per score at worst.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from . import _topk, _validation
from .exceptions import PredictionWidthWarning

__all__ = [
    "PROPENSITY_A",
    "PROPENSITY_B",
    "coverage_at_k",
    "evaluate",
    "inverse_propensity",
    "ndcg_at_k",
    "pad_ids",
    "precision_at_k",
    "psndcg_at_k",
    "psprecision_at_k",
    "recall_at_k",
    "top_k_ids",
]

PROPENSITY_A, PROPENSITY_B = 0.55, 1.5  # Jain et al. (2016)'s defaults
_BATCH_ROWS = 65536  # at most this many rows per batch
_BATCH_ENTRIES = 1 << 21  # about this many stored predictions + true labels per batch


def top_k_ids(pred: Any, k: int = 5) -> NDArray[np.int64]:
    """Return the k best-ranked label ids of every row, padded with -1.

    Parameters
    ----------
    pred : int ndarray (n, k') of ranked label ids, or (n, L) score matrix (SciPy sparse, or
        dense float/bool ndarray); see the module docstring for the conventions.
    k : int, positive.

    Returns
    -------
    ids : int64 ndarray (n, k)
        ``ids[i, r]`` is the label at rank r + 1 of row i, -1 where there is none. Ties in a
        score matrix go to the smaller label id. Ids are not checked against a label count.
        Peak extra memory: the (n, k) output plus one batch (see the module docstring).
    """
    k = _validation.check_k(k)
    kind, P = _as_pred(pred)
    out = np.empty((P.shape[0], k), dtype=np.int64)
    for a, b in _batches(kind, P, np.zeros(P.shape[0] + 1, dtype=np.int64), k):
        out[a:b] = _topk_rows(kind, P, a, b, k)
    return out


def pad_ids(ids: ArrayLike, k: int) -> NDArray[np.int64]:
    """``ids`` (n, k') ranked label ids widened to (n, max(k, k')) with -1 ("no prediction")
    on the right, e.g. a model's top-k when it knows fewer than k labels: every metric then
    counts the empty ranks as misses (P@k divides by k)."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"ids must be a 2-D integer array; got {ids.dtype} of shape {ids.shape}.")
    k = _validation.check_k(k)
    out = np.full((ids.shape[0], max(k, ids.shape[1])), -1, dtype=np.int64)
    out[:, : ids.shape[1]] = ids
    return out


def precision_at_k(Y_true: Any, pred: Any, k: int = 5) -> NDArray[np.float64]:
    """Precision: P@j = mean over all n rows of (hits in the top j) / j, for j = 1..k.

    Rows without true labels count as 0. Returns a float64 array of shape (k,).
    """
    return _compute(Y_true, pred, k, None)["P"]


def ndcg_at_k(Y_true: Any, pred: Any, k: int = 5) -> NDArray[np.float64]:
    """nDCG@j = mean over rows of DCG@j / IDCG@j, for j = 1..k.

    DCG@j = sum_{r<=j} hit_r / log2(r + 1), IDCG@j = sum_{r<=min(j, |y|)} 1 / log2(r + 1);
    rows with |y| = 0 contribute 0. Returns a float64 array of shape (k,).
    """
    return _compute(Y_true, pred, k, None)["nDCG"]


def recall_at_k(Y_true: Any, pred: Any, k: int = 5) -> NDArray[np.float64]:
    """Recall: R@j = mean over all n rows of (hits in the top j) / |y|, for j = 1..k.

    Rows with |y| = 0 contribute 0 (and still count in the mean). Returns float64 (k,).
    """
    return _compute(Y_true, pred, k, None)["R"]


def coverage_at_k(Y_true: Any, pred: Any, k: int = 5) -> NDArray[np.float64]:
    """Coverage@j = |labels hit in the top j of some row| / |labels with a 1 in Y_true|.

    0 when Y_true has no positive entry. Returns a float64 array of shape (k,).
    """
    return _compute(Y_true, pred, k, None)["coverage"]


def psprecision_at_k(
    Y_true: Any, pred: Any, inv_prop: ArrayLike, k: int = 5
) -> NDArray[np.float64]:
    """Propensity-scored precision: PSP@j = num_j / den_j, for j = 1..k.

    num_j = mean over rows of (1/j) sum_{r<=j} hit_r * inv_prop[id_r]; den_j is the same for the
    best ranking (each row's true labels by inv_prop descending): a ratio of means, as pyxclib
    and the XC repository compute it. 0 where den_j = 0. ``inv_prop``: float (L,), finite and
    non-negative (e.g. from :func:`inverse_propensity`). Returns a float64 array of shape (k,).
    """
    return _compute(Y_true, pred, k, inv_prop)["PSP"]


def psndcg_at_k(Y_true: Any, pred: Any, inv_prop: ArrayLike, k: int = 5) -> NDArray[np.float64]:
    """Propensity-scored nDCG: PSnDCG@j = num_j / den_j, for j = 1..k.

    num_j = mean over rows of sum_{r<=j} hit_r * inv_prop[id_r] / log2(r + 1); den_j is the same
    for the best ranking; 0 where den_j = 0. This is the XC repository's C++ definition
    (pyxclib also divides each row by its plain IDCG first). Returns float64 (k,).
    """
    return _compute(Y_true, pred, k, inv_prop)["PSnDCG"]


def evaluate(
    Y_true: Any, pred: Any, k: int = 5, inv_prop: ArrayLike | None = None
) -> dict[str, NDArray[np.float64]]:
    """All metrics from a single pass over the rows (top-k ids computed once per batch).

    Returns ``{"P", "nDCG", "R", "coverage"}`` and, when ``inv_prop`` (float (L,)) is given,
    also ``"PSP"`` and ``"PSnDCG"``; each value a float64 array of shape (k,).
    """
    return _compute(Y_true, pred, k, inv_prop)


def inverse_propensity(
    Y_train: Any,
    A: float = PROPENSITY_A,
    B: float = PROPENSITY_B,
    *,
    n_labels: int | None = None,
) -> NDArray[np.float64]:
    """Inverse propensities of Jain et al. (KDD 2016): 1/p_l = 1 + C (N_l + B)^(-A).

    C = (ln N - 1)(B + 1)^A, N = number of training rows, N_l = rows having label l.

    Parameters
    ----------
    Y_train : (N, L) binary label matrix, sparse or dense; N >= 2 (with N = 1, C < 0 and every
        weight is <= 0; for N < e = 2.718 the weights fall below 1).
    A : float in (0, inf). Typical: 0.55 (default), Wikipedia 0.5, Amazon 0.6.
    B : float in (0, inf) (B = 0 would give an infinite weight to unseen labels). Typical: 1.5
        (default), Wikipedia 0.4, Amazon 2.6.
    n_labels : the number of weights, at least ``Y_train``'s columns (default: exactly
        those): the labels after them never occur in training (N_l = 0), e.g. test labels a
        model never saw.

    Returns
    -------
    inv_prop : float64 ndarray (n_labels,)
    """
    A = _validation.check_float(A, "A", low=0.0, low_open=True)
    B = _validation.check_float(B, "B", low=0.0, low_open=True)
    Y = _label_matrix(Y_train, "Y_train")
    n_rows = Y.shape[0]
    if n_labels is None:
        n_labels = Y.shape[1]
    elif _validation.check_int(n_labels, "n_labels", low=0) < Y.shape[1]:
        raise ValueError(
            f"n_labels={n_labels} is less than the {Y.shape[1]} label columns of Y_train."
        )
    if n_rows < 2:
        raise ValueError(
            f"Y_train must have at least 2 rows to estimate propensities; got {n_rows}."
        )
    counts = np.bincount(Y.indices, minlength=n_labels).astype(np.float64)
    C = (np.log(n_rows) - 1.0) * (B + 1.0) ** A
    return 1.0 + C * (counts + B) ** (-A)


# ---------------------------------------------------------------------------------------------


def _compute(Y_true: Any, pred: Any, k: int, inv_prop: ArrayLike | None) -> dict[str, Any]:
    k = _validation.check_k(k)
    Y = _label_matrix(Y_true, "Y_true")
    kind, P = _as_pred(pred)
    _check_pred(kind, P, Y, k)
    n, n_labels = Y.shape
    w = None if inv_prop is None else _check_inv_prop(inv_prop, n_labels)
    w0 = None if w is None else np.append(w, 0.0)  # w0[-1] = 0: the weight of padding id -1
    # Work is sized by the data: beyond the widest prediction row and the largest true label
    # set, every metric stays constant (P@j falls as 1/j), so ranks past that are not built.
    k_asked = k
    k = min(k, max(_width(kind, P), int(np.diff(Y.indptr).max()), 1))

    jj = np.arange(1, k + 1, dtype=np.float64)
    disc = 1.0 / np.log2(jj + 1.0)
    idcg = np.cumsum(disc)
    s = {name: np.zeros(k) for name in ("P", "nDCG", "R", "psp", "psd", "bpsp", "bpsd")}
    hit_labels, hit_ranks = [], []  # (label, 0-based rank) of every hit, for the coverage
    rank = np.arange(k, dtype=np.int64)
    for a, b in _batches(kind, P, Y.indptr, k):
        ids = _topk_rows(kind, P, a, b, k)
        if kind == "ids":
            _check_duplicates(ids, a)
        Yb = Y[a:b]
        hit = _hits(Yb, ids)
        cum = np.cumsum(hit, axis=1, dtype=np.float64)
        dcg = np.cumsum(hit * disc, axis=1)
        ny = np.diff(Yb.indptr)
        has = ny > 0
        s["P"] += cum.sum(axis=0)
        s["R"] += (cum[has] / ny[has, None]).sum(axis=0)
        s["nDCG"] += (dcg[has] / idcg[np.minimum(rank, ny[has, None] - 1)]).sum(axis=0)
        hit_labels.append(ids[hit])
        hit_ranks.append(np.broadcast_to(rank, hit.shape)[hit])
        if w is not None and w0 is not None:
            gain = np.where(hit, w0[ids], 0.0)
            bgain = w0[_topk_csr(Yb.indptr, Yb.indices, w[Yb.indices], k)]
            s["psp"] += np.cumsum(gain, axis=1).sum(axis=0)
            s["psd"] += np.cumsum(gain * disc, axis=1).sum(axis=0)
            s["bpsp"] += np.cumsum(bgain, axis=1).sum(axis=0)
            s["bpsd"] += np.cumsum(bgain * disc, axis=1).sum(axis=0)

    n_present = np.unique(Y.indices).size
    covered = np.cumsum(np.bincount(_first_hit_ranks(hit_labels, hit_ranks), minlength=k))
    out = {"P": s["P"] / (n * jj), "nDCG": s["nDCG"] / n}
    if w is not None:
        out["PSP"] = _ratio(s["psp"], s["bpsp"])  # the 1/j and 1/n factors cancel
        out["PSnDCG"] = _ratio(s["psd"], s["bpsd"])
    out["R"] = s["R"] / n
    out["coverage"] = covered / n_present if n_present else np.zeros(k)
    if k_asked > k:  # the same arithmetic as building those ranks would do
        tail = np.arange(k + 1, k_asked + 1, dtype=np.float64)
        out = {
            name: np.concatenate(
                [v, s["P"][-1] / (n * tail) if name == "P" else np.full(tail.size, v[-1])]
            )
            for name, v in out.items()
        }
    return out


def _check_pred(kind: str, P: Any, Y: sp.csr_matrix, k: int) -> None:
    """Predictions that match the truth: as many rows, ids below its label count (and a
    warning when fewer than k ranks), score matrices one column per label."""
    _validation.check_consistent_rows(Y, P, "Y_true", "pred")
    n, n_labels = Y.shape
    if n == 0:
        raise ValueError("Y_true and pred must have at least one row.")
    if kind == "ids":
        _check_ids(P, n_labels)
        if P.shape[1] < k:
            warnings.warn(
                f"pred ranks {P.shape[1]} label(s) per row, fewer than k={k}: ranks "
                f"{P.shape[1] + 1}..{k} count as misses (P@{k} = hits / {k}). Evaluate at "
                f"k <= {P.shape[1]}, or pad pred with -1 to {k} columns (sleec.metrics."
                "pad_ids) to score the missing ranks as misses on purpose.",
                PredictionWidthWarning,
                stacklevel=4,
            )
    elif P.shape[1] != n_labels:
        if kind == "sparse":
            raise ValueError(
                f"pred is a score matrix with {P.shape[1]} columns but Y_true has "
                f"{n_labels} labels; they must be equal."
            )
        raise TypeError(
            f"pred is a {P.dtype} array with {P.shape[1]} columns but Y_true has "
            f"{n_labels} labels: a dense score matrix needs one column per label "
            f"and a top-k label-id array needs an integer dtype."
        )


def _width(kind: str, P: Any) -> int:
    """Ranks a prediction row can fill: the ids' columns, a score row's stored entries."""
    if kind == "sparse":
        return int(np.diff(P.indptr).max()) if P.shape[0] else 0
    return int(P.shape[1])


def _first_hit_ranks(labels: list[np.ndarray], ranks: list[np.ndarray]) -> np.ndarray:
    """The best (smallest) rank at which each label hit anywhere is hit."""
    if not labels:
        return np.zeros(0, dtype=np.int64)
    lab, rnk = np.concatenate(labels), np.concatenate(ranks)
    order = np.lexsort((rnk, lab))
    lab, rnk = lab[order], rnk[order]
    first = np.concatenate([[True], lab[1:] != lab[:-1]]) if lab.size else lab.astype(bool)
    return rnk[first]


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _label_matrix(Y: Any, name: str) -> sp.csr_matrix:
    """Binary float32 CSR with sorted indices; never modifies the caller's matrix."""
    if sp.issparse(Y) and Y.format == "csr" and Y.dtype == np.float32:
        Y = Y.copy()  # check_labels would share (and overwrite) this matrix's data
    M = _validation.check_labels(Y, name)
    M.sort_indices()
    return M


def _as_pred(pred: Any) -> tuple[str, Any]:
    """Classify ``pred`` as "ids" (int ndarray), "sparse" (CSR scores) or "dense" (scores)."""
    if sp.issparse(pred):
        P = pred.tocsr()
        if P.dtype.kind not in "biuf":
            raise TypeError(f"pred must hold real scores; got a sparse matrix of {P.dtype}.")
        if not P.has_canonical_format:
            P = P.copy()
            P.sum_duplicates()
        return "sparse", P
    P = np.asarray(pred)
    if P.ndim != 2:
        raise ValueError(
            f"pred must be 2-D, (n_samples, k) ids or (n_samples, n_labels) scores; "
            f"got shape {P.shape}."
        )
    if P.dtype.kind in "iu":
        return "ids", P
    if P.dtype.kind in "fb":
        return "dense", P
    raise TypeError(
        f"pred must be an integer array of label ids or a float score matrix; got dtype {P.dtype}."
    )


def _check_ids(P: NDArray[np.integer], n_labels: int) -> None:
    if P.size and P.max() >= n_labels:
        row = int(np.flatnonzero((P >= n_labels).any(axis=1))[0])
        bad = int(P[row][P[row] >= n_labels][0])
        raise ValueError(
            f"pred contains label id {bad} (row {row}), but Y_true has only "
            f"{n_labels} labels (valid ids 0..{n_labels - 1}; negative = no "
            f"prediction)."
        )


def _check_duplicates(ids: NDArray[np.int64], offset: int) -> None:
    s = np.sort(ids, axis=1)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if dup.any():
        row = int(np.flatnonzero(dup.any(axis=1))[0])
        label = int(s[row, 1:][dup[row]][0])
        raise ValueError(f"pred repeats label id {label} in row {offset + row}.")


def _batches(kind: str, P: Any, y_indptr: NDArray[np.integer], k: int):
    """Yield row ranges [a, b) with <= _BATCH_ROWS rows and ~<= _BATCH_ENTRIES entries."""
    n = P.shape[0]
    per_row = {"ids": min(k, P.shape[1]), "dense": P.shape[1]}.get(kind)
    stored = P.indptr if kind == "sparse" else per_row * np.arange(n + 1, dtype=np.int64)
    total = np.asarray(stored, dtype=np.int64) + np.asarray(y_indptr, dtype=np.int64)
    a = 0
    while a < n:
        b = int(np.searchsorted(total, total[a] + _BATCH_ENTRIES, side="right")) - 1
        b = max(a + 1, min(b, a + _BATCH_ROWS, n))
        yield a, b
        a = b


def _topk_rows(kind: str, P: Any, a: int, b: int, k: int) -> NDArray[np.int64]:
    """Top-k ids of rows a..b-1 of ``pred`` (int64 (b - a, k), padded with -1)."""
    nb = b - a
    if kind == "ids":
        block = P[a:b, :k]
        out = np.full((nb, k), -1, dtype=np.int64)
        out[:, : block.shape[1]] = block
        out[out < 0] = -1
        return out
    if kind == "sparse":
        lo, hi = P.indptr[a], P.indptr[b]
        vals = P.data[lo:hi]
        if vals.dtype.kind != "f":
            vals = vals.astype(np.float64)
        nan = np.isnan(vals)
        if nan.any():
            row = int(np.searchsorted(P.indptr, lo + np.flatnonzero(nan)[0], side="right")) - 1
            raise ValueError(f"pred contains NaN scores (first in row {row}).")
        return _topk_csr(P.indptr[a : b + 1] - lo, P.indices[lo:hi], vals, k)
    S = np.asarray(P[a:b], dtype=np.float64)
    nan = np.isnan(S)
    if nan.any():
        row = a + int(np.flatnonzero(nan.any(axis=1))[0])
        raise ValueError(f"pred contains NaN scores (first in row {row}).")
    return _topk.top_k_dense(S, k)


def _topk_csr(indptr: NDArray, indices: NDArray, data: NDArray, k: int) -> NDArray[np.int64]:
    """Top-k column ids per CSR row by value desc, then column asc; -inf skipped; pad -1."""
    keep = ~np.isneginf(data)  # a stored -inf means "no prediction"
    starts = np.concatenate([[0], np.cumsum(keep)])[indptr]
    n_cols = int(indices.max(initial=-1)) + 1
    S = sp.csr_matrix((data[keep], indices[keep], starts), shape=(indptr.size - 1, n_cols))
    return _topk.top_k_from_scores(S, k)[0].astype(np.int64)


def _hits(Y_true: sp.csr_matrix, ids: NDArray[np.int64]) -> NDArray[np.bool_]:
    """bool (n, k): ``Y_true[i, ids[i, r]] != 0`` (False for ids < 0).

    ``Y_true`` is CSR with sorted indices and no explicit zeros; (row, col) pairs are encoded
    as row * L + col, which is increasing in CSR order, and looked up with searchsorted.
    """
    n, n_labels = Y_true.shape
    keys = np.repeat(np.arange(n, dtype=np.int64) * n_labels, np.diff(Y_true.indptr))
    keys += Y_true.indices
    valid = ids >= 0
    if keys.size == 0:
        return np.zeros(ids.shape, dtype=bool)
    query = np.where(valid, np.arange(n, dtype=np.int64)[:, None] * n_labels + ids, -1)
    pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
    return valid & (keys[pos] == query)


def _check_inv_prop(inv_prop: ArrayLike, n_labels: int) -> NDArray[np.float64]:
    w = np.asarray(inv_prop, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n_labels:
        raise ValueError(
            f"inv_prop must be a 1-D array with one weight per label of Y_true "
            f"({n_labels}); got shape {w.shape}."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("inv_prop must contain finite, non-negative weights.")
    return w
