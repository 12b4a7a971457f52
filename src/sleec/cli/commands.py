"""The commands of the command line: ``train``, ``partial-fit``, ``predict``, ``explain``,
``report``, ``evaluate`` and ``demo``.

Each takes the parsed arguments (see :mod:`sleec.cli`) and returns the exit status; errors
are raised and turned into one line by :func:`sleec.cli.main`. Data and prediction files are
read and written through :mod:`sleec.datasets`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import metrics
from .._atomic import check_output_path
from ..datasets import (
    is_xc_file,
    load_bibtex,
    read_label_names,
    read_prediction_file,
    read_text,
    read_xc,
    read_xc_rows,
    write_label_names,
    write_predictions,
)
from ..estimator import PREDICT_BATCH, SLEEC
from ..explain import format_explanation
from ..presets import PRESETS
from ..text import (
    load_pipeline,
    make_text_pipeline,
    partial_fit_pipeline,
    predict_text,
    save_pipeline,
)
from .parameters import resolve_params
from .progress import Progress, status

__all__ = [
    "PROPENSITY_A",
    "PROPENSITY_B",
    "demo",
    "evaluate",
    "explain",
    "partial_fit",
    "predict",
    "report",
    "train",
]

logger = logging.getLogger(__name__)

# Published SLEEC results on Bibtex (percent, @1/@3/@5).
PUBLISHED_BIBTEX = {
    "XC repo": {"P": (65.08, 39.64, 28.87), "PSP": (51.12, 53.95, 59.56)},
    "paper": {"P": (65.57, 40.02, 29.30)},
}
PROPENSITY_A, PROPENSITY_B = metrics.PROPENSITY_A, metrics.PROPENSITY_B
MAX_LABEL_ID = 2**31 - 1  # label ids of data and prediction files are int32
_LARGE_FILE = 1 << 20  # files that take a second or more to read get a progress bar


# --------------------------------------------------------------------------------------------
# files


def _read_data(
    path: str, split: str | None = None, column: int = 1, what: str = "data"
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(X, Y)`` of an XC file, restricted to the rows of a split file when one is given."""
    start = time.perf_counter()
    with Progress(
        f"reading {Path(path).name}", unit="byte", enabled=None if _is_large(path) else False
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


def _is_large(path: str) -> bool:
    """Files worth a progress bar while reading (>= 1 MB as stored)."""
    try:
        return os.path.getsize(path) >= _LARGE_FILE
    except OSError:
        return False


def _check_output(out_flag: str, out: str, **inputs: str | None) -> None:
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


# --------------------------------------------------------------------------------------------
# commands


def _report_ks(k: int) -> list[int]:
    return sorted({j for j in (1, 3, 5) if j <= k} | {k})


def _metrics_json(results: dict[str, np.ndarray], ks: Sequence[int]) -> dict[str, float]:
    return {
        f"{name}@{j}": round(float(values[j - 1]), 6)
        for name, values in results.items()
        for j in ks
    }


@contextlib.contextmanager
def _cluster(address: str | None) -> Iterator[Any]:
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


def _backend(client: Any) -> contextlib.AbstractContextManager:
    """joblib's Dask backend on ``client`` (fit's tasks run on its workers); else nothing."""
    if client is None:
        return contextlib.nullcontext()
    import joblib

    return joblib.parallel_config(backend="dask", client=client)


def train(args: argparse.Namespace) -> int:
    params = resolve_params(args)
    model = SLEEC(**params)
    model.validated_params()  # bad values fail now, before reading the data
    if args.print_params:
        print(json.dumps(params, indent=2))
        return 0
    _check_output(
        "--model",
        args.model,
        train=args.train,
        text=args.text,
        params=args.params,
        train_split=args.train_split,
        label_names=args.label_names,
    )
    pipeline = None
    label_names = None
    if args.label_names is not None:
        if args.text is not None:
            raise ValueError("--label-names names the label ids of --train; --text has names")
        label_names = read_label_names(args.label_names)
    with _cluster(args.scheduler) as client:
        if args.text is None:
            X, Y = _read_data(args.train, args.train_split, args.split_column, "training data")
        else:
            pipeline = make_text_pipeline(args.vectorizer, min_df=args.min_df, **params)
            docs, Y = read_text(args.text)
            X = pipeline[0].fit_transform(docs)
            model = pipeline[-1]
            logger.info("read %d documents from %s: %d features", len(docs), args.text, X.shape[1])
        logger.info("parameters: %s", json.dumps(params, sort_keys=True))
        start = time.perf_counter()
        with (
            Progress(
                "training", enabled=False if args.no_progress else None, unit="step"
            ) as progress,
            _backend(client),
        ):
            model.fit(X, Y, callback=progress)
        seconds = time.perf_counter() - start
    logger.info("training took %.2f s", seconds)
    if args.label_names is not None:
        model.set_label_names(label_names)
    if pipeline is None:
        model.save(args.model)
    else:
        save_pipeline(pipeline, args.model)
    status(
        f"trained on {X.shape[0]} points ({X.shape[1]} features, {model.n_labels_} labels) in "
        f"{seconds:.1f} s; model saved to {args.model}"
    )
    return 0


def partial_fit(args: argparse.Namespace) -> int:
    """Add the points of --train (an XC file) or --text (labelled documents) to a saved
    model, without retraining; write it to --out (default: the model file, replaced
    atomically)."""
    out = args.model if args.out is None else args.out
    _check_output("--out", out, train=args.train, text=args.text)
    start = time.perf_counter()
    if args.text is not None:
        pipeline = load_pipeline(args.model)
        docs, labels = read_text(args.text)
        partial_fit_pipeline(pipeline, docs, labels)
        model, n = pipeline[-1], len(docs)
        save_pipeline(pipeline, out)
    else:
        model = _load_model(args.model, "--train")
        X, Y = _read_data(args.train, None, 1, "new points")
        model.partial_fit(X, Y)
        n = X.shape[0]
        model.save(out)
    status(
        f"added {n} points ({model.train_labels_.shape[0]} in all, {model.n_labels_} labels) "
        f"in {time.perf_counter() - start:.1f} s; model saved to {out}"
    )
    return 0


def predict(args: argparse.Namespace) -> int:
    _check_output(
        "--out",
        args.out,
        model=args.model,
        test=args.test,
        text=args.text,
        test_split=args.test_split,
    )
    if args.text is not None:
        return _predict_text(args)
    model = _prediction_model(_load_model(args.model, "--test"), args)
    ids_of = _file_labels(model, args.names, args.model)  # fail before the work
    k = model.top_k if args.k is None else args.k
    with _cluster(args.scheduler) as client:
        X, _ = _read_data(args.test, args.test_split, args.split_column, "test data")
        start = time.perf_counter()
        if client is None:
            with _progress("predicting", args) as progress:
                ids, scores = model.predict_topk(
                    X, k, n_learners=args.n_learners, callback=progress
                )
        else:
            from ..distributed import predict_topk_distributed

            ids, scores = predict_topk_distributed(
                model,
                X,
                k,
                client=client,
                chunk_size=PREDICT_BATCH if args.chunk_size is None else args.chunk_size,
            )
        seconds = time.perf_counter() - start
    out_ids, out_names = ids_of(ids)
    write_predictions(args.out, out_ids, scores, out_names)
    per_point = 1000 * seconds / max(X.shape[0], 1)
    logger.info("prediction took %.2f s (%.3f ms per point)", seconds, per_point)
    status(
        f"wrote top-{k} predictions for {X.shape[0]} points to {args.out} "
        f"({per_point:.2f} ms per point)"
    )
    return 0


def _prediction_model(model: SLEEC, args: argparse.Namespace) -> SLEEC:
    """The model with the command's prediction threads (``--n-jobs``), checked early."""
    if getattr(args, "n_jobs", None) is not None:
        model.set_params(n_jobs=args.n_jobs)
        model.validated_params()
    if getattr(args, "n_learners", None) is not None and args.n_learners > len(model.learners_):
        raise ValueError(
            f"--n-learners {args.n_learners}: the model has {len(model.learners_)} learner(s)"
        )
    return model


def _progress(desc: str, args: argparse.Namespace) -> Progress:
    """A progress bar of points (shown on a terminal unless ``--no-progress``)."""
    return Progress(desc, enabled=False if args.no_progress else None, unit="point")


def _load_model(path: str, flag: str) -> SLEEC:
    """The model of ``--model``; a text pipeline's file given XC points (``flag``) is
    refused with the flag to use instead."""
    model = SLEEC.load(path)
    if model.state_.vectorizer is not None:
        raise ValueError(
            f"{path} holds a text model (a vectoriser and its model): give it documents with "
            f"--text FILE instead of {flag} (its features are the vectoriser's columns)"
        )
    return model


def _file_labels(model: SLEEC, names: bool, path: str):
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
    if names or (classes is not None and not _are_label_ids(classes)):
        return lambda ids: (ids, display)
    if classes is None:
        return lambda ids: (ids, None)
    return lambda ids: (np.where(ids >= 0, classes[np.maximum(ids, 0)], -1), None)


def _are_label_ids(classes: np.ndarray) -> bool:
    return classes.dtype.kind in "iu" and (
        classes.size == 0 or (classes.min() >= 0 and classes.max() <= MAX_LABEL_ID)
    )


def _predict_text(args: argparse.Namespace) -> int:
    if args.scheduler is not None:
        raise ValueError("--text predicts locally; --scheduler works with --test")
    pipeline = load_pipeline(args.model)
    _prediction_model(pipeline[-1], args)
    docs, _ = read_text(args.text, labels_required=False, keep_blank=True, layout=args.layout)
    start = time.perf_counter()
    # one output line per input line: a blank line is no document and gets no labels
    written = [i for i, doc in enumerate(docs) if doc.strip()]
    names: list[list] = [[] for _ in docs]
    scores: list[list[float]] = [[] for _ in docs]
    if written:
        with _progress("predicting", args) as progress:
            found_names, found_scores = predict_text(
                pipeline,
                [docs[i] for i in written],
                args.k,
                n_learners=args.n_learners,
                callback=progress,
            )
        for i, row_names, row_scores in zip(written, found_names, found_scores, strict=True):
            names[i], scores[i] = row_names, row_scores
    seconds = time.perf_counter() - start
    write_label_names(args.out, names, scores)
    blank = len(docs) - len(written)
    status(
        f"wrote the top-{pipeline[-1].top_k if args.k is None else args.k} labels of "
        f"{len(docs)} lines to {args.out}"
        + (f" ({blank} blank, without labels)" if blank else "")
        + f" ({1000 * seconds / max(len(written), 1):.2f} ms per document)"
    )
    return 0


def explain(args: argparse.Namespace) -> int:
    model, X, y = _model_and_points(args, labels_required=False)
    if not 0 <= args.row < X.shape[0]:
        raise ValueError(
            f"--row {args.row} is outside the {X.shape[0]} points of the test file "
            f"(0 to {X.shape[0] - 1})"
        )
    truth = y[args.row : args.row + 1]  # the file's labels of the row: hit / miss marks
    if isinstance(truth, list) and not truth[0]:
        truth = None  # documents without labels: nothing to mark
    (found,) = model.explain(X[args.row], args.k, y=truth)
    found = dataclasses.replace(found, row=args.row)
    if args.json:
        print(json.dumps(found.to_dict(), indent=2, allow_nan=False))
        return 0
    texts = None
    if args.train_text is not None:
        texts, _ = read_text(args.train_text)
        if len(texts) != model.train_labels_.shape[0]:
            raise ValueError(
                f"--train-text {args.train_text} holds {len(texts)} documents, but the model "
                f"was trained on {model.train_labels_.shape[0]}: give its training file"
            )
    print(format_explanation(found, args.max_votes, train_texts=texts))
    return 0


def _model_and_points(args: argparse.Namespace, labels_required: bool) -> tuple[Any, Any, Any]:
    """``(model, X, labels)``: the model of ``--model`` and the points of ``--test`` (an XC
    file) or ``--text`` (documents, through the vectoriser saved with the model)."""
    if args.text is not None:
        pipeline = load_pipeline(args.model)
        docs, labels = read_text(args.text, labels_required=labels_required)
        return _prediction_model(pipeline[-1], args), pipeline[0].transform(docs), labels
    model = _prediction_model(_load_model(args.model, "--test"), args)
    X, Y = _read_data(args.test, None, 1, "test data")
    return model, X, _in_model_space(model, Y, args)


def _in_model_space(model: SLEEC, Y: sp.csr_matrix, args: argparse.Namespace) -> Any:
    """The label ids ``Y`` of an XC file as true labels of ``model``: the matrix itself for
    a model of label ids, else label lists of the names the ids stand for (integer names
    are the ids; other names need ``--label-names``)."""
    classes = model.state_.classes
    if classes is None:
        return Y
    rows = np.split(Y.indices.astype(np.int64), Y.indptr[1:-1])
    if _are_label_ids(classes):
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


def report(args: argparse.Namespace) -> int:
    from ..report import write_report

    _check_output(
        "--out", args.out, model=args.model, test=args.test, text=args.text, compare=args.compare
    )
    numbers = _report_numbers(args)
    other = None
    if args.compare is not None:
        other = _report_numbers(argparse.Namespace(**{**vars(args), "model": args.compare}))
        if other.n_test != numbers.n_test:  # pragma: no cover - the same file, read twice
            raise ValueError("the two models saw different test points")
    name = args.text if args.text is not None else args.test
    versus = "" if other is None else f" vs {Path(args.compare).name}"
    figures = write_report(
        args.out,
        numbers,
        title=f"sleec report: {Path(args.model).name}{versus} on {Path(name).name}",
        figures_dir=args.figures,
        compare=other,
    )
    status(f"wrote {args.out} ({len(figures)} figures) for {numbers.n_test} test points")
    return 0


def _report_numbers(args: argparse.Namespace) -> Any:
    """The report's numbers of the model of ``args.model`` on the test points."""
    from ..report import evaluate_report

    model, X, y = _model_and_points(args, labels_required=True)
    with _progress(f"predicting ({Path(args.model).name})", args) as progress:
        return evaluate_report(
            model,
            X,
            y,
            k=model.top_k if args.k is None else args.k,
            A=args.A,
            B=args.B,
            callback=progress,
            name=Path(args.model).name,
            model_bytes=os.path.getsize(args.model),
        )


def evaluate(args: argparse.Namespace) -> int:
    label_names = None if args.label_names is None else read_label_names(args.label_names)
    truth = _read_labels(args.truth, args.truth_split, args.split_column, "ground truth")
    pred = read_prediction_file(args.pred, args.k)
    if pred.ids.shape[0] != truth.n:
        raise ValueError(
            f"{args.pred} has predictions for {pred.ids.shape[0]} points but "
            f"{args.truth} has {truth.n} points; they must be the same points "
            "in the same order"
        )
    space = _LabelSpace.for_evaluation(truth, pred, label_names, args)
    Y, ids = space.matrix(truth), space.ids(pred, args.pred, args.truth)
    if truth.kept is not None:  # blank lines of a text file are not documents
        Y, ids = Y[truth.kept], ids[truth.kept]
    k = min(args.k, max(Y.shape[1], 1))  # a point has at most that many labels to rank
    if k < args.k:
        logger.info("--k %d is more than the %d labels: reporting up to @%d", args.k, Y.shape[1], k)
    if ids.shape[1] < k:
        raise ValueError(
            f"{args.pred} holds at most {ids.shape[1]} prediction(s) per point, fewer than "
            f"--k {k}: ranks {ids.shape[1] + 1}..{k} would count as misses; evaluate with "
            f"--k {ids.shape[1]}, or predict with --k {k}"
        )
    inv_prop = None
    if args.train is not None:
        train = _read_labels(args.train, args.train_split, args.split_column, "training labels")
        Y_train = space.matrix(train)
        if train.kept is not None:
            Y_train = Y_train[train.kept]
        Y = _widen(Y, Y_train.shape[1])  # training-only labels are in neither prediction
        inv_prop = metrics.inverse_propensity(Y_train, args.A, args.B, n_labels=Y.shape[1])
    results = metrics.evaluate(Y, ids, k, inv_prop)
    names = ["P", "nDCG", "PSP", "PSnDCG"] + (["R", "coverage"] if args.all_metrics else [])
    results = {name: results[name] for name in names if name in results}
    ks = _report_ks(k)
    if args.json:
        print(json.dumps(_metrics_json(results, ks), indent=2))
    else:
        print(metrics.format_report(results, ks))
    return 0


@dataclasses.dataclass
class _Labels:
    """The true labels of a file: ``Y`` (n, L) for an XC file (label ids), ``names`` (n
    lists) for labelled text; ``kept`` the rows that are documents (text: not blank)."""

    path: str
    Y: sp.csr_matrix | None = None
    names: list[list[str]] | None = None
    kept: np.ndarray | None = None

    @property
    def n(self) -> int:
        return self.Y.shape[0] if self.Y is not None else len(self.names)


def _read_labels(path: str, split: str | None, column: int, what: str) -> _Labels:
    """The labels of an XC file or of a labelled text file (told apart by the header)."""
    if is_xc_file(path):
        return _Labels(path, Y=_read_data(path, split, column, what)[1])
    if split is not None:
        raise ValueError(f"{path} is labelled text, not an XC file: split files select XC rows")
    texts, names = read_text(path, keep_blank=True)
    kept = np.flatnonzero([bool(t) or bool(n) for t, n in zip(texts, names, strict=True)])
    return _Labels(path, names=names, kept=kept)


@dataclasses.dataclass
class _LabelSpace:
    """The labels that truth and predictions are compared in: label ids (``width`` columns
    at least, names mapped through ``index`` when ``--label-names`` gave it) or label names
    (``index`` grows with every name met, so unseen true labels are misses)."""

    by_name: bool
    index: dict[str, int] | None
    width: int

    @classmethod
    def for_evaluation(cls, truth: _Labels, pred, label_names, args) -> _LabelSpace:
        index = None if label_names is None else {n: j for j, n in enumerate(label_names)}
        if truth.Y is not None and pred.names is None:
            return cls(False, index, truth.Y.shape[1])
        if truth.Y is None and pred.names is not None:
            return cls(True, {str(n): j for j, n in enumerate(pred.names)}, 0)
        if index is None:
            pred_kind = "label names" if pred.names is not None else "label ids"
            truth_kind = "label ids (an XC file)" if truth.Y is not None else "label names"
            raise ValueError(
                f"{args.pred} holds {pred_kind} but {args.truth} holds {truth_kind}: "
                "give --label-names FILE (line i names label id i) to map one onto the other "
                "exactly"
            )
        width = len(index) if truth.Y is None else max(truth.Y.shape[1], len(index))
        return cls(False, index, width)

    def matrix(self, labels: _Labels) -> sp.csr_matrix:
        """The labels as a binary CSR in this space."""
        if labels.Y is not None:
            if self.by_name:
                raise ValueError(
                    f"{labels.path} holds label ids (an XC file) but the predictions label "
                    "names: give labelled text, or --label-names FILE"
                )
            return _widen(labels.Y, self.width)
        if not self.by_name and self.index is None:
            raise ValueError(
                f"{labels.path} holds label names but the predictions label ids: give an "
                "XC file, or --label-names FILE"
            )
        # names the index lacks are true labels no prediction can hit: new columns, misses
        index = dict(self.index)
        indptr, indices = [0], []
        for row in labels.names:
            indices.extend(sorted({index.setdefault(n, len(index)) for n in row}))
            indptr.append(len(indices))
        self.index = index  # later files (the training labels) share the new columns
        self.width = max(self.width, len(index))
        return sp.csr_matrix(
            (np.ones(len(indices), np.float32), np.asarray(indices, np.int64), indptr),
            shape=(len(labels.names), self.width),
        )

    def ids(self, pred, path: str, truth_path: str) -> np.ndarray:
        """The predicted labels as ids of this space's columns (-1 kept)."""
        if pred.names is None:
            if pred.ids.size and pred.ids.max() >= self.width:
                row = int(np.flatnonzero((pred.ids >= self.width).any(axis=1))[0])
                raise ValueError(
                    f"{path} predicts label id {int(pred.ids.max())} (first in row {row}), but "
                    f"{truth_path} has only {self.width} labels; were the predictions made "
                    "for another label set?"
                )
            return pred.ids
        if self.by_name:
            return pred.ids  # the space's first columns are the file's names, in order
        missing = [n for n in pred.names.tolist() if n not in self.index]
        if missing:
            raise ValueError(
                f"{path} predicts the label name {missing[0]!r}, which --label-names does "
                "not list: the predictions cannot be mapped onto label ids exactly"
            )
        to_id = np.array([self.index[n] for n in pred.names.tolist()], dtype=np.int64)
        return np.where(pred.ids >= 0, to_id[np.maximum(pred.ids, 0)], -1)


def _widen(M: sp.csr_matrix, width: int) -> sp.csr_matrix:
    if M.shape[1] >= width:
        return M
    return sp.csr_matrix((M.data, M.indices, M.indptr), shape=(M.shape[0], width))


def demo(args: argparse.Namespace) -> int:
    X_tr, Y_tr, X_te, Y_te = load_bibtex()
    model = SLEEC.from_preset(args.preset, random_state=0, n_jobs=args.n_jobs)
    model.validated_params()
    shown = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in PRESETS[args.preset].items()
    )
    print(
        f"SLEEC on Bibtex (bundled; {X_tr.shape[0]} training / {X_te.shape[0]} test points, "
        f"{X_tr.shape[1]} features, {Y_tr.shape[1]} labels)"
    )
    print(f"preset {args.preset!r}: {shown}, random_state=0", flush=True)
    start = time.perf_counter()
    with Progress("training", enabled=False if args.no_progress else None, unit="step") as progress:
        if not progress.enabled:
            status("training...")
        model.fit(X_tr, Y_tr, callback=progress)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    ids, _ = model.predict_topk(X_te, args.k)
    predict_ms = 1000 * (time.perf_counter() - start) / X_te.shape[0]
    inv_prop = metrics.inverse_propensity(Y_tr, PROPENSITY_A, PROPENSITY_B)
    results = metrics.evaluate(Y_te, ids, args.k, inv_prop)
    ks = _report_ks(args.k)

    sources = list(PUBLISHED_BIBTEX)
    header = f"{'metric':<9}{'this run':>10}" + "".join(f"{s:>10}" for s in sources)
    lines = ["", "percent; published = SLEEC (Bhatia et al. 2015)", header, "-" * len(header)]
    for name in ("P", "nDCG", "PSP"):
        for j in ks:
            row = f"{name + '@' + str(j):<9}{100 * results[name][j - 1]:>10.2f}"
            for s in sources:
                published = PUBLISHED_BIBTEX[s].get(name)
                pos = {1: 0, 3: 1, 5: 2}.get(j)
                cell = "-" if published is None or pos is None else f"{published[pos]:.2f}"
                row += f"{cell:>10}"
            lines.append(row)
    lines += [
        "",
        f"training: {train_s:.1f} s   prediction: {predict_ms:.2f} ms per point "
        f"({X_te.shape[0]} test points, top {args.k})",
        f"PSP: propensities from the training labels, A={PROPENSITY_A}, B={PROPENSITY_B}.",
    ]
    if args.preset != "bibtex":
        lines.append(f"note: the published numbers use the 'bibtex' preset, not {args.preset!r}.")
    print("\n".join(lines))
    return 0
