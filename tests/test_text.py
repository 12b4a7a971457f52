"""Labelled text files (sleec.datasets.read_text / write_label_names) and the command line's
--text round trip: documents with label names in, label names out."""

from __future__ import annotations

import lzma

import pytest

from sleec import cli
from sleec.datasets import read_text, write_label_names
from sleec.exceptions import DataFormatError
from sleec.text import load_pipeline

SMALL = [
    "--n-components",
    "8",
    "--n-graph-neighbors",
    "10",
    "--n-neighbors",
    "5",
    "--n-learners",
    "1",
    "--random-state",
    "0",
]


def test_read_tab_separated(tmp_path):
    path = tmp_path / "docs.tsv"
    path.write_text("cat,pet\tA cat sat on the mat.\n\n\tno labels here\ndog\tA dog.\tbarked\n")
    texts, labels = read_text(path)
    assert texts == ["A cat sat on the mat.", "no labels here", "A dog.\tbarked"]
    assert labels == [["cat", "pet"], [], ["dog"]]


def test_read_fasttext_and_compressed(tmp_path):
    path = tmp_path / "docs.txt.xz"
    with lzma.open(path, "wt") as fh:
        fh.write("__label__cat __label__pet a cat  sat\n__label__dog a dog\nno label at all\n")
    texts, labels = read_text(path)
    assert texts == ["a cat sat", "a dog", "no label at all"]
    assert labels == [["cat", "pet"], ["dog"], []]


def test_read_plain_documents_for_prediction(tmp_path):
    path = tmp_path / "new.txt"
    path.write_text("just some text\nmore text\n")
    assert read_text(path, labels_required=False) == (["just some text", "more text"], [[], []])


@pytest.mark.parametrize(
    ("content", "layout", "texts", "labels"),
    [
        # plain text keeps its TABs: not every line holds one, so none is a label field
        ("a dog\tbarked\nsome text\n", "auto", ["a dog\tbarked", "some text"], [[], []]),
        # every non-blank line holds a TAB: a labelled file, text after the first TAB
        ("x,y\ta dog\n\nz\tmore\ttext\n", "auto", ["a dog", "more\ttext"], [["x", "y"], ["z"]]),
        ("x,y\ta dog\nz\tcat\n", "plain", ["x,y\ta dog", "z\tcat"], [[], []]),
        ("__label__a b c\nd e\n", "auto", ["b c", "d e"], [["a"], []]),
        ("a\tb\nc\n", "tsv", ["b", "c"], [["a"], []]),
    ],
    ids=["plain with a tab", "labelled", "forced plain", "fasttext", "forced tsv"],
)
def test_tab_rules_for_documents_to_predict(tmp_path, content, layout, texts, labels):
    path = tmp_path / "new.txt"
    path.write_text(content)
    assert read_text(path, labels_required=False, layout=layout) == (texts, labels)


def test_blank_lines_kept_as_empty_documents_and_bom_dropped(tmp_path):
    path = tmp_path / "docs.tsv"
    path.write_bytes("\ufeffcat\tA cat.\n\n   \ndog\tA dog.\n".encode())
    assert read_text(path) == (["A cat.", "A dog."], [["cat"], ["dog"]])
    assert read_text(path, keep_blank=True) == (
        ["A cat.", "", "", "A dog."],
        [["cat"], [], [], ["dog"]],
    )
    with pytest.raises(ValueError, match="The 'layout' parameter must be one of"):
        read_text(path, layout="plain")  # training needs labels


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("cat\tok\nno tab on this line\n", r"docs\.tsv, line 2: no tab in 'no tab on this"),
        ("cat,,dog\ttext\n", r"line 1: empty label name in 'cat,,dog'"),
        ("__label__cat a\n__label__ b\n", r"line 2: empty label name '__label__'"),
        (b"cat\ttext\n\xff\xfe binary\n", r"line 2: not a text file"),
    ],
    ids=["no tab", "empty name", "empty fasttext name", "binary"],
)
def test_read_text_errors_name_file_and_line(tmp_path, content, match):
    path = tmp_path / "docs.tsv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(DataFormatError, match=match):
        read_text(path)


def test_write_label_names(tmp_path):
    path = tmp_path / "out.tsv"
    write_label_names(path, [["cat", "pet"], [], ["dog"]], [[0.75, 0.5], [], [1 / 3]])
    assert path.read_text() == "cat,pet\t0.75,0.5\n\t\ndog\t0.33333334\n"
    with pytest.raises(ValueError, match=r"label name 'a,b' \(document 0\) holds a comma"):
        write_label_names(path, [["a,b"]], [[1.0]])
    assert path.read_text() == "cat,pet\t0.75,0.5\n\t\ndog\t0.33333334\n"  # untouched


