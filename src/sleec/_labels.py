"""Label encoding: the forms of ``Y`` that ``fit`` accepts, and the names they carry.

``Y`` may be

* a label matrix (n, L), a SciPy sparse matrix or a 2-D array (NumPy, or anything with
  ``__array__`` such as a DataFrame), non-zero = relevant: the labels are the column ids,
  ``classes_ = arange(L)``. Python lists of lists are always label lists, never a matrix;
* a sequence of n label collections (lists, tuples or sets of hashable names, e.g. strings
  ``[["cat", "pet"], ["dog"]]``): ``classes_`` holds the names, sorted when they can be;
* a 1-D array of n labels (one label per point, multi-class): ``classes_`` as above, and
  ``predict`` returns one label per point, as scikit-learn's classifiers do.

Everything below the estimator works on the binary float32 CSR matrix over ``classes_``.

``fit`` and ``partial_fit`` refuse what a model file cannot store (``save`` writes only
what ``load`` accepts): a label column at or above 2**31 (ids are stored as int32), an
integer name outside the int64 range, and a ``partial_fit`` whose new names would change
the kind of the model's names (``'1'`` added to names ``0, 1, 2``; ``1.5`` added to
integers; an integer added to booleans). Names of other hashable types (tuples, ...) live
in memory only: ``save`` refuses them.

Label names that are strings follow one rule (:func:`name_problem`), because predictions
are written as ``name1,name2<TAB>score1,score2`` lines, one a document: a name must be
non-empty, without leading or trailing whitespace, and hold no comma, tab, line break (any
character ``str.splitlines()`` splits on: LF, CR, VT, FF, U+001C-U+001E, U+0085, U+2028,
U+2029) or other control character (C0, DEL, C1; nor a lone surrogate, which UTF-8 cannot
write). ``fit`` and ``partial_fit`` refuse a name that breaks it, naming the name and the
first row holding it; :func:`sleec.text.save_pipeline` refuses such names in models fitted
before the rule (:func:`check_stored_names`).
"""

from __future__ import annotations

import numbers
import re
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _validation
from ._sparse import INT32_MAX

__all__ = [
    "INDICATOR",
    "LISTS",
    "MAX_LABEL_ID",
    "MULTICLASS",
    "NAME_RULE",
    "check_stored_names",
    "encode",
    "extend",
    "name_problem",
    "to_matrix",
]

