"""Error types raised by ``sleec`` for bad input files and model files.

Both subclass :class:`ValueError`, so callers that already catch ``ValueError`` keep working.
"""

from __future__ import annotations

__all__ = ["DataFormatError", "ModelFormatError"]


class DataFormatError(ValueError):
    """A data file does not follow the expected format.

    The message names the file, the 1-based line number (when one applies) and what was
    expected, e.g. ``"train.txt, line 7: bad feature token 'x:1'; expected 'index:value'"``.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ModelFormatError(ValueError):
    """A saved model file is truncated, corrupted, altered or of an unknown format version."""
