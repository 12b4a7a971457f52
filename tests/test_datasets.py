"""Tests for ``sleec.datasets``: XC, SVMlight and split readers, writer, bundled and toy data."""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import sleec.io.xc
from sleec.datasets import (
    load_bibtex,
    make_xmc,
    read_split,
    read_svmlight_multilabel,
    read_xc,
    read_xc_split,
    write_xc,
)
from sleec.exceptions import DataFormatError
from sleec.io import _xc_parse, _xc_read

HYP = settings(max_examples=60, deadline=None)


# ------------------------------------------------------------------------------------------
# helpers


def _put(path: Path, content: bytes | str) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _assert_same(A: sp.csr_matrix, B: sp.spmatrix) -> None:
    """Exactly equal values and shape; ``A`` (a reader's output) is canonical float32 CSR."""
    assert sp.isspmatrix_csr(A) and A.dtype == np.float32
    assert A.shape == B.shape
    row_start = np.isin(np.arange(1, A.nnz), A.indptr)
    assert A.has_sorted_indices and np.all((np.diff(A.indices) > 0) | row_start)
    assert (A != sp.csr_matrix(B, dtype=np.float32)).nnz == 0


def _random_xy(rng: np.random.Generator, n: int, d: int, l_: int) -> tuple:
    X = sp.random(n, d, density=0.3, format="csr", dtype=np.float32, random_state=rng)
    X.data = (X.data - 0.5).astype(np.float32) * rng.choice([1e-3, 1, 1e5], X.nnz).astype(
        np.float32
    )
    Y = sp.random(n, l_, density=0.3, format="csr", random_state=rng)
    Y.data[:] = 1
    return X, Y.astype(np.float32)


_WS = " \t\r"
_NUM = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")


def _ws_split(s: str) -> list[str]:
    return [t for t in re.split(r"[ \t\r]+", s) if t]


def _ref_read(data: bytes) -> tuple[tuple[int, int, int], dict, dict]:
    """Pure-Python reference reader of ASCII XC text: shape, {(r, c): x}, {(r, c): 1}.

    Raises ValueError wherever ``read_xc`` must raise DataFormatError.
    """
    lines = data.decode("ascii").split("\n")
    if lines[-1] == "":
        lines.pop()
    if not lines:
        raise ValueError("empty")
    head = _ws_split(lines[0])
    if len(head) != 3 or not all(t.isdigit() for t in head):
        raise ValueError("header")
    n, d, l_ = map(int, head)
    if max(d, l_) > 2**31 - 1:
        raise ValueError("too large")
    body = lines[1:]
    if len(body) < n or any(s.strip(_WS) for s in body[n:]):
        raise ValueError("row count")
    X, Y = {}, {}
    for r, line in enumerate(body[:n]):
        rest = line
        first = re.match(r"[^ \t\r]*", line).group()
        if first and ":" not in first:
            rest = line[len(first) :]
            for t in first.split(","):
                if not t.isdigit() or int(t) >= l_ or (r, int(t)) in Y:
                    raise ValueError("label")
                Y[r, int(t)] = 1.0
        for tok in _ws_split(rest):
            idx, sep, val = tok.partition(":")
            if not sep or not idx.isdigit() or int(idx) >= d or (r, int(idx)) in X:
                raise ValueError("feature")
            if not _NUM.match(val):
                raise ValueError("value")
            with np.errstate(over="ignore"):
                v = np.float32(float(val))
            if not np.isfinite(v):
                raise ValueError("non-finite")
            X[r, int(idx)] = v
    return (n, d, l_), {k: v for k, v in X.items() if v != 0}, Y


def _as_dict(M: sp.csr_matrix) -> dict:
    C = M.tocoo()
    return {(int(r), int(c)): v for r, c, v in zip(C.row, C.col, C.data, strict=True) if v != 0}


def _xc_text(X: np.ndarray, Y: np.ndarray, fmt=repr) -> str:
    """Independent XC writer for dense matrices (values via ``fmt``)."""
    lines = [f"{X.shape[0]} {X.shape[1]} {Y.shape[1]}"]
    for x, y in zip(X, Y, strict=True):
        labels = ",".join(str(j) for j in np.flatnonzero(y))
        feats = " ".join(f"{j}:{fmt(float(x[j]))}" for j in np.flatnonzero(x))
        lines.append(f"{labels} {feats}" if feats else labels)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# read_xc: hand-made file and round trips


