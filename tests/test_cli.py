"""The command-line interface: train -> predict -> evaluate, parameters, errors, demo, out of
memory, k beyond the labels. (One-line errors for each kind of bad input: test_cli_errors.py.)"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _helpers import assert_one_line_error_containing, run_cli, run_cli_out
from sleec import SLEEC, __version__, cli
from sleec.cli.evaluate import format_table
from sleec.cli.progress import Progress
from sleec.datasets import make_xmc, read_predictions, read_xc, write_predictions, write_xc
from sleec.metrics import evaluate, inverse_propensity
from sleec.params import PARAMS
from sleec.presets import PRESETS

SRC = Path(__file__).resolve().parents[1] / "src"
SMALL = [
    "--n-components",
    "8",
    "--n-graph-neighbors",
    "10",
    "--n-neighbors",
    "5",
    "--svp-max-iter",
    "5",
    "--random-state",
    "0",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """A small synthetic problem: train/test XC files, the full file and split files."""
    d = tmp_path_factory.mktemp("cli")
    X, Y = make_xmc(n_samples=300, n_features=120, n_labels=40, random_state=0)
    write_xc(d / "train.txt", X[:220], Y[:220])
    write_xc(d / "test.txt", X[220:], Y[220:])
    write_xc(d / "all.txt", X, Y)
    (d / "tr_split.txt").write_text("".join(f"{i + 1} {i + 1}\n" for i in range(220)))
    (d / "te_split.txt").write_text("".join(f"{i + 1} {i + 1}\n" for i in range(220, 300)))
    return {
        "dir": d,
        "train": d / "train.txt",
        "test": d / "test.txt",
        "all": d / "all.txt",
        "tr_split": d / "tr_split.txt",
        "te_split": d / "te_split.txt",
    }


@pytest.fixture(scope="module")
def model(data) -> Path:
    path = data["dir"] / "model.npz"
    assert cli.main(["train", "--train", str(data["train"]), "--model", str(path), *SMALL]) == 0
    return path


# --------------------------------------------------------------------------- round trip


def test_train_predict_evaluate_round_trip(data, model, tmp_path, capsys):
    assert model.is_file()
    assert SLEEC.load(model).n_components == 8
    pred_txt, pred_npz = tmp_path / "pred.txt", tmp_path / "pred.npz"
    for out in (pred_txt, pred_npz):
        code, stdout, err = run_cli_out(
            capsys, "predict", "--model", model, "--test", data["test"], "--k", 5, "--out", out
        )
        assert code == 0, err
        assert out.is_file()
        assert "80 points" in err

    with np.load(pred_npz, allow_pickle=False) as npz:
        ids, scores = npz["ids"], npz["scores"]
    assert ids.dtype == np.int32 and ids.shape == (80, 5)
    assert scores.dtype == np.float32 and scores.shape == (80, 5)
    assert np.array_equal(ids, SLEEC.load(model).predict_topk(read_xc(data["test"])[0], 5)[0])
    # the text file holds the same ranking, "id:score" pairs, padding skipped
    lines = pred_txt.read_text().splitlines()
    assert len(lines) == 80
    for line, row_ids, row_scores in zip(lines, ids, scores, strict=True):
        pairs = [token.split(":") for token in line.split()]
        assert [int(i) for i, _ in pairs] == [int(i) for i in row_ids if i >= 0]
        np.testing.assert_allclose([float(s) for _, s in pairs], row_scores[row_ids >= 0])

    code, table, err = run_cli_out(
        capsys, "evaluate", "--truth", data["test"], "--pred", pred_txt, "--train", data["train"]
    )
    assert code == 0, err
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()}
    assert rows["metric"] == ["@1", "@3", "@5"]
    assert set(rows) == {"metric", "P", "nDCG", "PSP", "PSnDCG"}

    Y_test, Y_train = read_xc(data["test"])[1], read_xc(data["train"])[1]
    expected = evaluate(Y_test, ids, 5, inverse_propensity(Y_train, 0.55, 1.5))
    assert float(rows["P"][0]) == pytest.approx(100 * expected["P"][0], abs=0.006)
    for pred in (pred_txt, pred_npz):
        code, out, err = run_cli_out(
            capsys,
            "evaluate",
            "--truth",
            data["test"],
            "--pred",
            pred,
            "--train",
            data["train"],
            "--json",
        )
        assert code == 0, err
        got = json.loads(out)
        assert list(got)[:3] == ["P@1", "P@3", "P@5"]
        assert set(got) == {f"{m}@{j}" for m in ("P", "nDCG", "PSP", "PSnDCG") for j in (1, 3, 5)}
        for key, value in got.items():
            name, j = key.split("@")
            assert 0.0 <= value <= 1.0
            assert value == pytest.approx(expected[name][int(j) - 1], abs=1e-6)
    assert expected["P"][0] > 0.3  # the model learned something


def test_evaluate_without_train_and_other_cutoffs(data, model, tmp_path, capsys):
    pred = tmp_path / "pred.npz"
    assert (
        run_cli_out(
            capsys, "predict", "--model", model, "--test", data["test"], "--out", pred, "--k", 2
        )[0]
        == 0
    )
    code, out, err = run_cli_out(
        capsys,
        "evaluate",
        "--truth",
        data["test"],
        "--pred",
        pred,
        "--k",
        2,
        "--json",
        "--all-metrics",
    )
    assert code == 0, err
    assert set(json.loads(out)) == {
        f"{m}@{j}" for m in ("P", "nDCG", "R", "coverage") for j in (1, 2)
    }
    # top-2 predictions scored @8 would count ranks 3..8 as misses: refused, with the fix
    code, out, err = run_cli_out(
        capsys, "evaluate", "--truth", data["test"], "--pred", pred, "--k", 8
    )
    assert code == 1 and out == ""
    assert "holds at most 2 prediction(s) per point, fewer than --k 8" in err
    assert "evaluate with --k 2, or predict with --k 8" in err
    run_cli_out(
        capsys, "predict", "--model", model, "--test", data["test"], "--out", pred, "--k", 8
    )
    code, out, err = run_cli_out(
        capsys, "evaluate", "--truth", data["test"], "--pred", pred, "--k", 8
    )
    assert code == 0, err
    assert out.splitlines()[0].split() == ["metric", "@1", "@3", "@5", "@8"]


def test_split_files(data, tmp_path, capsys):
    """The single-file + split layout gives the same model as separate files."""
    model_split = tmp_path / "split_model.npz"
    code, _, err = run_cli_out(
        capsys,
        "train",
        "--train",
        data["all"],
        "--train-split",
        data["tr_split"],
        "--split-column",
        2,
        "--model",
        model_split,
        *SMALL,
    )
    assert code == 0, err
    model_plain = tmp_path / "plain_model.npz"
    assert (
        run_cli_out(capsys, "train", "--train", data["train"], "--model", model_plain, *SMALL)[0]
        == 0
    )
    preds = []
    for m in (model_split, model_plain):
        out = tmp_path / f"{m.stem}_pred.npz"  # not the model itself
        code, _, err = run_cli_out(
            capsys,
            "predict",
            "--model",
            m,
            "--test",
            data["all"],
            "--test-split",
            data["te_split"],
            "--out",
            out,
        )
        assert code == 0, err
        with np.load(out) as npz:
            preds.append(npz["ids"])
    assert preds[0].shape == (80, 5)
    assert np.array_equal(preds[0], preds[1])
    code, out, err = run_cli_out(
        capsys,
        "evaluate",
        "--truth",
        data["all"],
        "--truth-split",
        data["te_split"],
        "--pred",
        tmp_path / "split_model_pred.npz",
        "--json",
    )
    assert code == 0, err
    assert 0 <= json.loads(out)["P@1"] <= 1


# --------------------------------------------------------------------------- parameters


def test_print_params_precedence(data, tmp_path, capsys):
    code, out, _ = run_cli_out(capsys, "train", "--print-params")
    assert code == 0
    assert json.loads(out) == SLEEC().get_params()  # estimator defaults

    code, out, _ = run_cli_out(capsys, "train", "--print-params", "--preset", "eurlex-4k")
    params = json.loads(out)
    assert params == {**SLEEC().get_params(), **PRESETS["eurlex-4k"]}

    params_file = tmp_path / "p.json"
    params_file.write_text(json.dumps({"n_components": 42, "n_neighbors": 7, "normalize": False}))
    code, out, _ = run_cli_out(
        capsys,
        "train",
        "--print-params",
        "--preset",
        "EURLex-4K",
        "--params",
        params_file,
        "--n-neighbors",
        "3",
        "--n-clusters",
        "auto",
        "--normalize",
        "true",
        "--random-state",
        "5",
    )
    params = json.loads(out)
    assert code == 0
    assert params["n_learners"] == PRESETS["eurlex-4k"]["n_learners"]  # preset
    assert params["n_components"] == 42  # JSON over preset
    assert params["n_neighbors"] == 3  # flag over JSON
    assert params["normalize"] is True  # flag over JSON
    assert params["n_clusters"] == "auto"  # flag over preset
    assert params["random_state"] == 5
    assert params["svp_tol"] == SLEEC().svp_tol  # estimator default

    # --print-params output is a valid --params file
    params_file.write_text(out)
    code, out2, _ = run_cli_out(capsys, "train", "--print-params", "--params", params_file)
    assert json.loads(out2) == params


def test_flags_mirror_every_estimator_parameter(capsys):
    assert {p.name for p in PARAMS} == set(SLEEC().get_params())
    code, out, _ = run_cli_out(capsys, "train", "--help")
    assert code == 0
    flags = {p.name: "--" + p.name.replace("_", "-") for p in PARAMS}
    assert flags["n_components"] == "--n-components"
    assert all(flag in out for flag in flags.values())
    code, out, _ = run_cli_out(
        capsys,
        "train",
        "--print-params",
        "--metric",
        "cosine",
        "--l2-reg",
        "0.5",
        "--n-jobs",
        "-1",
        "--normalize",
        "no",
    )
    assert code == 0
    params = json.loads(out)
    assert (params["metric"], params["l2_reg"], params["n_jobs"], params["normalize"]) == (
        "cosine",
        0.5,
        -1,
        False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--n-components", "ten"],
        ["--normalize", "maybe"],
        ["--metric", "manhattan"],
        ["--n-clusters", "many"],
        ["--preset", "nope"],
    ],
)
def test_unparsable_flags_are_usage_errors(argv, capsys):
    code, _, err = run_cli_out(capsys, "train", "--print-params", *argv)
    assert_one_line_error_containing(code, err, "(see 'sleec train --help')")
    assert argv[0] in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--bogus"], "unrecognized arguments: --bogus (see 'sleec train --help')"),
        (["predict", "--model", "m.npz"], "required: --out (see 'sleec predict --help')"),
        ([], "required: COMMAND (see 'sleec --help')"),
        (["evaluate", "--k", "x"], "argument --k: expected an integer, got 'x'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_1(argv, fragment, capsys):
    code, out, err = run_cli_out(capsys, *argv)
    assert_one_line_error_containing(code, err, fragment)
    assert out == "" and "usage:" not in err


def test_train_requires_train_and_model(capsys):
    code, _, err = run_cli_out(capsys, "train", "--model", "m.npz")
    assert_one_line_error_containing(code, err, "--train or --text")


# --------------------------------------------------------------------------- errors


def test_missing_train_file(tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    code, _, err = run_cli_out(
        capsys, "train", "--train", missing, "--model", tmp_path / "m.npz", *SMALL
    )
    assert_one_line_error_containing(code, err, "No such file or directory", "nope.txt")
    assert not (tmp_path / "m.npz").exists()


def test_malformed_xc_file(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 5 3\n0,1 0:1.0 3:0.5\n1 x:1\n")
    code, _, err = run_cli_out(
        capsys, "train", "--train", bad, "--model", tmp_path / "m.npz", *SMALL
    )
    assert_one_line_error_containing(code, err, "bad.txt", "line 3")


def test_garbage_model_file(data, tmp_path, capsys):
    garbage = tmp_path / "model.npz"
    garbage.write_bytes(b"this is not a model\n" * 10)
    out = tmp_path / "pred.txt"
    code, _, err = run_cli_out(
        capsys, "predict", "--model", garbage, "--test", data["test"], "--out", out
    )
    assert_one_line_error_containing(code, err, "model.npz")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]


def test_prediction_truth_row_mismatch(data, model, tmp_path, capsys):
    pred = tmp_path / "pred.npz"
    assert (
        run_cli_out(capsys, "predict", "--model", model, "--test", data["test"], "--out", pred)[0]
        == 0
    )
    code, _, err = run_cli_out(capsys, "evaluate", "--truth", data["train"], "--pred", pred)
    assert_one_line_error_containing(code, err, "80", "220")


def test_bad_parameter_value(data, tmp_path, capsys):
    code, _, err = run_cli_out(
        capsys,
        "train",
        "--train",
        data["train"],
        "--model",
        tmp_path / "m.npz",
        "--n-components",
        "0",
    )
    assert_one_line_error_containing(code, err, "n_components")
    code, _, err = run_cli_out(capsys, "train", "--print-params", "--weight-threshold", "1.5")
    assert_one_line_error_containing(code, err, "weight_threshold")


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"n_compnents": 3}', "n_compnents"),
        ('{"n_components": "ten"}', "n_components"),
    ],
)
def test_bad_params_file(content, fragment, tmp_path, capsys):
    params = tmp_path / "p.json"
    params.write_text(content)
    code, _, err = run_cli_out(capsys, "train", "--print-params", "--params", params)
    assert_one_line_error_containing(code, err, fragment)


def test_bad_prediction_files(data, tmp_path, capsys):
    text = tmp_path / "pred.txt"
    text.write_text("1:0.5 2:0.25\n3-0.5\n")
    code, _, err = run_cli_out(capsys, "evaluate", "--truth", data["test"], "--pred", text)
    assert_one_line_error_containing(code, err, "pred.txt", "line 2")
    npz = tmp_path / "pred.npz"
    npz.write_bytes(b"garbage")
    code, _, err = run_cli_out(capsys, "evaluate", "--truth", data["test"], "--pred", npz)
    assert_one_line_error_containing(code, err, "pred.npz")
    np.savez(npz, labels=np.zeros((80, 5), dtype=np.int32))
    code, _, err = run_cli_out(capsys, "evaluate", "--truth", data["test"], "--pred", npz)
    assert_one_line_error_containing(code, err, "'ids'")
    np.savez(npz, ids=np.full((80, 5), 999, dtype=np.int32))
    code, _, err = run_cli_out(capsys, "evaluate", "--truth", data["test"], "--pred", npz)
    assert_one_line_error_containing(code, err, "999")


def test_output_directory_missing(data, model, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "dir" / "pred.txt"
    code, _, err = run_cli_out(
        capsys, "predict", "--model", model, "--test", data["test"], "--out", out
    )
    assert_one_line_error_containing(code, err, "pred.txt")
    code, _, err = run_cli_out(
        capsys, "predict", "--model", model, "--test", data["test"], "--out", tmp_path
    )
    assert_one_line_error_containing(code, err, "Is a directory")


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(FileNotFoundError):
        cli.main(
            [
                "--debug",
                "train",
                "--train",
                str(tmp_path / "nope.txt"),
                "--model",
                str(tmp_path / "m.npz"),
            ]
        )


def test_keyboard_interrupt(data, tmp_path, capsys, monkeypatch):
    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SLEEC, "fit", interrupted)
    out = tmp_path / "m.npz"
    code, _, err = run_cli_out(capsys, "train", "--train", data["train"], "--model", out, *SMALL)
    assert code == 130
    assert err.strip() == "sleec: error: interrupted"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- output files


def test_predict_writes_atomically(data, model, tmp_path, capsys, monkeypatch):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for name in ("pred.txt", "pred.npz"):
        assert (
            run_cli_out(
                capsys, "predict", "--model", model, "--test", data["test"], "--out", out_dir / name
            )[0]
            == 0
        )
    assert sorted(p.name for p in out_dir.iterdir()) == ["pred.npz", "pred.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert (out_dir / "pred.txt").stat().st_mode & 0o777 == 0o666 & ~umask

    # a failure while writing leaves the previous file intact and no temporary file
    before = (out_dir / "pred.txt").read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError(28, "No space left on device", "pred")

    monkeypatch.setattr(np, "savez", broken_savez)
    (out_dir / "pred.npz").unlink()
    code, _, err = run_cli_out(
        capsys, "predict", "--model", model, "--test", data["test"], "--out", out_dir / "pred.npz"
    )
    assert_one_line_error_containing(code, err, "No space left on device")
    assert sorted(p.name for p in out_dir.iterdir()) == ["pred.txt"]
    assert (out_dir / "pred.txt").read_bytes() == before


def test_write_and_read_predictions_with_padding(tmp_path):
    ids = np.array([[3, 1, -1], [-1, -1, -1], [0, 2, 4]], dtype=np.int32)
    scores = np.array([[0.75, 0.1, -np.inf], [-np.inf] * 3, [1 / 3, 0.2, 0.2]], dtype=np.float32)
    write_predictions(tmp_path / "p.txt", ids, scores)
    lines = (tmp_path / "p.txt").read_text().split("\n")
    assert lines[:3] == ["3:0.75 1:0.1", "", "0:0.33333334 2:0.2 4:0.2"]
    assert np.array_equal(read_predictions(str(tmp_path / "p.txt")), ids)
    write_predictions(tmp_path / "p.npz", ids, scores)
    assert np.array_equal(read_predictions(str(tmp_path / "p.npz")), ids)


# --------------------------------------------------------------------------- misc


def test_progress_bar_and_counter():
    for use_tqdm in (True, False):
        stream = io.StringIO()
        with Progress(
            "training", enabled=True, stream=stream, use_tqdm=use_tqdm, interval=0.01
        ) as progress:
            progress(1, 4)
            progress(4, 4)
        text = stream.getvalue()
        assert "training" in text and "4/4" in text and text.endswith("\n")
    stream = io.StringIO()  # not a terminal: nothing by default
    with Progress("training", stream=stream) as progress:
        progress(1, 1)
    assert stream.getvalue() == ""


def test_verbose_logging_is_configured_and_restored(data, tmp_path, capsys):
    sleec_logger = logging.getLogger("sleec")
    before = (sleec_logger.level, sleec_logger.propagate, list(sleec_logger.handlers))
    code, _, err = run_cli_out(
        capsys, "-v", "train", "--train", data["train"], "--model", tmp_path / "m.npz", *SMALL
    )
    assert code == 0
    assert "sleec: training took" in err and "sleec: read training data" in err
    assert (sleec_logger.level, sleec_logger.propagate, list(sleec_logger.handlers)) == before
    code, _, err = run_cli_out(
        capsys, "train", "-vv", "--train", data["train"], "--model", tmp_path / "m.npz", *SMALL
    )
    assert code == 0 and "DEBUG" in err


def test_version_and_help_in_process(capsys):
    code, out, _ = run_cli_out(capsys, "--version")
    assert code == 0 and out.strip() == f"sleec {__version__}"
    for command in ("train", "predict", "evaluate", "demo"):
        code, out, _ = run_cli_out(capsys, command, "--help")
        assert code == 0 and f"usage: sleec {command}" in out
    code, _, err = run_cli_out(capsys)
    assert code == 1 and "see 'sleec --help'" in err


@pytest.mark.slow
def test_python_dash_m_smoke():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "sleec", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == f"sleec {__version__}"
    done = subprocess.run(
        [sys.executable, "-m", "sleec", "evaluate", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0
    assert "--truth" in done.stdout and "--pred" in done.stdout
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sleec",
            "predict",
            "--model",
            "missing.npz",
            "--test",
            "missing.txt",
            "--out",
            "p.txt",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("sleec: error: ") and "Traceback" not in done.stderr


PUBLISHED = ("65.08", "39.64", "28.87", "51.12", "53.95", "59.56", "65.57", "40.02", "29.30")


def check_demo_output(out: str) -> float:
    """Checks the demo's table; returns this run's P@1 (percent)."""
    assert "P@1" in out and "PSP@5" in out and "nDCG@3" in out
    for published in PUBLISHED:
        assert published in out
    assert "ms per point" in out and "training:" in out
    row = next(line for line in out.splitlines() if line.startswith("P@1"))
    assert row.split()[2:] == ["65.08", "65.57"]
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    assert set(lines[header + 1]) == {"-"} and len(lines[header + 1]) == len(lines[header])
    assert all(len(line) <= len(lines[header]) for line in lines[header + 2 : header + 11])
    return float(row.split()[1])


def test_demo_on_a_small_stand_in(data, capsys, monkeypatch):
    """The demo's flow and table, with a small synthetic problem in place of Bibtex."""
    import sleec.datasets

    small = (*read_xc(data["train"]), *read_xc(data["test"]))
    monkeypatch.setattr(sleec.datasets, "load_bibtex", lambda: small)
    code, out, err = run_cli_out(capsys, "demo", "--n-jobs", "1")
    assert code == 0, err
    assert 0.0 <= check_demo_output(out) <= 100.0
    code, out, err = run_cli_out(capsys, "demo", "--k", "3", "--preset", "delicious")
    assert code == 0, err
    assert "PSP@3" in out and "PSP@5" not in out and "'bibtex' preset" in out


