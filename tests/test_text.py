"""Labelled text files (sleec.datasets.read_text / write_label_names), the command line's
--text round trip (documents with label names in, label names out), and the checks of the
vectoriser settings a pipeline file stores (sleec._vectorizer)."""

from __future__ import annotations

import json
import lzma

import numpy as np
import pytest

from _helpers import SMALL_8, TINY, cli_flags
from sleec import SLEEC, ModelFormatError, _persist, cli
from sleec._vectorizer import MAX_NGRAM, check_token_pattern
from sleec.datasets import read_text, write_label_names
from sleec.exceptions import DataFormatError
from sleec.text import load_pipeline, make_text_pipeline, predict_text, save_pipeline

SMALL = cli_flags({**SMALL_8, "random_state": 0})


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
    err = capsys.readouterr().err
    assert "(2 blank, without labels)" in err and "read as labelled text" not in err
    # Every line holds a TAB: read as labels<TAB>text, and said so; --layout plain keeps it.
    tabbed = tmp_path / "tabbed.txt"
    tabbed.write_text(f"{words[0]}\t{words[1]}\n")
    argv = ["predict", "--model", str(model), "--text", str(tabbed), "--out", str(out)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: " + str(tabbed) + " is read as labelled text" in err, err
    assert "--layout plain predicts from whole lines" in err
    assert cli.main([*argv, "--layout", "plain"]) == 0
    assert "read as labelled text" not in capsys.readouterr().err
    whole, _ = predict_text(pipeline, [f"{words[0]}\t{words[1]}"], 5)
    assert out.read_text().split("\t")[0].split(",") == whole[0]


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


# ------------------------------------------------------------- stored vectoriser settings
# A pipeline file's vectoriser settings are applied at every prediction; a checksum is not
# a signature (anyone can recompute it), so each setting is checked at load.


@pytest.fixture(scope="module")
def pipeline_files(tmp_path_factory):
    """Saved tf-idf, count and hashing pipelines on a small corpus."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.pipeline import make_pipeline

    d = tmp_path_factory.mktemp("pipelines")
    lines = _corpus(60).splitlines()
    docs = [line.split("\t")[1] for line in lines]
    tags = [line.split("\t")[0].split(",") for line in lines]
    pipes = {
        "tfidf": make_text_pipeline("tfidf", **TINY, random_state=0),
        "hashing": make_text_pipeline("hashing", **TINY, random_state=0),
        "count": make_pipeline(CountVectorizer(), SLEEC(**TINY, random_state=0)),
    }
    for kind, pipe in pipes.items():
        save_pipeline(pipe.fit(docs, tags), d / f"{kind}.npz")
    return d


def _rewritten(source, path, params=None, arrays=None):
    """``source`` with its stored vectoriser parameters updated by ``params`` and arrays by
    ``arrays`` (None deletes one), saved to ``path`` with a valid checksum."""
    payload = dict(np.load(source, allow_pickle=False))
    spec = json.loads(str(payload["text_vectorizer"]))
    spec["params"].update(params or {})
    payload["text_vectorizer"] = np.array(json.dumps(spec))
    for key, value in (arrays or {}).items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value(payload) if callable(value) else value
    payload["checksum"] = np.array(_persist._checksum(payload))
    with open(path, "wb") as fh:
        np.savez(fh, **payload)
    return path


SETTING = r"holds an inconsistent model: the stored vectoriser setting "


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("tfidf", {"token_pattern": "(a+)+$"}, r"'token_pattern' is '\(a\+\)\+\$'; not a token"),
        ("tfidf", {"token_pattern": "(a|a)*$"}, r"'token_pattern' is .*; not a token pattern"),
        ("tfidf", {"token_pattern": r"\w+\d+"}, r"'token_pattern' is .*; not a token pattern"),
        ("tfidf", {"token_pattern": "["}, r"'token_pattern' is '\['; not a valid regular expr"),
        ("tfidf", {"token_pattern": "a" * 201}, r"'token_pattern' is 'aaa.*; expected a regular"),
        ("tfidf", {"token_pattern": None}, r"'token_pattern' is None; the word analyzer needs"),
        ("tfidf", {"ngram_range": [1, 100000]}, r"'ngram_range' is \[1, 100000\]; expected \["),
        ("tfidf", {"ngram_range": [2, 1]}, r"'ngram_range' is \[2, 1\]; expected .* <= 10"),
        ("tfidf", {"ngram_range": [0, 1]}, r"'ngram_range' is \[0, 1\]"),
        ("tfidf", {"ngram_range": [True, 2]}, r"'ngram_range' is \[True, 2\]"),
        ("tfidf", {"ngram_range": 3}, r"'ngram_range' is 3"),
        ("tfidf", {"input": "filename"}, r"'input' is 'filename'; only 'content' \(documents"),
        ("tfidf", {"input": "file"}, r"'input' is 'file'; only 'content'"),
        ("tfidf", {"analyzer": "chars"}, r"'analyzer' is 'chars'; expected one of \['word'"),
        ("tfidf", {"norm": "l3"}, r"'norm' is 'l3'; expected one of \['l1', 'l2', None\]"),
        ("tfidf", {"dtype": "object"}, r"'dtype' is 'object'; expected one of \['float32'"),
        ("tfidf", {"dtype": "int64"}, r"'dtype' is 'int64'; expected one of \['float32', 'f"),
        ("tfidf", {"strip_accents": "all"}, r"'strip_accents' is 'all'; expected one of"),
        ("tfidf", {"stop_words": 5}, r"'stop_words' is 5; expected 'english', None or a list"),
        ("tfidf", {"stop_words": ["a", 1]}, r"'stop_words' is \['a', 1\]; expected 'english'"),
        ("tfidf", {"tokenizer": "str.split"}, r"'tokenizer' is 'str.split'; expected None"),
        ("tfidf", {"preprocessor": "x"}, r"'preprocessor' is 'x'; expected None"),
        ("tfidf", {"vocabulary": {"a": 0}}, r"'vocabulary' is \{'a': 0\}; expected None"),
        ("tfidf", {"use_idf": False}, r"'use_idf' is False; expected one of \[True\]"),
        ("tfidf", {"encoding": "rot13"}, r"'encoding' is 'rot13'; expected a text encoding"),
        ("tfidf", {"decode_error": "x"}, r"'decode_error' is 'x'; expected one of \['strict'"),
        ("tfidf", {"lowercase": 1}, r"'lowercase' is 1; expected true or false"),
        ("tfidf", {"min_df": -1}, r"'min_df' is -1; expected a float in \[0, 1\] or an int"),
        ("tfidf", {"max_df": 1.5}, r"'max_df' is 1.5; expected a float in \[0, 1\]"),
        ("tfidf", {"max_features": 0}, r"'max_features' is 0; expected None or an int >= 1"),
        ("tfidf", {"evil": 1}, r"'evil' is not a parameter sleec stores for a TfidfVectorizer"),
        ("count", {"norm": "l2"}, r"'norm' is not a parameter sleec stores for a CountVect"),
        ("hashing", {"n_features": 2**40}, r"'n_features' is 1099511627776; expected an int"),
        ("hashing", {"n_features": 0}, r"'n_features' is 0; expected an int in \[1, 21474"),
        ("hashing", {"alternate_sign": "no"}, r"'alternate_sign' is 'no'; expected true or f"),
    ],
)
def test_stored_vectoriser_settings_outside_the_allow_list_are_refused_at_load(
    pipeline_files, tmp_path, kind, params, match
):
    path = _rewritten(pipeline_files / f"{kind}.npz", tmp_path / "p.npz", params)
    with pytest.raises(ModelFormatError, match=rf"'{path}' {SETTING}{match}"):
        load_pipeline(path)
    with pytest.raises(ModelFormatError, match=match):
        SLEEC.load(path)


def _set(key, index, value):
    def change(payload):
        a = payload[key].copy()
        a[index] = value
        return a

    return change


@pytest.mark.parametrize(
    ("kind", "arrays", "match"),
    [
        ("tfidf", {"text_idf": _set("text_idf", 0, -1.0)}, r"idf weight of term 0 is -1\.0; "),
        ("tfidf", {"text_idf": _set("text_idf", 3, 0.5)}, r"idf weight of term 3 is 0\.5; exp"),
        ("tfidf", {"text_idf": _set("text_idf", 1, np.nan)}, r"idf weight of term 1 is nan"),
        ("tfidf", {"text_idf": _set("text_idf", 2, 1e6)}, r"idf weight of term 2 is 1000000\.0"),
        ("tfidf", {"text_idf": lambda p: p["text_idf"][:-1]}, r"idf weights are float64 of sh"),
        (
            "tfidf",
            {"text_idf": lambda p: p["text_idf"].astype(np.float32)},
            r"idf weights are float32",
        ),
        ("tfidf", {"text_idf": None}, r"comes with the arrays \['text_idf', 'text_vectorizer"),
        ("count", {"text_idf": np.ones(3)}, r"a stored CountVectorizer comes with the arrays"),
        ("hashing", {"text_vocabulary": np.array(["a"])}, r"HashingVectorizer comes with the"),
        (
            "tfidf",
            {
                "text_vocabulary": lambda p: np.r_[
                    p["text_vocabulary"][:1], p["text_vocabulary"][:-1]
                ]
            },
            r"bad text vocabulary \(<U\d+ of shape \(\d+,\)\); expected distinct strings",
        ),
        (
            "count",
            {
                "text_vocabulary": lambda p: np.r_[
                    p["text_vocabulary"][:-1], p["text_vocabulary"][:1]
                ]
            },
            r"bad text vocabulary \(<U\d+ of shape \(\d+,\)\); expected distinct strings",
        ),
        ("tfidf", {"text_vectorizer": np.array(5)}, r"unreadable text vectoriser"),
        ("tfidf", {"text_vectorizer": np.array('{"class": "X"}')}, r"unreadable text vectoriser"),
        (
            "tfidf",
            {"text_vectorizer": np.array('{"class": "Evil", "params": {}}')},
            r"unknown text vectoriser 'Evil'",
        ),
    ],
)
def test_stored_vocabulary_and_idf_weights_are_checked_at_load(
    pipeline_files, tmp_path, kind, arrays, match
):
    path = _rewritten(pipeline_files / f"{kind}.npz", tmp_path / "p.npz", arrays=arrays)
    with pytest.raises(ModelFormatError, match=rf"'{path}' holds an inconsistent model: .*{match}"):
        load_pipeline(path)


def test_cli_predict_refuses_a_catastrophic_token_pattern_in_one_line(
    pipeline_files, tmp_path, capsys
):
    # (a+)+$ on a 35-byte document took hours; now the model file is refused at load.
    path = _rewritten(pipeline_files / "tfidf.npz", tmp_path / "p.npz", {"token_pattern": "(a+)+$"})
    (tmp_path / "doc.txt").write_text("a" * 34 + "!\n")
    code = cli.main(
        [
            "predict",
            "--model",
            str(path),
            "--text",
            str(tmp_path / "doc.txt"),
            "--out",
            str(tmp_path / "o.tsv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "the stored vectoriser setting 'token_pattern' is '(a+)+$'; not a token pattern" in err
    assert not (tmp_path / "o.tsv").exists()


def test_saved_pipelines_load_back_with_their_settings(pipeline_files):
    # Positive control: what save_pipeline writes passes every check.
    docs = ["t0w1 t0w2 common3", "t2s1 t2s1 t2w4"]
    for kind in ("tfidf", "count", "hashing"):
        names, _ = predict_text(load_pipeline(pipeline_files / f"{kind}.npz"), docs, 1)
        assert len(names) == 2


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"ngram_range": (1, MAX_NGRAM + 1)},
            r"TfidfVectorizer setting 'ngram_range' is \(1, 11\)",
        ),
        ({"token_pattern": r"(\w+\s?)+$"}, r"TfidfVectorizer setting 'token_pattern' is "),
        (
            {"analyzer": "char_wb", "ngram_range": (2, 12)},
            r"TfidfVectorizer setting 'ngram_range' is \(2, 12\)",
        ),
    ],
)
def test_save_pipeline_refuses_settings_that_load_would_refuse(tmp_path, params, match):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    lines = _corpus(40).splitlines()
    docs = [line.split("\t")[1] for line in lines]
    tags = [line.split("\t")[0].split(",") for line in lines]
    pipe = make_pipeline(TfidfVectorizer(**params), SLEEC(**TINY, random_state=0))
    pipe.fit(docs, tags)
    with pytest.raises(ValueError, match=match + r".*\(a sleec model file cannot hold it\)"):
        save_pipeline(pipe, tmp_path / "p.npz")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?u)\b\w\w+\b",  # scikit-learn's default (and the command line's)
        r"(?u)\b\w+\b",
        r"\S+",
        r"[^\s]+",
        r"(?i)\b\w{2,}\b",
        r"#\w+",
        r"(?u)\b[\w-]+",
        r"\d{3}-\d+",
        r"\b\w\w\w\b",
        r".{1,20}\b",
    ],
)
def test_token_patterns_of_the_linear_form_are_accepted(pattern):
    assert check_token_pattern(pattern) == pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",  # nested repetition
        "(a|a)*$",  # alternation under repetition
        "(a*)*",
        r"(\w+\s?)+$",
        r"\w+\d+",  # two free runs: quadratic on a long word
        r"\w*\w*",
        r"\d+\b",  # a free run of non-\w atoms before \b: backtracks through it
        r"\b\S+\b",
        r"\w+$",
        r"^\w+",
        r"\w+?",  # lazy
        r"\w++",  # possessive
        r"(?x)\w+",  # verbose: read differently
        r"(?=\w)\w+",  # lookaround
        r"(\w)\1",  # backreference
        "a{1000}",  # repeat above the bound
        "a|b",
        "[",  # invalid
        "",
    ],
)
def test_token_patterns_that_can_backtrack_are_refused(pattern):
    with pytest.raises(ValueError):
        check_token_pattern(pattern)


# ------------------------------------------------- label names that break the output lines
@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("a,b", "holds a comma"),
        ("a\u2028b", r"holds a line break \(U\+2028\)"),
        (" x", "has leading or trailing whitespace"),
    ],
)
def test_save_pipeline_refuses_names_of_a_model_fitted_before_the_rule(
    pipeline_files, tmp_path, bad, problem
):
    import dataclasses

    pipe = load_pipeline(pipeline_files / "tfidf.npz")
    model = pipe[-1]
    names = model.classes_.copy().astype(object)
    names[1] = bad
    model.state_ = dataclasses.replace(model.state_, classes=np.array(names.tolist(), dtype=str))
    first = int(np.flatnonzero(model.train_labels_[:, 1].toarray().ravel())[0])
    with pytest.raises(
        ValueError,
        match=rf"the model's label name '.*' \(first in training row {first}\) {problem}.*label "
        r"names must be non-empty",
    ):
        save_pipeline(pipe, tmp_path / "p.npz")
    assert not list(tmp_path.iterdir())


def test_cli_train_refuses_a_name_with_a_line_separator(tmp_path, capsys):
    # U+2028 passes the text reader (it is not a control byte) and str.splitlines() breaks a
    # line there: predictions naming it read back as two documents. Refused at training.
    train = tmp_path / "train.tsv"
    train.write_text(_corpus(50) + "topic1,odd\u2028name\tt1w1 t1w2 common1\n", encoding="utf-8")
    code = cli.main(["train", "--text", str(train), "--model", str(tmp_path / "m.npz"), *SMALL])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "Y[50] holds the label name 'odd\\u2028name', which holds a line break (U+2028)" in err
    assert not (tmp_path / "m.npz").exists()
