"""Saving is atomic: a process killed mid-save, or a Ctrl-C, leaves the old file or the new one.

* SIGKILL: child processes save a model to ``m.npz`` once (the old model), then save models to
  the same path in a loop through a deliberately slow file object (each write sleeps); the
  parent kills them at different moments. ``m.npz`` must then load and predict exactly like
  the old or the new model (reference predictions written by the child beforehand). Where
  the new file is unnamed while written (Linux ``O_TMPFILE``), a SIGKILL mid-write leaves no
  temporary file; elsewhere a stale ``.m.npz.*.tmp`` may remain, but never replaces the
  target.
* KeyboardInterrupt in-process, after part of the data was written: SLEEC.save,
  sleec.datasets.write_predictions (.npz and text), sleec.datasets.write_xc (plain and .xz) and the
  CLI's ``predict`` keep the old file intact and leave no temporary file.
* Opening outputs (sleec._atomic, through the CLI): an output that is an input is refused
  before any work; a FIFO or a character device is written through and a symlink stays a
  link; a trailing slash is an error; SIGTERM during a save leaves the old file and no
  temporary file; a write error names the target; outputs are UTF-8 whatever the locale.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import sleec._persist
import sleec.io.predictions
import sleec.io.xc
from _helpers import TINY, TINY_FLAGS, assert_one_line_error, run_cli
from sleec import SLEEC, ModelFormatError, _atomic, cli, datasets
from sleec._atomic import atomic_write
from sleec.datasets import read_xc, write_predictions, write_xc

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

CHILD = textwrap.dedent("""
    import contextlib, sys, time
    from pathlib import Path

    import numpy as np
    import scipy.sparse as sp

    import sleec._persist as persist
    from sleec import SLEEC

    work, mode = Path(sys.argv[1]), sys.argv[2]
    r = np.random.default_rng(0)
    X = ((r.random((60, 20)) < 0.3) * r.uniform(0.1, 1.0, (60, 20))).astype(np.float32)
    X[np.arange(60), r.integers(0, 20, 60)] = 1.0
    Y = (r.random((60, 8)) < 0.3).astype(np.float32)
    Y[np.arange(60), r.integers(0, 8, 60)] = 1.0
    X, Y = sp.csr_matrix(X), sp.csr_matrix(Y)
    small = dict(n_graph_neighbors=5, n_neighbors=3, svp_max_iter=5)
    old = SLEEC(n_learners=1, n_components=4, random_state=0, **small).fit(X, Y)
    new = SLEEC(n_learners=2, n_clusters=2, n_components=8, random_state=1, **small).fit(X, Y)
    np.save(work / "query.npy", X.toarray())
    np.save(work / "ref_old.npy", old.predict_topk(X, 3)[0])
    np.save(work / "ref_new.npy", new.predict_topk(X, 3)[0])
    old.save(work / "m.npz")  # the good old version

    class SlowFile:
        # Every write goes to disk at once, then sleeps: a save takes ~0.25 s.
        def __init__(self, fh):
            self._fh, self.writes = fh, 0

        def write(self, data):
            n = self._fh.write(data)
            self._fh.flush()
            self.writes += 1
            if mode == "midwrite" and self.writes == 6:
                print("MIDWRITE", flush=True)
                time.sleep(60)  # killed here
            time.sleep(0.002)
            return n

        def __getattr__(self, name):
            return getattr(self._fh, name)

    real_atomic_write = persist.atomic_write

    @contextlib.contextmanager
    def slow_atomic_write(path, mode="wb"):
        with real_atomic_write(path, mode) as fh:
            yield SlowFile(fh)

    persist.atomic_write = slow_atomic_write
    print("SAVING", flush=True)
    for i in range(10**6):
        (new if i % 2 == 0 else old).save(work / "m.npz")
