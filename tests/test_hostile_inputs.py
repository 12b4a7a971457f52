"""Hostile and careless inputs, round 2: each class is fixed at its mechanism (the value
parser, the one output-opening helper, the size-checked model reader, the label and feature
compaction), and each test below is one probe of a class.

1. Long numbers (``test_number_*``): any digit count parses to the correctly rounded value;
   an xz or bzip2 stream followed by garbage is refused, like gzip.
2. Outputs (``test_output_*``): an output that is an input is refused before any work; a
   device or FIFO is written through, a symlink stays a link; a trailing slash is an error;
   SIGTERM during a save leaves no temporary file.
3. Untrusted sizes (``test_size_*``): memory follows the non-zeros, not a declared D or L;
   a deflated bomb in a model file is refused before inflating; k is clipped to the labels;
   a long prediction line is read up to k.
4. Model contents (``test_model_*``): non-finite arrays and wrong types are refused at load.
5. One-line errors (``test_message_*``): the parameter, flag, file or range is named.
"""

from __future__ import annotations

import bz2
import json
import lzma
import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sleec import SLEEC, _persist, cli
from sleec.datasets import read_predictions, read_xc, write_predictions, write_xc
from sleec.exceptions import DataFormatError, ModelFormatError
from sleec.metrics import evaluate

SMALL = [
    "--n-learners",
    "1",
    "--n-components",
    "4",
    "--n-graph-neighbors",
    "5",
    "--n-neighbors",
    "3",
    "--no-progress",
]
FIT = {"n_learners": 1, "n_components": 4, "n_graph_neighbors": 5, "n_neighbors": 3}


def run(capsys, *argv) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str, pattern: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("sleec: error: ") and re.search(pattern, lines[0]), lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    X = sp.random(60, 12, density=0.4, random_state=1, format="csr", dtype=np.float32)
    Yd = (rng.random((60, 5)) < 0.4).astype(np.float32)
    Yd[np.arange(60), rng.integers(0, 5, 60)] = 1
    Y = sp.csr_matrix(Yd)
    write_xc(d / "train.txt", X, Y)
    write_xc(d / "test.txt", X[:10], Y[:10])
    model = SLEEC(**FIT, random_state=0).fit(X, Y)
    model.save(d / "model.npz")
    return d


# ============================================================================ 1. numbers
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.9999999999999999999", 1.0),
        ("9300000000000000000", 9.3e18),
        ("12345678901234567890123", 1.2345678901234568e22),
        ("-0.00000000000000000000000000123456789012345678", -1.2345679e-27),
        ("1" + "0" * 30 + "e-30", 1.0),
        ("0." + "0" * 40 + "5e40", 0.5),
    ],
)
def test_number_any_digit_count_parses_exactly(tmp_path, text, value):
    path = tmp_path / "d.txt"
    path.write_text(f"1 1 1\n0 0:{text}\n")
    X, _ = read_xc(path)
    assert X[0, 0] == np.float32(value)


@pytest.mark.parametrize(
    ("name", "compress"),
    [("d.txt.xz", lzma.compress), ("d.txt.bz2", bz2.compress)],
)
def test_number_compressed_stream_followed_by_garbage_is_refused(tmp_path, name, compress):
    text = b"1 1 1\n0 0:1\n"
    path = tmp_path / name
    path.write_bytes(compress(text) + b"garbage after the stream")
    with pytest.raises(
        DataFormatError,
        match=r"trailing bytes after the compressed stream are "
        r"not another (xz|bzip2) stream",
    ):
        read_xc(path)
    path.write_bytes(compress(text[:7]) + compress(text[7:]))  # concatenated streams are fine
    assert read_xc(path)[0].nnz == 1


