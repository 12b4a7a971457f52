"""SLEEC.partial_fit: new training points (and labels) vote without retraining."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import TOY_ENSEMBLE, TOY_N_FEATURES, TOY_N_LABELS
from sleec import SLEEC
from sleec._state import FittedState, SecondStage, half_precision
from sleec.cluster_model import ensemble_votes, prepare_features
from sleec.estimator import _grow_stage
from sleec.params import QueryConfig


def new_group(n: int, seed: int) -> sp.csr_matrix:
    """Points of a new topic: 3 of 5 fresh words (columns 95-99 are toy noise words nobody
    uses much) at high weight, plus 2 noise words, so they stand apart from the toy groups."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, TOY_N_FEATURES), np.float32)
    for i in range(n):
        X[i, 95 + rng.choice(5, 3, replace=False)] = 3.0
        X[i, 60 + rng.choice(30, 2, replace=False)] = 0.5
    return sp.csr_matrix(X)


@pytest.fixture
def fitted(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    return SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, Ytr)


def test_a_new_label_is_predicted_for_near_duplicates(fitted, toy_xmc):
    X_new = new_group(20, seed=1)
    Y_new = sp.csr_matrix(
        (np.ones(20, np.float32), (np.arange(20), np.full(20, TOY_N_LABELS))),
        shape=(20, TOY_N_LABELS + 1),
    )
    fitted.partial_fit(X_new, Y_new)
    assert fitted.n_labels_ == TOY_N_LABELS + 1 and fitted.train_labels_.shape == (420, 21)
    near_duplicates = new_group(10, seed=2)
    ids, scores = fitted.predict_topk(near_duplicates, 1)
    assert np.all(ids[:, 0] == TOY_N_LABELS)  # measured: all 10


def test_predictions_far_from_the_new_points_do_not_change(fitted, toy_xmc):
    # A point none of whose neighbours (in any learner) is a new point keeps its labels and
    # (up to rounding) its scores; the new topic sits apart from most toy points.
    *_, Xte, _, _ = toy_xmc
    before = fitted.predict_topk(Xte, 5)
    fitted.partial_fit(
        new_group(20, seed=1),
        sp.csr_matrix(
            (np.ones(20, np.float32), (np.arange(20), np.full(20, TOY_N_LABELS))),
            shape=(20, TOY_N_LABELS + 1),
        ),
    )
    after = fitted.predict_topk(Xte, 5)
    features, routing = prepare_features(Xte, True)
    votes = ensemble_votes(
        features, routing, fitted.learners_, QueryConfig.from_params(fitted.validated_params()), 420
    )
    far = np.asarray(votes[:, 400:].sum(axis=1)).ravel() == 0
    assert far.mean() > 0.6  # measured 0.745
    np.testing.assert_array_equal(before[0][far], after[0][far])
    # The new topic lies beyond the clusters' 8-bit grids, so their stored embeddings are
    # re-rounded to wider ones (sleec._quantize.extend_columns): scores move by less than
    # the rounding (measured 6e-4).
    np.testing.assert_allclose(before[1][far], after[1][far], atol=2e-3)


def test_new_points_vote_like_the_training_points_they_copy(fitted, toy_xmc):
    # Adding a copy of a training point (and its labels) doubles its vote: its own labels'
    # scores rise for the point itself.
    Xtr, Ytr, *_ = toy_xmc
    proba_before = fitted.predict_proba(Xtr[:1])[0]
    fitted.partial_fit(Xtr[:1], Ytr[:1])
    proba_after = fitted.predict_proba(Xtr[:1])[0]
    mine = Ytr[0].indices
    assert np.all(proba_after[mine] >= proba_before[mine] - 1e-6)  # float32 sums
    assert np.any(proba_after[mine] > proba_before[mine] + 0.01)
    for learner in fitted.learners_:  # the copy joined exactly one cluster per learner
        assert sum(400 in loc.rows for loc in learner.locals) == 1


