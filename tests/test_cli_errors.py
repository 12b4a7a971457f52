"""The command line's errors (sleec.cli): every kind of bad input ends in exit status 1 and
one line ``sleec: error: ...`` on stderr naming the parameter, flag, file, line or range,
with no traceback; ``--k 0`` is a usage error. Missing, malformed and oversized files,
damaged and garbage model files, prediction / truth mismatches, bad parameter values,
deeply nested JSON, split rows beyond the data. (More errors of each subcommand:
test_cli.py.)
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from _helpers import (
    TINY_FLAGS,
    TINY_SHORT_SVP,
    D,
    L,
    assert_one_line_error,
    central_directory,
    cli_flags,
    make_data,
    resign,
    run_cli,
)
from sleec import SLEEC, cli, datasets
from sleec.datasets import write_xc
from sleec.exceptions import ModelFormatError


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory, tiny_model):
    d = tmp_path_factory.mktemp("cli")
    X, Y = make_data(n=40, seed=1)
    write_xc(d / "train.txt", X, Y)
    write_xc(d / "test.txt", X[:20], Y[:20])
    Xw, Yw = make_data(n=20, d=D + 5, seed=2)
    write_xc(d / "test_wide.txt", Xw, Yw)  # more features than the model
    Xn, Yn = make_data(n=20, n_labels=2, seed=3)
    write_xc(d / "truth_narrow.txt", Xn, Yn)  # fewer labels than the model
    tiny_model.save(d / "model.npz")
    ids, scores = tiny_model.predict_topk(X[:20], 5)
    datasets.write_predictions(str(d / "pred.txt"), ids, scores)
    (d / "bad.txt").write_text("2 5 4\n0 0:1\n1 x:1\n")
    (d / "garbage.npz").write_bytes(np.random.default_rng(0).bytes(500))
    return d


def _train(d, *extra):
    return [
        "train",
        "--train",
        d / "train.txt",
        "--model",
        d / "new.npz",
        "--no-progress",
        *cli_flags(TINY_SHORT_SVP),
        *extra,
    ]


# Each case: the command line (from the cli_files directory) and the patterns its one
# error line must contain.
ONE_LINE_ERRORS = [
    pytest.param(
        lambda d: ["train", "--train", d / "nope.txt", "--model", d / "new.npz"],
        [r"No such file or directory: '.*nope\.txt'"],
        id="missing train file",
    ),
    pytest.param(
        lambda d: [
            "predict",
            "--model",
            d / "garbage.npz",
            "--test",
            d / "test.txt",
            "--out",
            d / "p.txt",
        ],
        [r"garbage\.npz' is not a readable sleec model file"],
        id="garbage model file",
    ),
    pytest.param(
        lambda d: ["evaluate", "--truth", d / "train.txt", "--pred", d / "pred.txt"],
        [r"pred\.txt has predictions for 20 points but .*train\.txt has 40 points"],
        id="prediction truth row mismatch",
    ),
    pytest.param(
        lambda d: _train(d, "--n-components", "0"),
        [
            r"The 'n_components' parameter of SLEEC must be an int in "
            r"the range \[1, 2147483647\]\. Got 0 instead"
        ],
        id="zero components",
    ),
    pytest.param(
        lambda d: [
            "predict",
            "--model",
            d / "model.npz",
            "--test",
            d / "test_wide.txt",
            "--out",
            d / "p.txt",
        ],
        [rf"X has {D + 5} features, but SLEEC is expecting {D} features"],
        id="test file with more features",
    ),
    pytest.param(
        lambda d: ["evaluate", "--truth", d / "truth_narrow.txt", "--pred", d / "pred.txt"],
        [r"predicts label id \d+ \(first in row \d+\), but .* has only 2 labels"],
        id="predictions beyond truth labels",
    ),
    pytest.param(
        lambda d: ["evaluate", "--truth", d / "truth_narrow.txt", "--pred", d / "pred.txt"],
        [r"pred\.txt", r"truth_narrow\.txt"],
        id="predictions beyond truth labels names files",
    ),
]


@pytest.mark.parametrize(("argv", "patterns"), ONE_LINE_ERRORS)
def test_cli_one_line_error(cli_files, capsys, argv, patterns):
    code, err = run_cli(capsys, *argv(cli_files))
    assert_one_line_error(code, err, *patterns)


def test_cli_malformed_train_file(cli_files, capsys):
    d = cli_files
    code, err = run_cli(capsys, "train", "--train", d / "bad.txt", "--model", d / "new.npz")
    assert_one_line_error(
        code,
        err,
        re.escape(str(d / "bad.txt")) + r", line 3: bad feature "
        r"token 'x:1'",
    )
    assert not (d / "new.npz").exists()


def test_cli_predict_k_zero_is_a_usage_error(cli_files, capsys):
    d = cli_files
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        d / "model.npz",
        "--test",
        d / "test.txt",
        "--out",
        d / "p.txt",
        "--k",
        "0",
    )
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "sleec: error: argument --k: expected a positive integer, got '0' "
        "(see 'sleec predict --help')"
    ]


def test_cli_truth_with_more_labels_than_the_model_is_accepted(cli_files, capsys, tmp_path):
    """evaluate sees no model: a truth file with extra labels is valid (never predicted)."""
    X, Y = make_data(n=20, n_labels=L + 10, seed=4)
    write_xc(tmp_path / "truth_wide.txt", X, Y)
    code = cli.main(
        [
            "evaluate",
            "--truth",
            str(tmp_path / "truth_wide.txt"),
            "--pred",
            str(cli_files / "pred.txt"),
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert 0.0 <= json.loads(out)["P@1"] <= 1.0


def test_cli_header_n_beyond_int64(cli_files, capsys, tmp_path):
    path = tmp_path / "huge.txt"
    path.write_text(f"{2**70} 5 4\n0 0:1\n")
    code, err = run_cli(capsys, "train", "--train", path, "--model", tmp_path / "m.npz")
    assert_one_line_error(code, err, r"huge\.txt, line 1")


def test_cli_split_row_beyond_the_data(cli_files, capsys, tmp_path):
    split = tmp_path / "split.txt"
    split.write_text("1\n999\n")
    code, err = run_cli(capsys, *_train(cli_files, "--train-split", split))
    assert_one_line_error(
        code, err, r"row number 999 beyond the data", re.escape(str(split)) + r", line 2: "
    )


def test_cli_model_with_damaged_zip_header(cli_files, capsys, tmp_path):
    raw = bytearray((cli_files / "model.npz").read_bytes())
    raw[central_directory(raw) + 8] ^= 0x01
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(raw))
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        path,
        "--test",
        cli_files / "test.txt",
        "--out",
        tmp_path / "p.txt",
    )
    assert_one_line_error(code, err, r"damaged\.npz")


def test_message_deeply_nested_params_json(trained_files, tmp_path, capsys):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "p.json").write_text(deep)
    code, err = run_cli(
        capsys,
        "train",
        "--train",
        trained_files / "train.txt",
        "--model",
        tmp_path / "m.npz",
        "--params",
        tmp_path / "p.json",
    )
    assert_one_line_error(code, err, r"p\.json: JSON nested too deeply")
    payload = dict(np.load(trained_files / "model.npz", allow_pickle=False))
    payload["params"] = np.array(deep)
    with open(tmp_path / "m.npz", "wb") as fh:
        np.savez(fh, **resign(payload))
    with pytest.raises(ModelFormatError, match="JSON nested too deeply"):
        SLEEC.load(tmp_path / "m.npz")


def test_message_huge_label_id_in_a_prediction_file(trained_files, tmp_path, capsys):
    (tmp_path / "p.txt").write_text("0:1\n" * 9 + f"{10**23}:1\n")
    code, err = run_cli(
        capsys, "evaluate", "--truth", trained_files / "test.txt", "--pred", tmp_path / "p.txt"
    )
    assert_one_line_error(
        code,
        err,
        r"p\.txt, line 10: label id 100000000000000000000000 out of "
        r"range; expected an integer in \[0, 2147483647\]",
    )


@pytest.mark.parametrize("n_jobs", ["1000", "1000000", "0"])
def test_message_n_jobs(trained_files, tmp_path, capsys, n_jobs):
    code, err = run_cli(
        capsys,
        "train",
        "--train",
        trained_files / "train.txt",
        "--model",
        tmp_path / "m.npz",
        "--n-jobs",
        n_jobs,
        *TINY_FLAGS,
        "--no-progress",
    )
    if n_jobs == "1000":
        assert code == 0, err  # more workers than tasks: capped
    else:
        assert_one_line_error(
            code,
            err,
            r"The 'n_jobs' parameter of SLEEC must be None or an int in "
            r"the range \[-1024, 1024\] other than 0",
        )


def test_message_huge_n_components_names_the_parameter(trained_files, tmp_path, capsys):
    code, err = run_cli(
        capsys,
        "train",
        "--train",
        trained_files / "train.txt",
        "--model",
        tmp_path / "m.npz",
        "--n-components",
        str(10**30),
    )
    assert_one_line_error(
        code,
        err,
        r"The 'n_components' parameter of SLEEC must be an int in the "
        r"range \[1, 2147483647\]\. Got 10{30} instead",
    )