# ============================================================================ 2. outputs
@pytest.mark.parametrize(
    ("argv", "copy_of"),
    [
        (["train", "--train", "{d}/copy", "--model", "{d}/copy", *SMALL], "train.txt"),
        (
            ["predict", "--model", "{d}/model.npz", "--test", "{d}/copy", "--out", "{d}/copy"],
            "test.txt",
        ),
        (
            ["predict", "--model", "{d}/copy", "--test", "{d}/test.txt", "--out", "{d}/copy"],
            "model.npz",
        ),
        (
            ["predict", "--model", "{d}/model.npz", "--test", "{d}/test.txt", "--out", "{d}/link"],
            "test.txt",
        ),
    ],
    ids=["train --model = --train", "--out = --test", "--out = --model", "--out links --test"],
)
def test_output_that_is_an_input_is_refused_before_work(files, tmp_path, capsys, argv, copy_of):
    d = tmp_path
    for name in ("model.npz", "test.txt"):
        (d / name).write_bytes((files / name).read_bytes())
    (d / "copy").write_bytes((files / copy_of).read_bytes())
    os.symlink(d / "test.txt", d / "link")
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    code, err = run(capsys, *[a.format(d=d) for a in argv])
    one_line_error(
        code,
        err,
        r"is the same file as --(train|test|model) .*refusing to "
        r"overwrite an input",
    )
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before


def test_output_fifo_is_written_through(files, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.stdout.write(open({str(fifo)!r}).read())"],
        stdout=subprocess.PIPE,
        text=True,
    )
    code, err = run(
        capsys,
        "predict",
        "--model",
        files / "model.npz",
        "--test",
        files / "test.txt",
        "--out",
        fifo,
        "--k",
        "2",
    )
    out, _ = reader.communicate(timeout=60)
    assert code == 0, err
    assert len(out.splitlines()) == 10 and ":" in out
    assert Path(fifo).is_fifo()  # still a FIFO, not a regular file renamed over it


def test_output_character_device_is_written_through(files, capsys):
    if not os.access("/dev/null", os.W_OK):
        pytest.skip("/dev/null is not writable here")
    code, err = run(
        capsys,
        "predict",
        "--model",
        files / "model.npz",
        "--test",
        files / "test.txt",
        "--out",
        "/dev/null",
    )
    assert code == 0, err
    assert Path("/dev/null").is_char_device()


def test_output_symlink_stays_a_link(files, tmp_path, capsys):
    target = tmp_path / "real.txt"
    target.write_text("old\n")
    link = tmp_path / "pred.txt"
    os.symlink(target, link)
    code, err = run(
        capsys,
        "predict",
        "--model",
        files / "model.npz",
        "--test",
        files / "test.txt",
        "--out",
        link,
    )
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(target.read_text().splitlines()) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.txt", "real.txt"]


def test_output_with_a_trailing_slash_is_an_error(files, tmp_path, capsys):
    code, err = run(
        capsys,
        "predict",
        "--model",
        files / "model.npz",
        "--test",
        files / "test.txt",
        "--out",
        f"{tmp_path}/somedir/",
    )
    one_line_error(code, err, r"Is a directory \(expected a file name\): ..*somedir/.")
    assert not (tmp_path / "somedir").exists()


@pytest.mark.slow
def test_output_sigterm_during_a_save_leaves_no_temporary_file(tmp_path):
    # A save slowed down to a crawl, SIGTERM in the middle: the old file stays, no temp.
    script = textwrap.dedent(f"""
        import time, numpy as np
        real = np.savez
        def slow(fh, **arrays):
            print("saving", flush=True)
            time.sleep(30)
            real(fh, **arrays)
        np.savez = slow
        from sleec import cli
        raise SystemExit(cli.main(["predict", "--model", {str(tmp_path / "m.npz")!r},
                                   "--test", {str(tmp_path / "t.txt")!r},
                                   "--out", {str(tmp_path / "out.npz")!r}]))
    """)
    X = sp.random(30, 6, density=0.5, random_state=0, format="csr", dtype=np.float32)
    Y = sp.csr_matrix(np.eye(30, 3, dtype=np.float32) + np.eye(30, 3, -3, dtype=np.float32))
    write_xc(tmp_path / "t.txt", X, Y)
    SLEEC(**FIT, random_state=0).fit(X, Y).save(tmp_path / "m.npz")
    (tmp_path / "out.npz").write_bytes(b"old predictions")
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "saving"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "sleec: error: terminated (SIGTERM)" in err
    assert (tmp_path / "out.npz").read_bytes() == b"old predictions"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "out.npz", "t.txt"]


