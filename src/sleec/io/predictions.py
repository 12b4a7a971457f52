"""Prediction files: the top-k labels ``sleec predict`` writes and ``sleec evaluate`` reads,
in the label space they are in (label ids, or label names)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

import numpy as np

from .. import _validation
from .._atomic import atomic_write as _atomic_write
from .._persist import read_arrays
from ..exceptions import DataFormatError
from . import _xc_read as _r
from .text import write_label_names

__all__ = ["PredictionFile", "read_prediction_file", "read_predictions", "write_predictions"]


# --------------------------------------------------------------------------------------------
# prediction files


@dataclass(frozen=True)
class PredictionFile:
    """Ranked predictions read from a file, with the label space they are in.

    ids : (n, k) int64, best first, padded with -1.
    names : None when ``ids`` are label ids (the columns of an XC file, a model's
        ``classes_`` when they are ids); else the (m,) str label names that ``ids`` index
        (a model fitted on label names, or ``predict --names``).
    """

    ids: np.ndarray
    names: np.ndarray | None = None

    @property
    def space(self) -> str:
        """``"ids"`` or ``"names"``, for messages."""
        return "ids" if self.names is None else "names"


def write_predictions(
    path: str, ids: np.ndarray, scores: np.ndarray, names: np.ndarray | None = None
) -> None:
    """Write top-k predictions atomically; the format says which label space they are in.

    Label ids (``names`` None): ``.npz`` with arrays ``ids`` (n, k) int32 padded with -1
    and ``scores``; or text, one line per point, ``id:score id:score ...`` best first,
    padding skipped. Label names (``ids`` index ``names``): ``.npz`` with ``name_ids``,
    ``scores`` and ``label_names`` (no ``ids`` array, so that nobody reads the positions
    as label ids); or text, one line per point, ``name1,name2<TAB>score1,score2`` (the
    format of ``predict --text``; every line has its TAB).
    """
    ids = np.asarray(ids, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float32)
    npz = str(path).lower().endswith(".npz")
    if names is not None:
        names = np.asarray(names, dtype=str)
        if npz:
            with _atomic_write(path, "wb") as fh:
                np.savez(fh, name_ids=ids, scores=scores, label_names=names)
            return
        keep = ids >= 0
        write_label_names(
            path,
            [names[row[m]].tolist() for row, m in zip(ids, keep, strict=True)],
            [row[m].tolist() for row, m in zip(scores, keep, strict=True)],
        )
        return
    if npz:
        with _atomic_write(path, "wb") as fh:
            np.savez(fh, ids=ids, scores=scores)
        return
    valid = ids >= 0
    uniq, inv = np.unique(scores[valid], return_inverse=True)
    text = [str(s) for s in uniq]  # shortest text that round-trips the float32 value
    pairs = [
        f"{i}:{text[j]}" for i, j in zip(ids[valid].tolist(), inv.ravel().tolist(), strict=True)
    ]
    counts = valid.sum(axis=1)
    with _atomic_write(path, "w") as fh:
        pos = 0
        for c in counts.tolist():
            fh.write(" ".join(pairs[pos : pos + c]) + "\n")
            pos += c


def read_predictions(path: str, k: int | None = None) -> np.ndarray:
    """Ranked label ids (n, k') int64, padded with -1, from a file of label ids written by
    ``predict`` (a file of label names is refused: see :func:`read_prediction_file`).

    With ``k``, only each row's first ``k`` predictions are kept (``k' <= k``): memory
    follows what is evaluated, however long a line is. Ids must be integers in [0, 2**31).
    """
    found = read_prediction_file(path, k)
    if found.names is not None:
        raise DataFormatError(
            "holds label names, not label ids (the predictions of a model fitted on label "
            "names); read it with sleec.datasets.read_prediction_file",
            path=path,
        )
    return found.ids


def read_prediction_file(path: str, k: int | None = None) -> PredictionFile:
    """The predictions of a file written by :func:`write_predictions` (or ``predict``),
    ids or names; with ``k``, each row's first ``k`` only.

    A text file is in the names format when its first line holds a TAB (then every line
    must), else in the ids format (then no line may).
    """
    if k is not None:
        k = _validation.check_k(k)
    if str(path).lower().endswith(".npz"):
        found = _read_predictions_npz(path)
        return found if k is None else PredictionFile(found.ids[:, :k], found.names)
    rows: list[list] = []
    names_format = None
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataFormatError(
                    "not a text file; expected lines 'id:score id:score ...' or "
                    "'name1,name2<TAB>score1,score2'",
                    path=path,
                    line=lineno,
                ) from None
            line = line.rstrip("\r\n")
            if names_format is None:
                names_format = "\t" in line
            if names_format != ("\t" in line):
                raise DataFormatError(
                    "mixes the two prediction formats: "
                    + (
                        "no TAB on this line, though line 1 has one ('name1,name2<TAB>scores')"
                        if names_format
                        else "a TAB on this line, though line 1 has none ('id:score ...')"
                    ),
                    path=path,
                    line=lineno,
                )
            if names_format:
                field = line.partition("\t")[0]
                parsed = field.split(",") if field else []
                if any(not name for name in parsed):
                    raise DataFormatError(
                        f"empty label name in {_r.show(field.encode())}", path=path, line=lineno
                    )
                rows.append(parsed[:k])
            else:
                tokens = line.split(None, -1 if k is None else k)[:k]
                rows.append([_prediction_id(token, path, lineno) for token in tokens])
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), max(width, 1)), -1, dtype=np.int64)
    if not names_format:
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
        return PredictionFile(ids)
    index: dict[str, int] = {}
    for i, r in enumerate(rows):
        ids[i, : len(r)] = [index.setdefault(name, len(index)) for name in r]
    return PredictionFile(ids, np.array(list(index), dtype=str))


def _prediction_id(token: str, path: str, lineno: int) -> int:
    label, sep, score = token.partition(":")
    try:
        if not sep:
            raise ValueError
        value = int(label)
        float(score)
    except ValueError:
        raise DataFormatError(
            f"bad prediction {token[:40]!r}; expected 'label_id:score'", path=path, line=lineno
        ) from None
    if not 0 <= value <= _r.MAX_ID:
        raise DataFormatError(
            f"label id {label[:40]} out of range; expected an integer in [0, {_r.MAX_ID}]",
            path=path,
            line=lineno,
        )
    return value


def _read_predictions_npz(path: str) -> PredictionFile:
    try:
        arrays = read_arrays(path)  # the model files' size-checked reader
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError) as exc:
        if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise DataFormatError(f"not a readable .npz file ({exc})", path=path) from None
    key = "name_ids" if "name_ids" in arrays else "ids"
    if key not in arrays:
        raise DataFormatError(
            f"no 'ids' array (found {sorted(arrays)}); expected a file written by 'sleec predict'",
            path=path,
        )
    ids = arrays[key]
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise DataFormatError(
            f"'{key}' is a {ids.dtype} array of shape {ids.shape}; expected "
            "a 2-D integer array (n_points, k)",
            path=path,
        )
    if key == "ids":
        return PredictionFile(ids.astype(np.int64, copy=False))
    names = arrays.get("label_names")
    if names is None or names.ndim != 1 or names.dtype.kind != "U":
        raise DataFormatError(
            "'name_ids' without a 1-D string array 'label_names' that they index", path=path
        )
    if ids.size and ids.max() >= names.size:
        raise DataFormatError(
            f"'name_ids' holds {int(ids.max())}, beyond the {names.size} label names", path=path
        )
    return PredictionFile(ids.astype(np.int64, copy=False), names)
