"""SLEEC in scikit-learn's world: the multi-label conventions, label names, scorers, model
selection, check_estimator, and text pipelines saved without pickle."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils.estimator_checks import check_estimator

from conftest import TOY_LABELS
from sleec import SLEEC
from sleec.metrics import evaluate, inverse_propensity
from sleec.scoring import label_lists, xmc_scorer, xmc_scorers
from sleec.text import load_pipeline, make_text_pipeline, predict_text, save_pipeline

SMALL = {"n_learners": 1, "n_components": 10, "n_graph_neighbors": 10, "n_neighbors": 5}
NAMES = ["animal", "dog", "cat", "bird", "fish"] + [f"topic{j}" for j in range(15)]


def toy_docs(X: sp.csr_matrix, Y: sp.csr_matrix) -> tuple[list[str], list[list[str]]]:
    """The toy's points as documents (a word per feature, repeated by its weight) and its
    labels as names."""
    docs = []
    for i in range(X.shape[0]):
        row = X[i]
        words = [
            f"w{j}"
            for j, v in zip(row.indices, row.data, strict=True)
            for _ in range(1 + int(2 * v))
        ]
        docs.append(" ".join(words))
    tags = [[NAMES[j] for j in Y[i].indices] for i in range(Y.shape[0])]
    return docs, tags


@pytest.fixture(scope="module")
def text_toy(toy_xmc):
    Xtr, Ytr, Xte, Yte, _ = toy_xmc
    return (*toy_docs(Xtr, Ytr), *toy_docs(Xte, Yte))


@pytest.fixture(scope="module")
def fitted(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    return SLEEC(**SMALL, random_state=0).fit(Xtr, Ytr)


# -------------------------------------------------------------------- multi-label outputs
def test_predict_works_with_sklearn_metrics_and_binarizer(fitted, toy_xmc):
    *_, Xte, Yte, _ = toy_xmc
    P = fitted.predict(Xte)
    assert f1_score(Yte, P, average="micro") == pytest.approx(
        f1_score(Yte.toarray(), P.toarray(), average="micro")
    )
    mlb = MultiLabelBinarizer(classes=list(range(Yte.shape[1]))).fit([])
    back = mlb.inverse_transform(P)
    ids, _ = fitted.predict_topk(Xte, 5)
    assert [sorted(t) for t in back] == [sorted(r[r >= 0].tolist()) for r in ids]


def test_string_tags_fit_predict_names_and_round_trip(text_toy, toy_xmc, tmp_path):
    Xtr, _, Xte, Yte, _ = toy_xmc
    _, tags, _, test_tags = text_toy
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, tags)
    assert model.classes_.tolist() == sorted(set(NAMES) & {t for row in tags for t in row})
    by_ids = SLEEC(**SMALL, random_state=0).fit(Xtr, toy_xmc[1])
    # Same model whatever the label form: the same labels with the same scores (ties may
    # order differently: they go to the smaller id, and ids follow the names' order).
    ids_named, s_named = model.predict_topk(Xte, 20)  # every label: no tie at the cut
    ids_plain, s_plain = by_ids.predict_topk(Xte, 20)
    np.testing.assert_array_equal(s_named, s_plain)
    for i in range(Xte.shape[0]):
        named = dict(zip(model.predict_labels(Xte[i], 20)[0], s_named[i].tolist(), strict=False))
        plain = {
            NAMES[j]: sc for j, sc in zip(ids_plain[i], s_plain[i].tolist(), strict=True) if j >= 0
        }
        assert named == plain
    assert model.score(Xte, test_tags) == pytest.approx(by_ids.score(Xte, Yte))
    model.save(tmp_path / "named.npz")
    loaded = SLEEC.load(tmp_path / "named.npz")
    assert loaded.classes_.tolist() == model.classes_.tolist()
    assert loaded.predict_labels(Xte[:20]) == model.predict_labels(Xte[:20])


def test_multiclass_targets_predict_one_label(toy_xmc):
    Xtr, _, Xte, _, groups = toy_xmc
    animals = np.array(["ant", "bee", "cow", "dog"])
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, animals[_groups(toy_xmc)])
    pred = model.predict(Xte)
    assert pred.shape == (Xte.shape[0],) and set(pred) <= set(animals)
    assert np.mean(pred == animals[groups]) >= 0.9  # measured 1.0
    assert model.classes_.tolist() == animals.tolist()


def _groups(toy_xmc) -> np.ndarray:
    """The toy's training groups, read off the anchor label (each group's first label)."""
    Ytr = toy_xmc[1]
    anchors = Ytr[:, ::TOY_LABELS].toarray()
    return np.argmax(anchors, axis=1)


def test_names_that_cannot_be_saved_are_refused_at_save(toy_xmc, tmp_path):
    Xtr, *_ = toy_xmc
    tags = [[("pair", i % 2)] for i in range(Xtr.shape[0])]  # tuples: hashable, not storable
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, tags)
    assert model.predict_labels(Xtr[:2])[0][0] in {("pair", 0), ("pair", 1)}
    with pytest.raises(TypeError, match="label names must be strings or numbers"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------- scorers
def test_scorers_match_the_metrics(fitted, toy_xmc):
    Xtr, Ytr, Xte, Yte, _ = toy_xmc
    ids, _ = fitted.predict_topk(Xte, 5)
    ref = evaluate(Yte, ids, 5, inverse_propensity(Ytr))
    for name, key in (("precision@1", "P"), ("ndcg@3", "nDCG"), ("psp@5", "PSP")):
        k = int(name[-1])
        assert xmc_scorer(name)(fitted, Xte, Yte) == pytest.approx(ref[key][k - 1])
    assert xmc_scorer("precision@5")(fitted, Xte, Yte) == pytest.approx(fitted.score(Xte, Yte))


def test_unseen_true_names_count_as_misses():
    # Every training point carries "a": the model's top label is "a" for any point.
    X = sp.csr_matrix(np.eye(3, dtype=np.float32))
    small = {"n_learners": 1, "n_components": 2, "n_graph_neighbors": 2, "n_neighbors": 3}
    model = SLEEC(**small, random_state=0).fit(X, [["a"], ["a"], ["a", "b"]])
    truth = [["a", "zzz_unseen"]]
    assert model.predict_labels(X[:1], 1) == [["a"]]
    # one hit of two true labels; nDCG@2 = 1 / (1 + 1 / log2(3)), not 1
    assert xmc_scorer("recall@1")(model, X[:1], truth) == pytest.approx(0.5)
    assert xmc_scorer("ndcg@2")(model, X[:1], truth) == pytest.approx(1 / (1 + 1 / np.log2(3)))
    assert xmc_scorer("precision@1")(model, X[:1], truth) == 1.0


def test_names_and_ids_give_the_same_numbers(fitted, toy_xmc):
    """The id model on truth with 3 label columns it never saw, against brute force on
    label names: unseen labels are misses in both forms."""
    Xtr, Ytr, Xte, Yte, _ = toy_xmc
    rng = np.random.default_rng(1)
    extra = sp.csr_matrix((rng.random((Yte.shape[0], 3)) < 0.3).astype(np.float32))
    Y_wide = sp.hstack([Yte, extra]).tocsr()
    names = [[f"L{j}" for j in Y_wide[i].indices] for i in range(Y_wide.shape[0])]
    predicted = [[f"L{j}" for j in row] for row in fitted.predict_labels(Xte, 5)]
    for name in ("recall@5", "ndcg@5", "precision@3"):
        metric, k = name.split("@")
        k = int(k)
        values = []
        for true, pred in zip(names, predicted, strict=True):
            hits = [p in true for p in pred[:k]]
            if metric == "recall":
                values.append(sum(hits) / len(true) if true else 0.0)
            elif metric == "precision":
                values.append(sum(hits) / k)
            else:
                dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
                ideal = sum(1 / np.log2(r + 2) for r in range(min(k, len(true))))
                values.append(dcg / ideal if true else 0.0)
        assert xmc_scorer(name)(fitted, Xte, Y_wide) == pytest.approx(np.mean(values))


@pytest.mark.parametrize("bad", ["precision", "p@5", "precision@0", "recall@x", 5])
def test_unknown_scorer_names(bad):
    with pytest.raises(ValueError, match=r"Unknown scorer .* expected '<metric>@<k>'"):
        xmc_scorer(bad)


def test_grid_search_over_text_pipeline_with_string_tags(text_toy):
    docs, tags, test_docs, test_tags = text_toy
    pipe = make_pipeline(TfidfVectorizer(), SLEEC(**SMALL, random_state=0))
    grid = GridSearchCV(
        pipe,
        {"sleec__n_neighbors": [3, 10]},
        scoring=xmc_scorers(["precision@1", "ndcg@3"]),
        refit="precision@1",
        cv=KFold(3, shuffle=True, random_state=0),
    )
    grid.fit(docs, tags)
    assert np.isfinite(grid.best_score_) and grid.best_score_ > 0.8
    assert grid.best_params_["sleec__n_neighbors"] in (3, 10)
    best = grid.best_estimator_
    assert best[-1].predict_labels(best[0].transform(test_docs[:3]))[0][0] in NAMES
    assert xmc_scorer("precision@1")(best, test_docs, test_tags) > 0.8


def test_cross_val_score_f1_on_an_indicator_matrix(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    Y = Ytr.toarray()  # scikit-learn wants a dense indicator for y here
    scores = cross_val_score(SLEEC(**SMALL, random_state=0), Xtr, Y, scoring="f1_micro", cv=3)
    assert np.all(np.isfinite(scores)) and scores.min() > 0.3


# ---------------------------------------------------------------------- check_estimator
def test_cross_val_score_with_label_lists_of_a_sparse_y(toy_xmc):
    """scikit-learn refuses a sparse y; label_lists(Y) gives the matrix form's numbers."""
    Xtr, Ytr, *_ = toy_xmc
    model = SLEEC(**SMALL, random_state=0)
    scorer = xmc_scorer("precision@3")
    with pytest.raises(ValueError, match="'y' parameter of cross_val_score"):
        cross_val_score(model, Xtr, Ytr, scoring=scorer, cv=KFold(3))
    got = cross_val_score(model, Xtr, label_lists(Ytr), scoring=scorer, cv=KFold(3))
    expected = [
        scorer(clone(model).fit(Xtr[tr], Ytr[tr]), Xtr[te], Ytr[te])
        for tr, te in KFold(3).split(Xtr)
    ]
    np.testing.assert_allclose(got, expected)
    lists = label_lists(Ytr)
    assert lists.dtype == object and [a.tolist() for a in lists[:3]] == [
        Ytr[i].indices.tolist() for i in range(3)
    ]


