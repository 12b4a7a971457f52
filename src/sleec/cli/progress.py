"""Progress bar and logging set-up for the command line (the library itself stays quiet)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator

try:  # optional dependency (extra "progress")
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover - exercised only without tqdm
    _tqdm = None

__all__ = ["PROG", "Progress", "configure_logging", "status"]

PROG = "sleec"


class Progress:
    """Progress of :meth:`SLEEC.fit` on stderr, fed by its ``callback(done, total)``.

    ``with Progress() as callback: model.fit(X, Y, callback=callback)``. A tqdm bar when tqdm
    is importable, else a one-line counter; the elapsed time ticks every ``interval`` seconds
    even while a long task runs. Shown by default only when the stream is a terminal.
    """

    def __init__(
        self,
        desc: str = "training",
        enabled: bool | None = None,
        stream=None,
        *,
        total: int | None = None,
        use_tqdm: bool = True,
        interval: float = 1.0,
        unit: str = "task",
    ):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.desc = desc
        self.interval = interval
        self.unit = unit
        self._tqdm = _tqdm if use_tqdm else None
        self._bar = None
        self._done, self._total = 0, total  # total: expected tasks, corrected by callbacks
        self._start = time.perf_counter()
        self._width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._start = time.perf_counter()
            if self._tqdm is not None:
                self._bar = self._new_bar()
            else:
                self._render()
            self._ticker = threading.Thread(target=self._tick, name="sleec-progress", daemon=True)
            self._ticker.start()
        return self

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._done, self._total = done, total
            if self._bar is not None:
                if self._bar.total != total:
                    self._bar.total = total
                self._bar.update(done - self._bar.n)
            else:
                self._render()

    def __exit__(self, *exc_info: object) -> None:
        if not self.enabled:
            return
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self._bar is not None:
                if self._bar.total is None:
                    self._bar.total = self._bar.n
                self._bar.close()
                self._bar = None
            else:
                self._render()
                self.stream.write("\n")
                self.stream.flush()

    def _new_bar(self):
        try:  # a pseudo-terminal may report a 0 x 0 size: tqdm would then draw nothing
            size = os.get_terminal_size(self.stream.fileno())
        except (AttributeError, OSError, ValueError):
            size = os.terminal_size((0, 0))
        shape = (
            {"dynamic_ncols": True}
            if size.columns > 0 and size.lines > 0
            else {"ncols": 80, "nrows": 24}
        )
        assert self._tqdm is not None  # only called when tqdm draws the bar
        return self._tqdm(
            total=self._total, desc=self.desc, unit=self.unit, file=self.stream, leave=True, **shape
        )

    def _render(self) -> None:
        """The fallback counter line (caller holds the lock, or no ticker runs yet)."""
        elapsed = time.perf_counter() - self._start
        if self._total is None:
            line = f"{self.desc}... {elapsed:.0f} s"
        else:
            line = (
                f"{self.desc}: {self._done}/{self._total} {self.unit}s "
                f"({100 * self._done // max(self._total, 1)}%), {elapsed:.0f} s"
            )
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = max(self._width, len(line))

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()
                else:
                    self._render()


class _Formatter(logging.Formatter):
    def __init__(self, detailed: bool):
        super().__init__("%(asctime)s %(name)s %(levelname)s: %(message)s" if detailed else None)
        self.detailed = detailed

    def format(self, record: logging.LogRecord) -> str:
        if self.detailed:
            return super().format(record)
        level = "" if record.levelno <= logging.INFO else f"{record.levelname.lower()}: "
        return f"{PROG}: {level}{record.getMessage()}"


class _Handler(logging.StreamHandler):
    """Writes through ``tqdm.write`` (when available) so log lines do not break the bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            if _tqdm is not None:
                _tqdm.write(msg, file=self.stream)
            else:
                self.stream.write(msg + "\n")
            self.flush()
        except Exception:  # pragma: no cover - logging's own policy
            self.handleError(record)


@contextlib.contextmanager
def configure_logging(verbosity: int) -> Iterator[None]:
    """``-v``: INFO, ``-vv``: DEBUG on the ``sleec`` logger (stderr); warnings as one line
    each; both restored afterwards."""
    root = logging.getLogger("sleec")
    handler = _Handler(sys.stderr)
    handler.setFormatter(_Formatter(detailed=verbosity >= 2))
    saved = root.level, root.propagate
    root.addHandler(handler)
    root.setLevel(
        logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    )
    root.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        root.propagate = saved[1]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, ``sleec: warning: ...`` (no source line, no file name)."""
    text = " ".join(str(message).split())
    if _tqdm is not None:
        _tqdm.write(f"{PROG}: warning: {text}", file=sys.stderr)
    else:
        print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)


def status(message: str) -> None:
    """A short status line on stderr (stdout carries only results)."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)
