"""Command-line interface: ``sleec train | predict | evaluate | demo``.

Run ``sleec --help`` or ``sleec COMMAND --help``. Every estimator parameter of
:class:`~sleec.SLEEC` has a ``train`` flag (``n_components`` <-> ``--n-components``) generated
from the constructor's signature and docstring, so the flags never drift from the estimator.

Expected errors (missing or malformed files, bad parameter values, ...) are reported as one
line ``sleec: error: <message>`` on stderr with exit status 1 (130 when interrupted); the
global ``--debug`` flag shows the traceback instead. Usage errors exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import __version__
from ._atomic import atomic_write
from ._cli_params import (
    _param_specs,
    _parse_float,
    _parse_int,
    _parse_positive_int,
    resolve_params,
)
from ._progress import PROG, _configure_logging, _Progress, _status
from .estimator import SLEEC
from .exceptions import DataFormatError, ModelFormatError
from .presets import PRESETS

__all__ = ["main"]

logger = logging.getLogger(__name__)

# Published SLEEC results on Bibtex (percent, @1/@3/@5).
PUBLISHED_BIBTEX = {
    "XC repo": {"P": (65.08, 39.64, 28.87), "PSP": (51.12, 53.95, 59.56)},
    "paper": {"P": (65.57, 40.02, 29.30)},
}
_PROPENSITY_A, _PROPENSITY_B = 0.55, 1.5
_LARGE_FILE = 64 << 20
_SCHEDULER_HELP = ("address of a running Dask scheduler, e.g. tcp://host:8786 (needs the dask "
                   "extra: pip install 'sleec[dask]')")


# --------------------------------------------------------------------------------------------
# files


def _read_data(path: str, split: str | None = None, column: int = 1,
               what: str = "data") -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(X, Y)`` of an XC file, restricted to the rows of a split file when one is given."""
    from .datasets import read_xc, read_xc_rows

    start = time.perf_counter()
    with _Progress(f"reading {Path(path).name}", unit="byte",
                   enabled=None if _is_large(path) else False) as progress:
        X, Y = (read_xc(path, progress=progress) if split is None
                else read_xc_rows(path, split, column, progress=progress))
    logger.info("read %s %s%s: %d points, %d features, %d labels in %.1f s", what, path,
                "" if split is None else f" (rows of {split}, column {column})", X.shape[0],
                X.shape[1], Y.shape[1], time.perf_counter() - start)
    return X, Y


def _is_large(path: str) -> bool:
    """Files worth a progress bar while reading (>= 64 MB as stored)."""
    try:
        return os.path.getsize(path) >= _LARGE_FILE
    except OSError:
        return False


