"""The second stage (sleec.rerank and its kernels): rankers against LIBLINEAR through
scikit-learn, retrieval and scoring against dense brute force, the shortlist helpers by
hand, leave-one-out mining, and the estimator with the stage on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from conftest import NO_STAGE, TOY_ENSEMBLE
from sleec import SLEEC, rerank
from sleec._state import unit_centroids_T
from sleec.cluster_model import cluster_neighbors, prepare_features
from sleec.params import QueryConfig

STAGE = {**TOY_ENSEMBLE, "shortlist_votes": 6, "shortlist_centroids": 6}


def binary_problem(seed: int = 0, n: int = 300, d: int = 40):
    rng = np.random.default_rng(seed)
    X = normalize(sp.random(n, d, density=0.15, random_state=seed, format="csr", dtype=np.float32))
    y = (X @ rng.normal(size=d) + 0.3 * rng.normal(size=n) > 0).astype(int)
    return X, y


# ------------------------------------------------------------------------------- rankers
@pytest.mark.parametrize(
    ("loss", "reference"),
    [
        ("logistic", LogisticRegression(solver="liblinear", C=4.0, tol=1e-10, max_iter=10**4)),
        (
            "squared_hinge",
            LinearSVC(loss="squared_hinge", dual=True, C=4.0, tol=1e-10, max_iter=10**5),
        ),
    ],
)
def test_rankers_solve_liblinears_problem(loss, reference):
    """Every point a positive or a hard negative: the label's problem is LIBLINEAR's
    binary problem with its constant feature (intercept_scaling=1), to the solver's
    tolerance."""
    X, y = binary_problem()
    Y = sp.csr_matrix(y[:, None].astype(np.float32))
    negatives = np.where(y == 0, 0, -1)[:, None].astype(np.int32)
    found = rerank.fit_rankers(X, Y, negatives, loss=loss, C=4.0, tol=1e-9, max_iter=10**4)
    reference.fit(X, y)
    np.testing.assert_allclose(found.W.toarray()[0], reference.coef_[0], atol=1e-5)
    assert found.bias[0] == pytest.approx(reference.intercept_[0], abs=1e-5)
    assert found.trained.tolist() == [True]


def test_rankers_depend_on_their_own_problem_only():
    """Serial and parallel kernels, label blocks and a permuted label order give the same
    classifier per label; pruning drops the small weights."""
    X, y = binary_problem(seed=1)
    rng = np.random.default_rng(2)
    Y = sp.csr_matrix((rng.random((X.shape[0], 7)) < 0.2).astype(np.float32))
    negatives = rng.integers(-1, 7, size=(X.shape[0], 4)).astype(np.int32)
    negatives = rerank.negatives(negatives, Y)
    options = {"loss": "logistic", "C": 10.0, "seed": 3}
    full = rerank.fit_rankers(X, Y, negatives, parallel=False, **options)
    par = rerank.fit_rankers(X, Y, negatives, parallel=True, **options)
    blocks = [rerank.fit_rankers(X, Y, negatives, labels=b, **options) for b in ((0, 3), (3, 7))]
    stacked = sp.vstack([b.W for b in blocks]).toarray()
    for other in (par.W.toarray(), stacked):
        np.testing.assert_array_equal(full.W.toarray(), other)
    perm = np.array([4, 0, 6, 2, 1, 5, 3])  # label j of the permuted set is label perm[j]
    where = np.argsort(perm)
    permuted = rerank.fit_rankers(
        X, Y[:, perm], np.where(negatives >= 0, where[np.maximum(negatives, 0)], -1), **options
    )
    np.testing.assert_array_equal(permuted.W.toarray(), full.W.toarray()[perm])
    np.testing.assert_array_equal(permuted.bias, full.bias[perm])
    pruned = rerank.fit_rankers(X, Y, negatives, threshold=0.5, **options)
    kept = np.abs(full.W.toarray()) >= 0.5
    np.testing.assert_array_equal(pruned.W.toarray(), np.where(kept, full.W.toarray(), 0))


def test_a_label_without_points_is_untrained():
    X, _ = binary_problem()
    Y = sp.csr_matrix(np.zeros((X.shape[0], 2), np.float32))
    Y[0, 1] = 1.0
    found = rerank.fit_rankers(X, Y, np.full((X.shape[0], 1), -1, np.int32), loss="logistic", C=1)
    assert found.trained.tolist() == [False, True] and found.W[0].nnz == 0


# ------------------------------------------------------------------- shortlist helpers
def test_union_keeps_first_positions_and_drops_repeats():
    first = np.array([[3, 1, -1], [2, 2, 5]])
    second = np.array([[1, 4], [5, -1]])
    np.testing.assert_array_equal(
        rerank.union(first, second), [[3, 1, -1, -1, 4], [2, -1, 5, -1, -1]]
    )


def test_complete_fills_short_rows_with_the_fallback_it_lacks():
    rows = np.array([[3, -1, 1, -1], [2, 5, 7, -1], [-1, -1, -1, -1]])
    fallback = np.array([1, 4, 2, 0])  # by preference
    # row 0 holds 2 of 3: gains 4 (1 it holds); row 1 holds 3: unchanged; row 2 gains 1, 4, 2
    np.testing.assert_array_equal(
        rerank.complete(rows, fallback, 3), [[3, 4, 1, -1], [2, 5, 7, -1], [1, 4, 2, -1]]
    )
    # a floor above the slots fills every slot; an empty fallback changes nothing
    np.testing.assert_array_equal(rerank.complete(rows[:1], fallback, 9), [[3, 4, 1, 2]])
    np.testing.assert_array_equal(rerank.complete(rows, fallback[:0], 3), rows)


def test_negatives_remove_own_labels():
    Y = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 1]], np.float32))
    candidates = np.array([[0, 1, 3, -1], [3, 2, 0, 1]])
    np.testing.assert_array_equal(rerank.negatives(candidates, Y), [[-1, 1, 3, -1], [-1, 2, 0, 1]])


def test_centroid_topk_is_the_brute_force_cosine_ranking():
    X, _ = binary_problem(seed=4, n=120)
    rng = np.random.default_rng(5)
    Y = sp.csr_matrix((rng.random((120, 9)) < 0.25).astype(np.float32))
    C_T = unit_centroids_T((Y.T @ X).tocsr())
    ids, cos = rerank.centroid_topk(X[:30], C_T, 4)
    dense = X[:30].toarray() @ C_T.toarray()
    for i in range(30):
        order = np.lexsort((np.arange(9), -dense[i]))
        order = [j for j in order if dense[i, j] != 0][:4]
        assert ids[i][ids[i] >= 0].tolist() == order
        np.testing.assert_allclose(cos[i][: len(order)], dense[i, order], rtol=1e-5)


def test_pair_scores_are_sigmoids_of_the_margins():
    X, _ = binary_problem(seed=6, n=50)
    rng = np.random.default_rng(7)
    W = sp.csr_matrix(rng.normal(size=(5, X.shape[1])) * (rng.random((5, X.shape[1])) < 0.3))
    rankers = rerank.Rankers(
        sp.csr_matrix(W, dtype=np.float32),
        rng.normal(size=5).astype(np.float32),
        np.array([True, True, False, True, True]),
    )
    cand = rng.integers(-1, 5, size=(50, 3)).astype(np.int32)
    got = rerank.pair_scores(X, cand, rankers)
    margins = X.toarray() @ W.T.toarray() + rankers.bias
    expect = 1 / (1 + np.exp(-np.take_along_axis(margins, np.maximum(cand, 0), axis=1)))
    expect[cand < 0] = 0
    expect[cand == 2] = np.nan
    np.testing.assert_allclose(got, expect, rtol=1e-5)
    fused = rerank.fuse(np.full(got.shape, 0.5, np.float32), got, 0.25)
    np.testing.assert_allclose(fused, np.where(cand == 2, 0.5, 0.125 + 0.75 * expect), rtol=1e-5)


# -------------------------------------------------------------------------------- mining
def test_a_training_point_is_not_its_own_neighbour(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    model = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, Ytr)
    features, _ = prepare_features(Xtr, True)
    config = QueryConfig.from_params(model.get_params())
    local = model.learners_[0].locals[0]
    rows = local.rows[:40].astype(np.int64)
    plain, _ = cluster_neighbors(features[rows], local, config)
    alone, weights = cluster_neighbors(features[rows], local, config, self_rows=rows)
    assert (plain[:, 0] == rows).all()  # a stored point is nearest itself...
    assert not (alone == rows[:, None]).any()  # ...unless it is left out
    six, _ = cluster_neighbors(features[rows], local, dataclasses.replace(config, n_neighbors=6))
    others = np.array([[j for j in near if j != r][:5] for near, r in zip(six, rows, strict=True)])
    np.testing.assert_array_equal(alone, others)  # the next ones move up
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-6)


# ------------------------------------------------------------------ the estimator with it
@pytest.fixture(scope="module")
def staged(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    return SLEEC(**STAGE, random_state=0).fit(Xtr, Ytr)


def test_scores_mix_votes_and_rankers(staged, toy_xmc):
    *_, Xte, _, _ = toy_xmc
    ids, scores = staged.predict_topk(Xte[:30], 4)
    mix = staged.ranker_mix
    for i, found in enumerate(staged.explain(Xte[:30], 4)):
        assert [lab.label for lab in found.labels] == ids[i][ids[i] >= 0].tolist()
        for rank, lab in enumerate(found.labels):
            assert np.float32(lab.score) == scores[i, rank]
            assert lab.vote_share == pytest.approx(sum(v.weight for v in lab.votes), abs=1e-6)
            assert lab.score == pytest.approx(
                mix * lab.vote_share + (1 - mix) * lab.ranker, rel=1e-5
            )
    assert scores[ids >= 0].min() >= 0 and scores.max() <= 1
    proba = staged.predict_proba(Xte[:30])  # the same score for every shortlisted label
    rows, cols = np.nonzero(ids >= 0)
    np.testing.assert_allclose(proba[rows, ids[rows, cols]], scores[rows, cols], rtol=1e-5)


def test_a_point_reaching_few_labels_still_gets_k_of_them(toy_xmc, monkeypatch):
    Xtr, Ytr, *_ = toy_xmc
    model = SLEEC(**{**STAGE, "n_neighbors": 1}, random_state=0).fit(Xtr, Ytr)
    one_word = sp.identity(Xtr.shape[1], format="csr", dtype=np.float32)  # very short texts
    full, _ = model.predict_topk(one_word, 6)
    with monkeypatch.context() as patch:
        patch.setattr(rerank, "complete", lambda rows, fallback, floor: rows)
        reached, _ = model.predict_topk(one_word, 6)
    short = np.flatnonzero((reached >= 0).sum(axis=1) < 6)
    assert short.size  # one neighbour per learner and one word: some rows reach < 6 labels
    assert (full >= 0).all() and all(len(set(row)) == 6 for row in full)
    by_frequency = model.state_.labels_by_frequency.tolist()
    for i in short:  # the shortlist is what they reached, then the most frequent they lack
        have = set(reached[i][reached[i] >= 0].tolist())
        added = [lab for lab in by_frequency if lab not in have][: 6 - len(have)]
        assert set(full[i].tolist()) == have | set(added)


def test_the_stage_is_one_parameter_away(staged, toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc
    plain = SLEEC(**{**STAGE, **NO_STAGE}, random_state=0).fit(Xtr, Ytr)
    assert plain.state_.second_stage is None
    # the same learners (the stage's seed is drawn after theirs), the stage switched off
    switched = SLEEC(**STAGE, random_state=0).fit(Xtr, Ytr).set_params(**NO_STAGE)
    for got, want in zip(switched.predict_topk(Xte, 5), plain.predict_topk(Xte, 5), strict=True):
        np.testing.assert_array_equal(got, want)
    assert SLEEC.from_preset("bibtex").shortlist_votes == 0  # presets: the authors' method


def test_stage_save_load_and_a_version_2_file(staged, toy_xmc, tmp_path):
    from sleec import _persist

    *_, Xte, _, _ = toy_xmc
    staged.save(tmp_path / "m.npz")
    loaded = SLEEC.load(tmp_path / "m.npz")
    for got, want in zip(loaded.predict_topk(Xte, 5), staged.predict_topk(Xte, 5), strict=True):
        np.testing.assert_array_equal(got, want)
    # a file of format version 2 (no stage, no stage parameters) still loads, stage off
    params, arrays = _persist.load_model(tmp_path / "m.npz")
    for key in list(arrays):
        if key.startswith(("stage_", "centroid_", "rank_")) or key == "fit_info":
            del arrays[key]
    old = {k: v for k, v in params.items() if not k.startswith(("shortlist", "ranker"))}
    _persist.FORMAT_VERSION, saved = 2, _persist.FORMAT_VERSION
    try:
        _persist.save_model(tmp_path / "v2.npz", old, arrays)
    finally:
        _persist.FORMAT_VERSION = saved
    v2 = SLEEC.load(tmp_path / "v2.npz")
    assert v2.state_.second_stage is None and v2.shortlist_votes == v2.shortlist_centroids == 0


def test_threads_do_not_change_the_stage(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    one = SLEEC(**STAGE, random_state=0, n_jobs=1).fit(Xtr, Ytr).state_.second_stage
    two = SLEEC(**STAGE, random_state=0, n_jobs=2).fit(Xtr, Ytr).state_.second_stage
    for name in ("labels", "features", "bias", "trained"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    for name in ("W", "centroid_sums"):
        assert (getattr(one, name) != getattr(two, name)).nnz == 0


def test_mining_in_batches_equals_one_batch(staged, toy_xmc, monkeypatch):
    # Mining row batches (of 37 points here, of 16384 by default) changes no negative:
    # every step is row-wise (leave-one-out votes, centroid retrieval, union, own labels).
    from sleec import _fit

    Xtr, Ytr, *_ = toy_xmc
    features, routing = prepare_features(Xtr, True)
    params = staged.validated_params()
    whole = _fit.mine_negatives(features, routing, Ytr, staged.learners_, params)
    monkeypatch.setattr(_fit, "_MINING_BATCH", 37)
    batched = _fit.mine_negatives(features, routing, Ytr, staged.learners_, params)
    assert whole.negatives.shape == (Xtr.shape[0], 12)
    assert (whole.negatives >= 0).sum() > 5 * Xtr.shape[0]  # measured 2651 of 4800 slots
    np.testing.assert_array_equal(batched.negatives, whole.negatives)


def test_partial_fit_gives_new_labels_a_centroid_and_no_ranker(staged, toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc
    model = SLEEC(**STAGE, random_state=0).fit(Xtr, Ytr)
    n_labels = Ytr.shape[1]
    X_new = Xte[:10]
    Y_new = sp.csr_matrix(
        (np.ones(10, np.float32), (np.arange(10), np.full(10, n_labels))), shape=(10, n_labels + 1)
    )
    model.partial_fit(X_new, Y_new)
    stage = model.state_.second_stage
    assert stage.labels[-1] == n_labels and not stage.trained[-1] and stage.W[-1].nnz == 0
    assert stage.centroid_sums[-1].nnz > 0
    ids, _ = model.predict_topk(X_new, 5)
    assert (ids == n_labels).any(axis=1).all()  # near-duplicates find the new label


def test_feature_major_margins_equal_label_major_ones(staged, toy_xmc):
    """The two kernel orders sum the same terms in the same order: identical margins."""
    from sleec._rank_kernels import pair_margins, pair_margins_by_feature

    *_, Xte, _, _ = toy_xmc
    stage = staged.state_.second_stage
    X = stage.columns(prepare_features(Xte, True)[0])
    rng = np.random.default_rng(8)
    cand = np.array([rng.permutation(stage.labels.size)[:6] for _ in range(X.shape[0])])
    cand = np.where(rng.random(cand.shape) < 0.2, -1, cand).astype(np.int32)  # unique per row
    a, b = (np.empty(cand.shape, np.float32) for _ in range(2))
    W, W_T = stage.W, stage.W_T
    pair_margins(X.indptr, X.indices, X.data, cand, W.indptr, W.indices, W.data, stage.bias,
                 X.shape[1], 8, a)  # fmt: skip
    pair_margins_by_feature(X.indptr, X.indices, X.data, cand, W_T.indptr, W_T.indices,
                            W_T.data, stage.bias, W.shape[0], 8, b)  # fmt: skip
    np.testing.assert_array_equal(a, b)
