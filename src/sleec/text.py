"""From raw text and label names to predictions: a scikit-learn text pipeline saved safely.

SLEEC works on sparse features; for documents, put a scikit-learn vectoriser in front of it::

    from sklearn.pipeline import make_pipeline
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sleec import SLEEC
    from sleec.text import load_pipeline, save_pipeline

    pipe = make_pipeline(TfidfVectorizer(sublinear_tf=True), SLEEC())
    pipe.fit(docs, tags)                      # tags: lists of label names per document
    pipe[-1].predict_labels(pipe[0].transform(new_docs), k=5)   # or predict_text below
    save_pipeline(pipe, "tags.sleec.npz")     # one file, no pickle
    pipe = load_pipeline("tags.sleec.npz")

:func:`save_pipeline` stores the vectoriser's parameters (JSON), vocabulary (a string array)
and idf weights beside the model, so loading never runs code from the file.
TfidfVectorizer, CountVectorizer and HashingVectorizer with built-in options (no callable
tokenizer or preprocessor) can be stored. A checksum is not a signature, so loading checks
every stored setting against an allow-list with bounds (:mod:`sleec._vectorizer`: known
analyzers, norms and dtypes, n-grams of at most 10, a token pattern that runs in linear
time, finite idf weights >= 1) and refuses the file naming the setting; saving refuses what
loading would refuse. :func:`make_text_pipeline` builds the pipeline the
command line uses (``sleec train --text``).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline

from ._labels import check_stored_names
from ._vectorizer import vectorizer_width
from .estimator import SLEEC
from .exceptions import UnknownWordsWarning

__all__ = [
    "VECTORIZERS",
    "load_pipeline",
    "make_text_pipeline",
    "partial_fit_pipeline",
    "predict_text",
    "save_pipeline",
]

VECTORIZERS = ("tfidf", "hashing")
_HASHING_FEATURES = 2**20


def make_text_pipeline(vectorizer: str = "tfidf", *, min_df: int = 2, **params: Any) -> Pipeline:
    """``make_pipeline(vectoriser, SLEEC(**params))`` with the vectoriser of the CLI.

    ``"tfidf"``: TfidfVectorizer with sublinear tf, words of 2+ characters seen in at least
    ``min_df`` documents (default 2: a word seen once cannot help another document), float32
    values. ``"hashing"``: HashingVectorizer into 2**20 columns (no vocabulary to store: for
    huge or growing vocabularies), non-negative counts, L2 rows; ``min_df`` does not apply.
    """
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer

    from ._validation import check_int

    min_df = check_int(min_df, "min_df", low=1)
    if vectorizer == "tfidf":
        vec = TfidfVectorizer(sublinear_tf=True, min_df=min_df, dtype=np.float32)
    elif vectorizer == "hashing":
        vec = HashingVectorizer(
            n_features=_HASHING_FEATURES, alternate_sign=False, dtype=np.float32
        )
    else:
        raise ValueError(
            f"The 'vectorizer' parameter must be one of {list(VECTORIZERS)}. Got "
            f"{vectorizer!r} instead."
        )
    return make_pipeline(vec, SLEEC(**params))


def save_pipeline(pipeline: Pipeline, path: str | os.PathLike) -> None:
    """Save a fitted ``Pipeline(vectoriser, SLEEC)`` as one model file (atomic, no pickle).

    Raises TypeError when the pipeline is not a text vectoriser followed by a fitted SLEEC,
    or the vectoriser holds something that cannot be stored without pickle; ValueError when
    a label name could not be written in a prediction line (a model fitted before
    :data:`sleec._labels.NAME_RULE`: a comma, tab, line break, control character, or
    leading or trailing whitespace) or a vectoriser setting is outside the allow-list.
    """
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or not isinstance(steps[-1][1], SLEEC):
        raise TypeError(
            "save_pipeline expects a fitted Pipeline of two steps: a text vectoriser and a "
            f"SLEEC; got {type(pipeline).__name__}. Save a lone model with SLEEC.save."
        )
    vectorizer, model = steps[0][1], steps[1][1]
    check_stored_names(model.state_.classes, model.state_.train_labels)
    if model.state_.n_features != vectorizer_width(vectorizer):
        raise ValueError("the vectoriser's output width differs from the model's features")
    with_text = copy.copy(model)
    with_text.state_ = dataclasses.replace(model.state_, vectorizer=vectorizer)
    with_text.save(path)


def load_pipeline(path: str | os.PathLike) -> Pipeline:
    """The pipeline :func:`save_pipeline` wrote (a file without a vectoriser: TypeError),
    rebuilt by ``make_pipeline``: its steps are named after their classes
    (``tfidfvectorizer``, ``sleec``), whatever they were called when saved."""
    model = SLEEC.load(path)
    vectorizer = model.state_.vectorizer
    if vectorizer is None:
        raise TypeError(
            f"'{os.fspath(path)}' holds a model without a text vectoriser; load it with SLEEC.load"
        )
    model.state_ = dataclasses.replace(model.state_, vectorizer=None)
    return make_pipeline(vectorizer, model)


def partial_fit_pipeline(pipeline: Pipeline, docs: list[str], labels: Any) -> Pipeline:
    """:meth:`SLEEC.partial_fit` for a fitted ``Pipeline(vectoriser, SLEEC)`` (scikit-learn's
    Pipeline has no ``partial_fit``): the new documents go through the fitted vectoriser,
    which stays as it is (the model's features are its columns), and join the model with
    their labels (new names included). Words outside a vocabulary are ignored: a
    :class:`~sleec.exceptions.UnknownWordsWarning` counts them (a hashing vectoriser has
    no vocabulary and keeps every word). An unfitted pipeline is fitted instead.
    Returns the pipeline."""
    vectorizer, model = _steps(pipeline)
    if not hasattr(model, "state_"):
        return pipeline.fit(docs, labels)
    unknown, occurrences, size = _unknown_words(vectorizer, docs)
    if unknown:
        warnings.warn(
            f"{unknown} distinct word(s) ({occurrences} occurrence(s)) of the new documents "
            f"are not in the vectoriser's vocabulary of {size} words: the model ignores them "
            "(its features are the vocabulary's columns). Refit to learn them, or use a "
            "hashing vectoriser, whose columns cover every word.",
            UnknownWordsWarning,
            stacklevel=2,
        )
    model.partial_fit(vectorizer.transform(docs), labels)
    return pipeline


def _steps(pipeline: Pipeline) -> tuple[Any, SLEEC]:
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or not isinstance(steps[-1][1], SLEEC):
        raise TypeError(
            "expected a Pipeline of two steps, a text vectoriser and a SLEEC; got "
            f"{type(pipeline).__name__}"
        )
    return steps[0][1], steps[1][1]


def _unknown_words(vectorizer: Any, docs: list[str]) -> tuple[int, int, int]:
    """(distinct words, occurrences) of ``docs`` outside a fitted vectoriser's vocabulary,
    and the vocabulary's size; zeros for a vectoriser without one (hashing)."""
    vocabulary = getattr(vectorizer, "vocabulary_", None)
    if vocabulary is None:
        return 0, 0, 0
    analyze = vectorizer.build_analyzer()
    counts: dict[str, int] = {}
    for doc in docs:
        for term in analyze(doc):
            if term not in vocabulary:
                counts[term] = counts.get(term, 0) + 1
    return len(counts), sum(counts.values()), len(vocabulary)


def predict_text(pipeline: Pipeline, docs: list[str], k: int | None = None, **options: Any):
    """``(names, scores)`` of each document's top-``k`` labels (default ``top_k``): lists
    without padding. ``options`` go to :meth:`SLEEC.predict_topk` (``n_learners``,
    ``callback``, ``batch_size``)."""
    vectorizer, model = pipeline.steps[0][1], pipeline.steps[-1][1]
    ids, scores = model.predict_topk(vectorizer.transform(docs), k, **options)
    keep = ids >= 0
    names = model.classes_
    return (
        [names[row[m]].tolist() for row, m in zip(ids, keep, strict=True)],
        [s[m].tolist() for s, m in zip(scores, keep, strict=True)],
    )
