"""SLEEC.explain: the votes behind each predicted label, checked against a brute-force
recomputation, and the scores against predict_topk (exactly)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import normalize

from conftest import TOY_ENSEMBLE
from sleec import SLEEC, cli
from sleec.datasets import write_xc
from sleec.explain import Explanation, LabelExplanation, format_explanation


@pytest.fixture(scope="module")
def model(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    return SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, Ytr)


def brute_force_votes(model: SLEEC, x) -> list[tuple]:
    """(train_row, learner, cluster, distance, weight) of every vote, from the fitted state
    with dense float64 arithmetic: route by the largest cosine to a centre, embed, take the
    n_neighbors nearest stored embeddings (ties by row), weight exp(-d^2 / median d^2)."""
    x = normalize(x)  # normalize=True: rows are embedded and routed as unit rows
    xn = x.toarray().ravel()
    votes = []
    for li, learner in enumerate(model.learners_):
        c = int(np.argmax(learner.centers.toarray() @ xn))
        loc = learner.locals[c]
        z = (x[:, loc.features] @ loc.W).toarray().ravel().astype(np.float64)
        d2 = ((loc.E.astype(np.float64) - z) ** 2).sum(axis=1)
        near = np.lexsort((np.arange(d2.size), d2))[: model.n_neighbors]
        scale = np.median(d2[near])
        w = np.exp(-d2[near] / (scale if scale > 0 else 1.0))
        w /= w.sum()
        votes += [
            (int(loc.rows[j]), li, c, float(np.sqrt(d2[j])), wj / 2)
            for j, wj in zip(near, w, strict=True)
        ]
    return votes


def test_votes_match_a_brute_force_recomputation(model, toy_xmc):
    *_, Xte, _, _ = toy_xmc
    explanations = model.explain(Xte[:15], k=4)
    Y = model.train_labels_.toarray()
    for i, found in enumerate(explanations):
        ref = brute_force_votes(model, Xte[i])
        for label in found.labels:
            expected = sorted((j, li, c) for j, li, c, _, _ in ref if Y[j, label.label])
            got = sorted((v.train_row, v.learner, v.cluster) for v in label.votes)
            assert got == expected
            by_key = {(j, li): (d, w) for j, li, _, d, w in ref}
            for v in label.votes:
                d, w = by_key[(v.train_row, v.learner)]
                assert v.distance == pytest.approx(d, rel=1e-6, abs=1e-9)
                assert v.weight == pytest.approx(w, rel=1e-6)
            assert label.score == pytest.approx(
                sum(w for j, _, _, _, w in ref if Y[j, label.label]), rel=1e-6
            )


def test_scores_equal_predict_topk_exactly_and_shares_add_up(model, toy_xmc):
    *_, Xte, _, _ = toy_xmc
    ids, scores = model.predict_topk(Xte, 6)
    # scores are shares of votes in [0, 1]: float32 sums that round above 1 are clipped
    assert scores[ids >= 0].max() == 1.0 and (scores[ids >= 0] >= 0).all()
    for i, found in enumerate(model.explain(Xte, k=6)):
        assert [lab.label for lab in found.labels] == ids[i][ids[i] >= 0].tolist()
        for rank, lab in enumerate(found.labels):
            assert np.float32(lab.score) == scores[i, rank]  # bit for bit
            assert sum(v.share for v in lab.votes) == pytest.approx(1.0, rel=1e-6)
            assert all(
                a.weight >= b.weight for a, b in zip(lab.votes[:-1], lab.votes[1:], strict=True)
            )


def test_names_json_and_text(toy_xmc):
    Xtr, Ytr, Xte, *_ = toy_xmc
    tags = [[f"tag{j}" for j in Ytr[i].indices] for i in range(Ytr.shape[0])]
    named = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, tags)
    (found,) = named.explain(Xte[:1], k=2)
    assert found.labels[0].name == named.predict_labels(Xte[:1], 2)[0][0]
    data = json.loads(json.dumps(found.to_dict()))
    assert data["labels"][0]["name"].startswith("tag") and data["labels"][0]["votes"]
    text = format_explanation(found, max_votes=2)
    assert "1. tag" in text and "training row" in text and "share" in text


def test_cli_explain(model, toy_xmc, tmp_path, capsys):
    *_, Xte, Yte, _ = toy_xmc
    write_xc(tmp_path / "test.txt", Xte, Yte)
    model.save(tmp_path / "m.npz")
    argv = [
        "explain",
        "--model",
        str(tmp_path / "m.npz"),
        "--test",
        str(tmp_path / "test.txt"),
        "--row",
        "17",
        "--k",
        "3",
    ]
    assert cli.main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("row 17: ") and text.count("score") == 3
    assert cli.main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ids, scores = model.predict_topk(Xte[17], 3)
    assert [lab["label"] for lab in data["labels"]] == ids[0].tolist()
    assert [lab["score"] for lab in data["labels"]] == pytest.approx(scores[0].tolist())
    assert cli.main([*argv[:-4], "--row", "200"]) == 1
    assert "--row 200 is outside the 200 points" in capsys.readouterr().err


# --------------------------------------------------------------- the text a user reads
@pytest.fixture(scope="module")
def nested(toy_xmc):
    """The toy with a nested label: 'parent' on every point of group 0's anchor label, so
    the two always share their voters."""
    Xtr, Ytr, Xte, Yte, _ = toy_xmc

    def names(Y):
        rows = []
        for i in range(Y.shape[0]):
            row = [f"tag{j:02d}" for j in Y[i].indices]
            rows.append(row + ["parent"] if 0 in Y[i].indices else row)
        return rows

    model = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, names(Ytr))
    return model, Xte, names(Yte)


def test_labels_with_the_same_votes_share_one_block_and_rows_merge(nested):
    model, Xte, truth = nested
    ids, _ = model.predict_topk(Xte, 3)
    i = next(i for i in range(Xte.shape[0]) if "parent" in model.classes_[ids[i]].tolist())
    (found,) = model.explain(Xte[i], 3, y=truth[i : i + 1])
    parent = next(lab for lab in found.labels if lab.name == "parent")
    twin = next(lab for lab in found.labels if lab.name == "tag00")
    assert {(v.train_row, v.learner) for v in parent.votes} == {
        (v.train_row, v.learner) for v in twin.votes
    }
    text = format_explanation(found, max_votes=50)
    assert text.count("votes from") == len(
        {tuple(sorted((v.train_row, v.learner) for v in lab.votes)) for lab in found.labels}
    )
    assert ": the same votes" in text
    # a training row found by both learners is one line naming both
    both = {v.train_row for v in parent.votes if v.learner == 0} & {
        v.train_row for v in parent.votes if v.learner == 1
    }
    if both:
        row = min(both)
        assert any(f"training row {row:>7}  learners 0,1" in line for line in text.splitlines())
    # hit / miss marks from the truth, and the true labels that were missed
    for lab in found.labels:
        assert lab.hit == (lab.name in truth[i])
        assert (" hit" if lab.hit else " miss") in text
    assert set(found.missed) == set(truth[i]) - {lab.name for lab in found.labels}


def test_training_text_escaping_and_strict_json(nested):
    model, Xte, _ = nested
    (found,) = model.explain(Xte[:1], 2)
    texts = [f"doc {j}\x1b[31m red" for j in range(model.train_labels_.shape[0])]
    text = format_explanation(found, train_texts=texts)
    assert "\x1b" not in text and "doc " in text and "\\x1b[31m" in text
    odd = Explanation(0, (LabelExplanation(3, "a\x00b\x1b]0;", float("inf"), (), None),), 0)
    assert "\x00" not in format_explanation(odd) and "\\x00" in format_explanation(odd)
    assert json.loads(json.dumps(odd.to_dict(), allow_nan=False))["labels"][0]["score"] is None


def test_a_point_without_known_features_is_explained_as_the_prior(model, toy_xmc):
    from sleec.exceptions import NoFeatureWarning

    with pytest.warns(NoFeatureWarning):
        (found,) = model.explain(np.zeros((1, toy_xmc[0].shape[1])), 3)
    assert found.no_features and found.n_voters == 0 and all(not lab.votes for lab in found.labels)
    with pytest.warns(NoFeatureWarning):
        ids, scores = model.predict_topk(np.zeros((1, toy_xmc[0].shape[1])), 3)
    assert [lab.label for lab in found.labels] == ids[0].tolist()
    assert "no feature training saw" in format_explanation(found)
