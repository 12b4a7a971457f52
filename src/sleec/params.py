"""SLEEC's parameters: one declarative table, its validation, and the per-task configurations.

Every estimator parameter is one :class:`Param` row of :data:`PARAMS` (name, default, type,
range or choices, pipeline stage, one-line help), in the spirit of scikit-learn's
``_parameter_constraints``. From this table come the estimator's validation
(:func:`validate_params`), the command-line flags and their help (:mod:`sleec.cli`), and the
tests' bad-value cases. ``SLEEC.__init__`` repeats the names and defaults, because
scikit-learn reads them from its signature; a test holds the two equal.

``fit`` validates once and freezes what each stage needs into :class:`ClusterConfig` (one
cluster's fit) and :class:`QueryConfig` (one cluster's part of a prediction); the stage
functions take those values and have no defaults of their own that could disagree.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "PARAMS",
    "ClusterConfig",
    "Param",
    "QueryConfig",
    "RerankConfig",
    "n_clusters_for",
    "params_from_strings",
    "validate_params",
]

from ._sparse import INT32_MAX

# n_clusters="auto" gives max(1, n // POINTS_PER_CLUSTER): the paper's n // 6000 lost
# accuracy to small clusters on held-out splits, larger clusters cost time (BENCHMARKS.md,
# "Choosing the defaults").
POINTS_PER_CLUSTER = 15000


@dataclass(frozen=True)
class Param:
    """One estimator parameter.

    kind : ``"int"``, ``"float"``, ``"choice"`` or ``"seed"`` (None, an int in [0, 2**32 - 1]
        or a ``numpy.random.RandomState``).
    low, high : range of an int or float (None: unbounded); ``low_open`` / ``high_open``
        exclude the bound.
    choices : allowed values of a ``"choice"`` parameter (compared by type and value).
    also : extra literal values allowed besides the kind (e.g. ``"auto"``, ``None``).
    exclude : int values refused inside the range (``n_jobs=0``).
    """

    name: str
    default: Any
    kind: str
    stage: str
    help: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    also: tuple = ()
    exclude: tuple = field(default=())

    def expected(self) -> str:
        """What a valid value is, in scikit-learn's wording ("an int in the range [1, inf)")."""
        if self.kind == "choice":
            return f"one of {list(self.choices)}"
        if self.kind == "seed":
            return "None, an int in the range [0, 4294967295] or a numpy RandomState"
        text = f"{'an int' if self.kind == 'int' else 'a float'}{self._range()}"
        if self.exclude:
            text += f" other than {', '.join(map(repr, self.exclude))}"
        for extra in self.also:
            text = f"{text} or {extra!r}" if extra is not None else f"None or {text}"
        return text

    def _range(self) -> str:
        if self.low is None and self.high is None:
            return ""
        lo = "-inf" if self.low is None else repr(self.low)
        hi = "inf" if self.high is None else repr(self.high)
        lb = "(" if self.low is None or self.low_open else "["
        rb = ")" if self.high is None or self.high_open else "]"
        return f" in the range {lb}{lo}, {hi}{rb}"

    def check(self, value: Any, owner: str = "SLEEC") -> Any:
        """``value`` converted to its plain Python type (int, float, str, bool), or a
        TypeError / ValueError naming the parameter and what was expected."""
        if any(
            value is extra or (type(value) is type(extra) and value == extra) for extra in self.also
        ):
            return value
        if self.kind == "choice":
            if any(value is c or (type(value) is type(c) and value == c) for c in self.choices):
                return value
            raise ValueError(self._message(value, owner))
        if self.kind == "seed" and isinstance(value, np.random.RandomState):
            return value
        integral = self.kind in ("int", "seed")
        typ = numbers.Integral if integral else numbers.Real
        if isinstance(value, bool) or not isinstance(value, typ):
            # A wrong literal ('many' where 'auto' is allowed) is a bad value, not a bad type.
            wrong_literal = any(type(value) is type(extra) for extra in self.also)
            raise (ValueError if wrong_literal else TypeError)(
                self._message(value, owner, show_type=not wrong_literal)
            )
        try:
            value = int(value) if integral else float(value)  # type: ignore[call-overload]
        except OverflowError:  # e.g. Fraction(10**400, 1) as a float
            raise ValueError(self._message(value, owner)) from None
        bad = (value in self.exclude) or (not integral and not math.isfinite(value))
        if self.low is not None:
            bad |= value <= self.low if self.low_open else value < self.low
        if self.high is not None:
            bad |= value >= self.high if self.high_open else value > self.high
        if bad:
            raise ValueError(self._message(value, owner))
        return value

    def _message(self, value: Any, owner: str, show_type: bool = False) -> str:
        shown = (
            f"{_short_repr(value)} ({type(value).__name__})" if show_type else (_short_repr(value))
        )
        return (
            f"The '{self.name}' parameter of {owner} must be {self.expected()}. "
            f"Got {shown} instead."
        )


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_INT: dict[str, Any] = {"kind": "int", "low": 1, "high": INT32_MAX}
_UNIT: dict[str, Any] = {"kind": "float", "low": 0.0, "high": 1.0, "high_open": True}
_NON_NEG: dict[str, Any] = {"kind": "float", "low": 0.0}

