"""``sleec partial-fit``: add training points (and labels) to a saved model."""

from __future__ import annotations

import argparse
import time

from ..io import read_text
from ..text import load_pipeline, partial_fit_pipeline, save_pipeline
from . import _shared as sh
from ._options import Parents, add_model
from .progress import status


def add_parser(sub, parents: Parents) -> None:
    grow = sub.add_parser(
        "partial-fit",
        parents=[parents.common],
        help="add training points (and labels) to a saved model, without retraining",
        description="Route new points to their clusters, embed them with the existing "
        "regressors and add them (and labels the model has not seen) to the voters; SVP, "
        "the regressors and the rankers are not refitted. Refit once the added points are "
        "a sizable share of the training set.",
        epilog="example: sleec partial-fit --model model.npz --train new.txt --out grown.npz",
    )
    add_model(grow)
    new_points = grow.add_mutually_exclusive_group(required=True)
    new_points.add_argument("--train", metavar="FILE", help="new points (XC text format)")
    new_points.add_argument(
        "--text", metavar="FILE", help="new labelled documents (a model trained with --text)"
    )
    grow.add_argument(
        "--out", metavar="FILE", help="where to write the grown model (default: --model)"
    )
    grow.set_defaults(handler=run, parser=grow)


def run(args: argparse.Namespace) -> int:
    """Add the points of --train (an XC file) or --text (labelled documents) to a saved
    model, without retraining; write it to --out (default: the model file, replaced
    atomically)."""
    out = args.model if args.out is None else args.out
    sh.check_output("--out", out, train=args.train, text=args.text)
    start = time.perf_counter()
    if args.text is not None:
        pipeline = load_pipeline(args.model)
        docs, labels = read_text(args.text)
        partial_fit_pipeline(pipeline, docs, labels)
        model, n = pipeline[-1], len(docs)
        save_pipeline(pipeline, out)
    else:
        model = sh.load_model(args.model, "--train")
        X, Y = sh.read_data(args.train, None, 1, "new points")
        model.partial_fit(X, Y)
        n = X.shape[0]
        model.save(out)
    status(
        f"added {n} points ({model.train_labels_.shape[0]} in all, {model.n_labels_} labels) "
        f"in {time.perf_counter() - start:.1f} s; model saved to {out}"
    )
    return 0
