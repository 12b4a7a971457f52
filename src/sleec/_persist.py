"""The model file: one uncompressed ``.npz`` with no pickled objects.

Layout: ``format_version`` (int, :data:`sleec._state.FORMAT_VERSION`), ``params`` (JSON text
of the estimator's parameters), the arrays of the fitted state (their layout is
:mod:`sleec._state`'s), and ``checksum``: SHA-256 over everything else, so a truncated,
corrupted or altered file is refused with :class:`~sleec.exceptions.ModelFormatError`
instead of loading garbage. Files are written atomically (:mod:`sleec._atomic`), only after
the content passed the checks a load runs (a model that could not be loaded never replaces
a good file), and read by :func:`read_arrays`, which checks every size before allocating
and refuses object arrays without unpickling them, so loading never executes code from the
file.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

from ._atomic import atomic_write
from ._state import FORMAT_VERSION, READABLE_VERSIONS
from .exceptions import ModelFormatError

__all__ = ["load_model", "read_arrays", "save_model"]

_ZIP_MAGIC = b"PK\x03\x04"
_MAX_MEMBERS = 64  # a model file has about 25
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_RESERVED = ("format_version", "params", "checksum")


def save_model(
    path: str | os.PathLike,
    params: dict[str, Any],
    arrays: dict[str, np.ndarray],
    check: Callable[[dict, dict[str, np.ndarray]], Any] | None = None,
) -> None:
    """Write a model file atomically: ``params`` as JSON, ``arrays`` as they are.

    ``save`` writes only what ``load`` accepts: before the file is opened, the payload passes
    the reader's own checks (member names and count, no object arrays) and ``check(params,
    arrays)`` (what :func:`load_model`'s caller runs on what it reads: parameters and arrays
    as a load would see them) must not raise; else ValueError, and an existing file at
    ``path`` is left as it was.
    """
    text = json.dumps(params, sort_keys=True, default=_json_scalar)
    payload = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "params": np.array(text),
        **{name: np.asarray(a, order="C") for name, a in arrays.items()},  # keeps 0-d arrays
    }
    objects = [name for name, a in payload.items() if a.dtype.hasobject]
    if objects:  # np.savez would pickle them
        raise TypeError(f"arrays {objects} hold Python objects; a model file holds no pickle")
    names = [name for name in arrays if name in _RESERVED or not _NAME.fullmatch(name)]
    if names or len(payload) + 1 > _MAX_MEMBERS:
        raise ValueError(
            f"the model cannot be saved: {len(payload) + 1} arrays (at most {_MAX_MEMBERS}), "
            f"names refused {names}"
        )
    if check is not None:
        stored = {name: payload[name] for name in arrays}
        try:
            check(json.loads(text), stored)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ValueError(
                f"the model cannot be saved: a file holding it would be refused at load ({exc}); "
                "nothing was written"
            ) from None
    payload["checksum"] = np.array(_checksum(payload))
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **payload)  # type: ignore[arg-type]


def load_model(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and verify a model file; returns ``(params, arrays)``.

    The file is opened once and everything (the magic bytes, its size, the zip directory,
    the members) is read from that one handle: a save that renames a new file over the path
    meanwhile cannot make a complete file look truncated (the old file stays readable
    through the handle)."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a sleec model file", name)
    with open(name, "rb") as fh:
        if fh.read(4) != _ZIP_MAGIC:
            raise ModelFormatError(
                f"'{name}' is not a readable sleec model file: not an .npz "
                "(zip) archive (empty, truncated or another format)."
            )
        fh.seek(0)
        try:
            payload = read_arrays(fh)
        except (
            zipfile.BadZipFile,
            ValueError,
            OSError,
            EOFError,
            KeyError,
            RuntimeError,
            NotImplementedError,
        ) as exc:  # zip damage surfaces as any of these
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(
                f"'{name}' is not a readable sleec model file (truncated or corrupted?): {exc}"
            ) from None
    missing = [key for key in _RESERVED if key not in payload]
    if missing:
        raise ModelFormatError(f"'{name}' is not a sleec model file: missing {missing}.")
    raw_version = payload["format_version"]
    if raw_version.dtype.kind not in "iu" or raw_version.shape != ():
        shown = raw_version.tolist() if raw_version.size <= 4 else raw_version.shape
        raise ModelFormatError(
            f"'{name}' has an unreadable format version ({shown!r} of dtype {raw_version.dtype}"
            "; expected one integer)."
        )
    version = int(raw_version)
    if version not in READABLE_VERSIONS:
        raise ModelFormatError(
            f"'{name}' has format version {version}; this sleec reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))} (and writes {FORMAT_VERSION})."
        )
    if str(payload["checksum"]) != _checksum(payload):
        raise ModelFormatError(
            f"'{name}' failed its checksum: the file was corrupted or altered after saving."
        )
    try:
        params = json.loads(str(payload["params"]))
    except ValueError as exc:
        raise ModelFormatError(f"'{name}' holds unreadable parameters: {exc}") from None
    except RecursionError:
        raise ModelFormatError(
            f"'{name}' holds unreadable parameters: JSON nested too deeply."
        ) from None
    if not isinstance(params, dict):
        raise ModelFormatError(f"'{name}' holds unreadable parameters: expected a JSON object.")
    arrays = {k: v for k, v in payload.items() if k not in _RESERVED}
    return params, arrays


def read_arrays(source: str | os.PathLike | BinaryIO) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` that sleec wrote (a model or a prediction file), read with
    every size checked before anything is allocated; ValueError (or a zip error) otherwise.

    ``source`` is a path or a file opened for binary reading (a real file: its size is taken
    from its descriptor, so that the size checked and the bytes read belong to one file).
    sleec writes uncompressed members, so a member that is compressed, or whose declared size
    exceeds the file, members that overlap (or together hold more than the file), and an
    ``.npy`` header that declares a shape its bytes do not hold are refused before anything
    is read: a small file cannot make the reader allocate or inflate gigabytes. Each member
    is read to its end, so the zip CRC is always verified; object (pickled) arrays are
    refused without being unpickled.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return read_arrays(fh)
    file_size = os.fstat(source.fileno()).st_size
    payload: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(source) as zf:
        infos = sorted(zf.infolist(), key=lambda info: info.header_offset)
        declared = sum(i.file_size for i in infos)
        if len(infos) > _MAX_MEMBERS or declared > file_size:
            raise ValueError(
                f"its {len(infos)} member(s) declare {declared} bytes in a {file_size}-byte "
                f"file (sleec writes at most {_MAX_MEMBERS} members, uncompressed)"
            )
        if any(
            b.header_offset < a.header_offset + a.file_size
            for a, b in zip(infos[:-1], infos[1:], strict=True)
        ):  # nested members could make a small file read as a huge one
            raise ValueError("its members overlap")
        for info in infos:
            key = info.filename.removesuffix(".npy")
            if key == info.filename or key in payload or not _NAME.fullmatch(key):
                raise ValueError(f"unexpected member {info.filename!r}")
            if (
                info.compress_type != zipfile.ZIP_STORED
                or info.compress_size != info.file_size
                or info.file_size > file_size
            ):
                raise ValueError(
                    f"member {info.filename!r} is compressed or declares {info.file_size} "
                    f"bytes in a {file_size}-byte file (sleec writes its members uncompressed)"
                )
            with zf.open(info) as fh:
                payload[key] = _read_npy(fh, info.file_size)
    return payload


def _read_npy(fh: Any, member_size: int) -> np.ndarray:
    """One ``.npy`` array from ``fh``, refusing objects and shapes its bytes cannot hold."""
    version = np.lib.format.read_magic(fh)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }.get(version)
    if read_header is None:
        raise ValueError(f"unsupported .npy version {version}")
    shape, fortran, dtype = read_header(fh)
    if dtype.hasobject:
        raise ValueError("Object arrays cannot be loaded (pickled data is never read)")
    nbytes = dtype.itemsize
    for dim in shape:
        nbytes *= dim
    if nbytes != member_size - fh.tell():
        raise ValueError(
            f"an array header declares shape {shape} of {dtype} ({nbytes} bytes), but its "
            f"member holds {member_size - fh.tell()} bytes"
        )
    data = bytearray(nbytes)
    if fh.readinto(data) != nbytes or fh.read(1):  # reading to the end checks the CRC
        raise ValueError("an array member ends early")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _json_scalar(value: Any) -> Any:
    """NumPy scalars (e.g. parameters from ``np.arange`` grids) as plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(
        f"parameter value {value!r} of type {type(value).__name__} cannot be stored in a model file"
    )


def _checksum(payload: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(payload):
        if key == "checksum":
            continue
        a = np.ascontiguousarray(payload[key])
        h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