def _corpus(n: int, seed: int = 0) -> str:
    """Documents of 4 topics: each draws words from its topic's vocabulary and carries the
    topic's label plus one of two sub-labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        topic = int(rng.integers(4))
        sub = int(rng.integers(2))
        words = [f"t{topic}w{int(w)}" for w in rng.integers(0, 12, 8)]
        words += [f"t{topic}s{sub}"] * 2 + [f"common{int(w)}" for w in rng.integers(0, 30, 4)]
        lines.append(f"topic{topic},topic{topic}.sub{sub}\t{' '.join(words)}\n")
    return "".join(lines)


def test_cli_text_round_trip(tmp_path, capsys):
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text(_corpus(300, seed=0))
    test.write_text(_corpus(40, seed=1))
    model, out = tmp_path / "m.npz", tmp_path / "pred.tsv"
    assert cli.main(["train", "--text", str(train), "--model", str(model), *SMALL]) == 0
    assert (
        cli.main(
            ["predict", "--model", str(model), "--text", str(test), "--k", "2", "--out", str(out)]
        )
        == 0
    )
    truth = [line.split("\t")[0].split(",") for line in test.read_text().splitlines()]
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert len(rows) == 40
    names = [r[0].split(",") for r in rows]
    assert all(len(n) == 2 for n in names)
    assert sum(n[0] in t for n, t in zip(names, truth, strict=True)) >= 38  # measured 40
    assert all(float(a) >= float(b) for _, s in rows for a, b in [s.split(",")])
    # The model file holds the vectoriser; the hashing vectoriser works the same way.
    assert load_pipeline(model)[0].__class__.__name__ == "TfidfVectorizer"
    assert (
        cli.main(
            [
                "train",
                "--text",
                str(train),
                "--vectorizer",
                "hashing",
                "--model",
                str(model),
                *SMALL,
            ]
        )
        == 0
    )
    assert load_pipeline(model)[0].__class__.__name__ == "HashingVectorizer"
    capsys.readouterr()


def test_cli_predict_text_writes_one_line_per_input_line(tmp_path, capsys):
    """Blank lines and TABs inside plain text: 5 lines in, 5 lines out, aligned."""
    train = tmp_path / "train.tsv"
    train.write_text(_corpus(300, seed=0))
    model = tmp_path / "m.npz"
    assert cli.main(["train", "--text", str(train), "--model", str(model), *SMALL]) == 0
    words = [line.split("\t", 1)[1] for line in _corpus(3, seed=2).splitlines()]
    new = tmp_path / "new.txt"
    new.write_text(f"{words[0]}\n\n{words[1]}\tmore words\n   \n{words[2]}\n")
    out = tmp_path / "out.tsv"
    assert cli.main(["predict", "--model", str(model), "--text", str(new), "--out", str(out)]) == 0
    rows = out.read_text().split("\n")[:-1]
    assert len(rows) == 5 and rows[1] == rows[3] == "\t"  # blank in, no labels out
    pipeline = load_pipeline(model)
    from sleec.text import predict_text

    expected, _ = predict_text(pipeline, [words[0], f"{words[1]}\tmore words", words[2]], 5)
    assert [rows[i].split("\t")[0].split(",") for i in (0, 2, 4)] == expected
    assert "(2 blank, without labels)" in capsys.readouterr().err


def test_cli_min_df(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text(_corpus(120, seed=0) + "topic0\tuniqueword another\n")
    sizes = {}
    for min_df in ("1", "2", "5"):
        model = tmp_path / f"m{min_df}.npz"
        argv = ["train", "--text", str(train), "--model", str(model), "--min-df", min_df]
        assert cli.main([*argv, *SMALL]) == 0
        sizes[min_df] = len(load_pipeline(model)[0].vocabulary_)
    assert "uniqueword" in load_pipeline(tmp_path / "m1.npz")[0].vocabulary_
    assert sizes["1"] > sizes["2"] >= sizes["5"]
    assert cli.main(["train", "--text", str(train), "--model", "x.npz", "--min-df", "0"]) == 1
    assert "--min-df: expected a positive integer" in capsys.readouterr().err


def test_cli_text_errors(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text(_corpus(50))
    xc_model = tmp_path / "xc.npz"
    (tmp_path / "d.txt").write_text("2 3 2\n0 0:1 1:1\n1 1:1 2:1\n")
    assert (
        cli.main(
            [
                "train",
                "--train",
                str(tmp_path / "d.txt"),
                "--model",
                str(xc_model),
                "--n-components",
                "2",
                "--n-graph-neighbors",
                "2",
                "--n-neighbors",
                "1",
            ]
        )
        == 0
    )
    capsys.readouterr()
    code = cli.main(
        [
            "predict",
            "--model",
            str(xc_model),
            "--text",
            str(train),
            "--out",
            str(tmp_path / "o.tsv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "holds a model without a text vectoriser" in err
    text_model = tmp_path / "text.npz"
    assert cli.main(["train", "--text", str(train), "--model", str(text_model), *SMALL]) == 0
    for command in ("predict", "explain", "report"):
        extra = {
            "predict": ["--out", "o.txt"],
            "explain": ["--row", "0"],
            "report": ["--out", "r.html"],
        }
        argv = [command, "--model", str(text_model), "--test", str(tmp_path / "d.txt")]
        code = cli.main([*argv, *extra[command]])
        err = capsys.readouterr().err
        assert code == 1 and "holds a text model" in err and "--text FILE instead of --test" in err
    code = cli.main(
        ["train", "--text", str(train), "--train", str(train), "--model", str(xc_model)]
    )
    assert code == 1  # --train and --text exclude each other
    assert "not allowed with argument" in capsys.readouterr().err
