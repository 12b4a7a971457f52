"""Reading and writing data files (the sleec.io subpackage, through sleec.datasets): what
each reader does with bad, hostile and untrusted input.

* XC / SVMlight files: a bad header, row count, token, id, duplicate or non-finite value,
  binary content or an empty file is a DataFormatError naming the file and the line; a
  number with any digit count parses to the correctly rounded float32; a declared D or L
  does not drive memory.
* Compressed streams: a truncated .gz / .xz / .bz2 file names the file; garbage after an
  xz or bzip2 stream is refused (concatenated streams are read).
* Split files: rows beyond the data, bad row numbers and columns name the split file.
* Prediction files: a long line is read up to k; a deflated bomb in an .npz is refused
  before inflating.
* write_xc refuses bad input without leaving a file.
"""

from __future__ import annotations

import bz2
import lzma
import re
import zipfile

import numpy as np
import pytest

from _helpers import make_data, peak_rss_mb, with_value
from sleec import cli
from sleec.datasets import read_predictions, read_split, read_xc, read_xc_split, write_xc
from sleec.exceptions import DataFormatError

# ----------------------------------------------------------------- XC / SVMlight files
GOOD = "3 5 4\n0,1 0:1 2:0.5\n2 1:1\n3 4:2\n"


BAD_XC_FILES = [
    # (id, content, line, message regex)
    ("header two numbers", "3 5\n0 0:1\n", 1, r"malformed header '3 5'; expected 'N D L'"),
    ("header four numbers", "3 5 4 1\n0 0:1\n", 1, r"malformed header '3 5 4 1'"),
    (
        "header non-numeric",
        "a b c\n0 0:1\n",
        1,
        r"malformed header 'a b c'; expected 'N D L' "
        r"\(three non-negative integers",
    ),
    ("header negative", "-3 5 4\n0 0:1\n", 1, r"malformed header '-3 5 4'"),
    ("header float", "3.0 5 4\n0 0:1\n", 1, r"malformed header '3\.0 5 4'"),
    (
        "header D too large",
        "1 99999999999 4\n0 0:1\n",
        1,
        r"header declares D = 99999999999, L = 4; expected at most 2147483647",
    ),
    (
        "more rows than header",
        GOOD + "1 1:1\n",
        5,
        r"more data rows than the header's N = 3; expected only blank lines after data row 3",
    ),
    (
        "fewer rows than header",
        GOOD.replace("3 5 4", "5 5 4"),
        4,
        r"the file ends after 3 data row\(s\); expected N = 5 rows",
    ),
    ("token '3:'", "2 5 4\n0 0:1\n1 3:\n", 3, r"bad value in feature token '3:'"),
    (
        "token 'x:1'",
        "2 5 4\n0 0:1\n1 x:1\n",
        3,
        r"bad feature token 'x:1'; expected 'index:value' with an integer index in \[0, 5\)",
    ),
    (
        "token '3:abc'",
        "2 5 4\n0 0:1\n1 3:abc\n",
        3,
        r"bad value in feature token '3:abc'; expected 'index:value' with a number",
    ),
    ("token without colon", "2 5 4\n0 0:1\n1 3\n", 3, r"bad feature token '3'"),
    ("negative feature id", "2 5 4\n0 0:1\n1 -1:1\n", 3, r"negative feature id in '-1:1'"),
    (
        "feature id out of range",
        "2 5 4\n0 0:1\n1 5:1\n",
        3,
        r"feature id 5 out of range; expected an integer in \[0, D = 5\)",
    ),
    (
        "label id out of range",
        "2 5 4\n0 0:1\n4 1:1\n",
        3,
        r"label id 4 out of range; expected an integer in \[0, L = 4\)",
    ),
    ("negative label id", "2 5 4\n0 0:1\n-1 1:1\n", 3, r"negative label id '-1'"),
    ("empty label id", "2 5 4\n0 0:1\n1,,2 1:1\n", 3, r"bad label id '1,,2'"),
    (
        "duplicate feature id",
        "2 5 4\n0 0:1\n1 1:1 1:2\n",
        3,
        r"duplicate feature id 1; expected each feature at most once per row",
    ),
    (
        "duplicate feature id unsorted",
        "2 5 4\n0 0:1\n1 3:1 1:2 3:1\n",
        3,
        r"duplicate feature id 3",
    ),
    (
        "duplicate label id",
        "2 5 4\n0 0:1\n1,1 1:1\n",
        3,
        r"duplicate label id 1; expected each label at most once per row",
    ),
    ("duplicate label id unsorted", "2 5 4\n0 0:1\n2,1,2 1:1\n", 3, r"duplicate label id 2"),
    (
        "NaN value",
        "2 5 4\n0 0:1\n1 1:nan\n",
        3,
        r"non-finite value in '1:nan' \(NaN, infinity or beyond the float32 range\)",
    ),
    ("inf value", "2 5 4\n0 0:1\n1 1:-inf\n", 3, r"non-finite value in '1:-inf'"),
    ("beyond float32", "2 5 4\n0 0:1\n1 1:1e39\n", 3, r"non-finite value in '1:1e39'"),
    ("beyond float64", "2 5 4\n0 0:1\n1 1:1e400\n", 3, r"non-finite value in '1:1e400'"),
    (
        "binary file",
        bytes(range(256)) * 4,
        1,
        r"not a text file \(binary or non-UTF-8 bytes\); expected a text file",
    ),
    ("binary after header", b"2 5 4\n0 0:1\n\x00\x01\xff\n", 3, r"not a text file"),
    ("empty file", b"", 1, r"empty file; expected a header line 'N D L'"),
]