def test_check_estimator_passes_every_check():
    # No expected failures: SLEEC takes 1-D class labels too (one label per point), so the
    # classifier checks apply; it is not tagged a classifier (see __sklearn_tags__), only
    # described by classifier tags.
    failed = {}
    check_estimator(
        SLEEC(**SMALL, random_state=0),
        on_fail=None,
        callback=lambda **info: failed.update(
            {info["check_name"]: info["exception"]} if info["status"] == "failed" else {}
        ),
    )
    assert not failed, failed


# ------------------------------------------------------------------------- text pipelines
@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1),
        CountVectorizer(binary=True),
        HashingVectorizer(n_features=2**12, alternate_sign=False),
    ],
    ids=["tfidf", "count", "hashing"],
)
def test_save_and_load_pipeline_round_trip(text_toy, tmp_path, vectorizer):
    docs, tags, test_docs, _ = text_toy
    pipe = make_pipeline(clone(vectorizer), SLEEC(**SMALL, random_state=0)).fit(docs, tags)
    save_pipeline(pipe, tmp_path / "p.npz")
    loaded = load_pipeline(tmp_path / "p.npz")
    assert type(loaded[0]) is type(vectorizer)
    assert (loaded[0].transform(test_docs) != pipe[0].transform(test_docs)).nnz == 0
    assert predict_text(loaded, test_docs, 3) == predict_text(pipe, test_docs, 3)
    # The model part loads alone too; a plain model is not a pipeline file.
    assert SLEEC.load(tmp_path / "p.npz").classes_.tolist() == pipe[-1].classes_.tolist()
    pipe[-1].save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match="without a text vectoriser; load it with SLEEC.load"):
        load_pipeline(tmp_path / "m.npz")


