"""A text vectoriser in a model file: its arrays (:func:`vectorizer_to_arrays` /
:func:`vectorizer_from_arrays`) and its settings, checked against an allow-list with bounds.

A pipeline file (:mod:`sleec.text`) stores its scikit-learn vectoriser as JSON parameters,
and anyone can rewrite them and recompute the checksum (a checksum is not a signature). The
parameters are applied at every prediction, so each one is checked before the vectoriser is
built, by :func:`check_settings`, at load and at save alike (``save`` writes only what
``load`` accepts):

- only the parameters of TfidfVectorizer, CountVectorizer and HashingVectorizer, each of
  the type and in the range scikit-learn documents, from a closed list where it has one
  (analyzers, norms, dtypes, accent stripping, decoding errors, encodings);
- ``input`` is ``'content'`` (documents given as strings, never file names to open); no
  ``tokenizer``, ``preprocessor`` or fixed ``vocabulary`` (the fitted one is stored apart);
- ``ngram_range`` within ``1 <= low <= high <=`` :data:`MAX_NGRAM`: the n-grams of a
  document grow with the width of the range, so a wide one exhausts memory;
- ``n_features`` of a hashing vectoriser within ``[1, 2**31 - 1]`` (scikit-learn's int32
  column ids);
- ``stop_words`` ``'english'``, None or a list of strings;
- ``token_pattern`` a regular expression that runs in linear time
  (:func:`check_token_pattern`): a pattern such as ``(a+)+$`` backtracks for hours on a
  short document.

A refusal is a ValueError naming the setting, its value and what is allowed.
"""

from __future__ import annotations

import codecs
import json
import math
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "MAX_IDF",
    "MAX_NGRAM",
    "MAX_PATTERN",
    "check_idf",
    "check_settings",
    "check_token_pattern",
    "vectorizer_from_arrays",
    "vectorizer_to_arrays",
    "vectorizer_width",
]

MAX_NGRAM = 10  # longest n-gram, words or characters
MAX_PATTERN = 200  # characters of a token pattern
MAX_REPEAT = 100  # largest count in a token pattern's {m} / {m,n}
# idf = ln((1 + n) / (1 + df)) + 1 (smooth) or ln(n / df) + 1: at least 1, and at most
# 1 + ln(1 + n) for n < 2**64 documents.
MAX_IDF = 1.0 + math.log(2.0**64)
_MAX_FEATURES = 2**31 - 1
_SHOWN = 60  # characters of a refused value shown in a message

_TEXT_ENCODINGS = {"utf-8", "utf-8-sig", "utf-16", "utf-32", "ascii", "iso8859-1", "cp1252"}
_FLOATS = ("float32", "float64")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class _Refused(ValueError):
    """A setting outside the allow-list: ``expected`` says what is allowed."""

    def __init__(self, expected: str):
        super().__init__(expected)
        self.expected = expected


def _one_of(*choices: Any) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # bool is an int and 1 == True: compare types too, so that True is not 1.
        if not any(type(value) is type(c) and value == c for c in choices):
            raise _Refused(f"expected one of {list(choices)}")
        return value

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Refused("expected true or false")
    return value


def _none(value: Any) -> None:
    if value is not None:
        raise _Refused(
            "expected None (a sleec model file stores no code and keeps the fitted "
            "vocabulary apart)"
        )
    return None


