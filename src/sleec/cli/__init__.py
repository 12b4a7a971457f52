"""Command-line interface: ``sleec train | partial-fit | predict | explain | report | evaluate
| demo``.

Run ``sleec --help`` or ``sleec COMMAND --help``. Every estimator parameter of
:class:`~sleec.SLEEC` has a ``train`` flag (``n_components`` <-> ``--n-components``) derived
from the parameter table of :mod:`sleec.params`, so the flags never drift from the estimator.
This package: the parser and :func:`main` here, the commands in :mod:`.commands`, the
parameter flags in :mod:`.parameters`, progress and logging in :mod:`.progress`.

Expected errors (missing or malformed files, bad parameter values, ...) are reported as one
line ``sleec: error: <message>`` on stderr with exit status 1 (130 on Ctrl-C, 143 on
SIGTERM; a file being written is cleaned up in both cases); the global ``--debug`` flag shows
the traceback instead. Usage errors (an unknown option, a missing or malformed argument) are
one line too, naming the command's ``--help``, with status 1. Running out of memory is one
line "out of memory (...)" whatever raised it (see :mod:`sleec._memory`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from .. import __version__
from .._memory import address_space_headroom, out_of_memory
from ..exceptions import DataFormatError, ModelFormatError
from ..presets import PRESETS
from ..text import VECTORIZERS
from . import commands
from .parameters import add_parameter_flags, parse_float, parse_int, parse_positive_int
from .progress import PROG, configure_logging

__all__ = ["build_parser", "main"]

_SCHEDULER_HELP = (
    "address of a running Dask scheduler, e.g. tcp://host:8786 (needs Dask's distributed: "
    "pip install distributed, or pip install '.[dask]' in a clone of sleec)"
)


class UsageError(Exception):
    """A command line that does not parse (raised by the parsers instead of exiting)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised as one line instead of a usage block + exit 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation tools and tests)."""
    parser = _Parser(
        prog=PROG,
        description="SLEEC: Sparse Local Embeddings for Extreme multi-label Classification "
        "(Bhatia et al., NIPS 2015).",
        epilog="Data files use the Extreme Classification Repository text format (header "
        "'N D L', then 'l1,l2,... f:v f:v ...'; plain, .xz, .gz or .bz2). Quick start: "
        "'sleec demo'. Run 'sleec COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback on errors instead of a one-line message",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        dest="verbose_global",
        help="log progress details to stderr (-v: info, -vv: debug)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    common = _Parser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log details to stderr (-v: info, -vv: debug)",
    )

    # options of every command that predicts with a saved model
    predicting = _Parser(add_help=False)
    predicting.add_argument(
        "--n-jobs",
        type=parse_int,
        default=None,
        metavar="N",
        help="threads of prediction's kernels (default: every core; -1: every core)",
    )
    predicting.add_argument(
        "--n-learners",
        type=parse_positive_int,
        default=None,
        metavar="N",
        help="consult only the first N learners of the ensemble: faster, usually less "
        "accurate (default: all)",
    )
    predicting.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (shown by default when stderr is a terminal)",
    )

    # train -----------------------------------------------------------------------------------
    train = sub.add_parser(
        "train",
        parents=[common],
        help="fit a model on an XC data file and save it",
        description="Fit SLEEC on a training file and save the model (.npz, no pickle). "
        "Parameter precedence: estimator defaults < --preset < --params JSON < "
        "explicit flags.",
        epilog="example: sleec train --train train.txt --model model.npz --preset eurlex-4k "
        "--n-jobs 4",
    )
    io = train.add_argument_group("input and output")
    data = io.add_mutually_exclusive_group()
    data.add_argument("--train", metavar="FILE", help="training data (XC text format)")
    data.add_argument(
        "--text",
        metavar="FILE",
        help="training documents, one a line: 'label1,label2<TAB>text' or fastText's "
        "'__label__a __label__b text'; the model file then holds the vectoriser too",
    )
    io.add_argument(
        "--vectorizer",
        choices=VECTORIZERS,
        default="tfidf",
        help="with --text: tfidf (sublinear tf, words in >= 2 documents) or hashing (2**20 "
        "columns, for huge vocabularies) (default: tfidf)",
    )
    io.add_argument(
        "--min-df",
        metavar="N",
        type=parse_positive_int,
        default=2,
        help="with --text --vectorizer tfidf: keep the words of at least N documents (default: 2)",
    )
    io.add_argument("--model", metavar="OUT", help="where to write the model")
    io.add_argument(
        "--label-names",
        metavar="FILE",
        help="with --train: the labels' names, one a line (line i names label id i, as "
        "WordNet's labels.txt); explain, report and 'predict --names' show them",
    )
    io.add_argument(
        "--train-split",
        metavar="FILE",
        help="use only the rows listed in this split file (1-based row numbers, "
        "one column per split; the XC repository's single-file layout)",
    )
    io.add_argument(
        "--split-column",
        metavar="N",
        type=parse_positive_int,
        default=1,
        help="column of the split file to use (default: 1)",
    )
    cfg = train.add_argument_group("configuration")
    cfg.add_argument(
        "--preset",
        type=str.lower,
        choices=sorted(PRESETS),
        metavar="NAME",
        help="start from the authors' settings for a dataset: " + ", ".join(sorted(PRESETS)),
    )
    cfg.add_argument(
        "--params",
        metavar="JSON",
        help="JSON file with an object of parameters (e.g. written by --print-params)",
    )
    cfg.add_argument(
        "--print-params", action="store_true", help="print the resolved parameters as JSON and exit"
    )
    cfg.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (shown by default when stderr is a terminal)",
    )
    cfg.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=_SCHEDULER_HELP
        + "; the (learner, cluster) tasks run on its workers, --n-jobs is unused",
    )
    est = train.add_argument_group(
        "estimator parameters",
        "Unset flags keep the value of --params, else of --preset, "
        "else the estimator's default (shown).",
    )
    add_parameter_flags(est)
    train.set_defaults(handler=commands.train, parser=train)

    # partial-fit -----------------------------------------------------------------------------
    grow = sub.add_parser(
        "partial-fit",
        parents=[common],
        help="add training points (and labels) to a saved model, without retraining",
        description="Route new points to their clusters, embed them with the existing "
        "regressors and add them (and labels the model has not seen) to the voters; SVP and "
        "the regressors are not refitted. Refit once the added points are a sizable share "
        "of the training set.",
        epilog="example: sleec partial-fit --model model.npz --train new.txt --out grown.npz",
    )
    grow.add_argument("--model", metavar="FILE", required=True, help="model from 'train'")
    new_points = grow.add_mutually_exclusive_group(required=True)
    new_points.add_argument("--train", metavar="FILE", help="new points (XC text format)")
    new_points.add_argument(
        "--text", metavar="FILE", help="new labelled documents (a model trained with --text)"
    )
    grow.add_argument(
        "--out", metavar="FILE", help="where to write the grown model (default: --model)"
    )
    grow.set_defaults(handler=commands.partial_fit, parser=grow)

    # predict ---------------------------------------------------------------------------------
    predict = sub.add_parser(
        "predict",
        parents=[common, predicting],
        help="write the top-k labels of each test point",
        description="Predict the top-k labels of every point of a test file. The output "
        "format follows the extension: .npz (arrays 'ids' int32 (n, k), padded "
        "with -1, and 'scores' float32) or text (one line per point, 'id:score "
        "id:score ...', best first).",
        epilog="example: sleec predict --model model.npz --test test.txt --k 5 --out pred.txt",
    )
    predict.add_argument("--model", metavar="FILE", required=True, help="model from 'train'")
    test = predict.add_mutually_exclusive_group(required=True)
    test.add_argument(
        "--test",
        metavar="FILE",
        help="test data (XC text format; labels are ignored)",
    )
    test.add_argument(
        "--text",
        metavar="FILE",
        help="documents, one a line (a model trained with --text): plain text, or with "
        "labels as in training (ignored); writes one 'name1,name2<TAB>score1,score2' line "
        "per input line (an empty one for a blank line)",
    )
    predict.add_argument(
        "--layout",
        choices=("auto", "tsv", "fasttext", "plain"),
        default="auto",
        help="with --text: how lines split into labels and text. auto: labelled TSV when "
        "every non-blank line holds a TAB (labels before the first TAB are ignored), "
        "fastText when the first starts with __label__, else plain (the whole line is the "
        "text, TABs included) (default: auto)",
    )
    predict.add_argument(
        "--out", metavar="FILE", required=True, help="output file (.npz, else text)"
    )
    predict.add_argument(
        "--names",
        action="store_true",
        help="write label names ('name1,name2<TAB>score1,score2' lines) instead of label "
        "ids; a model fitted on label names always writes names",
    )
    predict.add_argument(
        "--k",
        type=parse_positive_int,
        default=None,
        help="labels per point (default: the model's top_k, 5 unless trained otherwise)",
    )
    predict.add_argument(
        "--test-split", metavar="FILE", help="use only the rows listed in this split file"
    )
    predict.add_argument(
        "--split-column",
        metavar="N",
        type=parse_positive_int,
        default=1,
        help="column of the split file to use (default: 1)",
    )
    predict.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=_SCHEDULER_HELP + "; the test points are predicted on its workers in chunks",
    )
    predict.add_argument(
        "--chunk-size",
        metavar="N",
        type=parse_positive_int,
        default=None,
        help="test points per task with --scheduler (default: 16384)",
    )
    predict.set_defaults(handler=commands.predict, parser=predict)

    # explain ----------------------------------------------------------------------------------
    explain = sub.add_parser(
        "explain",
        parents=[common, predicting],
        help="show which training points voted for a test point's labels",
        description="For one test point and each of its top-k labels: the training points "
        "that voted for the label (training row, the learners that found it, distances in "
        "their embedding spaces, weight, share of the score); labels with the very same "
        "votes share one block; hit / miss marks and the true labels missed when the test "
        "file has labels. The scores are the ones 'predict' gives.",
        epilog="example: sleec explain --model model.npz --test test.txt --row 17 --k 5",
    )
    explain.add_argument("--model", metavar="FILE", required=True, help="model from 'train'")
    points = explain.add_mutually_exclusive_group(required=True)
    points.add_argument("--test", metavar="FILE", help="test data (XC text format)")
    points.add_argument("--text", metavar="FILE", help="documents (a model trained with --text)")
    explain.add_argument(
        "--row",
        metavar="N",
        type=parse_int,
        required=True,
        help="0-based row (point, or document) of the test file to explain",
    )
    explain.add_argument(
        "--k",
        type=parse_positive_int,
        default=None,
        help="labels to explain (default: the model's top_k)",
    )
    explain.add_argument(
        "--max-votes",
        metavar="N",
        type=parse_positive_int,
        default=10,
        help="votes shown per label in the text output (default: 10)",
    )
    explain.add_argument(
        "--json", action="store_true", help="print every vote as JSON instead of text"
    )
    explain.add_argument(
        "--train-text",
        metavar="FILE",
        help="the training documents of a text model (its --text file): show the start of "
        "each voter's text",
    )
    explain.add_argument(
        "--label-names",
        metavar="FILE",
        help="names of the test file's label ids, one a line, for a model fitted on label names",
    )
    explain.set_defaults(handler=commands.explain, parser=explain)

    # report -----------------------------------------------------------------------------------
    report = sub.add_parser(
        "report",
        parents=[common, predicting],
        help="write an HTML report (metrics, head to tail, figures) of a model on a test set",
        description="Evaluate a model on a test file and write a self-contained HTML page: "
        "P@k, nDCG@k, PSP@k (propensities from the model's training labels), accuracy and "
        "predictions by label-frequency bucket, a per-label table (the most frequent, the "
        "worst head and the worst tail labels), the score distribution and the cluster "
        "sizes, with PNG figures embedded (needs matplotlib: pip install matplotlib); "
        "--compare puts a second model beside the first.",
        epilog="example: sleec report --model model.npz --test test.txt --out report.html",
    )
    report.add_argument("--model", metavar="FILE", required=True, help="model from 'train'")
    data = report.add_mutually_exclusive_group(required=True)
    data.add_argument("--test", metavar="FILE", help="test data with labels (XC text format)")
    data.add_argument(
        "--text", metavar="FILE", help="labelled documents (a model trained with --text)"
    )
    report.add_argument("--out", metavar="FILE", required=True, help="the HTML page to write")
    report.add_argument("--figures", metavar="DIR", help="also write the figures as PNG files")
    report.add_argument(
        "--compare",
        metavar="FILE",
        help="a second model, evaluated on the same test points and shown side by side",
    )
    report.add_argument(
        "--k",
        type=parse_positive_int,
        default=None,
        help="largest cut-off (default: the model's top_k)",
    )
    report.add_argument(
        "--A",
        dest="A",
        type=parse_float,
        default=commands.PROPENSITY_A,
        help=f"propensity parameter A (default: {commands.PROPENSITY_A})",
    )
    report.add_argument(
        "--B",
        dest="B",
        type=parse_float,
        default=commands.PROPENSITY_B,
        help=f"propensity parameter B (default: {commands.PROPENSITY_B})",
    )
    report.add_argument(
        "--label-names",
        metavar="FILE",
        help="names of the test file's label ids, one a line, for a model fitted on label names",
    )
    report.set_defaults(handler=commands.report, parser=report)

    # evaluate --------------------------------------------------------------------------------
    evaluate = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score predictions against the true labels",
        description="Precision@k and nDCG@k (in percent) of a prediction file against the "
        "true labels; with --train also the propensity-scored PSP@k and PSnDCG@k (Jain et "
        "al., 2016). Labels are ranked in file order. Truth and predictions must be in the "
        "same label space (ids or names; --label-names maps between them); true labels no "
        "prediction can reach count as misses.",
        epilog="example: sleec evaluate --truth test.txt --pred pred.txt --train train.txt",
    )
    evaluate.add_argument(
        "--truth",
        metavar="FILE",
        required=True,
        help="the true labels: an XC file (label ids; its features are ignored) or labelled "
        "text ('label1,label2<TAB>text' or fastText lines; label names)",
    )
    evaluate.add_argument(
        "--pred",
        metavar="FILE",
        required=True,
        help="predictions written by 'sleec predict' (.npz or text; label ids or names)",
    )
    evaluate.add_argument(
        "--train",
        metavar="FILE",
        help="training data (XC or labelled text): its labels give the propensities for PSP/PSnDCG",
    )
    evaluate.add_argument(
        "--label-names",
        metavar="FILE",
        help="names of the label ids, one a line (line i names id i): maps predicted names "
        "onto an XC file's ids, or true names onto predicted ids",
    )
    evaluate.add_argument(
        "--k",
        type=parse_positive_int,
        default=5,
        help="largest cut-off; reports @1, @3, @5 up to k, and @k (default: 5)",
    )
    evaluate.add_argument(
        "--json",
        action="store_true",
        help='print a JSON object ({"P@1": 0.651234, ...}, fractions)',
    )
    evaluate.add_argument(
        "--all-metrics", action="store_true", help="also report recall (R) and label coverage"
    )
    evaluate.add_argument(
        "--A",
        dest="A",
        type=parse_float,
        default=commands.PROPENSITY_A,
        help=f"propensity parameter A (default: {commands.PROPENSITY_A}; "
        "Wikipedia 0.5, Amazon 0.6)",
    )
    evaluate.add_argument(
        "--B",
        dest="B",
        type=parse_float,
        default=commands.PROPENSITY_B,
        help=f"propensity parameter B (default: {commands.PROPENSITY_B}; "
        "Wikipedia 0.4, Amazon 2.6)",
    )
    evaluate.add_argument(
        "--truth-split", metavar="FILE", help="use only these rows of --truth (split file)"
    )
    evaluate.add_argument(
        "--train-split", metavar="FILE", help="use only these rows of --train (split file)"
    )
    evaluate.add_argument(
        "--split-column",
        metavar="N",
        type=parse_positive_int,
        default=1,
        help="column of the split files to use (default: 1)",
    )
    evaluate.set_defaults(handler=commands.evaluate, parser=evaluate)

    # demo ------------------------------------------------------------------------------------
    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="train and evaluate on the bundled Bibtex data set",
        description="Train SLEEC on the bundled Bibtex data set (preset 'bibtex', "
        "random_state=0), evaluate it on the test part and compare with the "
        "published SLEEC numbers.",
    )
    demo.add_argument(
        "--k", type=parse_positive_int, default=5, help="largest cut-off (default: 5)"
    )
    demo.add_argument(
        "--n-jobs",
        type=parse_int,
        default=None,
        metavar="N",
        help="parallel training tasks (default: 1; -1: all cores)",
    )
    demo.add_argument(
        "--preset",
        type=str.lower,
        choices=sorted(PRESETS),
        default="bibtex",
        metavar="NAME",
        help="parameter preset (default: bibtex)",
    )
    demo.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (shown by default when stderr is a terminal)",
    )
    demo.set_defaults(handler=commands.demo, parser=demo)
    return parser


def _error_message(exc: BaseException) -> str:
    if out_of_memory(exc):
        message = _memory_message(exc)
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.strerror}: '{exc.filename}'"
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split())  # one line


def _check_combinations(args: argparse.Namespace) -> None:
    """Checks between options that argparse cannot express (UsageError)."""
    if args.command == "train" and not args.print_params:
        missing = [
            flag
            for flag, value in (
                ("--train or --text", args.train or args.text),
                ("--model", args.model),
            )
            if value is None
        ]
        if missing:
            args.parser.error(f"the following arguments are required: {', '.join(missing)}")
    if args.command == "predict" and args.chunk_size is not None and args.scheduler is None:
        args.parser.error(
            "--chunk-size needs --scheduler (local prediction works in batches by itself)"
        )


def _memory_message(exc: BaseException) -> str:
    """ "out of memory (what was asked for)": the MemoryError's text where the chain holds
    one, else the error (a SystemError near the address-space limit) and the headroom."""
    error: BaseException | None = exc
    while error is not None and not isinstance(error, MemoryError):
        error = error.__cause__ or error.__context__
    if error is not None:
        return f"out of memory{f' ({error})' if str(error) else ''}"
    headroom = address_space_headroom()
    left = "" if headroom is None else f"; the address-space limit leaves {headroom >> 20} MB"
    return f"out of memory ({type(exc).__name__}: {exc}{left})"


class Terminated(BaseException):
    """SIGTERM (sent by timeout, Slurm, docker stop) turned into an exception, so that a file
    being written is cleaned up as on Ctrl-C."""


@contextlib.contextmanager
def _sigterm_raises():
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def terminate(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error or usage error, 130
    Ctrl-C, 143 SIGTERM)."""
    from sklearn.exceptions import NotFittedError

    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # named against the command's own parser: its --help lists the options
            getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
        _check_combinations(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except UsageError as exc:
        if "--debug" in (argv if argv is not None else sys.argv[1:]):
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    # ImportError: --scheduler without the dask extra (the message says what to install).
    expected = (
        OSError,
        DataFormatError,
        ModelFormatError,
        ValueError,
        TypeError,
        NotFittedError,
        MemoryError,
        ImportError,
    )
    with configure_logging(args.verbose_global + args.verbose), _sigterm_raises():
        try:
            return args.handler(args)
        except KeyboardInterrupt:
            if args.debug:
                raise
            print(f"{PROG}: error: interrupted", file=sys.stderr)
            return 130
        except Terminated:
            if args.debug:
                raise
            print(f"{PROG}: error: terminated (SIGTERM)", file=sys.stderr)
            return 143
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
        except Exception as exc:  # e.g. SystemError from a C extension that ran out of memory
            if args.debug or not out_of_memory(exc):
                raise
            print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
