"""Predictions say which label space they are in (label ids or label names), and evaluation
compares truth and predictions in one space, or refuses: never a P@k of mismatched labels.

The oracle: a model fitted on label names that are a permutation of an XC file's ids must
score, through ``predict`` and ``evaluate``, exactly what the same model scores in Python
with its names mapped back to the ids.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from _helpers import SMALL_8, run_cli_out
from conftest import make_toy_xmc
from sleec import SLEEC
from sleec.datasets import read_prediction_file, read_predictions, write_xc
from sleec.exceptions import DataFormatError
from sleec.metrics import evaluate, inverse_propensity, pad_ids


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Train / test XC files, label names that permute the ids (``labels.txt``), a model
    fitted on the names and one fitted on the ids."""
    d = tmp_path_factory.mktemp("spaces")
    X, Y, _ = make_toy_xmc(500, seed=3)
    Xtr, Ytr, Xte, Yte = X[:350], Y[:350], X[350:], Y[350:]
    perm = np.random.default_rng(0).permutation(Y.shape[1])
    names = np.array([f"t{perm[j]:03d}" for j in range(Y.shape[1])])
    write_xc(d / "train.txt", Xtr, Ytr)
    write_xc(d / "test.txt", Xte, Yte)
    (d / "labels.txt").write_text("".join(n + "\n" for n in names))
    named = SLEEC(**SMALL_8, random_state=0).fit(
        Xtr, [names[Ytr[i].indices].tolist() for i in range(Ytr.shape[0])]
    )
    named.save(d / "names.npz")
    SLEEC(**SMALL_8, random_state=0).fit(Xtr, Ytr).save(d / "ids.npz")
    # the oracle: the names model's own top-5, mapped back to ids, scored in Python
    index = {n: j for j, n in enumerate(names)}
    top = named.predict_labels(Xte, 5)
    ids = pad_ids(np.array([[index[n] for n in row] + [-1] * (5 - len(row)) for row in top]), 5)
    truth = evaluate(Yte, ids, 5, inverse_propensity(Ytr))
    return {"dir": d, "names": names, "truth": truth, "Xte": Xte, "Yte": Yte}


def test_a_names_model_writes_names_not_its_column_positions(files, capsys):
    d = files["dir"]
    code, _, err = run_cli_out(
        capsys,
        "predict",
        "--model",
        d / "names.npz",
        "--test",
        d / "test.txt",
        "--out",
        d / "p.txt",
    )
    assert code == 0, err
    first = (d / "p.txt").read_text().splitlines()[0]
    assert "\t" in first and first.split("\t")[0].split(",")[0] in set(files["names"])
    with pytest.raises(DataFormatError, match="holds label names, not label ids"):
        read_predictions(str(d / "p.txt"))
    found = read_prediction_file(str(d / "p.txt"))
    assert found.space == "names" and set(found.names) <= set(files["names"])


@pytest.mark.parametrize("suffix", [".txt", ".npz"])
def test_evaluating_names_against_ids_refuses_without_a_mapping(files, capsys, suffix):
    d = files["dir"]
    pred = d / f"p_refuse{suffix}"
    run_cli_out(
        capsys, "predict", "--model", d / "names.npz", "--test", d / "test.txt", "--out", pred
    )
    code, out, err = run_cli_out(capsys, "evaluate", "--truth", d / "test.txt", "--pred", pred)
    assert code == 1 and out == ""
    assert "holds label names but" in err and "--label-names FILE" in err


