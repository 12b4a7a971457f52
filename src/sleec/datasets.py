"""Data sets: the bundled Bibtex set, synthetic XMC data of any size (:func:`make_xmc`), and
the file readers and writers of :mod:`sleec.io`, gathered here for convenience."""

from __future__ import annotations

from importlib import resources

import scipy.sparse as sp

from .io import (
    FASTTEXT_PREFIX,
    TEXT_LAYOUTS,
    PredictionFile,
    is_xc_file,
    read_label_names,
    read_prediction_file,
    read_predictions,
    read_split,
    read_svmlight_multilabel,
    read_text,
    read_xc,
    read_xc_rows,
    read_xc_split,
    write_label_names,
    write_predictions,
    write_xc,
)
from .synthetic import make_xmc

__all__ = [
    "FASTTEXT_PREFIX",
    "TEXT_LAYOUTS",
    "PredictionFile",
    "is_xc_file",
    "load_bibtex",
    "make_xmc",
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


def load_bibtex() -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Load the bundled Bibtex data set (Mulan's train/test split).

    Returns
    -------
    X_train : csr_matrix of float32, shape (4880, 1836)
    Y_train : csr_matrix of float32, shape (4880, 159)
    X_test : csr_matrix of float32, shape (2515, 1836)
    Y_test : csr_matrix of float32, shape (2515, 159)
    """
    base = resources.files("sleec") / "data"
    out: list[sp.csr_matrix] = []
    for name in ("bibtex_train.txt.xz", "bibtex_test.txt.xz"):
        with resources.as_file(base / name) as file:
            out += read_xc(file)
    return out[0], out[1], out[2], out[3]