def test_pipelines_that_need_pickle_are_refused(text_toy, tmp_path):
    docs, tags, *_ = text_toy
    pipe = make_pipeline(
        TfidfVectorizer(tokenizer=str.split, token_pattern=None),
        SLEEC(**SMALL, random_state=0),
    ).fit(docs, tags)
    with pytest.raises(TypeError, match=r"parameter tokenizer=.* cannot be saved without pickle"):
        save_pipeline(pipe, tmp_path / "p.npz")
    with pytest.raises(TypeError, match="expects a fitted Pipeline of two steps"):
        save_pipeline(pipe[-1], tmp_path / "p.npz")
    assert not list(tmp_path.iterdir())


def test_make_text_pipeline(text_toy):
    docs, tags, test_docs, test_tags = text_toy
    for kind in ("tfidf", "hashing"):
        pipe = make_text_pipeline(kind, **SMALL, random_state=0).fit(docs, tags)
        names, scores = predict_text(pipe, test_docs, 2)
        hits = np.mean([row[0] in truth for row, truth in zip(names, test_tags, strict=True)])
        assert hits > 0.8 and all(s == sorted(s, reverse=True) for s in scores)
    with pytest.raises(ValueError, match="The 'vectorizer' parameter must be one of"):
        make_text_pipeline("bert")


