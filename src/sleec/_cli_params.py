"""Estimator parameters as command-line flags, generated from ``SLEEC``'s signature and docstring.

One flag per constructor parameter (``n_components`` <-> ``--n-components``) with a parser from
the default's type and the help text from the numpydoc ``Parameters`` section, so the flags
never drift from the estimator. :func:`resolve_params` applies the precedence estimator
defaults < preset < ``--params`` JSON < explicit flags.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
from collections.abc import Callable
from typing import Any

from .estimator import SLEEC
from .exceptions import DataFormatError


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _parse_int_or_auto(text: str) -> int | str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") from None


def _parse_any(text: str) -> Any:
    """Value of a parameter whose type is not known: int, float, true/false, none or text."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    return None if low in ("none", "null") else text


def _parse_positive_int(text: str) -> int:
    value = _parse_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


_SPECIAL_TYPES: dict[str, tuple[Callable[[str], Any], str]] = {
    "n_clusters": (_parse_int_or_auto, "{INT,auto}"),
    "random_state": (_parse_int, "INT"),
    "n_jobs": (_parse_int, "INT"),
}


def _docstring_params(doc: str | None) -> dict[str, tuple[str, str]]:
    """``{name: (type line, description)}`` from a numpydoc ``Parameters`` section."""
    out: dict[str, tuple[str, str]] = {}
    if not doc:
        return out
    lines = inspect.cleandoc(doc).splitlines()
    try:
        start = next(i for i, line in enumerate(lines[:-1])
                     if line.strip() == "Parameters" and set(lines[i + 1].strip()) == {"-"})
    except StopIteration:
        return out
    name = None
    for i in range(start + 2, len(lines)):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and set(lines[i + 1].strip()) == {"-"}:
            break  # next section
        match = re.match(r"^(\w+) : (.*)$", line)
        if match:
            name = match.group(1)
            out[name] = (match.group(2).strip(), "")
        elif name and line.startswith((" ", "\t")) and line.strip():
            kind, text = out[name]
            out[name] = (kind, f"{text} {line.strip()}".strip())
    return out


def _param_specs() -> list[dict[str, Any]]:
    """One spec per keyword parameter of ``SLEEC.__init__``: name, default, parser, help."""
    docs = _docstring_params(SLEEC.__doc__)
    specs = []
    for name, p in inspect.signature(SLEEC.__init__).parameters.items():
        if p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) or name == "self":
            continue
        default = None if p.default is p.empty else p.default
        kind_text, text = docs.get(name, ("", f"SLEEC parameter {name!r}."))
        choices = None
        if name in _SPECIAL_TYPES:
            parse, metavar = _SPECIAL_TYPES[name]
        elif isinstance(default, bool):
            parse, metavar = _parse_bool, "{true,false}"
        elif isinstance(default, int):
            parse, metavar = _parse_int, "INT"
        elif isinstance(default, float):
            parse, metavar = _parse_float, "FLOAT"
        elif isinstance(default, str):
            parse, metavar = str, "TEXT"
            if kind_text.startswith("{"):  # numpydoc choices: {"a", "b"}
                choices = re.findall(r"[\"']([^\"']+)[\"']", kind_text.split("}")[0]) or None
        else:
            annotation = str(p.annotation)
            words = set(re.findall(r"\w+", annotation)) - {"None", "Optional"}
            parse, metavar = {
                frozenset({"int"}): (_parse_int, "INT"),
                frozenset({"float"}): (_parse_float, "FLOAT"),
                frozenset({"str"}): (str, "TEXT"),
            }.get(frozenset(words), (_parse_any, "VALUE"))
        text = re.sub(r"``?([^`]+)``?", r"\1", text)
        specs.append({"name": name, "flag": "--" + name.replace("_", "-"), "default": default,
                      "parse": parse, "metavar": metavar, "choices": choices,
                      "help": f"{text} (default: {_show_default(default)})".replace("%", "%%")})
    return specs


def _show_default(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "unset" if value is None else str(value)


def _default_params() -> dict[str, Any]:
    return {spec["name"]: spec["default"] for spec in _param_specs()}


def resolve_params(preset: str | None = None, params_file: str | None = None,
                   overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Estimator defaults < preset < ``--params`` JSON < explicit flags (``None`` = unset)."""
    params = _default_params()
    if preset is not None:
        params.update(SLEEC.from_preset(preset).get_params())
    if params_file is not None:
        params.update(_read_params_file(params_file, set(params)))
    params.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return params


def _read_params_file(path: str, known: set[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"not valid JSON ({exc.msg}, column {exc.colno}); expected an "
                              "object of SLEEC parameters", path=path, line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DataFormatError(f"expected a JSON object of SLEEC parameters, got "
                              f"{type(data).__name__}", path=path)
    unknown = sorted(set(data) - known)
    if unknown:
        raise DataFormatError(f"unknown parameter(s) {unknown}; expected some of "
                              f"{sorted(known)}", path=path)
    return data