def test_output_write_errors_name_the_target(tmp_path, monkeypatch):
    import errno

    from sleec import _atomic

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/.pred.txt.x8z.tmp")

    monkeypatch.setattr(_atomic.os, "fsync", full)
    with pytest.raises(OSError, match="No space left") as info:
        write_predictions(
            str(tmp_path / "pred.txt"), np.zeros((1, 1), np.int32), np.zeros((1, 1), np.float32)
        )
    assert info.value.filename == str(tmp_path / "pred.txt")
    assert not list(tmp_path.iterdir())


# ============================================================================ 3. sizes
def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("header", ["6 2147483647 3", "6 4 2147483647"], ids=["D", "L"])
def test_size_declared_dimensions_do_not_drive_memory(tmp_path, capsys, header):
    # A 60-byte file declaring 2**31 - 1 features or labels trains and predicts in a few MB.
    path = tmp_path / "tiny.txt"
    path.write_text(header + "\n0 0:1 1:1\n1 1:1 2:1\n2 2:1 3:1\n0,1 0:1\n1,2 3:1\n2 1:1\n")
    start = _peak_mb()
    assert (
        cli.main(
            [
                "train",
                "--train",
                str(path),
                "--model",
                str(tmp_path / "m.npz"),
                "--n-components",
                "2",
                "--n-graph-neighbors",
                "2",
                "--n-neighbors",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "predict",
                "--model",
                str(tmp_path / "m.npz"),
                "--test",
                str(path),
                "--out",
                str(tmp_path / "p.txt"),
                "--k",
                "3",
            ]
        )
        == 0
    )
    assert _peak_mb() - start < 300
    assert len((tmp_path / "p.txt").read_text().splitlines()) == 6
    capsys.readouterr()


def test_size_two_million_hashed_features_fit_in_little_memory():
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(100), 20)
    X = sp.csr_matrix(
        (rng.random(2000, dtype=np.float32), (rows, rng.integers(0, 2_000_000, 2000))),
        shape=(100, 2_000_000),
    )
    Y = sp.csr_matrix(
        (np.ones(100, np.float32), (np.arange(100), np.arange(100) % 7)), shape=(100, 7)
    )
    start = _peak_mb()
    model = SLEEC(random_state=0).fit(X, Y)
    assert model.predict_topk(X[:5], 3)[0].shape == (5, 3)
    assert _peak_mb() - start < 200  # the dense d x r regressor alone would be 1.6 GB


def test_size_deflated_bomb_in_a_model_file_is_refused_before_inflating(files, tmp_path):
    payload = dict(np.load(files / "model.npz", allow_pickle=False))
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, value in payload.items():
            if key == "E":
                continue
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value)
        with zf.open("E.npy", "w", force_zip64=True) as fh:  # 400 MB of zeros, ~400 KB zipped
            np.lib.format.write_array(fh, np.zeros((100_000_000,), np.float32))
    start = _peak_mb()
    with pytest.raises(
        ModelFormatError,
        match=r"member\(s\) declare \d+ bytes in a \d+-byte file",
    ):
        SLEEC.load(bomb)
    assert _peak_mb() - start < 100


