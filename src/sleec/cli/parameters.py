"""Estimator parameters as command-line flags, derived from the table in :mod:`sleec.params`.

One flag per parameter (``n_components`` <-> ``--n-components``), its parser and metavar from
the parameter's kind, its help line from the table. :func:`resolve_params` applies the
precedence estimator defaults < preset < ``--params`` JSON < explicit flags.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ..exceptions import DataFormatError
from ..params import PARAMS, Param
from ..presets import preset_params

__all__ = [
    "add_parameter_flags",
    "parse_float",
    "parse_int",
    "parse_positive_int",
    "resolve_params",
]

_MAX_JSON_BYTES = 1 << 20  # a parameter file is a few hundred bytes


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def parse_positive_int(text: str) -> int:
    value = parse_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _with_literals(parse: Callable[[str], Any], literals: tuple) -> Callable[[str], Any]:
    """``parse`` that also accepts the parameter's literal values ('auto', 'none')."""
    words = {str(x).lower(): x for x in literals}

    def parse_or_literal(text: str) -> Any:
        key = text.strip().lower()
        if key in words:
            return words[key]
        return parse(text)

    return parse_or_literal


def _flag_type(p: Param) -> tuple[Callable[[str], Any], str | None, list | None]:
    """(parser, metavar, choices) of a parameter's flag."""
    if p.kind == "choice":
        if all(isinstance(c, bool) for c in p.choices):
            return _parse_bool, "{true,false}", None
        return str, None, list(p.choices)
    parse: Callable[[str], Any]
    parse, metavar = {
        "int": (parse_int, "INT"),
        "seed": (parse_int, "INT"),
        "float": (parse_float, "FLOAT"),
    }[p.kind]
    literals = tuple(x for x in p.also if x is not None)
    if literals:
        parse = _with_literals(parse, literals)
        metavar = "{" + ",".join([metavar, *map(str, literals)]) + "}"
    return parse, metavar, None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "unset" if value is None else str(value)


def add_parameter_flags(group: argparse._ArgumentGroup) -> None:
    """One flag per estimator parameter; default ``None`` means "not given"."""
    for p in PARAMS:
        parse, metavar, choices = _flag_type(p)
        group.add_argument(
            "--" + p.name.replace("_", "-"),
            dest=p.name,
            type=parse,
            default=None,
            metavar=metavar,
            choices=choices,
            help=f"{p.help} (default: {_show(p.default)})".replace("%", "%%"),
        )


def resolve_params(args: argparse.Namespace) -> dict[str, Any]:
    """Estimator defaults < ``--preset`` < ``--params`` JSON < explicit flags."""
    params = {p.name: p.default for p in PARAMS}
    if args.preset is not None:
        params.update(preset_params(args.preset))
    if args.params is not None:
        params.update(_read_params_file(args.params, set(params)))
    params.update(
        {p.name: getattr(args, p.name) for p in PARAMS if getattr(args, p.name) is not None}
    )
    return params


def _read_params_file(path: str, known: set[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        text = fh.read(_MAX_JSON_BYTES + 1)
    if len(text) > _MAX_JSON_BYTES:
        raise DataFormatError(
            f"larger than {_MAX_JSON_BYTES} bytes; expected a small JSON "
            "object of SLEEC parameters",
            path=path,
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            f"not valid JSON ({exc.msg}, column {exc.colno}); expected an "
            "object of SLEEC parameters",
            path=path,
            line=exc.lineno,
        ) from None
    except RecursionError:
        raise DataFormatError(
            "JSON nested too deeply; expected a flat object of SLEEC parameters", path=path
        ) from None
    if not isinstance(data, dict):
        raise DataFormatError(
            f"expected a JSON object of SLEEC parameters, got {type(data).__name__}", path=path
        )
    unknown = sorted(set(data) - known)
    if unknown:
        raise DataFormatError(
            f"unknown parameter(s) {unknown}; expected some of {sorted(known)}", path=path
        )
    return data
