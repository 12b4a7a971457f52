"""Why a label was predicted: the training points that voted for it.

SLEEC scores a label by the votes of the test point's nearest training points in each
learner's embedding space (:mod:`sleec.cluster_model`). :func:`explain` runs prediction's
own pass over the points (the same routing, neighbours and weights, kept with their
details) and returns, for each point and each of its top-k labels, every vote behind the
label's score: the training row, the learner and cluster it came from, its distance to the
point in that embedding space, its weight and its share of the score; with the second stage
also the label's vote share and its ranker's probability, which the score mixes. The labels
and scores are prediction's, bit for bit. :func:`format_explanation` renders one
explanation as text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import _labels, _predict, _validation

__all__ = ["Explanation", "LabelExplanation", "Vote", "explain", "format_explanation"]


@dataclass(frozen=True)
class Vote:
    """One neighbour's vote for a label.

    train_row : the voter's row in the training data (``model.train_labels_``).
    learner, cluster : where the voter was found (indices into ``model.learners_``).
    distance : the voter's distance to the point in that cluster's embedding space.
    weight : the vote's weight in the score (its neighbour weight / number of learners).
    share : weight / the label's score.
    """

    train_row: int
    learner: int
    cluster: int
    distance: float
    weight: float
    share: float


@dataclass(frozen=True)
class LabelExplanation:
    """A predicted label (``label`` its column id, ``name`` its name), its score, every vote
    behind it (heaviest first) and, when the truth was given, whether it is a true label.

    With the second stage, ``score = mix x vote_share + (1 - mix) x ranker``: ``vote_share``
    is the sum of the votes' weights, ``ranker`` the label's ranker probability (None
    without the stage, or for a label without a ranker, which keeps its vote share), and
    each vote's ``share`` is its part of the score (``mix x weight / score``)."""

    label: int
    name: Any
    score: float
    votes: tuple[Vote, ...]
    hit: bool | None = None
    vote_share: float | None = None
    ranker: float | None = None


