"""Error and warning types raised by ``sleec``.

The errors subclass :class:`ValueError`, so callers that already catch ``ValueError`` keep
working; the warnings subclass :class:`UserWarning`.
"""

from __future__ import annotations

__all__ = [
    "DataFormatError",
    "ModelFormatError",
    "NoFeatureWarning",
    "PredictionWidthWarning",
    "UnknownWordsWarning",
]


class DataFormatError(ValueError):
    """A data file does not follow the expected format.

    The message names the file, the 1-based line number (when one applies) and what was
    expected, e.g. ``"train.txt, line 7: bad feature token 'x:1'; expected 'index:value'"``.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ModelFormatError(ValueError):
    """A saved model file is truncated, corrupted, altered or of an unknown format version."""


class NoFeatureWarning(UserWarning):
    """Points without a non-zero feature (e.g. documents with no known word) were predicted:
    they carry no information, so they get the training set's most frequent labels, scored
    by frequency, instead of neighbour votes."""


class PredictionWidthWarning(UserWarning):
    """A metric was asked for more ranks than the predictions hold (e.g. P@10 of a top-5
    prediction): the missing ranks count as misses. Pad the ids with -1 to k columns
    (:func:`sleec.metrics.pad_ids`) to say that this is intended."""


class UnknownWordsWarning(UserWarning):
    """Documents added to a fitted text pipeline hold words its vectoriser's vocabulary does
    not: the model ignores them (its features are the vocabulary's columns)."""