@pytest.mark.slow
def test_demo(capsys):
    """The real demo on the bundled Bibtex (about 5 s): random_state=0 gave P@1 = 65.45."""
    code, out, err = run_cli_out(capsys, "demo", "--n-jobs", "1")
    assert code == 0, err
    assert 64.5 < check_demo_output(out) < 66.5  # the floor (XC repo) is 65.08


def test_package_namespace_lists_no_future_import():
    import sleec

    assert "annotations" not in dir(sleec)
    assert sleec.__version__ == __version__ != "0+unknown"


# ------------------------------------------------------------------- out of memory: one line
def _raising(exc_factory):
    def handler(args):
        raise exc_factory()

    return handler


OOM_LINE = "out of memory (Unable to allocate 1.5 GiB for an array)"


def _oom_chain(outer):
    def make():
        try:
            raise MemoryError("Unable to allocate 1.5 GiB for an array")
        except MemoryError:
            raise outer  # noqa: B904 - what a library that wraps errors leaves

    return make


@pytest.mark.parametrize(
    ("factory", "headroom", "expected"),
    [
        (
            lambda: MemoryError("Unable to allocate 1.5 GiB"),
            None,
            "out of memory (Unable to allocate 1.5 GiB)",
        ),
        (_oom_chain(ValueError("lowering failed")), None, OOM_LINE),
        (_oom_chain(RuntimeError("numba failed")), None, OOM_LINE),
        (
            lambda: SystemError("error return without exception set"),
            30 << 20,
            "out of memory (SystemError: error return without exception set; the address-space "
            "limit leaves 30 MB)",
        ),
    ],
    ids=["MemoryError", "ValueError from one", "RuntimeError from one", "SystemError at limit"],
)
def test_out_of_memory_is_one_line_whatever_raised_it(
    data, tmp_path, capsys, monkeypatch, factory, headroom, expected
):
    from sleec import _limits

    monkeypatch.setattr(cli.train, "run", _raising(factory))
    monkeypatch.setattr(_limits, "address_space_headroom", lambda: headroom)
    monkeypatch.setattr(cli, "address_space_headroom", lambda: headroom)
    code = cli.main(["train", "--train", str(data["train"]), "--model", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert code == 1 and err.strip().splitlines() == [f"sleec: error: {expected}"]


def test_a_system_error_far_from_any_limit_stays_a_traceback(data, tmp_path, monkeypatch):
    from sleec import _limits

    monkeypatch.setattr(cli.train, "run", _raising(lambda: SystemError("a real bug")))
    monkeypatch.setattr(_limits, "address_space_headroom", lambda: None)
    with pytest.raises(SystemError, match="a real bug"):
        cli.main(["train", "--train", str(data["train"]), "--model", str(tmp_path / "m.npz")])


def test_format_table():
    res = {"P": np.array([0.65079, 0.5, 0.39643, 0.3, 0.28871]), "nDCG": np.ones(5)}
    text = format_table(res)
    assert text.splitlines() == [
        "metric      @1     @3     @5",
        "P        65.08  39.64  28.87",
        "nDCG    100.00 100.00 100.00",
    ]
    assert format_table(res, ks=[2]).splitlines()[1] == "P        50.00"
    with pytest.raises(ValueError, match="up to @5; cannot report @6"):
        format_table(res, ks=(1, 6))
    with pytest.raises(ValueError, match="at least one"):
        format_table(res, ks=())
    with pytest.raises(ValueError, match="'ks'"):
        format_table(res, ks=(0,))


# -------------- k beyond the labels: clipped, in the estimator and on the command line


def test_size_k_is_clipped_to_the_labels(trained_files, tmp_path, capsys):
    model = SLEEC.load(trained_files / "model.npz")
    ids, scores = model.predict_topk(read_xc(trained_files / "test.txt")[0], 30_000_000)
    assert ids.shape == scores.shape == (10, 5)
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        trained_files / "model.npz",
        "--test",
        trained_files / "test.txt",
        "--out",
        tmp_path / "p.npz",
        "--k",
        "30000000",
    )
    assert code == 0, err
    assert np.load(tmp_path / "p.npz")["ids"].shape == (10, 5)
    code = cli.main(
        [
            "evaluate",
            "--truth",
            str(trained_files / "test.txt"),
            "--pred",
            str(tmp_path / "p.npz"),
            "--k",
            str(10**8),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and "P@5" in out and "P@100000000" not in out
