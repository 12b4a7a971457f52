"""sleec report: the numbers against the metrics, the page's content, and the page opened in
a real headless browser (Chromium, when installed) with every figure loaded."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import subprocess

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import TOY_ENSEMBLE
from sleec import SLEEC, __version__, cli
from sleec.datasets import write_xc
from sleec.metrics import evaluate, inverse_propensity
from sleec.report import BUCKETS, CAPTIONS, evaluate_report, label_tables, write_report

pytest.importorskip("matplotlib", reason="the report extra (matplotlib) is not installed")

CHROMIUM = next(
    (shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)),
    None,
)


@pytest.fixture(scope="module")
def model(toy_xmc):
    Xtr, Ytr, *_ = toy_xmc
    return SLEEC(**TOY_ENSEMBLE, random_state=0).fit(Xtr, Ytr)


def test_report_numbers(model, toy_xmc):
    Xtr, Ytr, Xte, Yte, _ = toy_xmc
    report = evaluate_report(model, Xte, Yte, k=5)
    ids, scores = model.predict_topk(Xte, 5)
    ref = evaluate(Yte, ids, 5, inverse_propensity(Ytr))
    for name in ref:
        np.testing.assert_allclose(report.metrics[name], ref[name])
    # Buckets by training frequency: every label in exactly one; shares sum to 1.
    counts = np.bincount(Ytr.indices, minlength=Ytr.shape[1])
    assert [b["bucket"] for b in report.buckets] == [name for name, _, _ in BUCKETS]
    assert sum(b["labels"] for b in report.buckets) == Ytr.shape[1]
    assert sum(b["true_share"] for b in report.buckets) == pytest.approx(1.0)
    assert sum(b["prediction_share"] for b in report.buckets) == pytest.approx(1.0)
    heads = next(b for b in report.buckets if b["bucket"] == ">100")
    assert heads["labels"] == int((counts > 100).sum())
    # Overall precision = the bucket precisions weighted by their prediction shares.
    n_pred = int((ids >= 0).sum())
    hits = sum(b["precision"] * b["prediction_share"] * n_pred for b in report.buckets)
    assert hits == pytest.approx(ref["P"][4] * 5 * Xte.shape[0])
    assert report.hit_scores.size + report.miss_scores.size == n_pred
    assert [s.sum() for s in report.cluster_sizes] == [400, 400]


def test_names_and_ids_give_the_same_report(model, toy_xmc):
    """The same data as label names, with 2 test labels training never saw: the same
    metrics and buckets as the id model on a truth matrix with 2 extra columns."""
    Xtr, Ytr, Xte, Yte, _ = toy_xmc
    extra = np.zeros((Yte.shape[0], 2), np.float32)
    extra[::7, 0] = extra[::11, 1] = 1
    Y_wide = sp.hstack([Yte, sp.csr_matrix(extra)]).tocsr()
    by_ids = evaluate_report(model, Xte, Y_wide, k=5)
    name = [f"n{j:02d}" for j in range(Y_wide.shape[1])]  # sorts like the ids
    named = SLEEC(**TOY_ENSEMBLE, random_state=0).fit(
        Xtr, [[name[j] for j in Ytr[i].indices] for i in range(Ytr.shape[0])]
    )
    by_names = evaluate_report(
        named, Xte, [[name[j] for j in Y_wide[i].indices] for i in range(Y_wide.shape[0])], k=5
    )
    for key in by_ids.metrics:
        np.testing.assert_allclose(by_names.metrics[key], by_ids.metrics[key])
    unseen = [b for b in by_names.buckets if b["bucket"] == "unseen (0)"][0]
    assert unseen["labels"] == 2 and unseen["true_share"] > 0 and unseen["recall"] == 0
    assert by_names.buckets == by_ids.buckets


def test_report_page_and_figures(model, toy_xmc, tmp_path):
    *_, Xte, Yte, _ = toy_xmc
    names = write_report(
        tmp_path / "r.html", evaluate_report(model, Xte, Yte), figures_dir=tmp_path / "fig"
    )
    page = (tmp_path / "r.html").read_text()
    assert names == ["metrics", "buckets", "scores", "clusters"]
    assert page.count('src="data:image/png;base64,') == 4  # no network needed
    assert "A = 0.55, B = 1.5" in page and "<td>&gt;100</td>" in page
    for name in names:
        assert (tmp_path / "fig" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_per_label_table_against_brute_force(model, toy_xmc):
    Xtr, Ytr, Xte, Yte, _ = toy_xmc
    report = evaluate_report(model, Xte, Yte, k=3)
    ids, _ = model.predict_topk(Xte, 3)
    Y, T = Yte.toarray() > 0, Ytr.toarray() > 0
    for row in report.labels:
        j = row["label"]
        predicted = ids == j
        hits = sum(bool(Y[i, j]) for i in np.flatnonzero(predicted.any(axis=1)))
        assert row["support"] == Y[:, j].sum() and row["train"] == T[:, j].sum()
        assert row["predicted"] == predicted.sum() and row["hits"] == hits
        assert row["recall"] == pytest.approx(hits / max(Y[:, j].sum(), 1))
    tables = label_tables(report, n=4)
    top = tables["most frequent in the test set"]
    assert [r["support"] for r in top] == sorted(Y.sum(axis=0), reverse=True)[:4]
    assert report.info["n_train"] == 400 and report.info["fit_seconds"] > 0


def test_an_empty_label_group_says_so_instead_of_an_empty_table(model, toy_xmc, tmp_path):
    _, _, Xte, Yte, _ = toy_xmc
    report = evaluate_report(model, Xte, Yte, k=5)
    no_tail = dataclasses.replace(report, labels=[r for r in report.labels if r["train"] > 5])
    write_report(tmp_path / "r.html", no_tail)
    page = (tmp_path / "r.html").read_text()
    for caption, rows in label_tables(no_tail).items():
        after = page.split(f"<h3>{html.escape(caption)}</h3>", 1)[1]
        empty = after.startswith("<p>No label of the test set is in this group.</p>")
        assert empty == (not rows) and after.startswith("<table>") == bool(rows)
    assert not label_tables(no_tail)["worst tail labels (<= 5 training points)"]
    assert label_tables(no_tail)["worst head labels"]


def test_report_page_names_the_model_and_compares_two(model, toy_xmc, tmp_path, capsys):
    Xtr, Ytr, Xte, Yte, _ = toy_xmc
    write_xc(tmp_path / "test.txt", Xte, Yte)
    model.save(tmp_path / "a.npz")
    SLEEC(**{**TOY_ENSEMBLE, "n_learners": 1}, random_state=1).fit(Xtr, Ytr).save(
        tmp_path / "b.npz"
    )
    argv = ["report", "--model", tmp_path / "a.npz", "--test", tmp_path / "test.txt"]
    assert cli.main([str(a) for a in [*argv, "--out", tmp_path / "one.html"]]) == 0
    page = (tmp_path / "one.html").read_text()
    assert "training took" in page and "model file" in page and f"sleec {__version__}" in page
    for caption in CAPTIONS.values():
        assert caption.split(":")[0] in page
    assert "worst head labels" in page and "worst tail labels" in page
    out = tmp_path / "two.html"
    assert cli.main([str(a) for a in [*argv, "--out", out, "--compare", tmp_path / "b.npz"]]) == 0
    page = out.read_text()
    assert "a.npz vs b.npz" in page and page.count("trained on 400 points") == 2
    other = evaluate_report(SLEEC.load(tmp_path / "b.npz"), Xte, Yte, k=5)
    assert f"<td>{100 * other.metrics['P'][0]:.2f}</td>" in page
    capsys.readouterr()


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (CI installs Debian's chromium)")
def test_report_loads_in_a_headless_browser(model, toy_xmc, tmp_path, capsys):
    *_, Xte, Yte, _ = toy_xmc
    write_xc(tmp_path / "test.txt", Xte, Yte)
    model.save(tmp_path / "m.npz")
    assert (
        cli.main(
            [
                "report",
                "--model",
                str(tmp_path / "m.npz"),
                "--test",
                str(tmp_path / "test.txt"),
                "--out",
                str(tmp_path / "report.html"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (tmp_path / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    match = re.search(r'data-figures-loaded="(\d+)/(\d+)"', dom)
    assert match, dom[:500]
    assert match.group(1) == match.group(2) == "4"  # every figure decoded and shown