def test_partial_fit_then_save_and_load_equals_the_model_in_memory(fitted, toy_xmc, tmp_path):
    *_, Xte, _, _ = toy_xmc
    fitted.partial_fit(
        new_group(15, seed=3), sp.csr_matrix(np.eye(15, TOY_N_LABELS + 2, TOY_N_LABELS - 5))
    )
    fitted.save(tmp_path / "grown.npz")
    loaded = SLEEC.load(tmp_path / "grown.npz")
    assert loaded.n_labels_ == TOY_N_LABELS + 2
    for a, b in zip(fitted.predict_topk(Xte, 7), loaded.predict_topk(Xte, 7), strict=True):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_of_a_version_3_model_keeps_its_float16_embeddings(fitted, toy_xmc):
    # A model read from a version-3 file (float16 E and W, no grids) adds float16
    # embeddings: its old values stay as they are and the file keeps 2 bytes a value.
    a = fitted.state_.to_arrays()
    v3 = FittedState.from_arrays(a)
    locs = [loc for lr in v3.learners for loc in lr.locals]
    a["E"] = half_precision(np.vstack([loc.E for loc in locs])).astype(np.float16)
    W = sp.vstack([loc.W for loc in locs], format="csr")
    if "W_dense" in a:
        a["W_dense"] = half_precision(W.toarray()).astype(np.float16)
    else:
        a["W_data"] = half_precision(W.data).astype(np.float16)
    del a["E_grid"], a["W_scale"]
    fitted.state_ = FittedState.from_arrays(a)
    old = [loc.E.copy() for lr in fitted.state_.learners for loc in lr.locals]
    fitted.partial_fit(
        new_group(20, seed=1),
        sp.csr_matrix(
            (np.ones(20, np.float32), (np.arange(20), np.full(20, TOY_N_LABELS))),
            shape=(20, TOY_N_LABELS + 1),
        ),
    )
    grown = [loc for lr in fitted.state_.learners for loc in lr.locals]
    for before, loc in zip(old, grown, strict=True):
        assert loc.E_grid is None
        np.testing.assert_array_equal(loc.E[: before.shape[0]], before)
    saved = fitted.state_.to_arrays()
    assert saved["E"].dtype == np.float16 and "E_grid" not in saved


def test_partial_fit_keeps_the_centroid_sums_in_float32():
    # float16 would drop 0.1 added to a sum of 700.5 (its step there is 0.5)
    stage = SecondStage(
        np.array([0], np.int32),
        np.array([0], np.int32),
        sp.csr_matrix(np.array([[700.5]], np.float32)),
        sp.csr_matrix(np.array([[0.3]], np.float32)),
        np.zeros(1, np.float32),
        np.ones(1, bool),
    )
    grown = _grow_stage(
        stage, sp.csr_matrix(np.array([[0.1]], np.float32)), sp.csr_matrix(np.ones((1, 1))), 1
    )
    assert grown.centroid_sums.dtype == np.float32
    assert grown.centroid_sums[0, 0] == np.float32(700.5) + np.float32(0.1)


def test_partial_fit_with_names_appends_new_names(toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc
    names = [[f"t{j:02d}" for j in Ytr[i].indices] for i in range(Ytr.shape[0])]
    model = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, names)
    known = model.classes_.tolist()
    model.partial_fit(new_group(20, seed=4), [["zebra", "aardvark"]] * 20)
    assert model.classes_.tolist() == known + ["aardvark", "zebra"]  # known ids kept
    assert model.predict_labels(new_group(5, seed=5), 2)[0] == ["aardvark", "zebra"]
    with pytest.raises(
        ValueError, match="Y holds a label matrix, but the model was fitted on label names"
    ):
        model.partial_fit(Xte[:2], Ytr[:2])


def test_partial_fit_refuses_another_feature_count(fitted, toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    with pytest.raises(ValueError, match=r"X has 99 features, but SLEEC is expecting 100"):
        fitted.partial_fit(Xtr[:3, :99], Ytr[:3])
    with pytest.raises(ValueError, match="inconsistent numbers of rows: 3 != 2"):
        fitted.partial_fit(Xtr[:3], Ytr[:2])
    assert fitted.train_labels_.shape[0] == 400  # nothing was added


def test_partial_fit_on_an_unfitted_model_fits_it(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    a = SLEEC(**TOY_ENSEMBLE, random_state=0).partial_fit(Xtr, Ytr)
    b = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, Ytr)
    np.testing.assert_array_equal(a.predict_topk(Xtr, 3)[0], b.predict_topk(Xtr, 3)[0])


# ------------------------------------------------------- the command line and text pipelines
def test_cli_partial_fit_equals_the_python_call(toy_xmc, tmp_path, capsys):
    from sleec import cli
    from sleec.datasets import write_xc

    Xtr, Ytr, *_ = toy_xmc
    X_new = new_group(12, seed=5)
    Y_new = sp.csr_matrix(
        (np.ones(12, np.float32), (np.arange(12), np.full(12, TOY_N_LABELS))),
        shape=(12, TOY_N_LABELS + 1),
    )
    SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, Ytr).save(tmp_path / "m.npz")
    write_xc(tmp_path / "new.txt", X_new, Y_new)
    argv = ["partial-fit", "--model", tmp_path / "m.npz", "--train", tmp_path / "new.txt"]
    assert cli.main([str(a) for a in [*argv, "--out", tmp_path / "grown.npz"]]) == 0
    assert "added 12 points (412 in all, 21 labels)" in capsys.readouterr().err
    expected = SLEEC.load(tmp_path / "m.npz").partial_fit(X_new, Y_new)
    grown = SLEEC.load(tmp_path / "grown.npz")
    Xq = new_group(5, seed=6)
    for got, want in zip(grown.predict_topk(Xq, 3), expected.predict_topk(Xq, 3), strict=True):
        np.testing.assert_array_equal(got, want)
    assert cli.main([str(a) for a in argv]) == 0  # no --out: the model file itself
    assert SLEEC.load(tmp_path / "m.npz").train_labels_.shape == (412, 21)


