"""The Annif backend ``sleec`` itself; :mod:`sleec.annif` registers it and documents it.

This module is imported only when a project with ``backend=sleec`` is used (Annif asks its
backend table for the class), so Annif's start-up and its other projects do not import it.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import annif.util
import numpy as np
import scipy.sparse as sp
from annif.backend import hyperopt
from annif.exception import (
    ConfigurationException,
    NotInitializedException,
    NotSupportedException,
    OperationFailedException,
)
from annif.suggestion import SuggestionBatch

from .estimator import SLEEC
from .exceptions import ModelFormatError
from .params import PARAMS, params_from_strings
from .presets import preset_params
from .text import load_pipeline, make_text_pipeline, save_pipeline

if TYPE_CHECKING:
    from annif.corpus import Document, DocumentCorpus, SubjectSet
    from optuna.study.study import Study
    from optuna.trial import Trial
    from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["SleecBackend", "SleecHPObjective", "SleecOptimizer"]

SLEEC_NAMES = frozenset(p.name for p in PARAMS)
# Parameters a fitted model takes at prediction time (the others need `annif train`).
PREDICTION_NAMES = frozenset(
    ("n_neighbors", "n_probes", "metric", "weighting", "shortlist_votes", "shortlist_centroids")
    + ("ranker_mix", "n_jobs")
)
# Kernel threads of a prediction unless the project sets n_jobs. Annif predicts batches of
# at most 32 documents (one for a REST call) and parallelises across processes (--jobs);
# threads for so little work cost more than they save: on 2 busy cores one document took
# 160-230 ms with every core against 25-57 ms with one (see docs/annif.md).
PREDICTION_JOBS = 1
# annif hyperopt searches n_neighbors in [5, this] (log scale), at most the training size.
# On the archaeology dev split a search up to 200 ended at 199-200 in 30 trials.
MAX_HYPEROPT_NEIGHBORS = 1000
# Keys of a projects.cfg section that are Annif's own, not a backend's.
_ANNIF_KEYS = frozenset(
    ("name", "language", "backend", "analyzer", "vocab", "access", "transform", "limit")
    + ("allow_learn", "sources", "preset", "min_df", "ngram")
)
# Tokens of the project's analyzer, joined by spaces: the vectoriser splits on whitespace.
_TOKEN_PATTERN = r"(?u)\S+"


class SleecBackend(hyperopt.AnnifHyperoptBackend):
    """SLEEC (sparse local embeddings, with its second stage of per-label rankers) as an
    Annif backend; see :mod:`sleec.annif` for its parameters and files."""

    name = "sleec"

    MODEL_FILE = "sleec-model.npz"
    TRAIN_FILE = "sleec-train.npz"  # Annif's "*-train*" files do not count as a model

    # Annif's omikuji and svc defaults. min_df 1 rather than sleec train --text's 2: on a
    # dev split of the archaeology training part (4098 titles to train, 1025 to score),
    # min_df 1 / 2 / 3 gave annif eval NDCG 0.493 / 0.469 / 0.438 (short titles need their
    # rare words).
    DEFAULT_PARAMETERS = {"min_df": 1, "ngram": 1}

    # defaults for uninitialized instances
    _vectorizer: TfidfVectorizer | None = None
    _model: SLEEC | None = None
    _variant: tuple[tuple[tuple[str, str], ...], SLEEC] | None = None
    _warned: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ parameters
    def _owner(self) -> str:
        return f"Annif project '{self.project.project_id}'"

    def _sleec_params(self, params: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        """The SLEEC parameters among ``params`` (strings from projects.cfg or
        ``--backend-param``), converted by :func:`sleec.params.params_from_strings`."""
        given = {name: params[name] for name in names if name in params}
        try:
            return params_from_strings(given, owner=self._owner())
        except (TypeError, ValueError) as exc:
            raise ConfigurationException(str(exc), backend_id=self.backend_id) from None

    def _int_param(self, params: Mapping[str, Any], name: str, low: int) -> int:
        try:
            value = int(params[name])
        except (TypeError, ValueError):
            value = None
        if value is None or value < low:
            raise ConfigurationException(
                f"The '{name}' parameter of {self._owner()} must be an int >= {low}. "
                f"Got {params[name]!r} instead.",
                backend_id=self.backend_id,
            )
        return value

    def _warn_unknown(self, params: Mapping[str, Any]) -> None:
        """Warn once per key about keys that are neither Annif's nor SLEEC's (a typo is
        otherwise silently ignored)."""
        unknown = set(params) - SLEEC_NAMES - _ANNIF_KEYS - self._warned
        if not unknown:
            return
        self._warned = self._warned | unknown
        for key in sorted(unknown):
            hint = difflib.get_close_matches(key, SLEEC_NAMES, n=1)
            self.warning(
                f"ignoring parameter {key!r}: neither Annif's nor SLEEC's"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )

    def _estimator(self, params: Mapping[str, Any], jobs: int) -> SLEEC:
        """The SLEEC to fit: library defaults < ``preset`` < the project's SLEEC keys."""
        chosen = self._sleec_params(params, SLEEC_NAMES)
        preset = params.get("preset")
        base = {}
        if preset is not None:
            try:
                base = preset_params(str(preset).strip())
            except ValueError as exc:
                raise ConfigurationException(
                    f"The 'preset' parameter of {self._owner()}: {exc}",
                    backend_id=self.backend_id,
                ) from None
        model = SLEEC(**{**base, **chosen})
        if jobs > 0 and "n_jobs" not in chosen:
            model.set_params(n_jobs=jobs)
        return model

    # --------------------------------------------------------------------- text
    def _analyze(self, text: str) -> str:
        """The text as the project's analyzer tokenises and normalises it (lowercased
        first, as scikit-learn's vectorisers do before a tokenizer), tokens joined by
        spaces."""
        return " ".join(self.project.analyzer.tokenize_words(text.lower()))

    def _new_vectorizer(self, params: Mapping[str, Any]) -> TfidfVectorizer:
        """sleec's text vectoriser (:func:`sleec.text.make_text_pipeline`: sublinear tf-idf,
        float32) reading the analyzer's tokens."""
        min_df = self._int_param(params, "min_df", 1)
        ngram = self._int_param(params, "ngram", 1)
        vectorizer = make_text_pipeline("tfidf", min_df=min_df)[0]
        return vectorizer.set_params(token_pattern=_TOKEN_PATTERN, ngram_range=(1, ngram))

    def vectorize(self, texts: Iterable[str]) -> sp.csr_matrix:
        """Texts as the fitted model's features (call :meth:`initialize` first)."""
        assert self._vectorizer is not None, "initialize() loads the vectoriser"
        return self._vectorizer.transform([self._analyze(text) for text in texts])

    # -------------------------------------------------------------------- train
    def _train(self, corpus: DocumentCorpus | str, params: dict[str, Any], jobs: int = 0) -> None:
        self._warn_unknown(params)
        model = self._estimator(params, jobs)  # bad parameters fail before the work
        if corpus == "cached":
            self.info("reusing the vectorised training documents of the previous run")
            X, Y = self._load_train_data()
            vectorizer = self._load()[0]
            if X.shape[1] != len(vectorizer.vocabulary_):
                raise OperationFailedException(
                    f"the cached training data ({X.shape[1]} features) does not match the "
                    f"model's vocabulary ({len(vectorizer.vocabulary_)} terms); train "
                    "without --cached",
                    backend_id=self.backend_id,
                )
        else:
            assert not isinstance(corpus, str), f"unknown corpus {corpus!r}"
            if corpus.is_empty():
                raise NotSupportedException(
                    "Cannot train sleec project with no documents", backend_id=self.backend_id
                )
            texts, subject_sets = self._documents(corpus)
            if not texts:
                raise NotSupportedException(
                    "Cannot train sleec project: no document has subjects",
                    backend_id=self.backend_id,
                )
            self.info(f"vectorising {len(texts)} documents")
            vectorizer = self._new_vectorizer(params)
            try:
                X = vectorizer.fit_transform(texts)
            except ValueError as exc:  # e.g. min_df above the number of documents
                raise OperationFailedException(
                    f"cannot build the vocabulary: {exc}", backend_id=self.backend_id
                ) from None
            Y = _label_matrix(subject_sets, len(self.project.subjects))
        keep = np.flatnonzero(X.getnnz(axis=1))  # a document without a known word: no lesson
        self.info(
            f"training SLEEC on {keep.size} documents, {X.shape[1]} features, "
            f"{np.unique(Y[keep].indices).size} subjects"
        )
        model.fit(X[keep], Y[keep])
        model.set_params(n_jobs=self._sleec_params(params, ["n_jobs"]).get("n_jobs"))
        save_pipeline(_pipeline(vectorizer, model), os.path.join(self.datadir, self.MODEL_FILE))
        if corpus != "cached":
            annif.util.atomic_save(
                {"X": X, "Y": Y}, self.datadir, self.TRAIN_FILE, method=_save_train_data
            )
        self._vectorizer, self._model, self._variant = vectorizer, model, None

    def _documents(self, corpus: DocumentCorpus) -> tuple[list[str], list[SubjectSet]]:
        texts, subject_sets = [], []
        for doc in corpus.documents:
            if doc.subject_set:  # a document without subjects teaches no label
                texts.append(self._analyze(doc.text))
                subject_sets.append(doc.subject_set)
        return texts, subject_sets

    def _load_train_data(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        path = os.path.join(self.datadir, self.TRAIN_FILE)
        if not os.path.exists(path):
            raise NotInitializedException(
                f"cached training data {path} not found; train without --cached first",
                backend_id=self.backend_id,
            )
        with np.load(path, allow_pickle=False) as data:
            return _csr(data, "X"), _csr(data, "Y")

    # ------------------------------------------------------------------ predict
    def _load(self) -> tuple[TfidfVectorizer, SLEEC]:
        path = os.path.join(self.datadir, self.MODEL_FILE)
        if not os.path.exists(path):
            raise NotInitializedException(f"model {path} not found", backend_id=self.backend_id)
        self.debug(f"loading model from {path}")
        try:
            pipeline = load_pipeline(path)
        except (ModelFormatError, TypeError) as exc:
            raise OperationFailedException(
                f"cannot load {path} ({exc}); retrain the project", backend_id=self.backend_id
            ) from None
        return pipeline[0], pipeline[-1]

    def initialize(self, parallel: bool = False) -> None:
        if self._model is None:
            self._vectorizer, self._model = self._load()
            self._variant = None

    def _predictor(self, params: Mapping[str, Any]) -> SLEEC:
        """The model with the prediction-time parameters among ``params`` (projects.cfg,
        ``--backend-param``) applied: they need no retraining."""
        key = tuple(sorted((k, str(v)) for k, v in params.items() if k in PREDICTION_NAMES))
        variant = self._variant
        if variant is not None and variant[0] == key:
            return variant[1]
        changes = {"n_jobs": PREDICTION_JOBS, **self._sleec_params(params, PREDICTION_NAMES)}
        model = self._model
        assert model is not None, "initialize() loads the model"
        if any(model.get_params()[k] != v for k, v in changes.items()):
            model = copy.copy(model).set_params(**changes)
        self._variant = (key, model)
        return model

    def _suggest_batch(self, documents: list[Document], params: dict[str, Any]) -> SuggestionBatch:
        self._warn_unknown(params)
        X = self.vectorize(doc.text for doc in documents)
        return suggestion_batch(
            self._predictor(params), X, int(params["limit"]), self.project.subjects
        )

    # ----------------------------------------------------------------- hyperopt
    def get_hp_optimizer(self, corpus: DocumentCorpus, metric: str) -> SleecOptimizer:
        return SleecOptimizer(self, corpus, metric, SleecHPObjective)


def suggestion_batch(model: SLEEC, X: sp.csr_matrix, limit: int, subjects) -> SuggestionBatch:
    """Annif's suggestions for feature rows ``X``: each row's top ``limit`` subjects by
    SLEEC's score (a vote share, or its mix with a ranker's probability: in [0, 1] and
    comparable across documents); zero scores, padding and subjects the vocabulary no
    longer offers (deprecated, excluded) are left out. A row without a known word gets no
    suggestion (Annif's convention), not the label frequencies ``predict_topk`` gives it."""
    n_docs, n_subjects = X.shape[0], len(subjects)
    rows = np.flatnonzero(X.getnnz(axis=1))
    shape = (n_docs, n_subjects)
    if rows.size == 0 or limit < 1:
        return SuggestionBatch(sp.csr_array(shape, dtype=np.float32))
    ids, scores = model.predict_topk(X[rows], k=limit)
    keep = (ids >= 0) & (ids < n_subjects) & (scores > 0)
    where = np.nonzero(keep)
    cols = ids[where]
    usable = _usable_subjects(subjects, np.unique(cols))
    if usable is not None:
        where = tuple(w[usable[cols]] for w in where)
        cols = ids[where]
    data = np.minimum(scores[where], 1.0).astype(np.float32)
    return SuggestionBatch(sp.csr_array((data, (rows[where[0]], cols)), shape=shape))


def _usable_subjects(subjects, candidates: np.ndarray) -> np.ndarray | None:
    """A mask over subject ids that is False for the candidates the subject index refuses
    (IndexError: deprecated or excluded), or None when it refuses none."""
    refused = []
    for subject_id in candidates.tolist():
        try:
            subjects[subject_id]
        except IndexError:
            refused.append(subject_id)
    if not refused:
        return None
    mask = np.ones(len(subjects), dtype=bool)
    mask[refused] = False
    return mask


def _label_matrix(subject_sets: list[SubjectSet], n_subjects: int) -> sp.csr_matrix:
    """(n_docs, n_subjects) float32 0/1 CSR: column j is Annif's subject id j."""
    indptr = np.zeros(len(subject_sets) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(s) for s in subject_sets])
    indices = np.fromiter((i for s in subject_sets for i in s), dtype=np.int32, count=indptr[-1])
    data = np.ones(indices.size, dtype=np.float32)
    Y = sp.csr_matrix((data, indices, indptr), shape=(len(subject_sets), n_subjects))
    Y.sort_indices()
    return Y


