"""``sleec predict``: write the top-k labels of each test point (or document)."""

from __future__ import annotations

import argparse
import logging
import time
import warnings

from ..estimator import PREDICT_BATCH
from ..io import TEXT_LAYOUTS, read_text, write_label_names, write_predictions
from ..text import load_pipeline, predict_text
from . import _shared as sh
from ._options import SCHEDULER_HELP, Parents, add_k, add_model, add_split_column
from .parameters import parse_positive_int
from .progress import status

logger = logging.getLogger(__name__)


def add_parser(sub, parents: Parents) -> None:
    predict = sub.add_parser(
        "predict",
        parents=[parents.common, parents.predicting],
        help="write the top-k labels of each test point",
        description="Predict the top-k labels of every point of a test file. The output "
        "format follows the extension and the label space: .npz (arrays 'ids' int32 (n, k), "
        "padded with -1, and 'scores' float32; for label names 'name_ids' and "
        "'label_names') or text (one line per point: 'id:score id:score ...' for label ids, "
        "'name1,name2<TAB>score1,score2' for label names), best first.",
        epilog="example: sleec predict --model model.npz --test test.txt --k 5 --out pred.txt",
    )
    add_model(predict)
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
        choices=TEXT_LAYOUTS,
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
    add_k(predict, "labels per point")
    predict.add_argument(
        "--test-split", metavar="FILE", help="use only the rows listed in this split file"
    )
    add_split_column(predict)
    predict.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=SCHEDULER_HELP + "; the test points are predicted on its workers in chunks",
    )
    predict.add_argument(
        "--chunk-size",
        metavar="N",
        type=parse_positive_int,
        default=None,
        help="test points per task with --scheduler (default: 16384)",
    )
    predict.set_defaults(handler=run, parser=predict)


def run(args: argparse.Namespace) -> int:
    if args.chunk_size is not None and args.scheduler is None:
        args.parser.error(
            "--chunk-size needs --scheduler (local prediction works in batches by itself)"
        )
    sh.check_output(
        "--out",
        args.out,
        model=args.model,
        test=args.test,
        text=args.text,
        test_split=args.test_split,
    )
    if args.text is not None:
        return _predict_text(args)
    model = sh.prediction_model(sh.load_model(args.model, "--test"), args)
    ids_of = sh.file_labels(model, args.names, args.model)  # fail before the work
    k = model.top_k if args.k is None else args.k
    with sh.cluster(args.scheduler) as client:
        X, _ = sh.read_data(args.test, args.test_split, args.split_column, "test data")
        start = time.perf_counter()
        if client is None:
            with sh.progress_bar("predicting", args) as progress:
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


def _predict_text(args: argparse.Namespace) -> int:
    if args.scheduler is not None:
        raise ValueError("--text predicts locally; --scheduler works with --test")
    pipeline = load_pipeline(args.model)
    sh.prediction_model(pipeline[-1], args)
    docs, ignored = read_text(args.text, labels_required=False, keep_blank=True, layout=args.layout)
    if args.layout == "auto" and any(ignored):  # what came before the TABs is not predicted from
        warnings.warn(
            f"{args.text} is read as labelled text (every non-blank line holds a TAB, or the "
            "first starts with __label__): the labels before the text are ignored; "
            "--layout plain predicts from whole lines",
            UserWarning,
            stacklevel=1,
        )
    start = time.perf_counter()
    # one output line per input line: a blank line is no document and gets no labels
    written = [i for i, doc in enumerate(docs) if doc.strip()]
    names: list[list] = [[] for _ in docs]
    scores: list[list[float]] = [[] for _ in docs]
    if written:
        with sh.progress_bar("predicting", args) as progress:
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