""")

# (mode, delay after the marker in seconds): one kill in the middle of writing the temporary
# file for sure, four at random moments of a loop of saves (writing, fsync, rename).
KILLS = [("midwrite", 0.0)] + [
    ("loop", float(t)) for t in np.random.default_rng(2024).uniform(0.0, 0.8, 4)
]


def _start(work: Path, mode: str) -> subprocess.Popen:
    work.mkdir()
    with open(work / "stderr.txt", "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(work), mode],
            cwd=work,
            stdout=subprocess.PIPE,
            stderr=err,
        )


def _unnamed_files_work(directory: Path) -> bool:
    if not _atomic.USE_UNNAMED:
        return False
    fd = _atomic._open_unnamed(directory)
    if fd is not None:
        os.close(fd)
    return fd is not None


@pytest.mark.slow
def test_sigkill_mid_save_leaves_old_or_new_model(tmp_path):
    """Children run side by side; each is killed when its moment comes."""
    start = time.monotonic()
    procs = [
        (_start(tmp_path / f"run{i}", mode), mode, delay) for i, (mode, delay) in enumerate(KILLS)
    ]
    try:
        kill_at: dict[int, float] = {}
        output = {i: b"" for i in range(len(procs))}
        while len(kill_at) < len(procs) or any(p.poll() is None for p, _, _ in procs):
            assert time.monotonic() - start < 300, f"children stuck: {output}"
            fds = {
                p.stdout.fileno(): i
                for i, (p, _, _) in enumerate(procs)
                if i not in kill_at and p.poll() is None
            }
            for fd in select.select(list(fds), [], [], 0.005)[0] if fds else []:
                i = fds[fd]
                output[i] += os.read(fd, 4096)
                marker = b"MIDWRITE" if procs[i][1] == "midwrite" else b"SAVING"
                if marker in output[i]:
                    kill_at[i] = time.monotonic() + procs[i][2]
            for i, (p, _, _) in enumerate(procs):
                if i in kill_at and time.monotonic() >= kill_at[i] and p.poll() is None:
                    p.send_signal(signal.SIGKILL)
            for i, (p, _, _) in enumerate(procs):
                if i not in kill_at and p.poll() is not None:
                    err = (tmp_path / f"run{i}" / "stderr.txt").read_text()
                    pytest.fail(f"child {i} exited by itself ({p.returncode}): {err}")
            time.sleep(0.001)
    finally:
        for p, _, _ in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()

    outcomes = []
    for i, (p, mode, _) in enumerate(procs):
        work = tmp_path / f"run{i}"
        assert p.returncode == -signal.SIGKILL
        query = np.load(work / "query.npy")
        ref_old, ref_new = np.load(work / "ref_old.npy"), np.load(work / "ref_new.npy")
        assert not np.array_equal(ref_old, ref_new)
        ids = SLEEC.load(work / "m.npz").predict_topk(query, 3)[0]  # loads: not partial
        is_old, is_new = np.array_equal(ids, ref_old), np.array_equal(ids, ref_new)
        assert is_old or is_new, f"run {i}: m.npz is neither the old nor the new model"
        temps = sorted(work.glob(".m.npz.*.tmp"))
        assert len(temps) <= 1  # at most the one being written when killed
        assert sorted(f.name for f in work.iterdir() if f not in temps) == [
            "m.npz",
            "query.npy",
            "ref_new.npy",
            "ref_old.npy",
            "stderr.txt",
        ]
        if mode == "midwrite":
            assert is_old  # the new model was only partly written
            if _unnamed_files_work(work):
                assert temps == []  # the unnamed file went with the process
            else:
                assert len(temps) == 1 and temps[0].stat().st_size > 0
                with pytest.raises(ModelFormatError):  # what was interrupted really is partial
                    SLEEC.load(temps[0])
        outcomes.append((mode, "old" if is_old else "new", len(temps)))


# --------------------------------------------------------------------------------------------
# KeyboardInterrupt in-process


def _model(seed: int, n_components: int) -> tuple[SLEEC, sp.csr_matrix]:
    r = np.random.default_rng(0)
    X = sp.csr_matrix(((r.random((30, 10)) < 0.4) * r.random((30, 10))).astype(np.float32))
    Y = (r.random((30, 5)) < 0.3).astype(np.float32)
    Y[np.arange(30), r.integers(0, 5, 30)] = 1.0
    model = SLEEC(
        n_learners=1,
        n_components=n_components,
        n_graph_neighbors=5,
        n_neighbors=3,
        svp_max_iter=5,
        random_state=seed,
    )
    return model.fit(X, Y), X


def _interrupted_savez(file, *args, **kwargs):
    file.write(b"PK\x03\x04 the first bytes of a new archive")
    file.flush()
    raise KeyboardInterrupt


def _interrupt_after(monkeypatch, module, n_writes: int = 1) -> None:
    """Make ``module._atomic_write`` raise KeyboardInterrupt after ``n_writes`` writes."""

    class Interrupting:
        def __init__(self, fh):
            self._fh, self._left = fh, n_writes

        def write(self, data):
            if self._left == 0:
                raise KeyboardInterrupt
            self._left -= 1
            n = self._fh.write(data)
            self._fh.flush()
            return n

        def __getattr__(self, name):
            return getattr(self._fh, name)

    @contextlib.contextmanager
    def interrupting(path, mode="wb"):
        with atomic_write(path, mode) as fh:
            yield Interrupting(fh)

    monkeypatch.setattr(module, "_atomic_write", interrupting)


def _only(directory: Path, *names: str) -> None:
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)


def test_keyboard_interrupt_during_model_save(tmp_path, monkeypatch):
    old, X = _model(0, 4)
    new, _ = _model(1, 6)
    path = tmp_path / "m.npz"
    old.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(sleec._persist.np, "savez", _interrupted_savez)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    with pytest.raises(KeyboardInterrupt):
        new.save(tmp_path / "fresh.npz")  # no old file: nothing at all is left
    monkeypatch.undo()
    assert path.read_bytes() == before
    _only(tmp_path, "m.npz")
    np.testing.assert_array_equal(SLEEC.load(path).predict_topk(X, 3)[0], old.predict_topk(X, 3)[0])


@pytest.mark.parametrize("name", ["pred.npz", "pred.txt"])
def test_keyboard_interrupt_during_write_predictions(tmp_path, monkeypatch, name):
    path = tmp_path / name
    ids_old = np.array([[0, 1], [2, -1], [1, 0]], np.int32)
    datasets.write_predictions(str(path), ids_old, np.array([[2, 1], [3, -np.inf], [1, 0.5]]))
    before = path.read_bytes()
    ids_new = np.array([[3, 4], [0, 1], [2, 3]], np.int32)
    if name.endswith(".npz"):
        monkeypatch.setattr(np, "savez", _interrupted_savez)
    else:
        _interrupt_after(monkeypatch, sleec.io.predictions)  # after the first of three lines
    with pytest.raises(KeyboardInterrupt):
        datasets.write_predictions(str(path), ids_new, np.ones((3, 2)))
    monkeypatch.undo()
    assert path.read_bytes() == before
    _only(tmp_path, name)
    np.testing.assert_array_equal(datasets.read_predictions(str(path)), ids_old)


def test_keyboard_interrupt_in_cli_predict_keeps_old_predictions(tmp_path, monkeypatch, capsys):
    model, X = _model(0, 4)
    model.save(tmp_path / "m.npz")
    write_xc(tmp_path / "test.txt", X, sp.csr_matrix((X.shape[0], 5), dtype=np.float32))
    pred = tmp_path / "pred.npz"
    datasets.write_predictions(str(pred), np.zeros((2, 1), np.int32), np.zeros((2, 1)))
    before = pred.read_bytes()
    monkeypatch.setattr(np, "savez", _interrupted_savez)
    code = cli.main(
        [
            "predict",
            "--model",
            str(tmp_path / "m.npz"),
            "--test",
            str(tmp_path / "test.txt"),
            "--out",
            str(pred),
        ]
    )
    monkeypatch.undo()
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "sleec: error: interrupted"
    assert pred.read_bytes() == before
    _only(tmp_path, "m.npz", "test.txt", "pred.npz")


@pytest.mark.parametrize("name", ["data.txt", "data.txt.xz"])
def test_keyboard_interrupt_during_write_xc(tmp_path, monkeypatch, name):
    r = np.random.default_rng(0)
    X_old = sp.csr_matrix(r.random((50, 8)).astype(np.float32))
    Y_old = sp.csr_matrix((r.random((50, 4)) < 0.5).astype(np.float32))
    path = tmp_path / name
    write_xc(path, X_old, Y_old)
    before = path.read_bytes()
    _interrupt_after(monkeypatch, sleec.io.xc)
    with pytest.raises(KeyboardInterrupt):
        # big enough that the compressor also writes more than once
        write_xc(
            path,
            sp.csr_matrix(r.random((5000, 8)).astype(np.float32)),
            sp.csr_matrix((r.random((5000, 4)) < 0.5).astype(np.float32)),
        )
    monkeypatch.undo()
    assert path.read_bytes() == before
    _only(tmp_path, name)
    X, Y = read_xc(path)
    assert (X != X_old).nnz == 0 and (Y != Y_old).nnz == 0


# --------------------------------------------------------------------------------------------
# SIGTERM at any moment of a save (the command line raises it as an exception)

TERM_CHILD = textwrap.dedent("""
    import importlib.util, signal, sys

    # sleec._atomic alone (the package would take a second to import), with the command
    # line's SIGTERM handling: the signal is raised as an exception in the main thread.
    spec = importlib.util.spec_from_file_location("_atomic", sys.argv[3])
    _atomic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_atomic)

    class Terminated(BaseException):
        pass

    def terminate(signum, frame):
        raise Terminated

    path, kind = sys.argv[1], sys.argv[2]
    _atomic.USE_UNNAMED = kind == "unnamed"
    payload = bytes(range(256)) * 1024
    with _atomic.atomic_write(path) as fh:
        fh.write(payload)
    signal.signal(signal.SIGTERM, terminate)
    try:
        print("saving", flush=True)
        while True:
            with _atomic.atomic_write(path) as fh:
                fh.write(payload)
    except Terminated:
        raise SystemExit(143)