@dataclass(frozen=True)
class Explanation:
    """The top-k labels of one point (``row`` of the explained ``X``), best first; the
    number of training points that voted for anything; ``missed``: the true labels (when
    given) that are not among them; ``no_features``: the point has no feature training
    saw, so its labels are the training set's most frequent ones, without votes."""

    row: int
    labels: tuple[LabelExplanation, ...]
    n_voters: int
    missed: tuple = ()
    no_features: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values, ready for ``json.dumps`` (strict JSON: a non-finite number
        becomes None)."""
        return _json_safe(asdict(self))


def explain(model: Any, X: Any, k: int | None = None, *, y: Any = None) -> list[Explanation]:
    """Explain the top-``k`` labels (default ``model.top_k``) of every row of ``X``.

    Parameters
    ----------
    model : a fitted SLEEC. X : (q, n_features_in_) features; the cost is one prediction
        of them (meant for a few rows: every vote is kept as Python objects).
    y : optional true labels of the rows, in any form ``fit`` takes: each label is marked
        hit or miss, and the true labels that were not predicted are listed.
    """
    X = _validation.check_features(X, model.n_features_in_)
    k = model.effective_k(model.validated_params()["top_k"] if k is None else k)
    state = model.state_
    if X.shape[0] == 0:
        return []
    (batch,) = model._batches(X, X.shape[0], details=True)
    ids, scores = model._best(batch, k)
    empty = set(_predict.no_information(state, X, ids, scores).tolist())
    config = model._rerank()
    stage_part = None if config is None else _predict.shortlist_scores(state, batch, config)
    mix = 1.0 if config is None else config.ranker_mix
    truth = None if y is None else _labels.to_matrix(y, state.classes, state.n_labels, "y")
    names = model.label_names_
    Y, details = state.train_labels, batch.details
    by_row = np.argsort(details.query, kind="stable")
    bounds = np.searchsorted(details.query[by_row], np.arange(X.shape[0] + 1))
    out = []
    for i in range(X.shape[0]):
        # a point without known features gets the prior: the votes it drew are not used
        mine = by_row[bounds[i] : bounds[i] if i in empty else bounds[i + 1]]
        true = set() if truth is None else set(truth.indices[truth.indptr[i] : truth.indptr[i + 1]])
        labels = []
        for rank, label in enumerate(ids[i].tolist()):
            if label < 0:
                break
            score = float(scores[i, rank])
            carries = _carriers(Y, details.train_row[mine], label)
            found = [
                Vote(
                    int(details.train_row[j]),
                    int(details.learner[j]),
                    int(details.cluster[j]),
                    float(details.distance[j]),
                    float(details.weight[j]),
                    mix * float(details.weight[j]) / score if score > 0 else 0.0,
                )
                for j in mine[carries]
            ]
            found.sort(key=lambda vote: (-vote.weight, vote.train_row, vote.learner))
            name = int(label) if names is None else str(names[label])
            hit = None if truth is None else label in true
            share, ranker = _stage_parts(stage_part, i, label, found, i in empty)
            labels.append(
                LabelExplanation(int(label), name, score, tuple(found), hit, share, ranker)
            )
        predicted = {lab.label for lab in labels}
        missed = tuple(
            int(j) if names is None or j >= names.size else str(names[j])
            for j in sorted(true - predicted)
        )
        n_voters = np.unique(details.train_row[mine]).size
        out.append(Explanation(i, tuple(labels), int(n_voters), missed, i in empty))
    return out


def _stage_parts(stage_part, i: int, label: int, votes: list[Vote], empty: bool):
    """(vote share, ranker probability) of a label of row ``i`` (None, None without the
    second stage; the ranker None for a label without one)."""
    if stage_part is None or empty:
        return None, None
    where = np.flatnonzero(stage_part.candidates[i] == label)
    if not where.size:  # pragma: no cover - a top label is always a candidate
        return float(sum(v.weight for v in votes)), None
    prob = float(stage_part.probs[i, where[0]])
    return float(stage_part.votes[i, where[0]]), (None if prob != prob else prob)


def _carriers(Y: Any, rows: np.ndarray, label: int) -> np.ndarray:
    """bool mask of the training ``rows`` whose label sets hold ``label``."""
    return np.array(
        [label in Y.indices[Y.indptr[r] : Y.indptr[r + 1]] for r in rows.tolist()], dtype=bool
    )


def format_explanation(
    explanation: Explanation,
    max_votes: int = 10,
    *,
    train_texts: Sequence[str] | None = None,
) -> str:
    """One explanation as readable text (what ``sleec explain`` prints).

    Labels whose scores come from the very same votes (nested labels often do) share one
    block: the labels with their scores (with the second stage, the vote share and the
    ranker probability the score mixes; ``hit`` / ``miss`` when the truth was given),
    then those votes, heaviest first, one line per training row with the learners that
    found it, its distances, its summed weight and its share of the block's best score;
    at most ``max_votes`` lines, then a summary of the rest. ``train_texts`` (the training
    documents, by training row) adds the start of each voter's text. Names and texts are
    shown with control characters escaped, so a model file cannot send terminal codes.
    """
    max_votes = _validation.check_int(max_votes, "max_votes", low=1)
    row = explanation.row
    if explanation.no_features:
        lines = [f"row {row}: no feature training saw; the labels most frequent in training"]
    else:
        lines = [f"row {row}: {explanation.n_voters} training points voted"]
    blocks: dict[tuple, list[tuple[int, LabelExplanation]]] = {}
    for rank, label in enumerate(explanation.labels, start=1):
        key = tuple(sorted((v.train_row, v.learner, v.cluster) for v in label.votes))
        blocks.setdefault(key, []).append((rank, label))
    for members in blocks.values():
        for rank, label in members:
            mark = "" if label.hit is None else ("  hit" if label.hit else "  miss")
            parts = ""
            if label.vote_share is not None:
                ranker = "none" if label.ranker is None else f"{label.ranker:.4f}"
                parts = f"  (votes {label.vote_share:.4f}, ranker {ranker})"
            lines.append(
                f"  {rank}. {_printable(label.name)}  score {label.score:.4f}{parts}{mark}"
            )
        best = members[0][1]
        if len(members) > 1:
            lines.append(f"     labels {_ranks([r for r, _ in members])}: the same votes")
        lines.extend(_vote_lines(best, max_votes, train_texts))
    if explanation.missed:
        shown = ", ".join(_printable(name) for name in explanation.missed)
        lines.append(f"  true labels not predicted: {shown}")
    return "\n".join(lines)


def _vote_lines(
    label: LabelExplanation, max_votes: int, train_texts: Sequence[str] | None
) -> list[str]:
    """The votes of a label, one line per training row (its learners merged)."""
    if not label.votes:
        return []
    rows: dict[int, list[Vote]] = {}
    for vote in label.votes:
        rows.setdefault(vote.train_row, []).append(vote)
    merged = sorted(rows.items(), key=lambda item: (-sum(v.weight for v in item[1]), item[0]))
    lines = [f"     {len(label.votes)} votes from {len(merged)} training rows:"]
    for train_row, votes in merged[:max_votes]:
        learners = ",".join(str(v.learner) for v in votes)
        distances = "/".join(f"{v.distance:.3f}" for v in votes)
        weight = sum(v.weight for v in votes)
        share = sum(v.share for v in votes)
        line = (
            f"       training row {train_row:>7}  learners {learners:<5}  distance "
            f"{distances:<13}  weight {weight:.4f}  share {100 * share:5.1f}%"
        )
        if train_texts is not None and 0 <= train_row < len(train_texts):
            text = _printable(train_texts[train_row])
            line += f"  {text[:60] + '...' if len(text) > 60 else text}"
        lines.append(line)
    if len(merged) > max_votes:
        rest = sum(v.share for _, votes in merged[max_votes:] for v in votes)
        lines.append(
            f"       ... {len(merged) - max_votes} more training rows, "
            f"{100 * rest:.1f}% of the score"
        )
    return lines


def _ranks(ranks: list[int]) -> str:
    if ranks == list(range(ranks[0], ranks[-1] + 1)):
        return f"{ranks[0]}-{ranks[-1]}"
    return ", ".join(map(str, ranks))


def _printable(value: Any) -> str:
    """``str(value)`` with control and other non-printable characters escaped."""
    text = str(value.item() if isinstance(value, np.generic) else value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_safe(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