def test_partial_fit_pipeline_warns_about_words_outside_the_vocabulary():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    from sleec.exceptions import UnknownWordsWarning
    from sleec.text import partial_fit_pipeline

    docs = [f"alpha beta w{i % 7} w{i % 5}" for i in range(60)]
    tags = [["a"] if i % 2 else ["b"] for i in range(60)]
    pipe = make_pipeline(TfidfVectorizer(), SLEEC(**TOY_ENSEMBLE, random_state=0))
    partial_fit_pipeline(pipe, docs, tags)  # unfitted: fitted
    with pytest.warns(UnknownWordsWarning, match=r"2 distinct word\(s\) \(3 occurrence\(s\)\)"):
        partial_fit_pipeline(pipe, ["alpha gamma gamma", "beta delta"], [["c"], ["b"]])
    assert pipe[-1].classes_.tolist() == ["a", "b", "c"]
    assert pipe[-1].train_labels_.shape == (62, 3)


# ----------------------------------------------------- partial_fit refuses what save cannot store
@pytest.mark.parametrize(
    ("names", "new", "match"),
    [
        ([0, 1, 2, 3], ["1"], r"new label name\(s\) '1' \(str\) \(first in Y\[1\]\), but the "),
        ([0, 1, 2, 3], [1.5], r"1\.5 \(float\) .*label names are integers"),
        (["a", "b", "c", "d"], [7], r"7 \(int\) .*label names are strings"),
        ([True, False, True, False], [2], r"2 \(int\) .*label names are booleans"),
    ],
    ids=["str into ints", "float into ints", "int into strings", "int into booleans"],
)
def test_partial_fit_refuses_names_of_another_kind(toy_xmc, tmp_path, names, new, match):
    Xtr, _, _, _, _ = toy_xmc
    y = [[names[i % 4]] for i in range(Xtr.shape[0])]
    model = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, y)
    classes = model.classes_.copy()
    with pytest.raises(ValueError, match=match + r".*so it could not be saved"):
        model.partial_fit(new_group(3, seed=1), [[names[0]], [names[1], new[0]], new])
    np.testing.assert_array_equal(model.classes_, classes)  # nothing was added
    assert model.train_labels_.shape[0] == Xtr.shape[0]
    model.save(tmp_path / "m.npz")  # still a model that saves and loads
    np.testing.assert_array_equal(SLEEC.load(tmp_path / "m.npz").classes_, classes)


def test_partial_fit_takes_names_its_kind_holds(toy_xmc, tmp_path):
    # Integers added to real-number names are real numbers (as fit makes them): allowed.
    Xtr, _, _, _, _ = toy_xmc
    model = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, [[0.5 * (i % 4)] for i in range(400)])
    model.partial_fit(new_group(2, seed=1), [[7], [0.5]])
    assert model.classes_.tolist() == [0.0, 0.5, 1.0, 1.5, 7.0]
    model.save(tmp_path / "m.npz")
    assert SLEEC.load(tmp_path / "m.npz").classes_.tolist() == [0.0, 0.5, 1.0, 1.5, 7.0]


@pytest.mark.parametrize("column", [2**31, 2**31 + 5, 2**40])
def test_partial_fit_refuses_label_ids_beyond_int32(fitted, tmp_path, column):
    fitted.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    Y = sp.csr_matrix(([1.0, 1.0], ([0, 1], [3, column])), shape=(2, column + 1))
    with pytest.raises(
        ValueError,
        match=rf"Y has a label in column {column} \(first in row 1\); sleec stores label ids "
        r"as int32, so label columns must be at most 2147483647\.",
    ):
        fitted.partial_fit(new_group(2, seed=1), Y)
    assert fitted.n_labels_ == TOY_N_LABELS and fitted.train_labels_.shape[0] == 400
    fitted.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before


@pytest.mark.parametrize("bad", ["a,b", "a\u2028b", "a\x85b", " zebra", "", "a\tb"])
def test_partial_fit_refuses_label_names_the_outputs_cannot_write(toy_xmc, bad):
    Xtr, Ytr, *_ = toy_xmc
    model = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, [[f"t{i % 5}"] for i in range(400)])
    with pytest.raises(ValueError, match=r"Y\[2\] holds the label name .*; label names must be"):
        model.partial_fit(new_group(3, seed=1), [["t1"], ["zebra"], ["t2", bad]])
    assert model.classes_.tolist() == [f"t{j}" for j in range(5)]
    assert model.train_labels_.shape[0] == 400
