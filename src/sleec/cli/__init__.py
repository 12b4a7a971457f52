"""Command-line interface: ``sleec train | partial-fit | predict | explain | report | evaluate
| demo``.

Run ``sleec --help`` or ``sleec COMMAND --help``. Each command is a module of this package
with its parser beside its handler (``add_parser``, ``run``), the options several share in
:mod:`._options` (parent parsers) and the helpers in :mod:`._shared`. Every estimator
parameter of :class:`~sleec.SLEEC` has a ``train`` flag (``n_components`` <->
``--n-components``) derived from the parameter table of :mod:`sleec.params`
(:mod:`.parameters`), so the flags never drift from the estimator; progress and logging in
:mod:`.progress`.

Expected errors (missing or malformed files, bad parameter values, ...) are reported as one
line ``sleec: error: <message>`` on stderr with exit status 1 (130 on Ctrl-C, 143 on
SIGTERM; a file being written is cleaned up in both cases); the global ``--debug`` flag shows
the traceback instead. Usage errors (an unknown option, a missing or malformed argument, a
check between options) are one line too, naming the command's ``--help``, with status 1.
Running out of memory is one line "out of memory (...)" whatever raised it (see
:mod:`sleec._memory`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from .. import __version__
from .._memory import address_space_headroom, out_of_memory
from ..exceptions import DataFormatError, ModelFormatError
from . import demo, evaluate, explain, partial_fit, predict, report, train
from ._options import Parser, UsageError, make_parents
from .progress import PROG, configure_logging

__all__ = ["UsageError", "build_parser", "main"]

COMMANDS = (train, partial_fit, predict, explain, report, evaluate, demo)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation tools and tests)."""
    parser = Parser(
        prog=PROG,
        description="SLEEC: Sparse Local Embeddings for Extreme multi-label Classification "
        "(Bhatia et al., NIPS 2015).",
        epilog="Data files use the Extreme Classification Repository text format (header "
        "'N D L', then 'l1,l2,... f:v f:v ...'; plain, .xz, .gz or .bz2). Quick start: "
        "'sleec demo'. Run 'sleec COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback on errors instead of a one-line message",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        dest="verbose_global",
        help="log progress details to stderr (-v: info, -vv: debug)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parents = make_parents()
    for command in COMMANDS:
        command.add_parser(sub, parents)
    return parser


def _error_message(exc: BaseException) -> str:
    if out_of_memory(exc):
        message = _memory_message(exc)
    elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.strerror}: '{exc.filename}'"
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split())  # one line


def _memory_message(exc: BaseException) -> str:
    """ "out of memory (what was asked for)": the MemoryError's text where the chain holds
    one, else the error (a SystemError near the address-space limit) and the headroom."""
    error: BaseException | None = exc
    while error is not None and not isinstance(error, MemoryError):
        error = error.__cause__ or error.__context__
    if error is not None:
        return f"out of memory{f' ({error})' if str(error) else ''}"
    headroom = address_space_headroom()
    left = "" if headroom is None else f"; the address-space limit leaves {headroom >> 20} MB"
    return f"out of memory ({type(exc).__name__}: {exc}{left})"


class Terminated(BaseException):
    """SIGTERM (sent by timeout, Slurm, docker stop) turned into an exception, so that a file
    being written is cleaned up as on Ctrl-C."""


@contextlib.contextmanager
def _sigterm_raises():
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def terminate(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 error or usage error, 130
    Ctrl-C, 143 SIGTERM)."""
    from sklearn.exceptions import NotFittedError

    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # named against the command's own parser: its --help lists the options
            getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except UsageError as exc:
        if "--debug" in (argv if argv is not None else sys.argv[1:]):
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    # ImportError: --scheduler without the dask extra (the message says what to install).
    expected = (
        OSError,
        DataFormatError,
        ModelFormatError,
        ValueError,
        TypeError,
        NotFittedError,
        MemoryError,
        ImportError,
    )
    with configure_logging(args.verbose_global + args.verbose), _sigterm_raises():
        try:
            return args.handler(args)
        except UsageError as exc:  # a check between options, made by the command
            if args.debug:
                raise
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            if args.debug:
                raise
            print(f"{PROG}: error: interrupted", file=sys.stderr)
            return 130
        except Terminated:
            if args.debug:
                raise
            print(f"{PROG}: error: terminated (SIGTERM)", file=sys.stderr)
            return 143
        except BrokenPipeError:  # e.g. `sleec evaluate ... | head -1`
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            return 1
        except expected as exc:
            if args.debug:
                raise
            print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
            return 1
        except Exception as exc:  # e.g. SystemError from a C extension that ran out of memory
            if args.debug or not out_of_memory(exc):
                raise
            print(f"{PROG}: error: {_error_message(exc)}", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