# -------------------------------------------------------------------- review follow-ups
def test_lists_of_integer_lists_are_label_names_not_a_matrix(toy_xmc):
    Xtr, *_ = toy_xmc
    ids = [[0], [1], [0]] * 133 + [[1]]  # equal lengths, only 0 and 1: still names
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, ids)
    assert model.classes_.tolist() == [0, 1] and model.train_labels_.nnz == 400


def test_dataframe_label_matrix_and_unshared_labels(toy_xmc):
    pd = pytest.importorskip("pandas")
    Xtr, Ytr, *_ = toy_xmc
    frame = pd.DataFrame(Ytr.toarray().astype(int))
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, frame)
    assert model.n_labels_ == Ytr.shape[1] and model.state_.classes is None
    Y = Ytr.copy()
    fitted = SLEEC(**SMALL, random_state=0).fit(Xtr, Y)
    assert not np.shares_memory(fitted.train_labels_.indices, Y.indices)


@pytest.mark.parametrize(
    "names", [[0.0, 1.0, 2.0, 3.0], [True, False, True, False]], ids=["floats", "bools"]
)
def test_numeric_class_names_save_and_load(toy_xmc, tmp_path, names):
    Xtr, _, Xte, _, groups = toy_xmc
    y = np.array(names)[_groups(toy_xmc)]
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, y)
    model.save(tmp_path / "m.npz")
    loaded = SLEEC.load(tmp_path / "m.npz")
    assert loaded.classes_.tolist() == sorted(set(names))
    np.testing.assert_array_equal(loaded.predict(Xte), model.predict(Xte))
    # score of a one-label-per-point model is its accuracy (P@1), not P@top_k
    assert model.score(Xte, np.array(names)[groups]) == pytest.approx(
        np.mean(model.predict(Xte) == np.array(names)[groups])
    )


def test_fit_time_normalisation_is_kept(toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc
    model = SLEEC(**SMALL, random_state=0).fit(Xtr, Ytr)
    before = model.predict_topk(Xte, 5)
    model.set_params(normalize=False)  # a fit-time setting: prediction keeps the fitted one
    after = model.predict_topk(Xte, 5)
    np.testing.assert_array_equal(before[0], after[0])


def test_tfidf_without_idf_is_refused_at_save(text_toy, tmp_path):
    docs, tags, *_ = text_toy
    pipe = make_pipeline(TfidfVectorizer(use_idf=False), SLEEC(**SMALL, random_state=0))
    pipe.fit(docs, tags)
    with pytest.raises(TypeError, match="use_idf=False cannot be restored without pickle"):
        save_pipeline(pipe, tmp_path / "p.npz")


def test_save_stores_the_validated_parameters(toy_xmc, tmp_path):
    from fractions import Fraction

    Xtr, Ytr, *_ = toy_xmc
    model = SLEEC(**SMALL, svp_step=Fraction(3, 2), random_state=0).fit(Xtr, Ytr)
    model.save(tmp_path / "m.npz")
    assert SLEEC.load(tmp_path / "m.npz").svp_step == 1.5