def test_read_hand_written_file(tmp_path):
    text = (
        "5 6 4\n"
        "0,2 1:0.5 4:2\n"
        " 0:1.5e1 5:-3\n"  # no labels
        "3\n"  # no features
        "\n"  # nothing
        "1,0 3:1 2:.25\r\n"
    )  # unsorted ids, CRLF
    X, Y = read_xc(_put(tmp_path / "hand.txt", text))
    X_exp = np.zeros((5, 6), np.float32)
    X_exp[0, [1, 4]] = [0.5, 2]
    X_exp[1, [0, 5]] = [15, -3]
    X_exp[4, [2, 3]] = [0.25, 1]
    Y_exp = np.zeros((5, 4), np.float32)
    Y_exp[0, [0, 2]] = 1
    Y_exp[2, 3] = 1
    Y_exp[4, [0, 1]] = 1
    _assert_same(X, X_exp)
    _assert_same(Y, Y_exp)
    assert np.array_equal(Y.data, np.ones(Y.nnz, np.float32))


@pytest.mark.parametrize("ext", ["txt", "txt.gz", "txt.xz", "txt.bz2"])
def test_write_read_round_trip(tmp_path, rng, ext):
    X, Y = _random_xy(rng, 40, 30, 12)
    X = sp.vstack([X, sp.csr_matrix((3, 30))]).tocsr()  # rows without features...
    Y = sp.vstack([Y, sp.csr_matrix(np.eye(3, 12))]).tolil()
    Y[5, :] = 0  # ...and a row with features but no labels
    Y = Y.tocsr()
    path = tmp_path / f"data.{ext}"
    write_xc(path, X, Y)
    magic = path.read_bytes()[:6]
    assert {
        "gz": magic[:2] == b"\x1f\x8b",
        "xz": magic == b"\xfd7zXZ\x00",
        "bz2": magic[:3] == b"BZh",
        "txt": magic[:3] == b"43 ",
    }[ext.rsplit(".", 1)[-1]]
    X2, Y2 = read_xc(path)
    _assert_same(X2, X)
    _assert_same(Y2, Y)
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left


def test_round_trip_empty_file(tmp_path):
    path = tmp_path / "empty.txt.xz"
    write_xc(path, sp.csr_matrix((0, 7)), sp.csr_matrix((0, 3)))
    X, Y = read_xc(path)
    assert X.shape == (0, 7) and Y.shape == (0, 3) and X.nnz == Y.nnz == 0


def test_compression_detected_by_content_not_name(tmp_path):
    text = b"1 3 2\n1 2:4\n"
    for opener, name in ((gzip.compress, "a.txt"), (lzma.compress, "b.gz"), (bz2.compress, "c")):
        X, Y = read_xc(_put(tmp_path / name, opener(text)))
        assert X.toarray().tolist() == [[0, 0, 4]] and Y.toarray().tolist() == [[0, 1]]


def test_small_blocks_give_same_result_and_lines(tmp_path, rng, monkeypatch):
    X, Y = _random_xy(rng, 30, 20, 8)
    path = tmp_path / "d.txt"
    write_xc(path, X, Y)
    bad = path.read_text().splitlines()
    bad[25] = bad[25] + " 99:1"
    _put(tmp_path / "bad.txt", "\n".join(bad) + "\n")
    for size in (1, 7, 64, 1000):
        monkeypatch.setattr(_xc_read, "_BLOCK_SIZE", size)
        X2, Y2 = read_xc(path)
        _assert_same(X2, X)
        _assert_same(Y2, Y)
        with pytest.raises(DataFormatError, match="line 26: feature id 99 out of range"):
            read_xc(tmp_path / "bad.txt")


def test_write_xc_is_atomic_and_validates(tmp_path, rng, monkeypatch):
    X, Y = _random_xy(rng, 10, 5, 4)
    path = tmp_path / "out.txt.gz"
    write_xc(path, X, Y)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sleec.io.xc, "_write_lines", boom)
    with pytest.raises(KeyboardInterrupt):
        write_xc(path, X * 2, Y)
    assert path.read_bytes() == before and os.listdir(tmp_path) == [path.name]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="inconsistent numbers of rows"):
        write_xc(tmp_path / "x.txt", X, Y[:5])
    with pytest.raises(ValueError, match="2-D"):
        write_xc(tmp_path / "x.txt", np.zeros(3), Y)
    assert not (tmp_path / "x.txt").exists()


