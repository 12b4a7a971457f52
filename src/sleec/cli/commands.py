"""The commands of the command line: ``train``, ``predict``, ``explain``, ``report``,
``evaluate`` and ``demo``.

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
    load_bibtex,
    read_predictions,
    read_text,
    read_xc,
    read_xc_rows,
    write_label_names,
    write_predictions,
)
from ..estimator import PREDICT_BATCH, SLEEC
from ..explain import format_explanation
from ..params import n_clusters_for
from ..presets import PRESETS
from ..text import load_pipeline, make_text_pipeline, predict_text, save_pipeline
from .parameters import resolve_params
from .progress import Progress, status

__all__ = [
    "PROPENSITY_A",
    "PROPENSITY_B",
    "demo",
    "evaluate",
    "explain",
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
_LARGE_FILE = 64 << 20


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
    """Files worth a progress bar while reading (>= 64 MB as stored)."""
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


def _expected_tasks(params: dict[str, Any], n_samples: int) -> int:
    """(learner, cluster) tasks that fit will run, for the progress bar (a hint: fit reports
    the true total, lower when clusters come out empty)."""
    return params["n_learners"] * n_clusters_for(params["n_clusters"], n_samples)


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
    checked = model.validated_params()  # bad values fail now, before reading the data
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
    )
    pipeline = None
    with _cluster(args.scheduler) as client:
        if args.text is None:
            X, Y = _read_data(args.train, args.train_split, args.split_column, "training data")
        else:
            pipeline = make_text_pipeline(args.vectorizer, **params)
            docs, Y = read_text(args.text)
            X = pipeline[0].fit_transform(docs)
            model = pipeline[-1]
            logger.info("read %d documents from %s: %d features", len(docs), args.text, X.shape[1])
        logger.info("parameters: %s", json.dumps(params, sort_keys=True))
        start = time.perf_counter()
        with (
            Progress(
                "training",
                enabled=False if args.no_progress else None,
                total=_expected_tasks(checked, X.shape[0]),
            ) as progress,
            _backend(client),
        ):
            model.fit(X, Y, callback=progress)
        seconds = time.perf_counter() - start
    logger.info("training took %.2f s", seconds)
    if pipeline is None:
        model.save(args.model)
    else:
        save_pipeline(pipeline, args.model)
    status(
        f"trained on {X.shape[0]} points ({X.shape[1]} features, {model.n_labels_} labels) in "
        f"{seconds:.1f} s; model saved to {args.model}"
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
    model = SLEEC.load(args.model)
    with _cluster(args.scheduler) as client:
        X, _ = _read_data(args.test, args.test_split, args.split_column, "test data")
        start = time.perf_counter()
        if client is None:
            ids, scores = model.predict_topk(X, args.k)
        else:
            from ..distributed import predict_topk_distributed

            ids, scores = predict_topk_distributed(
                model,
                X,
                args.k,
                client=client,
                chunk_size=PREDICT_BATCH if args.chunk_size is None else args.chunk_size,
            )
        seconds = time.perf_counter() - start
    write_predictions(args.out, ids, scores)
    per_point = 1000 * seconds / max(X.shape[0], 1)
    logger.info("prediction took %.2f s (%.3f ms per point)", seconds, per_point)
    status(
        f"wrote top-{args.k} predictions for {X.shape[0]} points to {args.out} "
        f"({per_point:.2f} ms per point)"
    )
    return 0


def _predict_text(args: argparse.Namespace) -> int:
    if args.scheduler is not None:
        raise ValueError("--text predicts locally; --scheduler works with --test")
    pipeline = load_pipeline(args.model)
    docs, _ = read_text(args.text, labels_required=False)
    start = time.perf_counter()
    names, scores = predict_text(pipeline, docs, args.k)
    seconds = time.perf_counter() - start
    write_label_names(args.out, names, scores)
    status(
        f"wrote the top-{args.k} labels of {len(docs)} documents to {args.out} "
        f"({1000 * seconds / max(len(docs), 1):.2f} ms per document)"
    )
    return 0


def explain(args: argparse.Namespace) -> int:
    model, X, _ = _model_and_points(args, labels_required=False)
    if not 0 <= args.row < X.shape[0]:
        raise ValueError(
            f"--row {args.row} is outside the {X.shape[0]} points of the test file "
            f"(0 to {X.shape[0] - 1})"
        )
    (found,) = model.explain(X[args.row], args.k)
    found = dataclasses.replace(found, row=args.row)
    if args.json:
        print(json.dumps(found.to_dict(), indent=2))
    else:
        print(format_explanation(found, args.max_votes))
    return 0


def _model_and_points(args: argparse.Namespace, labels_required: bool) -> tuple[Any, Any, Any]:
    """``(model, X, labels)``: the model of ``--model`` and the points of ``--test`` (an XC
    file) or ``--text`` (documents, through the vectoriser saved with the model)."""
    if args.text is not None:
        pipeline = load_pipeline(args.model)
        docs, labels = read_text(args.text, labels_required=labels_required)
        return pipeline[-1], pipeline[0].transform(docs), labels
    model = SLEEC.load(args.model)
    X, Y = _read_data(args.test, None, 1, "test data")
    return model, X, Y


def report(args: argparse.Namespace) -> int:
    from ..report import evaluate_report, write_report

    _check_output("--out", args.out, model=args.model, test=args.test, text=args.text)
    model, X, y = _model_and_points(args, labels_required=True)
    name = args.text if args.text is not None else args.test
    numbers = evaluate_report(model, X, y, k=args.k, A=args.A, B=args.B)
    figures = write_report(
        args.out,
        numbers,
        title=f"sleec report: {Path(args.model).name} on {Path(name).name}",
        figures_dir=args.figures,
    )
    status(f"wrote {args.out} ({len(figures)} figures) for {numbers.n_test} test points")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    _, Y = _read_data(args.truth, args.truth_split, args.split_column, "ground truth")
    k = min(args.k, max(Y.shape[1], 1))  # a point has at most that many labels to rank
    if k < args.k:
        logger.info("--k %d is more than the %d labels: reporting up to @%d", args.k, Y.shape[1], k)
    ids = read_predictions(args.pred, k)
    if ids.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{args.pred} has predictions for {ids.shape[0]} points but "
            f"{args.truth} has {Y.shape[0]} points; they must be the same points "
            "in the same order"
        )
    if ids.size and ids.max() >= Y.shape[1]:
        row = int(np.flatnonzero((ids >= Y.shape[1]).any(axis=1))[0])
        raise ValueError(
            f"{args.pred} predicts label id {int(ids.max())} (first in row "
            f"{row}), but {args.truth} has only {Y.shape[1]} labels; were the "
            "predictions made for another label set?"
        )
    inv_prop = None
    if args.train is not None:
        _, Y_train = _read_data(args.train, args.train_split, args.split_column, "training labels")
        if Y_train.shape[1] != Y.shape[1]:
            raise ValueError(
                f"{args.train} has {Y_train.shape[1]} labels but {args.truth} has "
                f"{Y.shape[1]}; propensities need the same label set"
            )
        inv_prop = metrics.inverse_propensity(Y_train, args.A, args.B)
    results = metrics.evaluate(Y, ids, k, inv_prop)
    names = ["P", "nDCG", "PSP", "PSnDCG"] + (["R", "coverage"] if args.all_metrics else [])
    results = {name: results[name] for name in names if name in results}
    ks = _report_ks(k)
    if args.json:
        print(json.dumps(_metrics_json(results, ks), indent=2))
    else:
        print(metrics.format_report(results, ks))
    return 0


def demo(args: argparse.Namespace) -> int:
    X_tr, Y_tr, X_te, Y_te = load_bibtex()
    model = SLEEC.from_preset(args.preset, random_state=0, n_jobs=args.n_jobs)
    params = model.validated_params()
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
    with Progress(
        "training",
        enabled=False if args.no_progress else None,
        total=_expected_tasks(params, X_tr.shape[0]),
    ) as progress:
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
    lines = ["", f"{header}   (percent; published = SLEEC, Bhatia et al. 2015)", "-" * len(header)]
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
