"""Labelled text, one document a line (``label1,label2<TAB>text`` or fastText's
``__label__`` tokens), prediction lines of label names, and the label-name files of XC data
sets (one name a line)."""

from __future__ import annotations

import os

import numpy as np

from .._atomic import atomic_write as _atomic_write
from .._labels import name_problem
from ..exceptions import DataFormatError
from . import _xc_read as _r
from .xc import PathLike

__all__ = [
    "FASTTEXT_PREFIX",
    "TEXT_LAYOUTS",
    "read_label_names",
    "read_text",
    "write_label_names",
]


# --------------------------------------------------------------------------------------------
# labelled text


FASTTEXT_PREFIX = "__label__"


TEXT_LAYOUTS = ("auto", "tsv", "fasttext", "plain")


def read_text(
    path: PathLike,
    *,
    labels_required: bool = True,
    keep_blank: bool = False,
    layout: str = "auto",
) -> tuple[list[str], list[list[str]]]:
    """Read documents and their label names from a text file, one document per line.

    Layouts (``layout``; ``"auto"`` detects them as below):

    - ``"tsv"``: ``label1,label2<TAB>text``; the label field may be empty; the text is
      everything after the first TAB (later TABs are part of it);
    - ``"fasttext"``: ``__label__label1 __label__label2 text`` (leading ``__label__``
      tokens); detected when the first non-blank line starts with ``__label__``;
    - ``"plain"`` (only with ``labels_required=False``): the whole line is the text, TABs
      included.

    With ``labels_required=True`` (training, truth) ``"auto"`` means fastText or else TSV,
    and a TSV line without a TAB is an error. With ``labels_required=False`` (documents to
    predict) ``"auto"`` reads TSV only when every non-blank line holds a TAB (a labelled
    file; the labels are ignored by prediction), else plain text, so a TAB inside plain
    text never turns part of it into labels.

    Blank lines are skipped, or with ``keep_blank=True`` kept as empty documents without
    labels, so that the i-th line is the i-th document (prediction keeps them: one output
    line per input line). A UTF-8 byte order mark at the start is dropped. Plain or
    xz/gzip/bzip2.

    Returns
    -------
    texts : list of n str. labels : list of n lists of label names (str).

    Raises
    ------
    DataFormatError
        Naming the file and line: a line without a tab in the tab-separated format, an empty
        label name (``a,,b``), binary or non-UTF-8 content, a damaged compressed stream.
    """
    path = os.fspath(path)
    if layout not in TEXT_LAYOUTS or (layout == "plain" and labels_required):
        allowed = TEXT_LAYOUTS if not labels_required else TEXT_LAYOUTS[:3]
        raise ValueError(
            f"The 'layout' parameter must be one of {list(allowed)}. Got {layout!r} instead."
        )
    lines: list[tuple[int, str]] = []
    with _r.open_binary(path) as (stream, _kind, _raw):
        for lineno, raw in enumerate(stream, 1):
            raw = raw.rstrip(b"\r\n")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a byte order mark is not part of the first label or word
            if _r.is_binary(raw.replace(b"\t", b" ")):
                raise _r.not_text(path, lineno)
            lines.append((lineno, raw.decode("utf-8")))
    content = [line for _, line in lines if line.strip()]
    if layout == "auto":
        if content and content[0].lstrip().startswith(FASTTEXT_PREFIX):
            layout = "fasttext"
        elif labels_required or (content and all("\t" in line for line in content)):
            layout = "tsv"
        else:
            layout = "plain"
    texts: list[str] = []
    labels: list[list[str]] = []
    for lineno, line in lines:
        if not line.strip():
            if keep_blank:
                texts.append("")
                labels.append([])
            continue
        names: list[str]
        if layout == "plain":
            names, text = [], line
        elif layout == "fasttext":
            names, text = _fasttext_line(line, path, lineno)
        else:
            names, text = _tsv_line(line, path, lineno, labels_required)
        texts.append(text)
        labels.append(names)
    return texts, labels


def _tsv_line(line: str, path: str, lineno: int, labels_required: bool) -> tuple[list, str]:
    field, tab, text = line.partition("\t")
    if not tab:
        if labels_required:
            raise DataFormatError(
                f"no tab in {_r.show(line.encode())}; expected 'label1,label2<TAB>text'",
                path=path,
                line=lineno,
            )
        return [], line
    names = [name.strip() for name in field.split(",")] if field.strip() else []
    if any(not name for name in names):
        raise DataFormatError(
            f"empty label name in {_r.show(field.encode())}; expected comma-separated names",
            path=path,
            line=lineno,
        )
    return names, text


def _fasttext_line(line: str, path: str, lineno: int) -> tuple[list, str]:
    tokens = line.split()
    n = 0
    while n < len(tokens) and tokens[n].startswith(FASTTEXT_PREFIX):
        n += 1
    names = [t[len(FASTTEXT_PREFIX) :] for t in tokens[:n]]
    if any(not name for name in names):
        raise DataFormatError(
            f"empty label name '{FASTTEXT_PREFIX}'; expected '{FASTTEXT_PREFIX}name' tokens",
            path=path,
            line=lineno,
        )
    return names, " ".join(tokens[n:])


def write_label_names(path: PathLike, names: list[list], scores: list[list[float]]) -> None:
    """Write predicted label names atomically, one line per document:
    ``name1,name2<TAB>score1,score2`` (best first; an empty line part for no prediction).

    A name that breaks :data:`sleec._labels.NAME_RULE` (a comma, tab, any line break, a
    control character, ...) cannot be written in this format: ValueError, nothing written.
    """
    lines = []
    for i, (row, row_scores) in enumerate(zip(names, scores, strict=True)):
        for n in row:
            problem = name_problem(str(n))
            if problem is not None:
                raise ValueError(
                    f"label name {str(n)[:60]!r} (document {i}) {problem}; it cannot be "
                    "written as 'name1,name2<TAB>scores'"
                )
        lines.append(
            ",".join(map(str, row)) + "\t" + ",".join(str(np.float32(s)) for s in row_scores)
        )
    with _atomic_write(path, "w") as fh:
        fh.write("".join(line + "\n" for line in lines))


def read_label_names(path: PathLike) -> np.ndarray:
    """The label names of an XC data set, one a line: line ``i + 1`` names label id ``i``
    (as WordNet's ``labels.txt``). Names must be unique and non-empty; a trailing newline is
    optional. Returns a (L,) str array."""
    path = os.fspath(path)
    names: list[str] = []
    seen: dict[str, int] = {}
    with _r.open_binary(path) as (stream, _kind, _raw):
        for lineno, raw in enumerate(stream, 1):
            raw = raw.rstrip(b"\r\n")
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark is not part of the first name
            if _r.is_binary(raw):
                raise _r.not_text(path, lineno)
            name = raw.decode("utf-8").strip()
            problem = name_problem(name)
            if problem is not None:
                raise DataFormatError(
                    f"the name of label id {lineno - 1} {problem}; expected one name a line "
                    "(sleec._labels.NAME_RULE)",
                    path=path,
                    line=lineno,
                )
            if name in seen:
                raise DataFormatError(
                    f"label name {name[:60]!r} repeats line {seen[name]}; names must be unique",
                    path=path,
                    line=lineno,
                )
            seen[name] = lineno
            names.append(name)
    return np.array(names, dtype=str)