def test_write_xc_shortest_float32_text(tmp_path):
    X = sp.csr_matrix(np.array([[0.1, 1.0, 3.4028235e38, 1e-45]], np.float32))
    write_xc(tmp_path / "v.txt", X, sp.csr_matrix((1, 1)))
    assert (tmp_path / "v.txt").read_text() == "1 4 1\n 0:0.1 1:1.0 2:3.4028235e+38 3:1e-45\n"
    _assert_same(read_xc(tmp_path / "v.txt")[0], X)


# ------------------------------------------------------------------------------------------
# read_xc: errors


@pytest.mark.parametrize(
    "content, line, words",
    [
        ("", 1, ["empty file", "expected a header"]),
        ("3 4\n", 1, ["malformed header", "'N D L'"]),
        ("a 4 5\n", 1, ["malformed header", "non-negative integers"]),
        ("-1 4 5\n", 1, ["malformed header"]),
        ("1 4 5 6\n", 1, ["malformed header"]),
        ("1 3000000000 5\n", 1, ["expected at most"]),
        ("3 4 2\n0 1:1\n1 2:1\n", 3, ["ends after 2 data row", "N = 3"]),
        ("1 4 2\n0 1:1\n1 2:1\n", 3, ["more data rows", "N = 1"]),
        ("1 4 2\n0 4:1\n", 2, ["feature id 4 out of range", "[0, D = 4)"]),
        ("1 4 2\n2 1:1\n", 2, ["label id 2 out of range", "[0, L = 2)"]),
        ("1 4 2\n0 -1:1\n", 2, ["negative feature id", "'-1:1'"]),
        ("1 4 2\n-1 1:1\n", 2, ["negative label id", "'-1'"]),
        ("2 4 2\n0 1:1\n0 1:1 3:2 1:5\n", 3, ["duplicate feature id 1"]),
        ("2 4 2\n0 1:1\n1,0,1 1:1\n", 3, ["duplicate label id 1"]),
        ("1 4 2\n0 x:1\n", 2, ["bad feature token 'x:1'", "'index:value'"]),
        ("1 4 2\n0 3:\n", 2, ["bad value", "'3:'", "number"]),
        ("1 4 2\n0 3:abc\n", 2, ["bad value", "'3:abc'"]),
        ("1 4 2\n0 3 1:1\n", 2, ["bad feature token '3'", "'index:value'"]),
        ("1 4 2\na 1:1\n", 2, ["bad label id 'a'", "label ids"]),
        ("1 4 2\n0,,1 1:1\n", 2, ["bad label id", "label ids"]),
        ("1 4 2\n0 1:nan\n", 2, ["non-finite value", "'1:nan'", "finite number"]),
        ("1 4 2\n0 1:-Infinity\n", 2, ["non-finite value"]),
        ("1 4 2\n0 1:1e39\n", 2, ["non-finite value", "'1:1e39'", "float32"]),
        ("1 4 2\n0 1:1e400\n", 2, ["non-finite value"]),
        ("2 4 2\n0 1:1\n0 1:\x00\x01\n", 3, ["not a text file"]),
        ("1 4 2\n0 1:\xe9t\xe9\n", 2, ["not a text file"]),
    ],
)
def test_read_xc_errors(tmp_path, content, line, words):
    path = _put(tmp_path / "bad_file.txt", content.encode("latin-1"))
    with pytest.raises(DataFormatError) as info:
        read_xc(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}, line {line}: "), msg
    assert info.value.line == line and info.value.path == str(path)
    for w in words:
        assert w in msg, msg


def test_read_xc_binary_garbage(tmp_path, rng):
    path = _put(tmp_path / "garbage.bin", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataFormatError, match=r"garbage\.bin, line 1: not a text file"):
        read_xc(path)


@pytest.mark.parametrize("ext, kind", [("gz", "gzip"), ("xz", "xz"), ("bz2", "bzip2")])
def test_read_xc_truncated_compressed(tmp_path, rng, ext, kind):
    path = tmp_path / f"cut.txt.{ext}"
    write_xc(path, *_random_xy(rng, 300, 50, 20))
    data = path.read_bytes()
    _put(path, data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=rf"cut\.txt\.{ext}: truncated or corrupt {kind}"):
        read_xc(path)


def test_read_xc_corrupt_compressed(tmp_path):
    data = bytearray(lzma.compress(b"1 2 2\n0 1:1\n" * 50))
    data[30:40] = b"0123456789"
    with pytest.raises(DataFormatError, match="truncated or corrupt xz"):
        read_xc(_put(tmp_path / "c.xz", bytes(data)))