def _pipeline(vectorizer: Any, model: SLEEC):
    from sklearn.pipeline import make_pipeline

    return make_pipeline(vectorizer, model)


def _save_train_data(matrices: Mapping[str, sp.csr_matrix], path: str) -> None:
    """The vectorised training documents as plain arrays (no pickle)."""
    arrays = {}
    for name, M in matrices.items():
        arrays.update(
            {
                f"{name}_data": M.data,
                f"{name}_indices": M.indices,
                f"{name}_indptr": M.indptr,
                f"{name}_shape": np.array(M.shape, dtype=np.int64),
            }
        )
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _csr(data: Mapping[str, np.ndarray], name: str) -> sp.csr_matrix:
    shape = tuple(int(n) for n in data[f"{name}_shape"])
    M = sp.csr_matrix(
        (data[f"{name}_data"], data[f"{name}_indices"], data[f"{name}_indptr"]), shape=shape
    )
    M.check_format(full_check=True)
    return M


# ---------------------------------------------------------------------- hyperopt
class SleecHPObjective(hyperopt.HPObjective):
    """One trial: the fitted model with other prediction-time parameters (no refit),
    evaluated by Annif's own metric on the validation documents."""

    @classmethod
    def objective(cls, trial: Trial, args: dict[str, Any]) -> float:
        import annif.eval

        changes = {
            "n_neighbors": trial.suggest_int("n_neighbors", 5, args["max_neighbors"], log=True)
        }
        if args["second_stage"]:
            changes["ranker_mix"] = trial.suggest_float("ranker_mix", 0.0, 1.0)
        model = copy.copy(args["model"]).set_params(**changes)
        batch = annif.eval.EvaluationBatch(args["subjects"])
        suggestions = suggestion_batch(model, args["X"], args["limit"], args["subjects"])
        batch.evaluate_many(suggestions, args["gold"])
        return batch.results(metrics=[args["metric"]])[args["metric"]]