def test_size_k_is_clipped_to_the_labels(files, tmp_path, capsys):
    model = SLEEC.load(files / "model.npz")
    ids, scores = model.predict_topk(read_xc(files / "test.txt")[0], 30_000_000)
    assert ids.shape == scores.shape == (10, 5)
    code, err = run(
        capsys,
        "predict",
        "--model",
        files / "model.npz",
        "--test",
        files / "test.txt",
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
            str(files / "test.txt"),
            "--pred",
            str(tmp_path / "p.npz"),
            "--k",
            str(10**8),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and "P@5" in out and "P@100000000" not in out


def test_size_metrics_work_is_sized_by_the_data():
    Y = sp.csr_matrix(np.eye(4, 3, dtype=np.float32))
    ids = np.array([[0, 1], [1, -1], [2, 0], [-1, -1]])
    small = evaluate(Y, ids, 2)
    big = evaluate(Y, ids, 1000)  # ranks past the widest row are extended, not built
    assert big["P"].shape == (1000,)
    np.testing.assert_allclose(big["P"][:2], small["P"])
    np.testing.assert_allclose(big["P"][999], small["P"][1] * 2 / 1000)
    np.testing.assert_allclose(big["nDCG"][999], big["nDCG"][2])


def test_size_long_prediction_line_is_read_up_to_k(tmp_path):
    path = tmp_path / "pred.txt"
    path.write_text(" ".join(f"{j}:0.5" for j in range(600_000)) + "\n1:1\n")
    ids = read_predictions(str(path), 5)
    assert ids.shape == (2, 5) and ids[0].tolist() == [0, 1, 2, 3, 4]


# ============================================================================ 4. models
def _resigned(payload: dict) -> dict:
    return {**payload, "checksum": np.array(_persist._checksum(payload))}


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("format_version", np.array(1.5), r"unreadable format version \(1\.5 of dtype float64"),
        ("format_version", np.array(True), r"unreadable format version \(True of dtype bool"),
        ("format_version", np.array([2]), r"unreadable format version \(\[2\] of dtype int64"),
        (
            "shape_n_d_l_r",
            np.array([60.0, 12.5, 5, 4]),
            r"array 'shape_n_d_l_r' has dtype "
            r"float64; expected integers",
        ),
        ("E", None, r"array 'E' holds NaN or infinite values"),
    ],
    ids=["version 1.5", "version True", "version [2]", "fractional sizes", "inf embedding"],
)
def test_model_contents_with_a_valid_checksum(files, tmp_path, key, value, match):
    payload = dict(np.load(files / "model.npz", allow_pickle=False))
    if value is None:
        value = payload[key].copy()
        value[0, 0] = np.inf
    payload[key] = value
    path = tmp_path / "m.npz"
    with open(path, "wb") as fh:
        np.savez(fh, **_resigned(payload))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


# ============================================================================ 5. messages
def test_message_deeply_nested_params_json(files, tmp_path, capsys):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "p.json").write_text(deep)
    code, err = run(
        capsys,
        "train",
        "--train",
        files / "train.txt",
        "--model",
        tmp_path / "m.npz",
        "--params",
        tmp_path / "p.json",
    )
    one_line_error(code, err, r"p\.json: JSON nested too deeply")
    payload = dict(np.load(files / "model.npz", allow_pickle=False))
    payload["params"] = np.array(deep)
    with open(tmp_path / "m.npz", "wb") as fh:
        np.savez(fh, **_resigned(payload))
    with pytest.raises(ModelFormatError, match="JSON nested too deeply"):
        SLEEC.load(tmp_path / "m.npz")


def test_message_huge_label_id_in_a_prediction_file(files, tmp_path, capsys):
    (tmp_path / "p.txt").write_text("0:1\n" * 9 + f"{10**23}:1\n")
    code, err = run(capsys, "evaluate", "--truth", files / "test.txt", "--pred", tmp_path / "p.txt")
    one_line_error(
        code,
        err,
        r"p\.txt, line 10: label id 100000000000000000000000 out of "
        r"range; expected an integer in \[0, 2147483647\]",
    )


@pytest.mark.parametrize("n_jobs", ["1000", "1000000", "0"])
def test_message_n_jobs(files, tmp_path, capsys, n_jobs):
    code, err = run(
        capsys,
        "train",
        "--train",
        files / "train.txt",
        "--model",
        tmp_path / "m.npz",
        "--n-jobs",
        n_jobs,
        *SMALL,
    )
    if n_jobs == "1000":
        assert code == 0, err  # more workers than tasks: capped
    else:
        one_line_error(
            code,
            err,
            r"The 'n_jobs' parameter of SLEEC must be None or an int in "
            r"the range \[-1024, 1024\] other than 0",
        )


def test_message_fraction_step_is_used_as_a_float():
    from fractions import Fraction

    X = sp.random(40, 8, density=0.5, random_state=0, format="csr", dtype=np.float32)
    Y = sp.csr_matrix(np.eye(40, 4, dtype=np.float32) + np.eye(40, 4, -4, dtype=np.float32))
    model = SLEEC(**FIT, svp_step=Fraction(3, 2), random_state=0).fit(X, Y)
    assert model.predict_topk(X, 2)[0].shape == (40, 2)


def test_message_huge_n_components_names_the_parameter(files, tmp_path, capsys):
    code, err = run(
        capsys,
        "train",
        "--train",
        files / "train.txt",
        "--model",
        tmp_path / "m.npz",
        "--n-components",
        str(10**30),
    )
    one_line_error(
        code,
        err,
        r"The 'n_components' parameter of SLEEC must be an int in the "
        r"range \[1, 2147483647\]\. Got 10{30} instead",
    )