def _df(value: Any) -> Any:
    """min_df / max_df: a share in [0, 1] or a document count >= 1 (scikit-learn's rule)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _Refused("expected a float in [0, 1] or an int >= 1")
    if isinstance(value, numbers.Integral):
        if value < 1:
            raise _Refused("expected a float in [0, 1] or an int >= 1")
        return int(value)
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise _Refused("expected a float in [0, 1] or an int >= 1")
    return value


def _max_features(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Refused("expected None or an int >= 1")
    return value


def _n_features(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_FEATURES:
        raise _Refused(f"expected an int in [1, {_MAX_FEATURES}]")
    return value


def _ngram_range(value: Any) -> tuple[int, int]:
    expected = f"expected [low, high] with 1 <= low <= high <= {MAX_NGRAM}"
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise _Refused(expected)
    low, high = value
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (low, high)):
        raise _Refused(expected)
    if not 1 <= low <= high <= MAX_NGRAM:
        raise _Refused(expected)
    return (low, high)


def _stop_words(value: Any) -> Any:
    if value is None or value == "english":
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(w, str) for w in value):
        return list(value)
    raise _Refused("expected 'english', None or a list of strings")


def _encoding(value: Any) -> str:
    expected = f"expected a text encoding, one of {sorted(_TEXT_ENCODINGS)}"
    if not isinstance(value, str) or len(value) > 40:
        raise _Refused(expected)
    try:
        name = codecs.lookup(value).name
    except LookupError:
        raise _Refused(expected) from None
    if name not in _TEXT_ENCODINGS:
        raise _Refused(expected)
    return value


def _dtype(allowed: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or value not in allowed:
            raise _Refused(f"expected one of {list(allowed)}")
        return np.dtype(value).type

    return check


def _input(value: Any) -> str:
    if value != "content":
        raise _Refused("only 'content' (documents given as strings) is allowed")
    return value


def _token_pattern(value: Any) -> str | None:
    if value is None:
        return None  # allowed for the character analyzers only (checked below)
    return check_token_pattern(value)


_COMMON: dict[str, Callable[[Any], Any]] = {
    "analyzer": _one_of("word", "char", "char_wb"),
    "binary": _bool,
    "decode_error": _one_of("strict", "ignore", "replace"),
    "encoding": _encoding,
    "input": _input,
    "lowercase": _bool,
    "ngram_range": _ngram_range,
    "preprocessor": _none,
    "stop_words": _stop_words,
    "strip_accents": _one_of(None, "ascii", "unicode"),
    "token_pattern": _token_pattern,
    "tokenizer": _none,
}
_COUNTING = {
    "max_df": _df,
    "max_features": _max_features,
    "min_df": _df,
    "vocabulary": _none,
}
_NORM = _one_of("l1", "l2", None)
SETTINGS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "CountVectorizer": {
        **_COMMON,
        **_COUNTING,
        "dtype": _dtype(_FLOATS + ("int32", "int64")),
    },
    "TfidfVectorizer": {
        **_COMMON,
        **_COUNTING,
        "dtype": _dtype(_FLOATS),
        "norm": _NORM,
        "smooth_idf": _bool,
        "sublinear_tf": _bool,
        "use_idf": _one_of(True),  # without idf weights it cannot be rebuilt without pickle
    },
    "HashingVectorizer": {
        **_COMMON,
        "alternate_sign": _bool,
        "dtype": _dtype(_FLOATS + ("int32", "int64")),
        "n_features": _n_features,
        "norm": _NORM,
    },
}


def check_settings(
    name: str, params: Mapping[str, Any], what: str = "stored vectoriser setting"
) -> dict[str, Any]:
    """The keyword arguments that build vectoriser ``name`` from its stored ``params``
    (JSON values: lists for tuples, dtype names), every one checked against the allow-list
    (see the module docstring); missing ones take scikit-learn's defaults.

    Raises ValueError naming the first setting refused: ``"the {what} 'input' is
    'filename'; only 'content' (documents given as strings) is allowed"``.
    """
    allowed = SETTINGS.get(name)
    if allowed is None:
        raise ValueError(f"unknown text vectoriser {name!r}; expected one of {list(SETTINGS)}")
    out: dict[str, Any] = {}
    for key, value in params.items():
        check = allowed.get(key)
        if check is None:
            raise ValueError(
                f"the {what} {_shown(key)} is not a parameter sleec stores for a {name}"
            )
        try:
            out[key] = check(value)
        except _Refused as exc:
            raise ValueError(f"the {what} {key!r} is {_shown(value)}; {exc.expected}") from None
    if out.get("analyzer", "word") == "word" and "token_pattern" in out:
        if out["token_pattern"] is None:
            raise ValueError(
                f"the {what} 'token_pattern' is None; the word analyzer needs a pattern"
            )
    return out


def check_idf(idf: np.ndarray, n_terms: int) -> np.ndarray:
    """The stored idf weights of a TfidfVectorizer: float64, one per vocabulary term, finite,
    in ``[1, MAX_IDF]`` (what scikit-learn computes for any corpus). ValueError otherwise."""
    if idf.dtype != np.float64 or idf.shape != (n_terms,):
        raise ValueError(
            f"the stored idf weights are {idf.dtype} of shape {idf.shape}; expected float64 of "
            f"shape ({n_terms},), one per vocabulary term"
        )
    bad = ~(np.isfinite(idf) & (idf >= 1.0) & (idf <= MAX_IDF))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"the stored idf weight of term {j} is {float(idf[j])!r}; expected a finite weight in "
            f"[1, {MAX_IDF:.2f}] (idf = ln(n / df) + 1 >= 1)"
        )
    return idf


# ------------------------------------------------------------------------- token patterns
# A token pattern is accepted when it is valid and of this linear-time form:
#
#   [(?flags)] [\b] atom{m} ... atom{m} atom[q] [\b]
#
# where an atom matches exactly one character (a class escape \w \W \d \D \s \S, ``.``, a
# character set [...] of such items, or a literal), every atom but the last repeats a fixed
# number of times (none, or {m}), the last may take any greedy quantifier (+ * ? {m}
# {m,} {m,n}), and a final \b is allowed only when every atom is \w or the last one's
# repetition is bounded (then a start position costs O(width)). Why this is linear in
# the document: re.findall tries each start position once, and the search resumes after
# each match. From one position, the fixed atoms either fail after O(m) steps or match
# without choice; then the last atom's greedy run takes the longest run it can. With
# nothing after it, that run is the match (no backtracking). With a final \b and only \w
# atoms, the run stops where the next character is not a word character (or at the end),
# which is a word boundary (or, for a run of length 0 between non-word characters, fails at
# once), so \b holds or fails without backtracking through the run. No nested quantifier,
# alternation, group, backreference or lookaround can appear: those are what make a
# backtracking matcher take exponential (or polynomial) time, e.g. (a+)+$ or (a|a)*$.
_FLAG_LETTERS = set("aimsu")  # not x (verbose: changes how the pattern is read) nor L
_CLASS_ESCAPES = set("wWdDsS")
_SPECIAL = set(".^$*+?{}[]()|\\")
_FIXED = ("", "{m}")
_BOUNDED = ("", "{m}", "?", "{m,n}")
_REPEAT = re.compile(r"\{(\d{1,3})(,(\d{0,3}))?\}")


def check_token_pattern(pattern: Any) -> str:
    """``pattern`` if it is a valid regular expression of the linear-time form above, else
    ValueError saying why (:func:`check_settings` names the setting ``token_pattern``)."""
    if not isinstance(pattern, str) or not 0 < len(pattern) <= MAX_PATTERN:
        raise _Refused(f"expected a regular expression of 1 to {MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:
        raise _Refused(f"not a valid regular expression ({exc})") from None
    if compiled.groups or not _linear(pattern):
        raise _Refused(
            "not a token pattern sleec accepts: expected single-character atoms (\\w, \\d, \\S, "
            "[...], literals) of which only the last repeats freely, as in (?u)\\b\\w\\w+\\b; "
            "groups, alternation and nested repetition can backtrack for hours"
        )
    return pattern


def _linear(pattern: str) -> bool:
    """Whether ``pattern`` has the form of the comment above (a valid pattern is assumed)."""
    i, n = 0, len(pattern)
    if pattern.startswith("(?"):
        end = pattern.find(")")
        flags = pattern[2:end] if end > 2 else ""
        if not flags or not set(flags) <= _FLAG_LETTERS:
            return False
        i = end + 1
    if pattern.startswith("\\b", i):
        i += 2
    trailing_boundary = pattern.endswith("\\b") and not pattern.endswith("\\\\b")
    if trailing_boundary:
        n -= 2
    atoms: list[tuple[str, str]] = []  # (atom, quantifier)
    while i < n:
        atom, i = _atom(pattern, i, n)
        if atom is None:
            return False
        quantifier, i = _quantifier(pattern, i, n)
        if quantifier is None:
            return False
        atoms.append((atom, quantifier))
    if not atoms:
        return False
    if any(q not in _FIXED for _, q in atoms[:-1]):
        return False
    # A final \b after a bounded width (at most MAX_REPEAT per atom) costs O(width) per
    # start position; after a free run, only a run of \w ends at a boundary by itself.
    return not trailing_boundary or atoms[-1][1] in _BOUNDED or all(a == "\\w" for a, _ in atoms)


def _atom(pattern: str, i: int, n: int) -> tuple[str | None, int]:
    """The single-character atom at ``i`` and the position after it (None: not one)."""
    c = pattern[i]
    if c == "\\":
        if i + 1 >= n:
            return None, i
        e = pattern[i + 1]
        if e in _CLASS_ESCAPES or (e.isascii() and not e.isalnum() and not e.isspace()):
            return pattern[i : i + 2], i + 2
        return None, i  # \b inside, \A, \Z, \1 (backreference), \x.., \N{...}
    if c == "[":
        j = i + 1
        if j < n and pattern[j] == "^":
            j += 1
        if j < n and pattern[j] == "]":
            return None, i  # a leading ] is a literal: too easy to misread
        start = j
        while j < n and pattern[j] != "]":
            if pattern[j] == "[":
                return None, i  # nested-set syntax
            if pattern[j] == "\\":
                e = pattern[j + 1] if j + 1 < n else ""
                if not (e in _CLASS_ESCAPES or (e.isascii() and not e.isalnum() and e != "")):
                    return None, i
                j += 2
                continue
            j += 1
        if j >= n or j == start:
            return None, i
        return pattern[i : j + 1], j + 1
    if c == ".":
        return c, i + 1
    if c in _SPECIAL:
        return None, i
    return c, i + 1


def _quantifier(pattern: str, i: int, n: int) -> tuple[str | None, int]:
    """The greedy quantifier at ``i`` ('' for none) and the position after it (None: a
    lazy or possessive one, or a count above MAX_REPEAT)."""
    if i >= n:
        return "", i
    if pattern[i] in "+*?":
        q, i = pattern[i], i + 1
    elif pattern[i] == "{":
        match = _REPEAT.match(pattern, i, n)
        if match is None:
            return None, i
        low, comma, high = match.group(1), match.group(2), match.group(3)
        if int(low) > MAX_REPEAT or (high and not int(low) <= int(high) <= MAX_REPEAT):
            return None, i
        q, i = ("{m}" if comma is None else "{m,n}" if high else "{m,}"), match.end()
    else:
        return "", i
    if i < n and pattern[i] in "?+":
        return None, i  # lazy or possessive
    return q, i


# ------------------------------------------------------------------------- text vectoriser
# A pipeline file adds the fitted text vectoriser to the model's arrays, without pickle:
# its class name and parameters as JSON, its vocabulary as a string array ordered by column,
# and its idf weights. Every stored setting is checked against this module's
# allow-list at load, and before saving. (:mod:`sleec._state` puts them in the model file.)
_VECTORIZERS = tuple(SETTINGS)
_SK_TEXT = "sklearn.feature_extraction.text"
_JSON_SCALARS = (type(None), bool, int, float, str)


def vectorizer_to_arrays(vectorizer: Any) -> dict[str, np.ndarray]:
    """Named arrays (``text_*``) of a fitted scikit-learn text vectoriser (TfidfVectorizer,
    CountVectorizer or HashingVectorizer with built-in options).

    Raises TypeError naming what cannot be stored without pickle (another class, a callable
    tokenizer or preprocessor, ``input`` other than "content"), ValueError naming a setting
    outside the allow-list that loading applies (:mod:`sleec._vectorizer`).
    """
    name = type(vectorizer).__name__
    if name not in _VECTORIZERS or type(vectorizer).__module__ != _SK_TEXT:
        raise TypeError(
            f"a {name} cannot be saved in a sleec model file; expected one of "
            f"{list(_VECTORIZERS)} from sklearn.feature_extraction.text"
        )
    params = dict(vectorizer.get_params())
    params["dtype"] = np.dtype(params["dtype"]).name
    if "vocabulary" in params:
        params["vocabulary"] = None  # the fitted vocabulary_ below holds it
    if name == "TfidfVectorizer" and not params["use_idf"]:
        raise TypeError(
            "a TfidfVectorizer with use_idf=False cannot be restored without pickle; use "
            "use_idf=True, or CountVectorizer / HashingVectorizer (norm='l2')"
        )
    if params.get("input", "content") != "content":
        raise TypeError(
            f"the {name}'s input={params['input']!r} cannot be saved; expected "
            "'content' (documents given as strings)"
        )
    for key, value in params.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, _JSON_SCALARS) for v in items):
            raise TypeError(
                f"the {name}'s parameter {key}={value!r} cannot be saved without pickle; "
                "use its built-in options (strings, numbers) instead of callables"
            )
    try:
        check_settings(name, params, what=f"{name} setting")
    except ValueError as exc:
        raise ValueError(f"{exc} (a sleec model file cannot hold it)") from None
    out = {"text_vectorizer": np.array(json.dumps({"class": name, "params": params}))}
    if hasattr(vectorizer, "vocabulary_"):
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        out["text_vocabulary"] = np.array(terms, dtype=str) if terms else np.zeros(0, "<U1")
    if getattr(vectorizer, "use_idf", False) and hasattr(vectorizer, "idf_"):
        out["text_idf"] = np.asarray(vectorizer.idf_, dtype=np.float64)
    return out


def vectorizer_from_arrays(a: Mapping[str, np.ndarray]) -> Any:
    """The vectoriser of :func:`vectorizer_to_arrays`' arrays, or None if there is none.

    Raises ValueError naming the first stored setting outside the allow-list (see
    :mod:`sleec._vectorizer`), or what is wrong with the vocabulary or the idf weights.
    """
    if "text_vectorizer" not in a:
        return None
    from sklearn.feature_extraction import text

    raw = a["text_vectorizer"]
    try:
        if raw.dtype.kind != "U" or raw.shape != ():
            raise TypeError("not one string")
        spec = json.loads(str(raw))
        name, params = spec["class"], spec["params"]
        if (
            not isinstance(name, str)
            or not isinstance(params, dict)
            or set(spec)
            != {
                "class",
                "params",
            }
        ):
            raise TypeError("not {'class': name, 'params': {...}}")
    except (RecursionError, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ValueError(f"unreadable text vectoriser ({type(exc).__name__})") from None
    vectorizer = getattr(text, name)(**check_settings(name, params)) if name in SETTINGS else None
    if vectorizer is None:
        raise ValueError(f"unknown text vectoriser {name!r}; expected one of {list(SETTINGS)}")
    expected = (
        {"text_vectorizer"}
        | (set() if name == "HashingVectorizer" else {"text_vocabulary"})
        | ({"text_idf"} if name == "TfidfVectorizer" else set())
    )
    found = {key for key in a if key.startswith("text_")}
    if found != expected:
        raise ValueError(
            f"a stored {name} comes with the arrays {sorted(expected)}; found {sorted(found)}"
        )
    if name != "HashingVectorizer":
        terms = a["text_vocabulary"]
        if terms.dtype.kind != "U" or terms.ndim != 1 or np.unique(terms).size != terms.size:
            raise ValueError(
                f"bad text vocabulary ({terms.dtype} of shape {terms.shape}); expected distinct "
                "strings, one per column"
            )
        vectorizer.vocabulary_ = {str(t): j for j, t in enumerate(terms.tolist())}
        vectorizer.fixed_vocabulary_ = False
        if name == "TfidfVectorizer":
            vectorizer.idf_ = check_idf(a["text_idf"], terms.size)
    return vectorizer


def vectorizer_width(vectorizer: Any) -> int:
    """Columns a text vectoriser outputs (-1 if it cannot tell)."""
    if hasattr(vectorizer, "vocabulary_"):
        return len(vectorizer.vocabulary_)
    return int(getattr(vectorizer, "n_features", -1))