def _check_output_path(path: str) -> None:
    """Fail before the work, not after it: the output's directory must exist and be writable."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", path)
    parent = target.parent
    if not parent.is_dir():
        raise FileNotFoundError(2, "No such directory for the output file", path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(13, "Permission denied (cannot write in the directory)", path)


def write_predictions(path: str, ids: np.ndarray, scores: np.ndarray) -> None:
    """Write top-k predictions atomically: ``.npz`` (``ids``, ``scores``) or text lines.

    Text: one line per point, ``id:score id:score ...`` best first, padding (-1) skipped.
    """
    ids = np.asarray(ids, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float32)
    if str(path).lower().endswith(".npz"):
        with atomic_write(path, "wb") as fh:
            np.savez(fh, allow_pickle=False, ids=ids, scores=scores)
        return
    valid = ids >= 0
    uniq, inv = np.unique(scores[valid], return_inverse=True)
    text = [str(s) for s in uniq]  # shortest text that round-trips the float32 value
    pairs = [f"{i}:{text[j]}" for i, j in zip(ids[valid].tolist(), inv.ravel().tolist(),
                                              strict=True)]
    counts = valid.sum(axis=1)
    with atomic_write(path, "w") as fh:
        pos = 0
        for c in counts.tolist():
            fh.write(" ".join(pairs[pos:pos + c]) + "\n")
            pos += c


def read_predictions(path: str) -> np.ndarray:
    """Ranked label ids (n, k) int64, padded with -1, from a file written by ``predict``."""
    if str(path).lower().endswith(".npz"):
        return _read_predictions_npz(path)
    rows: list[list[int]] = []
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataFormatError("not a text file; expected lines 'id:score id:score ...'",
                                      path=path, line=lineno) from None
            row = []
            for token in line.split():
                label, sep, score = token.partition(":")
                try:
                    if not sep:
                        raise ValueError
                    row.append(int(label))
                    float(score)
                except ValueError:
                    raise DataFormatError(f"bad prediction {token[:40]!r}; expected "
                                          "'label_id:score'", path=path, line=lineno) from None
                if row[-1] < 0:
                    raise DataFormatError(f"negative label id {row[-1]}; expected ids >= 0",
                                          path=path, line=lineno)
            rows.append(row)
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), max(width, 1)), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
    return ids


def _read_predictions_npz(path: str) -> np.ndarray:
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as npz:
            if "ids" not in npz.files:
                raise DataFormatError(f"no 'ids' array (found {sorted(npz.files)}); expected a "
                                      "file written by 'sleec predict'", path=path)
            ids = npz["ids"]
    except (zipfile.BadZipFile, EOFError) as exc:
        raise DataFormatError(f"not a readable .npz file ({exc})", path=path) from None
    except ValueError as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"not a readable .npz file ({exc})", path=path) from None
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise DataFormatError(f"'ids' is a {ids.dtype} array of shape {ids.shape}; expected "
                              "a 2-D integer array (n_points, k)", path=path)
    return ids.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------------
# commands


def _report_ks(k: int) -> list[int]:
    return sorted({j for j in (1, 3, 5) if j <= k} | {k})


def _metrics_json(results: dict[str, np.ndarray], ks: Sequence[int]) -> dict[str, float]:
    return {f"{name}@{j}": round(float(values[j - 1]), 6)
            for name, values in results.items() for j in ks}


def _expected_tasks(model: SLEEC, n_samples: int) -> int | None:
    """(learner, cluster) tasks that fit will run, for the progress bar (None if unknown)."""
    try:
        return int(model.n_learners) * int(model._n_clusters(n_samples))
    except Exception:  # only a display hint: fit reports the true total
        return None


@contextlib.contextmanager
def _cluster(address: str | None) -> Iterator[Any]:
    """A Dask client of the scheduler at ``address`` for the command's duration (None: none)."""
    if address is None:
        yield None
        return
    from .distributed import connect

    with connect(address) as client:
        logger.info("connected to the Dask scheduler at %s (%d workers, %d threads)", address,
                    len(client.nthreads()), sum(client.nthreads().values()))
        yield client


def _backend(client: Any) -> contextlib.AbstractContextManager:
    """joblib's Dask backend on ``client`` (fit's tasks run on its workers); else nothing."""
    if client is None:
        return contextlib.nullcontext()
    import joblib

    return joblib.parallel_config(backend="dask", client=client)