def test_message_value_beyond_float32(tmp_path):
    X = np.array([[1.0, 1e300], [1.0, 0.0]])
    with pytest.raises(
        ValueError,
        match=r"X contains 1e\+300, beyond the float32 range .*first "
        r"in row 0",
    ):
        SLEEC(**FIT).fit(X, np.eye(2))
    path = tmp_path / "d.txt"
    path.write_text("1 2 1\n0 0:1e300\n")
    with pytest.raises(
        DataFormatError,
        match=r"line 2: non-finite value in '0:1e300' \(NaN, "
        r"infinity or beyond the float32 range\)",
    ):
        read_xc(path)


# ================================================================ review: more file probes
def test_model_overlapping_zip_members_are_refused_before_reading(files, tmp_path):
    # Members whose bytes overlap (nested zip entries) can make a small file read as many
    # times its size; a file sleec wrote has disjoint members in increasing order.
    raw = bytearray((files / "model.npz").read_bytes())
    with zipfile.ZipFile(files / "model.npz") as zf:
        offsets = sorted((i.header_offset, i.file_size) for i in zf.infolist())
    assert all(b[0] >= a[0] + a[1] for a, b in zip(offsets[:-1], offsets[1:], strict=True))
    # Forge an overlap: the second central-directory entry points at the first member.
    eocd = raw.rfind(b"PK\x05\x06")
    cd = int.from_bytes(raw[eocd + 16 : eocd + 20], "little")
    second = raw.find(b"PK\x01\x02", cd + 4)
    raw[second + 42 : second + 46] = raw[cd + 42 : cd + 46]
    forged = tmp_path / "forged.npz"
    forged.write_bytes(bytes(raw))
    with pytest.raises(ModelFormatError, match=r"its members overlap"):
        SLEEC.load(forged)


def test_prediction_file_bomb_is_refused(files, tmp_path):
    path = tmp_path / "pred.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("ids.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.zeros((50_000_000, 2), np.int32))
    start = _peak_mb()
    with pytest.raises(
        DataFormatError,
        match=r"pred\.npz: not a readable \.npz file \(its 1 member\(s\) declare 4000\d+ bytes",
    ):
        read_predictions(str(path))
    assert _peak_mb() - start < 100


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p: {"classes": np.array([0, 0, 2, 3, 4])}, "bad label names"),
        (
            lambda p: {
                "train_labels_indices": np.zeros(0, np.int32),
                "train_labels_indptr": np.zeros(61, np.int64),
            },
            "no training labels",
        ),
        (lambda p: {"rows_offsets": np.array([0, 0, p["rows"].size])}, "bad row offsets"),
        (
            lambda p: {"text_vectorizer": np.array("[" * 100_000 + "]" * 100_000)},
            "unreadable text vectoriser",
        ),
    ],
    ids=["duplicate names", "no labels", "an empty cluster", "nested vectoriser JSON"],
)
def test_model_more_contents_with_a_valid_checksum(files, tmp_path, change, match):
    payload = dict(np.load(files / "model.npz", allow_pickle=False))
    if "classes" in change(payload):
        payload["label_kind"] = np.array("lists")
    if "rows_offsets" in change(payload):
        payload["learner_n_clusters"] = np.array([2])
        payload["centers_indptr"] = np.concatenate(
            [payload["centers_indptr"], payload["centers_indptr"][-1:]]
        )
        payload["features_offsets"] = np.concatenate(
            [payload["features_offsets"][:1], payload["features_offsets"]]
        )
        payload["W_indptr"] = np.concatenate([payload["W_indptr"]])
    payload.update(change(payload))
    path = tmp_path / "m.npz"
    with open(path, "wb") as fh:
        np.savez(fh, **_resigned(payload))
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


def test_outputs_are_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import locale

    from sleec.datasets import read_text, write_label_names

    monkeypatch.setattr(locale, "getpreferredencoding", lambda *a, **k: "ascii")
    write_label_names(tmp_path / "out.tsv", [["café", "日本"]], [[0.5, 0.25]])
    assert (tmp_path / "out.tsv").read_text(encoding="utf-8") == "café,日本\t0.5,0.25\n"
    texts, labels = read_text(tmp_path / "out.tsv")
    assert labels == [["café", "日本"]]
