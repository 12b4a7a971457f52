"""``sleec report``: a self-contained HTML report of a model (or two) on a test set."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from . import _shared as sh
from ._options import Parents, add_k, add_model, add_propensities
from .progress import status


def add_parser(sub, parents: Parents) -> None:
    report = sub.add_parser(
        "report",
        parents=[parents.common, parents.predicting],
        help="write an HTML report (metrics, head to tail, figures) of a model on a test set",
        description="Evaluate a model on a test file and write a self-contained HTML page: "
        "P@k, nDCG@k, PSP@k (propensities from the model's training labels), accuracy and "
        "predictions by label-frequency bucket, a per-label table (the most frequent, the "
        "worst head and the worst tail labels), the score distribution and the cluster "
        "sizes, with PNG figures embedded (needs matplotlib: pip install matplotlib); "
        "--compare puts a second model beside the first.",
        epilog="example: sleec report --model model.npz --test test.txt --out report.html",
    )
    add_model(report)
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
    add_k(report, "largest cut-off")
    add_propensities(report)
    report.add_argument(
        "--label-names",
        metavar="FILE",
        help="names of the test file's label ids, one a line, for a model fitted on label names",
    )
    report.set_defaults(handler=run, parser=report)


def run(args: argparse.Namespace) -> int:
    from ..report import write_report

    sh.check_output(
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

    model, X, y = sh.model_and_points(args, labels_required=True)
    with sh.progress_bar(f"predicting ({Path(args.model).name})", args) as progress:
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
