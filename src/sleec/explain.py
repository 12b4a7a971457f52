"""Why a label was predicted: the training points that voted for it.

SLEEC scores a label by the votes of the test point's nearest training points in each
learner's embedding space (:mod:`sleec.cluster_model`). :func:`explain` returns, for each
point and each of its top-k labels, every vote behind the label's score: the training row,
the learner and cluster it came from, its distance to the point in that embedding space, its
weight and its share of the score. A label's score is recomputed from the same votes, in the
same float32 order as prediction, so it equals :meth:`SLEEC.predict_topk`'s score exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import _validation
from .cluster_model import cluster_neighbors, ensemble_votes, prepare_features
from .clustering import assign_to_centers, cluster_members
from .params import QueryConfig

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
    """A predicted label (``label`` its column id, ``name`` its name), its score and every
    vote behind it, heaviest first."""

    label: int
    name: Any
    score: float
    votes: tuple[Vote, ...]


@dataclass(frozen=True)
class Explanation:
    """The top-k labels of one point (``row`` of the explained ``X``), best first, and the
    number of neighbours that voted for anything."""

    row: int
    labels: tuple[LabelExplanation, ...]
    n_voters: int

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values, ready for ``json.dumps``."""
        out = asdict(self)
        for label in out["labels"]:
            label["name"] = _plain(label["name"])
        return out


def explain(model: Any, X: Any, k: int | None = None) -> list[Explanation]:
    """Explain the top-``k`` labels (default ``model.top_k``) of every row of ``X``.

    Parameters
    ----------
    model : a fitted SLEEC. X : (q, n_features_in_) features (a few rows: the cost is about
        three predictions of them; the neighbours are searched again to report distances).
    """
    k = model.validated_params()["top_k"] if k is None else _validation.check_k(k)
    X = _validation.check_features(X, model.n_features_in_)
    ids, scores = model.predict_topk(X, k)
    params = model.validated_params()
    config = QueryConfig.from_params(params)
    state = model.state_
    features, routing = prepare_features(X, state.normalize)
    merged = ensemble_votes(features, routing, state.learners, config, state.train_labels.shape[0])
    details = _votes_by_row(state.learners, features, routing, config, X.shape[0])
    Y = state.train_labels
    names = model.classes_ if state.classes is not None else None
    out = []
    for i in range(X.shape[0]):
        lo, hi = merged.indptr[i], merged.indptr[i + 1]
        voters, weights = merged.indices[lo:hi], merged.data[lo:hi]
        carries = {j: set(Y.indices[Y.indptr[j] : Y.indptr[j + 1]].tolist()) for j in voters}
        labels = []
        for label in ids[i][ids[i] >= 0].tolist():
            score = np.float32(0)
            for j, w in zip(voters.tolist(), weights, strict=True):  # prediction's order
                if label in carries[j]:
                    score = np.float32(score + w)
            score = min(score, np.float32(1))  # as predict_topk clips float32 round-off
            votes = [
                Vote(j, li, c, d, w, w / float(score))
                for j, li, c, d, w in details[i]
                if label in carries[j]
            ]
            votes.sort(key=lambda v: (-v.weight, v.train_row, v.learner))
            name = int(label) if names is None else names[label]
            labels.append(LabelExplanation(int(label), name, float(score), tuple(votes)))
        out.append(Explanation(i, tuple(labels), len(voters)))
    return out


def _votes_by_row(learners, features, routing, config, n_rows) -> list[list[tuple]]:
    """Per row: (train_row, learner, cluster, distance, weight) of every neighbour vote."""
    rows: list[list[tuple]] = [[] for _ in range(n_rows)]
    for li, learner in enumerate(learners):
        groups = cluster_members(assign_to_centers(routing, learner.centers), len(learner.locals))
        for c, (members, local) in enumerate(zip(groups, learner.locals, strict=True)):
            if members.size == 0 or local.rows.size == 0:
                continue
            train, weights, dist = cluster_neighbors(
                features[members], local, config, return_distance=True
            )
            weights = weights / len(learners)
            for q, i in enumerate(members.tolist()):
                rows[i].extend(
                    (int(j), li, c, float(d), float(w))
                    for j, w, d in zip(train[q], weights[q], dist[q], strict=True)
                )
    return rows


def format_explanation(explanation: Explanation, max_votes: int = 10) -> str:
    """A readable text block: each label with its score, then its heaviest votes."""
    lines = [f"row {explanation.row}: {explanation.n_voters} training points voted"]
    for rank, label in enumerate(explanation.labels, start=1):
        lines.append(
            f"  {rank}. {_plain(label.name)!s}  score {label.score:.4f}  ({len(label.votes)} votes)"
        )
        for vote in label.votes[:max_votes]:
            lines.append(
                f"       training row {vote.train_row:>7}  learner {vote.learner} cluster "
                f"{vote.cluster:<3}  distance {vote.distance:8.4f}  weight {vote.weight:.4f}  "
                f"share {100 * vote.share:5.1f}%"
            )
        if len(label.votes) > max_votes:
            rest = sum(v.share for v in label.votes[max_votes:])
            lines.append(
                f"       ... {len(label.votes) - max_votes} more votes, "
                f"{100 * rest:.1f}% of the score"
            )
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
