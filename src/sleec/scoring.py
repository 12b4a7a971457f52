"""Ranking scorers for scikit-learn's model selection: P@k, nDCG@k and PSP@k by name.

``GridSearchCV(model, grid, scoring=xmc_scorer("precision@5"))`` and
``cross_val_score(model, X, label_lists(Y), scoring=xmc_scorer("psp@3"))`` rank with the
model's top-k labels. A scorer works on a fitted :class:`~sleec.SLEEC` or on a
:class:`~sklearn.pipeline.Pipeline` ending in one (the other steps transform ``X``), and takes
the true labels in any form ``fit`` accepts (a label matrix, label lists of names, or 1-D
labels); names the model never saw count as misses. Several at once:
``scoring=xmc_scorers(["precision@1", "precision@5", "ndcg@5"])`` (``refit`` then names one).

scikit-learn's ``cross_val_score`` / ``cross_validate`` refuse a sparse ``y``, the form
:func:`sleec.datasets.read_xc` returns: pass ``label_lists(Y)`` (each row's label ids, an
array scikit-learn can split), or ``Y.toarray()`` for small label sets::

    cross_val_score(SLEEC(), X, label_lists(Y), scoring=xmc_scorer("precision@5"), cv=3)

PSP@k uses the inverse propensities of the model's own training labels (Jain et al., 2016,
with ``A = 0.55``, ``B = 1.5`` unless given), so no extra data has to reach the scorer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import _labels, _validation, metrics

__all__ = ["SCORER_NAMES", "label_lists", "xmc_scorer", "xmc_scorers"]

SCORER_NAMES = ("precision", "ndcg", "psp", "psndcg", "recall")
_KEY = {"precision": "P", "ndcg": "nDCG", "psp": "PSP", "psndcg": "PSnDCG", "recall": "R"}


def xmc_scorer(
    name: str, *, A: float = metrics.PROPENSITY_A, B: float = metrics.PROPENSITY_B
) -> Callable[[Any, Any, Any], float]:
    """A scorer ``scorer(estimator, X, Y) -> float`` for ``"<metric>@<k>"``.

    Parameters
    ----------
    name : e.g. ``"precision@5"``, ``"ndcg@3"``, ``"psp@5"``; metric one of
        :data:`SCORER_NAMES`, k a positive int. Greater is better for all of them.
    A, B : propensity parameters of ``psp`` and ``psndcg``.
    """
    metric, k = _parse(name)
    A = _validation.check_float(A, "A", low=0.0, low_open=True)
    B = _validation.check_float(B, "B", low=0.0, low_open=True)

    def scorer(estimator: Any, X: Any, Y: Any) -> float:
        model, Xt = _final_model(estimator, X)
        Y_true = _labels.to_matrix(Y, model.state_.classes, model.n_labels_, "Y")
        ids = metrics.pad_ids(model.predict_topk(Xt, k)[0], k)  # k may exceed the labels
        inv_prop = None
        if metric in ("psp", "psndcg"):
            inv_prop = metrics.inverse_propensity(
                model.train_labels_, A, B, n_labels=Y_true.shape[1]
            )
        return float(metrics.evaluate(Y_true, ids, k, inv_prop)[_KEY[metric]][k - 1])

    scorer.__name__ = f"xmc_scorer_{metric}_at_{k}"
    scorer.__doc__ = f"{name} of the model's top-{k} labels (greater is better)."
    return scorer


def label_lists(Y: Any) -> np.ndarray:
    """A label matrix (n, L) as a 1-D object array of n int arrays, each row's label ids:
    the ``y`` that scikit-learn's model selection splits for a sparse ``Y`` (which its
    ``cross_val_score`` refuses). A model fitted on it takes the ids as label names
    (``classes_`` = the ids its training folds carry); labels a fold never saw in training
    count as misses. Memory: one small array per row."""
    M = _validation.check_labels(Y, "Y")
    M.sort_indices()
    out = np.empty(M.shape[0], dtype=object)
    out[:] = np.split(M.indices.astype(np.int64), M.indptr[1:-1])
    return out


def xmc_scorers(names: Iterable[str], **kwargs: Any) -> dict[str, Callable]:
    """``{name: xmc_scorer(name)}`` for several names: the ``scoring`` dict of multi-metric
    model selection (``GridSearchCV(..., scoring=xmc_scorers([...]), refit="precision@1")``)."""
    return {name: xmc_scorer(name, **kwargs) for name in names}


def _parse(name: str) -> tuple[str, int]:
    match = re.fullmatch(r"\s*([a-z]+)\s*@\s*(\d+)\s*", str(name).lower())
    if not match or match.group(1) not in SCORER_NAMES or int(match.group(2)) < 1:
        raise ValueError(
            f"Unknown scorer {name!r}; expected '<metric>@<k>' with metric one of "
            f"{list(SCORER_NAMES)} and k >= 1, e.g. 'precision@5'."
        )
    return match.group(1), int(match.group(2))


def _final_model(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The SLEEC model at the end of ``estimator`` (itself or a Pipeline's last step) and
    ``X`` transformed by the steps before it."""
    steps = getattr(estimator, "steps", None)
    if steps is None:
        model, Xt = estimator, X
    else:
        model, Xt = steps[-1][1], X
        for _, step in steps[:-1]:
            if step is not None and step != "passthrough":
                Xt = step.transform(Xt)
    if not (hasattr(model, "predict_topk") and hasattr(model, "classes_")):
        raise TypeError(
            f"xmc scorers need a fitted SLEEC (or a Pipeline ending in one); got "
            f"{type(model).__name__}."
        )
    return model, Xt
