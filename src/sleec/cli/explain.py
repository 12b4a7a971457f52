"""``sleec explain``: the training points that voted for a test point's labels."""

from __future__ import annotations

import argparse
import dataclasses
import json

from ..explain import format_explanation
from ..io import read_text
from . import _shared as sh
from ._options import Parents, add_k, add_model
from .parameters import parse_int, parse_positive_int


def add_parser(sub, parents: Parents) -> None:
    explain = sub.add_parser(
        "explain",
        parents=[parents.common, parents.predicting],
        help="show which training points voted for a test point's labels",
        description="For one test point and each of its top-k labels: the training points "
        "that voted for the label (training row, the learners that found it, distances in "
        "their embedding spaces, weight, share of the score), with the second stage the "
        "vote share and the ranker's probability the score mixes; labels with the very "
        "same votes share one block; hit / miss marks and the true labels missed when the "
        "test file has labels. The scores are the ones 'predict' gives.",
        epilog="example: sleec explain --model model.npz --test test.txt --row 17 --k 5",
    )
    add_model(explain)
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
    add_k(explain, "labels to explain")
    explain.add_argument(
        "--max-votes",
        metavar="N",
        type=parse_positive_int,
        default=10,
        help="training rows shown per block of labels in the text output (default: 10)",
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
    explain.set_defaults(handler=run, parser=explain)


def run(args: argparse.Namespace) -> int:
    model, X, y = sh.model_and_points(args, labels_required=False)
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