@pytest.mark.parametrize("suffix", [".txt", ".npz"])
def test_names_mapped_by_label_names_give_the_models_true_numbers(files, capsys, suffix):
    d = files["dir"]
    pred = d / f"p_map{suffix}"
    run_cli_out(
        capsys, "predict", "--model", d / "names.npz", "--test", d / "test.txt", "--out", pred
    )
    code, out, err = run_cli_out(
        capsys,
        "evaluate",
        "--truth",
        d / "test.txt",
        "--pred",
        pred,
        "--label-names",
        d / "labels.txt",
        "--train",
        d / "train.txt",
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    for name in ("P", "nDCG", "PSP"):
        for j in (1, 3, 5):
            assert got[f"{name}@{j}"] == pytest.approx(files["truth"][name][j - 1], abs=1e-6)


def test_a_name_the_label_names_lack_is_refused(files, capsys, tmp_path):
    d = files["dir"]
    pred = d / "p_lack.txt"
    run_cli_out(
        capsys, "predict", "--model", d / "names.npz", "--test", d / "test.txt", "--out", pred
    )
    partial = tmp_path / "few.txt"
    partial.write_text("".join(n + "\n" for n in sorted(files["names"])[:3]))
    code, _, err = run_cli_out(
        capsys, "evaluate", "--truth", d / "test.txt", "--pred", pred, "--label-names", partial
    )
    assert code == 1 and "which --label-names does not list" in err


def test_text_truth_and_names_predictions_count_unseen_labels_as_misses(files, capsys, tmp_path):
    """``evaluate --truth test.tsv --pred names.tsv``: label names on both sides; a true
    label no prediction can reach (here one the model never saw) is a miss."""
    d = files["dir"]
    pred = tmp_path / "p.tsv"
    run_cli_out(
        capsys, "predict", "--model", d / "names.npz", "--test", d / "test.txt", "--out", pred
    )
    names, Yte = files["names"], files["Yte"]
    rows = [names[Yte[i].indices].tolist() for i in range(Yte.shape[0])]
    rows[0] = [*rows[0], "never_seen"]
    truth = tmp_path / "test.tsv"
    truth.write_text("".join(",".join(r) + "\tsome text\n" for r in rows))
    code, out, err = run_cli_out(
        capsys, "evaluate", "--truth", truth, "--pred", pred, "--json", "--all-metrics"
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["P@1"] == pytest.approx(files["truth"]["P"][0], abs=1e-6)  # precision unchanged
    # recall: row 0 has one more true label, so its recall shrinks by |y| / (|y| + 1)
    predicted = [r.split("\t")[0].split(",") for r in pred.read_text().splitlines()]
    recall5 = np.mean(
        [len(set(p[:5]) & set(t)) / len(t) for p, t in zip(predicted, rows, strict=True)]
    )
    assert got["R@5"] == pytest.approx(recall5, abs=1e-6)
    assert got["R@5"] < files["truth"]["R"][4]


def test_ids_predictions_against_named_truth_need_label_names(files, capsys, tmp_path):
    d = files["dir"]
    pred = tmp_path / "pid.txt"
    run_cli_out(
        capsys, "predict", "--model", d / "ids.npz", "--test", d / "test.txt", "--out", pred
    )
    names, Yte = files["names"], files["Yte"]
    truth = tmp_path / "test.tsv"
    truth.write_text(
        "".join(",".join(names[Yte[i].indices]) + "\tx\n" for i in range(Yte.shape[0]))
    )
    code, _, err = run_cli_out(capsys, "evaluate", "--truth", truth, "--pred", pred)
    assert code == 1 and "holds label ids but" in err
    code, out, err = run_cli_out(
        capsys,
        "evaluate",
        "--truth",
        truth,
        "--pred",
        pred,
        "--json",
        "--label-names",
        d / "labels.txt",
    )
    code_ids, out_ids, _ = run_cli_out(
        capsys, "evaluate", "--truth", d / "test.txt", "--pred", pred, "--json"
    )
    assert code == code_ids == 0, err
    assert json.loads(out) == json.loads(out_ids)  # the same numbers by names and by ids


def test_integer_names_are_the_users_label_ids(files, capsys, tmp_path):
    """A model fitted on integer label lists (the XC ids themselves) writes those ids."""
    d = files["dir"]
    from sleec.datasets import read_xc

    Xtr, Ytr = read_xc(d / "train.txt")
    lists = [(Ytr[i].indices + 0).tolist() for i in range(Ytr.shape[0])]
    model = SLEEC(**SMALL_8, random_state=0).fit(Xtr, lists)
    model.save(tmp_path / "int.npz")
    pred = tmp_path / "p.txt"
    run_cli_out(
        capsys, "predict", "--model", tmp_path / "int.npz", "--test", d / "test.txt", "--out", pred
    )
    ids = read_predictions(str(pred))
    expected = model.predict_labels(read_xc(d / "test.txt")[0], 5)
    assert [row[row >= 0].tolist() for row in ids] == expected


def test_predict_names_with_label_names_of_an_xc_model(files, capsys, tmp_path):
    d = files["dir"]
    model = tmp_path / "m.npz"
    code, _, err = run_cli_out(
        capsys,
        "train",
        "--train",
        d / "train.txt",
        "--model",
        model,
        "--label-names",
        d / "labels.txt",
        "--n-learners",
        1,
        "--n-components",
        8,
        "--n-graph-neighbors",
        10,
        "--n-neighbors",
        5,
        "--random-state",
        0,
    )
    assert code == 0, err
    assert SLEEC.load(model).label_names_.tolist() == files["names"].tolist()
    ids_file, names_file = tmp_path / "p.txt", tmp_path / "p.tsv"
    run_cli_out(capsys, "predict", "--model", model, "--test", d / "test.txt", "--out", ids_file)
    run_cli_out(
        capsys,
        "predict",
        "--model",
        model,
        "--test",
        d / "test.txt",
        "--out",
        names_file,
        "--names",
    )
    ids = read_predictions(str(ids_file))
    shown = [line.split("\t")[0] for line in names_file.read_text().splitlines()]
    assert shown == [",".join(files["names"][row[row >= 0]]) for row in ids]
    code, _, err = run_cli_out(
        capsys,
        "predict",
        "--model",
        d / "ids.npz",
        "--test",
        d / "test.txt",
        "--out",
        tmp_path / "x.tsv",
        "--names",
    )
    assert code == 1 and "has no label names" in err