def test_read_xc_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_xc(tmp_path / "nope.txt")


# ------------------------------------------------------------------------------------------
# the numba kernel against the pure-Python reference


def _random_value(rng: np.random.Generator) -> str:
    v = float(np.float32(rng.standard_normal() * 10.0 ** rng.integers(-8, 9)))
    return [
        repr,
        str,
        lambda x: f"{x:.6f}",
        lambda x: f"{x:e}",
        lambda x: f"{x:.17g}",
        lambda x: str(int(x)),
        lambda x: f"{x:.3E}",
    ][rng.integers(7)](v)


def test_kernel_matches_reference(rng):
    for trial in range(30):
        n, d, l_ = rng.integers(1, 20), rng.integers(1, 50), rng.integers(1, 30)
        rows = []
        for _ in range(n):
            labels = rng.permutation(l_)[: rng.integers(0, min(l_, 5) + 1)]
            feats = rng.permutation(d)[: rng.integers(0, min(d, 8) + 1)]
            lab = ",".join(map(str, labels))
            sep = rng.choice([" ", "\t", "  "])
            toks = [f"{j}:{_random_value(rng)}" for j in feats]
            rows.append(lab + (sep + sep.join(toks) if toks else "") + rng.choice(["", " ", "\r"]))
        text = "\n".join(rows) + ("\n" if trial % 2 else "")
        shape, X_ref, Y_ref = _ref_read(f"{n} {d} {l_}\n{text}".encode())
        buf = np.frombuffer(text.encode(), np.uint8)
        cap = text.count(":")
        f_idx, f_val = np.empty(cap, np.int32), np.empty(cap, np.float32)
        f_cnt, l_cnt = np.empty(n + 1, np.int64), np.empty(n + 1, np.int64)
        l_idx = np.empty(text.count(",") + n + 1, np.int32)
        slow = np.empty((cap, 3), np.int64)
        code, n_r, n_f, n_l, n_s, _, _, unsorted = _xc_parse.parse_xc_block(
            buf, d, l_, n, f_idx, f_val, f_cnt, l_idx, l_cnt, slow
        )
        assert code == _xc_parse.OK and n_r == n
        assert n_f == f_cnt[:n].sum() and n_l == l_cnt[:n].sum()
        for s in range(n_s):  # values left to Python: exponent beyond +-22 or many digits
            f_val[slow[s, 0]] = np.float32(float(text[slow[s, 1] : slow[s, 2]]))
        rows_f = np.repeat(np.arange(n), f_cnt[:n])
        got = {
            (int(r), int(c)): v
            for r, c, v in zip(rows_f, f_idx[:n_f], f_val[:n_f], strict=True)
            if v != 0
        }
        assert got == X_ref
        rows_l = np.repeat(np.arange(n), l_cnt[:n])
        assert {(int(r), int(c)) for r, c in zip(rows_l, l_idx[:n_l], strict=True)} == set(Y_ref)
        expect = False  # ids in file order are kept: some row not strictly increasing?
        for idx, cnt in ((f_idx, f_cnt[:n]), (l_idx, l_cnt[:n])):
            ends = np.cumsum(cnt)
            expect |= any(
                np.any(np.diff(idx[e - c : e]) <= 0) for c, e in zip(cnt, ends, strict=True)
            )
        assert bool(unsorted) == expect


def test_kernel_value_parsing_is_exact():
    values = [
        "1",
        "-2.5",
        "+.5",
        "5.",
        "1e3",
        "1E-3",
        "0.1",
        "123456789012345",
        "3.4028235e+38",
        "1e-45",
        "1.17549435e-38",
        "0.000001",
        "1234567890123456789012",
        "-0",
        "00012.50",
    ]
    text = " " + " ".join(f"{j}:{v}" for j, v in enumerate(values))
    path_vals = np.array([float(v) for v in values]).astype(np.float32)
    X, _ = _xc_read._parse_block(text.encode(), "v", 2, (1, 1), len(values), 1)[:2]
    got = np.zeros(len(values), np.float32)
    got[X[0]] = X[1]
    assert np.array_equal(got, path_vals)


# ------------------------------------------------------------------------------------------
# hypothesis properties