@pytest.mark.parametrize(
    "content, line, match", [c[1:] for c in BAD_XC_FILES], ids=[c[0] for c in BAD_XC_FILES]
)
def test_datafile_bad_xc(tmp_path, content, line, match):
    path = tmp_path / "data.txt"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(
        DataFormatError, match=rf"^{re.escape(str(path))}, line {line}: {match}"
    ) as info:
        read_xc(path)
    assert (info.value.path, info.value.line) == (str(path), line)


def test_datafile_header_n_beyond_int64(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text(f"{2**70} 5 4\n0 0:1\n")
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(path))}, line 1: .*N"):
        read_xc(path)


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


@pytest.mark.parametrize("header", ["6 2147483647 3", "6 4 2147483647"], ids=["D", "L"])
def test_size_declared_dimensions_do_not_drive_memory(tmp_path, capsys, header):
    # A 60-byte file declaring 2**31 - 1 features or labels trains and predicts in a few MB.
    path = tmp_path / "tiny.txt"
    path.write_text(header + "\n0 0:1 1:1\n1 1:1 2:1\n2 2:1 3:1\n0,1 0:1\n1,2 3:1\n2 1:1\n")
    start = peak_rss_mb()
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
    assert peak_rss_mb() - start < 300
    assert len((tmp_path / "p.txt").read_text().splitlines()) == 6
    capsys.readouterr()


