"""Running out of memory (sleec._memory): a clean MemoryError, one line on the command line,
never a hang or an OpenBLAS exit.

* Units: which errors count as out of memory; the reservations of the BLAS buffers and of
  the kernel threads refuse (with the size) when the address space is not there.
* A slow end-to-end check: ``sleec train`` on a small .xz file under address-space limits
  from 30 to 120 MB above what its imports take ends, every time, in success or one line
  ``sleec: error: out of memory (...)``, exit status 1. Before the reservation, limits of
  50 to 100 MB above ended in "OpenBLAS error: Memory allocation still failed after 10
  retries, giving up." or a hang (OpenBLAS retrying forever).
"""

from __future__ import annotations

import errno
import resource
import subprocess
import sys
import textwrap
import threading

import pytest

from _helpers import TINY
from sleec import SLEEC, _limits, _memory
from sleec.datasets import make_xmc, write_xc


# ------------------------------------------------------------------------------- units
@pytest.mark.slow
def test_a_limit_below_what_the_libraries_take_is_one_line():
    """The ``sleec`` command under 300 MB of address space (its libraries take 550-700 MB;
    below 512 an import can hang in OpenBLAS): refused before loading them, in one line
    with status 1."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (300 << 20, 300 << 20))

    done = subprocess.run(
        [sys.executable, "-m", "sleec", "train", "--help"],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "sleec: error: out of memory: the address-space limit (ulimit -v) is 300 MB; sleec's "
        "libraries (NumPy, SciPy, scikit-learn, numba) need at least 512 MB to load"
    ], done.stderr


def _chained(outer: BaseException, inner: BaseException, cause: bool) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            if cause:
                raise outer from exc
            raise outer  # noqa: B904 - a context, as libraries that wrap errors leave it
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "headroom", "expected"),
    [
        (MemoryError("Unable to allocate 2 GiB"), None, True),
        (_chained(ValueError("bad"), MemoryError(), cause=True), None, True),
        (_chained(RuntimeError("lowering failed"), MemoryError(), cause=False), None, True),
        (SystemError("error return without exception set"), 40 << 20, True),
        (SystemError("error return without exception set"), 2 << 30, False),
        (SystemError("error return without exception set"), None, False),
        (ValueError("bad"), 10 << 20, False),
        (_chained(ValueError("bad"), KeyError("x"), cause=True), None, False),
        (ImportError("libgomp.so.1: failed to map segment from shared object"), None, True),
        (_chained(OSError("could not load"), OSError(errno.ENOMEM, "no"), cause=False), None, True),
        (ImportError("No module named 'scipy'"), None, False),
        (OSError(errno.ENOENT, "No such file or directory"), None, False),
    ],
    ids=[
        "MemoryError",
        "raised from one",
        "raised while handling one",
        "SystemError near the limit",
        "SystemError far from it",
        "SystemError without a limit",
        "ValueError",
        "ValueError from KeyError",
        "a library the loader could not map",
        "ENOMEM wrapped by a library",
        "a missing module",
        "another OSError",
    ],
)
def test_out_of_memory_recognises_failed_allocations(monkeypatch, exc, headroom, expected):
    monkeypatch.setattr(_limits, "address_space_headroom", lambda: headroom)
    assert _memory.out_of_memory(exc) is expected


@pytest.mark.parametrize(
    ("reserve", "what"),
    [
        (
            _memory.reserve_blas_buffers,
            lambda: (
                f"{_memory._n_libraries() * _memory.BLAS_BUFFER >> 20} MB the BLAS work buffers"
            ),
        ),
        (
            _memory.start_kernel_threads,
            lambda: (
                f"{_numba_threads() * _memory._stack_size() >> 20} MB the stacks of "
                f"{_numba_threads()} kernel threads"
            ),
        ),
    ],
    ids=["BLAS buffers", "kernel threads"],
)
def test_reservations_refuse_with_the_size_when_the_address_space_is_short(
    monkeypatch, reserve, what
):
    def no_room(*args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    expected = what()
    monkeypatch.setattr(_memory.mmap, "mmap", no_room)
    monkeypatch.setattr(_memory, "address_space_headroom", lambda: 21 << 20)
    raised = []

    def run() -> None:  # a new thread: nothing is reserved for it yet
        try:
            reserve()
        except MemoryError as exc:
            raised.append(str(exc))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert raised == [f"cannot reserve the {expected} take; the address-space limit leaves 21 MB"]


def _numba_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def test_fit_reserves_the_blas_buffers_first(toy_xmc, monkeypatch):
    calls = []
    for module in ("estimator", "_fit", "_predict"):
        monkeypatch.setattr(
            f"sleec.{module}.reserve_blas_buffers", lambda: calls.append(threading.get_ident())
        )
    Xtr, Ytr, *_ = toy_xmc
    model = SLEEC(**TINY)
    model.fit(Xtr, Ytr)
    assert calls and calls[0] == threading.get_ident()  # fit's thread, before any task
    model.predict_topk(Xtr[:3], 2)
    assert len(calls) >= 3  # fit, its task(s), prediction


# --------------------------------------------------------------------- end to end (slow)
CHILD = textwrap.dedent("""
    import resource, sys

    from sleec import cli  # everything the command imports, before the limit

    with open("/proc/self/statm") as fh:
        size = int(fh.read().split()[0]) * resource.getpagesize()
    headroom = int(sys.argv[1]) << 20
    if headroom:
        resource.setrlimit(resource.RLIMIT_AS, (size + headroom, resource.RLIM_INFINITY))
    raise SystemExit(
        cli.main(["train", "--train", sys.argv[2], "--model", sys.argv[3], "--no-progress"])
    )
""")
HEADROOMS_MB = list(range(30, 121, 10))


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")
def test_training_under_an_address_space_limit_fails_in_one_line(tmp_path):
    X, Y = make_xmc(3000, 2000, 300, random_state=0)
    train = tmp_path / "train.txt.xz"
    write_xc(train, X, Y)

    def run(headroom: int) -> subprocess.CompletedProcess:
        model = tmp_path / f"m{headroom}.npz"
        return subprocess.run(
            [sys.executable, "-c", CHILD, str(headroom), str(train), str(model)],
            capture_output=True,
            text=True,
            timeout=120,  # a hang (OpenBLAS retrying an allocation) fails here
        )

    warm = run(0)  # no limit: compiles the numba kernels into their cache first
    assert warm.returncode == 0, warm.stderr
    outcomes = {}
    for headroom in HEADROOMS_MB:
        done = run(headroom)
        lines = done.stderr.strip().splitlines()
        if done.returncode == 0:
            outcomes[headroom] = "trained"
            assert SLEEC.load(tmp_path / f"m{headroom}.npz").n_labels_ == 300
            continue
        assert done.returncode == 1 and len(lines) == 1, (headroom, done.stderr)
        assert lines[0].startswith("sleec: error: out of memory"), (headroom, lines[0])
        assert not (tmp_path / f"m{headroom}.npz").exists()
        outcomes[headroom] = "out of memory"
    # Most limits are too tight for this input (measured: all up to 120 MB).
    assert list(outcomes.values()).count("out of memory") >= len(HEADROOMS_MB) // 2, outcomes
