"""``sleec train``: fit a model on an XC data file or labelled text, and save it."""

from __future__ import annotations

import argparse
import json
import logging
import time

from ..estimator import SLEEC
from ..io import read_label_names, read_text
from ..presets import PRESETS
from ..text import VECTORIZERS, make_text_pipeline, save_pipeline
from . import _shared as sh
from ._options import SCHEDULER_HELP, Parents, add_split_column
from .parameters import add_parameter_flags, parse_positive_int, resolve_params
from .progress import Progress, status

logger = logging.getLogger(__name__)


def add_parser(sub, parents: Parents) -> None:
    train = sub.add_parser(
        "train",
        parents=[parents.common],
        help="fit a model on an XC data file and save it",
        description="Fit SLEEC on a training file and save the model (.npz, no pickle). "
        "Parameter precedence: estimator defaults < --preset < --params JSON < "
        "explicit flags.",
        epilog="example: sleec train --train train.txt --model model.npz --preset eurlex-4k "
        "--n-jobs 4",
    )
    _add_inputs(train.add_argument_group("input and output"))
    _add_configuration(train.add_argument_group("configuration"))
    est = train.add_argument_group(
        "estimator parameters",
        "Unset flags keep the value of --params, else of --preset, "
        "else the estimator's default (shown).",
    )
    add_parameter_flags(est)
    train.set_defaults(handler=run, parser=train)


def _add_inputs(io) -> None:
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
    add_split_column(io)


def _add_configuration(cfg) -> None:
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
        help=SCHEDULER_HELP
        + "; the (learner, cluster) tasks run on its workers, --n-jobs is unused",
    )


def _check(args: argparse.Namespace) -> None:
    missing = [
        flag
        for flag, value in (("--train or --text", args.train or args.text), ("--model", args.model))
        if value is None
    ]
    if missing:
        args.parser.error(f"the following arguments are required: {', '.join(missing)}")


def run(args: argparse.Namespace) -> int:
    if not args.print_params:
        _check(args)
    params = resolve_params(args)
    model = SLEEC(**params)
    model.validated_params()  # bad values fail now, before reading the data
    if args.print_params:
        print(json.dumps(params, indent=2))
        return 0
    sh.check_output(
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
    with sh.cluster(args.scheduler) as client:
        if args.text is None:
            X, Y = sh.read_data(args.train, args.train_split, args.split_column, "training data")
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
            sh.backend(client),
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