def test_datafile_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_xc(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_split(tmp_path / "nope.txt")
    with pytest.raises(IsADirectoryError):
        read_xc(tmp_path)


# ------------------------------------------------------------------ compressed streams
def _compress(kind: str, payload: bytes) -> bytes:
    import bz2
    import gzip
    import lzma

    return {
        "gz": lambda: gzip.compress(payload, mtime=0),
        "xz": lambda: lzma.compress(payload),
        "bz2": lambda: bz2.compress(payload),
    }[kind]()


KINDS = {"gz": "gzip", "xz": "xz", "bz2": "bzip2"}


@pytest.mark.parametrize("kind", ["gz", "xz", "bz2"])
def test_datafile_truncated_compressed(tmp_path, kind):
    payload = (GOOD.replace("3 5 4", "300 5 4") + "1 1:1 2:2\n" * 297).encode()
    full = _compress(kind, payload)
    path = tmp_path / f"data.txt.{kind}"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(
        DataFormatError,
        match=rf"^{re.escape(str(path))}.*truncated or corrupt "
        rf"{KINDS[kind]}-compressed file",
    ):
        read_xc(path)
    path.write_bytes(full)  # control: the complete file reads
    assert read_xc(path)[0].shape == (300, 5)


@pytest.mark.parametrize("kind", ["gz", "xz"])
def test_datafile_truncated_compressed_names_the_file(tmp_path, kind):
    # The damage is in the compressed stream, not on a text line: the message names the file
    # and the problem; DataFormatError.line stays None (a line applies only to text errors).
    full = _compress(kind, (GOOD.replace("3 5 4", "300 5 4") + "1 1:1 2:2\n" * 297).encode())
    path = tmp_path / f"data.txt.{kind}"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(DataFormatError, match=rf"^{re.escape(str(path))}: .*truncated") as info:
        read_xc(path)
    assert info.value.path == str(path)


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


# ------------------------------------------------------------------------- split files
BAD_SPLITS = [
    # (id, split content, column, line, message regex)
    (
        "row beyond the data",
        "1\n4\n",
        1,
        2,
        r"row number 4 beyond the data; expected at most 3 \(the number of rows of .*data\.txt\)",
    ),
    ("row 0", "1\n0\n", 1, 2, r"bad row number '0'; expected a positive integer \(1-based"),
    ("negative row", "2\n-2\n", 1, 2, r"bad row number '-2'; expected a positive integer"),
    ("non-numeric row", "1\nx\n", 1, 2, r"bad row number 'x'"),
    ("column out of range", "1 2\n3 1\n", 3, 1, r"column 3 out of range; the file has 2 columns"),
    ("short later line", "1 2\n3\n", 2, 2, r"line has 1 columns; expected at least 2"),
    ("empty split file", "", 1, 1, r"empty split file; column 1 out of range"),
]


@pytest.mark.parametrize(
    "content, column, line, match", [c[1:] for c in BAD_SPLITS], ids=[c[0] for c in BAD_SPLITS]
)
def test_datafile_bad_split(tmp_path, content, column, line, match):
    data_path, split = tmp_path / "data.txt", tmp_path / "split.txt"
    data_path.write_text(GOOD)
    split.write_text(content)
    with pytest.raises(DataFormatError, match=rf"^{re.escape(str(split))}, line {line}: {match}"):
        read_xc_split(data_path, split, split, column)


def test_datafile_split_column_zero(tmp_path):
    split = tmp_path / "split.txt"
    split.write_text("1\n")
    with pytest.raises(
        ValueError,
        match=r"The 'column' parameter must be an int in the range "
        r"\[1, inf\)\. Got 0 instead",
    ):
        read_split(split, 0)


# -------------------------------------------------------------------- prediction files
def test_size_long_prediction_line_is_read_up_to_k(tmp_path):
    path = tmp_path / "pred.txt"
    path.write_text(" ".join(f"{j}:0.5" for j in range(600_000)) + "\n1:1\n")
    ids = read_predictions(str(path), 5)
    assert ids.shape == (2, 5) and ids[0].tolist() == [0, 1, 2, 3, 4]


def test_prediction_file_bomb_is_refused(tmp_path):
    path = tmp_path / "pred.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("ids.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array(fh, np.zeros((50_000_000, 2), np.int32))
    start = peak_rss_mb()
    with pytest.raises(
        DataFormatError,
        match=r"pred\.npz: not a readable \.npz file \(its 1 member\(s\) declare 4000\d+ bytes",
    ):
        read_predictions(str(path))
    assert peak_rss_mb() - start < 100


# ---------------------------------------------------------------------------- write_xc
def test_datafile_write_xc_bad_input(tmp_path):
    X, Y = make_data(n=4)
    path = tmp_path / "out.txt"
    with pytest.raises(ValueError, match=r"X and Y have inconsistent numbers of rows: 3 != 4"):
        write_xc(path, X[:3], Y)
    with pytest.raises(ValueError, match=r"X contains NaN or infinity \(first in row 1\)"):
        write_xc(path, with_value(X, 1, 1, np.nan), Y)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp file left
