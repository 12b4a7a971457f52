"""scikit-learn's multi-label conventions with SLEEC, on the shipped WordNet verb glosses.

A TfidfVectorizer + SLEEC pipeline fitted on documents with string labels: label names out,
``predict`` as a 0/1 indicator that scikit-learn's metrics take, a grid search scored by
P@1, and ``check_estimator``. Run from the repository root:

    python examples/sklearn_conventions.py
"""

from __future__ import annotations

import warnings
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils.estimator_checks import check_estimator

from sleec import SLEEC
from sleec.datasets import read_text
from sleec.scoring import xmc_scorer

DATA = Path(__file__).resolve().parent / "data" / "wordnet_verbs.tsv.xz"


def main() -> None:
    docs, tags = read_text(DATA)
    docs, tags = docs[:4000], tags[:4000]
    fit_docs, fit_tags, test_docs, test_tags = docs[:3200], tags[:3200], docs[3200:], tags[3200:]
    pipe = make_pipeline(TfidfVectorizer(sublinear_tf=True), SLEEC(random_state=0))
    pipe.fit(fit_docs, fit_tags)
    model = pipe[-1]
    print("classes_:", len(model.classes_), model.classes_[:2])
    print("predict_labels:", model.predict_labels(pipe[0].transform(test_docs[:2]), k=3))
    indicator = pipe.predict(test_docs)  # CSR 0/1, columns in classes_ order
    binarizer = MultiLabelBinarizer(classes=model.classes_).fit([])
    with warnings.catch_warnings():  # test labels never seen in training are dropped
        warnings.simplefilter("ignore", UserWarning)
        truth = binarizer.transform(test_tags)
    print(
        f"predict: {type(indicator).__name__} {indicator.dtype} {indicator.shape}, "
        f"f1_micro = {f1_score(truth, indicator, average='micro'):.4f}"
    )
    search = GridSearchCV(
        pipe, {"sleec__n_neighbors": [10, 25]}, scoring=xmc_scorer("precision@1"), cv=3
    )
    search.fit(fit_docs, fit_tags)
    print("GridSearchCV best:", search.best_params_, f"P@1 {search.best_score_:.4f}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(SLEEC())
    print("check_estimator(SLEEC()): passed")


if __name__ == "__main__":
    main()