class SleecOptimizer(hyperopt.HyperparameterOptimizer):
    """``annif hyperopt`` for sleec: searches the parameters a fitted model takes at
    prediction time (``n_neighbors``, and ``ranker_mix`` when the model has its second
    stage), so each trial costs one prediction pass over the validation documents."""

    def _prepare(self, n_jobs: int = 1) -> dict[str, Any]:
        be = self._backend
        be.initialize()
        texts, gold = [], []
        for doc in self._corpus.documents:
            texts.append(doc.text)
            gold.append(doc.subject_set)
        model = be._predictor(be.params)
        if n_jobs != 1:  # parallel trials: one kernel thread each
            model = copy.copy(model).set_params(n_jobs=1)
        return {
            "model": model,
            "X": be.vectorize(texts),
            "gold": gold,
            "subjects": be.project.subjects,
            "limit": int(be.params["limit"]),
            "metric": self._metric,
            "max_neighbors": max(5, min(MAX_HYPEROPT_NEIGHBORS, model.train_labels_.shape[0])),
            "second_stage": model.state_.second_stage is not None
            and model.shortlist_votes + model.shortlist_centroids > 0,
        }

    def _postprocess(self, study: Study) -> hyperopt.HPRecommendation:
        best = study.best_params
        lines = [f"n_neighbors={best['n_neighbors']}"]
        if "ranker_mix" in best:
            lines.append(f"ranker_mix={best['ranker_mix']:.4f}")
        return hyperopt.HPRecommendation(lines=lines, score=study.best_value)