def _cmd_train(args: argparse.Namespace) -> int:
    flags = {spec["name"]: getattr(args, spec["name"]) for spec in _param_specs()}
    params = resolve_params(args.preset, args.params, flags)
    model = SLEEC(**params)
    model._check_params()  # bad values fail now, before reading the data
    if args.print_params:
        print(json.dumps(params, indent=2))
        return 0
    _check_output_path(args.model)
    with _cluster(args.scheduler) as client:
        X, Y = _read_data(args.train, args.train_split, args.split_column, "training data")
        logger.info("parameters: %s", json.dumps(params, sort_keys=True))
        start = time.perf_counter()
        with _Progress("training", enabled=False if args.no_progress else None,
                       total=_expected_tasks(model, X.shape[0])) as progress, \
                _backend(client):
            model.fit(X, Y, callback=progress)
        seconds = time.perf_counter() - start
    logger.info("training took %.2f s", seconds)
    model.save(args.model)
    _status(f"trained on {X.shape[0]} points ({X.shape[1]} features, {Y.shape[1]} labels) in "
            f"{seconds:.1f} s; model saved to {args.model}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    _check_output_path(args.out)
    model = SLEEC.load(args.model)
    with _cluster(args.scheduler) as client:
        X, _ = _read_data(args.test, args.test_split, args.split_column, "test data")
        start = time.perf_counter()
        if client is None:
            ids, scores = model.predict_topk(X, args.k)
        else:
            from .distributed import PREDICT_CHUNK, predict_topk_distributed

            ids, scores = predict_topk_distributed(
                model, X, args.k, client=client,
                chunk_size=PREDICT_CHUNK if args.chunk_size is None else args.chunk_size)
        seconds = time.perf_counter() - start
    write_predictions(args.out, ids, scores)
    per_point = 1000 * seconds / max(X.shape[0], 1)
    logger.info("prediction took %.2f s (%.3f ms per point)", seconds, per_point)
    _status(f"wrote top-{args.k} predictions for {X.shape[0]} points to {args.out} "
            f"({per_point:.2f} ms per point)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .metrics import evaluate, format_report, inverse_propensity

    ids = read_predictions(args.pred)
    _, Y = _read_data(args.truth, args.truth_split, args.split_column, "ground truth")
    if ids.shape[0] != Y.shape[0]:
        raise ValueError(f"{args.pred} has predictions for {ids.shape[0]} points but "
                         f"{args.truth} has {Y.shape[0]} points; they must be the same points "
                         "in the same order")
    if ids.size and ids.max() >= Y.shape[1]:
        row = int(np.flatnonzero((ids >= Y.shape[1]).any(axis=1))[0])
        raise ValueError(f"{args.pred} predicts label id {int(ids.max())} (first in row "
                         f"{row}), but {args.truth} has only {Y.shape[1]} labels; were the "
                         "predictions made for another label set?")
    inv_prop = None
    if args.train is not None:
        _, Y_train = _read_data(args.train, args.train_split, args.split_column,
                                "training labels")
        if Y_train.shape[1] != Y.shape[1]:
            raise ValueError(f"{args.train} has {Y_train.shape[1]} labels but {args.truth} has "
                             f"{Y.shape[1]}; propensities need the same label set")
        inv_prop = inverse_propensity(Y_train, args.A, args.B)
    results = evaluate(Y, ids, args.k, inv_prop)
    names = ["P", "nDCG", "PSP", "PSnDCG"] + (["R", "coverage"] if args.all_metrics else [])
    results = {name: results[name] for name in names if name in results}
    ks = _report_ks(args.k)
    if args.json:
        print(json.dumps(_metrics_json(results, ks), indent=2))
    else:
        print(format_report(results, ks))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .datasets import load_bibtex
    from .metrics import evaluate, inverse_propensity

    X_tr, Y_tr, X_te, Y_te = load_bibtex()
    params = {**SLEEC.from_preset(args.preset).get_params(), "random_state": 0,
              "n_jobs": args.n_jobs}
    model = SLEEC(**params)
    shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in PRESETS[args.preset].items())
    print(f"SLEEC on Bibtex (bundled; {X_tr.shape[0]} training / {X_te.shape[0]} test points, "
          f"{X_tr.shape[1]} features, {Y_tr.shape[1]} labels)")
    print(f"preset {args.preset!r}: {shown}, random_state=0", flush=True)
    start = time.perf_counter()
    with _Progress("training", enabled=False if args.no_progress else None,
                   total=_expected_tasks(model, X_tr.shape[0])) as progress:
        if not progress.enabled:
            _status("training...")
        model.fit(X_tr, Y_tr, callback=progress)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    ids, _ = model.predict_topk(X_te, args.k)
    predict_ms = 1000 * (time.perf_counter() - start) / X_te.shape[0]
    inv_prop = inverse_propensity(Y_tr, _PROPENSITY_A, _PROPENSITY_B)
    results = evaluate(Y_te, ids, args.k, inv_prop)
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
    lines += ["",
              f"training: {train_s:.1f} s   prediction: {predict_ms:.2f} ms per point "
              f"({X_te.shape[0]} test points, top {args.k})",
              f"PSP: propensities from the training labels, A={_PROPENSITY_A}, "
              f"B={_PROPENSITY_B}."]
    if args.preset != "bibtex":
        lines.append(f"note: the published numbers use the 'bibtex' preset, not "
                     f"{args.preset!r}.")
    print("\n".join(lines))
    return 0


# --------------------------------------------------------------------------------------------
# parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation tools and tests)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="SLEEC: Sparse Local Embeddings for Extreme multi-label Classification "
                    "(Bhatia et al., NIPS 2015).",
        epilog="Data files use the Extreme Classification Repository text format (header "
               "'N D L', then 'l1,l2,... f:v f:v ...'; plain, .xz, .gz or .bz2). Quick start: "
               "'sleec demo'. Run 'sleec COMMAND --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback on errors instead of a one-line message")
    parser.add_argument("-v", "--verbose", action="count", default=0, dest="verbose_global",
                        help="log progress details to stderr (-v: info, -vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="log details to stderr (-v: info, -vv: debug)")

    # train -----------------------------------------------------------------------------------
    train = sub.add_parser(
        "train", parents=[common], help="fit a model on an XC data file and save it",
        description="Fit SLEEC on a training file and save the model (.npz, no pickle). "
                    "Parameter precedence: estimator defaults < --preset < --params JSON < "
                    "explicit flags.",
        epilog="example: sleec train --train train.txt --model model.npz --preset eurlex-4k "
               "--n-jobs 4")
    io = train.add_argument_group("input and output")
    io.add_argument("--train", metavar="FILE", help="training data (XC text format)")
    io.add_argument("--model", metavar="OUT", help="where to write the model")
    io.add_argument("--train-split", metavar="FILE",
                    help="use only the rows listed in this split file (1-based row numbers, "
                         "one column per split; the XC repository's single-file layout)")
    io.add_argument("--split-column", metavar="N", type=_parse_positive_int, default=1,
                    help="column of the split file to use (default: 1)")
    cfg = train.add_argument_group("configuration")
    cfg.add_argument("--preset", type=str.lower, choices=sorted(PRESETS), metavar="NAME",
                     help="start from the authors' settings for a dataset: "
                          + ", ".join(sorted(PRESETS)))
    cfg.add_argument("--params", metavar="JSON",
                     help="JSON file with an object of parameters (e.g. written by "
                          "--print-params)")
    cfg.add_argument("--print-params", action="store_true",
                     help="print the resolved parameters as JSON and exit")
    cfg.add_argument("--no-progress", action="store_true",
                     help="no progress bar (shown by default when stderr is a terminal)")
    cfg.add_argument("--scheduler", metavar="ADDRESS", help=_SCHEDULER_HELP
                     + "; the (learner, cluster) tasks run on its workers, --n-jobs is unused")
    est = train.add_argument_group(
        "estimator parameters", "Unset flags keep the value of --params, else of --preset, "
                                "else the estimator's default (shown).")
    for spec in _param_specs():
        est.add_argument(spec["flag"], dest=spec["name"], type=spec["parse"], default=None,
                         metavar=None if spec["choices"] else spec["metavar"],
                         choices=spec["choices"], help=spec["help"])
    train.set_defaults(handler=_cmd_train, parser=train)

    # predict ---------------------------------------------------------------------------------
    predict = sub.add_parser(
        "predict", parents=[common], help="write the top-k labels of each test point",
        description="Predict the top-k labels of every point of a test file. The output "
                    "format follows the extension: .npz (arrays 'ids' int32 (n, k), padded "
                    "with -1, and 'scores' float32) or text (one line per point, 'id:score "
                    "id:score ...', best first).",
        epilog="example: sleec predict --model model.npz --test test.txt --k 5 --out pred.txt")
    predict.add_argument("--model", metavar="FILE", required=True, help="model from 'train'")
    predict.add_argument("--test", metavar="FILE", required=True,
                         help="test data (XC text format; labels are ignored)")
    predict.add_argument("--out", metavar="FILE", required=True,
                         help="output file (.npz, else text)")
    predict.add_argument("--k", type=_parse_positive_int, default=5,
                         help="labels per point (default: 5)")
    predict.add_argument("--test-split", metavar="FILE",
                         help="use only the rows listed in this split file")
    predict.add_argument("--split-column", metavar="N", type=_parse_positive_int, default=1,
                         help="column of the split file to use (default: 1)")
    predict.add_argument("--scheduler", metavar="ADDRESS", help=_SCHEDULER_HELP
                         + "; the test points are predicted on its workers in chunks")
    predict.add_argument("--chunk-size", metavar="N", type=_parse_positive_int, default=None,
                         help="test points per task with --scheduler (default: 16384)")
    predict.set_defaults(handler=_cmd_predict, parser=predict)

    # evaluate --------------------------------------------------------------------------------
    evaluate = sub.add_parser(
        "evaluate", parents=[common], help="score predictions against the true labels",
        description="Precision@k and nDCG@k (in percent) of a prediction file against the "
                    "labels of an XC file; with --train also the propensity-scored PSP@k and "
                    "PSnDCG@k (Jain et al., 2016). Labels are ranked in file order.",
        epilog="example: sleec evaluate --truth test.txt --pred pred.txt --train train.txt")
    evaluate.add_argument("--truth", metavar="FILE", required=True,
                          help="XC file with the true labels (its features are ignored)")
    evaluate.add_argument("--pred", metavar="FILE", required=True,
                          help="predictions written by 'sleec predict' (.npz or text)")
    evaluate.add_argument("--train", metavar="FILE",
                          help="training data: its labels give the propensities for PSP/PSnDCG")
    evaluate.add_argument("--k", type=_parse_positive_int, default=5,
                          help="largest cut-off; reports @1, @3, @5 up to k, and @k "
                               "(default: 5)")
    evaluate.add_argument("--json", action="store_true",
                          help='print a JSON object ({"P@1": 0.651234, ...}, fractions)')
    evaluate.add_argument("--all-metrics", action="store_true",
                          help="also report recall (R) and label coverage")
    evaluate.add_argument("--A", dest="A", type=_parse_float, default=_PROPENSITY_A,
                          help=f"propensity parameter A (default: {_PROPENSITY_A}; "
                               "Wikipedia 0.5, Amazon 0.6)")
    evaluate.add_argument("--B", dest="B", type=_parse_float, default=_PROPENSITY_B,
                          help=f"propensity parameter B (default: {_PROPENSITY_B}; "
                               "Wikipedia 0.4, Amazon 2.6)")
    evaluate.add_argument("--truth-split", metavar="FILE",
                          help="use only these rows of --truth (split file)")
    evaluate.add_argument("--train-split", metavar="FILE",
                          help="use only these rows of --train (split file)")
    evaluate.add_argument("--split-column", metavar="N", type=_parse_positive_int, default=1,
                          help="column of the split files to use (default: 1)")
    evaluate.set_defaults(handler=_cmd_evaluate, parser=evaluate)

    # demo ------------------------------------------------------------------------------------
    demo = sub.add_parser(
        "demo", parents=[common], help="train and evaluate on the bundled Bibtex data set",
        description="Train SLEEC on the bundled Bibtex data set (preset 'bibtex', "
                    "random_state=0), evaluate it on the test part and compare with the "
                    "published SLEEC numbers.")
    demo.add_argument("--k", type=_parse_positive_int, default=5,
                      help="largest cut-off (default: 5)")
    demo.add_argument("--n-jobs", type=_parse_int, default=None, metavar="N",
                      help="parallel training tasks (default: 1; -1: all cores)")
    demo.add_argument("--preset", type=str.lower, choices=sorted(PRESETS), default="bibtex",
                      metavar="NAME", help="parameter preset (default: bibtex)")
    demo.add_argument("--no-progress", action="store_true",
                      help="no progress bar (shown by default when stderr is a terminal)")
    demo.set_defaults(handler=_cmd_demo, parser=demo)
    return parser


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.strerror}: '{exc.filename}'"
    elif isinstance(exc, MemoryError):
        message = f"out of memory{f' ({exc})' if str(exc) else ''}"
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split())  # one line


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error, 2 usage, 130 interrupted)."""
    from sklearn.exceptions import NotFittedError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command == "train" and not args.print_params:
        missing = [flag for flag, value in (("--train", args.train), ("--model", args.model))
                   if value is None]
        if missing:
            try:
                args.parser.error(f"the following arguments are required: {', '.join(missing)}")
            except SystemExit as exc:
                return int(exc.code)
    if args.command == "predict" and args.chunk_size is not None and args.scheduler is None:
        try:
            args.parser.error("--chunk-size needs --scheduler (local prediction works in "
                              "batches by itself)")
        except SystemExit as exc:
            return int(exc.code)
    # ImportError: --scheduler without the dask extra (the message says what to install).
    expected = (OSError, DataFormatError, ModelFormatError, ValueError, TypeError,
                NotFittedError, MemoryError, ImportError)
    with _configure_logging(args.verbose_global + args.verbose):
        try:
            return args.handler(args)
        except KeyboardInterrupt:
            if args.debug:
                raise
            print(f"{PROG}: error: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `sleec evaluate ... | head -1`
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return 1
        except expected as exc:
            if args.debug:
                raise
            print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