PARAMS: tuple[Param, ...] = (
    Param(
        "n_learners",
        3,
        stage="ensemble",
        **_INT,
        help="ensemble size; each learner has its own clustering and SVP start",
    ),
    Param(
        "n_clusters",
        "auto",
        stage="clustering",
        also=("auto",),
        **_INT,
        help="k-means clusters per learner; 'auto' = max(1, n_samples // 15000) (paper: "
        "n_samples // 6000)",
    ),
    Param("n_components", 100, stage="svp", **_INT, help="embedding dimension (authors: out_Dim)"),
    Param(
        "n_graph_neighbors",
        100,
        stage="graph",
        **_INT,
        help="label-graph neighbours per point, itself included (authors: SVP_neigh)",
    ),
    Param(
        "n_neighbors",
        25,
        stage="prediction",
        **_INT,
        help="training neighbours voting at test time (authors: NNtest)",
    ),
    Param(
        "n_probes",
        16,
        kind="int",
        low=0,
        high=INT32_MAX,
        stage="prediction",
        help="cells of a cluster's stored embeddings (about sqrt(size) of them) searched per "
        "point: approximate nearest neighbours (inverted file); 0 = exact search",
    ),
    Param(
        "top_k",
        5,
        stage="prediction",
        **_INT,
        help="labels per point of predict, decision_function, predict_labels and score",
    ),
    Param(
        "label_similarity",
        "cosine",
        kind="choice",
        stage="graph",
        choices=("cosine", "dot"),
        help="label similarity of the graph: cosine (authors' code) or dot (paper)",
    ),
    Param("svp_max_iter", 3, stage="svp", **_INT, help="SVP iterations at most"),
    Param(
        "svp_tol",
        1e-3,
        stage="svp",
        **_NON_NEG,
        help="SVP stops when its relative objective improves by less than this",
    ),
    Param(
        "svp_step",
        1.5,
        kind="float",
        stage="svp",
        low=0.0,
        high=2.0,
        low_open=True,
        help="SVP gradient step (paper: 1); an overshooting step falls back to 1",
    ),
    Param(
        "l2_reg",
        "auto",
        stage="regression",
        also=("auto",),
        **_NON_NEG,
        help="ridge penalty lambda; 'auto' scales it to the features' typical squared value "
        "(authors' cost c: 1 / (2 c))",
    ),
    Param(
        "l1_reg",
        0.0,
        stage="regression",
        **_NON_NEG,
        help="L1 weight on the training embeddings; > 0 solves by ADMM (paper)",
    ),
    Param(
        "admm_rho",
        1.0,
        kind="float",
        stage="regression",
        low=0.0,
        low_open=True,
        help="ADMM penalty (with l1_reg > 0)",
    ),
    Param(
        "admm_max_iter",
        50,
        stage="regression",
        **_INT,
        help="ADMM iterations at most (with l1_reg > 0)",
    ),
    Param(
        "weight_threshold",
        0.01,
        stage="regression",
        **_UNIT,
        help="share of the regressor's weights pruned (authors: w_thresh)",
    ),
    Param(
        "embedding_threshold",
        0.01,
        stage="regression",
        **_UNIT,
        help="share of stored embeddings zeroed per dimension (authors: sp_thresh)",
    ),
    Param(
        "metric",
        "euclidean",
        kind="choice",
        stage="prediction",
        choices=("euclidean", "cosine"),
        help="distance between embeddings at test time",
    ),
    Param(
        "weighting",
        "distance",
        kind="choice",
        stage="prediction",
        choices=("uniform", "distance"),
        help="neighbour votes: exp(-d^2 / median d^2) or uniform (paper)",
    ),
    Param(
        "shortlist_votes",
        100,
        kind="int",
        stage="second stage",
        low=0,
        high=INT32_MAX,
        help="second stage: labels the kNN votes put on each point's shortlist (0 with "
        "shortlist_centroids=0: no second stage, the authors' method)",
    ),
    Param(
        "shortlist_centroids",
        100,
        kind="int",
        stage="second stage",
        low=0,
        high=INT32_MAX,
        help="second stage: labels whose centroids are nearest the point, added to its shortlist",
    ),
    Param(
        "ranker_loss",
        "squared_hinge",
        kind="choice",
        stage="second stage",
        choices=("logistic", "squared_hinge"),
        help="loss of the per-label rankers (L2-regularised, dual coordinate descent)",
    ),
    Param(
        "ranker_c",
        1.0,
        kind="float",
        stage="second stage",
        low=0.0,
        low_open=True,
        help="cost C of the rankers (LIBLINEAR's; larger: weaker regularisation)",
    ),
    Param(
        "ranker_mix",
        0.4,
        kind="float",
        stage="second stage",
        low=0.0,
        high=1.0,
        help="score = mix x vote share + (1 - mix) x ranker probability",
    ),
    Param(
        "ranker_threshold",
        0.1,
        stage="second stage",
        **_NON_NEG,
        help="ranker weights with |w| below this are pruned",
    ),
    Param(
        "normalize",
        True,
        kind="choice",
        stage="features",
        choices=(True, False),
        help="L2-normalise feature rows (authors' code, except Mediamill)",
    ),
    Param(
        "random_state",
        None,
        kind="seed",
        stage="ensemble",
        low=0,
        high=2**32 - 1,
        also=(None,),
        help="seed of the clusterings and SVP starts",
    ),
    Param(
        "n_jobs",
        None,
        kind="int",
        stage="ensemble",
        low=-1024,
        high=1024,
        exclude=(0,),
        also=(None,),
        help="parallel (learner, cluster) tasks; unset = 1, -1 = all cores",
    ),
)

