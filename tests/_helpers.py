"""Plain helpers and constants shared by the test modules (the fixtures are in conftest.py).

Import them as ``from _helpers import ...``: ``tests/`` has no ``__init__.py``, so pytest's
default ("prepend") import mode puts it on ``sys.path``.
"""

from __future__ import annotations

import re
import resource

import numpy as np
import scipy.sparse as sp

from sleec import _persist, cli

# ------------------------------------------------------------------ small model settings
# The smallest useful model: one learner, 4 components. Tests of inputs, files and errors
# (whose assertions are about refusals, not accuracy) fit it in a few milliseconds.
TINY = {"n_learners": 1, "n_components": 4, "n_graph_neighbors": 5, "n_neighbors": 3}
# The same with 5 SVP iterations: what the CLI error tests train with.
TINY_SHORT_SVP = {**TINY, "svp_max_iter": 5}
# ... and seeded: the estimator-input tests, whose predictions are compared exactly.
TINY_SEEDED = {**TINY_SHORT_SVP, "random_state": 0}
# One learner of 8 components: the label-space and text tests.
SMALL_8 = {"n_learners": 1, "n_components": 8, "n_graph_neighbors": 10, "n_neighbors": 5}


def cli_flags(params: dict) -> list[str]:
    """Estimator parameters as command-line flags: ``{"n_components": 4}`` ->
    ``["--n-components", "4"]``."""
    flags: list[str] = []
    for name, value in params.items():
        flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


TINY_FLAGS = cli_flags(TINY)


# --------------------------------------------------------------------------- data
N, D, L = 30, 12, 6  # make_data's default size


def make_data(n: int = N, d: int = D, n_labels: int = L, seed: int = 0):
    """Random sparse features (no all-zero row) and labels (at least one per point)."""
    r = np.random.default_rng(seed)
    X = ((r.random((n, d)) < 0.4) * r.uniform(0.1, 1.0, (n, d))).astype(np.float32)
    X[np.arange(n), r.integers(0, d, n)] = 1.0
    Y = (r.random((n, n_labels)) < 0.3).astype(np.float32)
    Y[np.arange(n), r.integers(0, n_labels, n)] = 1.0
    return sp.csr_matrix(X), sp.csr_matrix(Y)


def with_value(A, row, col, value) -> np.ndarray:
    """A dense copy of ``A`` with one entry set."""
    A = A.toarray()
    A[row, col] = value
    return A


# --------------------------------------------------------------------------- the CLI
def run_cli(capsys, *argv) -> tuple[int, str]:
    """``sleec`` in-process: (exit status, stderr)."""
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def run_cli_out(capsys, *argv) -> tuple[int, str, str]:
    """``sleec`` in-process: (exit status, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *patterns: str) -> str:
    """Exit status 1, no traceback, exactly one stderr line ``sleec: error: ...`` in which
    every regular expression of ``patterns`` is found; returns that line."""
    assert code == 1, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sleec: error: ")
    for pattern in patterns:
        assert re.search(pattern, lines[0]), (pattern, lines[0])
    return lines[0]


def assert_one_line_error_containing(code: int, err: str, *fragments: str) -> str:
    """:func:`assert_one_line_error` with literal fragments instead of patterns."""
    return assert_one_line_error(code, err, *(re.escape(f) for f in fragments))


# --------------------------------------------------------------------------- model files
def resign(payload: dict) -> dict:
    """The payload with a checksum valid for its (altered) content."""
    return {**payload, "checksum": np.array(_persist._checksum(payload))}


def central_directory(raw: bytes) -> int:
    """Offset of a zip file's central directory, from its end-of-central-directory record."""
    eocd = raw.rfind(b"PK\x05\x06")
    return int.from_bytes(raw[eocd + 16 : eocd + 20], "little")


# --------------------------------------------------------------------------- memory
def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