@HYP
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.tuples(
            st.sampled_from([b"2 5 3\n", b"1 4 4\n0", b"\xfd7zXZ\x00", b"\x1f\x8b", b"BZh9"]),
            st.binary(max_size=200),
        ).map(b"".join),
        st.binary(max_size=200).map(lzma.compress),
        st.binary(max_size=200).map(lambda b: gzip.compress(b"2 3 4\n" + b)),
    )
)
def test_random_bytes_parse_or_data_format_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.txt"
    path.write_bytes(data)
    try:
        X, Y = read_xc(path)
    except DataFormatError:
        return
    assert X.shape[0] == Y.shape[0] and X.dtype == Y.dtype == np.float32


_ALPHABET = "0123456789:,. \n\t-+eE.xna"


@st.composite
def _near_valid(draw):
    n, d, l_ = draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 5))
    vals = st.sampled_from([0.0, 0.0, 0.0, 1.0, 0.5, -2.25, 1e-3, 3e20, 7.0])
    X = np.array(
        draw(st.lists(st.lists(vals, min_size=d, max_size=d), min_size=n, max_size=n)), np.float32
    ).reshape(n, d)
    Y = np.array(
        draw(st.lists(st.lists(st.booleans(), min_size=l_, max_size=l_), min_size=n, max_size=n)),
        np.float32,
    ).reshape(n, l_)
    tokens = re.split(r"([ \n,:])", _xc_text(X, Y))
    body = tokens.index("\n") + 1  # mutate the header in about 1 case out of 8
    i = draw(
        st.integers(0, len(tokens) - 1)
        if draw(st.integers(0, 7)) == 3
        else st.integers(min(body, len(tokens) - 1), len(tokens) - 1)
    )
    action = draw(st.sampled_from(["replace", "delete", "duplicate", "insert"]))
    new = draw(st.text(_ALPHABET, max_size=4))
    if action == "replace":
        tokens[i] = new
    elif action == "delete":
        tokens[i] = ""
    elif action == "duplicate":
        tokens[i] = tokens[i] * 2
    else:
        tokens[i] = new + tokens[i]
    return "".join(tokens).encode()