INDICATOR, LISTS, MULTICLASS = "indicator", "lists", "multiclass"
MAX_LABEL_ID = INT32_MAX  # label ids are stored as int32
_INT64 = (-(2**63), 2**63 - 1)
NAME_RULE = (
    "label names must be non-empty, without leading or trailing whitespace, commas, tabs, line "
    "breaks or other control characters (predictions are written as "
    "'name1,name2<TAB>scores' lines)"
)
# Every character a name cannot hold: comma, C0 controls (TAB, LF, CR, VT, FF, U+001C-U+001F
# included), DEL, C1 controls (U+0085 included), the line and paragraph separators, lone
# surrogates. str.splitlines() splits on a subset of these.
_BAD_CHAR = re.compile("[,\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def encode(Y: Any, name: str = "Y") -> tuple[sp.csr_matrix, np.ndarray | None, str]:
    """``(matrix (n, L) binary float32 CSR, names (L,), kind)`` of a label argument; the
    names are None for a label matrix (its labels are its column ids: ``arange(L)`` is not
    materialised, L may be huge)."""
    Y = _as_matrix_like(Y)
    kind = _kind(Y)
    if kind == INDICATOR:
        M = _check_ids(_validation.check_labels(Y, name), name)
        if sp.issparse(Y) and np.shares_memory(M.data, Y.data):
            M = M.copy()  # the model keeps these: never the caller's arrays
        return M, None, kind
    rows = _rows(Y, kind, name)
    classes = _ordered({label for row in rows for label in row}, rows)
    _check_names(classes, rows, name)
    return _matrix(rows, _index(classes), len(rows)), _as_array(classes), kind


def _ordered(names: set, rows: list[tuple]) -> list:
    """The names sorted, or in first-seen order when they cannot be compared."""
    try:
        return sorted(names)
    except TypeError:
        seen: dict[Hashable, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(v for v in row if v in names))
        return list(seen)


def _as_matrix_like(Y: Any) -> Any:
    """2-D objects that are not NumPy arrays but convert to one (a DataFrame) as arrays."""
    if not isinstance(Y, np.ndarray) and not sp.issparse(Y) and hasattr(Y, "__array__"):
        if getattr(Y, "ndim", None) in (1, 2):
            return np.asarray(Y)
    return Y


def extend(
    Y: Any, classes: np.ndarray | None, kind: str, n_labels: int, name: str = "Y"
) -> tuple[sp.csr_matrix, np.ndarray | None, int]:
    """New points' labels for a fitted model: ``(matrix (n, L'), classes', L')`` where the
    label set grows by the labels it has not seen (L' >= n_labels): for a label matrix, its
    columns beyond the model's; for names, the new names appended after the known ones (in
    sorted order among themselves), so the known labels keep their ids."""
    Y = _as_matrix_like(Y)
    new_kind = _kind(Y)
    if (new_kind == INDICATOR) != (kind == INDICATOR):
        given = "a label matrix" if new_kind == INDICATOR else "label names"
        fitted = "a label matrix" if kind == INDICATOR else "label names"
        raise ValueError(f"{name} holds {given}, but the model was fitted on {fitted}.")
    if new_kind == INDICATOR:
        M = _check_ids(_validation.check_labels(Y, name), name)
        width = max(n_labels, M.shape[1])
        return sp.csr_matrix((M.data, M.indices, M.indptr), shape=(M.shape[0], width)), None, width
    rows = _rows(Y, new_kind, name)
    assert classes is not None  # label lists: the model has names (kinds checked above)
    known = _index(classes.tolist())
    added = _ordered({label for row in rows for label in row if label not in known}, rows)
    if added:
        _check_names(added, rows, name)
        grown = _as_array(classes.tolist() + added)
        if classes.dtype.kind != "O" and grown.dtype.kind != classes.dtype.kind:
            odd = [v for v in added if _as_array([v]).dtype.kind not in _HOLDS[classes.dtype.kind]]
            shown = ", ".join(f"{v!r} ({type(v).__name__})" for v in odd[:5])
            raise ValueError(
                f"{name} holds the new label name(s) {shown}{', ...' if len(odd) > 5 else ''} "
                f"(first in {name}[{_first_row(odd[0], rows)}]), but the model's label names "
                f"are {_KIND_NAMES[classes.dtype.kind]}: a model holds names of one kind "
                "(all strings, all integers, all booleans or all real numbers), so it could not "
                "be saved. Give the new names in the model's kind."
            )
        classes = grown
    index = _index(classes.tolist())
    return _matrix(rows, index, len(rows)), classes, len(index)


def to_matrix(Y: Any, classes: np.ndarray | None, n_labels: int, name: str = "Y") -> sp.csr_matrix:
    """``Y`` (in any form ``fit`` takes) as a binary CSR over the model's ``n_labels`` labels
    (``classes`` their names, None for column ids), followed by the labels the model never
    saw: (n, n_labels + u). Unseen names get the columns after the model's, in sorted order
    (first-seen order when names do not compare); a label matrix wider than the model keeps
    its extra columns. No prediction reaches those columns, so the scorers count every
    unseen true label as a miss, as they do for a label id the model has no column for."""
    Y = _as_matrix_like(Y)
    if _kind(Y) == INDICATOR:
        M = _validation.check_labels(Y, name)
        width = max(n_labels, M.shape[1])
        return sp.csr_matrix((M.data, M.indices, M.indptr), shape=(M.shape[0], width))
    if classes is None:
        raise ValueError(
            f"{name} is given as label lists, but the model was fitted on a label matrix: "
            "give a label matrix of its columns."
        )
    rows = _rows(Y, _kind(Y), name)
    known = _index(classes.tolist())
    unseen = _ordered({v for row in rows for v in row if v not in known}, rows)
    index = {**known, **{v: len(known) + j for j, v in enumerate(unseen)}}
    return _matrix(rows, index, len(rows))


# The kinds of names a names array of each kind can take in without changing kind.
_HOLDS = {"U": "U", "b": "b", "i": "ib", "f": "fib"}
_KIND_NAMES = {"U": "strings", "b": "booleans", "i": "integers", "f": "real numbers"}


def _check_ids(M: sp.csr_matrix, name: str) -> sp.csr_matrix:
    """``M``, if every label column id fits in int32 (a model file stores them so)."""
    if M.nnz and int(M.indices.max()) > MAX_LABEL_ID:
        at = int(np.flatnonzero(M.indices > MAX_LABEL_ID)[0])
        row = int(np.searchsorted(M.indptr, at, side="right") - 1)
        raise ValueError(
            f"{name} has a label in column {int(M.indices[at])} (first in row {row}); sleec "
            f"stores label ids as int32, so label columns must be at most {MAX_LABEL_ID}."
        )
    return M


def name_problem(label: str) -> str | None:
    """What makes the string ``label`` break :data:`NAME_RULE` (e.g. ``"holds a comma"``), or
    None when it follows the rule."""
    if not label.strip():
        return "is empty" if not label else "is only whitespace"
    found = _BAD_CHAR.search(label)
    if found is not None:
        c = found.group()
        if c == ",":
            return "holds a comma"
        if c == "\t":
            return "holds a tab"
        what = "a line break" if len(f"a{c}b".splitlines()) > 1 else "a control character"
        if unicodedata.category(c) == "Cs":
            what = "a lone surrogate"
        return f"holds {what} (U+{ord(c):04X})"
    if label != label.strip():
        return "has leading or trailing whitespace"
    return None


def check_stored_names(classes: np.ndarray | None, train_labels: sp.csr_matrix) -> None:
    """Refuse a fitted model's string names that break :data:`NAME_RULE` (models fitted
    before the rule), naming the first such name and the first training row holding it."""
    if classes is None or classes.dtype.kind != "U":
        return
    for j, label in enumerate(classes.tolist()):
        problem = name_problem(label)
        if problem is not None:
            where = np.flatnonzero(train_labels.indices == j)
            row = (
                f"first in training row "
                f"{int(np.searchsorted(train_labels.indptr, where[0], side='right') - 1)}"
                if where.size
                else "in no training row"
            )
            raise ValueError(
                f"the model's label name {label!r} ({row}) {problem}; {NAME_RULE}. Predictions "
                "naming it could not be written: fit the model again with other names."
            )


def _check_names(names: list, rows: list[tuple], name: str) -> None:
    """Refuse names that a model file cannot store (integers beyond int64) or that the
    output formats cannot write (strings breaking :data:`NAME_RULE`)."""
    for v in names:
        if isinstance(v, str):
            problem = name_problem(v)
            if problem is not None:
                raise ValueError(
                    f"{name}[{_first_row(v, rows)}] holds the label name {v!r}, which "
                    f"{problem}; {NAME_RULE}."
                )
        elif isinstance(v, numbers.Integral) and not _INT64[0] <= int(v) <= _INT64[1]:
            raise ValueError(
                f"{name}[{_first_row(v, rows)}] holds the label name {v!r}, beyond the int64 "
                f"range [{_INT64[0]}, {_INT64[1]}]; integer names must fit in int64 (or give "
                "the names as strings)."
            )


def _first_row(label: Any, rows: list[tuple]) -> int:
    return next(i for i, row in enumerate(rows) if label in row)


def _kind(Y: Any) -> str:
    if Y is None:
        raise ValueError("SLEEC requires y to be passed, but the target y is None.")
    if sp.issparse(Y):
        return INDICATOR
    if isinstance(Y, np.ndarray):
        if Y.ndim == 1:
            return LISTS if Y.dtype == object and _is_collection(Y[:1]) else MULTICLASS
        if Y.ndim == 2 and Y.dtype != object:
            return INDICATOR
    if isinstance(Y, (str, bytes)) or not isinstance(Y, Iterable):
        raise TypeError(
            f"Y must be a label matrix (n, L), a sequence of label lists or a 1-D array of "
            f"labels; got {type(Y).__name__}."
        )
    seq = Y if isinstance(Y, Sequence) else list(Y)
    head = [_is_collection(seq[i : i + 1]) for i in range(min(len(seq), 64))]
    return LISTS if any(head) else MULTICLASS  # a mix: _rows names the odd row


def _is_collection(items: Any) -> bool:
    return len(items) > 0 and isinstance(items[0], (list, tuple, set, frozenset, np.ndarray))


def _rows(Y: Any, kind: str, name: str) -> list[tuple]:
    if kind == MULTICLASS:
        from sklearn.utils.multiclass import type_of_target

        values = np.asarray(Y, dtype=object if _has_text(Y) else None)
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            target = "NaN or infinite"
        else:
            target = type_of_target(values)
        if target not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: {name} is a 1-D array of {target} values; expected class "
                "labels (one per point), label lists or a label matrix."
            )
    rows = []
    for i, row in enumerate(Y):
        if kind == MULTICLASS:
            row = (row.item() if isinstance(row, np.generic) else row,)
        elif isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise TypeError(
                f"{name}[{i}] is a {type(row).__name__}; expected a collection of labels "
                "(every row must be, e.g. ['cat', 'pet'])."
            )
        labels = tuple(v.item() if isinstance(v, np.generic) else v for v in row)
        for v in labels:
            if not isinstance(v, Hashable) or v is None or (isinstance(v, float) and v != v):
                raise TypeError(
                    f"{name}[{i}] holds the label {v!r}; expected hashable names (not None or NaN)."
                )
        rows.append(labels)
    return rows


def _has_text(Y: Any) -> bool:
    return any(isinstance(v, (str, bytes)) for v in list(Y)[:64])


def _index(classes: list) -> dict:
    return {c: j for j, c in enumerate(classes)}


def _matrix(rows: list[tuple], index: dict, n: int) -> sp.csr_matrix:
    indptr = [0]
    indices: list[int] = []
    for row in rows:
        indices.extend(sorted({index[v] for v in row}))
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.ones(len(indices), np.float32), np.asarray(indices, np.int32), np.asarray(indptr)),
        shape=(n, len(index)),
    )


def _as_array(classes: list) -> np.ndarray:
    """The class names as a NumPy array: strings as a unicode array, booleans, integers and
    other real numbers as such; other hashables as an object array (those cannot be saved
    in a model file)."""
    if all(isinstance(c, str) for c in classes):
        return np.array(classes, dtype=str) if classes else np.zeros(0, dtype="<U1")
    for kind, dtype in ((bool, np.bool_), (numbers.Integral, np.int64), (numbers.Real, np.float64)):
        if all(isinstance(c, kind) for c in classes):
            return np.array(classes, dtype=dtype)
    out = np.empty(len(classes), dtype=object)
    out[:] = classes
    return out
