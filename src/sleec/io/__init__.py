"""Every file sleec reads or writes besides models: XC data and split files
(:mod:`.xc`), SVMlight files (:mod:`.svmlight`), labelled text and label names
(:mod:`.text`), prediction files (:mod:`.predictions`). Opening (de)compressed streams and
the line parser are :mod:`._xc_read` and :mod:`._xc_parse`."""

from __future__ import annotations

from .predictions import PredictionFile, read_prediction_file, read_predictions, write_predictions
from .svmlight import read_svmlight_multilabel
from .text import FASTTEXT_PREFIX, TEXT_LAYOUTS, read_label_names, read_text, write_label_names
from .xc import is_xc_file, read_split, read_xc, read_xc_rows, read_xc_split, write_xc

__all__ = [
    "FASTTEXT_PREFIX",
    "TEXT_LAYOUTS",
    "PredictionFile",
    "is_xc_file",
    "read_label_names",
    "read_prediction_file",
    "read_predictions",
    "read_split",
    "read_svmlight_multilabel",
    "read_text",
    "read_xc",
    "read_xc_rows",
    "read_xc_split",
    "write_label_names",
    "write_predictions",
    "write_xc",
]