""")
TERM_DELAYS = np.random.default_rng(7).uniform(0.0, 0.02, 40)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["unnamed", "named"])
def test_sigterm_at_any_moment_of_saves_leaves_no_temporary_file(tmp_path, kind):
    # 40 children save in a loop and get SIGTERM at a random moment (writing, fsync, link,
    # rename, cleanup): the file is always the complete new one and nothing else is left,
    # with unnamed temporary files (Linux) and with the named ones used elsewhere.
    if kind == "unnamed" and not _unnamed_files_work(tmp_path):
        pytest.skip("no O_TMPFILE here")
    payload = bytes(range(256)) * 1024
    leftovers, codes = {}, []
    for batch in np.array_split(np.arange(TERM_DELAYS.size), 5):
        procs = []
        for i in batch:
            work = tmp_path / f"run{i}"
            work.mkdir()
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", TERM_CHILD, str(work / "m.bin"), kind, _atomic.__file__],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
        for proc in procs:
            assert proc.stdout.readline().strip() == b"saving"
        for i, proc in zip(batch, procs, strict=True):
            time.sleep(TERM_DELAYS[i])
            proc.send_signal(signal.SIGTERM)
        for i, proc in zip(batch, procs, strict=True):
            _, err = proc.communicate(timeout=60)
            codes.append(proc.returncode)
            work = tmp_path / f"run{i}"
            names = sorted(p.name for p in work.iterdir())
            if names != ["m.bin"]:
                leftovers[int(i)] = names
            elif (work / "m.bin").read_bytes() != payload:
                leftovers[int(i)] = "partial m.bin"
    assert leftovers == {}
    assert set(codes) == {143}


@pytest.mark.parametrize("exists", [False, True], ids=["new path", "existing file"])
def test_an_unnamed_file_that_cannot_be_linked_is_copied_into_place(tmp_path, monkeypatch, exists):
    # A /proc that refuses linkat (some sandboxes): the complete file is copied to a
    # temporary name renamed over the target; later writes use named temporary files.
    if not _unnamed_files_work(tmp_path):
        pytest.skip("no O_TMPFILE here")
    path = tmp_path / "out.bin"
    if exists:
        path.write_bytes(b"old")
        path.chmod(0o640)
    real_link = os.link

    def refusing(src, dst, *args, **kwargs):
        if str(src).startswith("/proc/self/fd/"):
            raise PermissionError(1, "Operation not permitted")
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(_atomic.os, "link", refusing)
    monkeypatch.setattr(_atomic, "USE_UNNAMED", True)
    payload = bytes(range(256)) * 5000
    with atomic_write(path) as fh:
        fh.write(payload)
    assert path.read_bytes() == payload
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    if exists:
        assert path.stat().st_mode & 0o777 == 0o640  # the old file's permissions kept
    assert _atomic.USE_UNNAMED is False  # named files from now on
    with atomic_write(path, "w") as fh:
        fh.write("text")
    assert path.read_text() == "text" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


# --------------------------------------------------------------------- opening outputs
@pytest.mark.parametrize(
    ("argv", "copy_of"),
    [
        (
            ["train", "--train", "{d}/copy", "--model", "{d}/copy", *TINY_FLAGS, "--no-progress"],
            "train.txt",
        ),
        (
            ["predict", "--model", "{d}/model.npz", "--test", "{d}/copy", "--out", "{d}/copy"],
            "test.txt",
        ),
        (
            ["predict", "--model", "{d}/copy", "--test", "{d}/test.txt", "--out", "{d}/copy"],
            "model.npz",
        ),
        (
            ["predict", "--model", "{d}/model.npz", "--test", "{d}/test.txt", "--out", "{d}/link"],
            "test.txt",
        ),
    ],
    ids=["train --model = --train", "--out = --test", "--out = --model", "--out links --test"],
)
def test_output_that_is_an_input_is_refused_before_work(
    trained_files, tmp_path, capsys, argv, copy_of
):
    d = tmp_path
    for name in ("model.npz", "test.txt"):
        (d / name).write_bytes((trained_files / name).read_bytes())
    (d / "copy").write_bytes((trained_files / copy_of).read_bytes())
    os.symlink(d / "test.txt", d / "link")
    before = {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()}
    code, err = run_cli(capsys, *[a.format(d=d) for a in argv])
    assert_one_line_error(
        code,
        err,
        r"is the same file as --(train|test|model) .*refusing to "
        r"overwrite an input",
    )
    assert {p.name: p.read_bytes() for p in d.iterdir() if p.is_file()} == before


def test_output_fifo_is_written_through(trained_files, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.stdout.write(open({str(fifo)!r}).read())"],
        stdout=subprocess.PIPE,
        text=True,
    )
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        trained_files / "model.npz",
        "--test",
        trained_files / "test.txt",
        "--out",
        fifo,
        "--k",
        "2",
    )
    out, _ = reader.communicate(timeout=60)
    assert code == 0, err
    assert len(out.splitlines()) == 10 and ":" in out
    assert Path(fifo).is_fifo()  # still a FIFO, not a regular file renamed over it


def test_output_character_device_is_written_through(trained_files, capsys):
    if not os.access("/dev/null", os.W_OK):
        pytest.skip("/dev/null is not writable here")
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        trained_files / "model.npz",
        "--test",
        trained_files / "test.txt",
        "--out",
        "/dev/null",
    )
    assert code == 0, err
    assert Path("/dev/null").is_char_device()


def test_output_symlink_stays_a_link(trained_files, tmp_path, capsys):
    target = tmp_path / "real.txt"
    target.write_text("old\n")
    link = tmp_path / "pred.txt"
    os.symlink(target, link)
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        trained_files / "model.npz",
        "--test",
        trained_files / "test.txt",
        "--out",
        link,
    )
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(target.read_text().splitlines()) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.txt", "real.txt"]


def test_output_with_a_trailing_slash_is_an_error(trained_files, tmp_path, capsys):
    code, err = run_cli(
        capsys,
        "predict",
        "--model",
        trained_files / "model.npz",
        "--test",
        trained_files / "test.txt",
        "--out",
        f"{tmp_path}/somedir/",
    )
    assert_one_line_error(code, err, r"Is a directory \(expected a file name\): ..*somedir/.")
    assert not (tmp_path / "somedir").exists()


@pytest.mark.slow
def test_output_sigterm_during_a_save_leaves_no_temporary_file(tmp_path):
    # A save slowed down to a crawl, SIGTERM in the middle: the old file stays, no temp.
    script = textwrap.dedent(f"""
        import time, numpy as np
        real = np.savez
        def slow(fh, **arrays):
            print("saving", flush=True)
            time.sleep(30)
            real(fh, **arrays)
        np.savez = slow
        from sleec import cli
        raise SystemExit(cli.main(["predict", "--model", {str(tmp_path / "m.npz")!r},
                                   "--test", {str(tmp_path / "t.txt")!r},
                                   "--out", {str(tmp_path / "out.npz")!r}]))
    """)
    X = sp.random(30, 6, density=0.5, random_state=0, format="csr", dtype=np.float32)
    Y = sp.csr_matrix(np.eye(30, 3, dtype=np.float32) + np.eye(30, 3, -3, dtype=np.float32))
    write_xc(tmp_path / "t.txt", X, Y)
    SLEEC(**TINY, random_state=0).fit(X, Y).save(tmp_path / "m.npz")
    (tmp_path / "out.npz").write_bytes(b"old predictions")
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "saving"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "sleec: error: terminated (SIGTERM)" in err
    assert (tmp_path / "out.npz").read_bytes() == b"old predictions"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "out.npz", "t.txt"]


def test_output_write_errors_name_the_target(tmp_path, monkeypatch):
    import errno

    from sleec import _atomic

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/.pred.txt.x8z.tmp")

    monkeypatch.setattr(_atomic.os, "fsync", full)
    with pytest.raises(OSError, match="No space left") as info:
        write_predictions(
            str(tmp_path / "pred.txt"), np.zeros((1, 1), np.int32), np.zeros((1, 1), np.float32)
        )
    assert info.value.filename == str(tmp_path / "pred.txt")
    assert not list(tmp_path.iterdir())


def test_outputs_are_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import locale

    from sleec.datasets import read_text, write_label_names

    monkeypatch.setattr(locale, "getpreferredencoding", lambda *a, **k: "ascii")
    write_label_names(tmp_path / "out.tsv", [["café", "日本"]], [[0.5, 0.25]])
    assert (tmp_path / "out.tsv").read_text(encoding="utf-8") == "café,日本\t0.5,0.25\n"
    texts, labels = read_text(tmp_path / "out.tsv")
    assert labels == [["café", "日本"]]
