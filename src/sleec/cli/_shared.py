"""What several commands share: reading data files with progress, checking outputs before
the work, the Dask scheduler, loading a model for prediction, and the label space of
prediction files."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._atomic import check_output_path
from ..estimator import SLEEC
from ..io import read_label_names, read_text, read_xc, read_xc_rows
from ..text import load_pipeline
from .progress import Progress

__all__ = [
    "MAX_LABEL_ID",
    "are_label_ids",
    "backend",
    "check_output",
    "cluster",
    "file_labels",
    "in_model_space",
    "is_large",
    "load_model",
    "metrics_json",
    "model_and_points",
    "prediction_model",
    "progress_bar",
    "read_data",
    "report_ks",
]

logger = logging.getLogger(__name__)

MAX_LABEL_ID = 2**31 - 1  # label ids of data and prediction files are int32
_LARGE_FILE = 1 << 20  # files that take a second or more to read get a progress bar


def read_data(
    path: str, split: str | None = None, column: int = 1, what: str = "data"
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(X, Y)`` of an XC file, restricted to the rows of a split file when one is given."""
    start = time.perf_counter()
    with Progress(
        f"reading {Path(path).name}", unit="byte", enabled=None if is_large(path) else False
    ) as progress:
        X, Y = (
            read_xc(path, progress=progress)
            if split is None
            else read_xc_rows(path, split, column, progress=progress)
        )
    logger.info(
        "read %s %s%s: %d points, %d features, %d labels in %.1f s",
        what,
        path,
        "" if split is None else f" (rows of {split}, column {column})",
        X.shape[0],
        X.shape[1],
        Y.shape[1],
        time.perf_counter() - start,
    )
    return X, Y


def is_large(path: str) -> bool:
    """Files worth a progress bar while reading (>= 1 MB as stored)."""
    try:
        return os.path.getsize(path) >= _LARGE_FILE
    except OSError:
        return False


def check_output(out_flag: str, out: str, **inputs: str | None) -> None:
    """Fail before the work, not after it: the output (given as ``out_flag``) must be
    writable, and must not be the same file as an input (compared by inode, so a link or
    another spelling of the path is caught): writing it would destroy the input."""
    target = check_output_path(out)
    if not target.exists():
        return
    for flag, path in inputs.items():
        if path is not None and os.path.exists(path) and os.path.samefile(target, path):
            raise ValueError(
                f"{out_flag} {out} is the same file as --{flag.replace('_', '-')} {path}; "
                "refusing to overwrite an input"
            )


@contextlib.contextmanager
def cluster(address: str | None) -> Iterator[Any]:
    """A Dask client of the scheduler at ``address`` for the command's duration (None: none)."""
    if address is None:
        yield None
        return
    from ..distributed import connect

    with connect(address) as client:
        logger.info(
            "connected to the Dask scheduler at %s (%d workers, %d threads)",
            address,
            len(client.nthreads()),
            sum(client.nthreads().values()),
        )
        yield client


def backend(client: Any) -> contextlib.AbstractContextManager:
    """joblib's Dask backend on ``client`` (fit's tasks run on its workers); else nothing."""
    if client is None:
        return contextlib.nullcontext()
    import joblib

    return joblib.parallel_config(backend="dask", client=client)


def load_model(path: str, flag: str) -> SLEEC:
    """The model of ``--model``; a text pipeline's file given XC points (``flag``) is
    refused with the flag to use instead."""
    model = SLEEC.load(path)
    if model.state_.vectorizer is not None:
        raise ValueError(
            f"{path} holds a text model (a vectoriser and its model): give it documents with "
            f"--text FILE instead of {flag} (its features are the vectoriser's columns)"
        )
    return model


def prediction_model(model: SLEEC, args: argparse.Namespace) -> SLEEC:
    """The model with the command's prediction threads (``--n-jobs``), checked early."""
    if getattr(args, "n_jobs", None) is not None:
        model.set_params(n_jobs=args.n_jobs)
        model.validated_params()
    if getattr(args, "n_learners", None) is not None and args.n_learners > len(model.learners_):
        raise ValueError(
            f"--n-learners {args.n_learners}: the model has {len(model.learners_)} learner(s)"
        )
    return model


def progress_bar(desc: str, args: argparse.Namespace) -> Progress:
    """A progress bar of points (shown on a terminal unless ``--no-progress``)."""
    return Progress(desc, enabled=False if args.no_progress else None, unit="point")


def model_and_points(args: argparse.Namespace, labels_required: bool) -> tuple[Any, Any, Any]:
    """``(model, X, labels)``: the model of ``--model`` and the points of ``--test`` (an XC
    file) or ``--text`` (documents, through the vectoriser saved with the model)."""
    if args.text is not None:
        pipeline = load_pipeline(args.model)
        docs, labels = read_text(args.text, labels_required=labels_required)
        return prediction_model(pipeline[-1], args), pipeline[0].transform(docs), labels
    model = prediction_model(load_model(args.model, "--test"), args)
    X, Y = read_data(args.test, None, 1, "test data")
    return model, X, in_model_space(model, Y, args)


def in_model_space(model: SLEEC, Y: sp.csr_matrix, args: argparse.Namespace) -> Any:
    """The label ids ``Y`` of an XC file as true labels of ``model``: the matrix itself for
    a model of label ids, else label lists of the names the ids stand for (integer names
    are the ids; other names need ``--label-names``)."""
    classes = model.state_.classes
    if classes is None:
        return Y
    rows = np.split(Y.indices.astype(np.int64), Y.indptr[1:-1])
    if are_label_ids(classes):
        return [row.tolist() for row in rows]
    if getattr(args, "label_names", None) is None:
        raise ValueError(
            f"{args.model} was fitted on label names but {args.test} holds label ids: give "
            "--label-names FILE (line i names label id i) to compare them"
        )
    names = read_label_names(args.label_names)
    if Y.shape[1] > names.size:
        raise ValueError(
            f"--label-names {args.label_names} names {names.size} labels, but {args.test} has "
            f"{Y.shape[1]}"
        )
    return [names[row].tolist() for row in rows]


def file_labels(model: SLEEC, names: bool, path: str):
    """How predictions of ``model`` are written: a function of the predicted column ids
    giving ``(ids, names)`` for :func:`write_predictions`. Label ids stay ids (a model fitted
    on an XC file, or on integer label names, which are the user's ids); any other label
    names, or ``names`` (``--names``), write names, so that a file never holds the model's
    column positions as if they were label ids."""
    classes = model.state_.classes
    display = model.label_names_
    if names and display is None:
        raise ValueError(
            f"--names: {path} has no label names (train it with --label-names FILE, or "
            "SLEEC.set_label_names)"
        )
    if names or (classes is not None and not are_label_ids(classes)):
        return lambda ids: (ids, display)
    if classes is None:
        return lambda ids: (ids, None)
    return lambda ids: (np.where(ids >= 0, classes[np.maximum(ids, 0)], -1), None)


def are_label_ids(classes: np.ndarray) -> bool:
    return classes.dtype.kind in "iu" and (
        classes.size == 0 or (classes.min() >= 0 and classes.max() <= MAX_LABEL_ID)
    )


def report_ks(k: int) -> list[int]:
    return sorted({j for j in (1, 3, 5) if j <= k} | {k})


def metrics_json(results: dict[str, np.ndarray], ks: Sequence[int]) -> dict[str, float]:
    return {
        f"{name}@{j}": round(float(values[j - 1]), 6)
        for name, values in results.items()
        for j in ks
    }