@HYP
@given(data=_near_valid())
def test_near_valid_files_parse_correctly_or_fail_cleanly(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("mut") / "m.txt"
    path.write_bytes(data)
    try:
        shape, X_ref, Y_ref = _ref_read(data)
    except ValueError:
        with pytest.raises(DataFormatError):
            read_xc(path)
        return
    X, Y = read_xc(path)
    assert X.shape == shape[:2] and Y.shape == (shape[0], shape[2])
    got = _as_dict(X)
    assert got.keys() == X_ref.keys()
    np.testing.assert_allclose([got[k] for k in X_ref], list(X_ref.values()), rtol=1e-6)
    assert set(_as_dict(Y)) == set(Y_ref)


@HYP
@given(
    n=st.integers(0, 6),
    d=st.integers(0, 5),
    l_=st.integers(0, 4),
    ext=st.sampled_from(["txt", "gz", "xz", "bz2"]),
    data=st.data(),
)
def test_valid_matrices_round_trip(tmp_path_factory, n, d, l_, ext, data):
    floats = st.floats(width=32, allow_nan=False, allow_infinity=False)
    X = np.array(data.draw(st.lists(floats, min_size=n * d, max_size=n * d)), np.float32)
    Y = np.array(data.draw(st.lists(st.booleans(), min_size=n * l_, max_size=n * l_)), np.float32)
    X, Y = sp.csr_matrix(X.reshape(n, d)), sp.csr_matrix(Y.reshape(n, l_))
    path = tmp_path_factory.mktemp("rt") / f"r.{ext}"
    write_xc(path, X, Y)
    X2, Y2 = read_xc(path)
    _assert_same(X2, X)
    _assert_same(Y2, Y)


# ------------------------------------------------------------------------------------------
# split files


def test_read_split_columns_and_errors(tmp_path):
    path = _put(tmp_path / "split.txt", "3 1 2\n1 4 5\n\n2 2 7\n")
    assert read_split(path).tolist() == [2, 0, 1]
    assert read_split(path, column=3).tolist() == [1, 4, 6]
    assert read_split(path).dtype == np.int64
    with pytest.raises(
        DataFormatError,
        match=r"split\.txt, line 1: column 4 out of range; "
        "the file has 3 columns",
    ):
        read_split(path, column=4)
    with pytest.raises(ValueError, match="column"):
        read_split(path, column=0)
    bad = _put(tmp_path / "bad.txt", "3 1\n1 x\n")
    with pytest.raises(
        DataFormatError,
        match=r"bad\.txt, line 2: bad row number 'x'; "
        "expected a positive integer",
    ):
        read_split(bad, column=2)
    for tok in ("0", "-3", "2.0"):
        with pytest.raises(DataFormatError, match="line 2: bad row number"):
            read_split(_put(tmp_path / "b.txt", f"1\n{tok}\n"))
    with pytest.raises(DataFormatError, match="line 3: line has 1 columns; expected at least 2"):
        read_split(_put(tmp_path / "r.txt", "1 2\n3 4\n5\n"), column=2)
    with pytest.raises(DataFormatError, match="0 columns"):
        read_split(_put(tmp_path / "e.txt", ""))


def test_read_xc_split_selects_rows_and_checks_range(tmp_path, rng):
    X, Y = _random_xy(rng, 6, 5, 4)
    write_xc(tmp_path / "all.txt.xz", X, Y)
    tr = _put(tmp_path / "tr.txt.gz", gzip.compress(b"1 2\n3 4\n6 1\n"))
    te = _put(tmp_path / "te.txt", "2 6\n5 3\n")
    Xtr, Ytr, Xte, Yte = read_xc_split(tmp_path / "all.txt.xz", tr, te, column=2)
    _assert_same(Xtr, X[[1, 3, 0]])
    _assert_same(Ytr, Y[[1, 3, 0]])
    _assert_same(Xte, X[[5, 2]])
    _assert_same(Yte, Y[[5, 2]])
    te_bad = _put(tmp_path / "te_bad.txt", "2\n7\n")
    with pytest.raises(
        DataFormatError,
        match=r"te_bad\.txt, line 2: row number 7 beyond the "
        r"data; expected at most 6",
    ):
        read_xc_split(tmp_path / "all.txt.xz", tr, te_bad)


# ------------------------------------------------------------------------------------------
# SVMlight


def test_read_svmlight_multilabel(tmp_path):
    path = _put(
        tmp_path / "s.svm", "1,2 0:1 3:2.5\n\n# comment\n 1:5  # no labels\n3 qid:7 2:1\n0\n"
    )
    X, Y = read_svmlight_multilabel(path)
    _assert_same(X, np.array([[1, 0, 0, 2.5], [0, 5, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]))
    _assert_same(Y, np.array([[0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]]))
    X, Y = read_svmlight_multilabel(path, n_features=10, n_labels=6)
    assert X.shape == (4, 10) and Y.shape == (4, 6)
    X2, Y2 = read_svmlight_multilabel(_put(tmp_path / "s.gz", gzip.compress(path.read_bytes())))
    assert (X2 != X[:, :4]).nnz == 0 and Y2.shape == (4, 4)


@pytest.mark.parametrize(
    "content, kwargs, words",
    [
        ("1 0:1\n\n2 1:x\n", {}, ["line 3", "bad value", "'1:x'"]),
        ("1 0:1\n1.5 1:1\n", {}, ["line 2", "bad label id '1.5'"]),
        ("1 0:1 0:2\n", {}, ["line 1", "duplicate feature id 0"]),
        ("1 0:1 5:2\n", {"n_features": 5}, ["line 1", "feature id 5 out of range"]),
        ("3 0:1\n", {"n_labels": 3}, ["line 1", "label id 3 out of range"]),
        ("1 0:nan\n", {}, ["line 1", "non-finite"]),
    ],
)
def test_read_svmlight_errors(tmp_path, content, kwargs, words):
    path = _put(tmp_path / "bad.svm", content)
    with pytest.raises(DataFormatError) as info:
        read_svmlight_multilabel(path, **kwargs)
    assert str(info.value).startswith(str(path))
    for w in words:
        assert w in str(info.value)


# ------------------------------------------------------------------------------------------
# bundled and synthetic data


def test_load_bibtex():
    Xtr, Ytr, Xte, Yte = load_bibtex()
    assert Xtr.shape == (4880, 1836) and Ytr.shape == (4880, 159)
    assert Xte.shape == (2515, 1836) and Yte.shape == (2515, 159)
    for M in (Xtr, Ytr, Xte, Yte):
        assert sp.isspmatrix_csr(M) and M.dtype == np.float32 and M.has_sorted_indices
    assert np.all(Ytr.data == 1) and np.all(Yte.data == 1)
    assert Ytr.getnnz(axis=1).min() >= 1  # checked on the data: every training point has a label


def test_make_xmc_shapes_determinism_and_heavy_tail():
    X, Y = make_xmc(3000, 800, 500, random_state=3)
    assert X.shape == (3000, 800) and Y.shape == (3000, 500)
    assert sp.isspmatrix_csr(X) and X.dtype == Y.dtype == np.float32
    assert X.has_sorted_indices and Y.has_sorted_indices
    assert np.all(Y.data == 1) and np.all(X.data > 0)
    np.testing.assert_allclose(np.asarray(X.multiply(X).sum(axis=1)).ravel(), 1, rtol=1e-5)
    # Poisson targets (means 50 and 5), reached by nearly every point
    assert 45 < X.getnnz(axis=1).mean() <= 50.5 and 4.5 < Y.getnnz(axis=1).mean() <= 5
    assert 0 < (Y.getnnz(axis=1) == 0).sum() < 100  # a few points without labels
    freq = np.sort(np.asarray(Y.sum(axis=0)).ravel())[::-1]
    assert freq[:50].sum() > 0.4 * freq.sum()  # top 10% of labels
    X2, Y2 = make_xmc(3000, 800, 500, random_state=3)
    assert (X2 != X).nnz == 0 and (Y2 != Y).nnz == 0
    X3, _ = make_xmc(3000, 800, 500, random_state=np.random.default_rng(4))
    assert (X3 != X).nnz > 0
    Xs, Ys = make_xmc(5, 3, 2, avg_labels_per_point=1, avg_features_per_point=1, random_state=0)
    assert Xs.shape == (5, 3) and Ys.shape == (5, 2)


def test_make_xmc_validates():
    with pytest.raises(ValueError, match="n_samples"):
        make_xmc(0, 10, 10)
    with pytest.raises(TypeError, match="n_labels"):
        make_xmc(10, 10, 2.5)
    with pytest.raises(ValueError, match="noise"):
        make_xmc(10, 10, 10, noise=1.5)
    with pytest.raises(ValueError, match="n_communities"):
        make_xmc(10, 10, 10, n_communities=11)
    with pytest.raises(TypeError, match="random_state"):
        make_xmc(10, 10, 10, random_state="seed")
    with pytest.raises(ValueError, match="background"):
        make_xmc(10, 10, 10, background=1.5)
    with pytest.raises(ValueError, match="specificity"):
        make_xmc(10, 10, 10, specificity=-0.1)
    with pytest.raises(ValueError, match="sum to at most 1"):
        make_xmc(10, 10, 10, background=0.6, specificity=0.5)
    make_xmc(10, 10, 10, background=0.9, specificity=0.1)  # sums to 1 up to rounding


def _nearest_neighbour_p1(X, Y):
    """Held-out P@1 of the most similar training point's labels (ties to popular labels), and
    that of always predicting the most popular label."""
    Xtr, Ytr, Xte, Yte = X[:1600], Y[:1600], X[1600:], Y[1600:]
    nearest = np.asarray((Xte @ Xtr.T).argmax(axis=1)).ravel()  # rows are unit norm: cosine
    popularity = np.asarray(Ytr.sum(axis=0)).ravel()
    scores = Ytr[nearest].toarray() * (1 + popularity / popularity.max())  # neighbour's labels
    top = scores.argmax(axis=1)
    p1_knn = Yte.toarray()[np.arange(len(top)), top].mean()
    p1_pop = Yte[:, popularity.argmax()].toarray().mean()
    return p1_knn, p1_pop


def test_make_xmc_is_learnable():
    p1_knn, p1_pop = _nearest_neighbour_p1(*make_xmc(2000, 1000, 300, random_state=0))
    assert p1_knn > 2 * p1_pop, (p1_knn, p1_pop)
    # ... but not trivially: the words show the community, the labels only weakly
    assert p1_knn < 0.7, p1_knn


def test_make_xmc_word_sources():
    """``background`` and ``specificity`` set where the words come from: labels' specific words
    make the labels more visible; background words alone carry no label information."""
    p1_default, _ = _nearest_neighbour_p1(*make_xmc(2000, 1000, 300, random_state=0))
    p1_none, _ = _nearest_neighbour_p1(*make_xmc(2000, 1000, 300, specificity=0, random_state=0))
    p1_high, _ = _nearest_neighbour_p1(*make_xmc(2000, 1000, 300, specificity=0.3, random_state=0))
    assert p1_none < p1_default < p1_high and p1_high > p1_none + 0.1, (
        p1_none,
        p1_default,
        p1_high,
    )
    X, Y = make_xmc(2000, 1000, 300, background=1, specificity=0, random_state=0)
    p1_bg, p1_pop = _nearest_neighbour_p1(X, Y)
    assert p1_bg < p1_pop, (p1_bg, p1_pop)  # the nearest neighbour is a random point
    df = np.sort(np.bincount(X.indices, minlength=1000))[::-1]
    assert df[0] > 0.9 * 2000 and df[500] < 0.05 * 2000  # Zipf background: head in all points


# ------------------------------------------------------------------------------------------
# real data


def test_delicious_split(shared_data):
    d = shared_data / "delicious"
    Xtr, Ytr, Xte, Yte = read_xc_split(
        d / "Delicious_data.txt.xz",
        d / "delicious_trSplit.txt.xz",
        d / "delicious_tstSplit.txt.xz",
        column=1,
    )
    assert Xtr.shape == (12920, 500) and Xte.shape == (3185, 500)
    assert Ytr.shape == (12920, 983) and Yte.shape == (3185, 983)
    assert (Ytr.getnnz(axis=1) == 0).sum() + (Yte.getnnz(axis=1) == 0).sum() == 14


def test_bibtex_split_equals_ready_files(shared_data):
    d = shared_data / "bibtex"
    parts = read_xc_split(
        d / "Bibtex_data.txt.xz",
        d / "bibtex_mulan_trSplit.txt.xz",
        d / "bibtex_mulan_tstSplit.txt.xz",
    )
    ready = [*read_xc(d / "bibtex_mulan_train.txt.xz"), *read_xc(d / "bibtex_mulan_test.txt.xz")]
    for got, want in zip(parts, ready, strict=True):
        _assert_same(got, want)


def test_read_xc_reports_progress_in_file_bytes(tmp_path, monkeypatch):

    X = sp.random(400, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
    Y = sp.random(400, 7, density=0.3, format="csr", dtype=np.float32, random_state=1)
    Y.data[:] = 1.0
    for name in ("data.txt", "data.txt.gz"):
        path = tmp_path / name
        write_xc(path, X, Y)
        monkeypatch.setattr(_xc_read, "_BLOCK_SIZE", 1024)  # many blocks
        calls: list[tuple[int, int]] = []
        X2, Y2 = read_xc(path, progress=lambda done, total, seen=calls: seen.append((done, total)))
        size = path.stat().st_size
        assert len(calls) > 3
        assert all(total == size for _, total in calls)
        done = [d for d, _ in calls]
        assert done == sorted(done) and done[-1] == size  # monotone, ends at the whole file
        assert (X2 != X).nnz == 0 and (Y2 != Y).nnz == 0


# ------------------------------------------------ a decompressor out of memory is not the file
class _FailingDecompressor:
    """Stands for lzma.LZMADecompressor: raises ``error`` on the first call."""

    def __init__(self, error):
        self.error, self.eof, self.needs_input, self.unused_data = error, False, True, b""

    def decompress(self, data, max_length=-1):
        raise self.error()


def _lzma_error_while_out_of_memory():
    try:
        raise MemoryError
    except MemoryError:
        raise lzma.LZMAError("Internal error")  # noqa: B904


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (MemoryError, MemoryError),
        (lambda: lzma.LZMAError("Memory usage limit was reached"), MemoryError),
        (_lzma_error_while_out_of_memory, MemoryError),
        (lambda: OSError(errno.ENOMEM, "Cannot allocate memory"), MemoryError),
        (lambda: lzma.LZMAError("Corrupt input data"), DataFormatError),
        (
            lambda: EOFError("Compressed file ended before the end-of-stream marker"),
            DataFormatError,
        ),
    ],
    ids=["MemoryError", "memory limit", "raised while out of memory", "ENOMEM", "corrupt", "eof"],
)
def test_an_xz_reader_out_of_memory_does_not_blame_the_file(tmp_path, monkeypatch, error, outcome):
    path = tmp_path / "d.txt.xz"
    write_xc(path, sp.csr_matrix(np.eye(3, dtype=np.float32)), sp.csr_matrix(np.eye(3)))
    monkeypatch.setattr(_xc_read.lzma, "LZMADecompressor", lambda: _FailingDecompressor(error))
    with pytest.raises(outcome) as info:
        read_xc(path)
    if outcome is MemoryError:
        assert "truncated or corrupt" not in str(info.value)
        assert str(info.value).startswith(f"while reading {path}")
    else:
        assert "truncated or corrupt xz-compressed file" in str(info.value)
