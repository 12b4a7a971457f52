"""``sleec evaluate``: score a prediction file against the true labels, in one label space
(label ids or names; ``--label-names`` maps between them) or not at all."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .. import _validation, metrics
from ..io import is_xc_file, read_label_names, read_prediction_file, read_text
from . import _shared as sh
from ._options import Parents, add_k, add_propensities, add_split_column

logger = logging.getLogger(__name__)


def add_parser(sub, parents: Parents) -> None:
    evaluate = sub.add_parser(
        "evaluate",
        parents=[parents.common],
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
    add_k(evaluate, "largest cut-off; reports @1, @3, @5 up to k, and @k", model=False)
    evaluate.add_argument(
        "--json",
        action="store_true",
        help='print a JSON object ({"P@1": 0.651234, ...}, fractions)',
    )
    evaluate.add_argument(
        "--all-metrics", action="store_true", help="also report recall (R) and label coverage"
    )
    add_propensities(evaluate)
    evaluate.add_argument(
        "--truth-split", metavar="FILE", help="use only these rows of --truth (split file)"
    )
    evaluate.add_argument(
        "--train-split", metavar="FILE", help="use only these rows of --train (split file)"
    )
    add_split_column(evaluate)
    evaluate.set_defaults(handler=run, parser=evaluate)


def run(args: argparse.Namespace) -> int:
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
    ks = sh.report_ks(k)
    if args.json:
        print(json.dumps(sh.metrics_json(results, ks), indent=2))
    else:
        print(format_table(results, ks))
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
        return self.Y.shape[0] if self.Y is not None else len(self.names or ())


def _read_labels(path: str, split: str | None, column: int, what: str) -> _Labels:
    """The labels of an XC file or of a labelled text file (told apart by the header)."""
    if is_xc_file(path):
        return _Labels(path, Y=sh.read_data(path, split, column, what)[1])
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
        index = dict(self.index or {})
        names = labels.names or []
        indptr, indices = [0], []
        for row in names:
            indices.extend(sorted({index.setdefault(n, len(index)) for n in row}))
            indptr.append(len(indices))
        self.index = index  # later files (the training labels) share the new columns
        self.width = max(self.width, len(index))
        return sp.csr_matrix(
            (np.ones(len(indices), np.float32), np.asarray(indices, np.int64), indptr),
            shape=(len(names), self.width),
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
        if self.by_name or self.index is None:
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


def format_table(results: Mapping[str, ArrayLike], ks: Iterable[int] = (1, 3, 5)) -> str:
    """Aligned text table of ``results`` (e.g. from :func:`sleec.metrics.evaluate`) in
    percent, 2 decimals: one line per metric in the order of ``results``, one column per j in
    ``ks`` (value @j)."""
    ks = [_validation.check_int(j, "ks", low=1) for j in ks]
    if not ks:
        raise ValueError("The 'ks' parameter must list at least one cut-off.")
    width = max([len("metric"), *(len(str(name)) for name in results)]) + 1
    col = max(7, *(len(str(j)) + 2 for j in ks))
    lines = ["metric".ljust(width) + "".join(f"@{j}".rjust(col) for j in ks)]
    for name, values in results.items():
        v = np.asarray(values, dtype=np.float64).ravel()
        if max(ks) > v.size:
            raise ValueError(
                f"results[{name!r}] has values up to @{v.size}; cannot report @{max(ks)}."
            )
        lines.append(str(name).ljust(width) + "".join(f"{100 * v[j - 1]:{col}.2f}" for j in ks))
    return "\n".join(lines)