PARAM_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}


def validate_params(values: Mapping[str, Any], owner: str = "SLEEC") -> dict[str, Any]:
    """Check every parameter of :data:`PARAMS` in ``values``; return the converted values
    (the ones to use: e.g. a ``Fraction`` step comes back as a float)."""
    return {p.name: p.check(values[p.name], owner) for p in PARAMS}


@dataclass(frozen=True)
class ClusterConfig:
    """What one (learner, cluster) fit needs: steps 2-4 and the pruning of the stored
    embeddings. ``parallel_kernels``: use the row-parallel numba kernels (only when a single
    task runs at a time)."""

    n_components: int
    n_graph_neighbors: int
    label_similarity: str
    svp_max_iter: int
    svp_tol: float
    svp_step: float
    l2_reg: float | str
    l1_reg: float
    admm_rho: float
    admm_max_iter: int
    weight_threshold: float
    embedding_threshold: float
    parallel_kernels: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any], parallel_kernels: bool) -> ClusterConfig:
        """From validated parameters (the output of :func:`validate_params`)."""
        names = [f for f in cls.__dataclass_fields__ if f != "parallel_kernels"]
        return cls(**{name: params[name] for name in names}, parallel_kernels=parallel_kernels)


@dataclass(frozen=True)
class RerankConfig:
    """What the second stage needs (:mod:`sleec.rerank`)."""

    shortlist_votes: int
    shortlist_centroids: int
    ranker_loss: str
    ranker_c: float
    ranker_mix: float
    ranker_threshold: float

    @property
    def enabled(self) -> bool:
        return self.shortlist_votes + self.shortlist_centroids > 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RerankConfig:
        return cls(**{name: params[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class QueryConfig:
    """What one cluster's part of a prediction needs (step 5)."""

    n_neighbors: int
    metric: str
    weighting: str
    n_probes: int = 0  # exact search unless asked

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QueryConfig:
        return cls(**{name: params[name] for name in cls.__dataclass_fields__})


def n_clusters_for(n_clusters: int | str, n_samples: int) -> int:
    """Clusters per learner for ``n_samples`` training points (``"auto"``: ``n //
    POINTS_PER_CLUSTER``, at least 1)."""
    if n_clusters == "auto":
        return max(1, n_samples // POINTS_PER_CLUSTER)
    return max(1, min(int(n_clusters), n_samples))


# ------------------------------------------------------------------- parameters as text
_TRUE_WORDS = ("true", "yes", "on", "1")
_FALSE_WORDS = ("false", "no", "off", "0")
_NONE_WORDS = ("none", "null")


def params_from_strings(values: Mapping[str, Any], owner: str = "SLEEC") -> dict[str, Any]:
    """Parameters written as text (a configuration file's ``key=value`` lines, e.g. an
    Annif ``projects.cfg``), converted and checked against :data:`PARAMS`.

    Each string becomes its parameter's type: ``"25"`` an int, ``"0.5"`` a float,
    ``"true"`` / ``"false"`` (also yes/no, on/off, 1/0) a bool, ``"auto"`` and ``"none"``
    the literal values a parameter allows (case-insensitive), a choice its exact name.
    Values that are not strings (numbers from code) are only checked. Only the names given
    are returned; the others keep the estimator's defaults.

    Parameters
    ----------
    values : mapping of parameter names (as in ``SLEEC(...)``) to strings or values.
    owner : who the parameters belong to, for the error messages (e.g. ``"Annif project
        'yso-fi'"``).

    Returns
    -------
    dict of the converted values, ready for ``SLEEC(**params)`` or ``set_params``.

    Raises
    ------
    ValueError
        For an unknown name (listing close matches and the known names), or a value that
        does not parse or is out of range: "The 'n_neighbors' parameter of SLEEC must be an
        int in the range [1, 2147483647]. Got 'many' instead."
    TypeError
        For a non-string value of the wrong type (as :class:`Param` checks it).
    """
    unknown = [name for name in values if name not in PARAM_BY_NAME]
    if unknown:
        import difflib

        hints = {name: difflib.get_close_matches(str(name), PARAM_BY_NAME, n=1) for name in unknown}
        shown = ", ".join(
            f"{name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            for name, hint in hints.items()
        )
        raise ValueError(
            f"Unknown parameter(s) of {owner}: {shown}; expected some of {sorted(PARAM_BY_NAME)}."
        )
    out = {}
    for name, value in values.items():
        param = PARAM_BY_NAME[name]
        if isinstance(value, str):
            value = _from_string(param, value, owner)
        out[name] = param.check(value, owner)
    return out


def _from_string(param: Param, text: str, owner: str) -> Any:
    """``text`` as a value of ``param``'s type (range checks are :meth:`Param.check`'s)."""
    word = text.strip().lower()
    for extra in param.also:
        if (extra is None and word in _NONE_WORDS) or (
            isinstance(extra, str) and word == extra.lower()
        ):
            return extra
    if param.kind == "choice":
        if all(isinstance(c, bool) for c in param.choices):
            if word in _TRUE_WORDS or word in _FALSE_WORDS:
                return word in _TRUE_WORDS
        else:
            for choice in param.choices:
                if isinstance(choice, str) and word == choice.lower():
                    return choice
        raise ValueError(param._message(text, owner))
    try:
        return int(word) if param.kind in ("int", "seed") else float(word)
    except ValueError:
        raise ValueError(param._message(text, owner)) from None
