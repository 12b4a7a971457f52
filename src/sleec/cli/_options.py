"""The options several commands share, as argparse parent parsers and small helpers, so
that each is declared once (PECOS's habit: each command's parser beside its handler, common
options from parents)."""

from __future__ import annotations

import argparse

from .. import metrics
from .parameters import parse_float, parse_int, parse_positive_int

__all__ = [
    "Parents",
    "Parser",
    "UsageError",
    "add_k",
    "add_model",
    "add_propensities",
    "add_split_column",
    "make_parents",
]

SCHEDULER_HELP = (
    "address of a running Dask scheduler, e.g. tcp://host:8786 (needs Dask's distributed: "
    "pip install distributed, or pip install '.[dask]' in a clone of sleec)"
)


class UsageError(Exception):
    """A command line that does not parse (raised by the parsers instead of exiting)."""


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised as one line instead of a usage block + exit 2."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


class Parents:
    """The parent parsers: ``common`` (every command: ``-v``), ``predicting`` (every
    command that predicts with a saved model: threads, learners, progress)."""

    def __init__(self) -> None:
        self.common = Parser(add_help=False)
        self.common.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=0,
            help="log details to stderr (-v: info, -vv: debug)",
        )
        self.predicting = Parser(add_help=False)
        self.predicting.add_argument(
            "--n-jobs",
            type=parse_int,
            default=None,
            metavar="N",
            help="threads of prediction's kernels (default: every core; -1: every core)",
        )
        self.predicting.add_argument(
            "--n-learners",
            type=parse_positive_int,
            default=None,
            metavar="N",
            help="consult only the first N learners of the ensemble: faster, usually less "
            "accurate (default: all)",
        )
        self.predicting.add_argument(
            "--no-progress",
            action="store_true",
            help="no progress bar (shown by default when stderr is a terminal)",
        )


def make_parents() -> Parents:
    return Parents()


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="FILE", required=True, help="model from 'train'")


def add_k(parser: argparse.ArgumentParser, what: str, *, model: bool = True) -> None:
    """``--k``: the model's ``top_k`` by default where a model is given, else 5."""
    default = "the model's top_k, 5 unless trained otherwise" if model else "5"
    parser.add_argument(
        "--k",
        type=parse_positive_int,
        default=None if model else 5,
        help=f"{what} (default: {default})",
    )


def add_split_column(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--split-column",
        metavar="N",
        type=parse_positive_int,
        default=1,
        help="column of the split file(s) to use (default: 1)",
    )


def add_propensities(parser: argparse.ArgumentParser) -> None:
    """``--A`` / ``--B``: the propensity model of PSP@k (Jain et al., 2016)."""
    parser.add_argument(
        "--A",
        dest="A",
        type=parse_float,
        default=metrics.PROPENSITY_A,
        help=f"propensity parameter A (default: {metrics.PROPENSITY_A}; Wikipedia 0.5, Amazon 0.6)",
    )
    parser.add_argument(
        "--B",
        dest="B",
        type=parse_float,
        default=metrics.PROPENSITY_B,
        help=f"propensity parameter B (default: {metrics.PROPENSITY_B}; Wikipedia 0.4, Amazon 2.6)",
    )
